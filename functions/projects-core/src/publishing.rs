//! Publishing a template set to S3: one tagged PutObject per new or changed template, nothing for unchanged
//! ones, removal of what this owner published earlier that left the set — and never a write to an object
//! some other owner (or a person) put there.
//!
//! Change detection survives any encryption. Every PutObject asks S3 for a SHA-256 checksum of the body
//! (`ChecksumAlgorithm=SHA256`: S3 verifies it on write and keeps it with the object, encrypted or not).
//! ListObjectsV2 returns ETags but never checksum values, so an object is unchanged when its listed ETag is
//! the MD5 of our content (SSE-S3 or no encryption: the single list is all it takes) or, when it is not (an
//! SSE-KMS ETag is not the MD5 of anything we can compute), when one `HeadObject` with `ChecksumMode=ENABLED`
//! answers S3's stored SHA-256 equal to ours. An object written without a SHA-256 checksum is rewritten once.

use std::collections::HashMap;

use aws_sdk_s3::operation::head_object::{HeadObjectError, HeadObjectOutput};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{ChecksumAlgorithm, ChecksumMode, Delete, ObjectIdentifier};
use aws_sdk_s3::Client as S3;
use futures::stream::{self, StreamExt, TryStreamExt};

use crate::aws::{AwsSdkError, CallError, OperationError};
use crate::names::{self, NameError};
use crate::projects::s3_url::object_version_id;
use crate::templates;

/// Tag Studio looks for on each template object (the same key it lists projects by).
pub const VISIBILITY_TAG: &str = crate::labels::STUDIO_VISIBILITY_TAG;
/// Tag naming who published an object (an owner scope); only that owner ever rewrites or removes it.
pub const PUBLISHED_BY_TAG: &str = "sagemaker-projects-bootstrap:published-by";
/// How many PutObject requests run at once.
pub const CONCURRENCY: usize = 16;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Location {
    pub bucket: String,
    /// "" or "something/"
    pub prefix: String,
}

impl Location {
    pub fn key(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    /// Reads `s3://<bucket>` or `s3://<bucket>/<prefix>/`, what [`Self::s3_uri`] writes; `field` names the value
    /// in errors.
    pub fn parse(field: &'static str, uri: &str) -> Result<Self, NameError> {
        let rest = uri
            .strip_prefix("s3://")
            .ok_or_else(|| NameError::Location {
                field,
                value: uri.to_owned(),
            })?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        Ok(Self {
            bucket: names::bucket(field, bucket)?,
            prefix: names::prefix(field, prefix)?,
        })
    }

    /// The value of the domain tag `sagemaker:projectS3TemplatesLocation`.
    pub fn s3_uri(&self) -> String {
        match self.prefix.as_str() {
            "" => format!("s3://{}", self.bucket),
            prefix => format!("s3://{}/{prefix}", self.bucket),
        }
    }

    /// The TemplateURL CreateProject takes for one template.
    pub fn https_url(&self, region: &str, name: &str) -> String {
        let suffix = if region.starts_with("cn-") { ".cn" } else { "" };
        format!(
            "https://{}.s3.{region}.amazonaws.com{suffix}/{}",
            self.bucket,
            self.key(name)
        )
    }
}

#[derive(Clone, Debug)]
pub struct Template {
    pub name: String,
    pub content: Vec<u8>,
    etag: String,
    /// base64 SHA-256 of the content, as S3 reports `ChecksumSHA256`
    sha256: String,
}

impl Template {
    pub fn new(name: &str, content: Vec<u8>) -> Self {
        let etag = templates::etag(&content);
        let sha256 = templates::checksum_sha256(&content);
        Self {
            name: name.to_owned(),
            content,
            etag,
            sha256,
        }
    }

