//! The reconcile sweep: every domain and user profile of the account/region, onboarded where anything is
//! missing — covering lost CloudTrail events and what existed before the stack. Bounded concurrency; one
//! domain's failure does not stop the others.

use std::time::Instant;

use futures::stream::{self, StreamExt};
use lambda_glue::metrics;
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
    for profile in o.user_profiles(domain).await? {
        if let ProfileOutcome::Onboarded { .. } = o.onboard_user_profile(domain, &profile).await? {
            onboarded += 1;
        }
    }
    Ok((outcome, onboarded))
}

/// Sweeps; records its duration (`SweepDuration`) and the domains it failed on (`SweepFailures`).
pub async fn run(o: &Onboarder) -> Result<SweepReport, OnboardError> {
    let started = Instant::now();
    let report = sweep(o).await;
    metrics::seconds(metrics::SWEEP_DURATION, started.elapsed().as_secs_f64());
    if let Ok(r) = &report {
        metrics::count(metrics::SWEEP_FAILURES, r.failed);
    }
    report
}

async fn sweep(o: &Onboarder) -> Result<SweepReport, OnboardError> {
    let ids = o.domains().await?;
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
    // only a sweep that saw every domain knows which domains each role serves now
    if report.failed == 0 && o.config.isolation == crate::policies::Isolation::Domain {
        if let Err(e) = o.prune_domain_grants().await {
            tracing::warn!(error = %e, "sweep: per-domain grants of departed domains not pruned");
            report.failed += 1;
            report.errors.push(e.to_string());
        }
    }
    Ok(report)
}
