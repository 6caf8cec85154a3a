//! What a record that failed for good leaves in the onboarder's dead-letter queue: the event as it came (so
//! `projects doctor --redrive` can put it back) and, as message attributes, the last error — the call, its
//! code and message — what it was about and how often it was delivered. SQS's own redrive would move the
//! body alone; the onboarder moves the record itself on its last delivery, and leaves it to SQS only when
//! that send fails.

use std::collections::HashMap;

use aws_sdk_sqs::types::MessageAttributeValue;
use serde::Serialize;

use super::OnboardError;

/// The message attributes, as `projects doctor` reads them back.
pub const CALL: &str = "LastError.Call";
pub const CODE: &str = "LastError.Code";
pub const MESSAGE: &str = "LastError.Message";
pub const SUBJECT: &str = "Subject";
pub const DELIVERIES: &str = "Deliveries";

/// SQS's limit for a whole message is 256 KiB; a message this long says all it can.
const MAX_MESSAGE: usize = 2_000;

/// The last error of a record, and what the record was about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LastError {
    /// `SageMaker DescribeDomain`, or `-` for a failure that was no AWS call.
    pub call: String,
    /// The service's error code (`ThrottlingException`), or the failure's kind.
    pub code: String,
    pub message: String,
    /// `domain d-…`, `user profile d-…/alice`.
    pub subject: String,
    pub deliveries: u32,
}

impl LastError {
    pub fn of(error: &OnboardError, subject: String, deliveries: u32) -> Self {
        let (call, code, message) = match error.call() {
            Some(c) => (
                format!("{} {}", c.service, c.operation),
                c.code.clone(),
                c.message.clone(),
            ),
            None => ("-".to_owned(), "Error".to_owned(), error.to_string()),
        };
        Self {
            call,
            code,
            message: cloudformation_custom_resource::shorten(&message, MAX_MESSAGE),
            subject,
            deliveries,
        }
    }

    /// As SQS message attributes (all strings but the count).
    pub fn attributes(&self) -> HashMap<String, MessageAttributeValue> {
        let text = |v: &str| {
            MessageAttributeValue::builder()
                .data_type("String")
                .string_value(if v.is_empty() { "-" } else { v })
                .build()
                .expect("a data type is set")
        };
        let number = MessageAttributeValue::builder()
            .data_type("Number")
            .string_value(self.deliveries.to_string())
            .build()
            .expect("a data type is set");
        HashMap::from([
            (CALL.to_owned(), text(&self.call)),
            (CODE.to_owned(), text(&self.code)),
            (MESSAGE.to_owned(), text(&self.message)),
            (SUBJECT.to_owned(), text(&self.subject)),
            (DELIVERIES.to_owned(), number),
        ])
    }

    /// Read back from a dead-lettered message's attributes; `None` when the onboarder did not write them (SQS
    /// moved the record on its own).
    pub fn from_attributes(attributes: &HashMap<String, MessageAttributeValue>) -> Option<Self> {
        let get = |k: &str| {
            attributes
                .get(k)
                .and_then(|v| v.string_value())
                .map(str::to_owned)
        };
        Some(Self {
            call: get(CALL)?,
            code: get(CODE)?,
            message: get(MESSAGE)?,
            subject: get(SUBJECT).unwrap_or_default(),
            deliveries: get(DELIVERIES).and_then(|d| d.parse().ok()).unwrap_or(0),
        })
    }

    /// `SageMaker DescribeDomain: ThrottlingException: Rate exceeded`
    pub fn reason(&self) -> String {
        format!("{}: {}: {}", self.call, self.code, self.message)
    }
}

/// One message waiting in a dead-letter queue, as `projects doctor` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeadLetter {
    pub message_id: String,
    /// What the event was about (`domain d-…`), or what it was (`an S3 upload`).
    pub subject: String,
    /// How many times it was delivered before it landed here, when known.
    pub deliveries: Option<u32>,
    /// The last error: the onboarder's, EventBridge's (`ERROR_CODE`, `ERROR_MESSAGE`) or Lambda's (an
    /// asynchronous invocation's `responsePayload`); empty when nothing says.
    pub reason: String,
}

/// How many messages a look at a queue shows at most (it tells how many more wait).
pub const PEEK_LIMIT: usize = 50;

/// The messages of `queue`, without taking them: each received with no visibility timeout, so it stays where
/// it is; at most [`PEEK_LIMIT`]. `describe` names what an event was about when no attribute says it.
pub async fn peek(
    sqs: &aws_sdk_sqs::Client,
    queue: &str,
    describe: &(dyn Fn(&serde_json::Value) -> Option<String> + Sync),
) -> Result<Vec<DeadLetter>, crate::aws::CallError> {
    use aws_sdk_sqs::types::MessageSystemAttributeName;
    let mut seen: Vec<DeadLetter> = Vec::new();
    // SQS answers from a sample of its servers: a few rounds find what one would miss
    for _ in 0..6 {
        let got = sqs
            .receive_message()
            .queue_url(queue)
            .max_number_of_messages(10)
            .visibility_timeout(0)
            .message_attribute_names("All")
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .send()
            .await
            .map_err(|e| crate::aws::CallError::new("SQS", "ReceiveMessage", queue, e))?;
        let before = seen.len();
        for m in got.messages() {
            let id = m.message_id().unwrap_or_default();
            if seen.iter().any(|d| d.message_id == id) || seen.len() >= PEEK_LIMIT {
                continue;
            }
            seen.push(read(m, describe));
        }
        if seen.len() == before || seen.len() >= PEEK_LIMIT {
            break;
        }
    }
    Ok(seen)
}

