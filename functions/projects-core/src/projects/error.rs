//! What went wrong launching, updating or following a project, worded for one line on a terminal. Each variant
//! names what it is about; [`LaunchError::exit_code`] tells the caller's mistakes (2) from everything else (1).

use crate::aws::{AwsSdkError, CallError, OperationError};
use crate::templates::MAX_TEMPLATE_BYTES;

/// What went wrong, worded for one line on a terminal.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LaunchError {
    /// The caller's input has the wrong form (a name, a flag, a URL); no project was touched.
    #[error("{0}")]
    Invalid(String),
    /// What the command needs is not (yet) so in AWS — a project without a stack, a template without a
    /// published version, a role this product may not change; the input was fine and the same command may
    /// succeed later.
    #[error("{0}")]
    State(String),
    /// Parameters the template does not declare.
    #[error("template {template} has no {} {}; {takes}", noun(.names), .names.join(", "))]
    UnknownParameters {
        template: String,
        names: Vec<String>,
        /// `it takes A, B` or `it takes none`
        takes: String,
    },
    /// Parameters a project carries that the target template no longer declares (removed or renamed).
    #[error("project {project} has {} {} that template {template} {version} no longer declares; {takes} \
             (pass --drop-param {} to leave {} out)", noun(.names), .names.join(", "),
             .names.join(" --drop-param "), if .names.len() == 1 { "it" } else { "them" })]
    RemovedParameters {
        project: String,
        template: String,
        /// `version 1a2b3c4d5e6f`
        version: String,
        names: Vec<String>,
        takes: String,
    },
    /// Required parameters not given.
    #[error("template {template} requires {} {} (pass {})", noun(.names), .names.join(", "),
            .names.iter().map(|m| format!("--param {m}=…")).collect::<Vec<_>>().join(" "))]
    MissingParameters {
        template: String,
        names: Vec<String>,
    },
    /// SageMaker's own parameters, which the caller cannot pass.
    #[error(
        "parameter {0} is filled in by SageMaker (from the project's name and id); do not pass it"
    )]
    ReservedParameter(String),
    /// A value outside the declaration's AllowedValues / MinLength / MaxLength.
    #[error("parameter {name}: {problem}")]
    BadValue { name: String, problem: String },
    /// The project name breaks what the template declares for SageMakerProjectName.
    #[error("project name {project:?} does not fit template {template}, whose SageMakerProjectName declares {rule}")]
    ProjectNameRule {
        project: String,
        template: String,
        rule: String,
    },
    #[error("no launch role: pass --launch-role ARN (the role CloudFormation assumes to create the project's \
             resources), or use the bootstrap stack's outputs")]
    NoLaunchRole,
    #[error("project {0} does not exist")]
    NoSuchProject(String),
    #[error("stack {stack} does not exist in {region}: deploy the bootstrap stack, name it with --stack or \
             PROJECTS_STACK, or pass --template-url and --launch-role")]
    NoSuchStack { stack: String, region: String },
    /// A stack whose outputs are not the bootstrap stack's.
    #[error("stack {stack}{problem}")]
    NotBootstrapStack {
        stack: String,
        /// ` has no output LaunchRoleArn: …`, `, output XTemplateUrl: …`
        problem: String,
    },
    /// The object is no SageMaker project template.
    #[error("template {name} ({url}) is not a SageMaker project template: {reason}")]
    NotATemplate {
        name: String,
        url: String,
        reason: String,
    },
    #[error("template {name} is larger than the {MAX_TEMPLATE_BYTES} bytes CloudFormation reads from S3")]
    TemplateTooLarge { name: String },
    #[error("template {name}: reading it failed: {reason}")]
    TemplateBody { name: String, reason: String },
    /// No published version of the template has this digest.
    #[error("template {template} has no published version {digest}; {known}")]
    NoSuchVersion {
        template: String,
        digest: String,
        /// `published versions: …` or why none are known
        known: String,
    },
    /// The project does not say which template it runs (created before the version tags, or by hand).
    #[error("project {project} runs {url}, which is no template of the {catalog}; give the template with --template")]
    UnknownTemplate {
        project: String,
        url: String,
        /// `stack sagemaker-projects-bootstrap`
        catalog: String,
    },
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
}

fn noun(names: &[String]) -> &'static str {
    if names.len() == 1 {
        "parameter"
    } else {
        "parameters"
    }
}

impl LaunchError {
    /// The caller's input was wrong (as for a usage error): nothing was done, the same command fails again.
    pub fn is_invalid_input(&self) -> bool {
        matches!(
            self,
            LaunchError::Invalid(_)
                | LaunchError::UnknownParameters { .. }
                | LaunchError::RemovedParameters { .. }
                | LaunchError::MissingParameters { .. }
                | LaunchError::ReservedParameter(_)
                | LaunchError::BadValue { .. }
                | LaunchError::ProjectNameRule { .. }
                | LaunchError::NoLaunchRole
                | LaunchError::NoSuchVersion { .. }
                | LaunchError::UnknownTemplate { .. }
        )
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
