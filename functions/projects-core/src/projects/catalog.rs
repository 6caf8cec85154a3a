//! Where the templates are: the bootstrap stack's outputs, or URLs given on the command line.

use serde::Serialize;

use super::error::LaunchError;
use super::s3_url::{parse_s3_url, template_stem};
use crate::names::RoleArn;

/// The bootstrap stack's default name.
pub const DEFAULT_STACK: &str = "sagemaker-projects-bootstrap";
/// Stack output: the role CloudFormation assumes to create a project's resources.
pub const LAUNCH_ROLE_OUTPUT: &str = "LaunchRoleArn";
/// Stack output: `s3://bucket/prefix/`, the value of the domains' `sagemaker:projectS3TemplatesLocation` tag.
pub const TEMPLATES_LOCATION_OUTPUT: &str = "TemplatesLocation";
/// Stack outputs `<PascalName>TemplateUrl` carry one template's https URL each.
pub const TEMPLATE_URL_SUFFIX: &str = "TemplateUrl";

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
            LaunchError::NotBootstrapStack {
                stack: stack.to_owned(),
                problem: format!(
                    " has no output {LAUNCH_ROLE_OUTPUT}: is it the sagemaker-projects-bootstrap stack? \
                     (or pass --template-url and --launch-role)"
                ),
            }
        })?;
        RoleArn::parse(LAUNCH_ROLE_OUTPUT, &role).map_err(|e| LaunchError::NotBootstrapStack {
            stack: stack.to_owned(),
            problem: format!(": {e}"),
        })?;
        let mut templates: Vec<TemplateRef> = Vec::new();
        for (key, value) in outputs {
            let (key, url) = (key.as_ref(), value.as_ref().trim());
            if !key.ends_with(TEMPLATE_URL_SUFFIX) || key == TEMPLATE_URL_SUFFIX {
                continue;
            }
            let object = parse_s3_url(url).map_err(|e| LaunchError::NotBootstrapStack {
                stack: stack.to_owned(),
                problem: format!(", output {key}: {e}"),
            })?;
            let name = template_stem(&object.key).to_owned();
            if !templates.iter().any(|t| t.name == name) {
                templates.push(TemplateRef {
                    name,
                    url: url.to_owned(),
                });
            }
        }
        if templates.is_empty() {
            return Err(LaunchError::NotBootstrapStack {
                stack: stack.to_owned(),
                problem: format!(
                    " has no <Name>{TEMPLATE_URL_SUFFIX} outputs: no templates are published"
                ),
            });
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
        self.launch_role_arn
            .as_deref()
            .ok_or(LaunchError::NoLaunchRole)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::projects::testing::*;

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
        assert!(!e.is_invalid_input());
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
}
