//! Which ResponseURLs a response may be PUT to, and how they appear in logs (never with their query,
//! which is the presigned signature).

use url::Url;

#[derive(Clone, Debug)]
pub struct ResponseUrl(Url);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum UrlRefused {
    #[error("ResponseURL is not a URL")]
    Invalid,
    #[error("ResponseURL {0} is not a CloudFormation response bucket on S3 over https")]
    NotAllowed(String),
    #[error("ResponseURL {0} carries a user name or password, which CloudFormation's never do")]
    Credentials(String),
}

const RESPONSE_BUCKET_PREFIX: &str = "cloudformation-custom-resource-response-";

impl ResponseUrl {
    /// Accepts https URLs of CloudFormation's response buckets on S3 (virtual-hosted, dash- or dot-region
    /// and path style, commercial and China partitions); loopback http only when `allow_loopback` (the local
    /// emulator, enabled by `CFN_RESPONSE_ALLOW_LOOPBACK=true`).
    pub fn parse(raw: &str, allow_loopback: bool) -> Result<Self, UrlRefused> {
        let url = Url::parse(raw).map_err(|_| UrlRefused::Invalid)?;
        if !url.username().is_empty() || url.password().is_some() {
            return Err(UrlRefused::Credentials(redact(&url)));
        }
        let allowed = match (url.scheme(), url.host_str()) {
            ("https", Some(host)) => is_response_bucket(host, url.path()) && url.port().is_none(),
            ("http", Some(host)) => allow_loopback && is_loopback(host),
            _ => false,
        };
        if allowed {
            Ok(Self(url))
        } else {
            Err(UrlRefused::NotAllowed(redact(&url)))
        }
    }

    /// Any URL, unchecked: for a test that needs a local https server.
    #[cfg(test)]
    pub(crate) fn unchecked(raw: &str) -> Self {
        Self(Url::parse(raw).expect("a test's URL parses"))
    }

    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// scheme://host/path, without the query: safe to log.
    pub fn redacted(&self) -> String {
        redact(&self.0)
    }
}

fn redact(url: &Url) -> String {
    format!(
        "{}://{}{}",
        url.scheme(),
        url.host_str().unwrap_or(""),
        url.path()
    )
}

fn is_response_bucket(host: &str, path: &str) -> bool {
    let host = host.to_ascii_lowercase();
    let Some(s3_host) = host
        .strip_suffix(".amazonaws.com")
        .or_else(|| host.strip_suffix(".amazonaws.com.cn"))
    else {
        return false;
    };
    let is_s3_endpoint = |h: &str| h == "s3" || h.starts_with("s3.") || h.starts_with("s3-");
    match s3_host.split_once('.') {
        // virtual-hosted: <bucket>.s3[.-region]
        Some((bucket, endpoint)) if bucket.starts_with(RESPONSE_BUCKET_PREFIX) => {
            is_s3_endpoint(endpoint)
        }
        // path style: s3[.-region]/<bucket>/key
        _ if is_s3_endpoint(s3_host) => path
            .trim_start_matches('/')
            .starts_with(RESPONSE_BUCKET_PREFIX),
        _ => false,
    }
}

fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cloudformation_response_buckets_in_every_host_style_are_allowed() {
        for ok in [
            "https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com/arn%3Aaws/x?X-Amz-Signature=s",
            "https://cloudformation-custom-resource-response-euwest1.s3-eu-west-1.amazonaws.com/k?a=b",
            "https://cloudformation-custom-resource-response-useast1.s3.us-east-1.amazonaws.com/k",
            "https://cloudformation-custom-resource-response-cnnorth1.s3.cn-north-1.amazonaws.com.cn/k",
            "https://s3.us-east-1.amazonaws.com/cloudformation-custom-resource-response-useast1/k",
        ] {
            assert!(ResponseUrl::parse(ok, false).is_ok(), "{ok}");
        }
    }

    #[test]
    fn other_hosts_and_schemes_are_refused() {
        for bad in [
            "http://cloudformation-custom-resource-response-useast1.s3.amazonaws.com/k",
            "https://evil.example.com/cloudformation-custom-resource-response-useast1/k",
            "https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com.evil.com/k",
            "https://my-bucket.s3.amazonaws.com/k",
            "https://s3.amazonaws.com/my-bucket/k",
            "https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com:8443/k",
            "http://127.0.0.1:5000/cfn",
            "file:///etc/passwd",
            "not a url",
        ] {
            assert!(ResponseUrl::parse(bad, false).is_err(), "{bad}");
        }
    }

    /// Fuzz finding (`fuzz/corpus/cfn_requests/finding-user-info-in-the-response-url.json`): a URL whose host
    /// is allowed was allowed with a user name before it (`http://@@@…@127.0.0.1`, `https://u:p@<bucket>`),
    /// which CloudFormation never sends and a PUT would send as Basic credentials.
    #[test]
    fn a_user_name_or_password_in_the_url_is_refused() {
        for url in [
            "http://@@@@127.0.0.1:9/x",
            "http://u@127.0.0.1:9/x",
            "https://u:p@cloudformation-custom-resource-response-useast1.s3.amazonaws.com/a?X-Amz-Signature=s",
            "https://:p@cloudformation-custom-resource-response-useast1.s3.amazonaws.com/a",
        ] {
            let refused = ResponseUrl::parse(url, true).unwrap_err();
            assert!(matches!(refused, UrlRefused::Credentials(_)), "{url}");
            assert!(!refused.to_string().contains("X-Amz-Signature"));
        }
    }

    #[test]
    fn loopback_http_only_when_allowed() {
        assert!(ResponseUrl::parse("http://127.0.0.1:5000/cfn?stack=x", true).is_ok());
        assert!(ResponseUrl::parse("http://localhost:1/x", true).is_ok());
        assert!(ResponseUrl::parse("http://10.0.0.1:1/x", true).is_err());
        assert!(ResponseUrl::parse("http://host.docker.internal:5000/x", true).is_err());
        assert!(
            ResponseUrl::parse("http://127.0.0.1.nip.io/x", true).is_err(),
            "a name is not an address"
        );
        assert!(ResponseUrl::parse("http://[::1]:8080/x", true).is_ok());
        assert!(ResponseUrl::parse("http://127.0.0.2:1/x", true).is_ok());
    }

    #[test]
    fn the_signature_never_reaches_a_log_line() {
        let raw = "https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com/a/b?X-Amz-Signature=SECRET&X-Amz-Credential=AKIA";
        let url = ResponseUrl::parse(raw, false).unwrap();
        assert!(!url.redacted().contains("SECRET") && !url.redacted().contains("AKIA"));
        let refused =
            ResponseUrl::parse("https://evil.example.com/x?sig=SECRET", false).unwrap_err();
        assert!(!refused.to_string().contains("SECRET"));
    }
}
