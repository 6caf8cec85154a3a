//! One failed AWS call, described once for every service: what was called on what, the service's code and
//! message, and whether trying again can help. Retryability is decided here, from the SDK error's kind and
//! the HTTP status, with the SDK's own lists of throttling and transient codes — never from text elsewhere.

use std::error::Error as StdError;
use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

use aws_runtime::retries::classifiers::{THROTTLING_ERRORS, TRANSIENT_ERRORS};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use aws_smithy_types::retry::ProvideErrorKind;

/// An operation's error type, as every SDK client generates it (`PutRolePolicyError`, `GetObjectError`, …).
pub trait OperationError:
    ProvideErrorMetadata + ProvideErrorKind + StdError + Send + Sync + 'static
{
}
impl<E: ProvideErrorMetadata + ProvideErrorKind + StdError + Send + Sync + 'static> OperationError
    for E
{
}

/// The statuses smithy-rs's `HttpStatusCodeClassifier` retries by default: not every 5xx (501 Not Implemented and
/// 505 HTTP Version Not Supported fail the same way every time).
const RETRYABLE_STATUSES: [u16; 4] = [500, 502, 503, 504];

/// What every SDK client's `send()` fails with.
pub type AwsSdkError<E> = SdkError<E, HttpResponse>;

/// A failed call: `IAM PutRolePolicy on role X failed: Throttling: Rate exceeded`. Its [`CallDetails`] are
/// read through it (`e.code`, `e.retryable`); it stays one pointer wide so every `Result` carrying it is small.
#[derive(Clone, Debug, thiserror::Error)]
#[error("{details}")]
pub struct CallError {
    details: Box<CallDetails>,
    #[source]
    source: Arc<dyn StdError + Send + Sync>,
}

/// What a failed call was and what came back.
///
/// `code` is the service's error code, or for failures before a service answered: `Timeout`,
/// `DispatchFailure` (connection), `ResponseError` (unreadable answer), `ConstructionFailure` (bad request).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallDetails {
    /// `IAM`, `S3`, `SageMaker`, `SQS`, `CodeBuild`, `CloudFormation`
    pub service: &'static str,
    pub operation: &'static str,
    /// What the call was about, in words (`role X`, `s3://bucket/key`, `domain d-…`); may be empty.
    pub target: String,
    pub code: String,
    pub message: String,
    /// Throttling, a 5xx, a timeout or a lost connection: the same call may succeed later.
    pub retryable: bool,
}

impl fmt::Display for CallDetails {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.service, self.operation)?;
        if !self.target.is_empty() {
            write!(f, " on {}", self.target)?;
        }
        write!(f, " failed: {}: {}", self.code, self.message)
    }
}

impl Deref for CallError {
    type Target = CallDetails;

    fn deref(&self) -> &CallDetails {
        &self.details
    }
}

/// Equal when they say the same thing (the SDK error behind them is not compared).
impl PartialEq for CallError {
    fn eq(&self, other: &Self) -> bool {
        self.details == other.details
    }
}

impl Eq for CallError {}

impl CallError {
    pub fn new<E>(
        service: &'static str,
        operation: &'static str,
        target: impl Into<String>,
        error: AwsSdkError<E>,
    ) -> Self
    where
        E: OperationError,
    {
        let (code, message, retryable) = classify(&error);
        Self {
            details: Box::new(CallDetails {
                service,
                operation,
                target: target.into(),
                code,
                message,
                retryable,
            }),
            source: Arc::new(error),
        }
    }

    /// A failed call as a test states it, without an SDK error behind it.
    #[cfg(test)]
    pub(crate) fn from_parts(
        service: &'static str,
        operation: &'static str,
        target: &str,
        code: &str,
        message: &str,
        retryable: bool,
    ) -> Self {
        Self {
            details: Box::new(CallDetails {
                service,
                operation,
                target: target.to_owned(),
                code: code.to_owned(),
                message: message.to_owned(),
                retryable,
            }),
            source: Arc::new(std::io::Error::other(message.to_owned())),
        }
    }

    /// Whether the service answered with this error code.
    pub fn is(&self, code: &str) -> bool {
        self.code == code
    }
}

/// (code, one-line message, retryable) of an SDK error.
fn classify<E: OperationError>(error: &AwsSdkError<E>) -> (String, String, bool) {
    let context = || one_line(&DisplayErrorContext(error).to_string());
    let (code, retryable) = match error {
        SdkError::ServiceError(se) => {
            let code = ProvideErrorMetadata::code(se.err()).unwrap_or("Unknown");
            let status = se.raw().status().as_u16();
            // as the SDK classifies: its lists of throttling and transient codes, the errors the service models
            // as retryable, 429, and the server errors of RETRYABLE_STATUSES
            let retryable = THROTTLING_ERRORS.contains(&code)
                || TRANSIENT_ERRORS.contains(&code)
                || ProvideErrorKind::retryable_error_kind(se.err()).is_some()
                || status == 429
                || RETRYABLE_STATUSES.contains(&status);
            let message = se.err().message().map(one_line).unwrap_or_default();
            let message = if message.is_empty() {
                context()
            } else {
                message
            };
            return (code.to_owned(), message, retryable);
        }
        SdkError::TimeoutError(_) => ("Timeout", true),
        // as smithy-rs retries a transport failure: an io error or a timeout; a user error (a bad endpoint) or
        // another failure fails the same way every time
        SdkError::DispatchFailure(d) => ("DispatchFailure", d.is_io() || d.is_timeout()),
        SdkError::ResponseError(_) => ("ResponseError", true),
        SdkError::ConstructionFailure(_) => ("ConstructionFailure", false),
        _ => ("Unknown", false),
    };
    (code.to_owned(), context(), retryable)
}

