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

/// Runs `start` on the canaries (the first `settings.canary` of `ready`), then on the rest: at most
/// `settings.concurrency` at once, starting none once more than `settings.max_failures` rows failed. Returns
/// each project with whether it was a canary and its row (None: not started), and whether it halted.
async fn in_waves<'a, P, F, Fut>(
    ready: &'a [P],
    settings: &Settings,
    mut start: F,
) -> (Vec<(&'a P, bool, Option<Row>)>, bool)
where
    F: FnMut(&'a P, bool) -> Fut,
    Fut: std::future::Future<Output = Row>,
{
    let concurrency = settings.concurrency.max(1);
    let mut failures = 0;
    let mut halted = false;
    let mut out = Vec::new();
    let (canaries, rest) = ready.split_at(settings.canary.min(ready.len()));
    for (wave, is_canary) in [(canaries, true), (rest, false)] {
        let mut queue = wave.iter();
        let mut running = FuturesUnordered::new();
        loop {
            while !halted && running.len() < concurrency {
                let Some(p) = queue.next() else { break };
                let fut = start(p, is_canary);
                running.push(async move { (p, fut.await) });
            }
            let Some((p, done)) = running.next().await else {
                break;
            };
            if done.outcome.is_failure() {
                failures += 1;
                halted |= failures > settings.max_failures;
            }
            out.push((p, is_canary, Some(done)));
        }
        out.extend(queue.map(|p| (p, is_canary, None)));
    }
    (out, halted)
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
    let (done, halted) = in_waves(&ready, settings, |p: &&FleetProject, is_canary| {
        let base = p.template_url.as_deref().map(unpinned).unwrap_or_default();
        let target = targets.get(base).unwrap_or(&no_target);
        upgrade_one(
            sm,
            p,
            &listing.templates,
            target,
            settings.follow,
            is_canary,
            on_event,
        )
    })
    .await;
    for (p, is_canary, finished) in done {
        rows.push(finished.unwrap_or_else(|| {
            row(
                p,
                is_canary,
                Outcome::NotStarted,
                "the upgrade stopped".into(),
                0.0,
            )
        }));
    }
    Ok(Report {
        rows,
        halted,
        dry_run,
    })
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use super::*;

    fn settings(canary: usize, max_failures: usize, concurrency: usize) -> Settings {
        Settings {
            filter: Filter::default(),
            canary,
            max_failures,
            concurrency,
            follow: FollowSettings::default(),
        }
    }

    fn finished(name: &str, outcome: Outcome) -> Row {
        Row {
            project: name.to_owned(),
            template: "t".into(),
            from: "a".into(),
            to: "b".into(),
            canary: false,
            outcome,
            detail: String::new(),
            seconds: 0.0,
        }
    }

    /// Runs the waves over `names`, a project failing when its name starts with `fail`; what was started, in
    /// order, and each project's fate (`-`: not started).
    async fn run(names: &[&str], s: &Settings) -> (Vec<String>, Vec<String>, bool) {
        let started = std::sync::Mutex::new(Vec::new());
        let (rows, halted) = in_waves(names, s, |p: &&str, canary| {
            started
                .lock()
                .unwrap()
                .push(format!("{p}{}", if canary { "*" } else { "" }));
            let outcome = if p.starts_with("fail") {
                Outcome::Failed
            } else {
                Outcome::Upgraded
            };
            let name = (*p).to_owned();
            async move { finished(&name, outcome) }
        })
        .await;
        let fates = rows
            .into_iter()
            .map(|(p, _, r)| {
                format!(
                    "{p}:{}",
                    r.map_or("-".into(), |r| format!("{:?}", r.outcome))
                )
            })
            .collect();
        (started.into_inner().unwrap(), fates, halted)
    }

    #[tokio::test]
    async fn canaries_go_first_and_the_rest_follow_when_they_succeed() {
        let (started, _, halted) = run(&["a", "b", "c", "d"], &settings(2, 0, 1)).await;
        assert_eq!(started, ["a*", "b*", "c", "d"]);
        assert!(!halted);
    }

    #[tokio::test]
    async fn a_failed_canary_beyond_the_tolerance_stops_the_rest_from_starting() {
        let (started, fates, halted) = run(&["fail-a", "b", "c"], &settings(1, 0, 4)).await;
        assert_eq!(started, ["fail-a*"]);
        assert_eq!(fates, ["fail-a:Failed", "b:-", "c:-"]);
        assert!(halted);
    }

    #[tokio::test]
    async fn failures_within_the_tolerance_go_on() {
        let (started, _, halted) = run(&["fail-a", "b", "fail-c", "d"], &settings(1, 1, 1)).await;
        // the second failure is one too many: d never starts
        assert_eq!(started, ["fail-a*", "b", "fail-c"]);
        assert!(halted);
        let (_, _, halted) = run(&["fail-a", "b", "fail-c", "d"], &settings(1, 2, 1)).await;
        assert!(!halted);
    }

    #[tokio::test]
    async fn never_more_than_the_concurrency_at_once() {
        let (now, most) = (AtomicUsize::new(0), AtomicUsize::new(0));
        let names: Vec<String> = (0..12).map(|i| format!("p{i}")).collect();
        let (rows, _) = in_waves(&names, &settings(1, 0, 3), |_, _| {
            let running = now.fetch_add(1, Ordering::SeqCst) + 1;
            most.fetch_max(running, Ordering::SeqCst);
            let now = &now;
            async move {
                tokio::time::sleep(Duration::from_millis(5)).await;
                now.fetch_sub(1, Ordering::SeqCst);
                finished("p", Outcome::Upgraded)
            }
        })
        .await;
        assert_eq!(rows.len(), 12);
        assert!(rows.iter().all(|(_, _, r)| r.is_some()));
        assert_eq!(most.load(Ordering::SeqCst), 3);
    }

    #[test]
    fn only_settled_projects_are_upgradable() {
        for status in ["CreateCompleted", "UpdateCompleted", "UpdateFailed"] {
            assert!(upgradable(status), "{status}");
        }
        for status in [
            "CreateFailed",
            "UpdateInProgress",
            "Pending",
            "DeleteInProgress",
        ] {
            assert!(!upgradable(status), "{status}");
        }
    }
}
