//! Fuzz targets of the parsers that take outside input in this crate, one test each: templates (YAML and
//! JSON, from anyone allowed to upload), S3 and CloudTrail events, the `Key=Value` parameters of a domain
//! tag, and S3 URLs. `make test` runs each for 2 s; `make fuzz` for `FUZZ_SECONDS` (see the fuzzing crate).
//! Each finding became a test beside its parser and an input in `fuzz/corpus/<target>/`.

use fuzzing::Target;

use crate::templates::{self, cloudformation, shape, MAX_DEPTH};

fn text(input: &[u8]) -> String {
    String::from_utf8_lossy(input).into_owned()
}

/// `validate` never panics, and the linear pre-scan bounds what the parser builds: whenever it lets a text
/// through and serde_yaml_ng parses it, the document nests no deeper and holds no more nodes than the scan
/// counted, and no deeper than the limit (aliases, which could expand it, never get through).
#[test]
fn templates() {
    Target::new("templates", |input| {
        let verdict = templates::validate(input);
        let Ok(text) = std::str::from_utf8(input) else {
            return Ok(());
        };
        let Ok(scanned) = shape::measure(text, MAX_DEPTH) else {
            return Ok(());
        };
        if let Ok(document) = serde_yaml_ng::from_str::<serde_yaml_ng::Value>(text) {
            let (depth, nodes) = cloudformation::extent(&document);
            if depth > scanned.depth || nodes > scanned.nodes {
                return Err(format!(
                    "the scan counted {scanned:?}, the parser built depth {depth} and {nodes} nodes"
                ));
            }
        }
        if let Ok(info) = verdict {
            if info.resources == 0 || info.resources > cloudformation::MAX_RESOURCES {
                return Err(format!("accepted with {} resources", info.resources));
            }
        }
        Ok(())
    })
    .seeds(
        templates::EMBEDDED
            .iter()
            .map(|(_, content)| content.as_bytes()),
    )
    .dictionary(&[
        "[",
        "]",
        "{",
        "}",
        ",",
        ": ",
        ":",
        "- ",
        "? ",
        "\n",
        "\n  ",
        "\n    ",
        "\r\n",
        " ",
        "\t",
        "#",
        " #",
        "'",
        "''",
        "\"",
        "\\\"",
        "|",
        "|2",
        ">-",
        "&a ",
        "*a",
        "!Ref ",
        "!Sub ",
        "!GetAtt ",
        "!!str ",
        "!<x> ",
        "!",
        "---\n",
        "...\n",
        "%YAML 1.1\n",
        "%TAG ! x:\n",
        "Resources:",
        "Parameters:",
        "Type: String",
        "SageMakerProjectName",
        "\u{feff}",
        "\u{85}",
        "\u{2028}",
        "é",
        "a",
    ])
    .run();
}

/// The tagger's reading of an S3 event (what the body becomes for the handler, then `upload_of`) never
/// panics, and what it accepts is a YAML object under the prefix with a key S3 could hold.
#[test]
fn s3_events() {
    use crate::upload_tagger::fuzz_upload_of as upload_of;
    Target::new("s3_events", |input| {
        let event = lambda_glue::raw_event::event_from_body(input);
        match upload_of(event) {
            Ok(key) if key.len() > 1024 || !key.starts_with("templates/") => {
                Err(format!("accepted key {key:?}"))
            }
            _ => Ok(()),
        }
    })
    .dictionary(fuzzing::JSON_TOKENS)
    .dictionary(&[
        "0",
        "\"source\": \"aws.s3\"",
        "\"detail-type\": \"Object Created\"",
        "\"detail\": ",
        "\"bucket\": {\"name\": \"sagemaker-templates\"}",
        "\"object\": ",
        "\"key\": \"templates/x.yaml\"",
        "\"etag\": \"",
        "\"eTag\": ",
        "\"version-id\": ",
        "\"null\"",
        "\\u0000",
        "\\ud800",
        "1e999",
    ])
    .run();
}

