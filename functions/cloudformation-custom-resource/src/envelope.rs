//! Reading the request envelope from raw JSON: first the coordinates needed to answer at all, then the rest.

use serde_json::Value;

use crate::response::shorten;

/// What a response must echo, and where it goes. Only `response_url` is needed to answer at all.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Coordinates {
    pub response_url: String,
    pub stack_id: String,
    pub request_id: String,
    pub logical_resource_id: String,
    pub physical_resource_id: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestType {
    Create,
    Update,
    Delete,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EnvelopeError {
    #[error("the event has no ResponseURL string, so no response can be sent")]
    NoResponseUrl,
    #[error("RequestType is missing; expected one of Create, Update, Delete")]
    MissingRequestType,
    #[error("RequestType {0} is not one of Create, Update, Delete")]
    UnknownRequestType(String),
    #[error("{0} must be a JSON object of properties, got {1}")]
    NotAnObject(&'static str, &'static str),
    #[error("the event is not valid JSON ({0})")]
    NotJson(String),
}

const COORDINATE_KEYS: [&str; 5] = [
    "ResponseURL",
    "StackId",
    "RequestId",
    "LogicalResourceId",
    "PhysicalResourceId",
];

impl Coordinates {
    /// Takes the coordinates from a parsed event. Echo fields that are missing stay empty: the response is
    /// still sent, so CloudFormation (or whoever sent it) hears of the problem.
    pub fn from_event(event: &Value) -> Result<Self, EnvelopeError> {
        let field = |k: &str| event.get(k).and_then(Value::as_str).map(str::to_owned);
        Self::from_fields(field)
    }

    /// Best-effort coordinates from the text of an event that is not valid JSON (e.g. truncated): each key's
    /// value is read where it is still a complete JSON string.
    pub fn scan(text: &str) -> Result<Self, EnvelopeError> {
        Self::from_fields(|k| scan_string(text, k))
    }

    fn from_fields(field: impl Fn(&str) -> Option<String>) -> Result<Self, EnvelopeError> {
        let [url, stack, request, logical, physical] = COORDINATE_KEYS.map(field);
        Ok(Self {
            response_url: url.ok_or(EnvelopeError::NoResponseUrl)?,
            stack_id: stack.unwrap_or_default(),
            request_id: request.unwrap_or_default(),
            logical_resource_id: logical.unwrap_or_default(),
            physical_resource_id: physical.filter(|p| !p.is_empty()),
        })
    }
}

fn scan_string(text: &str, key: &str) -> Option<String> {
    let needle = format!("\"{key}\"");
    let after_key = &text[text.find(&needle)? + needle.len()..];
    let value = after_key.trim_start().strip_prefix(':')?;
    serde_json::Deserializer::from_str(value)
        .into_iter::<String>()
        .next()?
        .ok()
}

pub fn request_type(event: &Value) -> Result<RequestType, EnvelopeError> {
    match event.get("RequestType") {
        None | Some(Value::Null) => Err(EnvelopeError::MissingRequestType),
        Some(Value::String(s)) if s == "Create" => Ok(RequestType::Create),
        Some(Value::String(s)) if s == "Update" => Ok(RequestType::Update),
        Some(Value::String(s)) if s == "Delete" => Ok(RequestType::Delete),
        Some(other) => Err(EnvelopeError::UnknownRequestType(shorten(
            &other.to_string(),
            64,
        ))),
    }
}

/// The properties object under `key`; absent means empty, anything else but an object is an error.
pub fn properties(
    event: &Value,
    key: &'static str,
) -> Result<serde_json::Map<String, Value>, EnvelopeError> {
    match event.get(key) {
        None | Some(Value::Null) => Ok(serde_json::Map::new()),
        Some(Value::Object(map)) => Ok(map.clone()),
        Some(other) => Err(EnvelopeError::NotAnObject(key, json_kind(other))),
    }
}

pub fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Whether `event` is (or, arriving as invalid JSON, seems to be) a CloudFormation custom-resource
/// request: for functions that also take other events (see [`handle`](crate::handle)).
///
/// ```
/// use serde_json::json;
/// let request = json!({"RequestType": "Create", "ResponseURL": "https://…", "StackId": "arn:…"});
/// assert!(cloudformation_custom_resource::is_request(&request));
/// assert!(!cloudformation_custom_resource::is_request(&json!({"source": "aws.events"})));
/// ```
pub fn is_request(event: &Value) -> bool {
    match crate::raw_event::unparseable_text(event) {
        Some(text) => text.contains("\"ResponseURL\""),
        None => event.get("ResponseURL").is_some() && event.get("StackId").is_some(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn coordinates_need_only_a_response_url() {
        let c = Coordinates::from_event(&json!({"ResponseURL": "https://x"})).unwrap();
        assert_eq!(c.response_url, "https://x");
        assert_eq!(c.stack_id, "");
        assert_eq!(
            Coordinates::from_event(&json!({"StackId": "s"})),
            Err(EnvelopeError::NoResponseUrl)
        );
        assert_eq!(
            Coordinates::from_event(&json!({"ResponseURL": 5})),
            Err(EnvelopeError::NoResponseUrl)
        );
    }

    #[test]
    fn an_empty_physical_id_counts_as_absent() {
        let c = Coordinates::from_event(&json!({"ResponseURL": "u", "PhysicalResourceId": ""}))
            .unwrap();
        assert_eq!(c.physical_resource_id, None);
    }

    #[test]
    fn coordinates_are_scanned_from_truncated_text() {
        let text = r#"{"RequestType": "Create", "ResponseURL" : "https://h/p?q=1", "StackId":"arn:s", "RequestId":"r1", "LogicalRes"#;
        let c = Coordinates::scan(text).unwrap();
        assert_eq!(c.response_url, "https://h/p?q=1");
        assert_eq!(c.stack_id, "arn:s");
        assert_eq!(c.request_id, "r1");
        assert_eq!(c.logical_resource_id, "");
        assert_eq!(
            Coordinates::scan(r#"{"ResponseURL": "https://cut"#),
            Err(EnvelopeError::NoResponseUrl)
        );
    }

    #[test]
    fn request_types_are_exact() {
        assert_eq!(
            request_type(&json!({"RequestType": "Delete"})),
            Ok(RequestType::Delete)
        );
        assert_eq!(
            request_type(&json!({})),
            Err(EnvelopeError::MissingRequestType)
        );
        let err = request_type(&json!({"RequestType": "create"})).unwrap_err();
        assert_eq!(
            err.to_string(),
            "RequestType \"create\" is not one of Create, Update, Delete"
        );
        assert!(matches!(
            request_type(&json!({"RequestType": 3})),
            Err(EnvelopeError::UnknownRequestType(_))
        ));
    }

    #[test]
    fn properties_must_be_an_object() {
        assert!(
            properties(&json!({}), "ResourceProperties")
                .unwrap()
                .is_empty()
        );
        let err =
            properties(&json!({"ResourceProperties": [1]}), "ResourceProperties").unwrap_err();
        assert_eq!(
            err.to_string(),
            "ResourceProperties must be a JSON object of properties, got an array"
        );
    }

    #[test]
    fn requests_are_told_from_other_events() {
        assert!(is_request(
            &json!({"ResponseURL": "u", "StackId": "s", "RequestType": "Create"})
        ));
        assert!(is_request(
            &json!({"$unparseable": "{\"ResponseURL\": \"u"})
        ));
        assert!(!is_request(
            &json!({"source": "aws.events", "detail-type": "Scheduled Event"})
        ));
        assert!(!is_request(&json!({"Records": []})));
    }
}
