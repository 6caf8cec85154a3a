//! The project a new domain gets: from the bootstrap stack's default template, or the template a domain's
//! opt-in tag names. One per domain, under a deterministic name, so a duplicate event never makes a second.

use std::collections::BTreeMap;

use aws_sdk_sagemaker::types::{
    CfnCreateTemplateProvider, CfnStackCreateParameter, CreateTemplateProvider, Tag,
};

use super::config::check_template_name;
use super::{OnboardError, Onboarder};
use crate::labels::{
    project_name, studio_visibility_tag, template_label, DIGEST_TAG, DOMAIN_ARN_TAG, DOMAIN_TAG,
    TEMPLATE_TAG,
};
use crate::projects::s3_url::pinned_url;
use crate::publishing::{self, Served};
use crate::templates::{self, EMBEDDED};

/// `Key=Value Key2=Value2` (S3/SageMaker tag values allow no commas or quotes), within a tag value's 256
/// characters.
pub fn parse_parameters(text: &str) -> Result<BTreeMap<String, String>, String> {
    const MAX_TAG_VALUE: usize = 256;
    let length = text.chars().count();
    if length > MAX_TAG_VALUE {
        return Err(format!(
            "the tag value has {length} characters; SageMaker tag values hold at most {MAX_TAG_VALUE}"
        ));
    }
    text.split_whitespace()
        .map(|pair| match pair.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok((k.to_owned(), v.to_owned())),
            _ => Err(format!("{pair:?} is not Key=Value")),
        })
        .collect()
}

/// The content of an embedded template, by name (`deploy-codepipeline`).
fn embedded(template: &str) -> Option<&'static str> {
    let file = format!("{template}.yaml");
    EMBEDDED.iter().find(|(f, _)| *f == file).map(|(_, c)| *c)
}

/// The tags naming the template and the version a project of this onboarder runs: the embedded template's
/// digest, the same content the publisher of this build wrote (projects::version).
pub fn version_tags(template: &str) -> Vec<Tag> {
    let mut tags = vec![Tag::builder().key(TEMPLATE_TAG).value(template).build()];
    if let Some(content) = embedded(template) {
        tags.push(
            Tag::builder()
                .key(DIGEST_TAG)
                .value(templates::content_digest(content.as_bytes()))
                .build(),
        );
    }
    tags
}

/// Checks `parameters` against what `template` declares: each given one must be declared, each required
/// one (no Default, not Optional) must be given. SageMaker fills the two project parameters itself.
pub fn check_parameters(
    template: &str,
    parameters: &BTreeMap<String, String>,
) -> Result<(), String> {
    let content = embedded(template).ok_or_else(|| format!("no template {template}"))?;
    let info = templates::validate(content.as_bytes()).map_err(|e| e.to_string())?;
    if let Some(unknown) = parameters
        .keys()
        .find(|k| !info.declares(k) || templates::REQUIRED_PARAMETERS.contains(&k.as_str()))
    {
        return Err(format!(
            "parameter {unknown} is not one template {template} takes"
        ));
    }
    if let Some(missing) = info
        .required_parameters()
        .find(|p| !parameters.contains_key(*p))
    {
        return Err(format!("template {template} requires parameter {missing}"));
    }
    Ok(())
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
    check_parameters(&template, &parameters).map_err(fail)?;

    // pinned to the version that holds this build's template, the one its digest tag names: CloudFormation
    // then reads exactly that, whatever is uploaded over it later (README "Security model")
    let file = format!("{template}.yaml");
    let content = embedded(&template).ok_or_else(|| fail(format!("no template {template}")))?;
    let location = &o.config.location;
    let version_id = match publishing::served(&o.s3, location, &location.key(&file), content.as_bytes()).await? {
        Served::Same { version_id } => version_id,
        Served::Other => {
            return Err(fail(format!(
                "{}{file} is not the template this onboarder publishes (a stack update in progress, or an upload over it): no project was created; the next sweep tries again",
                location.s3_uri()
            )))
        }
    };
    let url = pinned_url(
        &location.https_url(&o.config.region, &file),
        version_id.as_deref(),
    );

    // no DescribeProject first: the name is deterministic, so CreateProject itself says whether it exists
    let name = project_name(domain);
    let mut cfn = CfnCreateTemplateProvider::builder()
        .template_name(template_label(&template))
        .template_url(url)
        .role_arn(o.config.launch_role.to_string());
    for (k, v) in &parameters {
        cfn = cfn.parameters(CfnStackCreateParameter::builder().key(k).value(v).build());
    }
    let provider = CreateTemplateProvider::builder()
        .cfn_template_provider(cfn.build())
        .build();
    let created = o
        .sagemaker
        .create_project()
        .project_name(&name)
        .project_description(format!(
            "MLOps project for SageMaker domain {domain}, created by sagemaker-projects-bootstrap"
        ))
        .template_providers(provider)
        .set_tags(Some(
            [
                Tag::builder().key(DOMAIN_TAG).value(domain).build(),
                // SageMaker's own tag for what was made in a domain: under domain isolation, the domain's
                // execution roles update and delete the project's stack by it
                Tag::builder().key(DOMAIN_ARN_TAG).value(domain_arn).build(),
            ]
            .into_iter()
            .chain(version_tags(&template))
            .chain(o.config.studio_visibility.then(studio_visibility_tag))
            .collect(),
        ))
        .send()
        .await;
    match created {
        Ok(_) => {
            lambda_glue::metrics::count(lambda_glue::metrics::PROJECTS_CREATED, 1);
            Ok(Some(name))
        }
        // a concurrent duplicate event got there first
        Err(e)
            if e.as_service_error().is_some_and(|se| {
                use aws_sdk_sagemaker::error::ProvideErrorMetadata;
                matches!(se.code(), Some("ConflictException" | "ResourceInUse"))
                    || se.message().is_some_and(|m| m.contains("already exists"))
            }) =>
        {
            Ok(Some(name))
        }
        Err(e) => Err(super::sagemaker(
            "CreateProject",
            format!("project {name}"),
            e,
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn onboarded_projects_are_tagged_with_the_embedded_templates_name_and_digest() {
        let tags = version_tags("deploy-codepipeline");
        let content = embedded("deploy-codepipeline").unwrap();
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
    fn parameters_are_checked_against_the_template() {
        let p = parse_parameters("SourceModelPackageGroupName=group-a").unwrap();
        let e = check_parameters("deploy-codepipeline", &p).unwrap_err();
        assert!(
            e.starts_with("template deploy-codepipeline requires parameter "),
            "{e}"
        );
        let e = check_parameters("deploy-codepipeline", &parse_parameters("Nope=1").unwrap())
            .unwrap_err();
        assert_eq!(
            e,
            "parameter Nope is not one template deploy-codepipeline takes"
        );
        let e = check_parameters(
            "deploy-codepipeline",
            &parse_parameters("SageMakerProjectName=x").unwrap(),
        )
        .unwrap_err();
        assert!(e.contains("SageMakerProjectName"));
        assert!(parse_parameters("novalue").is_err());
    }
}
