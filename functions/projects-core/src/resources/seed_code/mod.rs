//! `Custom::SeedCode`: checks SageMaker seed code into a user's Git repository through a CodeConnections
//! connection, by running AWS's seed-code check-in CodeBuild project (`GitSeedCodeCheckinProject` of the
//! templates, source `sagemaker-servicecatalog-seedcode-<region>/bootstrap/GitRepositorySeedCodeCheckinCodeBuildProject-<v>.zip`)
//! and waiting for it. It replaces the inline Python function of the SageMaker-provided templates and starts the
//! build with the same overrides that function passed:
//! - check-in project v1.1 (`CheckinVersion` absent or `v1.1`): environment `GIT_REPOSITORY_BRANCH`,
//!   `GIT_REPOSITORY_URL` (the connection's git-http URL) and the secondary source `source` = S3
//!   `<SeedCodeBucket>/<SeedCodeKey>`;
//! - check-in project v1.0 (`CheckinVersion: v1.0`, the Jenkins template): environment `SEEDCODE_BUCKET_NAME`,
//!   `SEEDCODE_BUCKET_KEY`, `GIT_REPOSITORY_FULL_NAME`, `GIT_REPOSITORY_BRANCH`, `GIT_REPOSITORY_CONNECTION_ARN`,
//!   `SEED_CODE_UPDATE_FILE_NAME` (from `SeedCodeUpdateFileName`, required there and only there).
//!
//! Properties (strings): `BuildProject` (CodeBuild project name), `SeedCodeBucket`, `SeedCodeKey` (the seed
//! `.zip`), `ConnectionArn` (`codeconnections` or `codestar-connections`), `RepositoryFullName` (`owner/repo`,
//! GitLab groups allowed), `Branch`; optional `CheckinVersion`, `SeedCodeUpdateFileName`.
//! Data: `url` (as upstream's function: the connection's git-http URL of the repository, what
//! `AWS::SageMaker::CodeRepository` takes), `RepositoryUrl` (the same, our older name) and `BuildId` (the seed
//! build; empty when an Update needed no build).
//!
//! The Git work is the check-in project's own (AWS's buildspec). This handler adds what upstream's function
//! lacks: an idempotency token derived from the request, so a replayed event (Lambda's async retry, a duplicate
//! delivery) within CodeBuild's 5-minute token window follows the same build instead of starting a second one;
//! StartBuild retried while AccessDenied (roles and policies created just before may not have propagated);
//! exactly one answer; the build stopped before the function's deadline.
//!
//! Update re-seeds only when the repository, branch or seed object changed; a changed `RepositoryUrl` asks for
//! replacement (the resource now stands for another repository). Delete does nothing: the repository and its
//! commits belong to the user.

use std::time::Duration;

use aws_sdk_codebuild::types::{
    EnvironmentVariable, EnvironmentVariableType, ProjectSource, SourceType,
};
use cloudformation_custom_resource::{CustomResource, Outcome, Request};
use serde::Deserialize;

use super::bounds::{Bounds, BoundsError};
use crate::aws::CallError;
use crate::names::{self, NameError};

/// The stacks SageMaker creates for projects: the only ones a seed request may come from.
const PROJECT_STACK_PREFIX: &str = "SP-";

mod build;
#[cfg(test)]
mod testing;
mod validate;

