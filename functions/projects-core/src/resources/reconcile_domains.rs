//! `Custom::ReconcileDomains`: the install-time sweep. Create and Update onboard every existing domain and
//! user profile (an Update after the templates moved re-tags every domain with the new location at once);
//! Delete takes this product's policies and trust tag back off their execution roles, and its
//! templates-location tag off the domains that still carry the location of the deleted properties.
//!
//! It acts on its properties, not on its function's environment: `TemplatesLocation` (`s3://bucket/prefix/`)
//! is where the sweep points every domain, so an Update back to old properties (a rollback) restores the old
//! location whatever the function's environment says at that moment. The values that confer power are
//! bounded by the stack ([`super::bounds`]): the bucket, and when given `LaunchRoleArn`,
//! `TemplateBucketKmsKeyArn`, `DefaultTemplate` and `ProjectIsolation`, must be the stack's own, and the request
//! must come from it.

use std::collections::BTreeSet;
use std::sync::Arc;

use cloudformation_custom_resource::{CustomResource, Outcome, Request};
use serde::Deserialize;

use super::bounds::{Bounds, BoundsError};
use crate::names::NameError;
use crate::onboarding::{sweep, OnboardError, Onboarder};
use crate::policies::{self, PolicyError};
use crate::publishing::Location;

