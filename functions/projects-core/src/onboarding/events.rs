//! What an incoming event asks the onboarder to do. CloudTrail events are read tolerantly from raw JSON:
//! `responseElements` may be null, failed calls carry `errorCode`, other accounts and regions are not ours.

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use crate::names::is_domain_id;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Work {
    Domain {
        domain_id: String,
    },
    /// CreateDomain whose response was not recorded: find the domain by name.
    DomainNamed {
        name: String,
    },
    UserProfile {
        domain_id: String,
        profile: String,
    },
    /// A domain that was not ready yet, looked at again after a delay.
    Recheck(Recheck),
    Sweep,
}

impl Work {
    /// What the work is about, in words (`domain d-…`, `user profile d-…/alice`).
    pub fn subject(&self) -> String {
        match self {
            Work::Domain { domain_id } => format!("domain {domain_id}"),
            Work::DomainNamed { name } => format!("domain named {name}"),
            Work::UserProfile { domain_id, profile } => {
                format!("user profile {domain_id}/{profile}")
            }
            Work::Recheck(r) => format!("domain {} (re-check {})", r.domain_id, r.attempt),
            Work::Sweep => "the scheduled sweep".to_owned(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    Work(Work),
    /// Not for us, or unusable: the reason is logged; a retry would not change it.
    Ignore(String),
}

/// The message the onboarder sends itself (through the queue) to look at a domain again; written and read
/// only through this type, as `{"Recheck": {"domain_id": …, "attempt": …, "first_seen": …}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recheck {
    pub domain_id: String,
    /// How many times the domain was looked at so far.
    pub attempt: u32,
    /// When the domain was first seen (Unix seconds): re-checks stop after `RecheckForSeconds`.
    pub first_seen: u64,
}

#[derive(Serialize, Deserialize)]
enum Message {
    Recheck(Recheck),
}

impl Recheck {
    /// The SQS message body.
    pub fn message(&self) -> String {
        serde_json::to_string(&Message::Recheck(self.clone()))
            .expect("a struct of strings and numbers serializes")
    }
}

pub fn parse(event: &Value, account: &str, region: &str) -> Parsed {
    if let Some(text) = lambda_glue::raw_event::unparseable_text(event) {
        return Parsed::Ignore(format!(
            "event is not JSON within the bounds ({})",
            lambda_glue::raw_event::json_error(text)
        ));
    }
    if let Some(recheck) = event.get("Recheck") {
        return match serde_json::from_value::<Message>(event.clone()) {
            Ok(Message::Recheck(r)) if is_domain_id(&r.domain_id) => Parsed::Work(Work::Recheck(r)),
            _ => Parsed::Ignore(format!(
                "malformed re-check message: {}",
                clip(&recheck.to_string())
            )),
        };
    }
    let text = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
    let (source, detail_type) = (text(event, "source"), text(event, "detail-type"));
    match (source.as_deref(), detail_type.as_deref()) {
        (Some("aws.events"), Some("Scheduled Event")) => return Parsed::Work(Work::Sweep),
        (Some("aws.sagemaker"), Some("AWS API Call via CloudTrail")) => {}
        _ => {
            return Parsed::Ignore(
                "not a SageMaker CloudTrail event, a re-check or the schedule".to_owned(),
            )
        }
    }
    let Some(detail) = event.get("detail").filter(|d| d.is_object()) else {
        return Parsed::Ignore("CloudTrail event without a detail object".to_owned());
    };
    if let Some(code) = detail.get("errorCode").filter(|c| !c.is_null()) {
        return Parsed::Ignore(format!(
            "the call failed ({}) : nothing was created",
            clip(&code.to_string())
        ));
    }
    let event_account = text(event, "account").or_else(|| text(detail, "recipientAccountId"));
    if event_account.as_deref().is_some_and(|a| a != account) {
        return Parsed::Ignore(format!(
            "event from account {}, not {account}",
            event_account.unwrap_or_default()
        ));
    }
    let event_region = text(event, "region").or_else(|| text(detail, "awsRegion"));
    if event_region.as_deref().is_some_and(|r| r != region) {
        return Parsed::Ignore(format!(
            "event from region {}, not {region}",
            event_region.unwrap_or_default()
        ));
    }
    let request = detail.get("requestParameters").filter(|r| r.is_object());
    let response = detail.get("responseElements").filter(|r| r.is_object());
    let param = |k: &str| request.and_then(|r| text(r, k));
    let domain_param = || match param("domainId") {
        Some(id) if is_domain_id(&id) => Ok(id),
        Some(id) => Err(Parsed::Ignore(format!(
            "requestParameters.domainId {:?} is not a domain id (d-…)",
            clip(&id)
        ))),
        None => Err(Parsed::Ignore(
            "requestParameters.domainId is missing".to_owned(),
        )),
    };
    match text(detail, "eventName").as_deref() {
        Some("CreateDomain") => {
            let arn = response.and_then(|r| text(r, "domainArn"));
            match arn
                .as_deref()
                .and_then(|a| a.rsplit_once("domain/"))
                .map(|(_, id)| id.to_owned())
            {
                Some(id) if is_domain_id(&id) => Parsed::Work(Work::Domain { domain_id: id }),
                Some(_) => Parsed::Ignore(format!(
                    "responseElements.domainArn {:?} names no domain",
                    arn.unwrap_or_default()
                )),
                None => match param("domainName") {
                    Some(name) => Parsed::Work(Work::DomainNamed { name }),
                    None => Parsed::Ignore(
                        "CreateDomain event names no domain (no domainArn, no domainName)"
                            .to_owned(),
                    ),
                },
            }
        }
        Some("UpdateDomain") => match domain_param() {
            Ok(domain_id) => Parsed::Work(Work::Domain { domain_id }),
            Err(ignore) => ignore,
        },
        Some("CreateUserProfile" | "UpdateUserProfile") => {
            match (domain_param(), param("userProfileName")) {
                (Ok(domain_id), Some(profile)) if is_profile_name(&profile) => {
                    Parsed::Work(Work::UserProfile { domain_id, profile })
                }
                (Ok(_), Some(p)) => Parsed::Ignore(format!(
                    "requestParameters.userProfileName {:?} is not a profile name",
                    clip(&p)
                )),
                (Ok(_), None) => {
                    Parsed::Ignore("requestParameters.userProfileName is missing".to_owned())
                }
                (Err(ignore), _) => ignore,
            }
        }
        other => Parsed::Ignore(format!(
            "event {:?} is not one the onboarder handles",
            other.unwrap_or("")
        )),
    }
}

fn is_profile_name(name: &str) -> bool {
    (1..=63).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-')
}

fn clip(s: &str) -> String {
    cloudformation_custom_resource::shorten(s, 80)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ACCOUNT: &str = "123456789012";
    const REGION: &str = "us-east-1";

    fn trail(name: &str, detail_extra: Value) -> Value {
        let mut detail = json!({"eventSource": "sagemaker.amazonaws.com", "eventName": name, "awsRegion": REGION,
                                "recipientAccountId": ACCOUNT});
        detail
            .as_object_mut()
            .unwrap()
            .extend(detail_extra.as_object().unwrap().clone());
        json!({"source": "aws.sagemaker", "detail-type": "AWS API Call via CloudTrail", "account": ACCOUNT,
               "region": REGION, "detail": detail})
    }

    fn work(e: &Value) -> Work {
        match parse(e, ACCOUNT, REGION) {
            Parsed::Work(w) => w,
            Parsed::Ignore(why) => panic!("ignored: {why}"),
        }
    }

    fn ignored(e: &Value) -> String {
        match parse(e, ACCOUNT, REGION) {
            Parsed::Ignore(why) => why,
            Parsed::Work(w) => panic!("unexpected work {w:?}"),
        }
    }

    #[test]
    fn create_domain_gives_the_domain_from_its_arn_or_its_name() {
        let e = trail(
            "CreateDomain",
            json!({"responseElements": {"domainArn": "arn:aws:sagemaker:us-east-1:123456789012:domain/d-abc123def456"}}),
        );
        assert_eq!(
            work(&e),
            Work::Domain {
                domain_id: "d-abc123def456".into()
            }
        );
        let e = trail(
            "CreateDomain",
            json!({"responseElements": null, "requestParameters": {"domainName": "team-a"}}),
        );
        assert_eq!(
            work(&e),
            Work::DomainNamed {
                name: "team-a".into()
            }
        );
    }

    #[test]
    fn updates_and_user_profiles_read_the_request() {
        let e = trail(
            "UpdateDomain",
            json!({"requestParameters": {"domainId": "d-x1"}}),
        );
        assert_eq!(
            work(&e),
            Work::Domain {
                domain_id: "d-x1".into()
            }
        );
        let e = trail(
            "CreateUserProfile",
            json!({"requestParameters": {"domainId": "d-x1", "userProfileName": "alice"}}),
        );
        assert_eq!(
            work(&e),
            Work::UserProfile {
                domain_id: "d-x1".into(),
                profile: "alice".into()
            }
        );
    }

    #[test]
    fn failed_foreign_and_malformed_events_are_ignored_with_a_reason() {
        let failed = trail(
            "CreateDomain",
            json!({"errorCode": "ValidationException", "responseElements": null}),
        );
        assert!(ignored(&failed).starts_with("the call failed"));
        let mut foreign = trail(
            "UpdateDomain",
            json!({"requestParameters": {"domainId": "d-x1"}}),
        );
        foreign["account"] = json!("999999999999");
        assert_eq!(
            ignored(&foreign),
            "event from account 999999999999, not 123456789012"
        );
        let mut elsewhere = trail(
            "UpdateDomain",
            json!({"requestParameters": {"domainId": "d-x1"}}),
        );
        elsewhere["region"] = json!("eu-west-1");
        assert_eq!(
            ignored(&elsewhere),
            "event from region eu-west-1, not us-east-1"
        );
        assert!(
            ignored(&trail("DeleteDomain", json!({}))).contains("not one the onboarder handles")
        );
        assert!(ignored(&trail(
            "UpdateDomain",
            json!({"requestParameters": {"domainId": "../etc"}})
        ))
        .contains("is not a domain id"));
        assert!(ignored(&trail(
            "CreateUserProfile",
            json!({"requestParameters": {"domainId": "d-x1"}})
        ))
        .contains("userProfileName is missing"));
        assert!(ignored(&trail(
            "CreateDomain",
            json!({"responseElements": {"domainArn": "arn:x"}})
        ))
        .contains("names no domain"));
        assert!(
            ignored(&json!({"source": "aws.s3"})).starts_with("not a SageMaker CloudTrail event")
        );
        assert!(ignored(&json!({"source": "aws.sagemaker", "detail-type": "AWS API Call via CloudTrail", "detail": "x"})).contains("without a detail"));
        assert!(ignored(&json!({"Recheck": {"domain_id": 5}})).starts_with("malformed re-check"));
    }

    #[test]
    fn an_event_past_the_bounds_is_ignored_with_the_reason() {
        let deep = format!("{}{}", "[".repeat(100), "]".repeat(100));
        let event = lambda_glue::raw_event::event_from_body(deep.as_bytes());
        assert_eq!(
            ignored(&event),
            "event is not JSON within the bounds (it nests deeper than 64 levels at byte 64)"
        );
    }

    #[test]
    fn the_schedule_and_rechecks_are_understood() {
        assert_eq!(
            work(&json!({"source": "aws.events", "detail-type": "Scheduled Event"})),
            Work::Sweep
        );
        let recheck = Recheck {
            domain_id: "d-1".into(),
            attempt: 3,
            first_seen: 100,
        };
        let body: Value = serde_json::from_str(&recheck.message()).unwrap();
        assert_eq!(
            body,
            json!({"Recheck": {"domain_id": "d-1", "attempt": 3, "first_seen": 100}})
        );
        assert_eq!(work(&body), Work::Recheck(recheck));
    }
}
