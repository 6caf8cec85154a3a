//! Which version of a template a project runs, and every published version kept addressable.
//!
//! A version is named by its **digest**: the MD5 of the template's content, in hex — the digest the publisher
//! computes to decide whether a template changed ([`crate::templates::content_digest`]), and S3's ETag of an
//! object written in one PutObject without SSE-KMS, so S3 lists it for every version without reading one. Under
//! SSE-KMS the ETag is not the MD5: a listing whose ETags name no project's digest reads each version once
//! ([`TemplateVersions::read_digests`]). The template bucket is versioned: a version stays readable after a newer one
//! replaces it, at `<url>?versionId=<id>` (a version-pinned TemplateURL, which CloudFormation and SageMaker read
//! as that exact object version). Projects carry two tags: [`TEMPLATE_TAG`](crate::labels::TEMPLATE_TAG) (the template's name, its file stem)
//! and [`DIGEST_TAG`](crate::labels::DIGEST_TAG).

use serde::Serialize;

use super::error::LaunchError;
use super::s3_url::{in_region, object_version_id, parse_s3_url, unpinned};
use crate::aws::CallError;

/// How many digest characters are shown; any unique prefix of at least [`MIN_DIGEST_PREFIX`] names a version.
pub const SHORT_DIGEST: usize = 12;
pub const MIN_DIGEST_PREFIX: usize = 6;

/// One stored version of a template object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Version {
    pub digest: String,
    /// S3's VersionId; `None` on a bucket that never had versioning (then only the current content exists).
    pub version_id: Option<String>,
}

impl Version {
    /// From S3's answer: the ETag (quoted MD5) and the VersionId (`null` on an unversioned bucket).
    pub fn from_s3(etag: Option<&str>, version_id: Option<&str>) -> Option<Self> {
        let digest = etag?.trim_matches('"').to_ascii_lowercase();
        if digest.is_empty() {
            return None;
        }
        Some(Self {
            digest,
            version_id: object_version_id(version_id),
        })
    }

    pub fn short(&self) -> &str {
        short(&self.digest)
    }
}

/// The first [`SHORT_DIGEST`] characters of a digest.
pub fn short(digest: &str) -> &str {
    digest.get(..SHORT_DIGEST).unwrap_or(digest)
}

/// Every stored version of one template, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TemplateVersions {
    pub name: String,
    /// The template's URL, unpinned.
    pub url: String,
    pub versions: Vec<Version>,
    /// A delete marker is the latest entry: the template was withdrawn, none is published now.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub withdrawn: bool,
}

impl TemplateVersions {
    /// The version S3 serves without a version id: the one published now (none once withdrawn).
    pub fn current(&self) -> Option<&Version> {
        if self.withdrawn {
            return None;
        }
        self.versions.first()
    }

    /// The version whose digest starts with `digest` (at least [`MIN_DIGEST_PREFIX`] characters, unique).
    pub fn find(&self, digest: &str) -> Result<&Version, LaunchError> {
        let wanted = digest.trim().to_ascii_lowercase();
        let matching: Vec<&Version> = if wanted.len() < MIN_DIGEST_PREFIX {
            Vec::new()
        } else {
            self.versions
                .iter()
                .filter(|v| v.digest.starts_with(&wanted))
                .collect()
        };
        match matching.as_slice() {
            [one] => Ok(one),
            // the same content published twice: the newest of the identical versions
            [first, rest @ ..] if rest.iter().all(|v| v.digest == first.digest) => Ok(first),
            _ => Err(LaunchError::NoSuchVersion {
                template: self.name.clone(),
                digest: digest.to_owned(),
                known: self.known(wanted.len() < MIN_DIGEST_PREFIX),
            }),
        }
    }

    /// Whether a stored version has this digest.
    pub fn knows(&self, digest: &str) -> bool {
        self.versions.iter().any(|v| v.digest == digest)
    }

