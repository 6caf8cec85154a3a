//! One invocation, end to end: coordinates → decision (bounded by the watchdog, panics caught) → exactly
//! one response → delivery.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use lambda_runtime::layers::TracingLayer;
use lambda_runtime::{LambdaEvent, Runtime, service_fn};
use serde_json::Value;
use tokio::time::Instant;
use tracing::Instrument;

use crate::answer::{Answer, Decided};
use crate::envelope::{self, Coordinates, EnvelopeError, RequestType};
use crate::handler::{CustomResource, Outcome, Request, error_chain};
use crate::physical_id;
use crate::properties;
use crate::raw_event::{self, KeepUnparseableLayer};
use crate::response::{ResponseBody, Status};
use crate::response_url::ResponseUrl;
use crate::sender::Sender;

/// Runtime settings. From the environment: `CFN_DEADLINE_HEADROOM_MS` (default 5000) — how long before
/// the Lambda deadline the watchdog stops the handler to answer; `CFN_RESPONSE_ATTEMPT_TIMEOUT_MS` (default
/// 10000) — how long one PUT of the response may take; `CFN_RESPONSE_ALLOW_LOOPBACK=true` — accept loopback
/// http ResponseURLs (the local emulator only).
///
/// ```
/// use std::time::Duration;
/// use cloudformation_custom_resource::Settings;
///
/// let settings = Settings::default().with_headroom(Duration::from_secs(10));
/// assert!(!settings.allow_loopback);
/// assert!(Settings::default().allowing_loopback(true).allow_loopback);
/// ```
///
/// Non-exhaustive: start from [`Settings::default`] or [`Settings::from_env`] and change what you need.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Settings {
    /// How long before the Lambda deadline the watchdog stops the handler and answers FAILED (at most half
    /// the time left). Default 5 s.
    pub headroom: Duration,
    /// Accept `http://` ResponseURLs on loopback addresses (a local emulator). Default false: only
    /// CloudFormation's response buckets on S3, over https.
    pub allow_loopback: bool,
    /// How the response is delivered.
    pub sender: Sender,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            headroom: Duration::from_millis(5000),
            allow_loopback: false,
            sender: Sender::default(),
        }
    }
}

impl Settings {
    /// These settings with another [`headroom`](Self::headroom).
    pub fn with_headroom(mut self, headroom: Duration) -> Self {
        self.headroom = headroom;
        self
    }

    /// These settings accepting (or not) loopback http ResponseURLs ([`allow_loopback`](Self::allow_loopback)).
    pub fn allowing_loopback(mut self, allow: bool) -> Self {
        self.allow_loopback = allow;
        self
    }

    /// These settings delivering with `sender`.
    pub fn with_sender(mut self, sender: Sender) -> Self {
        self.sender = sender;
        self
    }

