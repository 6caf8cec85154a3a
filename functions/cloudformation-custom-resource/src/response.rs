//! The response body, fitted to CloudFormation's 4,096-byte limit before it is sent.

use serde::Serialize;
use serde_json::{Map, Value};

/// CloudFormation rejects a response body larger than this.
pub(crate) const MAX_BODY: usize = 4096;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub(crate) enum Status {
    Success,
    Failed,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ResponseBody {
    pub status: Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub physical_resource_id: String,
    pub stack_id: String,
    pub request_id: String,
    pub logical_resource_id: String,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub no_echo: bool,
    #[serde(skip_serializing_if = "Map::is_empty")]
    pub data: Map<String, Value>,
}

impl ResponseBody {
    /// Serialises the body within [`MAX_BODY`] bytes: Data that does not fit turns the response into a
    /// FAILED one saying so; a long Reason keeps its head and tail around a marker; as a last resort a
    /// minimal FAILED body is sent.
    pub fn into_bytes_within_limit(mut self) -> Vec<u8> {
        let bytes = self.serialize();
        if bytes.len() <= MAX_BODY {
            return bytes;
        }
        if !self.data.is_empty() {
            let data_len = Value::Object(std::mem::take(&mut self.data))
                .to_string()
                .len();
            self.status = Status::Failed;
            self.no_echo = false;
            self.reason = Some(format!(
                "the response Data is {data_len} bytes; a custom-resource response must fit in {MAX_BODY} bytes"
            ));
        }
        let bytes = self.serialize();
        if bytes.len() <= MAX_BODY {
            return bytes;
        }
        if let Some(reason) = self.reason.take() {
            let excess = bytes.len() - MAX_BODY;
            // the marker and JSON escaping need room too
            self.reason = Some(shorten(&reason, reason.len().saturating_sub(excess + 96)));
            let bytes = self.serialize();
            if bytes.len() <= MAX_BODY {
                return bytes;
            }
        }
        self.minimal()
    }

    fn serialize(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_else(|_| self.minimal())
    }

    fn minimal(&self) -> Vec<u8> {
        let clip = |s: &str| shorten(s, 900);
        serde_json::json!({
            "Status": "FAILED",
            "Reason": "the response did not fit in 4096 bytes",
            "PhysicalResourceId": clip(&self.physical_resource_id),
            "StackId": clip(&self.stack_id),
            "RequestId": clip(&self.request_id),
            "LogicalResourceId": clip(&self.logical_resource_id),
        })
        .to_string()
        .into_bytes()
    }
}

/// `text` cut to at most `max` bytes, keeping its head and tail around a marker that says how much went
/// (UTF-8 safe). The runtime cuts a long Reason this way; handlers can use it for their own Data or logs.
///
/// ```
/// let cut = cloudformation_custom_resource::shorten(&"x".repeat(1000), 60);
/// assert!(cut.len() <= 60 && cut.contains("bytes cut"));
/// assert_eq!(cloudformation_custom_resource::shorten("short", 60), "short");
/// ```
pub fn shorten(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let cut = text.len() - max;
    let marker = format!(" …[{cut} bytes cut]… ");
    let keep = max.saturating_sub(marker.len());
    let head_end = floor_char_boundary(text, keep * 2 / 3);
    let tail_start = ceil_char_boundary(text, text.len() - (keep - head_end.min(keep)));
    format!("{}{marker}{}", &text[..head_end], &text[tail_start..])
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn ceil_char_boundary(s: &str, mut i: usize) -> usize {
    while i < s.len() && !s.is_char_boundary(i) {
        i += 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn body(status: Status) -> ResponseBody {
        ResponseBody {
            status,
            reason: None,
            physical_resource_id: "P-g0-abc".into(),
            stack_id: "arn:stack".into(),
            request_id: "req".into(),
            logical_resource_id: "P".into(),
            no_echo: false,
            data: Map::new(),
        }
    }

    fn parsed(bytes: &[u8]) -> Value {
        serde_json::from_slice(bytes).unwrap()
    }

    #[test]
    fn a_small_body_is_sent_as_is_without_empty_fields() {
        let v = parsed(&body(Status::Success).into_bytes_within_limit());
        assert_eq!(
            v,
            json!({"Status": "SUCCESS", "PhysicalResourceId": "P-g0-abc", "StackId": "arn:stack",
                   "RequestId": "req", "LogicalResourceId": "P"})
        );
    }

    #[test]
    fn a_huge_reason_keeps_head_and_tail_within_the_limit() {
        let mut b = body(Status::Failed);
        b.reason = Some(format!("HEAD{}TAIL", "é".repeat(5000)));
        let bytes = b.into_bytes_within_limit();
        assert!(bytes.len() <= MAX_BODY, "{}", bytes.len());
        let reason = parsed(&bytes)["Reason"].as_str().unwrap().to_owned();
        assert!(
            reason.starts_with("HEAD") && reason.ends_with("TAIL"),
            "{reason}"
        );
        assert!(reason.contains("bytes cut]"));
    }

    #[test]
    fn oversized_data_becomes_a_failed_response_that_says_why() {
        let mut b = body(Status::Success);
        b.data.insert("Big".into(), json!("x".repeat(5000)));
        b.no_echo = true;
        let v = parsed(&b.into_bytes_within_limit());
        assert_eq!(v["Status"], "FAILED");
        assert!(
            v["Reason"].as_str().unwrap().contains("Data is 5010 bytes"),
            "{v}"
        );
        assert!(v.get("Data").is_none());
        assert_eq!(v["PhysicalResourceId"], "P-g0-abc");
    }

    #[test]
    fn escaping_heavy_reasons_still_fit() {
        let mut b = body(Status::Failed);
        b.reason = Some("\"\u{1}".repeat(3000));
        assert!(b.into_bytes_within_limit().len() <= MAX_BODY);
    }

    #[test]
    fn shorten_is_exact_and_utf8_safe() {
        assert_eq!(shorten("short", 10), "short");
        let s = shorten(&"ü".repeat(100), 60);
        assert!(s.len() <= 60, "{}", s.len());
    }
}
