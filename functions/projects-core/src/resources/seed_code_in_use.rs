//! `Custom::SeedCodeInUse`: the bootstrap stack's guard against deleting the seed-code function while project
//! stacks still name it as the ServiceToken of their `Custom::SeedCode`. Without the function, CloudFormation
//! cannot delete those resources, so every such project would end DeleteFailed.
//!
//! The guard depends on every other resource of the bootstrap stack, so CloudFormation deletes it first: a refusal
//! leaves the stack DELETE_FAILED with everything still in place, and a message naming the projects and both ways
//! out. Create and Update do nothing. Properties: `DeletedAfter` (optional: references that make the stack's
//! conditional resources dependencies of the guard; not read).

use std::collections::BTreeSet;

use aws_sdk_cloudformation::types::ResourceStatus;
use aws_sdk_sagemaker::types::ProjectStatus;
use cloudformation_custom_resource::{CustomResource, Outcome, Request};
use futures::stream::{self, StreamExt, TryStreamExt};
use serde::Deserialize;

use crate::aws::{cloudformation_stack_missing, sagemaker_not_found, CallError};

/// The resource type of the project templates' seed-code resource.
pub const SEED_CODE_TYPE: &str = "Custom::SeedCode";

/// Describe and list calls at a time: read-only, and well under SageMaker's and CloudFormation's rates.
const CONCURRENCY: usize = 8;

/// Projects named in the refusal; the count says how many more there are.
const NAMED: usize = 10;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Properties {
    #[serde(default)]
    pub deleted_after: serde_json::Map<String, serde_json::Value>,
}

/// A project whose stack still has a seed-code resource.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ProjectInUse {
    pub project: String,
    pub stack: String,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Aws(#[from] CallError),
    #[error("{}", refusal(.stack, .logical_id, .projects))]
    InUse {
        stack: String,
        logical_id: String,
        projects: Vec<ProjectInUse>,
    },
}

fn refusal(stack: &str, logical_id: &str, projects: &[ProjectInUse]) -> String {
    let mut named = projects
        .iter()
        .take(NAMED)
        .map(|p| format!("{} ({})", p.project, p.stack))
        .collect::<Vec<_>>()
        .join(", ");
    if projects.len() > NAMED {
        named.push_str(&format!(" and {} more", projects.len() - NAMED));
    }
    format!(
        "not deleted: {n} SageMaker project(s) still use this stack's seed-code function, and their stacks could \
         not be deleted without it: {named}. Delete those projects first (aws sagemaker delete-project \
         --project-name NAME), then delete this stack again; or delete it anyway with aws cloudformation \
         delete-stack --stack-name {stack} --retain-resources {logical_id}, after which each such project's \
         stack must be deleted with --retain-resources naming its Custom::SeedCode resources before SageMaker \
         can delete the project",
        n = projects.len()
    )
}

pub struct SeedCodeInUse {
    sagemaker: aws_sdk_sagemaker::Client,
    cloudformation: aws_sdk_cloudformation::Client,
}

impl SeedCodeInUse {
    pub fn new(
        sagemaker: aws_sdk_sagemaker::Client,
        cloudformation: aws_sdk_cloudformation::Client,
    ) -> Self {
        Self {
            sagemaker,
            cloudformation,
        }
    }

