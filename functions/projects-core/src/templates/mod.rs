//! Project templates: the five embedded in the functions at build time, and the check that any template —
//! ours or uploaded later — is one SageMaker can launch.
//!
//! [`validate`] does bounded work whatever it is given: at most [`MAX_TEMPLATE_BYTES`] are read, their
//! [`shape`] (nesting depth, aliases) is measured in one linear pass before the YAML parser runs, and only a
//! text within [`MAX_DEPTH`] levels and without aliases is parsed; the parsed document is then judged as
//! CloudFormation would ([`cloudformation`]) and as SageMaker needs.

pub mod cloudformation;
pub mod shape;

use serde_yaml_ng::Value;
use sha2::{Digest, Sha256};

/// The templates of `templates/`, embedded at build time: (file name, content).
pub const EMBEDDED: [(&str, &str); 5] = [
    (
        "build-train-codepipeline.yaml",
        include_str!("../../../../templates/build-train-codepipeline.yaml"),
    ),
    (
        "build-train-deploy-codepipeline.yaml",
        include_str!("../../../../templates/build-train-deploy-codepipeline.yaml"),
    ),
    (
        "build-train-deploy-jenkins.yaml",
        include_str!("../../../../templates/build-train-deploy-jenkins.yaml"),
    ),
    (
        "build-train-deploy-monitor-codepipeline.yaml",
        include_str!("../../../../templates/build-train-deploy-monitor-codepipeline.yaml"),
    ),
    (
        "deploy-codepipeline.yaml",
        include_str!("../../../../templates/deploy-codepipeline.yaml"),
    ),
];

/// CloudFormation's limit for a template read from S3.
pub const MAX_TEMPLATE_BYTES: usize = 1_048_576;
/// How deep a template's collections may nest. CloudFormation templates need far less (the five of
/// `templates/` nest at most 11 levels), and the bound keeps the YAML parser linear (see [`shape`]).
pub const MAX_DEPTH: usize = 64;
/// How many nodes (keys, values, items) a template may hold, as the [`shape`] scan counts them (each scalar
/// twice, an upper bound of what the parser builds): the parsed document's memory is about proportional, at
/// most ~450 bytes a node when every node is a collection nested 64 deep (`make bench`, section `bounds`),
/// so 90 MiB of the tagger's 256 MB. The five templates of `templates/` count at most a twentieth of it.
pub const MAX_NODES: usize = 200_000;
/// Parameters SageMaker fills in itself; every project template must declare them.
pub const REQUIRED_PARAMETERS: [&str; 2] = ["SageMakerProjectName", "SageMakerProjectId"];

