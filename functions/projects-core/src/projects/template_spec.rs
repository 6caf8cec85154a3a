//! What a template takes: its parameters read from the template, the caller's checked against them.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_yaml_ng::Value;

use super::catalog::{Catalog, Chosen, TemplateRef};
use super::error::LaunchError;
use super::s3_url::{in_region, parse_s3_url};
use super::version::Version;
use crate::aws::CallError;
use crate::templates::{self, MAX_TEMPLATE_BYTES, REQUIRED_PARAMETERS};

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
    /// The version read, when read from S3.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<Version>,
    /// The template's text (for comparing the resources of two versions).
    #[serde(skip)]
    pub body: String,
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
        let info = templates::validate(content).map_err(|e| LaunchError::NotATemplate {
            name: template.name.clone(),
            url: template.url.clone(),
            reason: e.to_string(),
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
            version: None,
            body: String::from_utf8_lossy(content).into_owned(),
            project_name,
        })
    }

    pub fn required(&self) -> impl Iterator<Item = &ParameterSpec> {
        self.parameters.iter().filter(|p| p.required)
    }

    pub fn optional(&self) -> impl Iterator<Item = &ParameterSpec> {
        self.parameters.iter().filter(|p| !p.required)
    }

    /// The names among `names` that the template does not declare, in order.
    pub fn undeclared<'a>(&self, names: impl IntoIterator<Item = &'a String>) -> Vec<String> {
        names
            .into_iter()
            .filter(|k| !self.declares(k))
            .cloned()
            .collect()
    }

    /// Whether the caller may give this parameter.
    pub fn declares(&self, name: &str) -> bool {
        self.parameters.iter().any(|p| p.name == name)
    }

    /// `it takes A, B` (or `it takes none`), for an error message.
    pub fn takes(&self) -> String {
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
            return Err(LaunchError::ReservedParameter(reserved.clone()));
        }
        let unknown = self.undeclared(given.keys());
        if !unknown.is_empty() {
            return Err(LaunchError::UnknownParameters {
                template: t.clone(),
                names: unknown,
                takes: self.takes(),
            });
        }
        let missing: Vec<String> = self
            .required()
            .filter(|p| !given.contains_key(&p.name))
            .map(|p| p.name.clone())
            .collect();
        if !missing.is_empty() {
            return Err(LaunchError::MissingParameters {
                template: t.clone(),
                names: missing,
            });
        }
        for p in &self.parameters {
            if let Some(problem) = given.get(&p.name).and_then(|v| p.value_problem(v)) {
                return Err(LaunchError::BadValue {
                    name: p.name.clone(),
                    problem,
                });
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
            return Err(LaunchError::ProjectNameRule {
                project: project.to_owned(),
                template: t.clone(),
                rule: why.join(", "),
            });
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

/// Downloads the chosen template with S3 GetObject (from the region its URL names, if any) and reads it; the
/// spec carries the version read (its digest and VersionId).
pub async fn load_template(
    s3: &aws_sdk_s3::Client,
    catalog: &Catalog,
    chosen: &Chosen,
) -> Result<TemplateSpec, LaunchError> {
    load_template_version(s3, catalog, chosen, None).await
}

/// One stored version of a known template (a project's, whose object must exist).
pub async fn read_version(
    s3: &aws_sdk_s3::Client,
    template: &TemplateRef,
    version: &Version,
) -> Result<TemplateSpec, LaunchError> {
    let catalog = Catalog {
        source: format!("template {}", template.name),
        launch_role_arn: None,
        templates_location: None,
        templates: vec![template.clone()],
    };
    let chosen = Chosen {
        template: template.clone(),
        listed: true,
    };
    load_template_version(s3, &catalog, &chosen, version.version_id.as_deref()).await
}

/// [`load_template`] of one stored version (`None`: the current one).
pub async fn load_template_version(
    s3: &aws_sdk_s3::Client,
    catalog: &Catalog,
    chosen: &Chosen,
    version_id: Option<&str>,
) -> Result<TemplateSpec, LaunchError> {
    let t = &chosen.template;
    let object = parse_s3_url(&t.url).map_err(LaunchError::Invalid)?;
    let request = s3
        .get_object()
        .bucket(&object.bucket)
        .key(&object.key)
        .set_version_id(version_id.map(str::to_owned))
        .customize();
    let out = match in_region(request, &object).send().await {
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
        return Err(LaunchError::TemplateTooLarge {
            name: t.name.clone(),
        });
    }
    let listed = Version::from_s3(out.e_tag(), out.version_id());
    let body = out
        .body
        .collect()
        .await
        .map_err(|e| LaunchError::TemplateBody {
            name: t.name.clone(),
            reason: e.to_string(),
        })?;
    let content = body.into_bytes();
    // named by the content's MD5, which is the ETag only without SSE-KMS (version module)
    let version = listed.map(|v| Version {
        digest: crate::templates::content_digest(&content),
        ..v
    });
    let mut spec = TemplateSpec::parse(t, &content)?;
    spec.version = version;
    Ok(spec)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::projects::testing::*;
    use aws_smithy_mocks::{mock, mock_client, Rule};

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
        assert!(!e.is_invalid_input());
        assert!(e.to_string().ends_with("is not a SageMaker project template: parameter SageMakerProjectName is not declared"), "{e}");
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
