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
    Build, EnvironmentVariable, EnvironmentVariableType, ProjectSource, SourceType, StatusType,
};
use cfn_custom_resource::{CustomResource, Outcome, Request};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use tokio::time::{timeout_at, Instant};

use crate::aws::CallError;
use crate::names::{self, NameError};

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

/// A relative path inside the seed (`jenkins/seed_job.groovy`).
fn update_file(value: &str) -> Result<String, Error> {
    if (1..=1024).contains(&value.len()) && is_relative_path(value) {
        Ok(value.to_owned())
    } else {
        Err(invalid(
            "SeedCodeUpdateFileName",
            value,
            "a file of the seed",
            "a relative path such as jenkins/seed_job.groovy (letters, digits, '-', '_', '.', '/'; no empty, '.' or '..' segments), required with CheckinVersion v1.0",
        ))
    }
}

fn invalid(field: &'static str, value: &str, what: &'static str, expected: &'static str) -> Error {
    Error::Invalid {
        field,
        value: value.to_owned(),
        what,
        expected,
    }
}

fn build_project(value: &str) -> Result<String, Error> {
    let b = value.as_bytes();
    let ok = (2..=255).contains(&b.len())
        && b[0].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || *c == b'-' || *c == b'_');
    if ok {
        Ok(value.to_owned())
    } else {
        Err(invalid(
            "BuildProject",
            value,
            "a CodeBuild project name",
            "2-255 letters, digits, '-' or '_', starting with a letter or digit",
        ))
    }
}

fn seed_key(value: &str) -> Result<String, Error> {
    let ok = value.len() <= 1024
        && value.len() > ".zip".len()
        && value.ends_with(".zip")
        && !value.starts_with('/')
        && !value.split('/').any(|seg| seg.is_empty() || seg == "..")
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "!-_.*'()/".contains(c));
    if ok {
        Ok(value.to_owned())
    } else {
        Err(invalid(
            "SeedCodeKey",
            value,
            "the S3 key of a seed-code archive",
            "a key ending in .zip such as toolchain/model-building-workflow-v1.0.zip (letters, digits and !-_.*'()/, no empty or '..' segments, at most 1024 characters)",
        ))
    }
}

/// A connection ARN, parsed: what the git-http URL is made of.
struct Connection<'a> {
    service: &'a str,
    region: &'a str,
    account: &'a str,
    id: &'a str,
    dns_suffix: &'static str,
}

fn connection(value: &str) -> Result<Connection<'_>, Error> {
    let err = || {
        invalid(
            "ConnectionArn",
            value,
            "a CodeConnections connection ARN",
            "arn:aws:codeconnections:<region>:<12-digit account>:connection/<id> (or codestar-connections)",
        )
    };
    let parts: Vec<&str> = value.splitn(6, ':').collect();
    let [arn, partition, service, region, account, resource] = parts[..] else {
        return Err(err());
    };
    let dns_suffix = match partition {
        "aws" | "aws-us-gov" => "amazonaws.com",
        "aws-cn" => "amazonaws.com.cn",
        _ => return Err(err()),
    };
    let id = resource.strip_prefix("connection/").ok_or_else(err)?;
    let ok = arn == "arn"
        && matches!(service, "codeconnections" | "codestar-connections")
        && names::is_region(region)
        && account.len() == 12
        && account.bytes().all(|b| b.is_ascii_digit())
        && (1..=64).contains(&id.len())
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if !ok {
        return Err(err());
    }
    Ok(Connection {
        service,
        region,
        account,
        id,
        dns_suffix,
    })
}

/// Slash-separated segments of letters, digits, '-', '_' and '.', none empty, `.` or `..` (so no leading,
/// trailing or doubled slash): a repository's full name, a file inside the seed.
fn is_relative_path(value: &str) -> bool {
    value.split('/').all(|s| {
        !s.is_empty()
            && s != "."
            && s != ".."
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
    })
}

fn full_name(value: &str) -> Result<&str, Error> {
    let ok = value.len() <= 1024
        && value.contains('/')
        && is_relative_path(value)
        && !value.ends_with(".git");
    if ok {
        Ok(value)
    } else {
        Err(invalid(
            "RepositoryFullName",
            value,
            "a repository's full name",
            "owner/repo (or group/subgroup/repo): segments of letters, digits, '-', '_' and '.', without a trailing .git",
        ))
    }
}

/// The connection's git-http URL of the repository:
/// `https://<service>.<region>.<dns suffix>/git-http/<account>/<region>/<connection id>/<full name>.git`,
/// the host named after the ARN's service (both hosts serve both ARN forms; the seed buildspec accepts both).
fn repository_url(connection_arn: &str, full_name_value: &str) -> Result<String, Error> {
    let c = connection(connection_arn)?;
    let name = full_name(full_name_value)?;
    Ok(format!(
        "https://{}.{}.{}/git-http/{}/{}/{}/{name}.git",
        c.service, c.region, c.dns_suffix, c.account, c.region, c.id
    ))
}