    /// Names every stored version by its content's MD5, read with one GetObject each. Needed only under SSE-KMS,
    /// where S3's ETag (what the listing named them by) is not the MD5 of the content that projects are tagged
    /// with; callers ask for it when a project's digest is one no listed version has. Returns the requests made.
    pub async fn read_digests(&mut self, s3: &aws_sdk_s3::Client) -> Result<usize, LaunchError> {
        let object = parse_s3_url(&self.url).map_err(LaunchError::Invalid)?;
        let url = format!("s3://{}/{}", object.bucket, object.key);
        for version in &mut self.versions {
            let request = s3
                .get_object()
                .bucket(&object.bucket)
                .key(&object.key)
                .set_version_id(version.version_id.clone())
                .customize();
            let read = |e| LaunchError::TemplateRead {
                name: self.name.clone(),
                url: url.clone(),
                source: e,
            };
            let out = in_region(request, &object)
                .send()
                .await
                .map_err(|e| read(CallError::new("S3", "GetObject", url.as_str(), e)))?;
            let body = out
                .body
                .collect()
                .await
                .map_err(|e| LaunchError::TemplateBody {
                    name: self.name.clone(),
                    reason: e.to_string(),
                })?;
            version.digest = crate::templates::content_digest(&body.into_bytes());
        }
        Ok(self.versions.len())
    }

    fn known(&self, too_short: bool) -> String {
        let mut seen: Vec<&str> = Vec::new();
        for v in &self.versions {
            if !seen.contains(&v.short()) {
                seen.push(v.short());
            }
        }
        let listed = if seen.is_empty() {
            "no versions are stored".to_owned()
        } else {
            format!("published versions, newest first: {}", seen.join(", "))
        };
        if too_short {
            format!("give at least {MIN_DIGEST_PREFIX} characters of the digest; {listed}")
        } else {
            listed
        }
    }
}

