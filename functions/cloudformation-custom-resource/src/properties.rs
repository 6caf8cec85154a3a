//! Typed resource properties. CloudFormation sends every scalar as a string; errors name the exact field.

use serde::Deserialize;
use serde::de::{DeserializeOwned, Deserializer, Error as _};
use serde_json::{Map, Value};

/// Keys CloudFormation adds to every custom resource's properties; they are not the handler's.
const PROTOCOL_KEYS: [&str; 2] = ["ServiceToken", "ServiceTimeout"];

/// Properties that do not fit the handler's type: the message names the field path and the form expected.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{0}")]
pub struct PropertyError(
    /// The message, e.g. `ResourceProperties.Retain: expected "true" or "false", got "yes"`.
    pub String,
);

/// Parses `props` (under the event key `which`, e.g. "ResourceProperties") into `P`. The error names the
/// field path and what was expected, e.g. `ResourceProperties.ExecutionRoles[1]: expected …`.
///
/// The runtime calls it for [`CustomResource::Properties`](crate::CustomResource::Properties); it is public
/// for handlers' own tests.
///
/// ```
/// use cloudformation_custom_resource::properties::parse;
/// use serde_json::json;
///
/// #[derive(serde::Deserialize)]
/// #[serde(rename_all = "PascalCase", deny_unknown_fields)]
/// struct Props { bucket: String }
///
/// let raw = json!({"ServiceToken": "arn:aws:lambda:…", "Bucket": 7});
/// let err = parse::<Props>("ResourceProperties", raw.as_object().unwrap().clone()).err().unwrap();
/// assert_eq!(err.to_string(), "ResourceProperties.Bucket: invalid type: integer `7`, expected a string");
/// ```
pub fn parse<P: DeserializeOwned>(
    which: &str,
    mut props: Map<String, Value>,
) -> Result<P, PropertyError> {
    for key in PROTOCOL_KEYS {
        props.remove(key);
    }
    serde_path_to_error::deserialize(Value::Object(props)).map_err(|e| {
        let path = e.path().to_string();
        let place = if path == "." {
            which.to_owned()
        } else {
            format!("{which}.{path}")
        };
        PropertyError(format!("{place}: {}", e.into_inner()))
    })
}

/// A boolean as CloudFormation sends it: "true" / "false" (any case), or a JSON boolean. For
/// `#[serde(deserialize_with = "…")]`:
///
/// ```
/// use cloudformation_custom_resource::properties::{bool_from_string, parse};
///
/// #[derive(serde::Deserialize)]
/// struct Props {
///     #[serde(rename = "Retain", default, deserialize_with = "bool_from_string")]
///     retain: bool,
/// }
///
/// let raw = serde_json::json!({"Retain": "True"});
/// assert!(parse::<Props>("ResourceProperties", raw.as_object().unwrap().clone()).unwrap().retain);
/// ```
pub fn bool_from_string<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    match Value::deserialize(d)? {
        Value::Bool(b) => Ok(b),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Ok(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Ok(false),
        other => Err(D::Error::custom(format!(
            "expected \"true\" or \"false\", got {other}"
        ))),
    }
}

/// A list given either as a JSON array of strings or as one comma-separated string (CommaDelimitedList
/// parameters passed through `!Join` arrive like that). Blank items are dropped.
///
/// ```
/// use cloudformation_custom_resource::properties::{list_from_string, parse};
///
/// #[derive(serde::Deserialize)]
/// struct Props {
///     #[serde(rename = "Roles", deserialize_with = "list_from_string")]
///     roles: Vec<String>,
/// }
///
/// let raw = serde_json::json!({"Roles": "a, b,,"});
/// assert_eq!(parse::<Props>("P", raw.as_object().unwrap().clone()).unwrap().roles, ["a", "b"]);
/// ```
pub fn list_from_string<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    let items = match Value::deserialize(d)? {
        Value::String(s) => s.split(',').map(str::to_owned).collect::<Vec<_>>(),
        Value::Array(values) => values
            .into_iter()
            .map(|v| match v {
                Value::String(s) => Ok(s),
                other => Err(D::Error::custom(format!(
                    "expected a list of strings, found {other}"
                ))),
            })
            .collect::<Result<_, _>>()?,
        other => Err(D::Error::custom(format!(
            "expected a list of strings, got {other}"
        )))?,
    };
    Ok(items
        .into_iter()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(rename_all = "PascalCase", deny_unknown_fields)]
    struct Props {
        name: String,
        #[serde(default, deserialize_with = "bool_from_string")]
        retain: bool,
        #[serde(default, deserialize_with = "list_from_string")]
        roles: Vec<String>,
    }

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn service_token_is_not_a_property() {
        let p: Props = parse(
            "ResourceProperties",
            obj(json!({"ServiceToken": "arn", "Name": "n"})),
        )
        .unwrap();
        assert_eq!(
            p,
            Props {
                name: "n".into(),
                retain: false,
                roles: vec![]
            }
        );
    }

    #[test]
    fn errors_name_the_field_and_the_expected_form() {
        let e = parse::<Props>("ResourceProperties", obj(json!({}))).unwrap_err();
        assert_eq!(e.0, "ResourceProperties: missing field `Name`");
        let e = parse::<Props>("OldResourceProperties", obj(json!({"Name": 1}))).unwrap_err();
        assert_eq!(
            e.0,
            "OldResourceProperties.Name: invalid type: integer `1`, expected a string"
        );
        let e = parse::<Props>(
            "ResourceProperties",
            obj(json!({"Name": "n", "Retain": "yes"})),
        )
        .unwrap_err();
        assert_eq!(
            e.0,
            "ResourceProperties.Retain: expected \"true\" or \"false\", got \"yes\""
        );
        let e = parse::<Props>("ResourceProperties", obj(json!({"Name": "n", "Nmae": "x"})))
            .unwrap_err();
        assert!(
            e.0.starts_with("ResourceProperties.Nmae: unknown field `Nmae`"),
            "{}",
            e.0
        );
    }

    #[test]
    fn lists_come_as_arrays_or_comma_separated_strings() {
        let a: Props = parse(
            "P",
            obj(json!({"Name": "n", "Roles": ["a", " b "], "Retain": "TRUE"})),
        )
        .unwrap();
        let b: Props = parse(
            "P",
            obj(json!({"Name": "n", "Roles": "a, b,,", "Retain": true})),
        )
        .unwrap();
        assert_eq!(a, b);
        assert_eq!(a.roles, vec!["a", "b"]);
        let e = parse::<Props>("P", obj(json!({"Name": "n", "Roles": [1]}))).unwrap_err();
        assert_eq!(e.0, "P.Roles: expected a list of strings, found 1");
    }
}