    /// The defaults, with `CFN_DEADLINE_HEADROOM_MS`, `CFN_RESPONSE_ATTEMPT_TIMEOUT_MS` (each PUT of the
    /// response) and `CFN_RESPONSE_ALLOW_LOOPBACK` applied.
    pub fn from_env() -> Self {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    fn from_lookup(var: impl Fn(&str) -> Option<String>) -> Self {
        let millis = |name| {
            var(name)
                .and_then(|v| v.trim().parse().ok())
                .map(Duration::from_millis)
        };
        let mut s = Self::default();
        if let Some(headroom) = millis("CFN_DEADLINE_HEADROOM_MS") {
            s.headroom = headroom;
        }
        if let Some(timeout) = millis("CFN_RESPONSE_ATTEMPT_TIMEOUT_MS").filter(|t| !t.is_zero()) {
            s.sender.attempt_timeout = timeout;
        }
        s.allow_loopback =
            var("CFN_RESPONSE_ALLOW_LOOPBACK").is_some_and(|v| v == "true" || v == "1");
        s
    }

    /// When the handler must stop: `headroom` before the deadline, but never more than half the time left
    /// (a short-lived invocation still gets to work).
    fn work_deadline(&self, deadline: Instant) -> Instant {
        let left = deadline.saturating_duration_since(Instant::now());
        Instant::now() + left.saturating_sub(self.headroom.min(left / 2))
    }
}

/// Runs a custom-resource Lambda function: every invocation answers CloudFormation exactly once.
///
/// Reads [`Settings::from_env`], takes events as raw JSON ([`KeepUnparseableLayer`]) and opens a span per
/// invocation (`lambda_runtime`'s tracing layer). It installs no log subscriber: do that first, e.g. with
/// `lambda_runtime::tracing::init_default_subscriber()`.
///
/// ```no_run
/// # use cloudformation_custom_resource::{CustomResource, Outcome, Request};
/// # struct Noop;
/// # impl CustomResource for Noop {
/// #     type Properties = serde_json::Value;
/// #     type Error = std::io::Error;
/// #     async fn create(&self, _: &Request, _: &Self::Properties) -> Result<Outcome, Self::Error> { Ok(Outcome::default()) }
/// #     async fn update(&self, _: &Request, _: &Self::Properties, _: &Self::Properties) -> Result<Outcome, Self::Error> { Ok(Outcome::default()) }
/// #     async fn delete(&self, _: &Request, _: &Self::Properties) -> Result<Outcome, Self::Error> { Ok(Outcome::default()) }
/// # }
/// #[tokio::main]
/// async fn main() -> Result<(), cloudformation_custom_resource::Error> {
///     cloudformation_custom_resource::run(Noop).await
/// }
/// ```
pub async fn run<H: CustomResource>(handler: H) -> Result<(), Error> {
    let handler = Arc::new(handler);
    let settings = Arc::new(Settings::from_env());
    let service = service_fn(move |event: LambdaEvent<Value>| {
        let (handler, settings) = (handler.clone(), settings.clone());
        async move {
            let deadline = deadline_of(event.context.deadline);
            handle(handler, event.payload, deadline, &settings)
                .await
                .map_err(lambda_runtime::Error::from)
        }
    });
    Runtime::new(service)
        .layer(TracingLayer::new())
        .layer(KeepUnparseableLayer)
        .run()
        .await
        .map_err(Error)
}

/// The deadline of an invocation as an [`Instant`], from [`lambda_runtime::Context::deadline`].
///
/// Lambda sends the deadline as epoch milliseconds. cargo-lambda's local emulator sends the timeout itself
/// (e.g. 600000): a value too small to be an epoch time (before 2001) is read as milliseconds from now.
///
/// ```
/// use std::time::Duration;
/// let deadline = cloudformation_custom_resource::deadline_of(600_000); // cargo-lambda: 10 minutes from now
/// assert!(deadline > tokio::time::Instant::now() + Duration::from_secs(590));
/// ```
pub fn deadline_of(deadline_ms: u64) -> Instant {
    const EPOCH_2001_MS: u64 = 1_000_000_000_000;
    let left = if deadline_ms < EPOCH_2001_MS {
        Duration::from_millis(deadline_ms)
    } else {
        (SystemTime::UNIX_EPOCH + Duration::from_millis(deadline_ms))
            .duration_since(SystemTime::now())
            .unwrap_or_default()
    };
    Instant::now() + left
}

/// Why [`run`] stopped: the Lambda runtime loop ended (it could not reach the Runtime API, or Lambda's
/// environment was incomplete). Events never end the loop: each one is answered.
#[derive(Debug, thiserror::Error)]
#[error("the Lambda runtime stopped")]
pub struct Error(#[source] lambda_runtime::Error);

/// Why an invocation failed after deciding its response.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InvocationError {
    /// Delivery failed after retries: the invocation fails, so Lambda's own retry (idempotent) tries again.
    // `error` is shown, not chained as a source: the message would otherwise appear twice in a cause chain
    #[error("{error}")]
    Send {
        /// Why the last attempt failed.
        error: crate::sender::SendError,
        /// The response that was not delivered.
        response: Decided,
    },
}

impl InvocationError {
    /// The response decided before delivery failed.
    pub fn decided(&self) -> Option<&Decided> {
        match self {
            Self::Send { response, .. } => Some(response),
        }
    }
}

/// Handles one event. Returns what was answered ([`Answer`], the invocation's result as JSON);
/// [`Answer::Rejected`] when no response could be sent at all (no or disallowed ResponseURL) or the ResponseURL
/// refused it with a 4xx — a retry could not change that, so Lambda should not retry. `Err` when delivery
/// failed for a passing reason (transport, 5xx).
///
/// [`run`] calls it for every event; call it yourself in a function that takes other events too:
///
/// ```no_run
/// # use std::sync::Arc;
/// # use cloudformation_custom_resource::{CustomResource, Outcome, Request};
/// # struct Noop;
/// # impl CustomResource for Noop {
/// #     type Properties = serde_json::Value;
/// #     type Error = std::io::Error;
/// #     async fn create(&self, _: &Request, _: &Self::Properties) -> Result<Outcome, Self::Error> { Ok(Outcome::default()) }
/// #     async fn update(&self, _: &Request, _: &Self::Properties, _: &Self::Properties) -> Result<Outcome, Self::Error> { Ok(Outcome::default()) }
/// #     async fn delete(&self, _: &Request, _: &Self::Properties) -> Result<Outcome, Self::Error> { Ok(Outcome::default()) }
/// # }
/// use cloudformation_custom_resource::{deadline_of, handle, is_request, raw_event::KeepUnparseableLayer, Settings};
/// use lambda_runtime::{service_fn, Error, LambdaEvent, Runtime};
/// use serde_json::{json, Value};
///
/// #[tokio::main]
/// async fn main() -> Result<(), Error> {
///     let (resource, settings) = (Arc::new(Noop), Arc::new(Settings::from_env()));
///     let service = service_fn(move |event: LambdaEvent<Value>| {
///         let (resource, settings) = (resource.clone(), settings.clone());
///         async move {
///             if !is_request(&event.payload) {
///                 return Ok::<Value, Error>(json!({"handled": "elsewhere"}));
///             }
///             let deadline = deadline_of(event.context.deadline);
///             let answer = handle(resource, event.payload, deadline, &settings).await?;
///             Ok(serde_json::to_value(answer)?)
///         }
///     });
///     Runtime::new(service).layer(KeepUnparseableLayer).run().await
/// }
/// ```
pub async fn handle<H: CustomResource>(
    handler: Arc<H>,
    event: Value,
    deadline: Instant,
    settings: &Settings,
) -> Result<Answer, InvocationError> {
    let unparseable = raw_event::unparseable_text(&event).map(str::to_owned);
    let coordinates = match &unparseable {
        Some(text) => Coordinates::scan(text),
        None if !event.is_object() => Err(EnvelopeError::NoResponseUrl),
        None => Coordinates::from_event(&event),
    };
    let coordinates = match coordinates {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "rejected: cannot answer this event");
            return Ok(Answer::Rejected {
                reason: e.to_string(),
                response: None,
            });
        }
    };
    let url = match ResponseUrl::parse(&coordinates.response_url, settings.allow_loopback) {
        Ok(url) => url,
        Err(e) => {
            tracing::error!(error = %e, "rejected: ResponseURL not allowed");
            return Ok(Answer::Rejected {
                reason: e.to_string(),
                response: None,
            });
        }
    };
    let request_type = event
        .get("RequestType")
        .and_then(Value::as_str)
        .unwrap_or("?")
        .to_owned();
    let span = tracing::info_span!(
        "custom_resource",
        stack_id = %coordinates.stack_id,
        request_id = %coordinates.request_id,
        logical_id = %coordinates.logical_resource_id,
        request_type = %request_type,
    );
    async move {
        let body = match unparseable {
            Some(text) => failed(
                &coordinates,
                None,
                EnvelopeError::NotJson(raw_event::json_error(&text)).to_string(),
            ),
            None => {
                decide(
                    handler,
                    event,
                    &coordinates,
                    settings.work_deadline(deadline),
                )
                .await
            }
        };
        let no_echo = body.no_echo;
        match body.status {
            Status::Success => {
                tracing::info!(
                    status = "SUCCESS",
                    physical_id = %body.physical_resource_id,
                    data_keys = ?body.data.keys().collect::<Vec<_>>(),
                    no_echo,
                    "answering"
                )
            }
            Status::Failed => {
                tracing::error!(
                    status = "FAILED",
                    physical_id = %body.physical_resource_id,
                    reason = body.reason.as_deref().unwrap_or(""),
                    "answering"
                )
            }
        }
        let response = Decided {
            succeeded: body.status == Status::Success,
            physical_resource_id: body.physical_resource_id.clone(),
        };
        let delivered = match settings
            .sender
            .send(&url, body.into_bytes_within_limit(), deadline)
            .await
        {
            Ok(delivered) => delivered,
            // final by S3's word (an expired or foreign presigned URL): a retry of the whole handler would do its
            // work again only to be refused the same way
            Err(e @ crate::sender::SendError::Rejected { .. }) => {
                tracing::error!(error = %e, "rejected: the response URL refused the answer");
                return Ok(Answer::Rejected {
                    reason: e.to_string(),
                    response: Some(response),
                });
            }
            Err(error) => return Err(InvocationError::Send { error, response }),
        };
        Ok(Answer::Delivered {
            response,
            attempts: delivered.attempts,
        })
    }
    .instrument(span)
    .await
}

