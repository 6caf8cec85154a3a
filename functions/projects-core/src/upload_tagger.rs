//! Templates uploaded later: on each S3 "Object Created" event for the template bucket, check the object
//! as a project template and tag it visible in Studio — or not, with a short reason.
//!
//! At-least-once and out-of-order delivery are expected: the verdict is written to the exact object version
//! the event names (or, on an unversioned bucket, only while the object still has the event's ETag), so an
//! older event never overrides the verdict for a newer upload; writing the same verdict twice is skipped.

use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::types::{Tag, Tagging};
use aws_sdk_s3::Client as S3;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::aws::{AwsSdkError, CallError, OperationError};
use crate::projects::s3_url::object_version_id;
use crate::publishing::{PUBLISHED_BY_TAG, VISIBILITY_TAG};
use crate::templates::{self, MAX_TEMPLATE_BYTES};

/// Why a template was not made visible, in a form S3 accepts as a tag value.
pub const REJECTED_TAG: &str = "sagemaker-projects-bootstrap:rejected";
/// S3's limit of tags per object.
pub const MAX_TAGS: usize = 10;

/// Which uploads this function looks at: `TEMPLATE_BUCKET` and `TEMPLATE_PREFIX` in the environment.
#[derive(Clone, Debug)]
pub struct Config {
    pub bucket: String,
    pub prefix: String,
}

impl Config {
    pub fn from_env() -> Result<Self, String> {
        let bucket = std::env::var("TEMPLATE_BUCKET")
            .map_err(|_| "TEMPLATE_BUCKET is not set".to_owned())?;
        let prefix = std::env::var("TEMPLATE_PREFIX").unwrap_or_default();
        let bucket = crate::names::bucket("TEMPLATE_BUCKET", &bucket).map_err(|e| e.to_string())?;
        let prefix = crate::names::prefix("TEMPLATE_PREFIX", &prefix).map_err(|e| e.to_string())?;
        Ok(Self { bucket, prefix })
    }
}

#[derive(Debug, Deserialize, Serialize)]
struct Detail {
    bucket: BucketRef,
    object: ObjectRef,
}

#[derive(Debug, Deserialize, Serialize)]
struct BucketRef {
    name: String,
}

#[derive(Debug, Deserialize, Serialize)]
struct ObjectRef {
    key: String,
    /// AWS documents `etag`; moto sends `eTag`.
    #[serde(default, alias = "eTag")]
    etag: Option<String>,
    #[serde(default, rename = "version-id")]
    version_id: Option<String>,
}

type Event = aws_lambda_events::eventbridge::EventBridgeEvent<Detail>;

#[derive(Debug, thiserror::Error)]
pub enum TaggerError {
    #[error(transparent)]
    S3(#[from] CallError),
    /// GetObject answered, then the connection broke while the body was read.
    #[error("S3 GetObject on {key}: reading the object failed: {message}")]
    Read { key: String, message: String },
}

impl TaggerError {
    /// Worth another delivery of the event: throttling, 5xx, a broken connection — not AccessDenied.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::S3(e) => e.retryable,
            Self::Read { .. } => true,
        }
    }
}

fn s3_error<E: OperationError>(
    operation: &'static str,
    key: &str,
    e: AwsSdkError<E>,
) -> TaggerError {
    TaggerError::S3(CallError::new("S3", operation, key, e))
}

fn ignored(why: &str) -> Value {
    tracing::info!(why, "ignored");
    json!({"Ignored": why})
}

/// Handles one event. `Ok` for every event that was dealt with, deliberately ignored (malformed, other
/// bucket, object gone) or failed in a way a retry would not change (AccessDenied: logged and reported).
/// `Err` only for failures worth a retry, so Lambda delivers the event again.
pub async fn handle(s3: &S3, config: &Config, event: Value) -> Result<Value, TaggerError> {
    match judge(s3, config, event).await {
        Err(e) if !e.is_retryable() => {
            tracing::error!(error = %e, "not judged: a retry would fail the same way");
            Ok(json!({"Error": e.to_string()}))
        }
        other => other,
    }
}

