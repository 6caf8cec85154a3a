//! Why a project failed, to the root cause (`projects status`, `projects list --failed`).
//!
//! SageMaker reports a failed project with its stack's status message, which is usually the cascade ("The
//! following resource(s) failed to create: [SeedCode]"). The cause is further down: the first resource that
//! failed in the stack's last operation (the cancellations that follow it are skipped), its reason, and where
//! the reason lives deeper, that too — the seed-code check-in build (its phase, its context and the last lines
//! of its log), the role an AccessDenied names, the parameter or name CloudFormation refused. The first line
//! says the cause and the action; the rest is the evidence.

use aws_sdk_cloudformation::types::{ResourceStatus, StackEvent};
use serde::Serialize;

use super::error::LaunchError;
use super::launch::ProjectView;
use crate::aws::codebuild::{failing_phase, phase_context};
use crate::aws::CallError;

/// The SSM parameter every project stack resolves its seed-code function from (infra/bootstrap.yaml).
const SEED_CODE_PARAMETER: &str = "/sagemaker-projects-bootstrap/seedcode-function-arn";

/// How many log lines of a failed build are shown.
pub const LOG_LINES: i32 = 20;
/// How many pages of stack events are read at most (100 events a page): a project stack's last operation fits.
const EVENT_PAGES: usize = 5;

/// The clients an explanation reads from.
pub struct Sources<'a> {
    pub cloudformation: &'a aws_sdk_cloudformation::Client,
    pub codebuild: &'a aws_sdk_codebuild::Client,
    pub logs: &'a aws_sdk_cloudwatchlogs::Client,
}

/// Why a project failed: one line a person reads first, then the evidence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Explanation {
    /// The cause, then what to do.
    pub headline: String,
    pub cause: Cause,
    /// The first resource that failed, as the stack's events report it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource: Option<FailedResource>,
    /// The seed-code check-in build, when that is what failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub build: Option<FailedBuild>,
}

