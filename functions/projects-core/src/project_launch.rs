//! Launching a project by hand (the `projects` command): which templates the bootstrap stack published (its
//! outputs, or URLs given on the command line), what a template takes, the caller's parameters checked against
//! the template's declarations before any SageMaker call, CreateProject with the S3 template, and following a
//! project's status until it settles.
//!
//! Nothing here prints: the caller renders [`Progress`] and the results.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_s3::config::Region;
use aws_sdk_sagemaker::operation::describe_project::DescribeProjectOutput;
use aws_sdk_sagemaker::primitives::DateTimeFormat;
use aws_sdk_sagemaker::types::{
    CfnCreateTemplateProvider, CfnStackCreateParameter, CreateTemplateProvider,
};
use percent_encoding::percent_decode_str;
use serde::Serialize;
use serde_yaml_ng::Value;
use tokio::time::Instant;

use crate::aws::{sagemaker_not_found, AwsSdkError, CallError, OperationError};
use crate::names::{self, RoleArn};
use crate::onboarding::projects::template_label;
use crate::templates::{self, MAX_TEMPLATE_BYTES, REQUIRED_PARAMETERS};

/// The bootstrap stack's default name.
pub const DEFAULT_STACK: &str = "sagemaker-projects-bootstrap";
/// Stack output: the role CloudFormation assumes to create a project's resources.
pub const LAUNCH_ROLE_OUTPUT: &str = "LaunchRoleArn";
/// Stack output: `s3://bucket/prefix/`, the value of the domains' `sagemaker:projectS3TemplatesLocation` tag.
pub const TEMPLATES_LOCATION_OUTPUT: &str = "TemplatesLocation";
/// Stack outputs `<PascalName>TemplateUrl` carry one template's https URL each.
pub const TEMPLATE_URL_SUFFIX: &str = "TemplateUrl";
/// CreateProject's ProjectDescription limit.
pub const MAX_DESCRIPTION: usize = 1024;
/// CreateProject's limit on a CfnTemplateProvider's parameters.
pub const MAX_PARAMETERS: usize = 180;

// ---------------------------------------------------------------------------------------------------------------
// Errors

/// What went wrong, worded for one line on a terminal.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LaunchError {
    /// The caller's input is wrong (name, parameters, template choice); no project was touched.
    #[error("{0}")]
    Invalid(String),
    /// An AWS API answered with an error (or could not be reached): `CreateProject: Code: message`.
    #[error("{}: {}: {}", .0.operation, .0.code, .0.message)]
    Aws(#[from] CallError),
    /// A template could not be read from S3.
    #[error("{}: {}: template {name} ({url}): {}", .source.operation, .source.code, .source.message)]
    TemplateRead {
        name: String,
        url: String,
        source: CallError,
    },
    /// Anything else: a template that cannot be read or is not a project template, a stack without the outputs.
    #[error("{0}")]
    Failed(String),
}

impl LaunchError {
    /// 2 for the caller's input (as for a usage error), 1 for everything else.
    pub fn exit_code(&self) -> u8 {
        match self {
            LaunchError::Invalid(_) => 2,
            _ => 1,
        }
    }

    /// The failed AWS call, when there was one.
    pub fn call(&self) -> Option<&CallError> {
        match self {
            LaunchError::Aws(call) | LaunchError::TemplateRead { source: call, .. } => Some(call),
            _ => None,
        }
    }

    /// The AWS error code, when AWS answered.
    pub fn aws_code(&self) -> Option<&str> {
        self.call().map(|c| c.code.as_str())
    }
}

fn sagemaker<E: OperationError>(
    operation: &'static str,
    project: &str,
    e: AwsSdkError<E>,
) -> LaunchError {
    LaunchError::Aws(CallError::new(
        "SageMaker",
        operation,
        format!("project {project}"),
        e,
    ))
}

// ---------------------------------------------------------------------------------------------------------------
// What the caller gives

/// A project name as CreateProject takes it: 1–32 letters, digits and hyphens, starting and ending with a
/// letter or digit (`[a-zA-Z0-9](-*[a-zA-Z0-9]){0,31}`). Checked before any call.
pub fn check_project_name(name: &str) -> Result<(), LaunchError> {
    let problem = if name.is_empty() {
        Some("it is empty".to_owned())
    } else if name.chars().count() > 32 {
        Some(format!("it has {} characters", name.chars().count()))
    } else if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '-'))
    {
        Some(format!("{c:?} is not allowed"))
    } else if name.starts_with('-') || name.ends_with('-') {
        Some("it starts or ends with '-'".to_owned())
    } else {
        None
    };
    match problem {
        None => Ok(()),
        Some(why) => Err(LaunchError::Invalid(format!(
            "project name {name:?} is not valid ({why}): use 1-32 letters, digits and hyphens, starting and \
             ending with a letter or digit"
        ))),
    }
}

/// A project description as CreateProject takes it (at most 1,024 characters).
pub fn check_description(description: &str) -> Result<(), LaunchError> {
    let n = description.chars().count();
    if n > MAX_DESCRIPTION {
        return Err(LaunchError::Invalid(format!(
            "the description has {n} characters; SageMaker takes at most {MAX_DESCRIPTION}"
        )));
    }
    Ok(())
}

/// `KEY=VALUE` flags as a map. The value may be empty or contain `=`; a key given twice is refused.
pub fn parse_parameters(pairs: &[String]) -> Result<BTreeMap<String, String>, LaunchError> {
    let mut out = BTreeMap::new();
    for pair in pairs {
        let (key, value) = pair
            .split_once('=')
            .filter(|(k, _)| !k.trim().is_empty())
            .ok_or_else(|| LaunchError::Invalid(format!("parameter {pair:?} is not KEY=VALUE")))?;
        let key = key.trim();
        if key.chars().any(char::is_whitespace) {
            return Err(LaunchError::Invalid(format!(
                "parameter name {key:?} contains whitespace"
            )));
        }
        if out.insert(key.to_owned(), value.to_owned()).is_some() {
            return Err(LaunchError::Invalid(format!(
                "parameter {key} is given more than once"
            )));
        }
    }
    if out.len() > MAX_PARAMETERS {
        return Err(LaunchError::Invalid(format!(
            "{} parameters given; SageMaker takes at most {MAX_PARAMETERS}",
            out.len()
        )));
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------------------------
// S3 object URLs

/// The object an https S3 URL points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Object {
    pub bucket: String,
    pub key: String,
    /// The region named in the host, when it names one (`bucket.s3.eu-west-1.amazonaws.com`).
    pub region: Option<String>,
}

const URL_FORMS: &str = "expected https://BUCKET.s3.REGION.amazonaws.com/KEY or https://s3.REGION.amazonaws.com/BUCKET/KEY";

/// Parses an S3 object URL in virtual-hosted style (`https://b.s3.us-east-1.amazonaws.com/k`,
/// `https://b.s3.amazonaws.com/k`, legacy `b.s3-eu-west-1`, `dualstack`) or path style
/// (`https://s3.us-east-1.amazonaws.com/b/k`). The key is percent-decoded. China regions (`.amazonaws.com.cn`)
/// are accepted; website, access-point and non-https URLs are not (CreateProject takes https only).
pub fn parse_s3_url(url: &str) -> Result<S3Object, String> {
    let bad = |why: &str| format!("{url:?} is not an S3 object URL ({why}); {URL_FORMS}");
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

// ---------------------------------------------------------------------------------------------------------------
// Where the templates are

/// One published template.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TemplateRef {
    pub name: String,
    pub url: String,
}

/// The templates a project can be launched from, and the role CloudFormation assumes to launch it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Catalog {
    /// `stack <name>` or `command line`.
    pub source: String,
    pub launch_role_arn: Option<String>,
    pub templates_location: Option<String>,
    pub templates: Vec<TemplateRef>,
}

