//! The subcommands, one module each; what they share: where the templates come from (`Source`), how long to
//! follow (`Wait`), the SDK clients (`Aws`) and the bootstrap stack's outputs.

pub mod create;
pub mod delete;
pub mod doctor;
pub mod list;
pub mod status;
pub mod templates;
pub mod update;
pub mod upgrade;

use std::time::Duration;

use projects_core::aws::{CallError, Clients};
use projects_core::projects::explain;
use projects_core::projects::{
    self as launch, Catalog, FollowSettings, Goal, LaunchError, DEFAULT_STACK,
};

pub use crate::exit::ExitStatus;
use crate::output::Printer;

#[derive(clap::Args, Debug)]
pub struct Source {
    /// The bootstrap stack whose outputs list the templates and the launch role.
    #[arg(long, env = "PROJECTS_STACK", default_value = DEFAULT_STACK, value_name = "STACK")]
    pub stack: String,

    /// Use this template instead of the stack's (repeatable): NAME=URL, or a bare https S3 URL named after
    /// its file. No stack is read then.
    #[arg(long = "template-url", value_name = "NAME=URL")]
    pub template_urls: Vec<String>,

    /// The role CloudFormation assumes to create the project's resources (overrides the stack's
    /// LaunchRoleArn; needed with --template-url to create).
    #[arg(long, value_name = "ARN")]
    pub launch_role: Option<String>,
}

#[derive(clap::Args, Debug)]
pub struct Wait {
    /// Seconds between two status checks while following.
    #[arg(long, value_name = "SECONDS", default_value = "5", value_parser = interval)]
    pub poll_interval: Duration,

    /// Stop following after this many seconds (exit 3; the project carries on).
    #[arg(long, value_name = "SECONDS", default_value = "3600", value_parser = seconds)]
    pub timeout: Duration,
}

/// Whether and how long a command follows what it started.
#[derive(clap::Args, Debug)]
pub struct Follow {
    /// Return once SageMaker has accepted the request, without following it.
    #[arg(long)]
    pub no_wait: bool,

    #[command(flatten)]
    pub wait: Wait,
}

impl Wait {
    pub fn settings(&self) -> FollowSettings {
        FollowSettings {
            interval: self.poll_interval,
            timeout: self.timeout,
            ..FollowSettings::default()
        }
    }
}

fn seconds(s: &str) -> Result<Duration, String> {
    s.trim()
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite() && *v >= 0.0 && *v <= 604_800.0)
        .map(Duration::from_secs_f64)
        .ok_or_else(|| format!("{s:?} is not a number of seconds between 0 and 604800"))
}

fn interval(s: &str) -> Result<Duration, String> {
    seconds(s).and_then(|d| {
        if d >= Duration::from_millis(100) {
            Ok(d)
        } else {
            Err("the poll interval is at least 0.1 seconds".to_owned())
        }
    })
}

pub(crate) async fn follow(
    aws: &Aws,
    name: &str,
    goal: Goal,
    wait: &Wait,
    printer: &Printer,
) -> Result<ExitStatus, LaunchError> {
    let mut progress = printer.progress(name);
    let settled = launch::follow(&aws.clients.sagemaker, name, goal, wait.settings(), |p| {
        progress.observe(p)
    })
    .await;
    progress.finish();
    let settled = settled?;
    let why = aws.explain(settled.project.as_ref()).await;
    printer.settled(name, goal, &settled, why.as_ref());
    Ok(ExitStatus::of_follow(settled.outcome))
}

/// The SDK clients, built once the input has been checked.
pub(crate) struct Aws {
    pub clients: Clients,
    pub cloudtrail: aws_sdk_cloudtrail::Client,
    pub cloudformation: aws_sdk_cloudformation::Client,
    pub logs: aws_sdk_cloudwatchlogs::Client,
    pub region: String,
}

pub(crate) async fn aws() -> Result<Aws, LaunchError> {
    let config = projects_core::aws::config().await;
    let region = config.region().map(|r| r.to_string()).ok_or_else(|| {
        LaunchError::Invalid(
            "no AWS region: set AWS_REGION (or a region in your AWS profile)".to_owned(),
        )
    })?;
    Ok(Aws {
        clients: Clients::new(&config),
        cloudformation: aws_sdk_cloudformation::Client::new(&config),
        cloudtrail: aws_sdk_cloudtrail::Client::new(&config),
        logs: aws_sdk_cloudwatchlogs::Client::new(&config),
        region,
    })
}

impl Aws {
    /// Why `project` failed, when it did; an explanation that cannot be read (its own call failed) is none:
    /// the failure itself is still reported, with SageMaker's message.
    pub(crate) async fn explain(
        &self,
        project: Option<&launch::ProjectView>,
    ) -> Option<explain::Explanation> {
        explain::explain(&self.explain_sources(), project?)
            .await
            .ok()
            .flatten()
    }

    /// Where an explanation of a failed project reads from.
    pub(crate) fn explain_sources(&self) -> explain::Sources<'_> {
        explain::Sources {
            cloudformation: &self.cloudformation,
            codebuild: &self.clients.codebuild,
            logs: &self.logs,
        }
    }
}

/// The templates and the launch role: from the flags, or from the bootstrap stack's outputs.
pub(crate) async fn catalog(aws: &Aws, source: &Source) -> Result<Catalog, LaunchError> {
    if !source.template_urls.is_empty() {
        return Catalog::from_flags(&source.template_urls, source.launch_role.as_deref());
    }
    let (outputs, _) = stack_outputs(aws, &source.stack).await?;
    let mut catalog = Catalog::from_outputs(&source.stack, &outputs)?;
    if let Some(role) = &source.launch_role {
        catalog.launch_role_arn = Catalog::from_flags(&[], Some(role))?.launch_role_arn;
    }
    Ok(catalog)
}

/// The bootstrap stack's outputs and its id.
pub(crate) async fn stack_outputs(
    aws: &Aws,
    stack: &str,
) -> Result<(Vec<(String, String)>, Option<String>), LaunchError> {
    let described = aws
        .cloudformation
        .describe_stacks()
        .stack_name(stack)
        .send()
        .await
        .map_err(|e| {
            let call = CallError::new("CloudFormation", "DescribeStacks", stack, e);
            // CloudFormation says so in a ValidationError: "Stack with id X does not exist"
            if call.message.contains("does not exist") {
                LaunchError::NoSuchStack {
                    stack: stack.to_owned(),
                    region: aws.region.clone(),
                }
            } else {
                LaunchError::Aws(call)
            }
        })?;
    let first = described.stacks().first();
    let outputs = first
        .map(|s| {
            s.outputs()
                .iter()
                .filter_map(|o| Some((o.output_key()?.to_owned(), o.output_value()?.to_owned())))
                .collect()
        })
        .unwrap_or_default();
    Ok((outputs, first.and_then(|s| s.stack_id()).map(str::to_owned)))
}