/// What kind of failure it was.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind")]
pub enum Cause {
    /// The seed-code check-in build failed.
    SeedCheckIn,
    /// A role lacked a permission.
    AccessDenied {
        /// The role that was refused (`AmazonSageMakerProjectsLaunchRole`), when the message names one.
        role: Option<String>,
        action: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        on: Option<String>,
    },
    /// A name that must be unique is taken.
    AlreadyExists,
    /// CloudFormation refused a parameter value.
    Parameter,
    /// A parameter the template resolves from SSM (`{{resolve:ssm:…}}`, an `AWS::SSM::Parameter::Value` type)
    /// does not exist: for the seed-code function's, the bootstrap stack is not deployed here.
    MissingSsmParameter { name: String },
    /// Anything else: the resource's own reason.
    Other,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FailedResource {
    pub logical_id: String,
    #[serde(rename = "type")]
    pub resource_type: String,
    pub status: String,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FailedBuild {
    pub id: String,
    pub status: String,
    /// The phase that failed (`BUILD`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phase: Option<String>,
    /// What CodeBuild says of it (`COMMAND_EXECUTION_ERROR: Error while executing command: …`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context: Option<String>,
    /// The last lines of its log, oldest first.
    pub log: Vec<String>,
}

/// Whether a project status is a failure, and so explained: CreateFailed, UpdateFailed, DeleteFailed (an update
/// that rolled back is reported as UpdateFailed).
pub fn failed(status: &str) -> bool {
    status.ends_with("Failed")
}

/// Explains a failed project (`None` for one that did not fail). A project whose stack never existed (a
/// parameter SageMaker or CloudFormation refused before creating it) is explained from its status message.
pub async fn explain(
    sources: &Sources<'_>,
    project: &ProjectView,
) -> Result<Option<Explanation>, LaunchError> {
    if !failed(&project.status) {
        return Ok(None);
    }
    let stack = project
        .stack_id
        .as_deref()
        .or(project.stack_name.as_deref());
    let events = match stack {
        Some(stack) => stack_events(sources.cloudformation, stack).await?,
        None => Vec::new(),
    };
    let resource = first_failure(&events);
    let reason = resource
        .as_ref()
        .map(|r| r.reason.clone())
        .or_else(|| project.stack_status_message.clone())
        .unwrap_or_else(|| format!("the project is {} and says no more", project.status));
    let build = match seed_build_id(&reason) {
        Some(id) => Some(build(sources, &id).await?),
        None => None,
    };
    let cause = classify(&reason, build.is_some());
    let headline = headline(project, &cause, resource.as_ref(), build.as_ref(), &reason);
    Ok(Some(Explanation {
        headline,
        cause,
        resource,
        build,
    }))
}

/// The stack's events, oldest first, as far back as the last operation's start (or [`EVENT_PAGES`] pages).
async fn stack_events(
    cfn: &aws_sdk_cloudformation::Client,
    stack: &str,
) -> Result<Vec<StackEvent>, LaunchError> {
    let mut newest_first = Vec::new();
    let mut pages = cfn
        .describe_stack_events()
        .stack_name(stack)
        .into_paginator()
        .send();
    let mut read = 0;
    while let Some(page) = pages.next().await {
        let page = match page {
            Ok(page) => page,
            // a stack SageMaker never created (CloudFormation refused its template or a parameter): no events
            Err(e) if crate::aws::cloudformation_stack_missing(&e) => break,
            Err(e) => {
                return Err(
                    CallError::new("CloudFormation", "DescribeStackEvents", stack, e).into(),
                )
            }
        };
        let events = page.stack_events.unwrap_or_default();
        let started = events.iter().any(|e| operation_start(e).is_some());
        newest_first.extend(events);
        read += 1;
        if started || read >= EVENT_PAGES {
            break;
        }
    }
    newest_first.reverse();
    Ok(newest_first)
}

/// The stack's own event that starts an operation (`User Initiated`).
fn operation_start(e: &StackEvent) -> Option<&ResourceStatus> {
    let own = e.logical_resource_id() == e.stack_name() || e.physical_resource_id() == e.stack_id();
    let status = e.resource_status()?;
    let starts = matches!(
        status,
        ResourceStatus::CreateInProgress
            | ResourceStatus::UpdateInProgress
            | ResourceStatus::DeleteInProgress
            | ResourceStatus::ImportInProgress
    );
    (own && starts && e.resource_status_reason() == Some("User Initiated")).then_some(status)
}

/// The messages CloudFormation gives the resources it stops because another failed, and the stack's own
/// summary of them: never the cause.
fn is_cascade(reason: &str) -> bool {
    const CASCADES: [&str; 5] = [
        "Resource creation cancelled",
        "Resource update cancelled",
        "Resource deletion cancelled",
        "The following resource(s) failed to",
        "Resource is not in the state",
    ];
    CASCADES.iter().any(|c| reason.starts_with(c))
}

/// The first resource (not the stack itself) that failed in the last operation, cascades skipped. `events`:
/// oldest first.
pub fn first_failure(events: &[StackEvent]) -> Option<FailedResource> {
    let start = events
        .iter()
        .rposition(|e| operation_start(e).is_some())
        .unwrap_or(0);
    events[start..].iter().find_map(|e| {
        let status = e.resource_status()?.as_str();
        let reason = e.resource_status_reason().unwrap_or_default();
        let own = e.logical_resource_id() == e.stack_name();
        (status.ends_with("_FAILED") && !own && !is_cascade(reason)).then(|| FailedResource {
            logical_id: e.logical_resource_id().unwrap_or_default().to_owned(),
            resource_type: e.resource_type().unwrap_or_default().to_owned(),
            status: status.to_owned(),
            reason: reason.to_owned(),
        })
    })
}

/// The seed-code function's FAILED reason starts `seed build <id> …` (resources/seed_code).
fn seed_build_id(reason: &str) -> Option<String> {
    let rest = reason.strip_prefix("seed build ")?;
    let id = rest.split_whitespace().next()?;
    id.contains(':').then(|| id.to_owned())
}

/// The build, its failing phase and the last lines of its log.
async fn build(sources: &Sources<'_>, id: &str) -> Result<FailedBuild, LaunchError> {
    let out = sources
        .codebuild
        .batch_get_builds()
        .ids(id)
        .send()
        .await
        .map_err(|e| CallError::new("CodeBuild", "BatchGetBuilds", id, e))?;
    let Some(b) = out.builds().first() else {
        return Ok(FailedBuild {
            id: id.to_owned(),
            status: "(CodeBuild no longer knows it)".to_owned(),
            phase: None,
            context: None,
            log: Vec::new(),
        });
    };
    let failing = failing_phase(b);
    let context = failing.and_then(phase_context);
    let log = match b
        .logs()
        .and_then(|l| Some((l.group_name()?, l.stream_name()?)))
    {
        Some((group, stream)) => log_tail(sources.logs, group, stream).await?,
        None => Vec::new(),
    };
    Ok(FailedBuild {
        id: id.to_owned(),
        status: b
            .build_status()
            .map(|s| s.as_str().to_owned())
            .unwrap_or_default(),
        phase: failing
            .and_then(|p| p.phase_type())
            .map(|t| t.as_str().to_owned()),
        context,
        log,
    })
}

/// The last [`LOG_LINES`] lines of a log stream, oldest first; a log that is gone (expired) is no lines.
async fn log_tail(
    logs: &aws_sdk_cloudwatchlogs::Client,
    group: &str,
    stream: &str,
) -> Result<Vec<String>, LaunchError> {
    let out = logs
        .get_log_events()
        .log_group_name(group)
        .log_stream_name(stream)
        .start_from_head(false)
        .limit(LOG_LINES)
        .send()
        .await;
    match out {
        Ok(out) => Ok(out
            .events()
            .iter()
            .filter_map(|e| e.message())
            .map(|m| m.trim_end().to_owned())
            .collect()),
        Err(e) => {
            let call = CallError::new(
                "CloudWatch Logs",
                "GetLogEvents",
                format!("{group} {stream}"),
                e,
            );
            if call.is("ResourceNotFoundException") {
                Ok(Vec::new())
            } else {
                Err(call.into())
            }
        }
    }
}

fn classify(reason: &str, seed_build: bool) -> Cause {
    if seed_build {
        return Cause::SeedCheckIn;
    }
    if let Some(denied) = access_denied(reason) {
        return denied;
    }
    // CloudFormation's words: `Parameters: [ssm:/name] cannot be found.`
    if let Some(name) = reason
        .split_once("Parameters: [ssm:")
        .and_then(|(_, rest)| rest.split_once("] cannot be found"))
        .map(|(name, _)| name.to_owned())
    {
        return Cause::MissingSsmParameter { name };
    }
    let lower = reason.to_ascii_lowercase();
    if lower.contains("already exists") {
        Cause::AlreadyExists
    } else if lower.contains("parameter") {
        Cause::Parameter
    } else {
        Cause::Other
    }
}

/// AWS's wording: `User: arn:aws:sts::111122223333:assumed-role/RoleName/Session is not authorized to perform:
/// s3:PutBucketPolicy on resource: arn:aws:s3:::bucket …`.
fn access_denied(reason: &str) -> Option<Cause> {
    let (before, after) = reason.split_once("is not authorized to perform: ")?;
    let action = after
        .split_whitespace()
        .next()?
        .trim_end_matches([',', '.', ';'])
        .to_owned();
    let on = after
        .split_once(" on resource: ")
        .and_then(|(_, r)| r.split_whitespace().next())
        .map(|r| {
            r.trim_end_matches([',', '.', ';'])
                .trim_matches('"')
                .to_owned()
        });
    let principal = before.rsplit("User: ").next().unwrap_or_default().trim();
    let role = principal
        .split_once(":assumed-role/")
        .map(|(_, r)| r.split('/').next().unwrap_or_default().to_owned())
        .or_else(|| {
            principal
                .split_once(":role/")
                .map(|(_, r)| r.rsplit('/').next().unwrap_or_default().to_owned())
        })
        .filter(|r| !r.is_empty());
    Some(Cause::AccessDenied { role, action, on })
}

fn headline(
    project: &ProjectView,
    cause: &Cause,
    resource: Option<&FailedResource>,
    build: Option<&FailedBuild>,
    reason: &str,
) -> String {
    let name = &project.name;
    let again = match project.status.as_str() {
        "UpdateFailed" => format!("then projects update {name}"),
        "DeleteFailed" => format!("then projects delete {name}"),
        _ => format!("then projects delete {name} and create it again"),
    };
    let what = resource
        .map(|r| format!("{} ({})", r.logical_id, r.resource_type))
        .unwrap_or_else(|| "The project".to_owned());
    match cause {
        Cause::SeedCheckIn => {
            let b = build.expect("a seed check-in cause has its build");
            let phase = b.phase.as_deref().unwrap_or("an unknown phase");
            let detail = b
                .log
                .iter()
                .rev()
                .find(|l| is_telling(l))
                .or(b.context.as_ref())
                .cloned()
                .unwrap_or_else(|| b.status.clone());
            // the repository parameter the failure names (a template may seed several)
            let evidence = format!("{detail} {}", b.context.as_deref().unwrap_or_default());
            let repositories: Vec<_> = project
                .parameters
                .iter()
                .filter(|(k, v)| {
                    (k.ends_with("RepositoryFullname") || k.ends_with("RepositoryFullName"))
                        && !v.is_empty()
                })
                .collect();
            let named = repositories
                .iter()
                .find(|(_, v)| evidence.contains(&format!("/{v}.git")) || evidence.contains(v.as_str()))
                .or(match repositories.as_slice() {
                    [only] => Some(only),
                    _ => None,
                });
            let repository = named
                .map(|(k, v)| format!(" ({k}={v})"))
                .unwrap_or_default();
            format!(
                "The seed-code check-in build failed in phase {phase}: {detail}. Check that the repository{repository} exists on the connection and the connection is available, {again}."
            )
        }
        Cause::AccessDenied { role, action, on } => {
            let who = role.as_deref().unwrap_or("the role CloudFormation used");
            let on = on.as_deref().map(|o| format!(" on {o}")).unwrap_or_default();
            let fix = match role.as_deref() {
                Some(r) if r.starts_with("AmazonSageMakerProjects") => format!(
                    "add {action} to {r} (iam/roles.yaml) and deploy the roles stack again"
                ),
                Some(r) => format!("add {action} to the policy of {r}"),
                None => format!("allow {action}"),
            };
            format!("{what} failed: {who} may not {action}{on}. Fix: {fix}, {again}.")
        }
        Cause::AlreadyExists => format!(
            "{what} failed: a resource of that name already exists ({}). Delete it or choose another project name, {again}.",
            short(reason)
        ),
        Cause::Parameter => {
            // CloudFormation's words: `Parameter 'Name' must match pattern …`
            let named = reason
                .split_once("Parameter '")
                .and_then(|(_, rest)| rest.split_once('\''))
                .map(|(name, _)| name);
            let given = named
                .and_then(|n| project.parameters.get(n).map(|v| format!("{n}={v}")))
                .map(|p| format!(" {p}"))
                .unwrap_or_default();
            format!(
                "{what} failed: parameter{given} was refused ({}). Fix the value, {again}.",
                short(reason)
            )
        }
        Cause::MissingSsmParameter { name } if name == SEED_CODE_PARAMETER => format!(
            "The project's stack cannot find the seed-code function: SSM parameter {name} does not exist in this \
             account and region. Deploy the bootstrap stack here (make deploy), {again}."
        ),
        Cause::MissingSsmParameter { name } => format!(
            "{what} failed: the SSM parameter {name} the template reads does not exist in this account and region. \
             Create it, {again}."
        ),
        Cause::Other => format!("{what} failed: {}. Fix the cause, {again}.", short(reason)),
    }
}

/// A log line that says what went wrong (git's and CodeBuild's own words), rather than a command echo.
fn is_telling(line: &str) -> bool {
    let l = line.to_ascii_lowercase();
    [
        "fatal:",
        "error:",
        "not found",
        "denied",
        "could not",
        "failed",
    ]
    .iter()
    .any(|w| l.contains(w))
        && !l.contains("phase complete")
}

fn short(reason: &str) -> String {
    cloudformation_custom_resource::shorten(reason.trim_end_matches('.'), 300)
}

#[cfg(test)]
mod tests {
    use aws_sdk_cloudformation::primitives::DateTime;

    use super::*;

    fn event(logical: &str, ty: &str, status: ResourceStatus, reason: &str) -> StackEvent {
        StackEvent::builder()
            .stack_id("arn:aws:cloudformation:us-east-1:123456789012:stack/SP-p-1/1")
            .stack_name("SP-p-1")
            .event_id(format!("{logical}-{}", status.as_str()))
            .logical_resource_id(logical)
            .resource_type(ty)
            .resource_status(status)
            .resource_status_reason(reason)
            .timestamp(DateTime::from_secs(0))
            .build()
    }

    fn stack(status: ResourceStatus, reason: &str) -> StackEvent {
        event("SP-p-1", "AWS::CloudFormation::Stack", status, reason)
    }

    #[test]
    fn the_first_failure_of_the_last_operation_is_the_cause_not_its_cascade() {
        use ResourceStatus::*;
        let events = [
            stack(CreateInProgress, "User Initiated"),
            event("Bucket", "AWS::S3::Bucket", CreateComplete, ""),
            stack(UpdateInProgress, "User Initiated"),
            event(
                "Pipeline",
                "AWS::CodePipeline::Pipeline",
                UpdateInProgress,
                "",
            ),
            event(
                "Rule",
                "AWS::Events::Rule",
                UpdateFailed,
                "Resource handler returned message: \"bad pattern\"",
            ),
            event(
                "Pipeline",
                "AWS::CodePipeline::Pipeline",
                UpdateFailed,
                "Resource update cancelled",
            ),
            stack(
                UpdateRollbackInProgress,
                "The following resource(s) failed to update: [Rule].",
            ),
        ];
        let found = first_failure(&events).unwrap();
        assert_eq!(
            (found.logical_id.as_str(), found.status.as_str()),
            ("Rule", "UPDATE_FAILED")
        );
        // a cancellation first in time is still no cause
        let events = [
            stack(CreateInProgress, "User Initiated"),
            event(
                "Other",
                "Custom::X",
                CreateFailed,
                "Resource creation cancelled",
            ),
            event(
                "SeedCode",
                "Custom::SeedCode",
                CreateFailed,
                "seed build b:1 FAILED",
            ),
        ];
        assert_eq!(first_failure(&events).unwrap().logical_id, "SeedCode");
    }

    #[test]
    fn an_access_denied_names_the_role_the_action_and_the_resource() {
        let reason = "Resource handler returned message: \"User: arn:aws:sts::123456789012:assumed-role/AmazonSageMakerProjectsLaunchRole/AWSCloudFormation is not authorized to perform: s3:PutBucketPolicy on resource: \"arn:aws:s3:::sagemaker-project-p-1\" because no identity-based policy allows the s3:PutBucketPolicy action\"";
        assert_eq!(
            classify(reason, false),
            Cause::AccessDenied {
                role: Some("AmazonSageMakerProjectsLaunchRole".into()),
                action: "s3:PutBucketPolicy".into(),
                on: Some("arn:aws:s3:::sagemaker-project-p-1".into()),
            }
        );
    }

    fn project(status: &str) -> ProjectView {
        ProjectView {
            name: "churn".into(),
            id: Some("p-1".into()),
            arn: None,
            status: status.into(),
            description: None,
            template_name: None,
            template_url: None,
            role_arn: None,
            parameters: [(
                "ModelBuildCodeRepositoryFullname".to_owned(),
                "acme/missing".to_owned(),
            )]
            .into(),
            stack_name: Some("SP-p-1".into()),
            stack_id: None,
            stack_status_message: None,
            created: None,
            last_modified: None,
        }
    }

    #[test]
    fn each_headline_says_the_cause_then_the_action() {
        let denied = Cause::AccessDenied {
            role: Some("AmazonSageMakerProjectsLaunchRole".into()),
            action: "s3:PutBucketPolicy".into(),
            on: None,
        };
        let bucket = FailedResource {
            logical_id: "MlOpsArtifactsBucketPolicy".into(),
            resource_type: "AWS::S3::BucketPolicy".into(),
            status: "CREATE_FAILED".into(),
            reason: String::new(),
        };
        assert_eq!(
            headline(&project("CreateFailed"), &denied, Some(&bucket), None, ""),
            "MlOpsArtifactsBucketPolicy (AWS::S3::BucketPolicy) failed: AmazonSageMakerProjectsLaunchRole may not s3:PutBucketPolicy. Fix: add s3:PutBucketPolicy to AmazonSageMakerProjectsLaunchRole (iam/roles.yaml) and deploy the roles stack again, then projects delete churn and create it again."
        );
        let build = FailedBuild {
            id: "sagemaker-x:1".into(),
            status: "FAILED".into(),
            phase: Some("BUILD".into()),
            context: Some("COMMAND_EXECUTION_ERROR: exit status 128".into()),
            log: vec![
                "remote: Repository not found.".into(),
                "fatal: repository 'https://example/acme/missing.git/' not found".into(),
                "[Container] Phase complete: BUILD State: FAILED".into(),
            ],
        };
        assert_eq!(
            headline(&project("UpdateFailed"), &Cause::SeedCheckIn, None, Some(&build), ""),
            "The seed-code check-in build failed in phase BUILD: fatal: repository 'https://example/acme/missing.git/' not found. Check that the repository (ModelBuildCodeRepositoryFullname=acme/missing) exists on the connection and the connection is available, then projects update churn."
        );
        let refused =
            "Parameter 'ModelBuildCodeRepositoryFullname' must match pattern ^[a-z]+/[a-z]+$";
        assert_eq!(
            headline(&project("CreateFailed"), &Cause::Parameter, None, None, refused),
            "The project failed: parameter ModelBuildCodeRepositoryFullname=acme/missing was refused (Parameter \
             'ModelBuildCodeRepositoryFullname' must match pattern ^[a-z]+/[a-z]+$). Fix the value, then projects \
             delete churn and create it again."
        );
    }

    #[test]
    fn a_missing_seed_code_parameter_means_no_bootstrap_stack_here() {
        let reason = "Stack creation failed: ValidationError: Parameters: [ssm:/sagemaker-projects-bootstrap/seedcode-function-arn] cannot be found.";
        let cause = classify(reason, false);
        assert_eq!(
            cause,
            Cause::MissingSsmParameter {
                name: SEED_CODE_PARAMETER.into()
            }
        );
        assert_eq!(
            headline(&project("CreateFailed"), &cause, None, None, reason),
            "The project's stack cannot find the seed-code function: SSM parameter \
             /sagemaker-projects-bootstrap/seedcode-function-arn does not exist in this account and region. Deploy the \
             bootstrap stack here (make deploy), then projects delete churn and create it again."
        );
    }

    #[test]
    fn only_failed_projects_are_explained_and_the_seed_reason_names_its_build() {
        assert!(failed("UpdateFailed") && failed("DeleteFailed") && !failed("CreateCompleted"));
        assert_eq!(
            seed_build_id(
                "seed build sagemaker-p-1-git-seedcodecheckin:8b1f FAILED in phase BUILD: x"
            ),
            Some("sagemaker-p-1-git-seedcodecheckin:8b1f".to_owned())
        );
        assert_eq!(seed_build_id("seed build could not start"), None);
    }

    /// `explain` against mocked CloudFormation, CodeBuild and CloudWatch Logs: the seed build found through the
    /// failed resource's reason, its phase, and its log's last lines — or none when the log expired.
    async fn explained(log_expired: bool) -> Explanation {
        use aws_sdk_cloudformation::operation::describe_stack_events::DescribeStackEventsOutput;
        use aws_sdk_cloudwatchlogs::operation::get_log_events::GetLogEventsOutput;
        use aws_sdk_cloudwatchlogs::types::OutputLogEvent;
        use aws_sdk_codebuild::operation::batch_get_builds::BatchGetBuildsOutput;
        use aws_sdk_codebuild::types::{
            Build, BuildPhase, BuildPhaseType, LogsLocation, PhaseContext, StatusType,
        };
        use aws_smithy_mocks::{mock, mock_client};
        use ResourceStatus::*;

        const BUILD: &str = "sagemaker-churn-p-1-git-seedcodecheckin:8b1f";
        let events =
            mock!(aws_sdk_cloudformation::Client::describe_stack_events).then_output(|| {
                let newest_first = [
                    stack(CreateInProgress, "User Initiated"),
                    event(
                        "SeedCode",
                        "Custom::SeedCode",
                        CreateFailed,
                        &format!("seed build {BUILD} FAILED in phase BUILD: x"),
                    ),
                    stack(
                        RollbackInProgress,
                        "The following resource(s) failed to create: [SeedCode]. ",
                    ),
                ]
                .into_iter()
                .rev()
                .collect();
                DescribeStackEventsOutput::builder()
                    .set_stack_events(Some(newest_first))
                    .build()
            });
        let builds = mock!(aws_sdk_codebuild::Client::batch_get_builds)
            .match_requests(|r| r.ids() == [BUILD])
            .then_output(|| {
                let phase = |t, s| BuildPhase::builder().phase_type(t).phase_status(s);
                BatchGetBuildsOutput::builder()
                    .builds(
                        Build::builder()
                            .id(BUILD)
                            .build_status(StatusType::Failed)
                            .phases(phase(BuildPhaseType::Install, StatusType::Succeeded).build())
                            .phases(
                                phase(BuildPhaseType::Build, StatusType::Failed)
                                    .contexts(
                                        PhaseContext::builder()
                                            .status_code("COMMAND_EXECUTION_ERROR")
                                            .message("exit status 128")
                                            .build(),
                                    )
                                    .build(),
                            )
                            .logs(
                                LogsLocation::builder()
                                    .group_name("/aws/codebuild/x")
                                    .stream_name("8b1f")
                                    .build(),
                            )
                            .build(),
                    )
                    .build()
            });
        let lines = if log_expired {
            let (status, body) =
                crate::aws::answers::json_error(400, "ResourceNotFoundException", "gone");
            mock!(aws_sdk_cloudwatchlogs::Client::get_log_events)
                .sequence()
                .http_status(status, body)
                .build()
        } else {
            mock!(aws_sdk_cloudwatchlogs::Client::get_log_events)
                .match_requests(|r| {
                    r.start_from_head() == Some(false) && r.limit() == Some(LOG_LINES)
                })
                .then_output(|| {
                    GetLogEventsOutput::builder()
                        .events(
                            OutputLogEvent::builder()
                                .message("remote: Repository not found.\n")
                                .build(),
                        )
                        .events(
                            OutputLogEvent::builder()
                                .message("fatal: repository 'x' not found")
                                .build(),
                        )
                        .build()
                })
        };
        let sources = Sources {
            cloudformation: &mock_client!(aws_sdk_cloudformation, [&events]),
            codebuild: &mock_client!(aws_sdk_codebuild, [&builds]),
            logs: &mock_client!(aws_sdk_cloudwatchlogs, [&lines]),
        };
        explain(&sources, &project("CreateFailed"))
            .await
            .unwrap()
            .unwrap()
    }

    #[tokio::test]
    async fn a_failed_seed_build_is_read_to_its_logs_last_lines() {
        let why = explained(false).await;
        assert_eq!(why.cause, Cause::SeedCheckIn);
        assert_eq!(why.resource.unwrap().logical_id, "SeedCode");
        let build = why.build.unwrap();
        assert_eq!(
            (build.phase.as_deref(), build.context.as_deref()),
            (
                Some("BUILD"),
                Some("COMMAND_EXECUTION_ERROR: exit status 128")
            )
        );
        assert_eq!(
            build.log,
            [
                "remote: Repository not found.",
                "fatal: repository 'x' not found"
            ]
        );
        assert!(why.headline.starts_with(
            "The seed-code check-in build failed in phase BUILD: fatal: repository 'x' not found."
        ));
    }

    #[tokio::test]
    async fn an_expired_log_leaves_the_phases_context() {
        let why = explained(true).await;
        let build = why.build.unwrap();
        assert!(build.log.is_empty());
        assert!(
            why.headline
                .starts_with("The seed-code check-in build failed in phase BUILD: COMMAND_EXECUTION_ERROR: exit status 128."),
            "{}",
            why.headline
        );
    }
}
