//! Events taken as raw JSON, so that even a malformed event reaches the handler.
//!
//! `lambda_runtime` drops an event whose body is not valid JSON before any handler runs, so a custom
//! resource could never answer it and the stack would wait for its timeout. [`KeepUnparseableLayer`] wraps
//! such a body as `{"$unparseable": "<text>"}` instead; [`run`](crate::run) installs it, and
//! [`handle`](crate::handle) answers a wrapped event FAILED when its ResponseURL can still be read.
//!
//! Install it yourself when a function takes other events besides custom-resource requests:
//!
//! ```no_run
//! use cloudformation_custom_resource::raw_event::{unparseable_text, KeepUnparseableLayer};
//! use lambda_runtime::{service_fn, Error, LambdaEvent, Runtime};
//! use serde_json::Value;
//!
//! # async fn example() -> Result<(), Error> {
//! let service = service_fn(|event: LambdaEvent<Value>| async move {
//!     if let Some(text) = unparseable_text(&event.payload) {
//!         return Ok::<Value, Error>(serde_json::json!({ "ignored": text.len() }));
//!     }
//!     Ok(event.payload)
//! });
//! Runtime::new(service).layer(KeepUnparseableLayer).run().await
//! # }
//! ```

use std::task::{Context, Poll};

use bytes::Bytes;
use lambda_runtime::LambdaInvocation;
use lambda_runtime::tower::{Layer, Service};
use serde::de::IgnoredAny;

use crate::json_depth::excess;

/// Key under which an unparseable body arrives: `{"$unparseable": "<body, lossily decoded>"}`.
pub const UNPARSEABLE: &str = "$unparseable";

/// The raw text of an event that arrived as invalid JSON, if this one did.
///
/// ```
/// use cloudformation_custom_resource::raw_event::{unparseable_text, UNPARSEABLE};
/// use serde_json::json;
///
/// assert_eq!(unparseable_text(&json!({ UNPARSEABLE: "{\"Req" })), Some("{\"Req"));
/// assert_eq!(unparseable_text(&json!({ "RequestType": "Create" })), None);
/// ```
pub fn unparseable_text(event: &serde_json::Value) -> Option<&str> {
    let object = event.as_object()?;
    if object.len() != 1 {
        return None;
    }
    object.get(UNPARSEABLE)?.as_str()
}

/// Why `text` is not JSON, e.g. "EOF while parsing an object at line 1 column 40", or nests too deep (the
/// reason a FAILED response gives for an event that is not JSON).
pub fn json_error(text: &str) -> String {
    if let Some(excess) = excess(text.as_bytes()) {
        return excess.to_string();
    }
    match serde_json::from_str::<IgnoredAny>(text) {
        Ok(_) => "valid JSON".to_owned(),
        Err(e) => e.to_string(),
    }
}

/// The event a handler receives for this invocation body: the body's JSON, or the wrapped text of a body
/// that is not JSON within [`MAX_EVENT_DEPTH`](crate::json_depth::MAX_EVENT_DEPTH) levels (what [`KeepUnparseableLayer`] and the runtime make
/// of it; for tests and fuzz targets of the handlers' event parsing).
pub fn event_from_body(body: &[u8]) -> serde_json::Value {
    let body = wrap_if_unparseable(Bytes::copy_from_slice(body));
    serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null)
}

/// A `tower` layer for [`lambda_runtime::Runtime`] that wraps a body which is not valid JSON as
/// `{"$unparseable": "<text>"}` (see the [module](self) documentation); valid JSON passes untouched.
#[derive(Clone, Copy, Debug, Default)]
pub struct KeepUnparseableLayer;

impl<S> Layer<S> for KeepUnparseableLayer {
    type Service = KeepUnparseable<S>;
    fn layer(&self, inner: S) -> Self::Service {
        KeepUnparseable { inner }
    }
}

/// The service [`KeepUnparseableLayer`] wraps around the inner one.
#[derive(Clone, Debug)]
pub struct KeepUnparseable<S> {
    inner: S,
}

impl<S: Service<LambdaInvocation>> Service<LambdaInvocation> for KeepUnparseable<S> {
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut invocation: LambdaInvocation) -> Self::Future {
        invocation.body = wrap_if_unparseable(invocation.body);
        self.inner.call(invocation)
    }
}

/// The body as it is when it is JSON within [`MAX_EVENT_DEPTH`](crate::json_depth::MAX_EVENT_DEPTH) levels and [`MAX_EVENT_CONTAINERS`](crate::json_depth::MAX_EVENT_CONTAINERS) objects
/// and arrays (checked in one linear pass first, so the runtime's own parse never fails on depth nor builds
/// a value of hundreds of MiB), else wrapped.
fn wrap_if_unparseable(body: Bytes) -> Bytes {
    if excess(&body).is_none() && serde_json::from_slice::<IgnoredAny>(&body).is_ok() {
        return body;
    }
    let text = String::from_utf8_lossy(&body);
    let wrapped = serde_json::json!({ UNPARSEABLE: text });
    serde_json::to_vec(&wrapped).map(Into::into).unwrap_or(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_json_passes_through_untouched() {
        let body = Bytes::from_static(br#"{"a":1}"#);
        assert_eq!(wrap_if_unparseable(body.clone()), body);
    }

    #[test]
    fn truncated_json_arrives_wrapped_with_its_text() {
        let body = Bytes::from_static(br#"{"RequestType":"Cre"#);
        let wrapped: serde_json::Value =
            serde_json::from_slice(&wrap_if_unparseable(body)).unwrap();
        assert_eq!(unparseable_text(&wrapped), Some(r#"{"RequestType":"Cre"#));
        assert!(json_error(r#"{"RequestType":"Cre"#).contains("EOF"));
    }

    #[test]
    fn an_event_nested_deeper_than_the_limit_arrives_wrapped_with_the_reason() {
        let text = format!(
            r#"{{"ResponseURL": "https://h/p", "ResourceProperties": {{"A": {}{}}}}}"#,
            "[".repeat(100_000),
            "]".repeat(100_000)
        );
        let wrapped: serde_json::Value =
            serde_json::from_slice(&wrap_if_unparseable(Bytes::from(text.clone()))).unwrap();
        assert_eq!(unparseable_text(&wrapped), Some(text.as_str()));
        assert_eq!(
            json_error(&text),
            "it nests deeper than 64 levels at byte 121"
        );
    }

    #[test]
    fn an_ordinary_object_is_not_mistaken_for_a_wrapped_one() {
        assert_eq!(unparseable_text(&serde_json::json!({"a": "b"})), None);
        assert_eq!(
            unparseable_text(&serde_json::json!({UNPARSEABLE: "x", "b": 1})),
            None
        );
    }
}
