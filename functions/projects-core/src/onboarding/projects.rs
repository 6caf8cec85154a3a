//! The project a new domain gets: from the bootstrap stack's default template, or the template a domain's
//! opt-in tag names. One per domain, under a deterministic name, so a duplicate event never makes a second.
//! Created the one way every project of this product is ([`launch::create_project`]): the template read
//! with [`TemplateSpec`], the parameters checked against it, the URL pinned, the version tags from it.

use std::collections::BTreeMap;

use aws_sdk_sagemaker::types::Tag;

use super::config::check_template_name;
use super::{OnboardError, Onboarder};
use crate::labels::{project_name, DOMAIN_ARN_TAG, DOMAIN_TAG};
use crate::projects::catalog::TemplateRef;
use crate::projects::launch::{self, LaunchPlan};
use crate::projects::version::Version;
use crate::projects::{LaunchError, TemplateSpec};
use crate::publishing::{self, Served};
use crate::templates::{self, EMBEDDED};

/// `Key=Value Key2=Value2`, a domain tag's value (S3/SageMaker tag values allow no commas or quotes), within a
/// tag value's 256 characters: the pairs read as the CLI reads its `--param` flags.
pub fn parse_parameters(text: &str) -> Result<BTreeMap<String, String>, LaunchError> {
    const MAX_TAG_VALUE: usize = 256;
    let length = text.chars().count();
    if length > MAX_TAG_VALUE {
        return Err(LaunchError::Invalid(format!(
            "the tag value has {length} characters; SageMaker tag values hold at most {MAX_TAG_VALUE}"
        )));
    }
    let pairs: Vec<String> = text.split_whitespace().map(str::to_owned).collect();
    crate::projects::parse_parameters(&pairs)
}

/// The content of an embedded template, by name (`deploy-codepipeline`).
fn embedded(template: &str) -> Option<&'static str> {
    let file = format!("{template}.yaml");
    EMBEDDED.iter().find(|(f, _)| *f == file).map(|(_, c)| *c)
}

/// The embedded template `template` (its content too) as a project of this onboarder runs it: read from its
/// `url`, at the version whose digest is this build's content (the version tags name it); the S3 version id is
/// set once the bucket is known to serve that content.
fn template_spec(template: &str, url: String) -> Result<(TemplateSpec, &'static str), LaunchError> {
    let content = embedded(template)
        .ok_or_else(|| LaunchError::State(format!("no template {template} in this build")))?;
    let mut spec = TemplateSpec::parse(
        &TemplateRef {
            name: template.to_owned(),
            url,
        },
        content.as_bytes(),
    )?;
    spec.version = Some(Version {
        digest: templates::content_digest(content.as_bytes()),
        version_id: None,
    });
    Ok((spec, content))
}

/// The plan for `domain`'s project from `template` with `parameters`, checked against the template.
fn plan(
    o: &Onboarder,
    domain: &str,
    domain_arn: &str,
    spec: TemplateSpec,
    parameters: BTreeMap<String, String>,
) -> Result<LaunchPlan, LaunchError> {
    let description = format!(
        "MLOps project for SageMaker domain {domain}, created by sagemaker-projects-bootstrap"
    );
    let mut plan = LaunchPlan::new(
        &project_name(domain),
        Some(&description),
        spec,
        parameters,
        &o.config.launch_role.to_string(),
    )?;
    plan.visible_in_studio = o.config.studio_visibility;
    plan.context_tags = vec![
        Tag::builder().key(DOMAIN_TAG).value(domain).build(),
        // SageMaker's own tag for what was made in a domain: under domain isolation, the domain's execution
        // roles update and delete the project's stack by it
        Tag::builder().key(DOMAIN_ARN_TAG).value(domain_arn).build(),
    ];
    Ok(plan)
}

