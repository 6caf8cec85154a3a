//! What CloudFormation itself accepts of a parsed template: its YAML tags, its sections, its quotas and its
//! parameter types. A template that breaks one of these would be refused at launch with a template error;
//! the tagger refuses it at upload instead, naming the rule.

use serde_yaml_ng::{Mapping, Value};

use super::Invalid;

/// The YAML short forms of CloudFormation's intrinsic and condition functions (`!Ref`, `!Sub`, …), the
/// language extensions' (`!Length`, `!ToJsonString`) and the rule functions'. CloudFormation's YAML parser
/// refuses any other tag. See the intrinsic function reference,
/// <https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/intrinsic-function-reference.html>,
/// and the rule functions, `…/rules-section-structure.html`.
pub const INTRINSIC_TAGS: [&str; 26] = [
    "Ref",
    "Condition",
    "Base64",
    "Cidr",
    "FindInMap",
    "GetAtt",
    "GetAZs",
    "ImportValue",
    "Join",
    "Select",
    "Split",
    "Sub",
    "Transform",
    "And",
    "Equals",
    "If",
    "Not",
    "Or",
    "Length",
    "ToJsonString",
    "Contains",
    "EachMemberEquals",
    "EachMemberIn",
    "RefAll",
    "ValueOf",
    "ValueOfAll",
];

/// The top-level sections of a template (template anatomy,
/// <https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/template-anatomy.html>).
pub const SECTIONS: [&str; 10] = [
    "AWSTemplateFormatVersion",
    "Description",
    "Metadata",
    "Parameters",
    "Rules",
    "Mappings",
    "Conditions",
    "Transform",
    "Resources",
    "Outputs",
];

/// The only template format version there is.
pub const FORMAT_VERSION: &str = "2010-09-09";

/// CloudFormation's template quotas (its user guide, "CloudFormation quotas").
pub const MAX_RESOURCES: usize = 500;
pub const MAX_PARAMETERS: usize = 200;
pub const MAX_OUTPUTS: usize = 200;
pub const MAX_MAPPINGS: usize = 200;
pub const MAX_DESCRIPTION_BYTES: usize = 1024;

/// Parameter types CloudFormation knows besides the SSM ones: the basic four and the AWS-specific ones, each
/// also as a `List<…>` (parameters-section-structure.html, cloudformation-supplied-parameter-types.html).
const BASIC_TYPES: [&str; 4] = ["String", "Number", "List<Number>", "CommaDelimitedList"];
const AWS_TYPES: [&str; 10] = [
    "AWS::EC2::AvailabilityZone::Name",
    "AWS::EC2::Image::Id",
    "AWS::EC2::Instance::Id",
    "AWS::EC2::KeyPair::KeyName",
    "AWS::EC2::SecurityGroup::GroupName",
    "AWS::EC2::SecurityGroup::Id",
    "AWS::EC2::Subnet::Id",
    "AWS::EC2::Volume::Id",
    "AWS::EC2::VPC::Id",
    "AWS::Route53::HostedZone::Id",
];

/// Whether CloudFormation knows `parameter_type`: a basic or AWS-specific type, a `List<>` of an
/// AWS-specific one, `AWS::SSM::Parameter::Name`, or `AWS::SSM::Parameter::Value<…>` of String,
/// `List<String>`, CommaDelimitedList or an AWS-specific type or list of one.
pub fn is_parameter_type(parameter_type: &str) -> bool {
    let aws = |t: &str| AWS_TYPES.contains(&t);
    let aws_list = |t: &str| {
        t.strip_prefix("List<")
            .and_then(|t| t.strip_suffix('>'))
            .is_some_and(aws)
    };
    if BASIC_TYPES.contains(&parameter_type)
        || aws(parameter_type)
        || aws_list(parameter_type)
        || parameter_type == "AWS::SSM::Parameter::Name"
    {
        return true;
    }
    parameter_type
        .strip_prefix("AWS::SSM::Parameter::Value<")
        .and_then(|t| t.strip_suffix('>'))
        .is_some_and(|t| {
            matches!(t, "String" | "List<String>" | "CommaDelimitedList") || aws(t) || aws_list(t)
        })
}