/// A Git branch name (git check-ref-format rules, as `refs/heads/<name>`).
fn branch(value: &str) -> Result<String, Error> {
    let forbidden = |c: char| c.is_ascii_control() || " ~^:?*[\\".contains(c);
    let ok = !value.is_empty()
        && value.len() <= 255
        && value != "@"
        && !value.chars().any(forbidden)
        && !value.contains("..")
        && !value.contains("@{")
        && !value.starts_with('-')
        && !value.ends_with('.')
        && value
            .split('/')
            .all(|c| !c.is_empty() && !c.starts_with('.') && !c.ends_with(".lock"));
    if ok {
        Ok(value.to_owned())
    } else {
        Err(invalid(
            "Branch",
            value,
            "a Git branch name",
            "a name such as main or feature/x: no spaces or ~^:?*[\\, no '..' or '@{', no leading '-', no empty or '.'-led components, no trailing '.' or '.lock'",
        ))
    }
}

/// CodeBuild returns the build of an earlier StartBuild with the same token (for 5 minutes) instead of
/// starting another: the token is the request's, so a replayed event follows the build it already started.
fn idempotency_token(request: &Request) -> String {
    let digest = Sha256::digest(format!(
        "seed-code|{}|{}|{}",
        request.stack_id, request.logical_resource_id, request.request_id
    ));
    format!("seed-{}", &hex::encode(digest)[..32])
}

fn log_link(build: &Build) -> String {
    build
        .logs()
        .and_then(|l| l.deep_link())
        .map(|link| format!("; log: {link}"))
        .unwrap_or_default()
}

/// What a build's state means: `None` while it runs, `Some(Ok)` when it succeeded, `Some(Err)` otherwise.
fn verdict(id: &str, build: &Build) -> Option<Result<(), Error>> {
    let status = build.build_status()?;
    match status {
        StatusType::Succeeded => Some(Ok(())),
        StatusType::InProgress => None,
        // FAILED, FAULT, STOPPED, TIMED_OUT and statuses newer than this SDK, once CodeBuild says it ended
        other if !build.build_complete() && !is_known_end(other) => None,
        other => {
            let failing = build.phases().iter().find(|p| {
                p.phase_status()
                    .is_some_and(|s| *s != StatusType::Succeeded && *s != StatusType::InProgress)
            });
            let phase = failing
                .and_then(|p| p.phase_type())
                .map(|t| t.as_str().to_owned())
                .or_else(|| build.current_phase().map(str::to_owned))
                .unwrap_or_else(|| "(unknown)".to_owned());
            let context = failing
                .map(|p| {
                    p.contexts()
                        .iter()
                        .map(|c| match (c.status_code(), c.message()) {
                            (Some(code), Some(m)) if !m.is_empty() => format!("{code}: {m}"),
                            (Some(code), _) => code.to_owned(),
                            (None, Some(m)) => m.to_owned(),
                            (None, None) => String::new(),
                        })
                        .filter(|s| !s.is_empty())
                        .collect::<Vec<_>>()
                        .join("; ")
                })
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| "CodeBuild gave no context message".to_owned());
            Some(Err(Error::BuildFailed {
                id: id.to_owned(),
                status: other.as_str().to_owned(),
                phase,
                context,
                log: log_link(build),
            }))
        }
    }
}

fn is_known_end(status: &StatusType) -> bool {
    matches!(
        status,
        StatusType::Failed | StatusType::Fault | StatusType::Stopped | StatusType::TimedOut
    )
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
}