pub(super) async fn ensure_project(
    o: &Onboarder,
    domain: &str,
    domain_arn: &str,
    tags: &[Tag],
) -> Result<Option<String>, OnboardError> {
    let tag = |key: &str| {
        tags.iter()
            .find(|t| t.key() == Some(key))
            .and_then(|t| t.value())
            .map(str::to_owned)
    };
    let fail = |message: String| OnboardError::Project {
        domain: domain.to_owned(),
        message,
    };
    let (template, parameters) = match (tag(&o.config.opt_in_tag), &o.config.default_template) {
        (Some(t), _) => {
            let t = t.trim_end_matches(".yaml").to_owned();
            let params = parse_parameters(&tag(&o.config.parameters_tag).unwrap_or_default())
                .map_err(|e| fail(format!("tag {}: {e}", o.config.parameters_tag)))?;
            (t, params)
        }
        (None, Some(t)) => (t.clone(), o.config.default_parameters.clone()),
        (None, None) => return Ok(None),
    };
    check_template_name(&o.config.opt_in_tag, &template).map_err(|e| fail(e.0))?;
    let location = &o.config.location;
    let file = format!("{template}.yaml");
    let url = location.https_url(&o.config.region, &file);
    // checked before S3 is asked: a bad parameter fails the same whatever the bucket serves
    let (spec, content) = template_spec(&template, url).map_err(|e| fail(e.to_string()))?;
    let mut plan =
        plan(o, domain, domain_arn, spec, parameters).map_err(|e| fail(e.to_string()))?;

    // pinned to the version that holds this build's template, the one its digest tag names: CloudFormation
    // then reads exactly that, whatever is uploaded over it later (README "Security model")
    let version_id = match publishing::served(&o.s3, location, &location.key(&file), content.as_bytes()).await? {
        Served::Same { version_id } => version_id,
        Served::Other => {
            return Err(fail(format!(
                "{}{file} is not the template this onboarder publishes (a stack update in progress, or an upload over it): no project was created; the next sweep tries again",
                location.s3_uri()
            )))
        }
    };
    if let Some(version) = &mut plan.template.version {
        version.version_id = version_id;
    }

    // no DescribeProject first: the name is deterministic, so CreateProject itself says whether it exists
    match launch::create_project(&o.sagemaker, &plan).await {
        Ok(_) => {
            lambda_glue::metrics::count(lambda_glue::metrics::PROJECTS_CREATED, 1);
            Ok(Some(plan.project))
        }
        // a concurrent duplicate event got there first
        Err(LaunchError::Aws(call)) if already_exists(&call) => Ok(Some(plan.project)),
        Err(LaunchError::Aws(call)) => Err(OnboardError::Aws(call)),
        Err(e) => Err(fail(e.to_string())),
    }
}

/// CreateProject's answer for a name that is taken.
fn already_exists(call: &crate::aws::CallError) -> bool {
    matches!(call.code.as_str(), "ConflictException" | "ResourceInUse")
        || call.message.contains("already exists")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::labels::{DIGEST_TAG, TEMPLATE_TAG};

    #[test]
    fn onboarded_projects_are_tagged_with_the_embedded_templates_name_and_digest() {
        let (spec, _) = template_spec(
            "deploy-codepipeline",
            "https://b.s3.amazonaws.com/t/deploy-codepipeline.yaml".into(),
        )
        .unwrap();
        let content = embedded("deploy-codepipeline").unwrap();
        let tags = launch::version_tags(&spec);
        assert_eq!(
            tags.iter()
                .map(|t| (t.key(), t.value()))
                .collect::<Vec<_>>(),
            [
                (Some(TEMPLATE_TAG), Some("deploy-codepipeline")),
                (
                    Some(DIGEST_TAG),
                    Some(templates::content_digest(content.as_bytes()).as_str())
                ),
            ]
        );
    }

    #[test]
    fn a_domain_tags_parameters_are_read_as_the_clis_flags_are() {
        let p = parse_parameters("  A=1   B=x=y C= ").unwrap();
        assert_eq!(
            p.into_iter().collect::<Vec<_>>(),
            [
                ("A".to_owned(), "1".to_owned()),
                ("B".to_owned(), "x=y".to_owned()),
                ("C".to_owned(), String::new())
            ]
        );
        assert_eq!(
            parse_parameters("A=1 A=2").unwrap_err().to_string(),
            "parameter A is given more than once"
        );
        assert_eq!(
            parse_parameters("novalue").unwrap_err().to_string(),
            "parameter \"novalue\" is not KEY=VALUE"
        );
    }

    #[test]
    fn parameters_are_checked_against_the_template() {
        let spec = |p: &str| {
            let (spec, _) = template_spec(
                "deploy-codepipeline",
                "https://b.s3.amazonaws.com/x.yaml".into(),
            )
            .unwrap();
            spec.check("mlops-d-1", &parse_parameters(p).unwrap())
                .map_err(|e| e.to_string())
        };
        let e = spec("SourceModelPackageGroupName=group-a").unwrap_err();
        assert!(
            e.starts_with("template deploy-codepipeline requires parameter"),
            "{e}"
        );
        let e = spec("Nope=1").unwrap_err();
        assert!(
            e.starts_with("template deploy-codepipeline has no parameter Nope; it takes"),
            "{e}"
        );
        let e = spec("SageMakerProjectName=x").unwrap_err();
        assert!(e.contains("SageMakerProjectName"), "{e}");
    }
}
