//! S3 object URLs as CreateProject takes them, pinned to one object version or not, and the template names
//! derived from them.

use aws_sdk_s3::client::customize::CustomizableOperation;
use aws_sdk_s3::config::Region;
use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use crate::labels::template_label;
use crate::names;

/// A query value: everything but RFC 3986's unreserved characters is percent-encoded.
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// S3's VersionId as a version to pin to: `null` (an object of a bucket that never had versioning, or written
/// before it) and an empty value name none.
pub fn object_version_id(raw: Option<&str>) -> Option<String> {
    raw.filter(|v| !v.is_empty() && *v != "null")
        .map(str::to_owned)
}

/// `url` without its query (a version pin) or fragment.
pub fn unpinned(url: &str) -> &str {
    url.split(['?', '#']).next().unwrap_or(url)
}

/// `url` pinned to one object version (`…/x.yaml?versionId=…`); unchanged without a version id.
pub fn pinned_url(url: &str, version_id: Option<&str>) -> String {
    let base = unpinned(url);
    match version_id {
        Some(id) => format!("{base}?versionId={}", utf8_percent_encode(id, QUERY_VALUE)),
        None => base.to_owned(),
    }
}

/// The version id a TemplateURL is pinned to, if any.
pub fn url_version_id(url: &str) -> Option<String> {
    let query = url.split_once('?')?.1.split('#').next()?;
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k == "versionId").then(|| percent_decode_str(v).decode_utf8_lossy().into_owned())
    })
}

/// The object an https S3 URL points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Object {
    pub bucket: String,
    pub key: String,
    /// The region named in the host, when it names one (`bucket.s3.eu-west-1.amazonaws.com`).
    pub region: Option<String>,
}

/// CreateProject's limit on a TemplateURL.
pub const MAX_URL_BYTES: usize = 1024;

const URL_FORMS: &str = "expected https://BUCKET.s3.REGION.amazonaws.com/KEY or https://s3.REGION.amazonaws.com/BUCKET/KEY";

/// Parses an S3 object URL in virtual-hosted style (`https://b.s3.us-east-1.amazonaws.com/k`,
/// `https://b.s3.amazonaws.com/k`, legacy `b.s3-eu-west-1`, `dualstack`) or path style
/// (`https://s3.us-east-1.amazonaws.com/b/k`). The key is percent-decoded. China regions (`.amazonaws.com.cn`)
/// are accepted; website, access-point and non-https URLs are not (CreateProject takes https only).
pub fn parse_s3_url(url: &str) -> Result<S3Object, String> {
    let bad = |why: &str| {
        let shown = cloudformation_custom_resource::shorten(url, 160);
        format!("{shown:?} is not an S3 object URL ({why}); {URL_FORMS}")
    };
    if url.len() > MAX_URL_BYTES {
        return Err(bad(&format!(
            "{} bytes; CreateProject takes a TemplateURL of at most {MAX_URL_BYTES}",
            url.len()
        )));
    }
    let rest = url
        .get(..8)
        .filter(|s| s.eq_ignore_ascii_case("https://"))
        .map(|_| &url[8..])
        .ok_or_else(|| bad("not https"))?;
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    let path = path.split(['?', '#']).next().unwrap_or("");
    if host.contains(['@', ':']) {
        return Err(bad("unexpected user or port in the host"));
    }
    let host = host.to_ascii_lowercase();
    let stem = host
        .strip_suffix(".amazonaws.com")
        .or_else(|| host.strip_suffix(".amazonaws.com.cn"))
        .ok_or_else(|| bad("the host is not amazonaws.com"))?;
    let labels: Vec<&str> = stem.split('.').collect();
    // the S3 label: "s3" or "s3-<region>", followed by nothing, <region>, or dualstack.<region>
    let s3_at = (0..labels.len())
        .rev()
        .find(|&i| {
            let after = &labels[i + 1..];
            let tail_ok = match after {
                [] => true,
                [r] => names::is_region(r),
                ["dualstack", r] => names::is_region(r),
                _ => false,
            };
            // s3-external-1: us-east-1's legacy endpoint
            tail_ok
                && (labels[i] == "s3"
                    || labels[i] == "s3-external-1"
                    || labels[i].strip_prefix("s3-").is_some_and(names::is_region))
        })
        .ok_or_else(|| bad("no s3 endpoint in the host"))?;
    let region = labels[s3_at]
        .strip_prefix("s3-")
        .or_else(|| labels[s3_at + 1..].last().copied())
        .filter(|r| *r != "external-1")
        .map(str::to_owned);
    let (bucket, raw_key) = if s3_at == 0 {
        path.split_once('/').unwrap_or((path, ""))
    } else {
        (
            &stem[..stem.len() - labels[s3_at..].join(".").len() - 1],
            path,
        )
    };
    let bucket = percent_decode_str(bucket)
        .decode_utf8()
        .map_err(|_| bad("the bucket is not UTF-8"))?
        .into_owned();
    let key = percent_decode_str(raw_key)
        .decode_utf8()
        .map_err(|_| bad("the key is not UTF-8"))?
        .into_owned();
    if bucket.is_empty() || key.is_empty() || key.ends_with('/') {
        return Err(bad("no bucket and object key"));
    }
    Ok(S3Object {
        bucket,
        key,
        region,
    })
}

/// The request sent to the region the object's URL names (an S3 client answers a bucket of another region
/// with a redirect, not the object).
pub(crate) fn in_region<T, E, B>(
    request: CustomizableOperation<T, E, B>,
    object: &S3Object,
) -> CustomizableOperation<T, E, B> {
    match &object.region {
        Some(region) => request.config_override(
            aws_sdk_s3::config::Builder::default().region(Region::new(region.clone())),
        ),
        None => request,
    }
}

