//! Creating, describing and deleting a project with an S3 template.

use std::collections::BTreeMap;

use aws_sdk_sagemaker::operation::describe_project::DescribeProjectOutput;
use aws_sdk_sagemaker::primitives::DateTimeFormat;
use aws_sdk_sagemaker::types::{
    CfnCreateTemplateProvider, CfnStackCreateParameter, CfnTemplateProviderDetail,
    CreateTemplateProvider, Tag,
};
use serde::Serialize;

use super::error::{sagemaker, LaunchError};
use super::input::{check_description, check_project_name};
use super::s3_url::{pinned_url, template_name};
use super::template_spec::TemplateSpec;
use crate::aws::sagemaker_not_found;
use crate::labels::{studio_visibility_tag, DIGEST_TAG, TEMPLATE_TAG};

/// What CreateProject is sent: checked already.
#[derive(Debug, Clone)]
pub struct LaunchPlan {
    pub project: String,
    pub description: Option<String>,
    pub template: TemplateSpec,
    pub parameters: BTreeMap<String, String>,
    pub role_arn: String,
    /// Tag the project [`STUDIO_VISIBILITY_TAG`](crate::labels::STUDIO_VISIBILITY_TAG)`=true` (default), so Studio
    /// lists it.
    pub visible_in_studio: bool,
    /// Tags saying whom the project is for, before the version tags (the onboarder's: its domain).
    pub context_tags: Vec<Tag>,
}

impl LaunchPlan {
    /// Checks everything that can be checked without SageMaker: the name, the description and the parameters
    /// against the template. `role_arn`: the launch role ([`Catalog::launch_role`](super::Catalog::launch_role)).
    pub fn new(
        project: &str,
        description: Option<&str>,
        template: TemplateSpec,
        parameters: BTreeMap<String, String>,
        role_arn: &str,
    ) -> Result<Self, LaunchError> {
        check_project_name(project)?;
        if let Some(d) = description {
            check_description(d)?;
        }
        template.check(project, &parameters)?;
        Ok(Self {
            project: project.to_owned(),
            description: description.map(str::to_owned),
            role_arn: role_arn.to_owned(),
            template,
            parameters,
            visible_in_studio: true,
            context_tags: Vec::new(),
        })
    }

    /// The CfnTemplateProvider's TemplateName.
    pub fn template_name(&self) -> String {
        template_name(&self.template.name)
    }

    /// The TemplateURL: pinned to the version read, so the project runs exactly the version it is tagged with.
    pub fn template_url(&self) -> String {
        match &self.template.version {
            Some(v) => pinned_url(&self.template.url, v.version_id.as_deref()),
            None => self.template.url.clone(),
        }
    }

    /// The tags naming the template and the version the project runs.
    pub fn version_tags(&self) -> Vec<Tag> {
        version_tags(&self.template)
    }

    /// What CreateProject tags the project with: the context tags, [`Self::version_tags`], and Studio's
    /// visibility tag unless turned off.
    pub fn tags(&self) -> Vec<Tag> {
        let mut tags = self.context_tags.clone();
        tags.extend(self.version_tags());
        if self.visible_in_studio {
            tags.push(studio_visibility_tag());
        }
        tags
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
        .template_url(plan.template_url())
        .role_arn(&plan.role_arn);
    for (k, v) in &plan.parameters {
        cfn = cfn.parameters(CfnStackCreateParameter::builder().key(k).value(v).build());
    }
    let out = sm
        .create_project()
        .project_name(&plan.project)
        .set_project_description(plan.description.clone())
        .set_tags(Some(plan.tags()))
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

/// [`TEMPLATE_TAG`] and, when the version is known, [`DIGEST_TAG`].
pub fn version_tags(template: &TemplateSpec) -> Vec<Tag> {
    let mut tags = vec![Tag::builder()
        .key(TEMPLATE_TAG)
        .value(&template.name)
        .build()];
    if let Some(v) = &template.version {
        tags.push(Tag::builder().key(DIGEST_TAG).value(&v.digest).build());
    }
    tags
}

/// A CfnTemplateProvider's parameters, as DescribeProject and Search show them.
pub fn provider_parameters(cfn: Option<&CfnTemplateProviderDetail>) -> BTreeMap<String, String> {
    cfn.map(|c| {
        c.parameters()
            .iter()
            .filter_map(|p| Some((p.key()?.to_owned(), p.value().unwrap_or("").to_owned())))
            .collect()
    })
    .unwrap_or_default()
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
    /// RFC 3339; SageMaker moves it on every change it accepts.
    pub last_modified: Option<String>,
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
            parameters: provider_parameters(cfn),
            stack_name: owned(stack.and_then(|s| s.name())),
            stack_id: owned(stack.and_then(|s| s.id())),
            stack_status_message: owned(stack.and_then(|s| s.status_message())),
            created: out
                .creation_time()
                .and_then(|t| t.fmt(DateTimeFormat::DateTime).ok()),
            last_modified: out
                .last_modified_time()
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
        Err(e) if sagemaker_not_found(&e) => Err(LaunchError::NoSuchProject(name.to_owned())),
        Err(e) => Err(sagemaker("DeleteProject", name, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::labels::STUDIO_VISIBILITY_TAG;
    use crate::projects::testing::*;
    use aws_sdk_sagemaker::operation::create_project::CreateProjectOutput;
    use aws_smithy_mocks::{mock, mock_client};

    use crate::projects::catalog::Catalog;
    use crate::projects::version::Version;

    #[test]
    fn a_catalog_without_a_launch_role_cannot_give_a_plan_one() {
        let c = Catalog::from_flags(&[url("deploy-codepipeline")], None).unwrap();
        assert!(invalid(c.launch_role().unwrap_err()).starts_with("no launch role"));
    }

    #[tokio::test]
    async fn create_project_sends_the_s3_template_provider_pinned_to_the_version_read_and_tagged_with_it(
    ) {
        let c = Catalog::from_outputs("s", &stack_outputs()).unwrap();
        let mut template = embedded("deploy-codepipeline");
        template.version = Some(Version {
            digest: "0cc175b9c0f1b6a831c399e269772661".into(),
            version_id: Some("v7".into()),
        });
        let plan = LaunchPlan::new(
            "demo",
            Some("a demo"),
            template,
            params(&DEPLOY),
            c.launch_role().unwrap(),
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
                    && p.template_url()
                        == Some(format!("{}?versionId=v7", url("deploy-codepipeline")).as_str())
                    && p.role_arn() == Some(ROLE)
                    && r.tags()
                        .iter()
                        .map(|t| (t.key(), t.value()))
                        .collect::<Vec<_>>()
                        == [
                            (Some(TEMPLATE_TAG), Some("deploy-codepipeline")),
                            (Some(DIGEST_TAG), Some("0cc175b9c0f1b6a831c399e269772661")),
                            (Some(STUDIO_VISIBILITY_TAG), Some("true")),
                        ]
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
            c.launch_role().unwrap(),
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
        assert!(!e.is_invalid_input());
    }
}