/// Checks a parsed template against CloudFormation's own rules, the first broken one named.
pub fn check(template: &Value) -> Result<(), Invalid> {
    if let Some(tag) = foreign_tag(template) {
        return Err(Invalid::UnknownTag(clip(&tag)));
    }
    let top = template.as_mapping().ok_or(Invalid::NotAMapping)?;
    // a transform (SAM's, the language extensions) rewrites the template before CloudFormation judges it:
    // SAM's Globals section and the extensions' Fn::ForEach entries are theirs to judge
    let transformed = top.contains_key("Transform");
    for (key, _) in top {
        match key.as_str() {
            Some(section) if SECTIONS.contains(&section) => {}
            Some("Globals") if transformed => {}
            _ => return Err(Invalid::UnknownSection(clip(&describe(key)))),
        }
    }
    if let Some(version) = top.get("AWSTemplateFormatVersion") {
        if version.as_str() != Some(FORMAT_VERSION) {
            return Err(Invalid::FormatVersion(clip(&describe(version))));
        }
    }
    match top.get("Description") {
        None | Some(Value::String(_)) => {}
        Some(_) => return Err(Invalid::DescriptionNotText),
    }
    if let Some(text) = top.get("Description").and_then(Value::as_str) {
        if text.len() > MAX_DESCRIPTION_BYTES {
            return Err(Invalid::DescriptionTooLong(text.len()));
        }
    }
    for (section, limit) in [
        ("Resources", MAX_RESOURCES),
        ("Parameters", MAX_PARAMETERS),
        ("Outputs", MAX_OUTPUTS),
        ("Mappings", MAX_MAPPINGS),
    ] {
        let count = top
            .get(section)
            .and_then(Value::as_mapping)
            .map_or(0, Mapping::len);
        if count > limit {
            return Err(Invalid::TooMany {
                section,
                count,
                limit,
            });
        }
    }
    if let Some(resources) = top.get("Resources").and_then(Value::as_mapping) {
        for (name, resource) in resources {
            let generated = transformed
                && name
                    .as_str()
                    .is_some_and(|n| n.starts_with("Fn::ForEach::"));
            if !generated && !resource.get("Type").is_some_and(Value::is_string) {
                return Err(Invalid::NoType("Resources", clip(&describe(name))));
            }
        }
    }
    if let Some(parameters) = top.get("Parameters").and_then(Value::as_mapping) {
        for (name, parameter) in parameters {
            let Some(parameter_type) = parameter.get("Type") else {
                return Err(Invalid::NoType("Parameters", clip(&describe(name))));
            };
            if !parameter_type.as_str().is_some_and(is_parameter_type) {
                return Err(Invalid::ParameterType {
                    parameter: clip(&describe(name)),
                    parameter_type: clip(&describe(parameter_type)),
                });
            }
        }
    }
    Ok(())
}

/// The first tag in the document that is not a CloudFormation function's short form, as written (`!Foo`).
fn foreign_tag(template: &Value) -> Option<String> {
    let mut stack = vec![template];
    while let Some(value) = stack.pop() {
        match value {
            Value::Tagged(tagged) => {
                let tag = tagged.tag.to_string();
                let name = tag.strip_prefix('!').unwrap_or(&tag);
                if !INTRINSIC_TAGS.contains(&name) {
                    return Some(tag);
                }
                stack.push(&tagged.value);
            }
            Value::Sequence(items) => stack.extend(items.iter().rev()),
            Value::Mapping(map) => {
                let entries: Vec<_> = map.iter().collect();
                for (k, v) in entries.into_iter().rev() {
                    stack.push(v);
                    stack.push(k);
                }
            }
            _ => {}
        }
    }
    None
}

/// The nesting depth and node count of a parsed document (a tag is no level of its own).
pub fn extent(value: &Value) -> (usize, usize) {
    let mut stack = vec![(value, 0usize)];
    let (mut deepest, mut nodes) = (0, 0);
    while let Some((value, depth)) = stack.pop() {
        nodes += 1;
        match value {
            Value::Tagged(tagged) => {
                nodes -= 1;
                stack.push((&tagged.value, depth));
            }
            Value::Sequence(items) => {
                deepest = deepest.max(depth + 1);
                stack.extend(items.iter().map(|v| (v, depth + 1)));
            }
            Value::Mapping(map) => {
                deepest = deepest.max(depth + 1);
                for (k, v) in map {
                    stack.push((k, depth + 1));
                    stack.push((v, depth + 1));
                }
            }
            _ => {}
        }
    }
    (deepest, nodes)
}

/// A key or value as a short text for a reason.
fn describe(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => serde_yaml_ng::to_string(other)
            .map(|s| s.trim_end().to_owned())
            .unwrap_or_else(|_| "?".to_owned()),
    }
}

