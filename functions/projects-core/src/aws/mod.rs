//! SDK configuration in one place: from the environment, honouring `AWS_ENDPOINT_URL` (the local emulator),
//! adaptive retries for throttling, path-style S3 when an endpoint is overridden.

#[cfg(test)]
pub(crate) mod answers;
mod error;

pub use error::{
    iam_no_such_entity, sagemaker_not_found, AwsSdkError, CallDetails, CallError, OperationError,
};

use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, SdkConfig};

/// The shared SDK configuration. Retries are adaptive: IAM throttles hard and every caller here is bursty.
pub async fn config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .retry_config(RetryConfig::adaptive().with_max_attempts(6))
        .load()
        .await
}

/// The clients the functions use, built once per process.
#[derive(Clone, Debug)]
pub struct Clients {
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
