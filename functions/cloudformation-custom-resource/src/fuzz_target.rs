//! Fuzz target of the custom-resource request: the body as the runtime receives it, through everything the
//! runtime reads before a handler runs (the coordinates, scanned from text that is not JSON; the
//! ResponseURL allow-list; the request type; the properties, typed). `make test` runs it for 2 s, `make fuzz`
//! for `FUZZ_SECONDS`.

use serde::Deserialize;

use crate::envelope::{self, Coordinates};
use crate::properties;
use crate::raw_event::{self, event_from_body};
use crate::response_url::ResponseUrl;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[allow(dead_code)]
struct Typed {
    name: String,
    #[serde(default, deserialize_with = "properties::list_from_string")]
    roles: Vec<String>,
    #[serde(default, deserialize_with = "properties::bool_from_string")]
    enabled: bool,
}

/// Never a panic; a ResponseURL the allow-list passes is https on an S3 host (or loopback http), without
/// a user name or password.
#[test]
fn cfn_requests() {
    fuzzing::Target::new("cfn_requests", |input| {
        let event = event_from_body(input);
        let _ = envelope::is_request(&event);
        let coordinates = match raw_event::unparseable_text(&event) {
            Some(text) => {
                let _ = raw_event::json_error(text);
                Coordinates::scan(text)
            }
            None => Coordinates::from_event(&event),
        };
        if let Ok(c) = coordinates {
            if let Ok(allowed) = ResponseUrl::parse(&c.response_url, true) {
                let url = url::Url::parse(allowed.as_str()).map_err(|e| e.to_string())?;
                let host = url.host_str().unwrap_or("");
                let on_s3 = url.scheme() == "https"
                    && (host.ends_with(".amazonaws.com") || host.ends_with(".amazonaws.com.cn"));
                let loopback = url.scheme() == "http"
                    && (host.starts_with("127.") || host == "localhost" || host == "[::1]");
                if !(on_s3 || loopback) || !url.username().is_empty() || url.password().is_some() {
                    return Err(format!("allowed ResponseURL {:?}", allowed.redacted()));
                }
            }
        }
        let _ = envelope::request_type(&event);
        for which in ["ResourceProperties", "OldResourceProperties"] {
            if let Ok(props) = envelope::properties(&event, which) {
                let _ = properties::parse::<Typed>(which, props);
            }
        }
        Ok(())
    })
    .seeds([
        r#"{"RequestType": "Create", "ResponseURL": "https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com/a?X-Amz-Signature=x", "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/s/1", "RequestId": "r", "LogicalResourceId": "L", "ResourceType": "Custom::X", "ResourceProperties": {"ServiceToken": "arn", "Name": "n", "Roles": "a,b", "Enabled": "true"}}"#,
        r#"{"RequestType": "Update", "ResponseURL": "http://127.0.0.1:9/x", "PhysicalResourceId": "p", "OldResourceProperties": {"Name": "m"}}"#,
        r#"{"RequestType": "Delete", "ResponseURL": "https://b.s3-eu-west-1.amazonaws.com/x"#,
    ])
    .dictionary(fuzzing::JSON_TOKENS)
    .dictionary(&[
        "\"RequestType\": \"Create\"", "\"ResponseURL\"",
        "\"ResponseURL\": \"https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com/x\"",
        "\"StackId\": ", "\"PhysicalResourceId\": \"\"", "\"ResourceProperties\": ", "\"Roles\": ",
        "\"Enabled\": \"True\"", "https://", "http://", "@", ":443", "%2F", ".amazonaws.com.cn", "\\u0000",
    ])
    .run();
}
