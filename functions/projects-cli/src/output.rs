//! What the command prints: results on stdout (text, or exactly one JSON document), progress, notes and errors
//! on stderr. Progress animates only on a terminal; elsewhere it is one line per status change.

use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use projects_core::doctor::{Report as DoctorReport, State as CheckState};
use projects_core::projects::explain::Explanation;
use projects_core::projects::update::{ResourceDiff, UpdatePlan};
use projects_core::projects::upgrade::{self, Event, Outcome, Report};
use projects_core::projects::version::short;
use projects_core::projects::{
    format_elapsed, Catalog, Created, FollowOutcome, Goal, LaunchError, Listing, Progress,
    ProjectView, Settled, TemplateSpec,
};
use serde_json::{json, Value};

use crate::exit::ExitStatus;
use tokio::time::Instant;

/// Writes to stdout. A closed pipe (`projects list | head -1`) ends the program quietly with success, as
/// ripgrep does, instead of `print!`'s panic (exit 101); any other failure to write is an error (exit 74).
pub fn write_stdout(args: std::fmt::Arguments<'_>) {
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = stdout.write_fmt(args).and_then(|()| stdout.flush()) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("error: writing to stdout: {e}");
        std::process::exit(74);
    }
}

macro_rules! out {
    ($($arg:tt)*) => { $crate::output::write_stdout(format_args!($($arg)*)) };
}

macro_rules! outln {
    ($($arg:tt)*) => { $crate::output::write_stdout(format_args!("{}\n", format_args!($($arg)*))) };
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
}

pub struct Printer {
    format: Format,
}

impl Printer {
    pub fn new(format: Format) -> Self {
        Self { format }
    }

    fn json(&self, doc: &Value) {
        let mut out = std::io::stdout().lock();
        // a closed pipe is the reader's choice; nothing to report then
        let _ = serde_json::to_writer_pretty(&mut out, doc);
        let _ = writeln!(out);
    }

    /// A one-line error on stderr (and, for scripts, the same as a JSON document on stdout).
    pub fn error(&self, e: &LaunchError) {
        eprintln!("error: {e}");
        if self.format == Format::Json {
            let mut error =
                json!({ "message": e.to_string(), "exit_code": ExitStatus::of_error(e).code() });
            if let Some(call) = e.call() {
                error["operation"] = json!(call.operation);
                error["code"] = json!(call.code);
                error["retryable"] = json!(call.retryable);
            }
            self.json(&json!({ "error": error }));
        }
    }

    /// A line for the person watching (stderr).
    pub fn note(&self, line: &str) {
        eprintln!("{line}");
    }

    pub fn templates(&self, catalog: &Catalog, specs: &[Result<TemplateSpec, LaunchError>]) {
        if self.format == Format::Json {
            let templates: Vec<Value> = catalog
                .templates
                .iter()
                .zip(specs)
                .map(|(t, spec)| match spec {
                    Ok(spec) => json!(spec),
                    Err(e) => json!({ "name": t.name, "url": t.url, "error": e.to_string() }),
                })
                .collect();
            self.json(&json!({
                "source": catalog.source,
                "launch_role_arn": catalog.launch_role_arn,
                "templates_location": catalog.templates_location,
                "templates": templates,
            }));
            for (t, spec) in catalog.templates.iter().zip(specs) {
                if let Err(e) = spec {
                    eprintln!("error: template {}: {e}", t.name);
                }
            }
            return;
        }
        let mut out = String::new();
        out.push_str(&format!("Templates from {}\n", catalog.source));
        out.push_str(&format!(
            "Launch role: {}\n",
            catalog
                .launch_role_arn
                .as_deref()
                .unwrap_or("(none: pass --launch-role to create)")
        ));
        if let Some(location) = &catalog.templates_location {
            out.push_str(&format!("Location:    {location}\n"));
        }
        for (t, spec) in catalog.templates.iter().zip(specs) {
            out.push_str(&format!("\n{}\n  url:      {}\n", t.name, t.url));
            let spec = match spec {
                Ok(spec) => spec,
                Err(e) => {
                    out.push_str(&format!("  error:    {e}\n"));
                    continue;
                }
            };
            let required: Vec<_> = spec.required().collect();
            let optional: Vec<_> = spec.optional().collect();
            let label = |p: &projects_core::projects::ParameterSpec| match &p.default {
                Some(d) => format!("{}={d}", p.name),
                None => p.name.clone(),
            };
            let width = spec
                .parameters
                .iter()
                .map(|p| label(p).len())
                .max()
                .unwrap_or(0);
            for (title, list) in [("required", &required), ("optional", &optional)] {
                if list.is_empty() {
                    continue;
                }
                out.push_str(&format!("  {title}:\n"));
                for p in list.iter() {
                    let mut about = p.description.clone().unwrap_or_default();
                    if !p.allowed_values.is_empty() {
                        about.push_str(&format!(" (one of: {})", p.allowed_values.join(", ")));
                    }
                    let line = format!("    {:width$}  {}", label(p), about.trim());
                    out.push_str(line.trim_end());
                    out.push('\n');
                }
            }
            let example: Vec<String> = required
                .iter()
                .map(|p| format!(" -p {}=…", p.name))
                .collect();
            out.push_str(&format!(
                "  create:   projects create NAME -t {}{}\n",
                t.name,
                example.concat()
            ));
        }
        out!("{out}");
        for (t, spec) in catalog.templates.iter().zip(specs) {
            if let Err(e) = spec {
                eprintln!("error: template {}: {e}", t.name);
            }
        }
    }