use validate::{branch, build_project, invalid, repository_url, seed_key, update_file};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Properties {
    pub build_project: String,
    pub seed_code_bucket: String,
    pub seed_code_key: String,
    pub connection_arn: String,
    pub repository_full_name: String,
    pub branch: String,
    /// `v1.1` (default) or `v1.0`: the version of AWS's check-in project, which decides the overrides.
    #[serde(default)]
    pub checkin_version: Option<String>,
    /// v1.0 only: the seed file the check-in project fills in with the project's values (`jenkins/seed_job.groovy`).
    #[serde(default)]
    pub seed_code_update_file_name: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{field}: {value:?} is not {what}; expected {expected}")]
    Invalid {
        field: &'static str,
        value: String,
        what: &'static str,
        expected: &'static str,
    },
    #[error(transparent)]
    Name(#[from] NameError),
    #[error(transparent)]
    Bounds(#[from] BoundsError),
    #[error("only {left_ms} ms of the function's time were left, less than the {margin_ms} ms kept to stop a build: no seed build was started; raise the function's timeout")]
    NoTime { left_ms: u128, margin_ms: u128 },
    #[error("BuildProject: CodeBuild project {project} was not found in this account and region ({message})")]
    NoSuchProject { project: String, message: String },
    #[error(transparent)]
    StartBuild(CallError),
    #[error("{source}; still denied after {attempts} attempts over {waited_s} s (new roles and policies take seconds to propagate; check the seed function's and the CodeBuild role's permissions)")]
    StartDenied {
        source: CallError,
        attempts: u32,
        waited_s: u64,
    },
    #[error("StartBuild of BuildProject {project} did not answer within the function's time; no build is known to have started")]
    StartTimedOut { project: String },
    #[error("StartBuild of BuildProject {project} answered without a build id")]
    NoBuildId { project: String },
    #[error("seed build {id} {status} in phase {phase}: {context}{log}")]
    BuildFailed {
        id: String,
        status: String,
        phase: String,
        context: String,
        /// "" or "; log: <deep link>"
        log: String,
    },
    #[error("seed build {id} is unknown to CodeBuild (BatchGetBuilds lists it as not found)")]
    BuildNotFound { id: String },
    #[error("could not follow seed build {id}: {source}; {stop}")]
    Follow {
        id: String,
        source: CallError,
        /// what became of the build
        stop: String,
    },
    #[error(
        "seed build {id} did not finish within the function's time; it was stopped — {detail}"
    )]
    Stopped { id: String, detail: String },
    #[error("seed build {id} did not finish within the function's time and could not be stopped ({reason}) — stop it in the CodeBuild console; {detail}")]
    NotStopped {
        id: String,
        reason: String,
        detail: String,
    },
}

/// How the handler follows a build. The defaults suit CodeBuild; tests use milliseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timing {
    /// The wait before the first BatchGetBuilds; each later wait is 1.5 times longer, up to `max_poll`.
    pub first_poll: Duration,
    pub max_poll: Duration,
    /// How long before [`Request::work_deadline`] the handler stops waiting and stops the build. A quarter of
    /// it stays free after the StopBuild call, so the answer is always this handler's, never the watchdog's.
    pub stop_margin: Duration,
    /// The wait before the first StartBuild retry after AccessDenied; each later wait is twice as long.
    pub denied_first_wait: Duration,
    /// How many times StartBuild is asked in all while it answers AccessDenied.
    pub denied_attempts: u32,
}

impl Default for Timing {
    fn default() -> Self {
        Self {
            first_poll: Duration::from_secs(3),
            max_poll: Duration::from_secs(15),
            stop_margin: Duration::from_secs(8),
            // 2 + 4 + 8 + 16 + 32 = 62 s: IAM propagation is usually seconds, at most about a minute
            denied_first_wait: Duration::from_secs(2),
            denied_attempts: 6,
        }
    }
}

/// Which of AWS's check-in projects the build runs, and what only that version needs.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Checkin {
    /// `GitRepositorySeedCodeCheckinCodeBuildProject-v1.1.zip`: git-http URL, seed zip as secondary source.
    V1_1,
    /// `GitRepositorySeedCodeCheckinCodeBuildProject-v1.0.zip` (Jenkins): connection ARN and full name.
    V1_0 {
        connection_arn: String,
        full_name: String,
        update_file: String,
    },
}

/// What a validated request will do.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Plan {
    project: String,
    bucket: String,
    key: String,
    branch: String,
    repository_url: String,
    checkin: Checkin,
}