/// ListObjectVersions of the template's key (one request per 1,000 versions): every stored version, newest
/// first, without reading any.
pub async fn template_versions(
    s3: &aws_sdk_s3::Client,
    name: &str,
    url: &str,
) -> Result<TemplateVersions, LaunchError> {
    let object = parse_s3_url(url).map_err(LaunchError::Invalid)?;
    let mut versions = Vec::new();
    let mut withdrawn = false;
    let mut markers: (Option<String>, Option<String>) = (None, None);
    loop {
        let request = s3
            .list_object_versions()
            .bucket(&object.bucket)
            .prefix(&object.key)
            .set_key_marker(markers.0.take())
            .set_version_id_marker(markers.1.take())
            .customize();
        let page =
            in_region(request, &object)
                .send()
                .await
                .map_err(|e| LaunchError::TemplateRead {
                    name: name.to_owned(),
                    url: format!("s3://{}/{}", object.bucket, object.key),
                    source: CallError::new(
                        "S3",
                        "ListObjectVersions",
                        format!("s3://{}/{}", object.bucket, object.key),
                        e,
                    ),
                })?;
        // a delete marker as the latest: the template is not published now
        let deleted_now = page
            .delete_markers()
            .iter()
            .any(|m| m.key() == Some(object.key.as_str()) && m.is_latest() == Some(true));
        withdrawn |= deleted_now;
        for v in page.versions() {
            if v.key() != Some(object.key.as_str()) {
                continue;
            }
            if let Some(version) = Version::from_s3(v.e_tag(), v.version_id()) {
                if v.is_latest() == Some(true) && !deleted_now {
                    versions.insert(0, version);
                } else {
                    versions.push(version);
                }
            }
        }
        if page.is_truncated() == Some(true) {
            markers = (
                page.next_key_marker().map(str::to_owned),
                page.next_version_id_marker().map(str::to_owned),
            );
            match markers.0.as_deref() {
                // without a marker the next request would start again from the first page, and so on forever
                None => {
                    return Err(LaunchError::TemplateBody {
                        name: name.to_owned(),
                        reason: format!(
                            "S3 ListObjectVersions of s3://{}/{} answered a truncated page without NextKeyMarker; \
                             stopped rather than list again from the start",
                            object.bucket, object.key
                        ),
                    })
                }
                Some(k) if k != object.key => break,
                Some(_) => {}
            }
        } else {
            break;
        }
    }
    Ok(TemplateVersions {
        name: name.to_owned(),
        url: unpinned(url).to_owned(),
        versions,
        withdrawn,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::projects::testing::object_version;
    use aws_sdk_s3::operation::list_object_versions::ListObjectVersionsOutput;
    use aws_smithy_mocks::{mock, mock_client};

    fn version(digest: &str, id: &str) -> Version {
        Version {
            digest: digest.to_owned(),
            version_id: Some(id.to_owned()),
        }
    }

    #[test]
    fn a_version_is_the_etags_md5_and_the_version_id() {
        let v = Version::from_s3(
            Some("\"0CC175B9C0F1B6A831C399E269772661\""),
            Some("3sL4kqtJ"),
        )
        .unwrap();
        assert_eq!(v, version("0cc175b9c0f1b6a831c399e269772661", "3sL4kqtJ"));
        assert_eq!(v.short(), "0cc175b9c0f1");
        assert_eq!(
            Version::from_s3(Some("\"ab\""), Some("null"))
                .unwrap()
                .version_id,
            None
        );
        assert_eq!(Version::from_s3(None, Some("x")), None);
    }

    #[test]
    fn a_version_is_found_by_a_unique_digest_prefix() {
        let t = TemplateVersions {
            name: "t".into(),
            url: "u".into(),
            versions: vec![
                version("aaaaaa111111", "3"),
                version("aaaaaa222222", "2"),
                version("aaaaaa111111", "1"),
            ],
            withdrawn: false,
        };
        assert_eq!(t.current().unwrap().version_id.as_deref(), Some("3"));
        assert_eq!(t.find("AAAAAA2").unwrap().version_id.as_deref(), Some("2"));
        assert_eq!(
            t.find("aaaaaa111111").unwrap().version_id.as_deref(),
            Some("3")
        );
        let e = t.find("aaaaaa").unwrap_err();
        assert_eq!(
            e.to_string(),
            "template t has no published version aaaaaa; published versions, newest first: aaaaaa111111, aaaaaa222222"
        );
        assert!(e.is_invalid_input());
        assert!(t
            .find("aaa")
            .unwrap_err()
            .to_string()
            .contains("at least 6 characters"));
        assert!(t.find("ffffff").is_err());
    }

    #[tokio::test]
    async fn versions_are_listed_newest_first_for_the_exact_key_only() {
        let list = mock!(aws_sdk_s3::Client::list_object_versions)
            .match_requests(|r| r.bucket() == Some("b") && r.prefix() == Some("t/x.yaml"))
            .then_output(|| {
                let v = object_version;
                ListObjectVersionsOutput::builder()
                    .versions(v("t/x.yaml", "old", "1", false))
                    .versions(v("t/x.yaml", "new", "2", true))
                    .versions(v("t/x.yaml.bak", "bak", "9", true))
                    .build()
            });
        let s3 = mock_client!(aws_sdk_s3, [&list]);
        let t = template_versions(&s3, "x", "https://b.s3.amazonaws.com/t/x.yaml?versionId=1")
            .await
            .unwrap();
        assert_eq!(t.url, "https://b.s3.amazonaws.com/t/x.yaml");
        assert_eq!(t.versions, [version("new", "2"), version("old", "1")]);
        assert_eq!(list.num_calls(), 1);
    }

    #[tokio::test]
    async fn a_template_whose_latest_entry_is_a_delete_marker_has_no_current_version() {
        use aws_sdk_s3::types::DeleteMarkerEntry;
        let list = mock!(aws_sdk_s3::Client::list_object_versions).then_output(|| {
            ListObjectVersionsOutput::builder()
                .delete_markers(
                    DeleteMarkerEntry::builder()
                        .key("t/x.yaml")
                        .version_id("3")
                        .is_latest(true)
                        .build(),
                )
                .versions(object_version("t/x.yaml", "old", "2", false))
                .build()
        });
        let s3 = mock_client!(aws_sdk_s3, [&list]);
        let t = template_versions(&s3, "x", "https://b.s3.amazonaws.com/t/x.yaml")
            .await
            .unwrap();
        assert!(t.withdrawn);
        assert_eq!(t.current(), None, "withdrawn: no project is rolled onto it");
        assert_eq!(
            t.find("old").ok(),
            None,
            "a prefix this short is refused anyway"
        );
        assert!(t.knows("old"), "its stored versions stay known");
    }

    #[tokio::test]
    async fn a_truncated_page_without_a_marker_stops_instead_of_listing_forever() {
        let list = mock!(aws_sdk_s3::Client::list_object_versions).then_output(|| {
            ListObjectVersionsOutput::builder()
                .is_truncated(true)
                .build()
        });
        let s3 = mock_client!(aws_sdk_s3, aws_smithy_mocks::RuleMode::MatchAny, [&list]);
        // (bounded: before the fix this request was repeated forever)
        let listed = template_versions(&s3, "x", "https://b.s3.amazonaws.com/t/x.yaml");
        let e = tokio::time::timeout(std::time::Duration::from_secs(10), listed)
            .await
            .expect("the listing stops")
            .unwrap_err();
        assert!(
            e.to_string()
                .contains("truncated page without NextKeyMarker"),
            "{e}"
        );
        assert_eq!(list.num_calls(), 1);
    }
}
