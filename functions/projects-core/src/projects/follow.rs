//! Following a project until it settles.

use std::time::Duration;

use serde::Serialize;
use tokio::time::Instant;

use super::error::LaunchError;
use super::launch::{describe_project, ProjectView};

/// What the caller waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Goal {
    Created,
    Updated,
    Deleted,
}

/// How a status reads for a goal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Reached,
    Failed,
    Waiting,
}

/// `status` is None when DescribeProject finds no project.
pub fn verdict(goal: Goal, status: Option<&str>) -> Verdict {
    match (goal, status) {
        (Goal::Created, Some("CreateCompleted" | "UpdateCompleted")) => Verdict::Reached,
        (
            Goal::Created,
            Some(
                "CreateFailed" | "UpdateFailed" | "DeleteInProgress" | "DeleteCompleted"
                | "DeleteFailed",
            ),
        ) => Verdict::Failed,
        (Goal::Updated, Some("UpdateCompleted")) => Verdict::Reached,
        (
            Goal::Updated,
            None
            | Some(
                "UpdateFailed" | "CreateFailed" | "DeleteInProgress" | "DeleteCompleted"
                | "DeleteFailed",
            ),
        ) => Verdict::Failed,
        (Goal::Deleted, None | Some("DeleteCompleted")) => Verdict::Reached,
        (Goal::Deleted, Some("DeleteFailed")) => Verdict::Failed,
        _ => Verdict::Waiting,
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FollowSettings {
    /// Time between two DescribeProject calls.
    pub interval: Duration,
    /// Give up (the project goes on) after this long.
    pub timeout: Duration,
    /// A project just created may not be visible yet: how long "no such project" still means "wait".
    pub appear_grace: Duration,
}

impl Default for FollowSettings {
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(5),
            timeout: Duration::from_secs(3600),
            appear_grace: Duration::from_secs(60),
        }
    }
}

/// One observation, for a progress display.
#[derive(Debug)]
pub struct Progress<'a> {
    /// None: DescribeProject finds no project.
    pub status: Option<&'a str>,
    /// Whether the status differs from the previous observation (always true for the first).
    pub changed: bool,
    pub elapsed: Duration,
    pub project: Option<&'a ProjectView>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum FollowOutcome {
    /// The goal was reached: the project is created (or deleted).
    Completed,
    /// The project settled in a failed status (its stack's StatusMessage says why).
    Failed,
    /// Still in progress when the timeout came; the project goes on.
    TimedOut,
    /// A project being created could not be found after the grace period.
    Vanished,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settled {
    pub outcome: FollowOutcome,
    /// The last view; None when the project is gone.
    pub project: Option<ProjectView>,
    pub elapsed: Duration,
}

/// Polls DescribeProject every `settings.interval` until the project settles for `goal`, reporting each
/// observation to `observe`.
pub async fn follow(
    sm: &aws_sdk_sagemaker::Client,
    name: &str,
    goal: Goal,
    settings: FollowSettings,
    observe: impl FnMut(&Progress<'_>),
) -> Result<Settled, LaunchError> {
    follow_from(sm, name, goal, None, settings, observe).await
}

/// How the project read just before a change was requested.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Before {
    pub status: String,
    pub last_modified: Option<String>,
}

impl Before {
    pub fn of(project: &ProjectView) -> Self {
        Self {
            status: project.status.clone(),
            last_modified: project.last_modified.clone(),
        }
    }

    /// The project shows no sign of the change yet: the same status and the same LastModifiedTime.
    fn unchanged(&self, project: Option<&ProjectView>) -> bool {
        project.is_some_and(|p| p.status == self.status && p.last_modified == self.last_modified)
    }
}