    /// Every project of the region (but those deleted) whose stack still has a `Custom::SeedCode` resource,
    /// sorted by name. Any failed call fails the whole answer: a guess could strand a project.
    pub async fn projects_in_use(&self) -> Result<Vec<ProjectInUse>, CallError> {
        let mut names = BTreeSet::new();
        let mut pages = self.sagemaker.list_projects().into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| CallError::new("SageMaker", "ListProjects", "", e))?;
            names.extend(
                page.project_summary_list()
                    .iter()
                    .filter(|p| p.project_status() != Some(&ProjectStatus::DeleteCompleted))
                    .filter_map(|p| p.project_name().map(str::to_owned)),
            );
        }
        let mut found: Vec<ProjectInUse> = stream::iter(names)
            .map(|name| self.in_use(name))
            .buffer_unordered(CONCURRENCY)
            .try_filter_map(|p| async move { Ok(p) })
            .try_collect()
            .await?;
        found.sort();
        Ok(found)
    }

    /// The project, if its stack still has a seed-code resource that is not deleted.
    async fn in_use(&self, name: String) -> Result<Option<ProjectInUse>, CallError> {
        let described = match self
            .sagemaker
            .describe_project()
            .project_name(&name)
            .send()
            .await
        {
            Ok(d) => d,
            Err(e) if sagemaker_not_found(&e) => return Ok(None), // deleted since the listing
            Err(e) => {
                return Err(CallError::new(
                    "SageMaker",
                    "DescribeProject",
                    format!("project {name}"),
                    e,
                ))
            }
        };
        if described.project_status() == Some(&ProjectStatus::DeleteCompleted) {
            return Ok(None);
        }
        let stacks = described
            .template_provider_details()
            .iter()
            .filter_map(|t| t.cfn_template_provider_detail()?.stack_detail())
            .filter_map(|s| s.id().or(s.name()).map(str::to_owned));
        for stack in stacks {
            if self.has_seed_code(&stack).await? {
                return Ok(Some(ProjectInUse {
                    project: name,
                    stack: stack_name(&stack).to_owned(),
                }));
            }
        }
        Ok(None)
    }

    async fn has_seed_code(&self, stack: &str) -> Result<bool, CallError> {
        let mut resources = self
            .cloudformation
            .list_stack_resources()
            .stack_name(stack)
            .into_paginator()
            .items()
            .send();
        while let Some(resource) = resources.next().await {
            let resource = match resource {
                Ok(r) => r,
                Err(e) if cloudformation_stack_missing(&e) => return Ok(false),
                Err(e) => {
                    return Err(CallError::new(
                        "CloudFormation",
                        "ListStackResources",
                        format!("stack {}", stack_name(stack)),
                        e,
                    ))
                }
            };
            if resource.resource_type() == Some(SEED_CODE_TYPE)
                && resource.resource_status() != Some(&ResourceStatus::DeleteComplete)
            {
                return Ok(true);
            }
        }
        Ok(false)
    }
}

/// The stack name, from a stack ARN or a name.
fn stack_name(stack: &str) -> &str {
    stack.split('/').nth(1).unwrap_or(stack)
}

impl CustomResource for SeedCodeInUse {
    type Properties = Properties;
    type Error = Error;

    async fn create(&self, _: &Request, _: &Properties) -> Result<Outcome, Error> {
        Ok(Outcome::default())
    }

    async fn update(&self, _: &Request, _: &Properties, _: &Properties) -> Result<Outcome, Error> {
        Ok(Outcome::default())
    }