/// Decides the one response. Never panics and never outlives `work_deadline`.
async fn decide<H: CustomResource>(
    handler: Arc<H>,
    event: Value,
    c: &Coordinates,
    work_deadline: Instant,
) -> ResponseBody {
    let kind = match envelope::request_type(&event) {
        Ok(kind) => kind,
        Err(e) => return failed(c, None, e.to_string()),
    };
    let request = Request {
        stack_id: c.stack_id.clone(),
        request_id: c.request_id.clone(),
        logical_resource_id: c.logical_resource_id.clone(),
        physical_resource_id: c.physical_resource_id.clone(),
        work_deadline,
    };
    // the id this response carries unless the outcome says otherwise
    let current_id = match (kind, &c.physical_resource_id) {
        (RequestType::Create, _) | (_, None) => {
            physical_id::sentinel(&c.stack_id, &c.logical_resource_id)
        }
        (_, Some(id)) => id.clone(),
    };
    if kind == RequestType::Update && c.physical_resource_id.is_none() {
        return failed(
            c,
            Some(current_id),
            "PhysicalResourceId is missing from an Update request".to_owned(),
        );
    }
    if kind == RequestType::Delete {
        let ours = c
            .physical_resource_id
            .as_deref()
            .is_some_and(|id| physical_id::is_ours(id, &c.stack_id, &c.logical_resource_id));
        if !ours {
            // a failed Create's sentinel, or an id we never issued: nothing of ours exists to delete
            tracing::info!(physical_id = %current_id, "delete of a resource this function did not create: nothing to do");
            return success(c, current_id, Outcome::default());
        }
    }

    let work = tokio::spawn(run_handler(handler, kind, request, event));
    let abort = work.abort_handle();
    let result = match tokio::time::timeout_at(work_deadline, work).await {
        Ok(Ok(result)) => result,
        Ok(Err(join)) if join.is_panic() => Err(format!(
            "the handler panicked: {}",
            panic_message(join.into_panic())
        )),
        Ok(Err(_)) => Err("the handler was cancelled".to_owned()),
        Err(_) => {
            abort.abort();
            Err(
                "timed out: the handler did not finish before the Lambda deadline (minus headroom)"
                    .to_owned(),
            )
        }
    };
    match (kind, result) {
        (RequestType::Create, Ok(outcome)) => success(
            c,
            physical_id::on_create(&c.stack_id, &c.logical_resource_id),
            outcome,
        ),
        (RequestType::Update, Ok(outcome)) if outcome.replace => success(
            c,
            physical_id::on_replace(&c.stack_id, &c.logical_resource_id, &c.request_id),
            outcome,
        ),
        (_, Ok(outcome)) => success(c, current_id, outcome),
        (_, Err(reason)) => failed(c, Some(current_id), reason),
    }
}