/// Text on one line, runs of white space (newlines too) as one space: for a Reason, a log field, a terminal.
pub(crate) fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// IAM's "no such role or policy" (`NoSuchEntity`).
pub fn iam_no_such_entity<E: ProvideErrorMetadata, R>(e: &SdkError<E, R>) -> bool {
    e.as_service_error().and_then(|se| se.code()) == Some("NoSuchEntity")
}

/// CloudFormation's "no such stack": a `ValidationError` saying the stack does not exist.
pub fn cloudformation_stack_missing<E: ProvideErrorMetadata, R>(e: &SdkError<E, R>) -> bool {
    e.as_service_error().is_some_and(|se| {
        se.code() == Some("ValidationError")
            && se.message().unwrap_or("").contains("does not exist")
    })
}

/// SageMaker's "no such domain, profile or project": `ResourceNotFound`, or a `ValidationException` whose
/// message says the resource does not exist (DescribeProject and DeleteProject answer that way).
pub fn sagemaker_not_found<E: ProvideErrorMetadata, R>(e: &SdkError<E, R>) -> bool {
    let Some(se) = e.as_service_error() else {
        return false;
    };
    let missing = || {
        let m = se.message().unwrap_or("").to_ascii_lowercase();
        m.contains("does not exist") || m.contains("not found")
    };
    match se.code() {
        Some("ResourceNotFound") => true,
        Some("ValidationException") => missing(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_iam::operation::put_role_policy::PutRolePolicyError;
    use aws_smithy_runtime_api::client::result::{ConnectorError, ServiceError};
    use aws_smithy_runtime_api::http::StatusCode;
    use aws_smithy_types::body::SdkBody;
    use aws_smithy_types::error::ErrorMetadata;

    fn answered(
        status: u16,
        code: &str,
        message: &str,
    ) -> SdkError<PutRolePolicyError, HttpResponse> {
        let meta = ErrorMetadata::builder().code(code).message(message).build();
        let raw = HttpResponse::new(
            StatusCode::try_from(status).expect("a status"),
            SdkBody::empty(),
        );
        SdkError::ServiceError(
            ServiceError::builder()
                .source(PutRolePolicyError::generic(meta))
                .raw(raw)
                .build(),
        )
    }

    fn call(e: SdkError<PutRolePolicyError, HttpResponse>) -> CallError {
        CallError::new("IAM", "PutRolePolicy", "role R", e)
    }

    #[test]
    fn access_denied_and_validation_errors_are_final() {
        for (status, code) in [
            (403, "AccessDenied"),
            (403, "AccessDeniedException"),
            (400, "ValidationException"),
            (404, "NoSuchEntity"),
            (400, "MalformedPolicyDocument"),
            // not every 5xx: the SDK retries 500, 502, 503 and 504 only
            (501, "NotImplemented"),
            (505, ""),
        ] {
            assert!(
                !call(answered(status, code, "no")).retryable,
                "{status} {code}"
            );
        }
        let other = call(SdkError::dispatch_failure(ConnectorError::other(
            "a broken TLS configuration".into(),
            None,
        )));
        assert!(
            !other.retryable,
            "a failure that is neither io nor a timeout"
        );
    }

    #[test]
    fn throttling_server_errors_and_lost_connections_are_retryable() {
        for (status, code) in [
            (400, "Throttling"),
            (400, "ThrottlingException"),
            (503, "SlowDown"),
            (500, "ServiceFailure"),
            (503, "ServiceUnavailable"),
            (500, "InternalFailure"),
            (429, "TooManyRequestsException"),
            (400, "RequestTimeout"),
            (500, ""),
        ] {
            assert!(
                call(answered(status, code, "x")).retryable,
                "{status} {code}"
            );
        }
        let timeout = call(SdkError::timeout_error("slow"));
        assert_eq!(
            (timeout.code.as_str(), timeout.retryable),
            ("Timeout", true)
        );
        let io = call(SdkError::dispatch_failure(ConnectorError::io(
            "connection reset".into(),
        )));
        assert_eq!((io.code.as_str(), io.retryable), ("DispatchFailure", true));
        assert!(io.message.contains("connection reset"), "{}", io.message);
        let user = call(SdkError::dispatch_failure(ConnectorError::user(
            "bad endpoint".into(),
        )));
        assert!(!user.retryable);
    }

    #[test]
    fn the_message_names_service_operation_target_code_and_message() {
        let e = call(answered(400, "Throttling", "Rate\n exceeded"));
        assert_eq!(
            e.to_string(),
            "IAM PutRolePolicy on role R failed: Throttling: Rate exceeded"
        );
        assert!(e.is("Throttling"));
        assert!(StdError::source(&e).is_some(), "the SDK error is kept");
        let untargeted =
            CallError::new("IAM", "ListRoles", "", answered(403, "AccessDenied", "no"));
        assert_eq!(
            untargeted.to_string(),
            "IAM ListRoles failed: AccessDenied: no"
        );
    }

    #[test]
    fn not_found_means_what_each_service_says() {
        assert!(iam_no_such_entity(&answered(404, "NoSuchEntity", "x")));
        assert!(!iam_no_such_entity(&answered(404, "ResourceNotFound", "x")));
        assert!(sagemaker_not_found(&answered(400, "ResourceNotFound", "x")));
        assert!(sagemaker_not_found(&answered(
            400,
            "ValidationException",
            "Project p does not exist"
        )));
        assert!(!sagemaker_not_found(&answered(
            400,
            "ValidationException",
            "bad name"
        )));
    }
}