/// What one message says: the onboarder's attributes, EventBridge's, or a Lambda failure record's body.
fn read(
    m: &aws_sdk_sqs::types::Message,
    describe: &(dyn Fn(&serde_json::Value) -> Option<String> + Sync),
) -> DeadLetter {
    let body: serde_json::Value =
        serde_json::from_str(m.body().unwrap_or_default()).unwrap_or_default();
    let attribute = |k: &str| {
        m.message_attributes()
            .and_then(|a| a.get(k))
            .and_then(|v| v.string_value())
            .map(str::to_owned)
    };
    let message_id = m.message_id().unwrap_or_default().to_owned();
    if let Some(last) = m.message_attributes().and_then(LastError::from_attributes) {
        return DeadLetter {
            message_id,
            subject: last.subject.clone(),
            deliveries: Some(last.deliveries),
            reason: last.reason(),
        };
    }
    // an asynchronous invocation that failed: Lambda's record around the event
    if let Some(context) = body.get("requestContext") {
        let payload = &body["responsePayload"];
        let text = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_owned();
        return DeadLetter {
            message_id,
            subject: describe(&body["requestPayload"]).unwrap_or_else(|| "an event".to_owned()),
            deliveries: context["approximateInvokeCount"].as_u64().map(|n| n as u32),
            reason: format!(
                "{} ({}): {}",
                text(&context["condition"]),
                text(&payload["errorType"]),
                text(&payload["errorMessage"])
            ),
        };
    }
    let reason = match (attribute("ERROR_CODE"), attribute("ERROR_MESSAGE")) {
        (Some(code), message) => format!("EventBridge: {code}: {}", message.unwrap_or_default()),
        (None, _) => String::new(),
    };
    DeadLetter {
        message_id,
        subject: describe(&body).unwrap_or_else(|| "an event".to_owned()),
        deliveries: m
            .attributes()
            .and_then(|a| {
                a.get(&aws_sdk_sqs::types::MessageSystemAttributeName::ApproximateReceiveCount)
            })
            .and_then(|n| n.parse().ok()),
        reason,
    }
}

/// Puts every message of `from` back on `to` as it first came (its body; the last error stays behind): each
/// sent before it is deleted, so a failure midway loses nothing (at worst one message is delivered twice, which
/// onboarding, being idempotent, takes). Returns how many went back; an empty queue is 0, so it is safe to run
/// again.
pub async fn redrive(
    sqs: &aws_sdk_sqs::Client,
    from: &str,
    to: &str,
) -> Result<usize, crate::aws::CallError> {
    use crate::aws::CallError;
    let mut moved = 0;
    loop {
        let got = sqs
            .receive_message()
            .queue_url(from)
            .max_number_of_messages(10)
            // hidden while they move: a second redrive running at the same time does not send them again
            .visibility_timeout(120)
            .send()
            .await
            .map_err(|e| CallError::new("SQS", "ReceiveMessage", from, e))?;
        if got.messages().is_empty() {
            return Ok(moved);
        }
        for m in got.messages() {
            sqs.send_message()
                .queue_url(to)
                .message_body(m.body().unwrap_or_default())
                .send()
                .await
                .map_err(|e| CallError::new("SQS", "SendMessage", to, e))?;
            sqs.delete_message()
                .queue_url(from)
                .receipt_handle(m.receipt_handle().unwrap_or_default())
                .send()
                .await
                .map_err(|e| CallError::new("SQS", "DeleteMessage", from, e))?;
            moved += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::CallError;

    #[test]
    fn the_last_error_names_the_call_its_code_and_message_and_reads_back() {
        let call = CallError::from_parts(
            "SageMaker",
            "DescribeDomain",
            "domain d-1",
            "ThrottlingException",
            "Rate exceeded",
            true,
        );
        let last = LastError::of(&OnboardError::Aws(call), "domain d-1".into(), 10);
        assert_eq!(
            last.reason(),
            "SageMaker DescribeDomain: ThrottlingException: Rate exceeded"
        );
        assert_eq!(LastError::from_attributes(&last.attributes()), Some(last));
        assert_eq!(LastError::from_attributes(&HashMap::new()), None);
    }

    #[test]
    fn a_failure_that_was_no_call_is_named_by_its_message() {
        let e = OnboardError::Project {
            domain: "d-1".into(),
            message: "no".into(),
        };
        let last = LastError::of(&e, "domain d-1".into(), 3);
        assert_eq!(last.reason(), "-: Error: domain d-1: no");
    }
}