    /// `build-train-codepipeline.yaml` → `BuildTrainCodepipeline` (for `!GetAtt Templates.<Name>Url`).
    pub fn attribute_name(&self) -> String {
        let stem = self
            .name
            .rsplit_once('.')
            .map_or(self.name.as_str(), |(s, _)| s);
        stem.split(|c: char| !c.is_ascii_alphanumeric())
            .filter(|w| !w.is_empty())
            .map(|w| w[..1].to_ascii_uppercase() + &w[1..])
            .collect()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error("s3://{bucket}/{key} exists and was not published by this stack; refusing to overwrite it (move it, or publish under another Prefix)")]
    Foreign { bucket: String, key: String },
    #[error(transparent)]
    S3(#[from] CallError),
    /// DeleteObjects answered, but kept this object.
    #[error("S3 DeleteObjects kept s3://{bucket}/{key}: {code}: {message}")]
    NotDeleted {
        bucket: String,
        key: String,
        code: String,
        message: String,
    },
}

fn s3_error<E: OperationError>(
    operation: &'static str,
    loc: &Location,
    key: &str,
    e: AwsSdkError<E>,
) -> PublishError {
    let target = format!("s3://{}/{key}", loc.bucket);
    PublishError::S3(CallError::new("S3", operation, target, e))
}

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Report {
    pub written: usize,
    pub unchanged: usize,
    pub removed: usize,
}

/// Listed objects under the prefix: key → ETag (S3's ETag; the MD5 of the content only without SSE-KMS).
async fn list(s3: &S3, loc: &Location) -> Result<HashMap<String, String>, PublishError> {
    let mut found = HashMap::new();
    let mut pages = s3
        .list_objects_v2()
        .bucket(&loc.bucket)
        .prefix(&loc.prefix)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| s3_error("ListObjectsV2", loc, &loc.prefix, e))?;
        for o in page.contents.unwrap_or_default() {
            if let Some(key) = o.key {
                found.insert(key, o.e_tag.unwrap_or_default());
            }
        }
    }
    Ok(found)
}

async fn published_by(s3: &S3, loc: &Location, key: &str) -> Result<Option<String>, PublishError> {
    let out = s3
        .get_object_tagging()
        .bucket(&loc.bucket)
        .key(key)
        .send()
        .await
        .map_err(|e| s3_error("GetObjectTagging", loc, key, e))?;
    Ok(out
        .tag_set
        .into_iter()
        .find(|t| t.key == PUBLISHED_BY_TAG)
        .map(|t| t.value))
}

/// HeadObject asking for S3's stored checksum (S3 leaves it out otherwise).
async fn head(
    s3: &S3,
    loc: &Location,
    key: &str,
) -> Result<HeadObjectOutput, AwsSdkError<HeadObjectError>> {
    s3.head_object()
        .bucket(&loc.bucket)
        .key(key)
        .checksum_mode(ChecksumMode::Enabled)
        .send()
        .await
}

/// S3's SHA-256 checksum of the object (base64), if it was written with one. One HeadObject.
async fn stored_sha256(s3: &S3, loc: &Location, key: &str) -> Result<Option<String>, PublishError> {
    let out = head(s3, loc, key)
        .await
        .map_err(|e| s3_error("HeadObject", loc, key, e))?;
    Ok(out.checksum_sha256)
}

/// What the bucket serves at a key now, compared with some content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Served {
    /// Exactly that content, in this S3 version (`None` on a bucket that was never versioned).
    Same { version_id: Option<String> },
    /// Other content (another build's publish in progress, or an upload over it), or nothing at all.
    Other,
}

/// Whether `key` holds exactly `content` now, and in which version: its ETag is the content's MD5 (SSE-S3), or S3's
/// stored SHA-256 is the content's (SSE-KMS, where the ETag is not an MD5). One HeadObject.
pub async fn served(
    s3: &S3,
    loc: &Location,
    key: &str,
    content: &[u8],
) -> Result<Served, PublishError> {
    let out = match head(s3, loc, key).await {
        Ok(out) => out,
        Err(e) if e.as_service_error().is_some_and(|se| se.is_not_found()) => {
            return Ok(Served::Other)
        }
        Err(e) => return Err(s3_error("HeadObject", loc, key, e)),
    };
    let same = out.e_tag() == Some(templates::etag(content).as_str())
        || out.checksum_sha256() == Some(templates::checksum_sha256(content).as_str());
    Ok(if same {
        Served::Same {
            version_id: object_version_id(out.version_id()),
        }
    } else {
        Served::Other
    })
}