impl Plan {
    /// The environment overrides upstream's function passed, in its order.
    fn overrides(&self) -> Vec<EnvironmentVariable> {
        let vars: Vec<(&str, &str)> = match &self.checkin {
            Checkin::V1_1 => vec![
                ("GIT_REPOSITORY_BRANCH", &self.branch),
                ("GIT_REPOSITORY_URL", &self.repository_url),
            ],
            Checkin::V1_0 {
                connection_arn,
                full_name,
                update_file,
            } => vec![
                ("SEEDCODE_BUCKET_NAME", &self.bucket),
                ("SEEDCODE_BUCKET_KEY", &self.key),
                ("GIT_REPOSITORY_FULL_NAME", full_name),
                ("GIT_REPOSITORY_BRANCH", &self.branch),
                ("GIT_REPOSITORY_CONNECTION_ARN", connection_arn),
                ("SEED_CODE_UPDATE_FILE_NAME", update_file),
            ],
        };
        vars.into_iter()
            .map(|(name, value)| {
                EnvironmentVariable::builder()
                    .name(name)
                    .value(value)
                    .r#type(EnvironmentVariableType::Plaintext)
                    .build()
                    .expect("name and value are set")
            })
            .collect()
    }

    /// v1.1: the seed zip as the secondary source `source` (`<bucket>/<key>`, S3), as upstream's function passed it.
    fn secondary_sources(&self) -> Option<Vec<ProjectSource>> {
        match self.checkin {
            Checkin::V1_1 => Some(vec![ProjectSource::builder()
                .r#type(SourceType::S3)
                .location(format!("{}/{}", self.bucket, self.key))
                .source_identifier("source")
                .build()
                .expect("type is set")]),
            Checkin::V1_0 { .. } => None,
        }
    }

    /// What a re-seed depends on (the project may be renamed without one).
    fn seed_inputs(&self) -> (&str, &str, &str, &str, &Checkin) {
        (
            &self.repository_url,
            &self.bucket,
            &self.key,
            &self.branch,
            &self.checkin,
        )
    }
}

impl Properties {
    fn plan(&self) -> Result<Plan, Error> {
        let repository_url = repository_url(&self.connection_arn, &self.repository_full_name)?;
        let checkin = match (
            self.checkin_version.as_deref(),
            self.seed_code_update_file_name.as_deref(),
        ) {
            (None | Some("v1.1"), None) => Checkin::V1_1,
            (None | Some("v1.1"), Some(file)) => {
                return Err(invalid(
                    "SeedCodeUpdateFileName",
                    file,
                    "accepted by the v1.1 check-in project",
                    "no SeedCodeUpdateFileName unless CheckinVersion is v1.0",
                ))
            }
            (Some("v1.0"), file) => Checkin::V1_0 {
                connection_arn: self.connection_arn.clone(),
                full_name: self.repository_full_name.clone(),
                update_file: update_file(file.unwrap_or(""))?,
            },
            (Some(other), _) => {
                return Err(invalid(
                    "CheckinVersion",
                    other,
                    "a version of the seed-code check-in project",
                    "v1.1 (the default) or v1.0 (Jenkins)",
                ))
            }
        };
        Ok(Plan {
            project: build_project(&self.build_project)?,
            bucket: names::bucket("SeedCodeBucket", &self.seed_code_bucket)?,
            key: seed_key(&self.seed_code_key)?,
            repository_url,
            branch: branch(&self.branch)?,
            checkin,
        })
    }
}

/// Runs the seed build and waits for it, within the invocation.
///
/// Why wait here, and stop the build at the deadline, rather than re-invoke the function to keep waiting:
/// a seed build takes a minute or two (provisioning, one `git ls-remote`, one push) and the function may
/// run for 15 minutes, so a single invocation covers it many times over. Handing the wait to a new
/// invocation would break the runtime's guarantee of exactly one response per invocation — the first
/// invocation would have to end without answering and the second answer for an event it never received, so
/// a lost or failed re-invocation would leave the stack waiting for its whole service timeout — and it
/// would need `lambda:InvokeFunction` on itself. A build still running near the deadline is far from the
/// normal case (a stuck queue, a hanging connection); it is stopped, so nothing writes into the user's
/// repository after CloudFormation was told the seed failed, and the answer says so.
pub struct SeedCode {
    codebuild: aws_sdk_codebuild::Client,
    timing: Timing,
    bounds: Bounds,
}

