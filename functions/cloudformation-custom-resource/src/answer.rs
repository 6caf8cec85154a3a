//! What one invocation did: the response it decided and what became of its delivery. Returned by
//! [`crate::handle`], and as JSON the invocation's result (what `aws lambda invoke` prints).

use serde::ser::{Serialize, SerializeMap, Serializer};

/// The response decided for one request.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Decided {
    /// SUCCESS (`true`) or FAILED.
    pub succeeded: bool,
    /// The PhysicalResourceId sent.
    pub physical_resource_id: String,
}

impl Serialize for Decided {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(2))?;
        m.serialize_entry("Status", if self.succeeded { "SUCCESS" } else { "FAILED" })?;
        m.serialize_entry("PhysicalResourceId", &self.physical_resource_id)?;
        m.end()
    }
}

/// What [`crate::handle`] did with one event.
///
/// As JSON: `{"Answered": {"Status", "PhysicalResourceId"}, "Attempts": n}` when delivered;
/// `{"Rejected": "<why>"}` when no response could be sent, with `"Answered"` too when the ResponseURL refused
/// the one decided.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Answer {
    /// The response was delivered.
    Delivered {
        /// What was sent.
        response: Decided,
        /// PUTs it took.
        attempts: u32,
    },
    /// No response was delivered and none could be: no usable ResponseURL, or it answered 4xx. Final: the
    /// invocation succeeds, so Lambda does not run the handler again for nothing.
    Rejected {
        /// Why, in words.
        reason: String,
        /// The response that was refused, when one had been decided.
        response: Option<Decided>,
    },
}

impl Answer {
    /// The response decided, delivered or not (none for an event that could not be answered at all).
    pub fn decided(&self) -> Option<&Decided> {
        match self {
            Self::Delivered { response, .. } => Some(response),
            Self::Rejected { response, .. } => response.as_ref(),
        }
    }
}

impl Serialize for Answer {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        match self {
            Self::Delivered { response, attempts } => {
                m.serialize_entry("Answered", response)?;
                m.serialize_entry("Attempts", attempts)?;
            }
            Self::Rejected { reason, response } => {
                m.serialize_entry("Rejected", reason)?;
                if let Some(response) = response {
                    m.serialize_entry("Answered", response)?;
                }
            }
        }
        m.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn decided(succeeded: bool) -> Decided {
        Decided {
            succeeded,
            physical_resource_id: "p-1".into(),
        }
    }

    #[test]
    fn an_answer_is_the_invocations_result_as_json() {
        let delivered = Answer::Delivered {
            response: decided(true),
            attempts: 2,
        };
        assert_eq!(
            serde_json::to_value(&delivered).unwrap(),
            json!({"Answered": {"Status": "SUCCESS", "PhysicalResourceId": "p-1"}, "Attempts": 2})
        );
        let refused = Answer::Rejected {
            reason: "HTTP 403".into(),
            response: Some(decided(false)),
        };
        assert_eq!(
            serde_json::to_value(&refused).unwrap(),
            json!({"Rejected": "HTTP 403", "Answered": {"Status": "FAILED", "PhysicalResourceId": "p-1"}})
        );
        let unanswerable = Answer::Rejected {
            reason: "no ResponseURL".into(),
            response: None,
        };
        assert_eq!(
            serde_json::to_value(&unanswerable).unwrap(),
            json!({"Rejected": "no ResponseURL"})
        );
        assert_eq!(unanswerable.decided(), None);
        assert_eq!(refused.decided(), Some(&decided(false)));
    }
}