impl SeedCode {
    pub fn new(codebuild: aws_sdk_codebuild::Client) -> Self {
        Self {
            codebuild,
            timing: Timing::default(),
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

    /// Starts the build and follows it to its end; returns the build id when it succeeded.
    async fn seed(&self, request: &Request, plan: &Plan) -> Result<String, Error> {
        let stop_at = request
            .work_deadline
            .checked_sub(self.timing.stop_margin)
            .unwrap_or(request.work_deadline);
        let now = Instant::now();
        if now >= stop_at {
            return Err(Error::NoTime {
                left_ms: request
                    .work_deadline
                    .saturating_duration_since(now)
                    .as_millis(),
                margin_ms: self.timing.stop_margin.as_millis(),
            });
        }
        let token = idempotency_token(request);
        let began = Instant::now();
        let mut attempt = 0u32;
        let mut wait = self.timing.denied_first_wait;
        let started = loop {
            attempt += 1;
            let start = self
                .codebuild
                .start_build()
                .project_name(&plan.project)
                .set_environment_variables_override(Some(plan.overrides()))
                .set_secondary_sources_override(plan.secondary_sources())
                .idempotency_token(&token)
                .send();
            match timeout_at(stop_at, start).await {
                Err(_) => {
                    return Err(Error::StartTimedOut {
                        project: plan.project.clone(),
                    })
                }
                Ok(Ok(out)) => break out,
                Ok(Err(e)) => {
                    let not_found = e
                        .as_service_error()
                        .is_some_and(|se| se.is_resource_not_found_exception());
                    let call = CallError::new(
                        "CodeBuild",
                        "StartBuild",
                        format!("BuildProject {}", plan.project),
                        e,
                    );
                    // not a retry for a passing failure (CallError::retryable): new roles and policies take
                    // seconds to propagate, and until then StartBuild answers AccessDenied
                    let denied = call.is("AccessDeniedException") || call.is("AccessDenied");
                    if not_found {
                        return Err(Error::NoSuchProject {
                            project: plan.project.clone(),
                            message: call.message.clone(),
                        });
                    }
                    if !denied {
                        return Err(Error::StartBuild(call));
                    }
                    // the same token: a retry can never start a second build
                    if attempt >= self.timing.denied_attempts || Instant::now() + wait >= stop_at {
                        return Err(Error::StartDenied {
                            source: call,
                            attempts: attempt,
                            waited_s: began.elapsed().as_secs(),
                        });
                    }
                    tracing::warn!(
                        attempt,
                        wait_ms = wait.as_millis() as u64,
                        "StartBuild denied; retrying while permissions propagate"
                    );
                    tokio::time::sleep(wait).await;
                    wait *= 2;
                }
            }
        };
        let build = started.build_value();
        let id = build
            .and_then(Build::id)
            .ok_or_else(|| Error::NoBuildId {
                project: plan.project.clone(),
            })?
            .to_owned();
        tracing::info!(build_id = %id, project = %plan.project, repository = %plan.repository_url, "seed build started");
        // a replayed event may get back a build that already ended
        if let Some(done) = build.and_then(|b| verdict(&id, b)) {
            return done.map(|()| id);
        }
        self.follow(&id, stop_at, request.work_deadline).await?;
        Ok(id)
    }

    /// Polls with backoff until the build ends; stops it when `stop_at` comes first.
    async fn follow(
        &self,
        id: &str,
        stop_at: Instant,
        work_deadline: Instant,
    ) -> Result<(), Error> {
        let mut delay = self.timing.first_poll;
        let mut last_phase: Option<String> = None;
        loop {
            tokio::time::sleep_until((Instant::now() + delay).min(stop_at)).await;
            if Instant::now() >= stop_at {
                return self.give_up(id, last_phase, work_deadline).await;
            }
            let poll = self.codebuild.batch_get_builds().ids(id).send();
            let out = match timeout_at(stop_at, poll).await {
                Err(_) => return self.give_up(id, last_phase, work_deadline).await,
                Ok(Err(e)) => {
                    let source = CallError::new("CodeBuild", "BatchGetBuilds", "", e);
                    let stop = match self.stop(id, work_deadline).await {
                        Ok(_) => "the build was stopped".to_owned(),
                        Err(reason) => format!("the build could not be stopped ({reason})"),
                    };
                    return Err(Error::Follow {
                        id: id.to_owned(),
                        source,
                        stop,
                    });
                }
                Ok(Ok(out)) => out,
            };
            let Some(build) = out.builds().iter().find(|b| b.id() == Some(id)) else {
                return Err(Error::BuildNotFound { id: id.to_owned() });
            };
            if let Some(done) = verdict(id, build) {
                return done;
            }
            last_phase = build.current_phase().map(str::to_owned);
            tracing::debug!(build_id = %id, phase = ?last_phase, "seed build running");
            delay = delay.mul_f64(1.5).min(self.timing.max_poll);
        }
    }

    /// StopBuild, bounded so the answer still comes before the watchdog. Returns the build as stopped.
    async fn stop(&self, id: &str, work_deadline: Instant) -> Result<Option<Build>, String> {
        let answer_by = work_deadline
            .checked_sub(self.timing.stop_margin / 4)
            .unwrap_or(work_deadline);
        match timeout_at(answer_by, self.codebuild.stop_build().id(id).send()).await {
            Err(_) => Err("StopBuild did not answer in time".to_owned()),
            Ok(Err(e)) => Err(CallError::new("CodeBuild", "StopBuild", "", e).to_string()),
            Ok(Ok(out)) => Ok(out.build_value().cloned()),
        }
    }

    async fn give_up(
        &self,
        id: &str,
        last_phase: Option<String>,
        work_deadline: Instant,
    ) -> Result<(), Error> {
        let phase = last_phase.unwrap_or_else(|| "(not yet polled)".to_owned());
        tracing::warn!(build_id = %id, phase = %phase, "seed build still running at the deadline: stopping it");
        match self.stop(id, work_deadline).await {
            Ok(stopped) => {
                // the build may have ended on its own in the meantime
                if let Some(Some(Ok(()))) = stopped.as_ref().map(|b| verdict(id, b)) {
                    return Ok(());
                }
                let log = stopped.as_ref().map(log_link).unwrap_or_default();
                Err(Error::Stopped {
                    id: id.to_owned(),
                    detail: format!(
                        "it was last seen in phase {phase}; seed builds normally take a minute or two, so look at the build's log, then retry the stack operation{log}"
                    ),
                })
            }
            Err(reason) => Err(Error::NotStopped {
                id: id.to_owned(),
                reason,
                detail: format!("it was last seen in phase {phase}"),
            }),
        }
    }
}

impl CustomResource for SeedCode {
    type Properties = Properties;
    type Error = Error;

    async fn create(&self, request: &Request, props: &Properties) -> Result<Outcome, Error> {
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
    use aws_sdk_codebuild::config::retry::RetryConfig;
    use aws_sdk_codebuild::operation::batch_get_builds::BatchGetBuildsOutput;
    use aws_sdk_codebuild::operation::start_build::{StartBuildInput, StartBuildOutput};
    use aws_sdk_codebuild::operation::stop_build::StopBuildOutput;
    use aws_sdk_codebuild::types::{BuildPhase, BuildPhaseType, LogsLocation, PhaseContext};
    use aws_sdk_codebuild::Client;
    use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};

    use crate::aws::answers::json_error;

    const STACK: &str = "arn:aws:cloudformation:eu-west-1:123456789012:stack/SP-demo/4a1b2c3d";
    const PROJECT: &str = "sagemaker-demo-p-abcdefghijkl-seedcode";
    const BUILD_ID: &str =
        "sagemaker-demo-p-abcdefghijkl-seedcode:0b1c2d3e-aaaa-bbbb-cccc-123456789abc";
    const CONNECTION: &str =
        "arn:aws:codeconnections:eu-west-1:123456789012:connection/0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0";
    const URL: &str = "https://codeconnections.eu-west-1.amazonaws.com/git-http/123456789012/eu-west-1/0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0/example-org/model-build.git";
    const KEY: &str = "toolchain/model-building-workflow-v1.0.zip";

    fn props() -> Properties {
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
    fn jenkins_props() -> Properties {
        Properties {
            checkin_version: Some("v1.0".into()),
            seed_code_update_file_name: Some("jenkins/seed_job.groovy".into()),
            seed_code_key: "toolchain/model-building-workflow-jenkins-v1.0.zip".into(),
            ..props()
        }
    }

    fn request(request_id: &str, left: Duration) -> Request {
        Request {
            stack_id: STACK.into(),
            request_id: request_id.into(),
            logical_resource_id: "ModelBuildSeedCode".into(),
            physical_resource_id: None,
            work_deadline: Instant::now() + left,
        }
    }

    fn fast() -> Timing {
        Timing {
            first_poll: Duration::from_millis(20),
            max_poll: Duration::from_millis(100),
            stop_margin: Duration::from_secs(2),
            denied_first_wait: Duration::from_millis(50),
            denied_attempts: 4,
        }
    }

    fn handler(client: Client) -> SeedCode {
        SeedCode::new(client).with_timing(fast())
    }

    fn build(status: StatusType) -> Build {
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

    fn phase(kind: BuildPhaseType, status: StatusType) -> BuildPhase {
        BuildPhase::builder()
            .phase_type(kind)
            .phase_status(status)
            .build()
    }

    fn failed_in_build_phase() -> Build {
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

    fn overrides_of(input: &StartBuildInput) -> Vec<(String, String, String)> {
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

    fn secondary_of(input: &StartBuildInput) -> Vec<(String, String, String)> {
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

    fn plain(vars: &[(&str, &str)]) -> Vec<(String, String, String)> {
        vars.iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned(), "PLAINTEXT".to_owned()))
            .collect()
    }

    /// StartBuild of the check-in project with exactly upstream's v1.1 overrides (branch, git-http URL, the seed
    /// zip as secondary source `source`) and the request's token.
    fn start(request: &Request, branch: &str, answer: fn() -> Build) -> Rule {
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

    fn running() -> Build {
        build(StatusType::InProgress)
    }

    fn poll(answer: fn() -> Build) -> Rule {
        mock!(Client::batch_get_builds)
            .match_requests(|r| r.ids() == [BUILD_ID])
            .then_output(move || BatchGetBuildsOutput::builder().builds(answer()).build())
    }

    fn stop() -> Rule {
        mock!(Client::stop_build)
            .match_requests(|r| r.id() == Some(BUILD_ID))
            .then_output(|| {
                StopBuildOutput::builder()
                    .build_value(build(StatusType::Stopped))
                    .build()
            })
    }

    #[tokio::test(start_paused = true)]
    async fn a_build_that_succeeds_after_two_polls_answers_the_repository_url_and_the_build_id() {
        let req = request("req-1", Duration::from_secs(600));
        let (start, running_poll, done_poll) = (
            start(&req, "main", running),
            poll(running),
            poll(|| build(StatusType::Succeeded)),
        );
        let client = mock_client!(
            aws_sdk_codebuild,
            RuleMode::Sequential,
            [&start, &running_poll, &done_poll]
        );
        let outcome = handler(client).create(&req, &props()).await.unwrap();
        assert_eq!(outcome.data["url"], URL);
        assert_eq!(outcome.data["RepositoryUrl"], URL);
        assert_eq!(outcome.data["BuildId"], BUILD_ID);
        assert!(!outcome.replace);
        assert_eq!(
            (
                start.num_calls(),
                running_poll.num_calls(),
                done_poll.num_calls()
            ),
            (1, 1, 1)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn polls_back_off_from_the_first_interval_to_the_maximum() {
        let req = request("req-1", Duration::from_secs(600));
        let start = start(&req, "main", running);
        let polls = mock!(Client::batch_get_builds)
            .sequence()
            .output(|| BatchGetBuildsOutput::builder().builds(running()).build())
            .times(6)
            .output(|| {
                BatchGetBuildsOutput::builder()
                    .builds(build(StatusType::Succeeded))
                    .build()
            })
            .build();
        let client = mock_client!(aws_sdk_codebuild, RuleMode::Sequential, [&start, &polls]);
        let begun = Instant::now();
        handler(client).create(&req, &props()).await.unwrap();
        // 20, 30, 45, 67.5, 100, 100, 100 ms
        let waited = begun.elapsed();
        assert!(waited >= Duration::from_micros(462_500), "{waited:?}");
        assert!(waited < Duration::from_millis(470), "{waited:?}");
        assert_eq!(polls.num_calls(), 7);
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_build_is_an_error_naming_the_build_its_status_the_failing_phase_and_its_context(
    ) {
        let req = request("req-1", Duration::from_secs(600));
        let (start, failed) = (start(&req, "main", running), poll(failed_in_build_phase));
        let client = mock_client!(aws_sdk_codebuild, RuleMode::Sequential, [&start, &failed]);
        let err = handler(client).create(&req, &props()).await.unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "seed build {BUILD_ID} FAILED in phase BUILD: COMMAND_EXECUTION_ERROR: Error while executing \
                 command: (...). Reason: exit status 1; log: https://console.example/log"
            )
        );
    }

    #[tokio::test(start_paused = true)]
    async fn every_unsuccessful_end_is_an_error_even_without_a_failing_phase() {
        for status in [StatusType::Fault, StatusType::Stopped, StatusType::TimedOut] {
            let req = request("req-1", Duration::from_secs(600));
            let ended = mock!(Client::batch_get_builds).then_output(move || {
                BatchGetBuildsOutput::builder()
                    .builds(build(status.clone()))
                    .build()
            });
            let start = start(&req, "main", running);
            let client = mock_client!(aws_sdk_codebuild, RuleMode::Sequential, [&start, &ended]);
            let err = handler(client)
                .create(&req, &props())
                .await
                .unwrap_err()
                .to_string();
            assert!(err.starts_with(&format!("seed build {BUILD_ID} ")), "{err}");
            assert!(
                err.contains("in phase COMPLETED: CodeBuild gave no context message"),
                "{err}"
            );
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_build_that_never_ends_is_stopped_and_answered_before_the_work_deadline() {
        let req = request("req-1", Duration::from_secs(30));
        let start = start(&req, "main", running);
        let forever = mock!(Client::batch_get_builds)
            .then_output(|| BatchGetBuildsOutput::builder().builds(running()).build());
        let stop = stop();
        let client = mock_client!(
            aws_sdk_codebuild,
            RuleMode::MatchAny,
            [&start, &forever, &stop]
        );
        let err = handler(client)
            .create(&req, &props())
            .await
            .unwrap_err()
            .to_string();
        let answered = Instant::now();
        assert!(
            err.starts_with(&format!(
                "seed build {BUILD_ID} did not finish within the function's time; it was stopped — it was last \
                 seen in phase BUILD"
            )),
            "{err}"
        );
        assert_eq!(stop.num_calls(), 1);
        assert!(
            forever.num_calls() > 100,
            "kept polling until the stop margin: {}",
            forever.num_calls()
        );
        // stopped at the margin (2 s before the deadline), answered at once
        assert!(
            answered >= req.work_deadline - Duration::from_secs(2),
            "{:?}",
            req.work_deadline - answered
        );
        assert!(
            answered < req.work_deadline - Duration::from_millis(1500),
            "{:?}",
            req.work_deadline - answered
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_build_that_cannot_be_stopped_says_so() {
        let req = request("req-1", Duration::from_secs(10));
        let start = start(&req, "main", running);
        let forever = mock!(Client::batch_get_builds)
            .then_output(|| BatchGetBuildsOutput::builder().builds(running()).build());
        let (status, body) = json_error(400, "AccessDeniedException", "not allowed to stop");
        let refused = mock!(Client::stop_build)
            .sequence()
            .http_status(status, body)
            .build();
        let client = mock_client!(
            aws_sdk_codebuild,
            RuleMode::MatchAny,
            [&start, &forever, &refused]
        );
        let err = handler(client)
            .create(&req, &props())
            .await
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with(&format!(
                "seed build {BUILD_ID} did not finish within the function's time and could not be stopped \
                 (CodeBuild StopBuild failed: AccessDeniedException: not allowed to stop) — stop it in the CodeBuild console"
            )),
            "{err}"
        );
        assert!(Instant::now() < req.work_deadline);
    }

    #[tokio::test(start_paused = true)]
    async fn no_build_starts_when_the_time_left_is_within_the_stop_margin() {
        let req = request("req-1", Duration::from_millis(1500));
        let client = mock_client!(aws_sdk_codebuild, RuleMode::Sequential, [] as [&Rule; 0]);
        let err = handler(client)
            .create(&req, &props())
            .await
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("no seed build was started; raise the function's timeout"),
            "{err}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_throttled_start_build_is_retried_by_the_sdk() {
        let req = request("req-1", Duration::from_secs(600));
        let token = idempotency_token(&req);
        let (status, body) = json_error(400, "ThrottlingException", "Rate exceeded");
        let throttled_then_ok = mock!(Client::start_build)
            .match_requests(move |r| r.idempotency_token() == Some(token.as_str()))
            .sequence()
            .http_status(status, body)
            .output(|| {
                StartBuildOutput::builder()
                    .build_value(build(StatusType::Succeeded))
                    .build()
            })
            .build();
        let client = mock_client!(
            aws_sdk_codebuild,
            RuleMode::Sequential,
            [&throttled_then_ok],
            |c| c.retry_config(RetryConfig::standard().with_max_attempts(3))
        );
        let outcome = handler(client).create(&req, &props()).await.unwrap();
        assert_eq!(outcome.data["BuildId"], BUILD_ID);
        assert_eq!(
            throttled_then_ok.num_calls(),
            2,
            "the same token both times: one build at most"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn persistent_throttling_is_an_error_naming_the_call_the_project_and_the_code() {
        let req = request("req-1", Duration::from_secs(600));
        let (status, body) = json_error(400, "ThrottlingException", "Rate exceeded");
        let throttled = mock!(Client::start_build)
            .sequence()
            .http_status(status, body)
            .times(3)
            .build();
        let client = mock_client!(aws_sdk_codebuild, RuleMode::Sequential, [&throttled], |c| c
            .retry_config(RetryConfig::standard().with_max_attempts(3)));
        let err = handler(client)
            .create(&req, &props())
            .await
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            format!(
                "CodeBuild StartBuild on BuildProject {PROJECT} failed: ThrottlingException: Rate exceeded"
            )
        );
        assert_eq!(throttled.num_calls(), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn a_missing_project_is_blamed_on_build_project() {
        let req = request("req-1", Duration::from_secs(600));
        let (status, body) =
            json_error(400, "ResourceNotFoundException", "Project cannot be found");
        let missing = mock!(Client::start_build)
            .sequence()
            .http_status(status, body)
            .build();
        let client = mock_client!(aws_sdk_codebuild, RuleMode::Sequential, [&missing]);
        let err = handler(client)
            .create(&req, &props())
            .await
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            format!("BuildProject: CodeBuild project {PROJECT} was not found in this account and region (Project cannot be found)")
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_poll_that_fails_stops_the_build_and_says_why() {
        let req = request("req-1", Duration::from_secs(600));
        let start = start(&req, "main", running);
        let (status, body) = json_error(400, "AccessDeniedException", "no BatchGetBuilds");
        let denied = mock!(Client::batch_get_builds)
            .sequence()
            .http_status(status, body)
            .build();
        let stop = stop();
        let client = mock_client!(
            aws_sdk_codebuild,
            RuleMode::Sequential,
            [&start, &denied, &stop]
        );
        let err = handler(client)
            .create(&req, &props())
            .await
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            format!("could not follow seed build {BUILD_ID}: CodeBuild BatchGetBuilds failed: AccessDeniedException: no BatchGetBuilds; the build was stopped")
        );
        assert_eq!(stop.num_calls(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_replayed_event_sends_the_same_token_and_follows_the_build_it_gets_back() {
        let first = request("req-1", Duration::from_secs(600));
        let replay = request("req-1", Duration::from_secs(600));
        let other = request("req-2", Duration::from_secs(600));
        assert_eq!(idempotency_token(&first), idempotency_token(&replay));
        assert_ne!(idempotency_token(&first), idempotency_token(&other));
        assert!(idempotency_token(&first).len() <= 64);
        // CodeBuild answers a repeated token with the build it started, here already finished: no polling
        let start = start(&replay, "main", || build(StatusType::Succeeded));
        let client = mock_client!(aws_sdk_codebuild, RuleMode::Sequential, [&start]);
        let outcome = handler(client).create(&replay, &props()).await.unwrap();
        assert_eq!(outcome.data["BuildId"], BUILD_ID);
    }

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
    fn every_property_is_validated_with_an_error_naming_it_and_the_expected_form() {
        /// field, how to set it, values accepted, values refused, the expected form the error states
        type Case<'a> = (
            &'a str,
            fn(&mut Properties, &str),
            &'a [&'a str],
            &'a [&'a str],
            &'a str,
        );
        let cases: [Case<'_>; 8] = [
            (
                "BuildProject",
                |p, v| p.build_project = v.into(),
                &["sagemaker-demo-p-abc-seedcode", "ab", "Project_1"],
                &[
                    "",
                    "a",
                    "-lead",
                    "has space",
                    "arn:aws:codebuild:eu-west-1:123456789012:project/x",
                    &"a".repeat(256),
                ],
                "expected 2-255 letters, digits",
            ),
            (
                "SeedCodeBucket",
                |p, v| p.seed_code_bucket = v.into(),
                &["sagemaker-servicecatalog-seedcode-eu-west-1"],
                &["", "Upper", "s3://bucket", "a..b"],
                "is not an S3 bucket name",
            ),
            (
                "SeedCodeKey",
                |p, v| p.seed_code_key = v.into(),
                &[
                    KEY,
                    "seed.zip",
                    "toolchain/model-deployment-jenkins-v1.0.zip",
                ],
                &[
                    "",
                    ".zip",
                    "/toolchain/x.zip",
                    "toolchain/x.tar",
                    "a/../x.zip",
                    "a//x.zip",
                    "a b.zip",
                    "s3://b/x.zip",
                ],
                "expected a key ending in .zip",
            ),
            (
                "ConnectionArn",
                |p, v| p.connection_arn = v.into(),
                &[
                    CONNECTION,
                    "arn:aws:codestar-connections:eu-west-1:123456789012:connection/abc-123",
                    "arn:aws-cn:codeconnections:cn-north-1:123456789012:connection/abc",
                    "arn:aws-us-gov:codeconnections:us-gov-west-1:123456789012:connection/abc",
                ],
                &[
                    "",
                    "arn:aws:s3:::bucket",
                    "connection/abc",
                    "arn:aws:codeconnections:us-east-1:1234:connection/abc",
                    "arn:aws:codeconnections:us-east-1:123456789012:host/abc",
                    "arn:aws:codeconnections:us-east-1:123456789012:connection/",
                    "arn:aws:codeconnections:us-east-1:123456789012:connection/a/b",
                    "arn:aws:codeconnections:useast1:123456789012:connection/abc",
                    "arn:aws:codecommit:us-east-1:123456789012:connection/abc",
                    "arn:evil:codeconnections:us-east-1:123456789012:connection/abc",
                ],
                "expected arn:aws:codeconnections:<region>:<12-digit account>:connection/<id>",
            ),
            (
                "RepositoryFullName",
                |p, v| p.repository_full_name = v.into(),
                &[
                    "example-org/model-build",
                    "group/subgroup/repo",
                    "my.org/repo_1",
                    "org/.github",
                    &format!("group/{}repo", "sub/".repeat(200)),
                ],
                &[
                    "",
                    "repo",
                    "org/",
                    "/repo",
                    "org/re po",
                    "org//repo",
                    "org/repo.git",
                    "org/..",
                    "org/a?b",
                ],
                "expected owner/repo (or group/subgroup/repo)",
            ),
            (
                "Branch",
                |p, v| p.branch = v.into(),
                &["main", "feature/new-model", "release_2.0", "v1@2"],
                &[
                    "",
                    "-x",
                    "a b",
                    "/main",
                    "main/",
                    "a..b",
                    "a.lock",
                    "x/.hidden",
                    "a~1",
                    "a^",
                    "a:b",
                    "@",
                    "a@{1}",
                    "end.",
                    "tab\t",
                ],
                "expected a name such as main",
            ),
            (
                "CheckinVersion",
                |p, v| p.checkin_version = Some(v.into()),
                &["v1.1"],
                &["", "v1.2", "1.1", "V1.1"],
                "expected v1.1 (the default) or v1.0 (Jenkins)",
            ),
            (
                "SeedCodeUpdateFileName",
                |p, v| {
                    p.checkin_version = Some("v1.0".into());
                    p.seed_code_update_file_name = Some(v.into());
                },
                &["jenkins/seed_job.groovy", "seed.groovy"],
                &["", "/abs", "a/../b", "a//b", "a b", "./x"],
                "expected a relative path such as jenkins/seed_job.groovy",
            ),
        ];
        for (field, set, good, bad, form) in cases {
            for value in good {
                let mut p = props();
                set(&mut p, value);
                assert!(p.plan().is_ok(), "{field} {value:?}: {:?}", p.plan().err());
            }
            for value in bad {
                let mut p = props();
                set(&mut p, value);
                let err = p.plan().expect_err(value).to_string();
                assert!(
                    err.starts_with(&format!("{field}: {value:?} is not ")),
                    "{field} {value:?}: {err}"
                );
                assert!(err.contains(form), "{field} {value:?}: {err}");
            }
        }
    }

    #[test]
    fn properties_are_typed_strictly() {
        use cfn_custom_resource::properties::parse;
        let mut raw = serde_json::json!({
            "ServiceToken": "arn:aws:lambda:eu-west-1:123456789012:function:sagemaker-projects-seedcode",
            "BuildProject": PROJECT, "SeedCodeBucket": "b-b-b", "SeedCodeKey": KEY, "ConnectionArn": CONNECTION,
            "RepositoryFullName": "o/r", "Branch": "main"
        });
        let ok: Properties = parse("ResourceProperties", raw.as_object().unwrap().clone()).unwrap();
        assert_eq!(ok.branch, "main");
        raw["Brnach"] = "main".into();
        let e = parse::<Properties>("ResourceProperties", raw.as_object().unwrap().clone())
            .unwrap_err();
        assert!(
            e.0.starts_with("ResourceProperties.Brnach: unknown field `Brnach`"),
            "{}",
            e.0
        );
        raw.as_object_mut().unwrap().remove("Brnach");
        raw.as_object_mut().unwrap().remove("Branch");
        let e = parse::<Properties>("ResourceProperties", raw.as_object().unwrap().clone())
            .unwrap_err();
        assert_eq!(e.0, "ResourceProperties: missing field `Branch`");
    }

    #[test]
    fn the_repository_url_is_the_connections_git_http_url_in_its_partition() {
        let url = |arn: &str, name: &str| repository_url(arn, name).unwrap();
        assert_eq!(url(CONNECTION, "example-org/model-build"), URL);
        assert_eq!(
            url("arn:aws:codestar-connections:us-east-1:123456789012:connection/abc-123", "g/sub/repo"),
            "https://codestar-connections.us-east-1.amazonaws.com/git-http/123456789012/us-east-1/abc-123/g/sub/repo.git"
        );
        assert_eq!(
            url("arn:aws-cn:codeconnections:cn-north-1:123456789012:connection/abc", "o/r"),
            "https://codeconnections.cn-north-1.amazonaws.com.cn/git-http/123456789012/cn-north-1/abc/o/r.git"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn the_jenkins_check_in_project_gets_upstreams_v1_0_overrides_and_no_secondary_source() {
        let req = request("req-1", Duration::from_secs(600));
        let token = idempotency_token(&req);
        let started = mock!(Client::start_build)
            .match_requests(move |r| {
                r.project_name() == Some(PROJECT)
                    && r.idempotency_token() == Some(token.as_str())
                    && secondary_of(r).is_empty()
                    && overrides_of(r)
                        == plain(&[
                            (
                                "SEEDCODE_BUCKET_NAME",
                                "sagemaker-servicecatalog-seedcode-eu-west-1",
                            ),
                            (
                                "SEEDCODE_BUCKET_KEY",
                                "toolchain/model-building-workflow-jenkins-v1.0.zip",
                            ),
                            ("GIT_REPOSITORY_FULL_NAME", "example-org/model-build"),
                            ("GIT_REPOSITORY_BRANCH", "main"),
                            ("GIT_REPOSITORY_CONNECTION_ARN", CONNECTION),
                            ("SEED_CODE_UPDATE_FILE_NAME", "jenkins/seed_job.groovy"),
                        ])
            })
            .then_output(|| {
                StartBuildOutput::builder()
                    .build_value(build(StatusType::Succeeded))
                    .build()
            });
        let client = mock_client!(aws_sdk_codebuild, RuleMode::Sequential, [&started]);
        let outcome = handler(client)
            .create(&req, &jenkins_props())
            .await
            .unwrap();
        assert_eq!(started.num_calls(), 1);
        assert_eq!(outcome.data["url"], URL);
    }

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

    #[tokio::test(start_paused = true)]
    async fn start_build_denied_while_permissions_propagate_is_retried_with_the_same_token() {
        let req = request("req-1", Duration::from_secs(600));
        let token = idempotency_token(&req);
        let (status, body) = denied();
        let started = mock!(Client::start_build)
            .match_requests(move |r| r.idempotency_token() == Some(token.as_str()))
            .sequence()
            .http_status(status, body.clone())
            .times(2)
            .output(|| {
                StartBuildOutput::builder()
                    .build_value(build(StatusType::Succeeded))
                    .build()
            })
            .build();
        let client = mock_client!(aws_sdk_codebuild, RuleMode::Sequential, [&started]);
        let begun = Instant::now();
        let outcome = handler(client).create(&req, &props()).await.unwrap();
        assert_eq!(started.num_calls(), 3);
        assert_eq!(outcome.data["BuildId"], BUILD_ID);
        // 50 + 100 ms
        assert!(begun.elapsed() >= Duration::from_millis(150));
    }

    #[tokio::test(start_paused = true)]
    async fn start_build_denied_for_good_fails_saying_how_long_it_was_tried() {
        let req = request("req-1", Duration::from_secs(600));
        let (status, body) = denied();
        let started = mock!(Client::start_build)
            .sequence()
            .http_status(status, body)
            .times(4)
            .build();
        let client = mock_client!(aws_sdk_codebuild, RuleMode::Sequential, [&started]);
        let err = handler(client)
            .create(&req, &props())
            .await
            .unwrap_err()
            .to_string();
        assert_eq!(started.num_calls(), 4);
        assert!(err.contains("AccessDeniedException"), "{err}");
        assert!(err.contains("still denied after 4 attempts"), "{err}");
    }

    fn denied() -> (u16, Option<String>) {
        json_error(
            400,
            "AccessDeniedException",
            "not authorized to perform codebuild:StartBuild",
        )
    }
}