/// A template chosen by the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chosen {
    pub template: TemplateRef,
    /// false: not one of the catalog's templates, but an object beside them (uploaded later, say).
    pub listed: bool,
}

impl Catalog {
    /// From the bootstrap stack's outputs: `LaunchRoleArn`, `TemplatesLocation` and every
    /// `<Name>TemplateUrl` (the template's name is the URL's file stem).
    pub fn from_outputs<K: AsRef<str>, V: AsRef<str>>(
        stack: &str,
        outputs: &[(K, V)],
    ) -> Result<Self, LaunchError> {
        let get = |name: &str| {
            outputs
                .iter()
                .find(|(k, _)| k.as_ref() == name)
                .map(|(_, v)| v.as_ref().trim().to_owned())
        };
        let role = get(LAUNCH_ROLE_OUTPUT).ok_or_else(|| {
            LaunchError::Failed(format!(
                "stack {stack} has no output {LAUNCH_ROLE_OUTPUT}: is it the sagemaker-projects-bootstrap stack? \
                 (or pass --template-url and --launch-role)"
            ))
        })?;
        RoleArn::parse(LAUNCH_ROLE_OUTPUT, &role)
            .map_err(|e| LaunchError::Failed(format!("stack {stack}: {e}")))?;
        let mut templates: Vec<TemplateRef> = Vec::new();
        for (key, value) in outputs {
            let (key, url) = (key.as_ref(), value.as_ref().trim());
            if !key.ends_with(TEMPLATE_URL_SUFFIX) || key == TEMPLATE_URL_SUFFIX {
                continue;
            }
            let object = parse_s3_url(url)
                .map_err(|e| LaunchError::Failed(format!("stack {stack}, output {key}: {e}")))?;
            let name = template_stem(&object.key).to_owned();
            if !templates.iter().any(|t| t.name == name) {
                templates.push(TemplateRef {
                    name,
                    url: url.to_owned(),
                });
            }
        }
        if templates.is_empty() {
            return Err(LaunchError::Failed(format!(
                "stack {stack} has no <Name>{TEMPLATE_URL_SUFFIX} outputs: no templates are published"
            )));
        }
        templates.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(Self {
            source: format!("stack {stack}"),
            launch_role_arn: Some(role),
            templates_location: get(TEMPLATES_LOCATION_OUTPUT),
            templates,
        })
    }

    /// From `--template-url NAME=URL` (or a bare URL, named after its file stem) and `--launch-role ARN`.
    pub fn from_flags(urls: &[String], launch_role: Option<&str>) -> Result<Self, LaunchError> {
        let mut templates: Vec<TemplateRef> = Vec::new();
        for flag in urls {
            let flag = flag.trim();
            let (name, url) = match flag.split_once('=') {
                Some((name, url)) if !name.to_ascii_lowercase().starts_with("https:") => {
                    (name.trim().to_owned(), url.trim())
                }
                _ => {
                    let object = parse_s3_url(flag)
                        .map_err(|e| LaunchError::Invalid(format!("--template-url: {e}")))?;
                    (template_stem(&object.key).to_owned(), flag)
                }
            };
            check_template_choice(&name)?;
            parse_s3_url(url)
                .map_err(|e| LaunchError::Invalid(format!("--template-url {name}: {e}")))?;
            if templates.iter().any(|t| t.name == name) {
                return Err(LaunchError::Invalid(format!(
                    "--template-url: template {name} is given more than once"
                )));
            }
            templates.push(TemplateRef {
                name,
                url: url.to_owned(),
            });
        }
        if let Some(role) = launch_role {
            RoleArn::parse("--launch-role", role.trim())
                .map_err(|e| LaunchError::Invalid(e.to_string()))?;
        }
        templates.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(Self {
            source: "command line".to_owned(),
            launch_role_arn: launch_role.map(|r| r.trim().to_owned()),
            templates_location: None,
            templates,
        })
    }

    /// The launch role, which CreateProject passes to CloudFormation.
    pub fn launch_role(&self) -> Result<&str, LaunchError> {
        self.launch_role_arn.as_deref().ok_or_else(|| {
            LaunchError::Invalid(
                "no launch role: pass --launch-role ARN (the role CloudFormation assumes to create the \
                 project's resources), or use the bootstrap stack's outputs"
                    .to_owned(),
            )
        })
    }

    pub fn names(&self) -> Vec<&str> {
        self.templates.iter().map(|t| t.name.as_str()).collect()
    }

    /// The template the caller named: one of the catalog's (with or without `.yaml`), an https S3 URL, or a
    /// name for an object beside the catalog's templates (a template uploaded to the bucket later).
    pub fn choose(&self, template: &str) -> Result<Chosen, LaunchError> {
        let template = template.trim();
        if template.to_ascii_lowercase().starts_with("https://") {
            let object = parse_s3_url(template)
                .map_err(|e| LaunchError::Invalid(format!("--template: {e}")))?;
            return Ok(Chosen {
                listed: self.templates.iter().any(|t| t.url == template),
                template: TemplateRef {
                    name: template_stem(&object.key).to_owned(),
                    url: template.to_owned(),
                },
            });
        }
        let stem = template
            .strip_suffix(".yaml")
            .or_else(|| template.strip_suffix(".yml"))
            .unwrap_or(template);
        if let Some(t) = self.templates.iter().find(|t| t.name == stem) {
            return Ok(Chosen {
                template: t.clone(),
                listed: true,
            });
        }
        check_template_choice(template)?;
        let sibling = self.templates.first().and_then(|t| {
            let (dir, _) = t.url.rsplit_once('/')?;
            let file = if template.contains('.') {
                template.to_owned()
            } else {
                format!("{template}.yaml")
            };
            Some(format!("{dir}/{file}"))
        });
        match sibling {
            Some(url) => Ok(Chosen {
                template: TemplateRef {
                    name: stem.to_owned(),
                    url,
                },
                listed: false,
            }),
            None => Err(LaunchError::Invalid(format!(
                "no template {template}: the {} lists no templates",
                self.source
            ))),
        }
    }
}

fn check_template_choice(name: &str) -> Result<(), LaunchError> {
    let ok = !name.is_empty()
        && name.len() <= 255
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
        && !name.starts_with('.');
    if ok {
        Ok(())
    } else {
        Err(LaunchError::Invalid(format!(
            "template name {name:?} is not valid: use letters, digits, '.', '_' and '-' (or give an https URL)"
        )))
    }
}

// ---------------------------------------------------------------------------------------------------------------
// What a template takes

/// One parameter a caller may give (SageMaker's own two are left out).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ParameterSpec {
    pub name: String,
    pub required: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub allowed_values: Vec<String>,
    #[serde(skip)]
    min_length: Option<usize>,
    #[serde(skip)]
    max_length: Option<usize>,
}

impl ParameterSpec {
    fn value_problem(&self, value: &str) -> Option<String> {
        let n = value.chars().count();
        if !self.allowed_values.is_empty() && !self.allowed_values.iter().any(|a| a == value) {
            return Some(format!(
                "{value:?} is not one of {}",
                self.allowed_values.join(", ")
            ));
        }
        if let Some(min) = self.min_length.filter(|m| n < *m) {
            return Some(format!("{value:?} is shorter than {min} characters"));
        }
        if let Some(max) = self.max_length.filter(|m| n > *m) {
            return Some(format!("{value:?} is longer than {max} characters"));
        }
        None
    }
}