impl SeedCode {
    /// `bounds`: [`Bounds::from_env`] with no further variable: a seed request must come from a project stack
    /// (`SP-…`) of the account and region of the stack that deployed the function (`STACK_ID`).
    pub fn new(codebuild: aws_sdk_codebuild::Client, bounds: Bounds) -> Self {
        Self {
            codebuild,
            timing: Timing::default(),
            bounds,
        }
    }

    pub fn with_timing(mut self, timing: Timing) -> Self {
        self.timing = timing;
        self
    }

    fn outcome(plan: &Plan, build_id: &str) -> Outcome {
        Outcome::default()
            .with("url", plan.repository_url.as_str())
            .with("RepositoryUrl", plan.repository_url.as_str())
            .with("BuildId", build_id)
    }
}

impl CustomResource for SeedCode {
    type Properties = Properties;
    type Error = Error;

    async fn create(&self, request: &Request, props: &Properties) -> Result<Outcome, Error> {
        self.bounds.sibling_stack(request, PROJECT_STACK_PREFIX)?;
        let plan = props.plan()?;
        let build_id = self.seed(request, &plan).await?;
        Ok(Self::outcome(&plan, &build_id))
    }

    async fn update(
        &self,
        request: &Request,
        old: &Properties,
        new: &Properties,
    ) -> Result<Outcome, Error> {
        self.bounds.sibling_stack(request, PROJECT_STACK_PREFIX)?;
        let plan = new.plan()?;
        // the old properties were valid once; if they no longer parse, treat everything as changed
        let old_plan = old.plan().ok();
        let moved = old_plan.as_ref().map(|p| p.repository_url.as_str())
            != Some(plan.repository_url.as_str());
        let reseed = moved
            || old_plan
                .as_ref()
                .is_none_or(|p| p.seed_inputs() != plan.seed_inputs());
        if !reseed {
            tracing::info!(repository = %plan.repository_url, "repository, branch and seed unchanged: no build");
            return Ok(Self::outcome(&plan, ""));
        }
        let build_id = self.seed(request, &plan).await?;
        let outcome = Self::outcome(&plan, &build_id);
        Ok(if moved { outcome.replacing() } else { outcome })
    }