    /// A project; a failed one with why: the cause and the action first, the evidence after the project.
    pub fn status(&self, project: &ProjectView, why: Option<&Explanation>) {
        if self.format == Format::Json {
            let mut doc = json!(project);
            if let Some(why) = why {
                doc["explanation"] = json!(why);
            }
            self.json(&doc);
            return;
        }
        match why {
            Some(why) => out!(
                "{}\n{}{}",
                why.headline,
                status_text(project),
                evidence_text(why)
            ),
            None => out!("{}", status_text(project)),
        }
    }

    /// `projects list --failed`: each failed project with the first line of its explanation.
    pub fn failed_list(&self, listing: &Listing, explained: &[(String, Option<Explanation>)]) {
        let why_of = |name: &str| {
            explained
                .iter()
                .find(|(n, _)| n == name)
                .and_then(|(_, w)| w.as_ref())
        };
        if self.format == Format::Json {
            let projects: Vec<Value> = listing
                .projects
                .iter()
                .map(|p| json!({"name": p.name, "status": p.status, "template": p.template, "explanation": why_of(&p.name)}))
                .collect();
            self.json(&json!({ "projects": projects }));
            return;
        }
        if listing.projects.is_empty() {
            outln!("no failed projects");
            return;
        }
        for p in &listing.projects {
            let why = why_of(&p.name).map_or("(no explanation: the project is gone)", |w| {
                w.headline.as_str()
            });
            outln!("{}  {}  {}", p.name, p.status, why);
        }
    }

    /// `--no-wait`: SageMaker accepted the request.
    pub fn started(&self, name: &str, created: Option<&Created>) {
        let action = if created.is_some() {
            "create"
        } else {
            "delete"
        };
        if self.format == Format::Json {
            self.json(&json!({
                "name": name,
                "action": action,
                "outcome": "Started",
                "arn": created.map(|c| &c.arn),
                "id": created.map(|c| &c.id),
                "elapsed_seconds": Value::Null,
                "project": Value::Null,
            }));
            return;
        }
        match created {
            Some(c) => outln!(
                "Project {name} accepted (id {}, arn {}).\nFollow it with: projects status {name}",
                c.id,
                c.arn
            ),
            None => outln!(
                "Deletion of project {name} accepted.\nFollow it with: projects status {name}"
            ),
        }
    }

