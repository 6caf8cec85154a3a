//! The CloudFormation custom-resource protocol, and nothing else.
//!
//! Guarantees (each proven by a test in this crate, most in `tests/runtime_contract.rs`, and
//! checked again on every response of the integration tests by the project's `tests/harness/sink.py`):
//! - exactly one response is PUT per invocation, whichever of result, error, panic or deadline comes first;
//! - the event is read as raw JSON: a malformed event still gets a FAILED response naming the problem;
//! - the response is a valid body ≤ 4,096 bytes, sent with an empty Content-Type and exact length, retried
//!   with jitter on transport errors and 5xx, never on 4xx, never after the deadline;
//! - PhysicalResourceIds are deterministic, kept on Update unless the handler asks for replacement, and a
//!   Delete of an id this function did not issue (or of a failed Create) touches nothing;
//! - the ResponseURL must be an S3 presigned https URL (loopback http only when explicitly allowed), and its
//!   query (the signature) is never logged.

pub mod envelope;
pub mod handler;
pub mod physical_id;
pub mod properties;
pub mod response;
pub mod response_url;
pub mod runtime;
pub mod sender;

pub use handler::{CustomResource, Outcome, Request};
pub use properties::PropertyError;
pub use runtime::{handle, run, Settings};
