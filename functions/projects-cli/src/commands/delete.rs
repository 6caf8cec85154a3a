//! `projects delete`: delete, then follow until the project is gone.

use projects_core::projects::{self as launch, Goal, LaunchError};

use super::{aws, follow, ExitStatus, Follow};
use crate::output::Printer;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The project's name.
    pub name: String,

    #[command(flatten)]
    pub follow: Follow,
}

pub async fn run(args: Args, printer: &Printer) -> Result<ExitStatus, LaunchError> {
    launch::check_project_name(&args.name)?;
    let aws = aws().await?;
    launch::delete_project(&aws.clients.sagemaker, &args.name).await?;
    if args.follow.no_wait {
        printer.started(&args.name, None);
        return Ok(ExitStatus::Success);
    }
    printer.note(&format!("deleting project {}", args.name));
    follow(&aws, &args.name, Goal::Deleted, &args.follow.wait, printer).await
}
