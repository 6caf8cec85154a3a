//! Rolling outdated projects forward (`projects upgrade`): every project that runs another version than the
//! published one, canaries first, a bounded number at a time, stopping once more than `max_failures` failed.
//! A failed project is left as SageMaker reports it (CloudFormation rolled its stack back); projects not yet
//! started are left alone. Running it again continues where it stopped: upgraded projects are no longer
//! outdated.
//!
//! Requests: the listing ([`fleet::list`]), one GetObject per template (the target version, read once), then per
//! project DescribeProject, UpdateProject, the DescribeProject polls of the follow and AddTags.

use std::collections::BTreeMap;

use futures::stream::{FuturesUnordered, StreamExt};
use serde::Serialize;
use tokio::time::Instant;

use super::catalog::TemplateRef;
use super::error::LaunchError;
use super::fleet::{self, Filter, FleetProject};
use super::follow::{FollowOutcome, FollowSettings, Progress};
use super::launch::describe_project;
use super::s3_url::unpinned;
use super::template_spec::{read_version, TemplateSpec};
use super::update::{self, Request, Subject};
use super::version::{short, TemplateVersions, Version};

/// Which projects, and how carefully.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub filter: Filter,
    /// How many projects go first, on their own; the rest start only if they all succeed (within `max_failures`).
    pub canary: usize,
    /// How many failures are tolerated; the next one stops the upgrade.
    pub max_failures: usize,
    /// How many projects are updated at once.
    pub concurrency: usize,
    pub follow: FollowSettings,
}

/// What became of one project.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Outcome {
    /// UpdateCompleted: it runs the published version.
    Upgraded,
    /// UpdateFailed (or another failed status): the stack's status message says why.
    Failed,
    /// Refused before SageMaker was called (a parameter the new version does not take, say).
    Refused,
    /// Still updating when the follow's timeout came.
    TimedOut,
    /// Not started: the upgrade stopped, or this is a dry run.
    NotStarted,
    /// Not upgradable now (in progress, CreateFailed) or its version is unknown.
    Skipped,
}