async fn run_handler<H: CustomResource>(
    handler: Arc<H>,
    kind: RequestType,
    request: Request,
    event: Value,
) -> Result<Outcome, String> {
    let parse = |key: &'static str| -> Result<H::Properties, String> {
        let props = envelope::properties(&event, key).map_err(|e| e.to_string())?;
        properties::parse(key, props).map_err(|e| e.to_string())
    };
    let props = parse("ResourceProperties")?;
    let result = match kind {
        RequestType::Create => handler.create(&request, &props).await,
        RequestType::Update => {
            let old = parse("OldResourceProperties")?;
            handler.update(&request, &old, &props).await
        }
        RequestType::Delete => handler.delete(&request, &props).await,
    };
    result.map_err(|e| error_chain(&e))
}

fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".to_owned())
}

fn success(c: &Coordinates, physical_resource_id: String, outcome: Outcome) -> ResponseBody {
    ResponseBody {
        status: Status::Success,
        reason: None,
        physical_resource_id,
        stack_id: c.stack_id.clone(),
        request_id: c.request_id.clone(),
        logical_resource_id: c.logical_resource_id.clone(),
        no_echo: outcome.no_echo,
        data: outcome.data,
    }
}

fn failed(c: &Coordinates, physical_resource_id: Option<String>, reason: String) -> ResponseBody {
    let physical_resource_id = physical_resource_id
        .or_else(|| c.physical_resource_id.clone())
        .unwrap_or_else(|| physical_id::sentinel(&c.stack_id, &c.logical_resource_id));
    ResponseBody {
        status: Status::Failed,
        reason: Some(if reason.is_empty() {
            "failed".to_owned()
        } else {
            reason
        }),
        physical_resource_id,
        stack_id: c.stack_id.clone(),
        request_id: c.request_id.clone(),
        logical_resource_id: c.logical_resource_id.clone(),
        no_echo: false,
        data: serde_json::Map::new(),
    }
}