/// A template's name: its object's file name without the extension (`…/deploy-codepipeline.yaml` →
/// `deploy-codepipeline`).
pub fn template_stem(key: &str) -> &str {
    let file = key.rsplit('/').next().unwrap_or(key);
    match file.rsplit_once('.') {
        Some((stem, _)) if !stem.is_empty() => stem,
        _ => file,
    }
}

/// CreateProject's TemplateName for a template: at most 32 of `[a-zA-Z0-9-]`, starting and ending with a
/// letter or digit (the label onboarding uses, after other characters become `-`).
pub fn template_name(stem: &str) -> String {
    let cleaned: String = stem
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let label = template_label(cleaned.trim_start_matches('-'));
    if label.is_empty() {
        "template".to_owned()
    } else {
        label
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::templates;

    #[test]
    fn a_pinned_url_names_the_version_and_reads_back() {
        let url = "https://b.s3.us-east-1.amazonaws.com/t/x.yaml";
        let pinned = pinned_url(url, Some("a+b/c=.-_"));
        assert_eq!(pinned, format!("{url}?versionId=a%2Bb%2Fc%3D.-_"));
        assert_eq!(url_version_id(&pinned).as_deref(), Some("a+b/c=.-_"));
        assert_eq!(
            pinned_url(&pinned, Some("v2")),
            format!("{url}?versionId=v2")
        );
        assert_eq!(url_version_id(url), None);
        assert_eq!(pinned_url(&pinned, None), url);
    }

    // ----------------------------------------------------------------------------------------- URLs

    #[test]
    fn s3_urls_in_every_host_style_name_bucket_key_and_region() {
        let cases = [
            (
                "https://b.s3.us-east-1.amazonaws.com/t/x.yaml",
                "b",
                "t/x.yaml",
                Some("us-east-1"),
            ),
            ("https://b.s3.amazonaws.com/t/x.yaml", "b", "t/x.yaml", None),
            (
                "https://b.s3-eu-west-1.amazonaws.com/x.yaml",
                "b",
                "x.yaml",
                Some("eu-west-1"),
            ),
            (
                "https://b.s3.dualstack.ap-south-1.amazonaws.com/x",
                "b",
                "x",
                Some("ap-south-1"),
            ),
            (
                "https://my.dotted.bucket.s3.us-west-2.amazonaws.com/k",
                "my.dotted.bucket",
                "k",
                Some("us-west-2"),
            ),
            (
                "https://s3.us-east-1.amazonaws.com/b/t/x.yaml",
                "b",
                "t/x.yaml",
                Some("us-east-1"),
            ),
            ("https://s3.amazonaws.com/b/x.yaml", "b", "x.yaml", None),
            (
                "https://s3-external-1.amazonaws.com/b/x.yaml",
                "b",
                "x.yaml",
                None,
            ),
            (
                "https://b.s3.cn-north-1.amazonaws.com.cn/x.yaml",
                "b",
                "x.yaml",
                Some("cn-north-1"),
            ),
            (
                "HTTPS://B.S3.US-EAST-1.AMAZONAWS.COM/K",
                "b",
                "K",
                Some("us-east-1"),
            ),
            (
                "https://b.s3.us-east-1.amazonaws.com/t/build%20train%2Bv1.yaml?versionId=3",
                "b",
                "t/build train+v1.yaml",
                Some("us-east-1"),
            ),
        ];
        for (url, bucket, key, region) in cases {
            let o = parse_s3_url(url).unwrap_or_else(|e| panic!("{url}: {e}"));
            assert_eq!(
                (o.bucket.as_str(), o.key.as_str(), o.region.as_deref()),
                (bucket, key, region),
                "{url}"
            );
        }
    }

    #[test]
    fn urls_that_are_not_https_s3_objects_are_refused_with_the_expected_form() {
        for bad in [
            "http://b.s3.amazonaws.com/x.yaml",
            "s3://b/x.yaml",
            "https://example.com/x.yaml",
            "https://b.s3.us-east-1.amazonaws.com/",
            "https://b.s3.us-east-1.amazonaws.com/dir/",
            "https://s3.us-east-1.amazonaws.com/b",
            "https://b.s3-website-us-east-1.amazonaws.com/x.yaml",
            "https://user@b.s3.amazonaws.com/x.yaml",
            "https://b.s3.amazonaws.com:8443/x.yaml",
            "https://b.sqs.us-east-1.amazonaws.com/x",
            &format!("https://b.s3.amazonaws.com/{}", "k".repeat(1000)),
        ] {
            let e = parse_s3_url(bad).unwrap_err();
            assert!(
                e.contains("expected https://BUCKET.s3.REGION.amazonaws.com/KEY"),
                "{bad}: {e}"
            );
        }
    }

    #[test]
    fn template_names_are_file_stems_and_fit_create_project() {
        assert_eq!(
            template_stem("templates/deploy-codepipeline.yaml"),
            "deploy-codepipeline"
        );
        assert_eq!(template_stem("a/b.c/team.v2.yml"), "team.v2");
        assert_eq!(template_stem("noext"), "noext");
        assert_eq!(template_name("deploy-codepipeline"), "deploy");
        assert_eq!(template_name("team_template.v2"), "team-template-v2");
        assert_eq!(template_name("__x"), "x");
        assert_eq!(template_name("___"), "template");
        let long = template_name(&format!("{}-tail", "a".repeat(40)));
        assert_eq!(long, "a".repeat(32));
        for (file, _) in templates::EMBEDDED {
            let n = template_name(template_stem(file));
            assert!(n.len() <= 32 && !n.ends_with('-'), "{n}");
        }
    }
}