/// The object an S3 event asks the tagger to judge.
#[derive(Debug, PartialEq, Eq)]
struct Upload {
    key: String,
    /// The object version the event names (none on an unversioned bucket).
    version: Option<String>,
    /// On an unversioned bucket, the event's ETag, quoted: only that content is judged.
    if_match: Option<String>,
}

/// S3's limit on an object key.
const MAX_KEY_BYTES: usize = 1024;

/// What the event asks to judge, or why it is ignored. Pure, so every event shape is fuzzed
/// (`fuzz_targets::s3_events`).
fn upload_of(config: &Config, event: Value) -> Result<Upload, String> {
    if let Some(text) = lambda_glue::raw_event::unparseable_text(&event) {
        return Err(format!(
            "event is not JSON within the bounds ({}): {}",
            lambda_glue::raw_event::json_error(text),
            cloudformation_custom_resource::shorten(text, 80)
        ));
    }
    let event: Event = serde_json::from_value(event)
        .map_err(|e| format!("not an S3 Object Created event: {e}"))?;
    if event.source != "aws.s3" || event.detail_type != "Object Created" {
        return Err("not an S3 Object Created event".to_owned());
    }
    let object = event.detail.object;
    let key = object.key;
    if event.detail.bucket.name != config.bucket {
        return Err("another bucket".to_owned());
    }
    if key.len() > MAX_KEY_BYTES {
        return Err(format!(
            "the object key is {} bytes; S3 keys hold at most {MAX_KEY_BYTES}",
            key.len()
        ));
    }
    if !key.starts_with(&config.prefix) {
        return Err("outside the template prefix".to_owned());
    }
    if !(key.ends_with(".yaml") || key.ends_with(".yml")) {
        return Err("not a YAML file".to_owned());
    }
    let version = object_version_id(object.version_id.as_deref());
    // on an unversioned bucket, read only the content this event is about
    let if_match = if version.is_none() {
        object.etag.filter(|e| !e.is_empty()).map(|e| {
            if e.starts_with('"') {
                e
            } else {
                format!("\"{e}\"")
            }
        })
    } else {
        None
    };
    Ok(Upload {
        key,
        version,
        if_match,
    })
}

/// [`upload_of`] for the fuzz target, with the configuration `sagemaker-templates` / `templates/`: the key
/// it would judge, or why it ignores the event.
#[cfg(test)]
pub(crate) fn fuzz_upload_of(event: Value) -> Result<String, String> {
    let config = Config {
        bucket: "sagemaker-templates".into(),
        prefix: "templates/".into(),
    };
    upload_of(&config, event).map(|u| u.key)
}

async fn judge(s3: &S3, config: &Config, event: Value) -> Result<Value, TaggerError> {
    let Upload {
        key,
        version,
        if_match,
    } = match upload_of(config, event) {
        Ok(upload) => upload,
        Err(why) => return Ok(ignored(&why)),
    };

    let got = s3
        .get_object()
        .bucket(&config.bucket)
        .key(&key)
        .set_version_id(version.clone())
        .set_if_match(if_match)
        .range(format!("bytes=0-{MAX_TEMPLATE_BYTES}"))
        .send()
        .await;
    let body = match got {
        Ok(out) => out.body.collect().await.map_err(|e| TaggerError::Read {
            key: key.clone(),
            message: e.to_string(),
        })?,
        Err(e) => {
            return match e.as_service_error().and_then(|se| se.code()) {
                Some("NoSuchKey" | "NoSuchVersion" | "NotFound") => {
                    Ok(ignored("the object is gone"))
                }
                Some("PreconditionFailed") => Ok(ignored(
                    "the object changed since this event; its own event follows",
                )),
                _ => Err(s3_error("GetObject", &key, e)),
            };
        }
    };
    let tags = s3
        .get_object_tagging()
        .bucket(&config.bucket)
        .key(&key)
        .set_version_id(version.clone())
        .send()
        .await
        .map_err(|e| s3_error("GetObjectTagging", &key, e))?
        .tag_set;
    if tags.iter().any(|t| t.key == PUBLISHED_BY_TAG) {
        return Ok(ignored("published by this product: already tagged"));
    }

    let verdict = templates::validate(&body.into_bytes());
    let desired = verdict_tags(&tags, verdict.as_ref().err().map(ToString::to_string));
    let (visible, reason) = match &verdict {
        Ok(_) => (true, None),
        Err(e) => (false, Some(e.to_string())),
    };
    lambda_glue::metrics::count(
        if visible {
            lambda_glue::metrics::TEMPLATES_ACCEPTED
        } else {
            lambda_glue::metrics::TEMPLATES_REJECTED
        },
        1,
    );
    let unchanged = same_tags(&tags, &desired);
    if !unchanged {
        let tagging = Tagging::builder()
            .set_tag_set(Some(desired))
            .build()
            .expect("a tagging with a tag set builds");
        s3.put_object_tagging()
            .bucket(&config.bucket)
            .key(&key)
            .set_version_id(version.clone())
            .tagging(tagging)
            .send()
            .await
            .map_err(|e| s3_error("PutObjectTagging", &key, e))?;
    }
    tracing::info!(
        key,
        version = version.as_deref().unwrap_or(""),
        visible,
        reason = reason.as_deref().unwrap_or(""),
        unchanged,
        "verdict"
    );
    Ok(
        json!({"Key": key, "VersionId": version, "Visible": visible, "Reason": reason, "Unchanged": unchanged}),
    )
}