impl Outcome {
    fn is_failure(self) -> bool {
        matches!(self, Outcome::Failed | Outcome::Refused | Outcome::TimedOut)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    pub project: String,
    pub template: String,
    pub from: String,
    pub to: String,
    pub canary: bool,
    pub outcome: Outcome,
    /// The status SageMaker reports, and why (the stack's status message, or the refusal).
    pub detail: String,
    pub seconds: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub rows: Vec<Row>,
    /// Whether the upgrade stopped early because of failures.
    pub halted: bool,
    pub dry_run: bool,
}

impl Report {
    pub fn failures(&self) -> usize {
        self.rows.iter().filter(|r| r.outcome.is_failure()).count()
    }
}

/// Something to show while the upgrade runs.
pub enum Event<'a> {
    Started(&'a str),
    Progress(&'a str, &'a Progress<'a>),
    Finished(&'a Row),
}

fn upgradable(status: &str) -> bool {
    matches!(
        status,
        "CreateCompleted" | "UpdateCompleted" | "UpdateFailed"
    )
}

/// The target of each template: the version published now, read once.
async fn targets(
    s3: &aws_sdk_s3::Client,
    templates: &[TemplateVersions],
) -> BTreeMap<String, Result<(TemplateSpec, Version), LaunchError>> {
    let mut out = BTreeMap::new();
    for t in templates {
        let read = async {
            let version = t
                .current()
                .cloned()
                .ok_or_else(|| LaunchError::NoSuchVersion {
                    template: t.name.clone(),
                    digest: "current".into(),
                    known: "the template is not published now".into(),
                })?;
            let template = TemplateRef {
                name: t.name.clone(),
                url: t.url.clone(),
            };
            Ok((read_version(s3, &template, &version).await?, version))
        };
        out.insert(t.url.clone(), read.await);
    }
    out
}

fn row(p: &FleetProject, canary: bool, outcome: Outcome, detail: String, seconds: f64) -> Row {
    Row {
        project: p.name.clone(),
        template: p.template.clone().unwrap_or_else(|| "-".into()),
        from: p.version().to_owned(),
        to: p.current_digest.as_deref().map_or("?", short).to_owned(),
        canary,
        outcome,
        detail,
        seconds,
    }
}

/// One project: DescribeProject, the plan against the target, UpdateProject and the follow.
async fn upgrade_one(
    sm: &aws_sdk_sagemaker::Client,
    p: &FleetProject,
    templates: &[TemplateVersions],
    target: &Result<(TemplateSpec, Version), LaunchError>,
    settings: FollowSettings,
    canary: bool,
    on_event: &(dyn Fn(Event<'_>) + Sync),
) -> Row {
    let started = Instant::now();
    on_event(Event::Started(&p.name));
    let done = |outcome, detail: String| {
        let r = row(p, canary, outcome, detail, started.elapsed().as_secs_f64());
        on_event(Event::Finished(&r));
        r
    };
    let (spec, version) = match target {
        Ok(t) => t,
        Err(e) => return done(Outcome::Refused, e.to_string()),
    };
    let project = match describe_project(sm, &p.name).await {
        Ok(Some(project)) => project,
        Ok(None) => return done(Outcome::Skipped, "the project no longer exists".into()),
        Err(e) => return done(Outcome::Failed, e.to_string()),
    };
    if !upgradable(&project.status) {
        return done(
            Outcome::Skipped,
            format!("{} (not upgradable now)", project.status),
        );
    }
    let base = p
        .template_url
        .as_deref()
        .map(|u| unpinned(u).to_owned())
        .unwrap_or_default();
    let Some(versions) = templates.iter().find(|t| t.url == base) else {
        return done(
            Outcome::Skipped,
            "its template's versions are unknown".into(),
        );
    };
    let subject = Subject {
        project,
        tags: p.tags.clone(),
        template: TemplateRef {
            name: versions.name.clone(),
            url: base,
        },
        versions: versions.clone(),
        digest: p.digest.clone(),
    };
    let plan = match update::plan(&subject, spec.clone(), version.clone(), &Request::default()) {
        Ok(plan) => plan,
        Err(e) => return done(Outcome::Refused, e.to_string()),
    };
    let name = p.name.clone();
    let settled = update::apply(sm, &plan, settings, |progress| {
        on_event(Event::Progress(&name, progress))
    })
    .await;
    match settled {
        Err(e) => done(Outcome::Failed, e.to_string()),
        Ok(s) => {
            let project = s.project.as_ref();
            let status = project.map_or("(no such project)", |p| p.status.as_str());
            let why = project
                .and_then(|p| p.stack_status_message.as_deref())
                .unwrap_or("");
            let outcome = match s.outcome {
                FollowOutcome::Completed => Outcome::Upgraded,
                FollowOutcome::TimedOut => Outcome::TimedOut,
                FollowOutcome::Failed | FollowOutcome::Vanished => Outcome::Failed,
            };
            let detail = if outcome == Outcome::Upgraded || why.is_empty() {
                status.to_owned()
            } else {
                format!("{status}: {why}")
            };
            done(outcome, detail)
        }
    }
}

/// Lists the outdated projects and rolls them forward: canaries first, then the rest, `concurrency` at a
/// time, starting no more once more than `max_failures` failed.
pub async fn upgrade(
    sm: &aws_sdk_sagemaker::Client,
    s3: &aws_sdk_s3::Client,
    settings: &Settings,
    dry_run: bool,
    on_event: &(dyn Fn(Event<'_>) + Sync),
) -> Result<Report, LaunchError> {
    let listing = fleet::list(
        sm,
        s3,
        &Filter {
            outdated: true,
            ..settings.filter.clone()
        },
    )
    .await?;
    let mut rows = Vec::new();
    let (ready, unready): (Vec<&FleetProject>, Vec<&FleetProject>) =
        listing.projects.iter().partition(|p| upgradable(&p.status));
    for p in unready {
        rows.push(row(
            p,
            false,
            Outcome::Skipped,
            format!("{} (not upgradable now)", p.status),
            0.0,
        ));
    }
    if dry_run {
        for (i, p) in ready.iter().enumerate() {
            rows.push(row(
                p,
                i < settings.canary,
                Outcome::NotStarted,
                "dry run".into(),
                0.0,
            ));
        }
        return Ok(Report {
            rows,
            halted: false,
            dry_run,
        });
    }
    let targets = targets(s3, &listing.templates).await;
    let no_target = Err(LaunchError::State("no published version".into()));
    let concurrency = settings.concurrency.max(1);
    let mut failures = 0;
    let mut halted = false;
    let (canaries, rest) = ready.split_at(settings.canary.min(ready.len()));
    for (wave, is_canary) in [(canaries, true), (rest, false)] {
        let mut queue = wave.iter();
        let mut running = FuturesUnordered::new();
        loop {
            while !halted && running.len() < concurrency {
                let Some(p) = queue.next() else { break };
                let base = p.template_url.as_deref().map(unpinned).unwrap_or_default();
                let target = targets.get(base).unwrap_or(&no_target);
                running.push(upgrade_one(
                    sm,
                    p,
                    &listing.templates,
                    target,
                    settings.follow,
                    is_canary,
                    on_event,
                ));
            }
            let Some(done) = running.next().await else {
                break;
            };
            if done.outcome.is_failure() {
                failures += 1;
                halted |= failures > settings.max_failures;
            }
            rows.push(done);
        }
        for p in queue {
            rows.push(row(
                p,
                is_canary,
                Outcome::NotStarted,
                "the upgrade stopped".into(),
                0.0,
            ));
        }
    }
    Ok(Report {
        rows,
        halted,
        dry_run,
    })
}
