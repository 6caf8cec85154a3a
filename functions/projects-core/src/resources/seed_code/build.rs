//! The seed build: an idempotency token from the request, StartBuild (retried while AccessDenied), following the
//! build with backoff, stopping it before the function's deadline, and what a build's end means.

use crate::aws::codebuild::{failing_phase, phase_context};
use aws_sdk_codebuild::types::{Build, StatusType};
use cloudformation_custom_resource::Request;
use sha2::{Digest, Sha256};
use tokio::time::{timeout_at, Instant};

use super::{Error, Plan, SeedCode};
use crate::aws::CallError;

/// CodeBuild returns the build of an earlier StartBuild with the same token (for 5 minutes) instead of
/// starting another: the token is the request's, so a replayed event follows the build it already started.
pub(super) fn idempotency_token(request: &Request) -> String {
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
            let failing = failing_phase(build);
            let phase = failing
                .and_then(|p| p.phase_type())
                .map(|t| t.as_str().to_owned())
                .or_else(|| build.current_phase().map(str::to_owned))
                .unwrap_or_else(|| "(unknown)".to_owned());
            let context = failing
                .and_then(phase_context)
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

impl SeedCode {
    /// Starts the build and follows it to its end; returns the build id when it succeeded.
    pub(super) async fn seed(&self, request: &Request, plan: &Plan) -> Result<String, Error> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::seed_code::testing::*;

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
