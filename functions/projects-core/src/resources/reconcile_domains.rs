//! `Custom::ReconcileDomains`: the install-time sweep. Create and Update onboard every existing domain and
//! user profile; Delete takes this product's policies and trust tag back off their execution roles.

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

    /// Every execution role of every domain and user profile.
    async fn roles(&self) -> Result<BTreeSet<String>, OnboardError> {
        let o = &self.onboarder;
        let account = &o.config.launch_role.account;
        let mut arns = Vec::new();
        for (domain, _) in sweep::domain_ids(o).await? {
            if let Ok(d) = o
                .sagemaker
                .describe_domain()
                .domain_id(&domain)
                .send()
                .await
            {
                arns.extend(
                    d.default_user_settings()
                        .and_then(|s| s.execution_role())
                        .map(str::to_owned),
                );
                arns.extend(
                    d.default_space_settings()
                        .and_then(|s| s.execution_role())
                        .map(str::to_owned),
                );
            }
            let mut pages = o
                .sagemaker
                .list_user_profiles()
                .domain_id_equals(&domain)
                .into_paginator()
                .send();
            while let Some(Ok(page)) = pages.next().await {
                for p in page
                    .user_profiles
                    .unwrap_or_default()
                    .into_iter()
                    .filter_map(|p| p.user_profile_name)
                {
                    if let Ok(u) = o
                        .sagemaker
                        .describe_user_profile()
                        .domain_id(&domain)
                        .user_profile_name(p)
                        .send()
                        .await
                    {
                        arns.extend(
                            u.user_settings()
                                .and_then(|s| s.execution_role())
                                .map(str::to_owned),
                        );
                    }
                }
            }
        }
        Ok(arns
            .iter()
            .filter_map(|a| crate::names::role_name("ExecutionRole", a, account).ok())
            .collect())
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
        Ok(Outcome::default())
    }
}