/// The environment variables (the onboarder's own configuration) that bound this resource's properties.
pub const BOUNDS: &[&str] = &[
    "LAUNCH_ROLE_ARN",
    "TEMPLATE_BUCKET",
    "TEMPLATE_KMS_KEY_ARN",
    "DEFAULT_TEMPLATE",
    "PROJECT_ISOLATION",
];

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Properties {
    /// `s3://<bucket>` or `s3://<bucket>/<prefix>/`: the domain tag's value.
    pub templates_location: String,
    #[serde(default)]
    pub launch_role_arn: Option<String>,
    #[serde(default)]
    pub template_bucket_kms_key_arn: Option<String>,
    #[serde(default)]
    pub default_template: Option<String>,
    /// The stack's `ProjectIsolation`: a change runs the sweep again, which re-grants every role in the new
    /// scope (and prunes the per-domain grants that no longer apply).
    #[serde(default)]
    pub project_isolation: Option<String>,
    /// Any value: a new one runs the sweep again (the template set's digest).
    #[serde(default)]
    pub trigger: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Onboard(#[from] OnboardError),
    #[error(transparent)]
    Bounds(#[from] BoundsError),
    #[error(transparent)]
    Name(#[from] NameError),
    #[error(transparent)]
    Policy(#[from] PolicyError),
}

impl Error {
    /// Worth a retry: a call that failed for a passing reason (see [`OnboardError::is_retryable`]).
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Onboard(e) => e.is_retryable(),
            Self::Policy(e) => e.is_retryable(),
            Self::Bounds(_) | Self::Name(_) => false,
        }
    }
}

impl Properties {
    /// The location, once the request is known to be the stack's and every value it gives the stack's own.
    fn checked_location(&self, request: &Request, bounds: &Bounds) -> Result<Location, Error> {
        bounds.stack(request)?;
        let location = Location::parse("TemplatesLocation", &self.templates_location)?;
        bounds.equal(
            "TemplatesLocation",
            "template bucket",
            "TEMPLATE_BUCKET",
            &location.bucket,
        )?;
        let given = [
            (
                "LaunchRoleArn",
                "launch role",
                "LAUNCH_ROLE_ARN",
                &self.launch_role_arn,
            ),
            (
                "TemplateBucketKmsKeyArn",
                "template bucket key",
                "TEMPLATE_KMS_KEY_ARN",
                &self.template_bucket_kms_key_arn,
            ),
            (
                "DefaultTemplate",
                "default template",
                "DEFAULT_TEMPLATE",
                &self.default_template,
            ),
            (
                "ProjectIsolation",
                "project isolation",
                "PROJECT_ISOLATION",
                &self.project_isolation,
            ),
        ];
        for (field, what, var, value) in given {
            if let Some(value) = value {
                bounds.equal(field, what, var, value)?;
            }
        }
        Ok(location)
    }
}

pub struct ReconcileDomains {
    onboarder: Arc<Onboarder>,
    bounds: Bounds,
}

impl ReconcileDomains {
    /// `bounds`: [`Bounds::from_env`] of [`BOUNDS`] in the function.
    pub fn new(onboarder: Arc<Onboarder>, bounds: Bounds) -> Self {
        Self { onboarder, bounds }
    }

    async fn sweep(&self, request: &Request, props: &Properties) -> Result<Outcome, Error> {
        let location = props.checked_location(request, &self.bounds)?;
        let onboarder = self.onboarder.at(location)?;
        let r = sweep::run(&onboarder).await?;
        if !r.errors.is_empty() {
            tracing::warn!(errors = ?r.errors, "install sweep: some domains were not onboarded; the schedule retries them");
        }
        Ok(Outcome::default()
            .with("Domains", r.domains.to_string())
            .with("Onboarded", r.onboarded.to_string())
            .with("Waiting", r.waiting.to_string())
            .with("Failed", r.failed.to_string()))
    }

    /// The names of every execution role of every domain and user profile of this account. Any failed
    /// call fails the whole list: a Delete must not answer SUCCESS with policies left behind.
    async fn roles(&self) -> Result<BTreeSet<String>, OnboardError> {
        let o = &self.onboarder;
        let account = &o.config.launch_role.account;
        let mut names = BTreeSet::new();
        for (domain, _) in o.domains().await? {
            // a role of another account is not ours to change (names::role_name refuses it)
            names.extend(
                o.execution_roles(&domain)
                    .await?
                    .iter()
                    .filter_map(|arn| crate::names::role_name("ExecutionRole", arn, account).ok()),
            );
        }
        Ok(names)
    }
}

impl CustomResource for ReconcileDomains {
    type Properties = Properties;
    type Error = Error;

    async fn create(&self, request: &Request, props: &Properties) -> Result<Outcome, Error> {
        self.sweep(request, props).await
    }

    async fn update(
        &self,
        request: &Request,
        _: &Properties,
        new: &Properties,
    ) -> Result<Outcome, Error> {
        self.sweep(request, new).await
    }

    async fn delete(&self, request: &Request, props: &Properties) -> Result<Outcome, Error> {
        // the location being deleted is the properties': only domains still naming it lose the tag
        let onboarder = self
            .onboarder
            .at(props.checked_location(request, &self.bounds)?)?;
        let owner = &onboarder.config.policy_owner;
        for role in self.roles().await? {
            policies::revoke(&onboarder.iam, &role, owner).await?;
        }
        for (domain, _) in onboarder.domains().await? {
            onboarder.untag_domain(&domain).await?;
        }
        Ok(Outcome::default())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::aws::answers::json_error;
    use crate::onboarding::Config;
    use crate::onboarding::LOCATION_TAG;
    use aws_sdk_sagemaker::operation::delete_tags::DeleteTagsOutput;
    use aws_sdk_sagemaker::operation::describe_domain::DescribeDomainOutput;
    use aws_sdk_sagemaker::operation::list_domains::ListDomainsOutput;
    use aws_sdk_sagemaker::operation::list_tags::ListTagsOutput;
    use aws_sdk_sagemaker::operation::list_user_profiles::ListUserProfilesOutput;
    use aws_sdk_sagemaker::types::Tag;
    use aws_sdk_sagemaker::types::{DomainDetails, UserSettings};
    use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};
    use aws_smithy_types::retry::RetryConfig;
    use tokio::time::Instant;

    fn request() -> Request {
        Request::new(
            "arn:aws:cloudformation:us-east-1:123456789012:stack/boot/1",
            "r-1",
            "Reconcile",
            Instant::now() + std::time::Duration::from_secs(60),
        )
        .with_physical_resource_id("p")
    }

    fn props(location: &str) -> Properties {
        Properties {
            templates_location: location.into(),
            launch_role_arn: None,
            template_bucket_kms_key_arn: None,
            default_template: None,
            project_isolation: None,
            trigger: None,
        }
    }

    fn one_domain() -> Rule {
        mock!(aws_sdk_sagemaker::Client::list_domains).then_output(|| {
            ListDomainsOutput::builder()
                .domains(DomainDetails::builder().domain_id("d-1").build())
                .build()
        })
    }

    /// Deletes with SageMaker answering by `rules` and IAM refusing every call (nothing may reach it).
    async fn delete(rules: &[&Rule]) -> Result<Outcome, Error> {
        let sm = mock_client!(aws_sdk_sagemaker, RuleMode::MatchAny, rules, |c| c
            .retry_config(RetryConfig::disabled()));
        let iam = mock_client!(aws_sdk_iam, RuleMode::MatchAny, [] as [&Rule; 0]);
        let s3 = mock_client!(aws_sdk_s3, RuleMode::MatchAny, [] as [&Rule; 0]);
        let config = Config::from_lookup(|k| match k {
            "LAUNCH_ROLE_ARN" => Some("arn:aws:iam::123456789012:role/L".into()),
            "TEMPLATE_BUCKET" => Some("sagemaker-templates".into()),
            _ => None,
        })
        .unwrap();
        let onboarder = Arc::new(Onboarder::new(sm, iam, s3, config).unwrap());
        ReconcileDomains::new(onboarder, Bounds::off())
            .delete(&request(), &props("s3://sagemaker-templates"))
            .await
    }

    /// Deletes a stack whose one domain (no execution roles) carries `location` as its templates location.
    async fn delete_tagged(location: &'static str) -> (Result<Outcome, Error>, usize) {
        let described = mock!(aws_sdk_sagemaker::Client::describe_domain).then_output(|| {
            DescribeDomainOutput::builder()
                .domain_id("d-1")
                .domain_arn("arn:aws:sagemaker:us-east-1:123456789012:domain/d-1")
                .build()
        });
        let profiles = mock!(aws_sdk_sagemaker::Client::list_user_profiles)
            .then_output(|| ListUserProfilesOutput::builder().build());
        let tags = mock!(aws_sdk_sagemaker::Client::list_tags).then_output(move || {
            ListTagsOutput::builder()
                .tags(Tag::builder().key(LOCATION_TAG).value(location).build())
                .build()
        });
        let untag = mock!(aws_sdk_sagemaker::Client::delete_tags)
            .match_requests(|r| r.tag_keys() == [LOCATION_TAG])
            .then_output(|| DeleteTagsOutput::builder().build());
        let result = delete(&[&one_domain(), &described, &profiles, &tags, &untag]).await;
        (result, untag.num_calls())
    }

    #[tokio::test]
    async fn delete_takes_this_stacks_location_tag_off_the_domains() {
        let (result, untagged) = delete_tagged("s3://sagemaker-templates").await;
        assert!(result.is_ok());
        assert_eq!(untagged, 1);
    }

    #[tokio::test]
    async fn delete_leaves_a_location_tag_somebody_else_set() {
        let (result, untagged) = delete_tagged("s3://someone-elses-bucket/templates/").await;
        assert!(result.is_ok());
        assert_eq!(untagged, 0);
    }

    #[tokio::test]
    async fn a_throttled_describe_domain_fails_the_delete_instead_of_leaving_policies_behind() {
        let (status, body) = json_error(400, "ThrottlingException", "Rate exceeded");
        let throttled = mock!(aws_sdk_sagemaker::Client::describe_domain)
            .sequence()
            .http_status(status, body)
            .build();
        let e = delete(&[&one_domain(), &throttled]).await.unwrap_err();
        assert_eq!(
            e.to_string(),
            "SageMaker DescribeDomain on domain d-1 failed: ThrottlingException: Rate exceeded"
        );
        assert!(e.is_retryable());
    }

    #[tokio::test]
    async fn a_failed_profile_listing_fails_the_delete_too() {
        let described = mock!(aws_sdk_sagemaker::Client::describe_domain).then_output(|| {
            DescribeDomainOutput::builder()
                .domain_id("d-1")
                .default_user_settings(
                    UserSettings::builder()
                        .execution_role("arn:aws:iam::123456789012:role/Studio")
                        .build(),
                )
                .build()
        });
        let (status, body) = json_error(500, "InternalFailure", "try later");
        let failing = mock!(aws_sdk_sagemaker::Client::list_user_profiles)
            .sequence()
            .http_status(status, body)
            .build();
        let e = delete(&[&one_domain(), &described, &failing])
            .await
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "SageMaker ListUserProfiles on domain d-1 failed: InternalFailure: try later"
        );
    }
}