/// A project template, read and checked: its parameters in the order the template declares them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TemplateSpec {
    pub name: String,
    pub url: String,
    pub parameters: Vec<ParameterSpec>,
    /// What the template declares for SageMakerProjectName (a project name must satisfy it too).
    #[serde(skip)]
    project_name: ProjectNameRule,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct ProjectNameRule {
    min_length: Option<usize>,
    max_length: Option<usize>,
    letter_first: bool,
    pattern: Option<String>,
}

impl TemplateSpec {
    /// Reads `content` as the project template `template`: it must pass [`templates::validate`].
    pub fn parse(template: &TemplateRef, content: &[u8]) -> Result<Self, LaunchError> {
        let info = templates::validate(content).map_err(|e| {
            LaunchError::Failed(format!(
                "template {} ({}) is not a SageMaker project template: {e}",
                template.name, template.url
            ))
        })?;
        // validate has parsed it already: this second parse cannot fail
        let doc: Value = serde_yaml_ng::from_slice(content).unwrap_or(Value::Null);
        let declared = doc.get("Parameters").and_then(Value::as_mapping);
        let declaration = |name: &str| declared.and_then(|d| d.get(name));
        let parameters = info
            .parameters
            .iter()
            .filter(|(name, _)| !REQUIRED_PARAMETERS.contains(&name.as_str()))
            .map(|(name, optional)| {
                let d = declaration(name);
                let field = |f: &str| d.and_then(|d| d.get(f));
                ParameterSpec {
                    name: name.clone(),
                    required: !optional,
                    default: field("Default").and_then(scalar),
                    description: field("Description")
                        .and_then(scalar)
                        .map(|s| crate::aws::one_line(&s)),
                    allowed_values: field("AllowedValues")
                        .and_then(Value::as_sequence)
                        .map(|s| s.iter().filter_map(scalar).collect())
                        .unwrap_or_default(),
                    min_length: field("MinLength").and_then(number),
                    max_length: field("MaxLength").and_then(number),
                }
            })
            .collect();
        let name_decl = |f: &str| declaration(REQUIRED_PARAMETERS[0]).and_then(|d| d.get(f));
        let pattern = name_decl("AllowedPattern").and_then(scalar);
        let project_name = ProjectNameRule {
            min_length: name_decl("MinLength").and_then(number),
            max_length: name_decl("MaxLength").and_then(number),
            // the form AWS documents for S3 project templates: ^[a-zA-Z](-*[a-zA-Z0-9])*
            letter_first: pattern
                .as_deref()
                .is_some_and(|p| p.trim_start_matches('^').starts_with("[a-zA-Z]")),
            pattern,
        };
        Ok(Self {
            name: template.name.clone(),
            url: template.url.clone(),
            parameters,
            project_name,
        })
    }

    pub fn required(&self) -> impl Iterator<Item = &ParameterSpec> {
        self.parameters.iter().filter(|p| p.required)
    }

    pub fn optional(&self) -> impl Iterator<Item = &ParameterSpec> {
        self.parameters.iter().filter(|p| !p.required)
    }

    fn takes(&self) -> String {
        if self.parameters.is_empty() {
            "it takes none".to_owned()
        } else {
            let names: Vec<&str> = self.parameters.iter().map(|p| p.name.as_str()).collect();
            format!("it takes {}", names.join(", "))
        }
    }

    /// The caller's parameters against the declarations: SageMaker's own two refused, each one declared, every
    /// required one given, values within AllowedValues / MinLength / MaxLength (AllowedPattern is left to
    /// CloudFormation). The project name is checked against what the template declares for it.
    pub fn check(
        &self,
        project: &str,
        given: &BTreeMap<String, String>,
    ) -> Result<(), LaunchError> {
        let t = &self.name;
        if let Some(reserved) = given
            .keys()
            .find(|k| REQUIRED_PARAMETERS.contains(&k.as_str()))
        {
            return Err(LaunchError::Invalid(format!(
                "parameter {reserved} is filled in by SageMaker (from the project's name and id); do not pass it"
            )));
        }
        let unknown: Vec<&str> = given
            .keys()
            .filter(|k| !self.parameters.iter().any(|p| &p.name == *k))
            .map(String::as_str)
            .collect();
        if !unknown.is_empty() {
            let noun = if unknown.len() == 1 {
                "parameter"
            } else {
                "parameters"
            };
            return Err(LaunchError::Invalid(format!(
                "template {t} has no {noun} {}; {}",
                unknown.join(", "),
                self.takes()
            )));
        }
        let missing: Vec<&str> = self
            .required()
            .filter(|p| !given.contains_key(&p.name))
            .map(|p| p.name.as_str())
            .collect();
        if !missing.is_empty() {
            let noun = if missing.len() == 1 {
                "parameter"
            } else {
                "parameters"
            };
            let flags: Vec<String> = missing.iter().map(|m| format!("--param {m}=…")).collect();
            return Err(LaunchError::Invalid(format!(
                "template {t} requires {noun} {} (pass {})",
                missing.join(", "),
                flags.join(" ")
            )));
        }
        for p in &self.parameters {
            if let Some(problem) = given.get(&p.name).and_then(|v| p.value_problem(v)) {
                return Err(LaunchError::Invalid(format!(
                    "parameter {}: {problem}",
                    p.name
                )));
            }
        }
        let rule = &self.project_name;
        let n = project.chars().count();
        let too_short = rule.min_length.is_some_and(|m| n < m);
        let too_long = rule.max_length.is_some_and(|m| n > m);
        let bad_start =
            rule.letter_first && !project.starts_with(|c: char| c.is_ascii_alphabetic());
        if too_short || too_long || bad_start {
            let mut why = Vec::new();
            if let Some(p) = &rule.pattern {
                why.push(format!("AllowedPattern {p}"));
            }
            if let Some(m) = rule.min_length {
                why.push(format!("MinLength {m}"));
            }
            if let Some(m) = rule.max_length {
                why.push(format!("MaxLength {m}"));
            }
            return Err(LaunchError::Invalid(format!(
                "project name {project:?} does not fit template {t}, whose SageMakerProjectName declares {}",
                why.join(", ")
            )));
        }
        Ok(())
    }
}

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Sequence(items) => Some(
            items
                .iter()
                .filter_map(scalar)
                .collect::<Vec<_>>()
                .join(","),
        ),
        _ => None,
    }
}