/// The onboarder's reading of CloudTrail events, its re-check messages and the schedule never panics.
#[test]
fn cloudtrail_events() {
    use crate::onboarding::events::{parse, Parsed, Work};
    Target::new("cloudtrail_events", |input| {
        let event = lambda_glue::raw_event::event_from_body(input);
        match parse(&event, "123456789012", "us-east-1") {
            Parsed::Work(Work::Domain { domain_id })
                if !crate::onboarding::events::is_domain_id(&domain_id) =>
            {
                Err(format!("work for domain {domain_id:?}"))
            }
            _ => Ok(()),
        }
    })
    .dictionary(fuzzing::JSON_TOKENS)
    .dictionary(&[
        "\"source\": \"aws.sagemaker\"",
        "\"detail-type\": \"AWS API Call via CloudTrail\"",
        "\"detail\": ",
        "\"eventName\": \"CreateDomain\"",
        "\"eventName\": \"CreateUserProfile\"",
        "\"requestParameters\": ",
        "\"responseElements\": ",
        "\"domainArn\": \"arn:aws:sagemaker:us-east-1:123456789012:domain/d-abc\"",
        "\"domainId\": \"d-x1\"",
        "\"userProfileName\": \"alice\"",
        "\"errorCode\": ",
        "\"account\": \"123456789012\"",
        "\"region\": \"us-east-1\"",
        "{\"Recheck\": ",
        "\"domain_id\": \"d-1\"",
        "\"attempt\": 4294967296",
        "\"first_seen\": -1",
        "domain/",
    ])
    .run();
}

/// A domain tag's `Key=Value Key2=Value2` never panics, and what it accepts fits a tag value.
#[test]
fn domain_tag_parameters() {
    use crate::onboarding::projects::parse_parameters;
    Target::new("domain_tag_parameters", |input| {
        let text = text(input);
        match parse_parameters(&text) {
            Ok(parameters)
                if text.chars().count() > 256 || parameters.keys().any(String::is_empty) =>
            {
                Err(format!("accepted {parameters:?}"))
            }
            _ => Ok(()),
        }
    })
    .dictionary(&[
        "=", " ", "\t", "\n", "Key", "Value", "==", "\u{a0}", "\u{3000}", "é",
    ])
    .max_repeat(1000)
    .run();
}

/// An S3 URL never panics the parser; what it accepts names a bucket and a key, and a pinned version reads
/// back as it was written.
#[test]
fn s3_urls() {
    use crate::projects::s3_url::{
        parse_s3_url, pinned_url, template_name, template_stem, url_version_id,
    };
    Target::new("s3_urls", |input| {
        let url = text(input);
        let _ = url_version_id(&url);
        let name = template_name(template_stem(&url));
        if name.is_empty() || name.len() > 32 {
            return Err(format!("template name {name:?}"));
        }
        if let Ok(object) = parse_s3_url(&url) {
            if object.bucket.is_empty() || object.key.is_empty() || url.len() > 1024 {
                return Err(format!("accepted {object:?}"));
            }
            let version = url.rsplit('/').next().unwrap_or("v");
            let pinned = pinned_url(&url, Some(version));
            if url_version_id(&pinned).as_deref() != Some(version) {
                return Err(format!("version {version:?} pinned as {pinned:?}"));
            }
        }
        Ok(())
    })
    .seeds([
        "https://b.s3.us-east-1.amazonaws.com/t/x.yaml",
        "https://s3.eu-west-1.amazonaws.com/b/k?versionId=a%2Bb",
        "https://b.s3-eu-west-1.amazonaws.com/x.yaml#frag",
        "https://b.s3.dualstack.ap-south-1.amazonaws.com.cn/x",
    ])
    .dictionary(&[
        "https://",
        "HTTPS://",
        "s3.",
        "s3-",
        ".s3.",
        "amazonaws.com",
        ".amazonaws.com.cn",
        "dualstack.",
        "us-east-1",
        "external-1",
        "/",
        "?",
        "#",
        "&",
        "=",
        "versionId=",
        "%",
        "%2F",
        "%ff",
        "%E2%80",
        "@",
        ":",
        ".",
        "é",
        "\u{0}",
    ])
    .max_repeat(2000)
    .run();
}