/// Why a template cannot be offered in Studio. The text is short enough for an S3 tag value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Invalid {
    #[error("template is {0} bytes; CloudFormation reads at most 1048576 from S3")]
    TooLarge(usize),
    #[error("not UTF-8 text")]
    NotText,
    #[error("nested deeper than {limit} levels at line {line}")]
    TooDeep { limit: usize, line: usize },
    #[error("YAML aliases are not allowed in CloudFormation templates (line {0})")]
    Alias(usize),
    #[error("more than {limit} keys, values and items (at line {line})")]
    TooManyNodes { limit: usize, line: usize },
    #[error("not CloudFormation YAML or JSON: {0}")]
    NotYaml(String),
    #[error("top level is not a mapping")]
    NotAMapping,
    #[error("no Resources section")]
    NoResources,
    #[error("Resources is empty or not a mapping")]
    EmptyResources,
    #[error("parameter {0} is not declared")]
    MissingParameter(&'static str),
    #[error("parameter {0} must be of Type String")]
    ParameterNotString(&'static str),
    #[error("YAML tag {0} is not a CloudFormation function")]
    UnknownTag(String),
    #[error("{0} is not a template section")]
    UnknownSection(String),
    #[error("AWSTemplateFormatVersion {0} is not 2010-09-09")]
    FormatVersion(String),
    #[error("Description is not text")]
    DescriptionNotText,
    #[error("Description is {0} bytes; CloudFormation takes at most 1024")]
    DescriptionTooLong(usize),
    #[error("{count} {section}; CloudFormation takes at most {limit}")]
    TooMany {
        section: &'static str,
        count: usize,
        limit: usize,
    },
    #[error("{0} entry {1} has no Type")]
    NoType(&'static str, String),
    #[error("parameter {parameter} has Type {parameter_type}, which CloudFormation does not know")]
    ParameterType {
        parameter: String,
        parameter_type: String,
    },
}

impl From<shape::Refusal> for Invalid {
    fn from(refusal: shape::Refusal) -> Self {
        match refusal {
            shape::Refusal::TooDeep { limit, line } => Self::TooDeep { limit, line },
            shape::Refusal::Alias { line } => Self::Alias(line),
            shape::Refusal::TooManyNodes { limit, line } => Self::TooManyNodes { limit, line },
            shape::Refusal::Tag { tag, line } => Self::UnknownTag(format!("{tag} (line {line})")),
        }
    }
}

/// What a valid template declares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateInfo {
    /// Declared parameters: (name, has a default or is optional in SagemakerTemplateParameterRules).
    pub parameters: Vec<(String, bool)>,
    pub resources: usize,
}

impl TemplateInfo {
    /// Parameters a caller must give (SageMaker fills the two project ones itself).
    pub fn required_parameters(&self) -> impl Iterator<Item = &str> {
        self.parameters
            .iter()
            .filter(|(name, optional)| !optional && !REQUIRED_PARAMETERS.contains(&name.as_str()))
            .map(|(name, _)| name.as_str())
    }

    pub fn declares(&self, parameter: &str) -> bool {
        self.parameters.iter().any(|(n, _)| n == parameter)
    }
}

/// Checks that `bytes` is a project template: size, nesting and aliases (before parsing), YAML/JSON that
/// CloudFormation accepts (its short-form functions only, its sections, quotas and parameter types), a
/// non-empty `Resources` mapping, and the two SageMaker parameters as Strings.
pub fn validate(bytes: &[u8]) -> Result<TemplateInfo, Invalid> {
    if bytes.len() > MAX_TEMPLATE_BYTES {
        return Err(Invalid::TooLarge(bytes.len()));
    }
    let text = std::str::from_utf8(bytes).map_err(|_| Invalid::NotText)?;
    shape::measure_within(
        text,
        shape::Limits {
            depth: MAX_DEPTH,
            nodes: MAX_NODES,
        },
    )?;
    let doc: Value =
        serde_yaml_ng::from_str(text).map_err(|e| Invalid::NotYaml(first_line(&e.to_string())))?;
    let top = doc.as_mapping().ok_or(Invalid::NotAMapping)?;
    cloudformation::check(&doc)?;
    let resources = top.get("Resources").ok_or(Invalid::NoResources)?;
    let resources = resources
        .as_mapping()
        .filter(|m| !m.is_empty())
        .ok_or(Invalid::EmptyResources)?
        .len();
    let declared = top.get("Parameters").and_then(Value::as_mapping);
    let optional_by_rule = |name: &str| {
        top.get("Metadata")
            .and_then(|m| m.get("SagemakerTemplateParameterRules"))
            .and_then(|r| r.get(name))
            .and_then(|r| r.get("Optional"))
            .is_some_and(|o| o.as_bool() == Some(true) || o.as_str() == Some("true"))
    };
    for required in REQUIRED_PARAMETERS {
        let p = declared
            .and_then(|d| d.get(required))
            .ok_or(Invalid::MissingParameter(required))?;
        if p.get("Type").and_then(Value::as_str) != Some("String") {
            return Err(Invalid::ParameterNotString(required));
        }
    }
    let parameters = declared
        .map(|d| {
            d.iter()
                .filter_map(|(k, v)| {
                    let name = k.as_str()?.to_owned();
                    let optional = v.get("Default").is_some() || optional_by_rule(&name);
                    Some((name, optional))
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(TemplateInfo {
        parameters,
        resources,
    })
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or("").chars().take(160).collect()
}

/// Hex SHA-256 of a template's content.
pub fn digest(content: &[u8]) -> String {
    hex::encode(Sha256::digest(content))
}

/// The digest of the whole embedded set: changes whenever any template changes (a stack parameter for
/// `Custom::ProjectTemplates`, so CloudFormation sends an Update).
pub fn set_digest() -> String {
    let mut h = Sha256::new();
    for (name, content) in EMBEDDED {
        h.update(name.as_bytes());
        h.update([0]);
        h.update(digest(content.as_bytes()).as_bytes());
    }
    hex::encode(h.finalize())
}

/// A template version's name: the content's MD5 in hex. The publisher compares templates by it, and S3 lists it
/// (as the ETag) for every stored version, so projects name the version they run by it.
pub fn content_digest(content: &[u8]) -> String {
    hex::encode(md5::Md5::digest(content))
}

/// S3's `ChecksumSHA256` of an object with this content: the base64 of its SHA-256.
pub fn checksum_sha256(content: &[u8]) -> String {
    use aws_smithy_types::base64;
    base64::encode(Sha256::digest(content))
}

/// S3's ETag of a single-part upload without SSE-KMS: the content's MD5, quoted.
pub fn etag(content: &[u8]) -> String {
    format!("\"{}\"", content_digest(content))
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALID: &str = "Parameters:\n  SageMakerProjectName: {Type: String}\n  SageMakerProjectId: {Type: String}\n  Branch: {Type: String, Default: main}\n  Repo: {Type: String}\nResources:\n  B:\n    Type: AWS::S3::Bucket\n    Properties:\n      BucketName: !Sub 'sagemaker-${SageMakerProjectId}'\n";

    #[test]
    fn every_file_in_templates_is_far_within_the_bounds() {
        for (name, content) in EMBEDDED {
            let s = shape::measure(content, MAX_DEPTH).unwrap();
            assert!(s.depth <= 16 && s.nodes <= MAX_NODES / 20, "{name}: {s:?}");
        }
    }

    #[test]
    fn every_file_in_templates_is_embedded_and_valid() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../templates");
        let mut on_disk: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|n| n.ends_with(".yaml"))
            .collect();
        on_disk.sort();
        let embedded: Vec<String> = EMBEDDED.iter().map(|(n, _)| (*n).to_owned()).collect();
        assert_eq!(embedded, on_disk);
        for (name, content) in EMBEDDED {
            let info = validate(content.as_bytes()).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(info.resources > 0);
        }
    }

    #[test]
    fn a_valid_template_lists_what_a_caller_must_give() {
        let info = validate(VALID.as_bytes()).unwrap();
        assert_eq!(info.required_parameters().collect::<Vec<_>>(), ["Repo"]);
        assert!(info.declares("Branch"));
        assert_eq!(info.resources, 1);
    }

    #[test]
    fn optional_parameters_by_sagemaker_rule_are_not_required() {
        let t = format!(
            "{VALID}Metadata:\n  SagemakerTemplateParameterRules:\n    Repo: {{Optional: true}}\n"
        );
        assert_eq!(
            validate(t.as_bytes())
                .unwrap()
                .required_parameters()
                .count(),
            0
        );
    }

    #[test]
    fn each_rule_rejects_with_a_short_reason() {
        let cases: [(&[u8], Invalid); 7] = [
            (b"\xff\xfe", Invalid::NotText),
            (b"- a\n- b\n", Invalid::NotAMapping),
            (b"Parameters: {}\n", Invalid::NoResources),
            (b"Resources: {}\n", Invalid::EmptyResources),
            (b"Resources: {A: {Type: AWS::S3::Bucket}}\n", Invalid::MissingParameter("SageMakerProjectName")),
            (
                b"Parameters: {SageMakerProjectName: {Type: String}}\nResources: {A: {Type: AWS::S3::Bucket}}\n",
                Invalid::MissingParameter("SageMakerProjectId"),
            ),
            (
                b"Parameters: {SageMakerProjectName: {Type: Number}, SageMakerProjectId: {Type: String}}\nResources: {A: {Type: X}}\n",
                Invalid::ParameterNotString("SageMakerProjectName"),
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(validate(input), Err(expected));
        }
        assert!(matches!(
            validate(b"Resources: [unclosed"),
            Err(Invalid::NotYaml(_))
        ));
        let big = vec![b' '; MAX_TEMPLATE_BYTES + 1];
        assert_eq!(
            validate(&big),
            Err(Invalid::TooLarge(MAX_TEMPLATE_BYTES + 1))
        );
    }

    /// The two templates issue 29 found: one kept the parser busy past the Lambda timeout, one was made
    /// visible although CloudFormation refuses it. Both are refused at once, naming the reason.
    #[test]
    fn hostile_templates_of_issue_29_are_refused_at_once_with_a_reason() {
        let nested = format!(
            "Resources: {}{}\n",
            "[".repeat(200_000),
            "]".repeat(200_000)
        );
        assert_eq!(
            validate(nested.as_bytes()),
            Err(Invalid::TooDeep {
                limit: MAX_DEPTH,
                line: 1
            })
        );
        let python = format!("Description: !!python/object/apply:os.system ['true']\n{VALID}");
        let e = validate(python.as_bytes()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "YAML tag !!python/object/apply:os.system (line 1) is not a CloudFormation function"
        );
    }

    /// The seed corpus of the templates fuzz target: every odd-but-valid template is accepted, every hostile
    /// one refused at once, with its reason.
    #[test]
    fn the_corpus_odd_templates_are_accepted_and_the_hostile_ones_refused() {
        let dir =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/templates");
        let mut seen = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let verdict = validate(&std::fs::read(&path).unwrap());
            if name.starts_with("odd-but-valid") {
                assert!(verdict.is_ok(), "{name}: {verdict:?}");
                seen += 1;
            } else if let Some(case) = name.strip_prefix("hostile-") {
                let expected = match case {
                    "nested-flow-sequences.yaml" => "nested deeper than 64 levels at line 1",
                    "python-tag.yaml" => "YAML tag !!python/object/apply:os.system (line 1)",
                    "alias-expansion.yaml" => "YAML aliases are not allowed",
                    "deep-block-nesting.yaml" => "nested deeper than 64 levels at line 33",
                    other => panic!("no expectation for hostile-{other}"),
                };
                let reason = verdict.unwrap_err().to_string();
                assert!(reason.starts_with(expected), "{name}: {reason}");
                seen += 1;
            }
        }
        assert_eq!(seen, 7);
    }

    #[test]
    fn a_template_of_more_nodes_than_the_bound_is_refused_before_it_is_parsed() {
        let items = "a,".repeat(MAX_NODES / 2);
        let big = format!("{VALID}Metadata:\n  Big: [{items}]\n");
        assert!(matches!(
            validate(big.as_bytes()),
            Err(Invalid::TooManyNodes {
                limit: MAX_NODES,
                line: 12
            })
        ));
        let fits = format!(
            "{VALID}Metadata:\n  Big: [{}]\n",
            "a,".repeat(MAX_NODES / 4)
        );
        assert!(validate(fits.as_bytes()).is_ok());
    }

    #[test]
    fn an_alias_expansion_is_refused_before_it_is_built() {
        let anchor: String = (0..1000).map(|i| format!("x{i},")).collect();
        let aliases = "*a,".repeat(50_000);
        let bomb = format!("{VALID}Metadata:\n  A: &a [{anchor}]\n  B: [{aliases}]\n");
        assert_eq!(validate(bomb.as_bytes()), Err(Invalid::Alias(13)));
    }

    #[test]
    fn json_templates_are_accepted() {
        let json = r#"{"Parameters":{"SageMakerProjectName":{"Type":"String"},"SageMakerProjectId":{"Type":"String"}},"Resources":{"A":{"Type":"AWS::SNS::Topic"}}}"#;
        assert!(validate(json.as_bytes()).is_ok());
    }

    #[test]
    fn digests_and_etags() {
        assert_eq!(etag(b""), "\"d41d8cd98f00b204e9800998ecf8427e\"");
        assert_eq!(set_digest(), set_digest());
        assert_eq!(digest(b"a").len(), 64);
    }
}