    async fn delete(&self, request: &Request, _: &Properties) -> Result<Outcome, Error> {
        let projects = self.projects_in_use().await?;
        if projects.is_empty() {
            return Ok(Outcome::default());
        }
        Err(Error::InUse {
            stack: request.stack_name().to_owned(),
            logical_id: request.logical_resource_id.clone(),
            projects,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::aws::answers::json_error;
    use aws_sdk_cloudformation::operation::list_stack_resources::ListStackResourcesOutput;
    use aws_sdk_cloudformation::types::StackResourceSummary;
    use aws_sdk_sagemaker::operation::describe_project::DescribeProjectOutput;
    use aws_sdk_sagemaker::operation::list_projects::ListProjectsOutput;
    use aws_sdk_sagemaker::types::{
        CfnStackDetail, CfnTemplateProviderDetail, ProjectSummary, TemplateProviderDetail,
    };
    use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};
    use aws_smithy_types::retry::RetryConfig;
    use tokio::time::Instant;

    fn request() -> Request {
        Request::new(
            "arn:aws:cloudformation:us-east-1:123456789012:stack/boot/1",
            "r-1",
            "SeedCodeInUseGuard",
            Instant::now() + std::time::Duration::from_secs(60),
        )
        .with_physical_resource_id("p")
    }

    fn stack_arn(name: &str) -> String {
        format!("arn:aws:cloudformation:us-east-1:123456789012:stack/SP-{name}/1")
    }

    fn listed(projects: &[(&'static str, ProjectStatus)]) -> Rule {
        let projects = projects.to_vec();
        mock!(aws_sdk_sagemaker::Client::list_projects).then_output(move || {
            let mut out = ListProjectsOutput::builder();
            for (name, status) in &projects {
                out = out.project_summary_list(
                    ProjectSummary::builder()
                        .project_name(*name)
                        .project_status(status.clone())
                        .build(),
                );
            }
            out.build()
        })
    }

    /// DescribeProject answering every project as CreateCompleted, with its stack `SP-<name>`.
    fn described() -> Rule {
        mock!(aws_sdk_sagemaker::Client::describe_project).then_output(|| {
            // the mock answers every project alike; the stack name is checked through ListStackResources
            DescribeProjectOutput::builder()
                .project_name("any")
                .project_status(ProjectStatus::CreateCompleted)
                .template_provider_details(
                    TemplateProviderDetail::builder()
                        .cfn_template_provider_detail(
                            CfnTemplateProviderDetail::builder()
                                .template_name("t")
                                .template_url("https://b.s3.amazonaws.com/t.yaml")
                                .stack_detail(CfnStackDetail::builder().id(stack_arn("p")).build())
                                .build(),
                        )
                        .build(),
                )
                .build()
        })
    }

    fn stack_with(resources: &[(&'static str, ResourceStatus)]) -> Rule {
        let resources = resources.to_vec();
        mock!(aws_sdk_cloudformation::Client::list_stack_resources).then_output(move || {
            let mut out = ListStackResourcesOutput::builder();
            for (rtype, status) in &resources {
                out = out.stack_resource_summaries(
                    StackResourceSummary::builder()
                        .logical_resource_id("R")
                        .resource_type(*rtype)
                        .resource_status(status.clone())
                        .last_updated_timestamp(aws_smithy_types::DateTime::from_secs(0))
                        .build(),
                );
            }
            out.build()
        })
    }

    async fn delete(sagemaker: &[&Rule], cloudformation: &[&Rule]) -> Result<Outcome, Error> {
        let sm = mock_client!(aws_sdk_sagemaker, RuleMode::MatchAny, sagemaker, |c| c
            .retry_config(RetryConfig::disabled()));
        let cfn = mock_client!(
            aws_sdk_cloudformation,
            RuleMode::MatchAny,
            cloudformation,
            |c| c.retry_config(RetryConfig::disabled())
        );
        let props = Properties {
            deleted_after: Default::default(),
        };
        SeedCodeInUse::new(sm, cfn).delete(&request(), &props).await
    }

    #[tokio::test]
    async fn a_project_whose_stack_has_seed_code_refuses_the_delete_naming_it_and_both_ways_out() {
        let e = delete(
            &[
                &listed(&[("churn", ProjectStatus::CreateCompleted)]),
                &described(),
            ],
            &[&stack_with(&[
                ("AWS::CodeBuild::Project", ResourceStatus::CreateComplete),
                (SEED_CODE_TYPE, ResourceStatus::CreateComplete),
            ])],
        )
        .await
        .unwrap_err();
        let text = e.to_string();
        assert!(
            text.starts_with("not deleted: 1 SageMaker project(s) still use"),
            "{text}"
        );
        assert!(text.contains("churn (SP-p)"), "{text}");
        assert!(text.contains("aws sagemaker delete-project"), "{text}");
        assert!(
            text.contains("delete-stack --stack-name boot --retain-resources SeedCodeInUseGuard"),
            "{text}"
        );
    }

    #[tokio::test]
    async fn deleted_projects_and_stacks_without_seed_code_let_the_delete_through() {
        let outcome = delete(
            &[
                &listed(&[
                    ("gone", ProjectStatus::DeleteCompleted),
                    ("other", ProjectStatus::CreateCompleted),
                ]),
                &described(),
            ],
            &[&stack_with(&[
                ("AWS::S3::Bucket", ResourceStatus::CreateComplete),
                (SEED_CODE_TYPE, ResourceStatus::DeleteComplete),
            ])],
        )
        .await
        .unwrap();
        assert_eq!(outcome, Outcome::default());
    }

    #[tokio::test]
    async fn no_projects_at_all_is_no_reason_to_refuse() {
        assert!(delete(&[&listed(&[])], &[]).await.is_ok());
    }

    #[tokio::test]
    async fn a_project_deleted_between_list_and_describe_is_not_in_use() {
        let (status, body) = json_error(400, "ValidationException", "Project p does not exist");
        let gone = mock!(aws_sdk_sagemaker::Client::describe_project)
            .sequence()
            .http_status(status, body)
            .build();
        let listing = listed(&[("p", ProjectStatus::DeleteInProgress)]);
        assert!(delete(&[&listing, &gone], &[]).await.is_ok());
    }

    #[tokio::test]
    async fn a_failed_listing_fails_the_delete_rather_than_guess() {
        let (status, body) = json_error(403, "AccessDeniedException", "not allowed");
        let denied = mock!(aws_sdk_sagemaker::Client::list_projects)
            .sequence()
            .http_status(status, body)
            .build();
        let e = delete(&[&denied], &[]).await.unwrap_err();
        assert_eq!(
            e.to_string(),
            "SageMaker ListProjects failed: AccessDeniedException: not allowed"
        );
    }

    #[test]
    fn a_long_list_names_ten_projects_and_counts_the_rest() {
        let projects: Vec<_> = (0..13)
            .map(|i| ProjectInUse {
                project: format!("p{i:02}"),
                stack: format!("SP-{i}"),
            })
            .collect();
        let text = refusal("boot", "Guard", &projects);
        assert!(text.contains("p09 (SP-9) and 3 more"), "{text}");
        assert!(!text.contains("p10"), "{text}");
    }
}