    async fn delete(&self, _request: &Request, props: &Properties) -> Result<Outcome, Error> {
        tracing::info!(repository = %props.repository_full_name, "delete: the repository and its commits belong to the user; nothing to do");
        Ok(Outcome::default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use testing::*;

    #[tokio::test(start_paused = true)]
    async fn update_without_a_seed_change_starts_no_build_and_keeps_the_url() {
        let req = request("req-2", Duration::from_secs(600));
        let client = mock_client!(aws_sdk_codebuild, RuleMode::Sequential, [] as [&Rule; 0]);
        let mut new = props();
        new.build_project = "sagemaker-renamed-seedcode".into();
        let outcome = handler(client).update(&req, &props(), &new).await.unwrap();
        assert_eq!(outcome.data["RepositoryUrl"], URL);
        assert_eq!(outcome.data["BuildId"], "");
        assert!(!outcome.replace);
    }

    #[tokio::test(start_paused = true)]
    async fn update_of_the_branch_reseeds_in_place() {
        let req = request("req-2", Duration::from_secs(600));
        let start = start(&req, "develop", || build(StatusType::Succeeded));
        let client = mock_client!(aws_sdk_codebuild, RuleMode::Sequential, [&start]);
        let mut new = props();
        new.branch = "develop".into();
        let outcome = handler(client).update(&req, &props(), &new).await.unwrap();
        assert_eq!(outcome.data["BuildId"], BUILD_ID);
        assert!(!outcome.replace);
        assert_eq!(start.num_calls(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn update_to_another_repository_reseeds_and_asks_for_replacement() {
        let req = request("req-2", Duration::from_secs(600));
        let started = mock!(Client::start_build)
            .match_requests(|r| {
                overrides_of(r).iter().any(|(n, v, _)| {
                    n == "GIT_REPOSITORY_URL"
                        && v.ends_with(
                            "/0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0/example-org/other.git",
                        )
                })
            })
            .then_output(|| {
                StartBuildOutput::builder()
                    .build_value(build(StatusType::Succeeded))
                    .build()
            });
        let client = mock_client!(aws_sdk_codebuild, RuleMode::Sequential, [&started]);
        let mut new = props();
        new.repository_full_name = "example-org/other".into();
        let outcome = handler(client).update(&req, &props(), &new).await.unwrap();
        assert!(outcome.replace);
        assert!(outcome.data["RepositoryUrl"]
            .as_str()
            .unwrap()
            .ends_with("/example-org/other.git"));
    }

    #[tokio::test(start_paused = true)]
    async fn update_with_invalid_new_properties_fails_before_any_call() {
        let req = request("req-2", Duration::from_secs(600));
        let client = mock_client!(aws_sdk_codebuild, RuleMode::Sequential, [] as [&Rule; 0]);
        let mut new = props();
        new.branch = "bad branch".into();
        let err = handler(client)
            .update(&req, &props(), &new)
            .await
            .unwrap_err();
        assert!(
            err.to_string().starts_with("Branch: \"bad branch\""),
            "{err}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn delete_touches_nothing_even_with_invalid_properties() {
        let req = request("req-3", Duration::from_secs(600));
        let client = mock_client!(aws_sdk_codebuild, RuleMode::Sequential, [] as [&Rule; 0]);
        let mut p = props();
        p.connection_arn = "not an arn".into();
        assert_eq!(
            handler(client).delete(&req, &p).await.unwrap(),
            Outcome::default()
        );
    }

    #[tokio::test(start_paused = true)]
    async fn create_with_an_invalid_property_makes_no_call() {
        let req = request("req-1", Duration::from_secs(600));
        let client = mock_client!(aws_sdk_codebuild, RuleMode::Sequential, [] as [&Rule; 0]);
        let mut p = props();
        p.seed_code_key = "toolchain/seed.tar.gz".into();
        let err = handler(client).create(&req, &p).await.unwrap_err();
        assert!(err.to_string().starts_with("SeedCodeKey: "), "{err}");
    }

    /// Each property: values that must pass, values that must fail with an error naming the field and the form.

    #[test]
    fn the_update_file_belongs_to_v1_0_only_and_v1_0_needs_it() {
        let mut p = props();
        p.seed_code_update_file_name = Some("jenkins/seed_job.groovy".into());
        let err = p.plan().unwrap_err().to_string();
        assert!(
            err.starts_with(
                "SeedCodeUpdateFileName: \"jenkins/seed_job.groovy\" is not accepted by the v1.1"
            ),
            "{err}"
        );
        let mut p = jenkins_props();
        p.seed_code_update_file_name = None;
        let err = p.plan().unwrap_err().to_string();
        assert!(
            err.starts_with("SeedCodeUpdateFileName: \"\" is not a file of the seed"),
            "{err}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn update_to_another_check_in_version_reseeds() {
        let req = request("req-2", Duration::from_secs(600));
        let started = mock!(Client::start_build).then_output(|| {
            StartBuildOutput::builder()
                .build_value(build(StatusType::Succeeded))
                .build()
        });
        let client = mock_client!(aws_sdk_codebuild, RuleMode::Sequential, [&started]);
        let mut old = jenkins_props();
        old.seed_code_key = KEY.into();
        let new = props();
        let outcome = handler(client).update(&req, &old, &new).await.unwrap();
        assert_eq!(started.num_calls(), 1);
        assert!(!outcome.replace);
    }
}