/// Whether the listed object holds `t`'s content: its ETag is our MD5 (no request), or else S3's stored
/// SHA-256 equals ours (one HeadObject).
async fn holds(
    s3: &S3,
    loc: &Location,
    key: &str,
    etag: &str,
    t: &Template,
) -> Result<bool, PublishError> {
    if etag == t.etag {
        return Ok(true);
    }
    Ok(stored_sha256(s3, loc, key).await?.as_deref() == Some(t.sha256.as_str()))
}

fn is_template_key(key: &str) -> bool {
    key.ends_with(".yaml")
        || key.ends_with(".yml")
        || key.ends_with(".json")
        || key.ends_with(".template")
}

/// Makes the prefix hold exactly `set` for `owner`: reads first (list; ownership only where an object
/// differs or is a candidate for removal), refuses before any write if a foreign object is in the way.
pub async fn publish(
    s3: &S3,
    loc: &Location,
    owner: &str,
    set: &[Template],
) -> Result<Report, PublishError> {
    let mut existing = list(s3, loc).await?;
    let mut to_write = Vec::new();
    let mut report = Report::default();
    // indices, not references: a closure over `&Template` trips the Send check of the handler's future
    for (i, t) in set.iter().enumerate() {
        let key = loc.key(&t.name);
        let Some(etag) = existing.remove(&key) else {
            to_write.push(i);
            continue;
        };
        if holds(s3, loc, &key, &etag, t).await? {
            report.unchanged += 1;
        } else if published_by(s3, loc, &key).await?.as_deref() == Some(owner) {
            to_write.push(i);
        } else {
            return Err(PublishError::Foreign {
                bucket: loc.bucket.clone(),
                key,
            });
        }
    }
    // whatever is left under the prefix is not in the set: ours goes, the rest stays
    let mut to_remove = Vec::new();
    for key in existing.into_keys().filter(|k| is_template_key(k)) {
        if published_by(s3, loc, &key).await?.as_deref() == Some(owner) {
            to_remove.push(key);
        }
    }
    let tagging = format!(
        "{}=true&{}={owner}",
        encode(VISIBILITY_TAG),
        encode(PUBLISHED_BY_TAG)
    );
    report.written = stream::iter(to_write)
        .map(|i| {
            let t = &set[i];
            let key = loc.key(&t.name);
            let put = s3
                .put_object()
                .bucket(&loc.bucket)
                .key(&key)
                .content_type("application/x-yaml")
                .tagging(&tagging)
                // the SDK computes it, S3 verifies it and keeps it: the digest a later publish compares
                .checksum_algorithm(ChecksumAlgorithm::Sha256)
                .body(ByteStream::from(t.content.clone()))
                .send();
            async move {
                put.await
                    .map(|_| 1)
                    .map_err(|e| s3_error("PutObject", loc, &key, e))
            }
        })
        .buffer_unordered(CONCURRENCY)
        .try_fold(0, |n, one| async move { Ok(n + one) })
        .await?;
    report.removed = remove(s3, loc, to_remove).await?;
    Ok(report)
}

/// Removes every template object under the prefix that `owner` published; leaves all others.
pub async fn unpublish(s3: &S3, loc: &Location, owner: &str) -> Result<usize, PublishError> {
    let existing = match list(s3, loc).await {
        Err(PublishError::S3(e)) if e.is("NoSuchBucket") => return Ok(0),
        other => other?,
    };
    let mut ours = Vec::new();
    for key in existing.into_keys().filter(|k| is_template_key(k)) {
        if published_by(s3, loc, &key).await?.as_deref() == Some(owner) {
            ours.push(key);
        }
    }
    remove(s3, loc, ours).await
}