fn number(v: &Value) -> Option<usize> {
    match v {
        Value::Number(n) => n.as_u64().and_then(|n| usize::try_from(n).ok()),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Downloads the chosen template with S3 GetObject (from the region its URL names, if any) and reads it.
pub async fn load_template(
    s3: &aws_sdk_s3::Client,
    catalog: &Catalog,
    chosen: &Chosen,
) -> Result<TemplateSpec, LaunchError> {
    let t = &chosen.template;
    let object = parse_s3_url(&t.url).map_err(LaunchError::Invalid)?;
    let mut request = s3
        .get_object()
        .bucket(&object.bucket)
        .key(&object.key)
        .customize();
    if let Some(region) = &object.region {
        request = request.config_override(
            aws_sdk_s3::config::Builder::default().region(Region::new(region.clone())),
        );
    }
    let out = match request.send().await {
        Ok(out) => out,
        Err(e) => {
            let url = format!("s3://{}/{}", object.bucket, object.key);
            let err = CallError::new("S3", "GetObject", url.as_str(), e);
            let absent = err.is("NoSuchKey") || err.is("NotFound");
            return Err(if absent && !chosen.listed {
                LaunchError::Invalid(format!(
                    "no template {}: {url} does not exist; the {} lists {}",
                    t.name,
                    catalog.source,
                    catalog.names().join(", ")
                ))
            } else {
                LaunchError::TemplateRead {
                    name: t.name.clone(),
                    url,
                    source: err,
                }
            });
        }
    };
    let too_large = |n: i64| u64::try_from(n).unwrap_or(u64::MAX) > MAX_TEMPLATE_BYTES as u64;
    if out.content_length().is_some_and(too_large) {
        return Err(LaunchError::Failed(format!(
            "template {} is larger than the {MAX_TEMPLATE_BYTES} bytes CloudFormation reads from S3",
            t.name
        )));
    }
    let body =
        out.body.collect().await.map_err(|e| {
            LaunchError::Failed(format!("template {}: reading it failed: {e}", t.name))
        })?;
    TemplateSpec::parse(t, &body.into_bytes())
}

// ---------------------------------------------------------------------------------------------------------------
// Projects

/// What CreateProject is sent: checked already.
#[derive(Debug, Clone)]
pub struct LaunchPlan {
    pub project: String,
    pub description: Option<String>,
    pub template: TemplateSpec,
    pub parameters: BTreeMap<String, String>,
    pub role_arn: String,
}

impl LaunchPlan {
    /// Checks everything that can be checked without SageMaker: the name, the description, the parameters
    /// against the template, and that there is a launch role.
    pub fn new(
        project: &str,
        description: Option<&str>,
        template: TemplateSpec,
        parameters: BTreeMap<String, String>,
        catalog: &Catalog,
    ) -> Result<Self, LaunchError> {
        check_project_name(project)?;
        if let Some(d) = description {
            check_description(d)?;
        }
        template.check(project, &parameters)?;
        Ok(Self {
            project: project.to_owned(),
            description: description.map(str::to_owned),
            role_arn: catalog.launch_role()?.to_owned(),
            template,
            parameters,
        })
    }

    /// The CfnTemplateProvider's TemplateName.
    pub fn template_name(&self) -> String {
        template_name(&self.template.name)
    }
}

/// What CreateProject answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Created {
    pub arn: String,
    pub id: String,
}

/// Calls CreateProject with the plan's S3 template (CfnTemplateProvider: TemplateName, TemplateURL, RoleARN,
/// Parameters).
pub async fn create_project(
    sm: &aws_sdk_sagemaker::Client,
    plan: &LaunchPlan,
) -> Result<Created, LaunchError> {
    let mut cfn = CfnCreateTemplateProvider::builder()
        .template_name(plan.template_name())
        .template_url(&plan.template.url)
        .role_arn(&plan.role_arn);
    for (k, v) in &plan.parameters {
        cfn = cfn.parameters(CfnStackCreateParameter::builder().key(k).value(v).build());
    }
    let out = sm
        .create_project()
        .project_name(&plan.project)
        .set_project_description(plan.description.clone())
        .template_providers(
            CreateTemplateProvider::builder()
                .cfn_template_provider(cfn.build())
                .build(),
        )
        .send()
        .await
        .map_err(|e| sagemaker("CreateProject", &plan.project, e))?;
    Ok(Created {
        arn: out.project_arn().unwrap_or_default().to_owned(),
        id: out.project_id().unwrap_or_default().to_owned(),
    })
}

/// A project as DescribeProject shows it, flattened for output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProjectView {
    pub name: String,
    pub id: Option<String>,
    pub arn: Option<String>,
    pub status: String,
    pub description: Option<String>,
    pub template_name: Option<String>,
    pub template_url: Option<String>,
    pub role_arn: Option<String>,
    pub parameters: BTreeMap<String, String>,
    pub stack_name: Option<String>,
    pub stack_id: Option<String>,
    pub stack_status_message: Option<String>,
    /// RFC 3339.
    pub created: Option<String>,
}

impl ProjectView {
    pub fn from_output(name: &str, out: &DescribeProjectOutput) -> Self {
        let cfn = out
            .template_provider_details()
            .iter()
            .find_map(|d| d.cfn_template_provider_detail());
        let stack = cfn.and_then(|c| c.stack_detail());
        let owned = |s: Option<&str>| s.map(str::to_owned);
        Self {
            name: out.project_name().unwrap_or(name).to_owned(),
            id: owned(out.project_id()),
            arn: owned(out.project_arn()),
            status: out
                .project_status()
                .map_or("Unknown", |s| s.as_str())
                .to_owned(),
            description: owned(out.project_description()),
            template_name: owned(cfn.and_then(|c| c.template_name())),
            template_url: owned(cfn.and_then(|c| c.template_url())),
            role_arn: owned(cfn.and_then(|c| c.role_arn())),
            parameters: cfn
                .map(|c| {
                    c.parameters()
                        .iter()
                        .filter_map(|p| {
                            Some((p.key()?.to_owned(), p.value().unwrap_or("").to_owned()))
                        })
                        .collect()
                })
                .unwrap_or_default(),
            stack_name: owned(stack.and_then(|s| s.name())),
            stack_id: owned(stack.and_then(|s| s.id())),
            stack_status_message: owned(stack.and_then(|s| s.status_message())),
            created: out
                .creation_time()
                .and_then(|t| t.fmt(DateTimeFormat::DateTime).ok()),
        }
    }
}

/// DescribeProject; `None` when there is no such project.
pub async fn describe_project(
    sm: &aws_sdk_sagemaker::Client,
    name: &str,
) -> Result<Option<ProjectView>, LaunchError> {
    match sm.describe_project().project_name(name).send().await {
        Ok(out) => Ok(Some(ProjectView::from_output(name, &out))),
        Err(e) if sagemaker_not_found(&e) => Ok(None),
        Err(e) => Err(sagemaker("DescribeProject", name, e)),
    }
}

/// DeleteProject (CloudFormation then deletes the project's stack).
pub async fn delete_project(sm: &aws_sdk_sagemaker::Client, name: &str) -> Result<(), LaunchError> {
    match sm.delete_project().project_name(name).send().await {
        Ok(_) => Ok(()),
        Err(e) if sagemaker_not_found(&e) => Err(LaunchError::Failed(format!(
            "project {name} does not exist"
        ))),
        Err(e) => Err(sagemaker("DeleteProject", name, e)),
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Following a project until it settles

/// What the caller waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Goal {
    Created,
    Deleted,
}

/// How a status reads for a goal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Reached,
    Failed,
    Waiting,
}

/// `status` is None when DescribeProject finds no project.
pub fn verdict(goal: Goal, status: Option<&str>) -> Verdict {
    match (goal, status) {
        (Goal::Created, Some("CreateCompleted" | "UpdateCompleted")) => Verdict::Reached,
        (
            Goal::Created,
            Some(
                "CreateFailed" | "UpdateFailed" | "DeleteInProgress" | "DeleteCompleted"
                | "DeleteFailed",
            ),
        ) => Verdict::Failed,
        (Goal::Deleted, None | Some("DeleteCompleted")) => Verdict::Reached,
        (Goal::Deleted, Some("DeleteFailed")) => Verdict::Failed,
        _ => Verdict::Waiting,
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FollowSettings {
    /// Time between two DescribeProject calls.
    pub interval: Duration,
    /// Give up (the project goes on) after this long.
    pub timeout: Duration,
    /// A project just created may not be visible yet: how long "no such project" still means "wait".
    pub appear_grace: Duration,
}

impl Default for FollowSettings {
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(5),
            timeout: Duration::from_secs(3600),
            appear_grace: Duration::from_secs(60),
        }
    }
}

