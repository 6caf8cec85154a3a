//! What CodeBuild says of a build that failed: the phase, and its contexts in one line. Read by the seed-code
//! resource (which fails with them) and by `projects status` (which explains a failed project with them).

use aws_sdk_codebuild::types::{Build, BuildPhase, StatusType};

/// The first phase of a build that neither succeeded nor runs still.
pub fn failing_phase(build: &Build) -> Option<&BuildPhase> {
    build.phases().iter().find(|p| {
        p.phase_status()
            .is_some_and(|s| *s != StatusType::Succeeded && *s != StatusType::InProgress)
    })
}

/// What CodeBuild says of a phase: its contexts as `CODE: message`, joined; `None` when it says nothing.
pub fn phase_context(phase: &BuildPhase) -> Option<String> {
    let said = phase
        .contexts()
        .iter()
        .map(|c| match (c.status_code(), c.message()) {
            (Some(code), Some(m)) if !m.is_empty() => format!("{code}: {m}"),
            (code, m) => code.or(m).unwrap_or_default().to_owned(),
        })
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join("; ");
    (!said.is_empty()).then_some(said)
}