#[cfg(test)]
mod settings_tests {
    use super::Settings;
    use std::time::Duration;

    fn from(vars: &[(&str, &str)]) -> Settings {
        Settings::from_lookup(|name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        })
    }

    #[test]
    fn the_environment_sets_headroom_attempt_timeout_and_loopback() {
        let s = from(&[
            ("CFN_DEADLINE_HEADROOM_MS", "2500"),
            ("CFN_RESPONSE_ATTEMPT_TIMEOUT_MS", "2000"),
            ("CFN_RESPONSE_ALLOW_LOOPBACK", "true"),
        ]);
        assert_eq!(s.headroom, Duration::from_millis(2500));
        assert_eq!(s.sender.attempt_timeout, Duration::from_secs(2));
        assert!(s.allow_loopback);
    }

    #[test]
    fn unset_unreadable_or_zero_values_keep_the_defaults() {
        let defaults = Settings::default();
        for s in [
            from(&[]),
            from(&[
                ("CFN_DEADLINE_HEADROOM_MS", "soon"),
                ("CFN_RESPONSE_ATTEMPT_TIMEOUT_MS", "0"),
                ("CFN_RESPONSE_ALLOW_LOOPBACK", "yes"),
            ]),
        ] {
            assert_eq!(s.headroom, defaults.headroom);
            assert_eq!(s.sender.attempt_timeout, defaults.sender.attempt_timeout);
            assert!(!s.allow_loopback);
        }
    }
}