    /// The end of a follow.
    /// The end of a follow; a failed project with its explanation (the cause and the action, not the stack's
    /// summary).
    pub fn settled(&self, name: &str, goal: Goal, settled: &Settled, why: Option<&Explanation>) {
        let project = settled.project.as_ref();
        let status = project.map_or("(no such project)", |p| p.status.as_str());
        let took = format_elapsed(settled.elapsed);
        let problem = match settled.outcome {
            FollowOutcome::Completed => None,
            FollowOutcome::Failed => {
                let why = why.map(|w| w.headline.as_str()).unwrap_or_else(|| {
                    project
                        .and_then(|p| p.stack_status_message.as_deref())
                        .unwrap_or("SageMaker gave no stack status message")
                });
                let hint = match goal {
                    Goal::Created => {
                        format!(" (the project stays until deleted: projects delete {name})")
                    }
                    Goal::Updated | Goal::Deleted => String::new(),
                };
                Some(format!("project {name} is {status}: {why}{hint}"))
            }
            FollowOutcome::TimedOut => Some(format!(
                "project {name} is still {status} after {took}; it carries on: follow it with \
                 `projects status {name}`"
            )),
            FollowOutcome::Vanished => Some(format!(
                "SageMaker accepted project {name} but does not find it after {took}"
            )),
        };
        if self.format == Format::Json {
            self.json(&json!({
                "name": name,
                "action": match goal {
                    Goal::Created => "create",
                    Goal::Updated => "update",
                    Goal::Deleted => "delete",
                },
                "outcome": settled.outcome,
                "arn": project.and_then(|p| p.arn.as_ref()),
                "id": project.and_then(|p| p.id.as_ref()),
                "elapsed_seconds": (settled.elapsed.as_secs_f64() * 10.0).round() / 10.0,
                "project": project,
                "explanation": why,
            }));
        } else {
            match (goal, settled.outcome) {
                (Goal::Created | Goal::Updated, FollowOutcome::Completed) => {
                    outln!("Project {name} is {status} ({took}).");
                }
                (Goal::Deleted, FollowOutcome::Completed) => {
                    outln!("Project {name} is deleted ({took}).")
                }
                _ => {}
            }
            if let (Some(p), Goal::Created | Goal::Updated) = (project, goal) {
                out!("{}", status_text(p));
            }
        }
        if let Some(problem) = problem {
            // still running is no error: it carries on
            let prefix = if settled.outcome == FollowOutcome::TimedOut {
                ""
            } else {
                "error: "
            };
            eprintln!("{prefix}{problem}");
        }
    }

    /// `update --dry-run`: the versions, the parameter changes and the resources by logical id.
    pub fn update_plan(&self, plan: &UpdatePlan, diff: &ResourceDiff) {
        if self.format == Format::Json {
            self.json(&json!({ "dry_run": true, "plan": plan, "resources": diff }));
            return;
        }
        let mut out = format!(
            "Project {}: template {} {} -> {}\nURL: {}\n",
            plan.project,
            plan.template,
            plan.from_short(),
            plan.to_short(),
            plan.template_url
        );
        out.push_str("Parameters:\n");
        if plan.parameter_changes.is_empty() {
            out.push_str("  (unchanged)\n");
        }
        for c in &plan.parameter_changes {
            let shown =
                |v: &Option<String>, none: &str| v.clone().unwrap_or_else(|| none.to_owned());
            out.push_str(&format!(
                "  {}: {} -> {}\n",
                c.name,
                shown(&c.from, "(not set)"),
                shown(&c.to, "(removed)")
            ));
        }
        out.push_str("Resources:\n");
        if diff.added.is_empty() && diff.removed.is_empty() && diff.modified.is_empty() {
            out.push_str("  (unchanged)\n");
        }
        for (mark, ids) in [
            ("+", &diff.added),
            ("-", &diff.removed),
            ("~", &diff.modified),
        ] {
            for id in ids {
                out.push_str(&format!("  {mark} {id}\n"));
            }
        }
        out!("{out}");
        eprintln!("dry run: nothing was changed");
    }

    /// `update` with nothing to change.
    pub fn update_noop(&self, plan: &UpdatePlan) {
        let line = format!(
            "Project {} already runs template {} {} with these parameters: nothing to update.",
            plan.project,
            plan.template,
            plan.to_short()
        );
        if self.format == Format::Json {
            self.json(&json!({ "name": plan.project, "action": "update", "outcome": "Unchanged", "plan": plan }));
            eprintln!("{line}");
        } else {
            outln!("{line}");
        }
    }

