//! The onboarder's entry: an SQS batch (the queue between the EventBridge rules and the function, which
//! also carries delayed re-checks), or a single EventBridge event. Waiting for a `Pending` domain costs no
//! Lambda time: the function sends itself a delayed message and returns. The delay is the same every time
//! (`RECHECK_DELAY_SECONDS`, default 30 s), so a domain is tagged and gets its project at most one delay after
//! it turns `InService` — a few dozen short invocations per new domain, instead of a backoff that left a user
//! waiting up to 15 minutes for nothing.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use serde::Serialize;
use serde_json::{json, Value};
use tracing::Instrument;

use super::dead_letter::LastError;
use super::events::{self, Parsed, Recheck, Work};
use super::{sweep, DomainOutcome, OnboardError, Onboarder};
use crate::aws::CallError;
use lambda_glue::metrics;

/// SQS caps a message's delay at 15 minutes.
const MAX_DELAY: Duration = Duration::from_secs(900);

pub struct OnboarderFunction {
    onboarder: Arc<Onboarder>,
    sqs: aws_sdk_sqs::Client,
}

/// The answer to an SQS batch: the records to deliver again (Lambda's partial batch response) and, for the
/// log and the tests, what became of each record that was handled.
#[derive(Debug, Serialize)]
pub struct BatchAnswer {
    #[serde(flatten)]
    pub response: SqsBatchResponse,
    #[serde(rename = "Results")]
    pub results: Vec<Value>,
}

