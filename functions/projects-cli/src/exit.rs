//! How a command ends, decided by the command from what happened (not by the printer): the exit status
//! scripts branch on, documented in `projects --help`.

use std::process::ExitCode;

use projects_core::projects::{upgrade, FollowOutcome, LaunchError};

/// 0 done; 1 something ended badly (a project failed, a check failed, an AWS call failed); 2 the input was
/// invalid, nothing was done; 3 still running when the wait ended (it carries on).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    Success,
    Failed,
    InvalidInput,
    StillRunning,
}

impl ExitStatus {
    /// `true` → Success, `false` → Failed: a listing or check that did or did not pass.
    pub fn passed(ok: bool) -> Self {
        if ok {
            Self::Success
        } else {
            Self::Failed
        }
    }

    /// The end of following one project.
    pub fn of_follow(outcome: FollowOutcome) -> Self {
        match outcome {
            FollowOutcome::Completed => Self::Success,
            FollowOutcome::TimedOut => Self::StillRunning,
            FollowOutcome::Failed | FollowOutcome::Vanished => Self::Failed,
        }
    }

    /// An upgrade that stopped at its failure limit, or had any failure, failed.
    pub fn of_upgrade(report: &upgrade::Report) -> Self {
        Self::passed(!report.halted && report.failures() == 0)
    }

    /// An error: invalid input exits 2, anything else 1.
    pub fn of_error(e: &LaunchError) -> Self {
        if e.is_invalid_input() {
            Self::InvalidInput
        } else {
            Self::Failed
        }
    }
}

impl ExitStatus {
    /// The process exit code.
    pub fn code(self) -> u8 {
        match self {
            Self::Success => 0,
            Self::Failed => 1,
            Self::InvalidInput => 2,
            Self::StillRunning => 3,
        }
    }
}

impl From<ExitStatus> for ExitCode {
    fn from(status: ExitStatus) -> Self {
        ExitCode::from(status.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_follow_ends_in_the_status_its_outcome_means() {
        assert_eq!(
            ExitStatus::of_follow(FollowOutcome::Completed),
            ExitStatus::Success
        );
        assert_eq!(
            ExitStatus::of_follow(FollowOutcome::Failed),
            ExitStatus::Failed
        );
        assert_eq!(
            ExitStatus::of_follow(FollowOutcome::Vanished),
            ExitStatus::Failed
        );
        assert_eq!(
            ExitStatus::of_follow(FollowOutcome::TimedOut),
            ExitStatus::StillRunning
        );
    }

    #[test]
    fn invalid_input_exits_2_and_a_failed_call_or_a_state_1() {
        assert_eq!(
            ExitStatus::of_error(&LaunchError::Invalid("x".into())),
            ExitStatus::InvalidInput
        );
        // the input was fine: running it again later may succeed
        assert_eq!(
            ExitStatus::of_error(&LaunchError::State(
                "project p has no stack yet (Pending)".into()
            )),
            ExitStatus::Failed
        );
        assert_eq!(
            ExitStatus::of_error(&LaunchError::NoSuchStack {
                stack: "s".into(),
                region: "r".into()
            }),
            ExitStatus::Failed
        );
    }
}