    /// `update --no-wait`: SageMaker accepted the update.
    pub fn started_update(&self, plan: &UpdatePlan) {
        if self.format == Format::Json {
            self.json(&json!({ "name": plan.project, "action": "update", "outcome": "Started", "plan": plan }));
        } else {
            outln!(
                "Update of project {} accepted.\nFollow it with: projects status {}",
                plan.project,
                plan.project
            );
        }
    }

    /// `projects upgrade`: the table, then a summary on stderr.
    pub fn upgrade(&self, report: &Report, settings: &upgrade::Settings) {
        let count = |o: Outcome| report.rows.iter().filter(|r| r.outcome == o).count();
        let mut summary = format!(
            "{} upgraded, {} failed, {} refused, {} timed out, {} not started, {} skipped",
            count(Outcome::Upgraded),
            count(Outcome::Failed),
            count(Outcome::Refused),
            count(Outcome::TimedOut),
            count(Outcome::NotStarted),
            count(Outcome::Skipped)
        );
        if report.dry_run {
            summary = format!(
                "dry run: {} outdated projects would be upgraded ({} canaries first); nothing was changed",
                count(Outcome::NotStarted),
                report.rows.iter().filter(|r| r.canary && r.outcome == Outcome::NotStarted).count()
            );
        } else if report.halted {
            summary.push_str(&format!(
                "; stopped after {} failures (--max-failures {}): run it again to continue",
                report.failures(),
                settings.max_failures
            ));
        }
        if self.format == Format::Json {
            self.json(&json!(report));
            eprintln!("{summary}");
            return;
        }
        let rows: Vec<[String; 6]> = report
            .rows
            .iter()
            .map(|r| {
                let name = if r.canary {
                    format!("{} (canary)", r.project)
                } else {
                    r.project.clone()
                };
                [
                    name,
                    r.template.clone(),
                    format!("{} -> {}", r.from, r.to),
                    format!("{:?}", r.outcome),
                    format_elapsed(Duration::from_secs_f64(r.seconds)),
                    r.detail.clone(),
                ]
            })
            .collect();
        out!(
            "{}",
            table(
                [
                    "PROJECT",
                    "TEMPLATE",
                    "FROM -> TO",
                    "OUTCOME",
                    "TIME",
                    "DETAIL"
                ],
                &rows
            )
        );
        eprintln!("{summary}");
    }

    /// `projects doctor`: one line per check, OK / FAIL (with what to do) / FIXED.
    pub fn doctor(&self, report: &DoctorReport) {
        if self.format == Format::Json {
            self.json(&json!({ "passed": report.passed(), "checks": report.checks }));
            return;
        }
        let mut out = String::new();
        for c in &report.checks {
            let state = match c.state {
                CheckState::Ok => "OK",
                CheckState::Failed => "FAIL",
                CheckState::Fixed => "FIXED",
            };
            out.push_str(&format!("{state:<6} {}: {}\n", c.what, c.detail));
            if let Some(fix) = &c.fix {
                out.push_str(&format!("       fix: {fix}\n"));
            }
        }
        out!("{out}");
        let failed = report
            .checks
            .iter()
            .filter(|c| c.state == CheckState::Failed)
            .count();
        if failed > 0 {
            eprintln!("{failed} of {} checks failed", report.checks.len());
        }
    }

