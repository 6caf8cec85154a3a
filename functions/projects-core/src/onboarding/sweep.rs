//! The reconcile sweep: every domain and user profile of the account/region, onboarded where anything is
//! missing — covering lost CloudTrail events and what existed before the stack. Bounded concurrency; one
//! domain's failure does not stop the others.

use futures::stream::{self, StreamExt};
use serde::Serialize;

use super::{DomainOutcome, OnboardError, Onboarder, ProfileOutcome};

#[derive(Debug, Default, Serialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct SweepReport {
    pub domains: usize,
    pub onboarded: usize,
    pub waiting: usize,
    pub skipped: usize,
    pub profiles: usize,
    pub failed: usize,
    /// The first few failures, for the log and the custom resource's Reason.
    pub errors: Vec<String>,
}

pub async fn domain_ids(o: &Onboarder) -> Result<Vec<(String, Option<String>)>, OnboardError> {
    let mut ids = Vec::new();
    let mut pages = o.sagemaker.list_domains().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| OnboardError::sagemaker("ListDomains", "account", &e))?;
        for d in page.domains.unwrap_or_default() {
            if let Some(id) = d.domain_id {
                ids.push((id, d.domain_name));
            }
        }
    }
    Ok(ids)
}

async fn profiles(o: &Onboarder, domain: &str) -> Result<Vec<String>, OnboardError> {
    let mut names = Vec::new();
    let mut pages = o
        .sagemaker
        .list_user_profiles()
        .domain_id_equals(domain)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| OnboardError::sagemaker("ListUserProfiles", domain, &e))?;
        names.extend(
            page.user_profiles
                .unwrap_or_default()
                .into_iter()
                .filter_map(|p| p.user_profile_name),
        );
    }
    Ok(names)
}

/// One domain and its profiles: (domain outcome, profiles onboarded).
async fn one(o: &Onboarder, domain: &str) -> Result<(DomainOutcome, usize), OnboardError> {
    let outcome = o.onboard_domain(domain).await?;
    if matches!(
        outcome,
        DomainOutcome::OptedOut { .. }
            | DomainOutcome::Gone { .. }
            | DomainOutcome::Abandoned { .. }
    ) {
        return Ok((outcome, 0));
    }
    let mut onboarded = 0;
    for profile in profiles(o, domain).await? {
        if let ProfileOutcome::Onboarded { .. } = o.onboard_user_profile(domain, &profile).await? {
            onboarded += 1;
        }
    }
    Ok((outcome, onboarded))
}

pub async fn run(o: &Onboarder) -> Result<SweepReport, OnboardError> {
    let ids = domain_ids(o).await?;
    let mut report = SweepReport {
        domains: ids.len(),
        ..SweepReport::default()
    };
    let mut results = stream::iter(ids.into_iter().map(|(id, _)| id))
        .map(|id| async move { (one(o, &id).await, id) })
        .buffer_unordered(o.config.sweep_concurrency);
    while let Some((result, id)) = results.next().await {
        match result {
            Ok((outcome, profiles)) => {
                report.profiles += profiles;
                match outcome {
                    DomainOutcome::Onboarded { .. } => report.onboarded += 1,
                    DomainOutcome::Waiting { .. } => report.waiting += 1,
                    _ => report.skipped += 1,
                }
            }
            Err(e) => {
                tracing::warn!(domain = %id, error = %e, "sweep: domain not onboarded");
                report.failed += 1;
                if report.errors.len() < 5 {
                    report.errors.push(format!("{id}: {e}"));
                }
            }
        }
    }
    Ok(report)
}
