//! What the seed-code tests share: properties, requests, timings, builds and mocked CodeBuild answers.

pub(crate) use std::time::Duration;

pub(crate) use tokio::time::Instant;

use cloudformation_custom_resource::Request;

pub(super) use super::build::idempotency_token;
pub(crate) use super::*;
pub(crate) use aws_sdk_codebuild::config::retry::RetryConfig;
pub(crate) use aws_sdk_codebuild::operation::batch_get_builds::BatchGetBuildsOutput;
pub(crate) use aws_sdk_codebuild::operation::start_build::{StartBuildInput, StartBuildOutput};
pub(crate) use aws_sdk_codebuild::operation::stop_build::StopBuildOutput;
pub(crate) use aws_sdk_codebuild::types::{
    Build, BuildPhase, BuildPhaseType, LogsLocation, PhaseContext, StatusType,
};
pub(crate) use aws_sdk_codebuild::Client;
pub(crate) use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};

pub(crate) use crate::aws::answers::json_error;

pub(crate) const STACK: &str =
    "arn:aws:cloudformation:eu-west-1:123456789012:stack/SP-demo/4a1b2c3d";
pub(crate) const PROJECT: &str = "sagemaker-demo-p-abcdefghijkl-seedcode";
pub(crate) const BUILD_ID: &str =
    "sagemaker-demo-p-abcdefghijkl-seedcode:0b1c2d3e-aaaa-bbbb-cccc-123456789abc";
pub(crate) const CONNECTION: &str =
    "arn:aws:codeconnections:eu-west-1:123456789012:connection/0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0";
pub(crate) const URL: &str = "https://codeconnections.eu-west-1.amazonaws.com/git-http/123456789012/eu-west-1/0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0/example-org/model-build.git";
pub(crate) const KEY: &str = "toolchain/model-building-workflow-v1.0.zip";

pub(crate) fn props() -> Properties {
    Properties {
        build_project: PROJECT.into(),
        seed_code_bucket: "sagemaker-servicecatalog-seedcode-eu-west-1".into(),
        seed_code_key: KEY.into(),
        connection_arn: CONNECTION.into(),
        repository_full_name: "example-org/model-build".into(),
        branch: "main".into(),
        checkin_version: None,
        seed_code_update_file_name: None,
    }
}

/// The Jenkins template's properties: check-in project v1.0.
pub(crate) fn jenkins_props() -> Properties {
    Properties {
        checkin_version: Some("v1.0".into()),
        seed_code_update_file_name: Some("jenkins/seed_job.groovy".into()),
        seed_code_key: "toolchain/model-building-workflow-jenkins-v1.0.zip".into(),
        ..props()
    }
}

pub(crate) fn request(request_id: &str, left: Duration) -> Request {
    Request::new(
        STACK,
        request_id,
        "ModelBuildSeedCode",
        Instant::now() + left,
    )
}

pub(crate) fn fast() -> Timing {
    Timing {
        first_poll: Duration::from_millis(20),
        max_poll: Duration::from_millis(100),
        stop_margin: Duration::from_secs(2),
        denied_first_wait: Duration::from_millis(50),
        denied_attempts: 4,
    }
}

pub(crate) fn handler(client: Client) -> SeedCode {
    SeedCode::new(client, crate::resources::bounds::Bounds::off()).with_timing(fast())
}

pub(crate) fn build(status: StatusType) -> Build {
    Build::builder()
        .id(BUILD_ID)
        .build_status(status.clone())
        .current_phase(if status == StatusType::InProgress {
            "BUILD"
        } else {
            "COMPLETED"
        })
        .build_complete(status != StatusType::InProgress)
        .logs(
            LogsLocation::builder()
                .deep_link("https://console.example/log")
                .build(),
        )
        .build()
}

pub(crate) fn phase(kind: BuildPhaseType, status: StatusType) -> BuildPhase {
    BuildPhase::builder()
        .phase_type(kind)
        .phase_status(status)
        .build()
}

pub(crate) fn failed_in_build_phase() -> Build {
    Build::builder()
        .id(BUILD_ID)
        .build_status(StatusType::Failed)
        .current_phase("COMPLETED")
        .build_complete(true)
        .phases(phase(BuildPhaseType::Submitted, StatusType::Succeeded))
        .phases(phase(BuildPhaseType::Provisioning, StatusType::Succeeded))
        .phases(
            BuildPhase::builder()
                .phase_type(BuildPhaseType::Build)
                .phase_status(StatusType::Failed)
                .contexts(
                    PhaseContext::builder()
                        .status_code("COMMAND_EXECUTION_ERROR")
                        .message("Error while executing command: (...). Reason: exit status 1")
                        .build(),
                )
                .build(),
        )
        .phases(phase(BuildPhaseType::Finalizing, StatusType::Succeeded))
        .logs(
            LogsLocation::builder()
                .deep_link("https://console.example/log")
                .build(),
        )
        .build()
}

pub(crate) fn overrides_of(input: &StartBuildInput) -> Vec<(String, String, String)> {
    input
        .environment_variables_override()
        .iter()
        .map(|v| {
            let kind = v
                .r#type()
                .map(|t| t.as_str().to_owned())
                .unwrap_or_default();
            (v.name().to_owned(), v.value().to_owned(), kind)
        })
        .collect()
}

pub(crate) fn secondary_of(input: &StartBuildInput) -> Vec<(String, String, String)> {
    input
        .secondary_sources_override()
        .iter()
        .map(|s| {
            (
                s.r#type().as_str().to_owned(),
                s.location().unwrap_or_default().to_owned(),
                s.source_identifier().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

pub(crate) fn plain(vars: &[(&str, &str)]) -> Vec<(String, String, String)> {
    vars.iter()
        .map(|(n, v)| ((*n).to_owned(), (*v).to_owned(), "PLAINTEXT".to_owned()))
        .collect()
}

/// StartBuild of the check-in project with exactly upstream's v1.1 overrides (branch, git-http URL, the seed
/// zip as secondary source `source`) and the request's token.
pub(crate) fn start(request: &Request, branch: &str, answer: fn() -> Build) -> Rule {
    let token = idempotency_token(request);
    let branch = branch.to_owned();
    mock!(Client::start_build)
        .match_requests(move |r| {
            r.project_name() == Some(PROJECT)
                && r.idempotency_token() == Some(token.as_str())
                && overrides_of(r)
                    == plain(&[
                        ("GIT_REPOSITORY_BRANCH", &branch),
                        ("GIT_REPOSITORY_URL", URL),
                    ])
                && secondary_of(r)
                    == [(
                        "S3".to_owned(),
                        format!("sagemaker-servicecatalog-seedcode-eu-west-1/{KEY}"),
                        "source".to_owned(),
                    )]
        })
        .then_output(move || StartBuildOutput::builder().build_value(answer()).build())
}

pub(crate) fn running() -> Build {
    build(StatusType::InProgress)
}

pub(crate) fn poll(answer: fn() -> Build) -> Rule {
    mock!(Client::batch_get_builds)
        .match_requests(|r| r.ids() == [BUILD_ID])
        .then_output(move || BatchGetBuildsOutput::builder().builds(answer()).build())
}

pub(crate) fn stop() -> Rule {
    mock!(Client::stop_build)
        .match_requests(|r| r.id() == Some(BUILD_ID))
        .then_output(|| {
            StopBuildOutput::builder()
                .build_value(build(StatusType::Stopped))
                .build()
        })
}