/// The delay of every re-check: the configured one, within what SQS allows (1 s to 15 minutes).
fn recheck_delay(configured: Duration) -> Duration {
    configured.clamp(Duration::from_secs(1), MAX_DELAY)
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// A record's body as JSON; a body that is none (or too deep or too big), wrapped so the parser can say so.
fn parse_body(body: &str) -> Value {
    // not JSON, or past the events' bounds (json_depth): unparseable text, which the parser says why it ignores
    lambda_glue::raw_event::event_from_body(body.as_bytes())
}

/// An SQS batch (`Records[*].eventSource` is `aws:sqs`), as opposed to one EventBridge event.
fn is_sqs_batch(event: &Value) -> bool {
    event
        .pointer("/Records/0/eventSource")
        .and_then(Value::as_str)
        == Some("aws:sqs")
}

impl OnboarderFunction {
    pub fn new(onboarder: Arc<Onboarder>, sqs: aws_sdk_sqs::Client) -> Self {
        Self { onboarder, sqs }
    }

    /// `Err` only for failures worth a retry of the whole event (a direct EventBridge invocation, or a batch
    /// that is not SQS's shape); an SQS batch reports such records in `batchItemFailures` instead, so only
    /// they come back.
    pub async fn handle(&self, event: Value) -> Result<Value, OnboardError> {
        self.onboarder.forget_granted();
        if !is_sqs_batch(&event) {
            return self.handle_one(&event).await;
        }
        let batch: SqsEvent = serde_json::from_value(event).map_err(OnboardError::Batch)?;
        let answer = self.handle_batch(batch).await;
        Ok(serde_json::to_value(answer).unwrap_or_else(|e| json!({"Error": e.to_string()})))
    }

    async fn handle_batch(&self, batch: SqsEvent) -> BatchAnswer {
        let mut answer = BatchAnswer {
            response: SqsBatchResponse::default(),
            results: Vec::new(),
        };
        for record in batch.records {
            let id = record.message_id.clone().unwrap_or_default();
            let span = tracing::info_span!("message", message_id = %id);
            let body = record.body.clone().unwrap_or_default();
            let event = parse_body(&body);
            let e = match self.handle_one(&event).instrument(span.clone()).await {
                Ok(v) => {
                    answer.results.push(v);
                    continue;
                }
                Err(e) => e,
            };
            if let Some(last) = self.last_delivery(&record, &event, &e) {
                match self.dead_letter(&body, &last).instrument(span.clone()).await {
                    Ok(()) => {
                        span.in_scope(|| {
                            tracing::error!(call = %last.call, code = %last.code, message = %last.message,
                                subject = %last.subject, deliveries = last.deliveries,
                                "dead-lettered with its last error: fix the cause, then projects doctor --redrive")
                        });
                        metrics::count(metrics::EVENTS_DEAD_LETTERED, 1);
                        answer.results.push(json!({ "DeadLettered": last }));
                        continue;
                    }
                    // SQS's own redrive still moves it, without the reason
                    Err(send) => span.in_scope(|| {
                        tracing::warn!(error = %send, "could not dead-letter the record with its reason")
                    }),
                }
            }
            span.in_scope(
                || tracing::warn!(error = %e, "record failed: SQS will deliver it again"),
            );
            answer.response.add_failure(id);
        }
        answer
    }

    /// The record's last error, when this was its last delivery (the queue's `maxReceiveCount`) and there is
    /// a dead-letter queue to leave it in.
    fn last_delivery(
        &self,
        record: &SqsMessage,
        event: &Value,
        e: &OnboardError,
    ) -> Option<LastError> {
        let config = &self.onboarder.config;
        config.dead_letter_queue_url.as_ref()?;
        let deliveries: u32 = record
            .attributes
            .get("ApproximateReceiveCount")
            .and_then(|n| n.parse().ok())?;
        if deliveries < config.max_receive_count {
            return None;
        }
        let subject = match events::parse(event, &config.launch_role.account, &config.region) {
            Parsed::Work(w) => w.subject(),
            Parsed::Ignore(why) => why,
        };
        Some(LastError::of(e, subject, deliveries))
    }

    /// Sends the record's body as it came, with its last error as message attributes.
    async fn dead_letter(&self, body: &str, last: &LastError) -> Result<(), CallError> {
        let queue = self
            .onboarder
            .config
            .dead_letter_queue_url
            .as_deref()
            .unwrap_or_default();
        self.sqs
            .send_message()
            .queue_url(queue)
            .message_body(body)
            .set_message_attributes(Some(last.attributes()))
            .send()
            .await
            .map_err(|e| CallError::new("SQS", "SendMessage", queue, e))?;
        Ok(())
    }

    async fn handle_one(&self, event: &Value) -> Result<Value, OnboardError> {
        let config = &self.onboarder.config;
        let work = match events::parse(event, &config.launch_role.account, &config.region) {
            Parsed::Work(w) => w,
            Parsed::Ignore(why) => {
                tracing::info!(why, "ignored");
                return Ok(json!({"Ignored": why}));
            }
        };
        // boxed: the onboarding future is deep enough to overflow rustc's layout query depth in the binary
        let result = Box::pin(self.run(&work)).await;
        match result {
            Ok(v) => {
                tracing::info!(work = ?work, result = %v, "done");
                Ok(v)
            }
            Err(e) if e.is_retryable() => Err(e),
            Err(e) => {
                // a retry would fail the same way: report, do not retry
                tracing::error!(work = ?work, error = %e, "not onboarded");
                Ok(json!({"Error": e.to_string()}))
            }
        }
    }

    async fn run(&self, work: &Work) -> Result<Value, OnboardError> {
        let o = &self.onboarder;
        Ok(match work {
            Work::Domain { domain_id } => self.domain(domain_id, 1, now()).await?,
            Work::Recheck(Recheck {
                domain_id,
                attempt,
                first_seen,
            }) => self.domain(domain_id, *attempt + 1, *first_seen).await?,
            Work::DomainNamed { name } => {
                let found = o
                    .domains()
                    .await?
                    .into_iter()
                    .find(|(_, n)| n.as_deref() == Some(name.as_str()));
                match found {
                    Some((id, _)) => self.domain(&id, 1, now()).await?,
                    None => json!({"Ignored": format!("no domain named {name}")}),
                }
            }
            Work::UserProfile { domain_id, profile } => {
                json!(o.onboard_user_profile(domain_id, profile).await?)
            }
            Work::Sweep => json!(sweep::run(o).await?),
        })
    }

    /// Onboards a domain; when it is not ready yet, asks the queue to bring it back after the re-check delay
    /// (`RechecksWaiting`), until `RECHECK_MAX_MINUTES` have passed since it was first seen (then, and for a
    /// domain that failed, `DomainsAbandoned`).
    async fn domain(
        &self,
        domain_id: &str,
        attempt: u32,
        first_seen: u64,
    ) -> Result<Value, OnboardError> {
        let outcome = self.onboarder.onboard_domain(domain_id).await?;
        let mut report = json!(outcome);
        if let DomainOutcome::Abandoned { status, .. } = &outcome {
            tracing::warn!(
                domain = domain_id,
                status,
                "domain will never be ready: abandoned"
            );
            // a domain being deleted was given up by its owner, not by us
            if status != "Deleting" {
                metrics::count(metrics::DOMAINS_ABANDONED, 1);
            }
        }
        if let DomainOutcome::Waiting { status, .. } = &outcome {
            let config = &self.onboarder.config;
            let waited = Duration::from_secs(now().saturating_sub(first_seen));
            match &config.recheck_queue_url {
                Some(queue) if waited < config.recheck_for => {
                    let delay = recheck_delay(config.recheck_delay);
                    let recheck = Recheck {
                        domain_id: domain_id.to_owned(),
                        attempt,
                        first_seen,
                    };
                    self.sqs
                        .send_message()
                        .queue_url(queue)
                        .message_body(recheck.message())
                        .delay_seconds(delay.as_secs() as i32)
                        .send()
                        .await
                        .map_err(|e| CallError::new("SQS", "SendMessage", queue.as_str(), e))?;
                    metrics::count(metrics::RECHECKS_WAITING, 1);
                    report["RecheckInSeconds"] = json!(delay.as_secs());
                }
                _ => {
                    tracing::warn!(
                        domain = domain_id,
                        status,
                        waited_s = waited.as_secs(),
                        "domain still not InService: giving up; the scheduled sweep will finish it"
                    );
                    metrics::count(metrics::DOMAINS_ABANDONED, 1);
                    report["GaveUp"] = json!(true);
                }
            }
        }
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    //! Which failures come back through the queue (`batchItemFailures`) and which are reported and dropped:
    //! decided by the call error alone, for SageMaker, IAM and SQS alike.
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::aws::answers::{iam_error, json_error};
    use crate::onboarding::Config;
    use aws_sdk_iam::operation::list_attached_role_policies::ListAttachedRolePoliciesOutput;
    use aws_sdk_iam::operation::list_role_policies::ListRolePoliciesOutput;
    use aws_sdk_iam::operation::put_role_policy::PutRolePolicyOutput;
    use aws_sdk_iam::operation::tag_role::TagRoleOutput;
    use aws_sdk_sagemaker::operation::describe_domain::DescribeDomainOutput;
    use aws_sdk_sagemaker::operation::list_tags::ListTagsOutput;
    use aws_sdk_sagemaker::types::{DomainStatus, UserSettings};
    use aws_sdk_sqs::operation::send_message::SendMessageOutput;
    use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};
    use aws_smithy_types::retry::RetryConfig;

    const DOMAIN: &str = "d-abc123";
    const QUEUE: &str = "https://sqs.us-east-1.amazonaws.com/123456789012/onboarder";

    const DEAD_LETTERS: &str = "https://sqs.us-east-1.amazonaws.com/123456789012/onboarder-dlq";

    fn config() -> Config {
        config_with(None)
    }

    fn config_with(dead_letters: Option<&'static str>) -> Config {
        Config::from_lookup(|k| {
            let v = match k {
                "LAUNCH_ROLE_ARN" => {
                    "arn:aws:iam::123456789012:role/AmazonSageMakerProjectsLaunchRole"
                }
                "TEMPLATE_BUCKET" => "sagemaker-templates",
                "RECHECK_QUEUE_URL" => QUEUE,
                "DEAD_LETTER_QUEUE_URL" => dead_letters?,
                _ => return None,
            };
            Some(v.to_owned())
        })
        .unwrap()
    }

    /// An SQS batch of one CloudTrail UpdateDomain event.
    fn batch() -> Value {
        let event = json!({"source": "aws.sagemaker", "detail-type": "AWS API Call via CloudTrail",
            "account": "123456789012", "region": "us-east-1",
            "detail": {"eventSource": "sagemaker.amazonaws.com", "eventName": "UpdateDomain",
                       "requestParameters": {"domainId": DOMAIN}}});
        json!({"Records": [{"messageId": "m-1", "eventSource": "aws:sqs", "body": event.to_string()}]})
    }

    fn pending_domain() -> Rule {
        mock!(aws_sdk_sagemaker::Client::describe_domain).then_output(|| {
            DescribeDomainOutput::builder()
                .domain_id(DOMAIN)
                .domain_arn(format!(
                    "arn:aws:sagemaker:us-east-1:123456789012:domain/{DOMAIN}"
                ))
                .status(DomainStatus::Pending)
                .default_user_settings(
                    UserSettings::builder()
                        .execution_role("arn:aws:iam::123456789012:role/Studio")
                        .build(),
                )
                .build()
        })
    }

    fn no_tags() -> Rule {
        mock!(aws_sdk_sagemaker::Client::list_tags)
            .then_output(|| ListTagsOutput::builder().build())
    }

    /// A role with no administrator policy attached.
    fn not_admin() -> Rule {
        mock!(aws_sdk_iam::Client::list_attached_role_policies)
            .then_output(|| ListAttachedRolePoliciesOutput::builder().build())
    }

    /// A role with no inline policies that accepts every write.
    fn writable_role() -> [Rule; 4] {
        [
            not_admin(),
            mock!(aws_sdk_iam::Client::list_role_policies).then_output(|| {
                ListRolePoliciesOutput::builder()
                    .set_policy_names(Some(vec![]))
                    .build()
                    .unwrap()
            }),
            mock!(aws_sdk_iam::Client::put_role_policy)
                .then_output(|| PutRolePolicyOutput::builder().build()),
            mock!(aws_sdk_iam::Client::tag_role).then_output(|| TagRoleOutput::builder().build()),
        ]
    }

    /// The answer to the batch, its SageMaker, IAM and SQS calls answered by the rules (no SDK retries, so
    /// every failure reaches the handler).
    async fn onboard(sagemaker: &[&Rule], iam: &[&Rule], sqs: &[&Rule]) -> Value {
        onboard_event(batch(), sagemaker, iam, sqs).await
    }

    async fn onboard_event(
        event: Value,
        sagemaker: &[&Rule],
        iam: &[&Rule],
        sqs: &[&Rule],
    ) -> Value {
        onboard_configured(config(), event, sagemaker, iam, sqs).await
    }

    async fn onboard_configured(
        config: Config,
        event: Value,
        sagemaker: &[&Rule],
        iam: &[&Rule],
        sqs: &[&Rule],
    ) -> Value {
        let sm = mock_client!(aws_sdk_sagemaker, RuleMode::MatchAny, sagemaker, |c| c
            .retry_config(RetryConfig::disabled()));
        let iam = mock_client!(aws_sdk_iam, RuleMode::MatchAny, iam, |c| c
            .retry_config(RetryConfig::disabled()));
        let sqs = mock_client!(aws_sdk_sqs, RuleMode::MatchAny, sqs, |c| c
            .retry_config(RetryConfig::disabled()));
        // no project is configured: nothing reads the template bucket
        let s3 = mock_client!(aws_sdk_s3, RuleMode::MatchAny, [] as [&Rule; 0]);
        let onboarder = Arc::new(Onboarder::new(sm, iam, s3, config).unwrap());
        OnboarderFunction::new(onboarder, sqs)
            .handle(event)
            .await
            .unwrap()
    }

    /// An SQS batch of one re-check message.
    fn recheck(attempt: u32, first_seen: u64) -> Value {
        let body = Recheck {
            domain_id: DOMAIN.to_owned(),
            attempt,
            first_seen,
        }
        .message();
        json!({"Records": [{"messageId": "m-1", "eventSource": "aws:sqs", "body": body}]})
    }

    fn redelivered(answer: &Value) -> bool {
        answer["batchItemFailures"] == json!([{"itemIdentifier": "m-1"}])
    }

    fn reported(answer: &Value, what: &str) -> bool {
        answer["batchItemFailures"] == json!([])
            && answer["Results"][0]["Error"]
                .as_str()
                .is_some_and(|e| e.starts_with(what))
    }

    fn sagemaker_refusal(status: u16, code: &str) -> Rule {
        let (status, body) = json_error(status, code, "no");
        mock!(aws_sdk_sagemaker::Client::describe_domain)
            .sequence()
            .http_status(status, body)
            .build()
    }

    #[tokio::test]
    async fn sagemaker_access_denied_is_reported_and_not_redelivered() {
        let answer = onboard(
            &[&sagemaker_refusal(400, "AccessDeniedException")],
            &[],
            &[],
        )
        .await;
        assert!(
            reported(
                &answer,
                "SageMaker DescribeDomain on domain d-abc123 failed: AccessDeniedException"
            ),
            "{answer}"
        );
    }

    #[tokio::test]
    async fn sagemaker_throttling_and_server_errors_come_back_through_the_queue() {
        for (status, code) in [
            (400, "ThrottlingException"),
            (500, "InternalFailure"),
            (503, "ServiceUnavailable"),
        ] {
            let answer = onboard(&[&sagemaker_refusal(status, code)], &[], &[]).await;
            assert!(redelivered(&answer), "{code}: {answer}");
        }
    }

    #[tokio::test]
    async fn iam_access_denied_is_reported_and_iam_throttling_redelivered() {
        let refuse = |status: u16, code: &'static str| {
            let (status, body) = iam_error(status, code, "no");
            mock!(aws_sdk_iam::Client::list_role_policies)
                .sequence()
                .http_status(status, body)
                .build()
        };
        let (domain, tags) = (pending_domain(), no_tags());
        let (denied, not_admin) = (refuse(403, "AccessDenied"), not_admin());
        let answer = onboard(&[&domain, &tags], &[&denied, &not_admin], &[]).await;
        assert!(
            reported(
                &answer,
                "IAM ListRolePolicies on role Studio failed: AccessDenied"
            ),
            "{answer}"
        );
        for (status, code) in [(400, "Throttling"), (500, "ServiceFailure")] {
            let failing = refuse(status, code);
            let answer = onboard(&[&domain, &tags], &[&failing, &not_admin], &[]).await;
            assert!(redelivered(&answer), "{code}: {answer}");
        }
    }

    #[tokio::test]
    async fn a_refused_recheck_is_reported_and_an_unavailable_queue_redelivered() {
        let (domain, tags) = (pending_domain(), no_tags());
        let role = writable_role();
        let iam: Vec<&Rule> = role.iter().collect();
        let send = |status: u16, code: &'static str| {
            let (status, body) = json_error(status, code, "no");
            mock!(aws_sdk_sqs::Client::send_message)
                .sequence()
                .http_status(status, body)
                .build()
        };
        let denied = send(400, "AccessDenied");
        let answer = onboard(&[&domain, &tags], &iam, &[&denied]).await;
        assert!(
            reported(
                &answer,
                &format!("SQS SendMessage on {QUEUE} failed: AccessDenied")
            ),
            "{answer}"
        );
        let unavailable = send(500, "InternalError");
        assert!(redelivered(
            &onboard(&[&domain, &tags], &iam, &[&unavailable]).await
        ));
        let sent = mock!(aws_sdk_sqs::Client::send_message)
            .then_output(|| SendMessageOutput::builder().build());
        let answer = onboard(&[&domain, &tags], &iam, &[&sent]).await;
        assert_eq!(answer["Results"][0]["Outcome"], "Waiting", "{answer}");
        assert_eq!(answer["batchItemFailures"], json!([]));
    }

    #[tokio::test]
    async fn every_recheck_waits_the_same_short_delay_and_is_counted() {
        let (domain, tags) = (pending_domain(), no_tags());
        let role = writable_role();
        let iam: Vec<&Rule> = role.iter().collect();
        for attempt in [0, 1, 4, 9, 30] {
            let sent = mock!(aws_sdk_sqs::Client::send_message)
                .match_requests(move |r| {
                    r.delay_seconds() == Some(30)
                        && r.message_body()
                            .is_some_and(|b| b.contains(&format!("\"attempt\":{}", attempt + 1)))
                })
                .then_output(|| SendMessageOutput::builder().build());
            let (answer, recorded) = metrics::capture(onboard_event(
                recheck(attempt, now()),
                &[&domain, &tags],
                &iam,
                &[&sent],
            ))
            .await;
            assert_eq!(sent.num_calls(), 1, "attempt {attempt}: {answer}");
            assert_eq!(answer["Results"][0]["RecheckInSeconds"], 30, "{answer}");
            assert_eq!(
                recorded.get(metrics::RECHECKS_WAITING).map(|v| v.0),
                Some(1.0)
            );
            assert_eq!(recorded.get(metrics::DOMAINS_ABANDONED), None);
        }
    }

    #[test]
    fn the_recheck_delay_stays_within_what_sqs_allows() {
        assert_eq!(recheck_delay(Duration::ZERO), Duration::from_secs(1));
        assert_eq!(
            recheck_delay(Duration::from_secs(45)),
            Duration::from_secs(45)
        );
        assert_eq!(recheck_delay(Duration::from_secs(3600)), MAX_DELAY);
    }

    #[tokio::test]
    async fn a_domain_still_pending_after_the_recheck_window_is_abandoned_and_counted() {
        let (domain, tags) = (pending_domain(), no_tags());
        let role = writable_role();
        let iam: Vec<&Rule> = role.iter().collect();
        let sent = mock!(aws_sdk_sqs::Client::send_message)
            .then_output(|| SendMessageOutput::builder().build());
        // first seen two hours ago: past RECHECK_MAX_MINUTES (60)
        let (answer, recorded) = metrics::capture(onboard_event(
            recheck(120, now() - 7200),
            &[&domain, &tags],
            &iam,
            &[&sent],
        ))
        .await;
        assert_eq!(sent.num_calls(), 0);
        assert_eq!(answer["Results"][0]["GaveUp"], true, "{answer}");
        assert_eq!(
            recorded.get(metrics::DOMAINS_ABANDONED).map(|v| v.0),
            Some(1.0)
        );
        assert_eq!(recorded.get(metrics::ROLES_GRANTED).map(|v| v.0), Some(1.0));
    }

    #[tokio::test]
    async fn a_failed_domain_is_abandoned_and_counted_but_one_being_deleted_is_not_counted() {
        for (status, counted) in [
            (DomainStatus::Failed, Some(1.0)),
            (DomainStatus::Deleting, None),
        ] {
            let described =
                mock!(aws_sdk_sagemaker::Client::describe_domain).then_output(move || {
                    DescribeDomainOutput::builder()
                        .domain_id(DOMAIN)
                        .status(status.clone())
                        .build()
                });
            let (answer, recorded) =
                metrics::capture(onboard_event(batch(), &[&described], &[], &[])).await;
            assert_eq!(answer["Results"][0]["Outcome"], "Abandoned", "{answer}");
            assert_eq!(
                recorded.get(metrics::DOMAINS_ABANDONED).map(|v| v.0),
                counted
            );
        }
    }

    /// [`batch`], delivered `n` times.
    fn delivered(n: u32) -> Value {
        let mut b = batch();
        b["Records"][0]["attributes"] = json!({"ApproximateReceiveCount": n.to_string()});
        b
    }

    #[tokio::test]
    async fn on_its_last_delivery_a_failing_record_is_dead_lettered_with_its_last_error() {
        let body = batch()["Records"][0]["body"].as_str().unwrap().to_owned();
        let dead_lettered = mock!(aws_sdk_sqs::Client::send_message)
            .match_requests(move |r| {
                let attr = |k: &str| {
                    r.message_attributes()
                        .and_then(|a| a.get(k))
                        .and_then(|v| v.string_value())
                        .map(str::to_owned)
                };
                r.queue_url() == Some(DEAD_LETTERS)
                    && r.message_body() == Some(body.as_str())
                    && attr("LastError.Call").as_deref() == Some("SageMaker DescribeDomain")
                    && attr("LastError.Code").as_deref() == Some("ThrottlingException")
                    && attr("Subject").as_deref() == Some("domain d-abc123")
                    && attr("Deliveries").as_deref() == Some("10")
            })
            .then_output(|| SendMessageOutput::builder().build());
        let throttled = sagemaker_refusal(400, "ThrottlingException");
        let dlq = Some(DEAD_LETTERS);
        // before its last delivery: back through the queue, nothing sent
        let ninth = onboard_configured(
            config_with(dlq),
            delivered(9),
            &[&throttled],
            &[],
            &[&dead_lettered],
        )
        .await;
        assert!(redelivered(&ninth), "{ninth}");
        assert_eq!(dead_lettered.num_calls(), 0);
        // its last: left in the dead-letter queue with the reason, and not delivered again
        let throttled = sagemaker_refusal(400, "ThrottlingException");
        let tenth = onboard_configured(
            config_with(dlq),
            delivered(10),
            &[&throttled],
            &[],
            &[&dead_lettered],
        )
        .await;
        assert_eq!(tenth["batchItemFailures"], json!([]), "{tenth}");
        assert_eq!(dead_lettered.num_calls(), 1);
        assert_eq!(
            tenth["Results"][0]["DeadLettered"]["message"]
                .as_str()
                .map(|m| m.starts_with("no")),
            Some(true),
            "{tenth}"
        );
    }

    #[tokio::test]
    async fn a_record_that_cannot_be_dead_lettered_is_left_to_the_queues_own_redrive() {
        let (status, body) = json_error(403, "AccessDenied", "no");
        let refused = mock!(aws_sdk_sqs::Client::send_message)
            .sequence()
            .http_status(status, body)
            .build();
        let throttled = sagemaker_refusal(400, "ThrottlingException");
        let answer = onboard_configured(
            config_with(Some(DEAD_LETTERS)),
            delivered(10),
            &[&throttled],
            &[],
            &[&refused],
        )
        .await;
        assert!(redelivered(&answer), "{answer}");
        assert_eq!(refused.num_calls(), 1);
    }
}
