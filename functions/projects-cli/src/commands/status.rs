//! `projects status`: one project, as SageMaker and its stack report it.

use projects_core::projects::{self as launch, LaunchError};

use super::{aws, ExitStatus};
use crate::output::Printer;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The project's name.
    pub name: String,
}

pub async fn run(args: Args, printer: &Printer) -> Result<ExitStatus, LaunchError> {
    let name = args.name;

    launch::check_project_name(&name)?;
    let aws = aws().await?;
    match launch::describe_project(&aws.clients.sagemaker, &name).await? {
        Some(project) => {
            printer.status(&project);
            Ok(ExitStatus::Success)
        }
        None => Err(LaunchError::NoSuchProject(name)),
    }
}
