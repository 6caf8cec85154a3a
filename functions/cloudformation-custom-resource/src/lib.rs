#![doc = include_str!("../README.md")]
#![deny(missing_docs)]
//!
//! # Public API
//!
//! - [`CustomResource`]: what a resource implements, on typed [`properties`]; [`Request`] and [`Outcome`].
//! - [`run`]: the Lambda loop for a function that is only a custom resource.
//! - [`handle`], [`is_request`], [`deadline_of`], [`raw_event`]: for a function that takes other events too.
//! - [`Settings`] and [`Sender`]: the watchdog's headroom, the loopback exception, delivery retries.
//! - [`physical_id`]: the ids the runtime issues, for tests and for handlers that need to predict them.
//!
//! Everything else (the envelope, the response body, the ResponseURL allow-list) is internal.

mod answer;
mod envelope;
#[cfg(test)]
mod fuzz_target;
mod handler;
pub mod json_depth;
pub mod physical_id;
pub mod properties;
pub mod raw_event;
mod response;
mod response_url;
mod runtime;
mod sender;

pub use answer::{Answer, Decided};
pub use envelope::is_request;
pub use handler::{CustomResource, Outcome, Request};
pub use properties::PropertyError;
pub use response::shorten;
pub use runtime::{Error, InvocationError, Settings, deadline_of, handle, run};
pub use sender::{SendError, Sender};
