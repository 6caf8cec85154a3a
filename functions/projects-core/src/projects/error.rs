//! What went wrong launching, updating or following a project, worded for one line on a terminal.

use crate::aws::{AwsSdkError, CallError, OperationError};

/// What went wrong, worded for one line on a terminal.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LaunchError {
    /// The caller's input is wrong (name, parameters, template choice); no project was touched.
    #[error("{0}")]
    Invalid(String),
    /// An AWS API answered with an error (or could not be reached): `CreateProject: Code: message`.
    #[error("{}: {}: {}", .0.operation, .0.code, .0.message)]
    Aws(#[from] CallError),
    /// A template could not be read from S3.
    #[error("{}: {}: template {name} ({url}): {}", .source.operation, .source.code, .source.message)]
    TemplateRead {
        name: String,
        url: String,
        source: CallError,
    },
    /// Anything else: a template that cannot be read or is not a project template, a stack without the outputs.
    #[error("{0}")]
    Failed(String),
}

impl LaunchError {
    /// 2 for the caller's input (as for a usage error), 1 for everything else.
    pub fn exit_code(&self) -> u8 {
        match self {
            LaunchError::Invalid(_) => 2,
            _ => 1,
        }
    }

    /// The failed AWS call, when there was one.
    pub fn call(&self) -> Option<&CallError> {
        match self {
            LaunchError::Aws(call) | LaunchError::TemplateRead { source: call, .. } => Some(call),
            _ => None,
        }
    }

    /// The AWS error code, when AWS answered.
    pub fn aws_code(&self) -> Option<&str> {
        self.call().map(|c| c.code.as_str())
    }
}

pub(crate) fn sagemaker<E: OperationError>(
    operation: &'static str,
    project: &str,
    e: AwsSdkError<E>,
) -> LaunchError {
    LaunchError::Aws(CallError::new(
        "SageMaker",
        operation,
        format!("project {project}"),
        e,
    ))
}