/// [`follow`] of a change requested while the project read `before`: until the grace period ends, a project
/// that shows no sign of it (same status, same LastModifiedTime) is waited for. A project still
/// `CreateCompleted` after that had nothing to change, so an update settles as completed.
pub async fn follow_from(
    sm: &aws_sdk_sagemaker::Client,
    name: &str,
    goal: Goal,
    before: Option<&Before>,
    settings: FollowSettings,
    mut observe: impl FnMut(&Progress<'_>),
) -> Result<Settled, LaunchError> {
    let started = Instant::now();
    let mut previous: Option<Option<String>> = None;
    let mut left_before = false;
    loop {
        let project = describe_project(sm, name).await?;
        let status = project.as_ref().map(|p| p.status.as_str());
        let elapsed = started.elapsed();
        let changed = previous.as_ref().map(Option::as_deref) != Some(status);
        observe(&Progress {
            status,
            changed,
            elapsed,
            project: project.as_ref(),
        });
        previous = Some(status.map(str::to_owned));
        // once the project has moved away from `before`, seeing its old status again is news
        left_before |= !before.is_some_and(|b| b.unchanged(project.as_ref()));
        let unchanged = !left_before;
        let verdict = match verdict(goal, status) {
            _ if unchanged && elapsed < settings.appear_grace => Verdict::Waiting,
            Verdict::Waiting if unchanged && status == Some("CreateCompleted") => Verdict::Reached,
            v => v,
        };
        let outcome = match verdict {
            Verdict::Reached => Some(FollowOutcome::Completed),
            Verdict::Failed => Some(FollowOutcome::Failed),
            Verdict::Waiting
                if goal == Goal::Created
                    && project.is_none()
                    && elapsed >= settings.appear_grace =>
            {
                Some(FollowOutcome::Vanished)
            }
            Verdict::Waiting if elapsed + settings.interval > settings.timeout => {
                Some(FollowOutcome::TimedOut)
            }
            Verdict::Waiting => None,
        };
        if let Some(outcome) = outcome {
            return Ok(Settled {
                outcome,
                project,
                elapsed,
            });
        }
        tokio::time::sleep(settings.interval).await;
    }
}

/// `1m05s`, `12s`, `1h02m`.
pub fn format_elapsed(d: Duration) -> String {
    let s = d.as_secs();
    match (s / 3600, (s % 3600) / 60, s % 60) {
        (0, 0, s) => format!("{s}s"),
        (0, m, s) => format!("{m}m{s:02}s"),
        (h, m, _) => format!("{h}h{m:02}m"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::projects::testing::*;
    use aws_sdk_sagemaker::types::ProjectStatus;
    use aws_smithy_mocks::{mock, mock_client, RuleMode};

    #[tokio::test(start_paused = true)]
    async fn following_a_creation_reports_each_change_and_ends_when_it_completes() {
        let polls = mock!(aws_sdk_sagemaker::Client::describe_project)
            .sequence()
            .output(|| described(ProjectStatus::Pending, "Stack not created"))
            .output(|| described(ProjectStatus::CreateInProgress, "CREATE_IN_PROGRESS"))
            .times(2)
            .output(|| described(ProjectStatus::CreateCompleted, "CREATE_COMPLETE"))
            .build();
        let sm = mock_client!(aws_sdk_sagemaker, RuleMode::Sequential, [&polls]);
        let mut seen = Vec::new();
        let settled = follow(&sm, "demo", Goal::Created, fast(), |p| {
            seen.push((p.status.map(str::to_owned), p.changed, p.elapsed.as_secs()));
        })
        .await
        .unwrap();
        assert_eq!(settled.outcome, FollowOutcome::Completed);
        assert_eq!(settled.elapsed, Duration::from_secs(6));
        let project = settled.project.unwrap();
        assert_eq!(project.status, "CreateCompleted");
        assert_eq!(project.stack_name.as_deref(), Some("SP-p-abcdefghijkl"));
        assert_eq!(project.parameters["A"], "1");
        let s = |x: &str| Some(x.to_owned());
        assert_eq!(
            seen,
            [
                (s("Pending"), true, 0),
                (s("CreateInProgress"), true, 2),
                (s("CreateInProgress"), false, 4),
                (s("CreateCompleted"), true, 6)
            ]
        );
        assert_eq!(polls.num_calls(), 4);
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_creation_settles_with_the_stacks_status_message() {
        let polls = mock!(aws_sdk_sagemaker::Client::describe_project)
            .sequence()
            .output(|| described(ProjectStatus::CreateInProgress, "CREATE_IN_PROGRESS"))
            .output(|| {
                described(
                    ProjectStatus::CreateFailed,
                    "ROLLBACK_COMPLETE: The following resource(s) failed to create: [Seed].",
                )
            })
            .build();
        let sm = mock_client!(aws_sdk_sagemaker, RuleMode::Sequential, [&polls]);
        let settled = follow(&sm, "demo", Goal::Created, fast(), |_| {})
            .await
            .unwrap();
        assert_eq!(settled.outcome, FollowOutcome::Failed);
        assert_eq!(
            settled.project.unwrap().stack_status_message.as_deref(),
            Some("ROLLBACK_COMPLETE: The following resource(s) failed to create: [Seed].")
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_project_that_does_not_settle_in_time_times_out_without_an_error() {
        let forever = mock!(aws_sdk_sagemaker::Client::describe_project)
            .then_output(|| described(ProjectStatus::CreateInProgress, "CREATE_IN_PROGRESS"));
        let sm = mock_client!(aws_sdk_sagemaker, RuleMode::MatchAny, [&forever]);
        let settled = follow(&sm, "demo", Goal::Created, fast(), |_| {})
            .await
            .unwrap();
        assert_eq!(settled.outcome, FollowOutcome::TimedOut);
        assert_eq!(settled.elapsed, Duration::from_secs(60));
        assert_eq!(forever.num_calls(), 31);
    }

    #[tokio::test(start_paused = true)]
    async fn a_created_project_not_yet_visible_is_waited_for_only_during_the_grace_period() {
        let (status, body) = json_error("ValidationException", "Project demo does not exist.");
        let missing = mock!(aws_sdk_sagemaker::Client::describe_project)
            .sequence()
            .http_status(status, body)
            .times(10)
            .build();
        let sm = mock_client!(aws_sdk_sagemaker, RuleMode::Sequential, [&missing]);
        let settled = follow(&sm, "demo", Goal::Created, fast(), |_| {})
            .await
            .unwrap();
        assert_eq!(settled.outcome, FollowOutcome::Vanished);
        assert_eq!(settled.elapsed, Duration::from_secs(10));
        assert_eq!(missing.num_calls(), 6);
    }

    #[tokio::test(start_paused = true)]
    async fn following_a_deletion_ends_when_the_project_is_gone() {
        let (status, body) = json_error("ValidationException", "Project demo does not exist.");
        let polls = mock!(aws_sdk_sagemaker::Client::describe_project)
            .sequence()
            .output(|| described(ProjectStatus::CreateCompleted, "CREATE_COMPLETE"))
            .output(|| described(ProjectStatus::DeleteInProgress, "DELETE_IN_PROGRESS"))
            .http_status(status, body)
            .build();
        let sm = mock_client!(aws_sdk_sagemaker, RuleMode::Sequential, [&polls]);
        let mut statuses = Vec::new();
        let settled = follow(&sm, "demo", Goal::Deleted, fast(), |p| {
            statuses.push(p.status.map(str::to_owned))
        })
        .await
        .unwrap();
        assert_eq!(
            (settled.outcome, settled.project),
            (FollowOutcome::Completed, None)
        );
        assert_eq!(
            statuses,
            [
                Some("CreateCompleted".into()),
                Some("DeleteInProgress".into()),
                None
            ]
        );
    }

    #[tokio::test]
    async fn other_describe_errors_stop_the_follow_with_the_error() {
        let (status, body) = json_error(
            "AccessDeniedException",
            "not authorized to perform sagemaker:DescribeProject",
        );
        let denied = mock!(aws_sdk_sagemaker::Client::describe_project)
            .sequence()
            .http_status(status, body)
            .build();
        let sm = mock_client!(aws_sdk_sagemaker, [&denied]);
        let e = follow(&sm, "demo", Goal::Created, fast(), |_| {})
            .await
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "DescribeProject: AccessDeniedException: not authorized to perform sagemaker:DescribeProject"
        );
    }

    #[test]
    fn verdicts_for_each_goal() {
        use Verdict::*;
        let cases = [
            (Goal::Created, Some("Pending"), Waiting),
            (Goal::Created, Some("CreateInProgress"), Waiting),
            (Goal::Created, Some("CreateCompleted"), Reached),
            (Goal::Created, Some("CreateFailed"), Failed),
            (Goal::Created, Some("DeleteInProgress"), Failed),
            (Goal::Created, None, Waiting),
            (Goal::Deleted, Some("CreateCompleted"), Waiting),
            (Goal::Deleted, Some("DeleteInProgress"), Waiting),
            (Goal::Deleted, Some("DeleteCompleted"), Reached),
            (Goal::Deleted, None, Reached),
            (Goal::Deleted, Some("DeleteFailed"), Failed),
            (Goal::Updated, Some("CreateCompleted"), Waiting),
            (Goal::Updated, Some("UpdateInProgress"), Waiting),
            (Goal::Updated, Some("UpdateCompleted"), Reached),
            (Goal::Updated, Some("UpdateFailed"), Failed),
            (Goal::Updated, None, Failed),
        ];
        for (goal, status, expected) in cases {
            assert_eq!(verdict(goal, status), expected, "{goal:?} {status:?}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn an_update_waits_past_the_status_it_started_from_during_the_grace_period() {
        let polls = mock!(aws_sdk_sagemaker::Client::describe_project)
            .sequence()
            .output(|| {
                described(
                    ProjectStatus::UpdateFailed,
                    "UPDATE_ROLLBACK_COMPLETE: before",
                )
            })
            .output(|| described(ProjectStatus::UpdateInProgress, "UPDATE_IN_PROGRESS"))
            .output(|| described(ProjectStatus::UpdateFailed, "UPDATE_ROLLBACK_COMPLETE: now"))
            .build();
        let sm = mock_client!(aws_sdk_sagemaker, RuleMode::Sequential, [&polls]);
        let settled = follow_from(
            &sm,
            "demo",
            Goal::Updated,
            Some(&Before {
                status: "UpdateFailed".into(),
                last_modified: None,
            }),
            fast(),
            |_| {},
        )
        .await
        .unwrap();
        assert_eq!(settled.outcome, FollowOutcome::Failed);
        assert_eq!(settled.elapsed, Duration::from_secs(4));
        // nothing to change: still CreateCompleted after the grace period
        let same = mock!(aws_sdk_sagemaker::Client::describe_project)
            .then_output(|| described(ProjectStatus::CreateCompleted, "CREATE_COMPLETE"));
        let sm = mock_client!(aws_sdk_sagemaker, RuleMode::MatchAny, [&same]);
        let settled = follow_from(
            &sm,
            "demo",
            Goal::Updated,
            Some(&Before {
                status: "CreateCompleted".into(),
                last_modified: None,
            }),
            fast(),
            |_| {},
        )
        .await
        .unwrap();
        assert_eq!(
            (settled.outcome, settled.elapsed),
            (FollowOutcome::Completed, Duration::from_secs(10))
        );
    }

    #[test]
    fn elapsed_times_read_naturally() {
        assert_eq!(format_elapsed(Duration::from_millis(900)), "0s");
        assert_eq!(format_elapsed(Duration::from_secs(12)), "12s");
        assert_eq!(format_elapsed(Duration::from_secs(65)), "1m05s");
        assert_eq!(format_elapsed(Duration::from_secs(3720)), "1h02m");
    }
}