    /// `projects list`: one row per project, then a count (and the requests it took) on stderr.
    pub fn list(&self, listing: &Listing) {
        let outdated = listing
            .projects
            .iter()
            .filter(|p| p.outdated == Some(true))
            .count();
        let mut summary = format!(
            "{} {}, {outdated} outdated ({} Search + {} ListObjectVersions",
            listing.projects.len(),
            if listing.projects.len() == 1 {
                "project"
            } else {
                "projects"
            },
            listing.requests.search,
            listing.requests.list_object_versions
        );
        if listing.requests.get_object > 0 {
            summary.push_str(&format!(" + {} GetObject", listing.requests.get_object));
        }
        summary.push_str(" requests)");
        // a template that could not be read: its projects' versions are unknown; said once per template
        let mut unreadable: Vec<(&str, &str)> = listing
            .projects
            .iter()
            .filter_map(|p| {
                Some((
                    p.template.as_deref().unwrap_or("?"),
                    p.template_error.as_deref()?,
                ))
            })
            .collect();
        // the projects come by name: sorted first, so each template is said once
        unreadable.sort_unstable();
        unreadable.dedup();
        if self.format == Format::Json {
            self.json(&json!(listing));
            for (template, error) in &unreadable {
                eprintln!("warning: template {template}: {error}");
            }
            eprintln!("{summary}");
            return;
        }
        let dash = |s: Option<&str>| s.unwrap_or("-").to_owned();
        let rows: Vec<[String; 7]> = listing
            .projects
            .iter()
            .map(|p| {
                [
                    p.name.clone(),
                    dash(p.template.as_deref()),
                    p.version().to_owned(),
                    match p.outdated {
                        Some(false) => "yes".to_owned(),
                        Some(true) => {
                            format!("no ({})", p.current_digest.as_deref().map_or("?", short))
                        }
                        None if p.template_error.is_some() => "unreadable".to_owned(),
                        None => "?".to_owned(),
                    },
                    p.status.clone(),
                    dash(p.domain.as_deref()),
                    dash(p.created_by.as_deref()),
                ]
            })
            .collect();
        out!("{}", table(LIST_HEADER, &rows));
        for (template, error) in &unreadable {
            eprintln!("warning: template {template}: {error}");
        }
        eprintln!("{summary}");
    }

    pub fn progress(&self, name: &str) -> ProgressDisplay {
        ProgressDisplay::new(name, std::io::stderr().is_terminal())
    }
}

/// What an upgrade in progress shows on stderr: one line per start, status change and end.
pub fn upgrade_event(event: Event<'_>) {
    match event {
        Event::Started(name) => eprintln!("{name}: updating"),
        Event::Progress(name, p) if p.changed => eprintln!(
            "[{:>6}] {name}: {}",
            format_elapsed(p.elapsed),
            p.status.unwrap_or("(no such project)")
        ),
        Event::Progress(..) => {}
        Event::Finished(row) => eprintln!("{}: {:?} ({})", row.project, row.outcome, row.detail),
    }
}

const LIST_HEADER: [&str; 7] = [
    "PROJECT",
    "TEMPLATE",
    "VERSION",
    "CURRENT",
    "STATUS",
    "DOMAIN",
    "CREATED BY",
];

/// Columns padded to their widest cell, two spaces apart; no trailing spaces.
fn table<const N: usize>(header: [&str; N], rows: &[[String; N]]) -> String {
    let mut widths = header.map(|h| h.chars().count());
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        format!("{}\n", padded.join("  ").trim_end())
    };
    let mut out = line(header.to_vec());
    for row in rows {
        out.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    out
}

/// The evidence under an explanation: the failed resource, the build, its log's last lines.
fn evidence_text(why: &Explanation) -> String {
    let mut out = String::new();
    if let Some(r) = &why.resource {
        out.push_str(&format!(
            "{:<14}{} ({}) {}: {}\n",
            "Failed", r.logical_id, r.resource_type, r.status, r.reason
        ));
    }
    if let Some(b) = &why.build {
        let phase = b
            .phase
            .as_deref()
            .map(|p| format!(" in phase {p}"))
            .unwrap_or_default();
        out.push_str(&format!("{:<14}{} {}{phase}\n", "Build", b.id, b.status));
        if let Some(c) = &b.context {
            out.push_str(&format!("{:<14}{c}\n", ""));
        }
        for (i, line) in b.log.iter().enumerate() {
            out.push_str(&format!(
                "{:<14}{line}\n",
                if i == 0 { "Build log" } else { "" }
            ));
        }
    }
    out
}