async fn remove(s3: &S3, loc: &Location, keys: Vec<String>) -> Result<usize, PublishError> {
    let mut removed = 0;
    // DeleteObjects takes at most 1,000 keys a request
    for chunk in keys.chunks(1000) {
        let objects = chunk
            .iter()
            .map(|k| {
                ObjectIdentifier::builder()
                    .key(k)
                    .build()
                    .expect("an object identifier with a key builds")
            })
            .collect();
        let delete = Delete::builder()
            .set_objects(Some(objects))
            .quiet(true)
            .build()
            .expect("a delete with objects builds");
        let out = s3
            .delete_objects()
            .bucket(&loc.bucket)
            .delete(delete)
            .send()
            .await
            .map_err(|e| s3_error("DeleteObjects", loc, &chunk[0], e))?;
        if let Some(err) = out.errors.unwrap_or_default().into_iter().next() {
            return Err(PublishError::NotDeleted {
                bucket: loc.bucket.clone(),
                key: err.key.unwrap_or_default(),
                code: err.code.unwrap_or_default(),
                message: err.message.unwrap_or_default(),
            });
        }
        removed += chunk.len();
    }
    Ok(removed)
}

fn encode(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_give_the_domain_tag_and_template_urls() {
        let loc = Location {
            bucket: "sagemaker-t".into(),
            prefix: "templates/".into(),
        };
        assert_eq!(loc.s3_uri(), "s3://sagemaker-t/templates/");
        assert_eq!(
            loc.https_url("eu-west-1", "a.yaml"),
            "https://sagemaker-t.s3.eu-west-1.amazonaws.com/templates/a.yaml"
        );
        assert_eq!(
            Location {
                bucket: "b".into(),
                prefix: String::new()
            }
            .s3_uri(),
            "s3://b"
        );
    }

    #[test]
    fn attribute_names_are_pascal_case_of_the_file_stem() {
        let t = Template::new("build-train-deploy-codepipeline.yaml", vec![]);
        assert_eq!(t.attribute_name(), "BuildTrainDeployCodepipeline");
    }

    #[test]
    fn tags_are_url_encoded_for_the_tagging_header() {
        assert_eq!(encode(VISIBILITY_TAG), "sagemaker%3Astudio%2Dvisibility");
    }

    mod change_detection {
        //! What each publish asks S3, with SSE-KMS ETags (not the MD5 of the content) the emulator cannot show.
        use super::super::*;
        use aws_sdk_s3::operation::get_object_tagging::GetObjectTaggingOutput;
        use aws_sdk_s3::operation::head_object::HeadObjectOutput;
        use aws_sdk_s3::operation::list_objects_v2::ListObjectsV2Output;
        use aws_sdk_s3::operation::put_object::PutObjectOutput;
        use aws_sdk_s3::types::{Object, Tag};
        use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};
        use aws_smithy_types::retry::RetryConfig;

        const OWNER: &str = "stack-abc";
        /// What S3 answers as the ETag of an SSE-KMS object: opaque, not the MD5 of the content.
        const KMS_ETAG: &str = "\"4b7c1a0e9d2f3a5b6c7d8e9f0a1b2c3d\"";

        fn loc() -> Location {
            Location {
                bucket: "sagemaker-t".into(),
                prefix: "templates/".into(),
            }
        }

        fn set() -> Vec<Template> {
            vec![
                Template::new("a.yaml", b"Resources: {A: 1}\n".to_vec()),
                Template::new("b.yaml", b"Resources: {B: 2}\n".to_vec()),
            ]
        }

        fn listed(etags: Vec<(&'static str, String)>) -> Rule {
            mock!(aws_sdk_s3::Client::list_objects_v2).then_output(move || {
                let mut out = ListObjectsV2Output::builder();
                for (key, etag) in &etags {
                    out = out.contents(Object::builder().key(*key).e_tag(etag).build());
                }
                out.build()
            })
        }

        /// HeadObject answering S3's stored checksum of each key (`None`: written without one); only when
        /// asked with `ChecksumMode=ENABLED` (S3 leaves the checksum out otherwise).
        fn head(checksums: Vec<(&'static str, Option<String>)>) -> Rule {
            mock!(aws_sdk_s3::Client::head_object)
                .match_requests(|r| r.checksum_mode() == Some(&ChecksumMode::Enabled))
                .then_compute_output(move |r| {
                    let checksum = checksums
                        .iter()
                        .find(|(k, _)| r.key() == Some(*k))
                        .and_then(|(_, c)| c.clone());
                    HeadObjectOutput::builder()
                        .e_tag(KMS_ETAG)
                        .set_checksum_sha256(checksum)
                        .build()
                })
        }

        /// What `served` says of key `a.yaml` (holding `b"Resources: {A: 1}\n"`) when HeadObject answers this.
        async fn served_when(etag: &str, checksum: Option<&str>) -> Served {
            let (etag, checksum) = (etag.to_owned(), checksum.map(str::to_owned));
            let rule = mock!(aws_sdk_s3::Client::head_object)
                .match_requests(|r| r.checksum_mode() == Some(&ChecksumMode::Enabled))
                .then_output(move || {
                    HeadObjectOutput::builder()
                        .e_tag(&etag)
                        .set_checksum_sha256(checksum.clone())
                        .version_id("v-7")
                        .build()
                });
            let s3 = mock_client!(aws_sdk_s3, RuleMode::MatchAny, [&rule]);
            served(&s3, &loc(), "templates/a.yaml", b"Resources: {A: 1}\n")
                .await
                .unwrap()
        }

        #[tokio::test]
        async fn the_served_version_is_known_by_its_md5_or_under_sse_kms_by_its_sha256() {
            let content = b"Resources: {A: 1}\n";
            let ours = Served::Same {
                version_id: Some("v-7".into()),
            };
            assert_eq!(served_when(&templates::etag(content), None).await, ours);
            let sha = templates::checksum_sha256(content);
            assert_eq!(served_when(KMS_ETAG, Some(&sha)).await, ours);
            // another content (an upload over it, another build's publish): no version of ours to pin
            let other = templates::checksum_sha256(b"Resources: {Evil: 1}\n");
            assert_eq!(served_when(KMS_ETAG, Some(&other)).await, Served::Other);
            assert_eq!(served_when(KMS_ETAG, None).await, Served::Other);
        }

        fn ours() -> Rule {
            mock!(aws_sdk_s3::Client::get_object_tagging).then_output(|| {
                GetObjectTaggingOutput::builder()
                    .tag_set(
                        Tag::builder()
                            .key(PUBLISHED_BY_TAG)
                            .value(OWNER)
                            .build()
                            .unwrap(),
                    )
                    .build()
                    .unwrap()
            })
        }

        fn put() -> Rule {
            mock!(aws_sdk_s3::Client::put_object)
                .match_requests(|r| r.checksum_algorithm() == Some(&ChecksumAlgorithm::Sha256))
                .then_output(|| PutObjectOutput::builder().e_tag(KMS_ETAG).build())
        }

        async fn publish_with(rules: &[&Rule]) -> Result<Report, PublishError> {
            let s3 = mock_client!(aws_sdk_s3, RuleMode::MatchAny, rules, |c| c
                .retry_config(RetryConfig::disabled()));
            publish(&s3, &loc(), OWNER, &set()).await
        }

        #[tokio::test]
        async fn unencrypted_or_sse_s3_objects_whose_etag_is_the_md5_cost_one_list_and_nothing_else(
        ) {
            let t = set();
            let (list, head, tags, put) = (
                listed(vec![
                    ("templates/a.yaml", t[0].etag.clone()),
                    ("templates/b.yaml", t[1].etag.clone()),
                ]),
                head(vec![("templates/a.yaml", None)]),
                ours(),
                put(),
            );
            let report = publish_with(&[&list, &head, &tags, &put]).await.unwrap();
            assert_eq!(report.unchanged, 2);
            assert_eq!(
                (
                    list.num_calls(),
                    head.num_calls(),
                    tags.num_calls(),
                    put.num_calls()
                ),
                (1, 0, 0, 0)
            );
        }

        #[tokio::test]
        async fn under_sse_kms_s3s_sha256_tells_the_unchanged_template_from_the_changed_one() {
            let t = set();
            let (list, head, tags, put) = (
                listed(vec![
                    ("templates/a.yaml", KMS_ETAG.into()),
                    ("templates/b.yaml", KMS_ETAG.into()),
                ]),
                head(vec![
                    ("templates/a.yaml", Some(t[0].sha256.clone())),
                    ("templates/b.yaml", Some(t[0].sha256.clone())),
                ]),
                ours(),
                put(),
            );
            // b holds a's content: only a is unchanged; b is ours, so it is rewritten
            let report = publish_with(&[&list, &head, &tags, &put]).await.unwrap();
            assert_eq!((report.unchanged, report.written), (1, 1));
            assert_eq!(
                (
                    list.num_calls(),
                    head.num_calls(),
                    tags.num_calls(),
                    put.num_calls()
                ),
                (1, 2, 1, 1)
            );
        }

        #[tokio::test]
        async fn under_sse_kms_a_set_that_is_all_unchanged_writes_nothing() {
            let same = Template::new("a.yaml", b"Resources: {A: 1}\n".to_vec());
            let s3 = mock_client!(
                aws_sdk_s3,
                RuleMode::MatchAny,
                &[
                    &listed(vec![("templates/a.yaml", KMS_ETAG.into())]),
                    &head(vec![("templates/a.yaml", Some(same.sha256.clone()))]),
                ],
                |c| c.retry_config(RetryConfig::disabled())
            );
            let report = publish(&s3, &loc(), OWNER, &[same]).await.unwrap();
            assert_eq!(
                report,
                Report {
                    written: 0,
                    unchanged: 1,
                    removed: 0
                }
            );
        }

        #[tokio::test]
        async fn an_object_written_without_a_checksum_is_rewritten_once_with_sha256() {
            let (list, head, tags, put) = (
                listed(vec![("templates/a.yaml", KMS_ETAG.into())]),
                head(vec![("templates/a.yaml", None)]),
                ours(),
                put(),
            );
            let s3 = mock_client!(
                aws_sdk_s3,
                RuleMode::MatchAny,
                &[&list, &head, &tags, &put],
                |c| c.retry_config(RetryConfig::disabled())
            );
            let a = Template::new("a.yaml", b"Resources: {A: 1}\n".to_vec());
            let report = publish(&s3, &loc(), OWNER, &[a]).await.unwrap();
            assert_eq!(report.written, 1);
            // PutObject matched only with ChecksumAlgorithm=SHA256
            assert_eq!(
                (head.num_calls(), tags.num_calls(), put.num_calls()),
                (1, 1, 1)
            );
        }

        #[tokio::test]
        async fn a_changed_sse_kms_object_of_someone_else_is_refused_before_any_write() {
            let other = mock!(aws_sdk_s3::Client::get_object_tagging).then_output(|| {
                GetObjectTaggingOutput::builder()
                    .set_tag_set(Some(vec![]))
                    .build()
                    .unwrap()
            });
            let (list, head, put) = (
                listed(vec![("templates/a.yaml", KMS_ETAG.into())]),
                head(vec![(
                    "templates/a.yaml",
                    Some("c29tZXRoaW5nIGVsc2U=".into()),
                )]),
                put(),
            );
            let e = publish_with(&[&list, &head, &other, &put])
                .await
                .unwrap_err();
            assert!(matches!(e, PublishError::Foreign { .. }), "{e}");
            assert_eq!(put.num_calls(), 0);
        }
    }
}