fn clip(text: &str) -> String {
    let mut out: String = text.chars().take(64).collect();
    if out.len() < text.len() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(text: &str) -> Value {
        serde_yaml_ng::from_str(text).unwrap()
    }

    #[test]
    fn parameter_types_are_the_ones_cloudformation_knows() {
        for known in [
            "String",
            "Number",
            "List<Number>",
            "CommaDelimitedList",
            "AWS::EC2::VPC::Id",
            "List<AWS::EC2::Subnet::Id>",
            "AWS::SSM::Parameter::Name",
            "AWS::SSM::Parameter::Value<String>",
            "AWS::SSM::Parameter::Value<List<String>>",
            "AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>",
            "AWS::SSM::Parameter::Value<List<AWS::EC2::SecurityGroup::Id>>",
        ] {
            assert!(is_parameter_type(known), "{known}");
        }
        for unknown in [
            "string",
            "Integer",
            "List<String>",
            "AWS::S3::Bucket",
            "List<List<Number>>",
            "AWS::SSM::Parameter::Value<Number>",
            "AWS::SSM::Parameter::Value<AWS::EC2::VPC::Id",
            "",
        ] {
            assert!(!is_parameter_type(unknown), "{unknown}");
        }
    }

    #[test]
    fn every_short_form_function_is_accepted_anywhere() {
        let text = INTRINSIC_TAGS
            .iter()
            .enumerate()
            .map(|(i, tag)| {
                format!("  K{i}: {{Type: AWS::SNS::Topic, Properties: {{A: !{tag} x}}}}\n")
            })
            .collect::<String>();
        assert_eq!(check(&parsed(&format!("Resources:\n{text}"))), Ok(()));
    }

    #[test]
    fn a_foreign_tag_anywhere_is_named() {
        let e = check(&parsed(
            "Resources:\n  A:\n    Type: AWS::SNS::Topic\n    Properties: {B: [x, !Reff y]}\n",
        ));
        assert_eq!(e, Err(Invalid::UnknownTag("!Reff".into())));
        let e = check(&parsed("Resources: !Custom {A: {Type: T}}\n"));
        assert_eq!(e, Err(Invalid::UnknownTag("!Custom".into())));
    }

    #[test]
    fn sections_version_and_description_follow_the_template_anatomy() {
        let cases = [
            ("Resource: {}\n", Invalid::UnknownSection("Resource".into())),
            (
                "AWSTemplateFormatVersion: '2011-01-01'\nResources: {}\n",
                Invalid::FormatVersion("2011-01-01".into()),
            ),
            (
                "Description: [a]\nResources: {}\n",
                Invalid::DescriptionNotText,
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(check(&parsed(text)), Err(expected), "{text}");
        }
        let long = format!("Description: '{}'\nResources: {{}}\n", "é".repeat(513));
        assert_eq!(
            check(&parsed(&long)),
            Err(Invalid::DescriptionTooLong(1026))
        );
        let fits = format!("Description: '{}'\nResources: {{}}\n", "d".repeat(1024));
        assert_eq!(check(&parsed(&fits)), Ok(()));
    }

    #[test]
    fn each_quota_admits_its_limit_and_refuses_one_more() {
        for (section, limit, entry) in [
            ("Resources", MAX_RESOURCES, "{Type: AWS::SNS::Topic}"),
            ("Parameters", MAX_PARAMETERS, "{Type: String}"),
            ("Outputs", MAX_OUTPUTS, "{Value: x}"),
            ("Mappings", MAX_MAPPINGS, "{a: {b: c}}"),
        ] {
            let template = |n: usize| {
                let entries: String = (0..n).map(|i| format!("  E{i}: {entry}\n")).collect();
                parsed(&format!("{section}:\n{entries}"))
            };
            assert_eq!(check(&template(limit)), Ok(()), "{section}");
            assert_eq!(
                check(&template(limit + 1)),
                Err(Invalid::TooMany {
                    section,
                    count: limit + 1,
                    limit
                })
            );
        }
    }

    #[test]
    fn a_transforms_own_constructs_are_left_to_it() {
        let sam = "Transform: AWS::Serverless-2016-10-31\nGlobals: {Function: {Timeout: 3}}\nResources: {F: {Type: AWS::Serverless::Function}}\n";
        assert_eq!(check(&parsed(sam)), Ok(()));
        let each = "Transform: AWS::LanguageExtensions\nResources:\n  Fn::ForEach::Topics: [Name, [A, B], {'${Name}': {Type: AWS::SNS::Topic}}]\n";
        assert_eq!(check(&parsed(each)), Ok(()));
        assert_eq!(
            check(&parsed("Globals: {}\nResources: {}\n")),
            Err(Invalid::UnknownSection("Globals".into()))
        );
    }

    #[test]
    fn resources_and_parameters_need_a_type_cloudformation_knows() {
        assert_eq!(
            check(&parsed("Resources: {A: {Properties: {}}}\n")),
            Err(Invalid::NoType("Resources", "A".into()))
        );
        assert_eq!(
            check(&parsed(
                "Parameters: {P: {Default: x}}\nResources: {A: {Type: T}}\n"
            )),
            Err(Invalid::NoType("Parameters", "P".into()))
        );
        assert_eq!(
            check(&parsed(
                "Parameters: {P: {Type: Strin}}\nResources: {A: {Type: T}}\n"
            )),
            Err(Invalid::ParameterType {
                parameter: "P".into(),
                parameter_type: "Strin".into()
            })
        );
    }

    #[test]
    fn the_extent_counts_collections_not_tags() {
        assert_eq!(extent(&parsed("a: !Sub [x, {b: c}]")), (3, 7));
        assert_eq!(extent(&parsed("x")), (0, 1));
    }
}