fn status_text(p: &ProjectView) -> String {
    let mut rows: Vec<(&str, String)> = Vec::new();
    let id =
        p.id.as_deref()
            .map(|id| format!(" ({id})"))
            .unwrap_or_default();
    rows.push(("Project", format!("{}{id}", p.name)));
    rows.push(("Status", p.status.clone()));
    if let Some(d) = &p.description {
        rows.push(("Description", d.clone()));
    }
    if let Some(t) = &p.template_name {
        rows.push(("Template", t.clone()));
    }
    if let Some(u) = &p.template_url {
        rows.push(("URL", u.clone()));
    }
    if let Some(r) = &p.role_arn {
        rows.push(("Launch role", r.clone()));
    }
    for (i, (k, v)) in p.parameters.iter().enumerate() {
        rows.push((if i == 0 { "Parameters" } else { "" }, format!("{k}={v}")));
    }
    if let Some(s) = &p.stack_name {
        rows.push(("Stack", s.clone()));
    }
    if let Some(m) = &p.stack_status_message {
        rows.push(("Stack status", m.clone()));
    }
    if let Some(c) = &p.created {
        rows.push(("Created", c.clone()));
    }
    if let Some(a) = &p.arn {
        rows.push(("ARN", a.clone()));
    }
    rows.iter().map(|(k, v)| format!("{k:<14}{v}\n")).collect()
}

// -------------------------------------------------------------------------------------------------------------
// Progress

const FRAMES: [char; 10] = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
const TICK: Duration = Duration::from_millis(125);

struct State {
    name: String,
    status: Option<String>,
    /// elapsed at the last observation, and when that was
    elapsed: Duration,
    observed_at: Instant,
    frame: usize,
    observed: bool,
    line_drawn: bool,
}

impl State {
    fn status(&self) -> &str {
        self.status.as_deref().unwrap_or("(no such project)")
    }

    fn draw(&mut self) {
        let elapsed = self.elapsed + self.observed_at.elapsed();
        self.frame = (self.frame + 1) % FRAMES.len();
        eprint!(
            "\r\x1b[2K{} {}: {}  {}",
            FRAMES[self.frame],
            self.name,
            self.status(),
            format_elapsed(elapsed)
        );
        let _ = std::io::stderr().flush();
        self.line_drawn = true;
    }

    fn clear(&mut self) {
        if self.line_drawn {
            eprint!("\r\x1b[2K");
            let _ = std::io::stderr().flush();
            self.line_drawn = false;
        }
    }
}

/// Status changes with elapsed time. On a terminal: a spinner line that ticks between polls, and one
/// permanent line per status; elsewhere (a log, a pipe): one line per status change, nothing else.
pub struct ProgressDisplay {
    state: Arc<Mutex<State>>,
    tty: bool,
    ticker: Option<tokio::task::JoinHandle<()>>,
}

impl ProgressDisplay {
    fn new(name: &str, tty: bool) -> Self {
        let state = Arc::new(Mutex::new(State {
            name: name.to_owned(),
            status: None,
            elapsed: Duration::ZERO,
            observed_at: Instant::now(),
            frame: 0,
            observed: false,
            line_drawn: false,
        }));
        let ticker = tty.then(|| {
            let state = Arc::clone(&state);
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(TICK);
                loop {
                    tick.tick().await;
                    let mut s = state.lock().unwrap_or_else(PoisonError::into_inner);
                    if s.observed {
                        s.draw();
                    }
                }
            })
        });
        Self { state, tty, ticker }
    }

    pub fn observe(&mut self, p: &Progress<'_>) {
        let mut s = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        s.status = p.status.map(str::to_owned);
        s.elapsed = p.elapsed;
        s.observed_at = Instant::now();
        s.observed = true;
        if p.changed {
            s.clear();
            eprintln!(
                "[{:>6}] {}: {}",
                format_elapsed(p.elapsed),
                s.name,
                s.status()
            );
        }
        if self.tty {
            s.draw();
        }
    }

    pub fn finish(&mut self) {
        if let Some(t) = self.ticker.take() {
            t.abort();
        }
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }
}

impl Drop for ProgressDisplay {
    fn drop(&mut self) {
        self.finish();
    }
}
