//! `Custom::ReconcileDomains`: the install-time sweep. Create and Update onboard every existing domain and
//! user profile (an Update after the templates moved re-tags every domain with the new location at once);
//! Delete takes this product's policies and trust tag back off their execution roles, and its
//! templates-location tag off the domains that still carry this stack's location.

use std::collections::BTreeSet;
use std::sync::Arc;

use cfn_custom_resource::{CustomResource, Outcome, Request};
use serde::Deserialize;

use crate::onboarding::{sweep, OnboardError, Onboarder};
use crate::policies;

/// Any properties; changing one (e.g. a `Trigger` value) runs the sweep again.
#[derive(Debug, Deserialize)]
pub struct Properties {
    #[serde(flatten)]
    pub _any: serde_json::Map<String, serde_json::Value>,
}

pub struct ReconcileDomains {
    onboarder: Arc<Onboarder>,
}

impl ReconcileDomains {
    pub fn new(onboarder: Arc<Onboarder>) -> Self {
        Self { onboarder }
    }

    async fn sweep(&self) -> Result<Outcome, OnboardError> {
        self.onboarder.forget_granted();
        let r = sweep::run(&self.onboarder).await?;
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
    type Error = OnboardError;

    async fn create(&self, _: &Request, _: &Properties) -> Result<Outcome, OnboardError> {
        self.sweep().await
    }

    async fn update(
        &self,
        _: &Request,
        _: &Properties,
        _: &Properties,
    ) -> Result<Outcome, OnboardError> {
        self.sweep().await
    }

    async fn delete(&self, _: &Request, _: &Properties) -> Result<Outcome, OnboardError> {
        let owner = &self.onboarder.config.policy_owner;
        for role in self.roles().await? {
            policies::revoke(&self.onboarder.iam, &role, owner).await?;
        }
        for (domain, _) in self.onboarder.domains().await? {
            self.onboarder.untag_domain(&domain).await?;
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
        Request {
            stack_id: "arn:aws:cloudformation:us-east-1:123456789012:stack/boot/1".into(),
            request_id: "r-1".into(),
            logical_resource_id: "Reconcile".into(),
            physical_resource_id: Some("p".into()),
            work_deadline: Instant::now() + std::time::Duration::from_secs(60),
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
    async fn delete(rules: &[&Rule]) -> Result<Outcome, OnboardError> {
        let sm = mock_client!(aws_sdk_sagemaker, RuleMode::MatchAny, rules, |c| c
            .retry_config(RetryConfig::disabled()));
        let iam = mock_client!(aws_sdk_iam, RuleMode::MatchAny, [] as [&Rule; 0]);
        let config = Config::from_lookup(|k| match k {
            "LAUNCH_ROLE_ARN" => Some("arn:aws:iam::123456789012:role/L".into()),
            "TEMPLATE_BUCKET" => Some("sagemaker-templates".into()),
            _ => None,
        })
        .unwrap();
        let onboarder = Arc::new(Onboarder::new(sm, iam, config).unwrap());
        let props = Properties {
            _any: Default::default(),
        };
        ReconcileDomains::new(onboarder)
            .delete(&request(), &props)
            .await
    }

    /// Deletes a stack whose one domain (no execution roles) carries `location` as its templates location.
    async fn delete_tagged(location: &'static str) -> (Result<Outcome, OnboardError>, usize) {
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
