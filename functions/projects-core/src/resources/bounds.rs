//! What a custom resource may act on, fixed by the stack that deployed its function.
//!
//! A custom-resource function acts on the properties of the request it is sent, but anyone allowed
//! `lambda:InvokeFunction` on it can send one. So every value that confers power (the stack the request is
//! about, the launch role, the template bucket and its KMS key, the roles a function may write to) must also
//! be the one the bootstrap stack configured: the stack passes each in the function's environment, and a
//! request naming another is refused before anything is written. A function without that environment refuses
//! every request rather than act unbounded; the test harness alone turns the bounds off, explicitly
//! (`CUSTOM_RESOURCE_BOUNDS=off`), to drive the handlers with arbitrary properties.

use std::collections::{BTreeMap, BTreeSet};

use cloudformation_custom_resource::Request;

/// The environment variable that names the stack allowed to send requests (`!Ref AWS::StackId`).
pub const STACK_ID: &str = "STACK_ID";
/// `off` turns every bound off: the test harness's opt-out, never set by the bootstrap stack.
pub const SWITCH: &str = "CUSTOM_RESOURCE_BOUNDS";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BoundsError {
    #[error("StackId {given} is not the stack that deployed this function ({expected}): the request is refused and nothing was written")]
    OtherStack { given: String, expected: String },
    #[error("{field}: {given:?} is not this stack's {what} ({expected:?}): a request naming another is refused and nothing was written")]
    Outside {
        field: &'static str,
        what: &'static str,
        given: String,
        expected: String,
    },
    #[error("StackId {given} is not a stack named {prefix}* in this stack's account and region ({expected}): the request is refused and nothing was started")]
    NotASiblingStack {
        given: String,
        prefix: &'static str,
        expected: String,
    },
    #[error("this function has no {var} in its environment (the bootstrap stack sets it): it refuses every request rather than act unbounded")]
    Unconfigured { var: &'static str },
}

/// The values the stack configured, read once when the function starts.
#[derive(Clone, Debug, Default)]
pub struct Bounds {
    /// None: the bounds are off (harness only).
    values: Option<BTreeMap<&'static str, String>>,
}

impl Bounds {
    /// Reads `STACK_ID` and `vars` from the environment (an empty value is a value: "no KMS key").
    pub fn from_env(vars: &[&'static str]) -> Self {
        Self::from_lookup(|k| std::env::var(k).ok(), vars)
    }

    pub fn from_lookup(get: impl Fn(&str) -> Option<String>, vars: &[&'static str]) -> Self {
        if get(SWITCH).is_some_and(|v| v.eq_ignore_ascii_case("off")) {
            return Self::off();
        }
        let values = [STACK_ID]
            .iter()
            .chain(vars)
            .filter_map(|var| get(var).map(|v| (*var, v.trim().to_owned())))
            .collect();
        Self {
            values: Some(values),
        }
    }

    /// No bound at all (the harness's `CUSTOM_RESOURCE_BOUNDS=off`).
    pub fn off() -> Self {
        Self { values: None }
    }

    /// The configured value of `var`, or None when the bounds are off.
    fn configured(&self, var: &'static str) -> Result<Option<&str>, BoundsError> {
        match &self.values {
            None => Ok(None),
            Some(values) => values
                .get(var)
                .map(|v| Some(v.as_str()))
                .ok_or(BoundsError::Unconfigured { var }),
        }
    }

    /// The request comes from the stack that deployed this function.
    pub fn stack(&self, request: &Request) -> Result<(), BoundsError> {
        match self.configured(STACK_ID)? {
            Some(expected) if expected != request.stack_id => Err(BoundsError::OtherStack {
                given: request.stack_id.clone(),
                expected: expected.to_owned(),
            }),
            _ => Ok(()),
        }
    }

    /// The request comes from a stack named `prefix…` (a project's `SP-` stack) in the partition, region and
    /// account of the stack that deployed this function.
    pub fn sibling_stack(
        &self,
        request: &Request,
        prefix: &'static str,
    ) -> Result<(), BoundsError> {
        let Some(own) = self.configured(STACK_ID)? else {
            return Ok(());
        };
        // arn:<partition>:cloudformation:<region>:<account>, the part before ":stack/<name>/<uuid>"
        let scope = |arn: &str| {
            arn.split_once(":stack/")
                .map(|(head, _)| head.to_owned())
                .filter(|h| h.starts_with("arn:") && h.split(':').count() == 5)
        };
        let name = request
            .stack_id
            .split_once(":stack/")
            .map(|(_, r)| r.split('/').next().unwrap_or_default());
        let own_scope = scope(own);
        let same_scope = own_scope.is_some() && own_scope == scope(&request.stack_id);
        if same_scope && name.is_some_and(|n| n.starts_with(prefix)) {
            Ok(())
        } else {
            Err(BoundsError::NotASiblingStack {
                given: request.stack_id.clone(),
                prefix,
                expected: own_scope.unwrap_or_default(),
            })
        }
    }

    /// `given` (the property `field`) is exactly the stack's `var` (`what` names it in the refusal).
    pub fn equal(
        &self,
        field: &'static str,
        what: &'static str,
        var: &'static str,
        given: &str,
    ) -> Result<(), BoundsError> {
        match self.configured(var)? {
            Some(expected) if expected != given.trim() => Err(BoundsError::Outside {
                field,
                what,
                given: given.to_owned(),
                expected: expected.to_owned(),
            }),
            _ => Ok(()),
        }
    }

    /// Every one of `given` is in the stack's comma-separated list `var`, both read through `key` (e.g. a role
    /// ARN or name to the role's name).
    pub fn subset<'a>(
        &self,
        field: &'static str,
        what: &'static str,
        var: &'static str,
        given: impl IntoIterator<Item = &'a String>,
        key: impl Fn(&str) -> Option<String>,
    ) -> Result<(), BoundsError> {
        let Some(list) = self.configured(var)? else {
            return Ok(());
        };
        let allowed: BTreeSet<String> = list
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .filter_map(&key)
            .collect();
        match given
            .into_iter()
            .find(|g| key(g).is_none_or(|k| !allowed.contains(&k)))
        {
            Some(outside) => Err(BoundsError::Outside {
                field,
                what,
                given: outside.clone(),
                expected: list.to_owned(),
            }),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    const STACK: &str = "arn:aws:cloudformation:us-east-1:123456789012:stack/boot/1";

    fn request(stack: &str) -> Request {
        Request::new(stack, "r", "R", tokio::time::Instant::now())
    }

    fn bounds(pairs: &[(&str, &str)]) -> Bounds {
        let map: BTreeMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Bounds::from_lookup(|k| map.get(k).cloned(), &["BUCKET", "ROLES"])
    }

    #[tokio::test]
    async fn a_request_from_another_stack_is_refused() {
        let b = bounds(&[(STACK_ID, STACK)]);
        assert_eq!(b.stack(&request(STACK)), Ok(()));
        let forged = "arn:aws:cloudformation:us-east-1:123456789012:stack/mine/2";
        assert!(matches!(
            b.stack(&request(forged)),
            Err(BoundsError::OtherStack { .. })
        ));
    }

    #[tokio::test]
    async fn a_function_without_its_bounds_refuses_everything() {
        let b = bounds(&[]);
        assert_eq!(
            b.stack(&request(STACK)),
            Err(BoundsError::Unconfigured { var: STACK_ID })
        );
        assert_eq!(
            b.equal("Bucket", "template bucket", "BUCKET", "b"),
            Err(BoundsError::Unconfigured { var: "BUCKET" })
        );
    }

    #[tokio::test]
    async fn only_the_harness_switch_turns_them_off() {
        let b = bounds(&[(SWITCH, "off")]);
        assert_eq!(b.stack(&request("anything")), Ok(()));
        assert_eq!(b.equal("Bucket", "bucket", "BUCKET", "other"), Ok(()));
        let on = bounds(&[(SWITCH, "no"), (STACK_ID, STACK)]);
        assert!(on.stack(&request("anything")).is_err());
    }

    #[tokio::test]
    async fn a_project_stack_must_be_of_this_account_and_region() {
        let b = bounds(&[(STACK_ID, STACK)]);
        let project = "arn:aws:cloudformation:us-east-1:123456789012:stack/SP-p-1/uuid";
        assert_eq!(b.sibling_stack(&request(project), "SP-"), Ok(()));
        for forged in [
            "arn:aws:cloudformation:us-east-1:123456789012:stack/boot/1",
            "arn:aws:cloudformation:eu-west-1:123456789012:stack/SP-p-1/uuid",
            "arn:aws:cloudformation:us-east-1:999999999999:stack/SP-p-1/uuid",
            "SP-p-1",
        ] {
            assert!(
                matches!(
                    b.sibling_stack(&request(forged), "SP-"),
                    Err(BoundsError::NotASiblingStack { .. })
                ),
                "{forged}"
            );
        }
    }

    #[test]
    fn values_must_match_exactly_and_an_empty_value_is_a_value() {
        let b = bounds(&[("BUCKET", "templates-1"), ("ROLES", "")]);
        assert_eq!(b.equal("Bucket", "bucket", "BUCKET", "templates-1"), Ok(()));
        let e = b
            .equal("Bucket", "template bucket", "BUCKET", "attacker")
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "Bucket: \"attacker\" is not this stack's template bucket (\"templates-1\"): a request naming another is refused and nothing was written"
        );
        // an empty list allows nothing
        let some = ["a".to_string()];
        assert!(b
            .subset("Roles", "roles", "ROLES", &some, |s| Some(s.to_owned()))
            .is_err());
    }

    #[test]
    fn a_subset_compares_through_the_key() {
        let b = bounds(&[("ROLES", "arn:aws:iam::1:role/service-role/A, B")]);
        let name = |s: &str| Some(s.rsplit('/').next().unwrap().to_owned());
        let ok = ["A".to_string(), "arn:aws:iam::1:role/B".to_string()];
        assert_eq!(b.subset("Roles", "roles", "ROLES", &ok, name), Ok(()));
        let bad = ["A".to_string(), "Admin".to_string()];
        let e = b.subset("Roles", "roles", "ROLES", &bad, name).unwrap_err();
        assert!(matches!(e, BoundsError::Outside { given, .. } if given == "Admin"));
    }
}