/// The object's tags with our verdict: every foreign tag kept; the reason tag only when invalid and there
/// is room under S3's 10-tag limit (the visibility tag always has room unless 10 foreign tags fill it).
fn verdict_tags(current: &[Tag], rejection: Option<String>) -> Vec<Tag> {
    let mut tags: Vec<Tag> = current
        .iter()
        .filter(|t| t.key != VISIBILITY_TAG && t.key != REJECTED_TAG)
        .cloned()
        .collect();
    let tag = |k: &str, v: &str| Tag::builder().key(k).value(v).build().ok();
    tags.extend(tag(
        VISIBILITY_TAG,
        if rejection.is_some() { "false" } else { "true" },
    ));
    if let Some(reason) = rejection {
        if tags.len() < MAX_TAGS {
            tags.extend(tag(REJECTED_TAG, &tag_value(&reason)));
        }
    }
    tags.truncate(MAX_TAGS);
    tags
}

fn same_tags(a: &[Tag], b: &[Tag]) -> bool {
    let norm = |t: &[Tag]| {
        let mut v: Vec<(String, String)> =
            t.iter().map(|t| (t.key.clone(), t.value.clone())).collect();
        v.sort();
        v
    };
    norm(a) == norm(b)
}

/// S3 tag values: at most 256 of letters, digits, spaces and `+ - = . _ : / @`.
fn tag_value(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_alphanumeric() || " +-=._:/@".contains(c) {
                c
            } else {
                ' '
            }
        })
        .take(256)
        .collect::<String>()
        .trim()
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(k: &str, v: &str) -> Tag {
        Tag::builder().key(k).value(v).build().unwrap()
    }

    #[test]
    fn foreign_tags_are_kept_and_our_verdict_replaces_the_old_one() {
        let current = [
            t("team", "ml"),
            t(VISIBILITY_TAG, "false"),
            t(REJECTED_TAG, "old"),
        ];
        let tags = verdict_tags(&current, None);
        assert!(same_tags(
            &tags,
            &[t("team", "ml"), t(VISIBILITY_TAG, "true")]
        ));
    }

    #[test]
    fn nine_foreign_tags_leave_room_for_the_verdict_but_not_the_reason() {
        let current: Vec<Tag> = (0..9).map(|i| t(&format!("k{i}"), "v")).collect();
        let valid = verdict_tags(&current, None);
        assert_eq!(valid.len(), 10);
        let invalid = verdict_tags(&current, Some("no Resources section".into()));
        assert_eq!(invalid.len(), 10);
        assert!(invalid
            .iter()
            .any(|x| x.key == VISIBILITY_TAG && x.value == "false"));
        assert!(!invalid.iter().any(|x| x.key == REJECTED_TAG));
    }

    #[test]
    fn reasons_become_valid_tag_values() {
        assert_eq!(
            tag_value("parameter `SageMakerProjectId` is not declared!"),
            "parameter  SageMakerProjectId  is not declared"
        );
        assert_eq!(tag_value(&"x".repeat(300)).len(), 256);
    }

    /// An S3 "Object Created" event as AWS documents it.
    fn created(key: &str) -> Value {
        json!({"version": "0", "id": "e-1", "detail-type": "Object Created", "source": "aws.s3",
               "account": "123456789012", "time": "2026-01-01T00:00:00Z", "region": "us-east-1",
               "resources": ["arn:aws:s3:::sagemaker-templates"],
               "detail": {"version": "0", "bucket": {"name": "sagemaker-templates"},
                          "object": {"key": key, "size": 10, "etag": "abc", "sequencer": "1"},
                          "reason": "PutObject"}})
    }

    async fn judge_refused(status: u16, code: &str) -> Result<Value, TaggerError> {
        use aws_smithy_mocks::{mock, mock_client, RuleMode};
        let (status, body) = crate::aws::answers::s3_error(status, code, "no");
        let refused = mock!(aws_sdk_s3::Client::get_object)
            .sequence()
            .http_status(status, body)
            .build();
        let s3 = mock_client!(aws_sdk_s3, RuleMode::MatchAny, [&refused], |c| c
            .retry_config(aws_smithy_types::retry::RetryConfig::disabled()));
        let config = Config {
            bucket: "sagemaker-templates".into(),
            prefix: String::new(),
        };
        handle(&s3, &config, created("team.yaml")).await
    }

    #[tokio::test]
    async fn access_denied_is_reported_and_not_retried() {
        let answer = judge_refused(403, "AccessDenied").await.unwrap();
        assert_eq!(
            answer["Error"],
            "S3 GetObject on team.yaml failed: AccessDenied: no"
        );
    }

    #[tokio::test]
    async fn throttling_and_server_errors_fail_the_invocation_so_lambda_retries_it() {
        for (status, code) in [(503, "SlowDown"), (500, "InternalError")] {
            let e = judge_refused(status, code).await.unwrap_err();
            assert!(e.is_retryable(), "{code}: {e}");
        }
    }

    /// `get` (the object's content) beside an object without tags and a PutObjectTagging that succeeds.
    fn untagged_object(
        get: aws_smithy_mocks::Rule,
    ) -> (
        aws_smithy_mocks::Rule,
        aws_smithy_mocks::Rule,
        aws_smithy_mocks::Rule,
    ) {
        use aws_sdk_s3::operation::get_object_tagging::GetObjectTaggingOutput;
        use aws_sdk_s3::operation::put_object_tagging::PutObjectTaggingOutput;
        use aws_smithy_mocks::mock;

        let tags = mock!(aws_sdk_s3::Client::get_object_tagging).then_output(|| {
            GetObjectTaggingOutput::builder()
                .set_tag_set(Some(vec![]))
                .build()
                .unwrap()
        });
        let put = mock!(aws_sdk_s3::Client::put_object_tagging)
            .then_output(|| PutObjectTaggingOutput::builder().build());
        (get, tags, put)
    }

    #[tokio::test]
    async fn each_verdict_is_counted_as_accepted_or_rejected() {
        use aws_sdk_s3::operation::get_object::GetObjectOutput;
        use aws_sdk_s3::primitives::ByteStream;
        use aws_smithy_mocks::{mock, mock_client, RuleMode};
        use lambda_glue::metrics;

        let config = Config {
            bucket: "sagemaker-templates".into(),
            prefix: String::new(),
        };
        let valid = crate::templates::EMBEDDED[0].1;
        for (content, counted, not_counted) in [
            (
                "just: some notes\n",
                metrics::TEMPLATES_REJECTED,
                metrics::TEMPLATES_ACCEPTED,
            ),
            (
                valid,
                metrics::TEMPLATES_ACCEPTED,
                metrics::TEMPLATES_REJECTED,
            ),
        ] {
            let get = mock!(aws_sdk_s3::Client::get_object).then_output(move || {
                GetObjectOutput::builder()
                    .body(ByteStream::from_static(content.as_bytes()))
                    .build()
            });
            let (get, tags, put) = untagged_object(get);
            let s3 = mock_client!(aws_sdk_s3, RuleMode::MatchAny, [&get, &tags, &put]);
            let (answer, recorded) =
                metrics::capture(handle(&s3, &config, created("team.yaml"))).await;
            assert!(answer.is_ok(), "{answer:?}");
            assert_eq!(recorded.get(counted).map(|v| v.0), Some(1.0), "{answer:?}");
            assert_eq!(recorded.get(not_counted), None);
        }
    }

    mod guard_under_sse_kms {
        //! The version/ETag guard compares S3's ETag with S3's ETag (an opaque token), never with a digest of
        //! the body: it holds under SSE-KMS, whose ETags are not the MD5 of the content.
        use super::*;
        use aws_sdk_s3::operation::get_object::GetObjectOutput;
        use aws_sdk_s3::operation::get_object_tagging::GetObjectTaggingOutput;
        use aws_sdk_s3::operation::put_object_tagging::PutObjectTaggingOutput;
        use aws_sdk_s3::primitives::ByteStream;
        use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};

        const VALID: &str = "Parameters:\n  SageMakerProjectName: {Type: String}\n  SageMakerProjectId: {Type: String}\nResources:\n  B: {Type: AWS::S3::Bucket}\n";
        /// An SSE-KMS ETag as S3 sends it in the event (unquoted) — not the MD5 of VALID.
        const KMS_ETAG: &str = "9e3f0c1d2b4a5968778695a4b3c2d1e0";

        fn event(etag: &str, version: Option<&str>) -> Value {
            let mut e = created("team.yaml");
            e["detail"]["object"]["etag"] = json!(etag);
            if let Some(v) = version {
                e["detail"]["object"]["version-id"] = json!(v);
            }
            e
        }

        async fn judge_with(rules: &[&Rule], event: Value) -> Value {
            let s3 = mock_client!(aws_sdk_s3, RuleMode::MatchAny, rules, |c| c
                .retry_config(aws_smithy_types::retry::RetryConfig::disabled()));
            let config = Config {
                bucket: "sagemaker-templates".into(),
                prefix: String::new(),
            };
            handle(&s3, &config, event).await.unwrap()
        }

        #[tokio::test]
        async fn on_an_unversioned_bucket_the_opaque_etag_is_the_precondition_verbatim() {
            let get = mock!(aws_sdk_s3::Client::get_object)
                .match_requests(|r| {
                    r.if_match() == Some(&format!("\"{KMS_ETAG}\"")) && r.version_id().is_none()
                })
                .then_output(|| {
                    GetObjectOutput::builder()
                        .body(ByteStream::from_static(VALID.as_bytes()))
                        .build()
                });
            let (get, tags, put) = untagged_object(get);
            let answer = judge_with(&[&get, &tags, &put], event(KMS_ETAG, None)).await;
            assert_eq!(answer["Visible"], true, "{answer}");
            assert_eq!((get.num_calls(), put.num_calls()), (1, 1));
        }

        #[tokio::test]
        async fn on_a_versioned_bucket_the_verdict_goes_to_the_events_version_whatever_the_etag() {
            let get = mock!(aws_sdk_s3::Client::get_object)
                .match_requests(|r| r.version_id() == Some("v-7") && r.if_match().is_none())
                .then_output(|| {
                    GetObjectOutput::builder()
                        .body(ByteStream::from_static(VALID.as_bytes()))
                        .build()
                });
            let tags = mock!(aws_sdk_s3::Client::get_object_tagging)
                .match_requests(|r| r.version_id() == Some("v-7"))
                .then_output(|| {
                    GetObjectTaggingOutput::builder()
                        .set_tag_set(Some(vec![]))
                        .build()
                        .unwrap()
                });
            let put = mock!(aws_sdk_s3::Client::put_object_tagging)
                .match_requests(|r| r.version_id() == Some("v-7"))
                .then_output(|| PutObjectTaggingOutput::builder().build());
            let answer = judge_with(&[&get, &tags, &put], event(KMS_ETAG, Some("v-7"))).await;
            assert_eq!(answer["VersionId"], "v-7", "{answer}");
            assert_eq!(
                (get.num_calls(), tags.num_calls(), put.num_calls()),
                (1, 1, 1)
            );
        }
    }
}
