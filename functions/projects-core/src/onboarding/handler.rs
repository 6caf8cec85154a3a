//! The onboarder's entry: an SQS batch (the queue between the EventBridge rules and the function, which
//! also carries delayed re-checks), or a single EventBridge event. Waiting for a `Pending` domain costs no
//! Lambda time: the function sends itself a delayed message and returns.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

use super::events::{self, Parsed, Work};
use super::{sweep, DomainOutcome, OnboardError, Onboarder};

/// SQS caps a message's delay at 15 minutes.
const MAX_DELAY: Duration = Duration::from_secs(900);

pub struct OnboarderFunction {
    onboarder: Arc<Onboarder>,
    sqs: aws_sdk_sqs::Client,
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl OnboarderFunction {
    pub fn new(onboarder: Arc<Onboarder>, sqs: aws_sdk_sqs::Client) -> Self {
        Self { onboarder, sqs }
    }

    /// `Err` only for failures worth a retry of the whole event (a direct EventBridge invocation); an SQS
    /// batch reports such records in `batchItemFailures` instead, so only they come back.
    pub async fn handle(&self, event: Value) -> Result<Value, OnboardError> {
        self.onboarder.forget_granted();
        let records = event.get("Records").and_then(Value::as_array).filter(|r| {
            r.first()
                .and_then(|x| x.get("eventSource"))
                .and_then(Value::as_str)
                == Some("aws:sqs")
        });
        let Some(records) = records else {
            return self.handle_one(&event).await;
        };
        let mut failures = Vec::new();
        let mut results = Vec::new();
        for record in records {
            let id = record
                .get("messageId")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let body = record
                .get("body")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let parsed: Value = serde_json::from_str(body)
                .unwrap_or_else(|_| json!({ lambda_glue::raw_event::UNPARSEABLE: body }));
            match self.handle_one(&parsed).await {
                Ok(v) => results.push(v),
                Err(e) => {
                    tracing::warn!(message_id = id, error = %e, "record failed: SQS will deliver it again");
                    failures.push(json!({"itemIdentifier": id}));
                }
            }
        }
        Ok(json!({"batchItemFailures": failures, "Results": results}))
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
        let result = self.run(&work).await;
        match result {
            Ok(v) => {
                tracing::info!(work = ?work, result = %v, "done");
                Ok(v)
            }
            Err(e) if e.is_transient() => Err(e),
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
            Work::Recheck {
                domain_id,
                attempt,
                first_seen,
            } => self.domain(domain_id, *attempt + 1, *first_seen).await?,
            Work::DomainNamed { name } => {
                let found = sweep::domain_ids(o)
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

    /// Onboards a domain; when it is not ready yet, asks the queue to bring it back later.
    async fn domain(
        &self,
        domain_id: &str,
        attempt: u32,
        first_seen: u64,
    ) -> Result<Value, OnboardError> {
        let outcome = self.onboarder.onboard_domain(domain_id).await?;
        let mut report = json!(outcome);
        if let DomainOutcome::Waiting { status, .. } = &outcome {
            let config = &self.onboarder.config;
            let waited = Duration::from_secs(now().saturating_sub(first_seen));
            match &config.recheck_queue_url {
                Some(queue) if waited < config.recheck_for => {
                    let delay = config
                        .recheck_delay
                        .saturating_mul(1 << attempt.saturating_sub(1).min(10))
                        .min(MAX_DELAY);
                    self.sqs
                        .send_message()
                        .queue_url(queue)
                        .message_body(
                            events::recheck_message(domain_id, attempt, first_seen).to_string(),
                        )
                        .delay_seconds(delay.as_secs() as i32)
                        .send()
                        .await
                        .map_err(|e| OnboardError::SageMaker {
                            operation: "SendMessage",
                            target: queue.clone(),
                            code: "RequestFailed".into(),
                            message: e.to_string(),
                        })?;
                    report["RecheckInSeconds"] = json!(delay.as_secs());
                }
                _ => {
                    tracing::warn!(
                        domain = domain_id,
                        status,
                        waited_s = waited.as_secs(),
                        "domain still not InService: giving up; the scheduled sweep will finish it"
                    );
                    report["GaveUp"] = json!(true);
                }
            }
        }
        Ok(report)
    }
}
