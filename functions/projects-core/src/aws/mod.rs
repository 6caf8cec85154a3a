//! SDK configuration in one place: from the environment, honouring `AWS_ENDPOINT_URL` (the local emulator),
//! adaptive retries for throttling, path-style S3 when an endpoint is overridden, HTTPS with rustls and ring.

#[cfg(test)]
pub(crate) mod answers;
pub mod codebuild;
mod error;

pub(crate) use error::one_line;
pub use error::{
    cloudformation_stack_missing, iam_no_such_entity, sagemaker_not_found, AwsSdkError,
    CallDetails, CallError, OperationError,
};

use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, SdkConfig};

/// The shared SDK configuration, with [`retry_config`].
pub async fn config() -> SdkConfig {
    let attempts = std::env::var("AWS_MAX_ATTEMPTS").ok();
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(https_client())
        .retry_config(retry_config_with(attempts.as_deref()))
        .load()
        .await
}

/// The SDK's own hyper client over rustls with ring, trusting the system's roots: what its default client is,
/// but for aws-lc-rs, a C library that cost as much build time as a whole SDK crate.
pub fn https_client() -> aws_smithy_runtime_api::client::http::SharedHttpClient {
    use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider};
    aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https()
}

/// Attempts per call unless the function's environment sets the SDKs' own `AWS_MAX_ATTEMPTS`.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 6;

/// How every call is retried inside the SDK before a [`CallError`] reaches our code: adaptive (IAM throttles
/// hard and every caller here is bursty), six attempts, for what the SDK classifies as transient — the same
/// kinds [`CallError::retryable`] names.
pub fn retry_config() -> RetryConfig {
    retry_config_with(None)
}

/// [`retry_config`] with the attempts of `AWS_MAX_ATTEMPTS` when it holds a positive number (as every AWS SDK
/// reads it: an operator's knob, e.g. 1 to hand every transient failure straight to the queue's redelivery).
pub fn retry_config_with(max_attempts: Option<&str>) -> RetryConfig {
    let attempts = max_attempts
        .and_then(|v| v.trim().parse::<u32>().ok())
        .filter(|n| *n > 0)
        .unwrap_or(DEFAULT_MAX_ATTEMPTS);
    RetryConfig::adaptive().with_max_attempts(attempts)
}

/// The clients the functions use, built once per process.
#[derive(Clone, Debug)]
pub struct Clients {
    pub cloudformation: aws_sdk_cloudformation::Client,
    pub codebuild: aws_sdk_codebuild::Client,
    pub iam: aws_sdk_iam::Client,
    pub s3: aws_sdk_s3::Client,
    pub sagemaker: aws_sdk_sagemaker::Client,
    pub sqs: aws_sdk_sqs::Client,
}

impl Clients {
    pub fn new(config: &SdkConfig) -> Self {
        // an emulator serves every bucket on one host: virtual-hosted names would not resolve
        let path_style = std::env::var_os("AWS_ENDPOINT_URL").is_some();
        let s3 = aws_sdk_s3::config::Builder::from(config)
            .force_path_style(path_style)
            .build();
        Self {
            cloudformation: aws_sdk_cloudformation::Client::new(config),
            codebuild: aws_sdk_codebuild::Client::new(config),
            iam: aws_sdk_iam::Client::new(config),
            s3: aws_sdk_s3::Client::from_conf(s3),
            sagemaker: aws_sdk_sagemaker::Client::new(config),
            sqs: aws_sdk_sqs::Client::new(config),
        }
    }

    pub async fn from_env() -> Self {
        Self::new(&config().await)
    }
}

#[cfg(test)]
mod tests {
    use super::answers::iam_error;
    use super::{retry_config, retry_config_with, DEFAULT_MAX_ATTEMPTS};
    use aws_sdk_iam::operation::tag_role::TagRoleOutput;
    use aws_smithy_mocks::{mock, mock_client, RuleMode};

    /// Each test its own retry partition: the adaptive rate limiter is process-wide per partition, so the
    /// throttling of one test (on its paused clock) made the other wait on the real one — a hang, now and then.
    fn partition(name: &'static str) -> aws_sdk_iam::config::retry::RetryPartition {
        aws_sdk_iam::config::retry::RetryPartition::new(name)
    }

    fn tag_role(
        iam: &aws_sdk_iam::Client,
    ) -> aws_sdk_iam::operation::tag_role::builders::TagRoleFluentBuilder {
        iam.tag_role().role_name("R")
    }

    #[tokio::test(start_paused = true)]
    async fn every_function_outlasts_throttling_and_server_errors_inside_the_sdk() {
        let (throttled, throttle_body) = iam_error(400, "Throttling", "Rate exceeded");
        let (failed, fail_body) = iam_error(500, "ServiceFailure", "try later");
        let rule = mock!(aws_sdk_iam::Client::tag_role)
            .sequence()
            .http_status(throttled, throttle_body)
            .times(3)
            .http_status(failed, fail_body)
            .output(|| TagRoleOutput::builder().build())
            .build();
        let iam = mock_client!(aws_sdk_iam, RuleMode::Sequential, [&rule], |c| c
            .retry_config(retry_config())
            .retry_partition(partition("outlasts")));
        assert!(tag_role(&iam).send().await.is_ok());
        assert_eq!(rule.num_calls(), 5);
    }

    #[tokio::test(start_paused = true)]
    async fn access_denied_is_asked_once() {
        let (status, body) = iam_error(403, "AccessDenied", "no");
        let rule = mock!(aws_sdk_iam::Client::tag_role)
            .sequence()
            .http_status(status, body)
            .times(6)
            .build();
        let iam = mock_client!(aws_sdk_iam, RuleMode::Sequential, [&rule], |c| c
            .retry_config(retry_config())
            .retry_partition(partition("asked-once")));
        assert!(tag_role(&iam).send().await.is_err());
        assert_eq!(rule.num_calls(), 1);
    }

    #[test]
    fn aws_max_attempts_sets_the_attempts_and_anything_else_keeps_the_default() {
        assert_eq!(retry_config_with(Some("1")).max_attempts(), 1);
        assert_eq!(retry_config_with(Some(" 3 ")).max_attempts(), 3);
        for ignored in [None, Some(""), Some("0"), Some("-2"), Some("many")] {
            assert_eq!(
                retry_config_with(ignored).max_attempts(),
                DEFAULT_MAX_ATTEMPTS,
                "{ignored:?}"
            );
        }
        assert_eq!(retry_config().max_attempts(), DEFAULT_MAX_ATTEMPTS);
    }
}