/// One observation, for a progress display.
#[derive(Debug)]
pub struct Progress<'a> {
    /// None: DescribeProject finds no project.
    pub status: Option<&'a str>,
    /// Whether the status differs from the previous observation (always true for the first).
    pub changed: bool,
    pub elapsed: Duration,
    pub project: Option<&'a ProjectView>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum FollowOutcome {
    /// The goal was reached: the project is created (or deleted).
    Completed,
    /// The project settled in a failed status (its stack's StatusMessage says why).
    Failed,
    /// Still in progress when the timeout came; the project goes on.
    TimedOut,
    /// A project being created could not be found after the grace period.
    Vanished,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settled {
    pub outcome: FollowOutcome,
    /// The last view; None when the project is gone.
    pub project: Option<ProjectView>,
    pub elapsed: Duration,
}

/// Polls DescribeProject every `settings.interval` until the project settles for `goal`, reporting each
/// observation to `observe`.
pub async fn follow(
    sm: &aws_sdk_sagemaker::Client,
    name: &str,
    goal: Goal,
    settings: FollowSettings,
    mut observe: impl FnMut(&Progress<'_>),
) -> Result<Settled, LaunchError> {
    let started = Instant::now();
    let mut previous: Option<Option<String>> = None;
    loop {
        let project = describe_project(sm, name).await?;
        let status = project.as_ref().map(|p| p.status.as_str());
        let elapsed = started.elapsed();
        let changed = previous.as_ref().map(Option::as_deref) != Some(status);
        observe(&Progress {
            status,
            changed,
            elapsed,
            project: project.as_ref(),
        });
        previous = Some(status.map(str::to_owned));
        let outcome = match verdict(goal, status) {
            Verdict::Reached => Some(FollowOutcome::Completed),
            Verdict::Failed => Some(FollowOutcome::Failed),
            Verdict::Waiting
                if goal == Goal::Created
                    && project.is_none()
                    && elapsed >= settings.appear_grace =>
            {
                Some(FollowOutcome::Vanished)
            }
            Verdict::Waiting if elapsed + settings.interval > settings.timeout => {
                Some(FollowOutcome::TimedOut)
            }
            Verdict::Waiting => None,
        };
        if let Some(outcome) = outcome {
            return Ok(Settled {
                outcome,
                project,
                elapsed,
            });
        }
        tokio::time::sleep(settings.interval).await;
    }
}

/// `1m05s`, `12s`, `1h02m`.
pub fn format_elapsed(d: Duration) -> String {
    let s = d.as_secs();
    match (s / 3600, (s % 3600) / 60, s % 60) {
        (0, 0, s) => format!("{s}s"),
        (0, m, s) => format!("{m}m{s:02}s"),
        (h, m, _) => format!("{h}h{m:02}m"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_sagemaker::operation::create_project::CreateProjectOutput;
    use aws_sdk_sagemaker::types::{
        CfnStackDetail, CfnStackParameter, CfnTemplateProviderDetail, ProjectStatus,
        TemplateProviderDetail,
    };
    use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};

    const BUCKET: &str = "sagemaker-projects-templates-123456789012";
    const ROLE: &str = "arn:aws:iam::123456789012:role/AmazonSageMakerProjectsLaunchRole";

    fn url(name: &str) -> String {
        format!("https://{BUCKET}.s3.us-east-1.amazonaws.com/templates/{name}.yaml")
    }

    fn stack_outputs() -> Vec<(String, String)> {
        let mut out = vec![
            (LAUNCH_ROLE_OUTPUT.to_owned(), ROLE.to_owned()),
            ("TemplateBucket".to_owned(), BUCKET.to_owned()),
            (
                TEMPLATES_LOCATION_OUTPUT.to_owned(),
                format!("s3://{BUCKET}/templates/"),
            ),
        ];
        for (file, _) in templates::EMBEDDED {
            let stem = file.trim_end_matches(".yaml");
            let pascal: String = stem
                .split('-')
                .map(|w| w[..1].to_ascii_uppercase() + &w[1..])
                .collect();
            out.push((format!("{pascal}TemplateUrl"), url(stem)));
        }
        out
    }

    fn embedded(stem: &str) -> TemplateSpec {
        let file = format!("{stem}.yaml");
        let (_, content) = templates::EMBEDDED
            .iter()
            .find(|(f, _)| *f == file)
            .unwrap();
        TemplateSpec::parse(
            &TemplateRef {
                name: stem.to_owned(),
                url: url(stem),
            },
            content.as_bytes(),
        )
        .unwrap()
    }

    fn params(pairs: &[&str]) -> BTreeMap<String, String> {
        parse_parameters(&pairs.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>()).unwrap()
    }

    const DEPLOY: [&str; 3] = [
        "SourceModelPackageGroupName=models",
        "CodeConnectionArn=arn:aws:codeconnections:us-east-1:123456789012:connection/0a1b2c3d-1111-2222-3333-444455556666",
        "ModelDeployCodeRepositoryFullname=acme/model-deploy",
    ];

    fn invalid(e: LaunchError) -> String {
        assert_eq!(e.exit_code(), 2, "{e}");
        match e {
            LaunchError::Invalid(m) => m,
            other => panic!("expected Invalid, got {other:?}"),
        }
    }

    // ----------------------------------------------------------------------------------------- names, flags

    #[test]
    fn project_names_follow_the_create_project_pattern() {
        for ok in ["a", "Demo-1", "a--b", "1abc", &"x".repeat(32)] {
            assert!(check_project_name(ok).is_ok(), "{ok}");
        }
        let cases = [
            ("", "it is empty"),
            (&*"x".repeat(33), "it has 33 characters"),
            ("under_score", "'_' is not allowed"),
            ("has space", "' ' is not allowed"),
            ("-lead", "starts or ends with '-'"),
            ("trail-", "starts or ends with '-'"),
            ("ünï", "'ü' is not allowed"),
        ];
        for (name, why) in cases {
            let m = invalid(check_project_name(name).unwrap_err());
            assert!(m.contains(why), "{name}: {m}");
            assert!(m.contains("1-32 letters, digits and hyphens"), "{m}");
        }
    }

    #[test]
    fn descriptions_are_limited_to_1024_characters() {
        assert!(check_description(&"d".repeat(1024)).is_ok());
        assert!(
            invalid(check_description(&"d".repeat(1025)).unwrap_err()).contains("1025 characters")
        );
    }

    #[test]
    fn parameter_flags_are_key_value_pairs_given_once() {
        let p = params(&["A=1", "B=x=y", "C="]);
        assert_eq!(
            p.into_iter().collect::<Vec<_>>(),
            [
                ("A".to_owned(), "1".to_owned()),
                ("B".to_owned(), "x=y".to_owned()),
                ("C".to_owned(), String::new())
            ]
        );
        for bad in [&["novalue"][..], &["=v"], &["A=1", "A=2"], &["A B=1"]] {
            let flags: Vec<String> = bad.iter().map(|s| (*s).to_owned()).collect();
            let m = invalid(parse_parameters(&flags).unwrap_err());
            assert!(m.starts_with("parameter"), "{m}");
        }
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

    // ----------------------------------------------------------------------------------------- catalog

    #[test]
    fn the_stack_outputs_give_the_launch_role_and_one_template_per_url_output() {
        let c = Catalog::from_outputs("sagemaker-projects-bootstrap", &stack_outputs()).unwrap();
        assert_eq!(c.source, "stack sagemaker-projects-bootstrap");
        assert_eq!(c.launch_role().unwrap(), ROLE);
        assert_eq!(
            c.templates_location.as_deref(),
            Some(&*format!("s3://{BUCKET}/templates/"))
        );
        assert_eq!(
            c.names(),
            [
                "build-train-codepipeline",
                "build-train-deploy-codepipeline",
                "build-train-deploy-jenkins",
                "build-train-deploy-monitor-codepipeline",
                "deploy-codepipeline"
            ]
        );
        assert_eq!(c.templates[4].url, url("deploy-codepipeline"));
    }

    #[test]
    fn a_stack_without_the_outputs_is_not_the_bootstrap_stack() {
        let no_role: Vec<_> = stack_outputs()
            .into_iter()
            .filter(|(k, _)| k != LAUNCH_ROLE_OUTPUT)
            .collect();
        let e = Catalog::from_outputs("other", &no_role).unwrap_err();
        assert_eq!(e.exit_code(), 1);
        assert!(
            e.to_string()
                .starts_with("stack other has no output LaunchRoleArn"),
            "{e}"
        );
        let no_templates = [(LAUNCH_ROLE_OUTPUT, ROLE), ("TemplateBucket", BUCKET)];
        let e = Catalog::from_outputs("s", &no_templates).unwrap_err();
        assert!(
            e.to_string().contains("no <Name>TemplateUrl outputs"),
            "{e}"
        );
        let bad_url = [
            (LAUNCH_ROLE_OUTPUT, ROLE),
            ("XTemplateUrl", "s3://b/x.yaml"),
        ];
        let e = Catalog::from_outputs("s", &bad_url).unwrap_err();
        assert!(
            e.to_string().starts_with("stack s, output XTemplateUrl: "),
            "{e}"
        );
        let bad_role = [
            (LAUNCH_ROLE_OUTPUT, "LaunchRole"),
            ("XTemplateUrl", "https://b.s3.amazonaws.com/x.yaml"),
        ];
        assert!(Catalog::from_outputs("s", &bad_role).is_err());
    }

    #[test]
    fn flags_name_templates_explicitly_or_by_their_file_stem() {
        let flags = vec![
            format!("deploy={}", url("deploy-codepipeline")),
            url("build-train-codepipeline"),
        ];
        let c = Catalog::from_flags(&flags, Some(ROLE)).unwrap();
        assert_eq!(c.names(), ["build-train-codepipeline", "deploy"]);
        assert_eq!(c.source, "command line");
        let twice = vec![url("x"), format!("x={}", url("y"))];
        assert!(invalid(Catalog::from_flags(&twice, None).unwrap_err()).contains("more than once"));
        let bad = vec!["x=http://b.s3.amazonaws.com/x.yaml".to_owned()];
        assert!(
            invalid(Catalog::from_flags(&bad, None).unwrap_err()).starts_with("--template-url x: ")
        );
        let m = invalid(Catalog::from_flags(&[], Some("not-an-arn")).unwrap_err());
        assert!(m.starts_with("--launch-role: "), "{m}");
        let c = Catalog::from_flags(&flags, None).unwrap();
        assert!(invalid(c.launch_role().unwrap_err()).contains("--launch-role"));
    }

    #[test]
    fn a_template_is_chosen_by_name_by_url_or_as_an_object_beside_the_published_ones() {
        let c = Catalog::from_outputs("s", &stack_outputs()).unwrap();
        for name in ["deploy-codepipeline", "deploy-codepipeline.yaml"] {
            let chosen = c.choose(name).unwrap();
            assert!(chosen.listed);
            assert_eq!(chosen.template.url, url("deploy-codepipeline"));
        }
        let later = c.choose("team-queue").unwrap();
        assert_eq!(
            (
                later.template.name.as_str(),
                later.template.url.as_str(),
                later.listed
            ),
            ("team-queue", &*url("team-queue"), false)
        );
        let other = "https://other-bucket.s3.eu-west-1.amazonaws.com/x/mine.yaml";
        let chosen = c.choose(other).unwrap();
        assert_eq!(
            (chosen.template.name.as_str(), chosen.listed),
            ("mine", false)
        );
        assert!(invalid(c.choose("../etc").unwrap_err()).contains("is not valid"));
        let empty = Catalog::from_flags(&[], Some(ROLE)).unwrap();
        assert!(invalid(empty.choose("x").unwrap_err()).contains("lists no templates"));
    }

    // ----------------------------------------------------------------------------------------- parameters

    #[test]
    fn a_template_lists_required_and_optional_parameters_with_defaults_in_declared_order() {
        let spec = embedded("deploy-codepipeline");
        let required: Vec<&str> = spec.required().map(|p| p.name.as_str()).collect();
        assert_eq!(
            required,
            [
                "SourceModelPackageGroupName",
                "CodeConnectionArn",
                "ModelDeployCodeRepositoryFullname"
            ]
        );
        let optional: Vec<(&str, Option<&str>)> = spec
            .optional()
            .map(|p| (p.name.as_str(), p.default.as_deref()))
            .collect();
        assert_eq!(
            optional,
            [("ModelDeployCodeRepositoryBranch", Some("main"))]
        );
        assert!(spec
            .parameters
            .iter()
            .all(|p| !REQUIRED_PARAMETERS.contains(&p.name.as_str())));
    }

    #[test]
    fn every_embedded_template_reads_and_needs_no_sagemaker_parameter_from_the_caller() {
        for (file, _) in templates::EMBEDDED {
            let spec = embedded(file.trim_end_matches(".yaml"));
            assert!(spec.required().count() > 0, "{file}");
            assert!(spec
                .parameters
                .iter()
                .all(|p| !p.name.starts_with("SageMakerProject")));
        }
    }

    #[test]
    fn parameters_are_checked_against_the_declarations_before_any_call() {
        let spec = embedded("deploy-codepipeline");
        assert!(spec.check("demo", &params(&DEPLOY)).is_ok());
        let mut typo = DEPLOY.to_vec();
        typo.push("ModelDeployBranch=dev");
        let m = invalid(spec.check("demo", &params(&typo)).unwrap_err());
        assert!(
            m.starts_with("template deploy-codepipeline has no parameter ModelDeployBranch; it takes SourceModelPackageGroupName, "),
            "{m}"
        );
        let m = invalid(spec.check("demo", &params(&DEPLOY[..1])).unwrap_err());
        assert_eq!(
            m,
            "template deploy-codepipeline requires parameters CodeConnectionArn, ModelDeployCodeRepositoryFullname \
             (pass --param CodeConnectionArn=… --param ModelDeployCodeRepositoryFullname=…)"
        );
        let mut reserved = DEPLOY.to_vec();
        reserved.push("SageMakerProjectId=p-1");
        let m = invalid(spec.check("demo", &params(&reserved)).unwrap_err());
        assert!(
            m.starts_with("parameter SageMakerProjectId is filled in by SageMaker"),
            "{m}"
        );
        // SourceModelPackageGroupName has no limit (upstream's String: a group name or ARN); the full name has
        let mut long = DEPLOY.to_vec();
        let repo = format!("ModelDeployCodeRepositoryFullname={}", "g".repeat(1025));
        long[2] = &repo;
        let m = invalid(spec.check("demo", &params(&long)).unwrap_err());
        assert!(
            m.starts_with("parameter ModelDeployCodeRepositoryFullname: ")
                && m.contains("longer than 1024"),
            "{m}"
        );
    }

    #[test]
    fn allowed_values_and_the_templates_project_name_rule_are_checked() {
        let t = "Parameters:\n  SageMakerProjectName: {Type: String, MaxLength: 20, AllowedPattern: '^[a-zA-Z](-*[a-zA-Z0-9])*'}\n  SageMakerProjectId: {Type: String}\n  Size: {Type: String, AllowedValues: [small, large], Default: small}\n  Count: {Type: Number, Default: 3}\nResources:\n  Q: {Type: AWS::SQS::Queue}\n";
        let spec = TemplateSpec::parse(
            &TemplateRef {
                name: "t".into(),
                url: url("t"),
            },
            t.as_bytes(),
        )
        .unwrap();
        assert_eq!(spec.required().count(), 0);
        let defaults: Vec<_> = spec
            .optional()
            .map(|p| p.default.clone().unwrap())
            .collect();
        assert_eq!(defaults, ["small", "3"]);
        let m = invalid(spec.check("demo", &params(&["Size=medium"])).unwrap_err());
        assert_eq!(m, "parameter Size: \"medium\" is not one of small, large");
        assert!(spec
            .check("demo", &params(&["Size=large", "Count=4"]))
            .is_ok());
        let m = invalid(spec.check("1demo", &params(&[])).unwrap_err());
        assert!(m.starts_with("project name \"1demo\" does not fit template t, whose SageMakerProjectName declares AllowedPattern"), "{m}");
        assert!(
            invalid(spec.check(&"a".repeat(21), &params(&[])).unwrap_err())
                .contains("MaxLength 20")
        );
    }

    #[test]
    fn something_that_is_not_a_project_template_is_refused_with_the_reason() {
        let e = TemplateSpec::parse(
            &TemplateRef {
                name: "x".into(),
                url: url("x"),
            },
            b"Resources: {Q: {Type: AWS::SQS::Queue}}\n",
        )
        .unwrap_err();
        assert_eq!(e.exit_code(), 1);
        assert!(e.to_string().ends_with("is not a SageMaker project template: parameter SageMakerProjectName is not declared"), "{e}");
    }

    #[test]
    fn a_launch_plan_needs_a_launch_role() {
        let c = Catalog::from_flags(&[url("deploy-codepipeline")], None).unwrap();
        let e = LaunchPlan::new(
            "demo",
            None,
            embedded("deploy-codepipeline"),
            params(&DEPLOY),
            &c,
        )
        .unwrap_err();
        assert!(invalid(e).starts_with("no launch role"));
    }

    // ----------------------------------------------------------------------------------------- AWS calls

    fn json_error(kind: &str, message: &str) -> (u16, Option<String>) {
        crate::aws::answers::json_error(400, kind, message)
    }

    fn described(status: ProjectStatus, message: &str) -> DescribeProjectOutput {
        DescribeProjectOutput::builder()
            .project_name("demo")
            .project_id("p-abcdefghijkl")
            .project_arn("arn:aws:sagemaker:us-east-1:123456789012:project/demo")
            .project_status(status)
            .template_provider_details(
                TemplateProviderDetail::builder()
                    .cfn_template_provider_detail(
                        CfnTemplateProviderDetail::builder()
                            .template_name("deploy")
                            .template_url(url("deploy-codepipeline"))
                            .role_arn(ROLE)
                            .parameters(CfnStackParameter::builder().key("A").value("1").build())
                            .stack_detail(
                                CfnStackDetail::builder()
                                    .name("SP-p-abcdefghijkl")
                                    .status_message(message)
                                    .build(),
                            )
                            .build(),
                    )
                    .build(),
            )
            .build()
    }

    fn fast() -> FollowSettings {
        FollowSettings {
            interval: Duration::from_secs(2),
            timeout: Duration::from_secs(60),
            appear_grace: Duration::from_secs(10),
        }
    }

    #[tokio::test]
    async fn create_project_sends_the_s3_template_provider_with_the_launch_role() {
        let c = Catalog::from_outputs("s", &stack_outputs()).unwrap();
        let plan = LaunchPlan::new(
            "demo",
            Some("a demo"),
            embedded("deploy-codepipeline"),
            params(&DEPLOY),
            &c,
        )
        .unwrap();
        let create = mock!(aws_sdk_sagemaker::Client::create_project)
            .match_requests(|r| {
                let p = r.template_providers()[0].cfn_template_provider().unwrap();
                let sent: BTreeMap<&str, &str> = p
                    .parameters()
                    .iter()
                    .map(|kv| (kv.key().unwrap(), kv.value().unwrap()))
                    .collect();
                r.project_name() == Some("demo")
                    && r.project_description() == Some("a demo")
                    && p.template_name() == Some("deploy")
                    && p.template_url() == Some(url("deploy-codepipeline").as_str())
                    && p.role_arn() == Some(ROLE)
                    && sent.len() == 3
                    && sent["SourceModelPackageGroupName"] == "models"
            })
            .then_output(|| {
                CreateProjectOutput::builder()
                    .project_arn("arn:aws:sagemaker:us-east-1:123456789012:project/demo")
                    .project_id("p-abcdefghijkl")
                    .build()
            });
        let sm = mock_client!(aws_sdk_sagemaker, [&create]);
        let created = create_project(&sm, &plan).await.unwrap();
        assert_eq!(created.id, "p-abcdefghijkl");
        assert_eq!(create.num_calls(), 1);
    }

    #[tokio::test]
    async fn an_aws_refusal_becomes_one_line_naming_the_call_code_and_message() {
        let c = Catalog::from_outputs("s", &stack_outputs()).unwrap();
        let plan = LaunchPlan::new(
            "demo",
            None,
            embedded("deploy-codepipeline"),
            params(&DEPLOY),
            &c,
        )
        .unwrap();
        let (status, body) = json_error(
            "ValidationException",
            "The template is not visible to SageMaker.\\nTag it.",
        );
        let refused = mock!(aws_sdk_sagemaker::Client::create_project)
            .sequence()
            .http_status(status, body)
            .build();
        let sm = mock_client!(aws_sdk_sagemaker, [&refused]);
        let e = create_project(&sm, &plan).await.unwrap_err();
        assert_eq!(
            e.to_string(),
            "CreateProject: ValidationException: The template is not visible to SageMaker. Tag it."
        );
        assert_eq!(e.exit_code(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn following_a_creation_reports_each_change_and_ends_when_it_completes() {
        let polls = mock!(aws_sdk_sagemaker::Client::describe_project)
            .sequence()
            .output(|| described(ProjectStatus::Pending, "Stack not created"))
            .output(|| described(ProjectStatus::CreateInProgress, "CREATE_IN_PROGRESS"))
            .times(2)
            .output(|| described(ProjectStatus::CreateCompleted, "CREATE_COMPLETE"))
            .build();
        let sm = mock_client!(aws_sdk_sagemaker, RuleMode::Sequential, [&polls]);
        let mut seen = Vec::new();
        let settled = follow(&sm, "demo", Goal::Created, fast(), |p| {
            seen.push((p.status.map(str::to_owned), p.changed, p.elapsed.as_secs()));
        })
        .await
        .unwrap();
        assert_eq!(settled.outcome, FollowOutcome::Completed);
        assert_eq!(settled.elapsed, Duration::from_secs(6));
        let project = settled.project.unwrap();
        assert_eq!(project.status, "CreateCompleted");
        assert_eq!(project.stack_name.as_deref(), Some("SP-p-abcdefghijkl"));
        assert_eq!(project.parameters["A"], "1");
        let s = |x: &str| Some(x.to_owned());
        assert_eq!(
            seen,
            [
                (s("Pending"), true, 0),
                (s("CreateInProgress"), true, 2),
                (s("CreateInProgress"), false, 4),
                (s("CreateCompleted"), true, 6)
            ]
        );
        assert_eq!(polls.num_calls(), 4);
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_creation_settles_with_the_stacks_status_message() {
        let polls = mock!(aws_sdk_sagemaker::Client::describe_project)
            .sequence()
            .output(|| described(ProjectStatus::CreateInProgress, "CREATE_IN_PROGRESS"))
            .output(|| {
                described(
                    ProjectStatus::CreateFailed,
                    "ROLLBACK_COMPLETE: The following resource(s) failed to create: [Seed].",
                )
            })
            .build();
        let sm = mock_client!(aws_sdk_sagemaker, RuleMode::Sequential, [&polls]);
        let settled = follow(&sm, "demo", Goal::Created, fast(), |_| {})
            .await
            .unwrap();
        assert_eq!(settled.outcome, FollowOutcome::Failed);
        assert_eq!(
            settled.project.unwrap().stack_status_message.as_deref(),
            Some("ROLLBACK_COMPLETE: The following resource(s) failed to create: [Seed].")
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_project_that_does_not_settle_in_time_times_out_without_an_error() {
        let forever = mock!(aws_sdk_sagemaker::Client::describe_project)
            .then_output(|| described(ProjectStatus::CreateInProgress, "CREATE_IN_PROGRESS"));
        let sm = mock_client!(aws_sdk_sagemaker, RuleMode::MatchAny, [&forever]);
        let settled = follow(&sm, "demo", Goal::Created, fast(), |_| {})
            .await
            .unwrap();
        assert_eq!(settled.outcome, FollowOutcome::TimedOut);
        assert_eq!(settled.elapsed, Duration::from_secs(60));
        assert_eq!(forever.num_calls(), 31);
    }

    #[tokio::test(start_paused = true)]
    async fn a_created_project_not_yet_visible_is_waited_for_only_during_the_grace_period() {
        let (status, body) = json_error("ValidationException", "Project demo does not exist.");
        let missing = mock!(aws_sdk_sagemaker::Client::describe_project)
            .sequence()
            .http_status(status, body)
            .times(10)
            .build();
        let sm = mock_client!(aws_sdk_sagemaker, RuleMode::Sequential, [&missing]);
        let settled = follow(&sm, "demo", Goal::Created, fast(), |_| {})
            .await
            .unwrap();
        assert_eq!(settled.outcome, FollowOutcome::Vanished);
        assert_eq!(settled.elapsed, Duration::from_secs(10));
        assert_eq!(missing.num_calls(), 6);
    }

    #[tokio::test(start_paused = true)]
    async fn following_a_deletion_ends_when_the_project_is_gone() {
        let (status, body) = json_error("ValidationException", "Project demo does not exist.");
        let polls = mock!(aws_sdk_sagemaker::Client::describe_project)
            .sequence()
            .output(|| described(ProjectStatus::CreateCompleted, "CREATE_COMPLETE"))
            .output(|| described(ProjectStatus::DeleteInProgress, "DELETE_IN_PROGRESS"))
            .http_status(status, body)
            .build();
        let sm = mock_client!(aws_sdk_sagemaker, RuleMode::Sequential, [&polls]);
        let mut statuses = Vec::new();
        let settled = follow(&sm, "demo", Goal::Deleted, fast(), |p| {
            statuses.push(p.status.map(str::to_owned))
        })
        .await
        .unwrap();
        assert_eq!(
            (settled.outcome, settled.project),
            (FollowOutcome::Completed, None)
        );
        assert_eq!(
            statuses,
            [
                Some("CreateCompleted".into()),
                Some("DeleteInProgress".into()),
                None
            ]
        );
    }

    #[tokio::test]
    async fn other_describe_errors_stop_the_follow_with_the_error() {
        let (status, body) = json_error(
            "AccessDeniedException",
            "not authorized to perform sagemaker:DescribeProject",
        );
        let denied = mock!(aws_sdk_sagemaker::Client::describe_project)
            .sequence()
            .http_status(status, body)
            .build();
        let sm = mock_client!(aws_sdk_sagemaker, [&denied]);
        let e = follow(&sm, "demo", Goal::Created, fast(), |_| {})
            .await
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "DescribeProject: AccessDeniedException: not authorized to perform sagemaker:DescribeProject"
        );
    }

    #[test]
    fn verdicts_for_each_goal() {
        use Verdict::*;
        let cases = [
            (Goal::Created, Some("Pending"), Waiting),
            (Goal::Created, Some("CreateInProgress"), Waiting),
            (Goal::Created, Some("CreateCompleted"), Reached),
            (Goal::Created, Some("CreateFailed"), Failed),
            (Goal::Created, Some("DeleteInProgress"), Failed),
            (Goal::Created, None, Waiting),
            (Goal::Deleted, Some("CreateCompleted"), Waiting),
            (Goal::Deleted, Some("DeleteInProgress"), Waiting),
            (Goal::Deleted, Some("DeleteCompleted"), Reached),
            (Goal::Deleted, None, Reached),
            (Goal::Deleted, Some("DeleteFailed"), Failed),
        ];
        for (goal, status, expected) in cases {
            assert_eq!(verdict(goal, status), expected, "{goal:?} {status:?}");
        }
    }

    #[test]
    fn elapsed_times_read_naturally() {
        assert_eq!(format_elapsed(Duration::from_millis(900)), "0s");
        assert_eq!(format_elapsed(Duration::from_secs(12)), "12s");
        assert_eq!(format_elapsed(Duration::from_secs(65)), "1m05s");
        assert_eq!(format_elapsed(Duration::from_secs(3720)), "1h02m");
    }

    // ----------------------------------------------------------------------------------------- S3

    #[tokio::test]
    async fn a_template_is_read_from_its_urls_bucket_and_key() {
        use aws_sdk_s3::operation::get_object::GetObjectOutput;
        use aws_sdk_s3::primitives::ByteStream;
        let c = Catalog::from_outputs("s", &stack_outputs()).unwrap();
        let (_, content) = templates::EMBEDDED[4];
        let get = mock!(aws_sdk_s3::Client::get_object)
            .match_requests(|r| {
                r.bucket() == Some(BUCKET) && r.key() == Some("templates/deploy-codepipeline.yaml")
            })
            .then_output(move || {
                GetObjectOutput::builder()
                    .body(ByteStream::from_static(content.as_bytes()))
                    .build()
            });
        let s3 = mock_client!(aws_sdk_s3, [&get]);
        let spec = load_template(&s3, &c, &c.choose("deploy-codepipeline").unwrap())
            .await
            .unwrap();
        assert_eq!(spec.required().count(), 3);
        assert_eq!(get.num_calls(), 1);
    }

    #[tokio::test]
    async fn a_template_name_that_is_no_object_is_the_callers_mistake() {
        let c = Catalog::from_outputs("s", &stack_outputs()).unwrap();
        let no_such_key = "<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message></Error>";
        let missing: Rule = mock!(aws_sdk_s3::Client::get_object)
            .sequence()
            .http_status(404, Some(no_such_key.to_owned()))
            .times(2)
            .build();
        let s3 = mock_client!(aws_sdk_s3, [&missing]);
        let m = invalid(
            load_template(&s3, &c, &c.choose("deploy-codepipelin").unwrap())
                .await
                .unwrap_err(),
        );
        assert!(
            m.starts_with(&format!("no template deploy-codepipelin: s3://{BUCKET}/templates/deploy-codepipelin.yaml does not exist; the stack s lists build-train-codepipeline, ")),
            "{m}"
        );
        // a listed template that is missing is not the caller's mistake
        let e = load_template(&s3, &c, &c.choose("deploy-codepipeline").unwrap())
            .await
            .unwrap_err();
        assert_eq!(e.aws_code(), Some("NoSuchKey"));
        assert!(
            e.to_string()
                .starts_with("GetObject: NoSuchKey: template deploy-codepipeline (s3://"),
            "{e}"
        );
    }
}
