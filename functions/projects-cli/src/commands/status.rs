//! `projects status`: one project, as SageMaker and its stack report it; a failed one explained to its root
//! cause (projects_core::projects::explain).

use projects_core::projects::{self as launch, explain, LaunchError};

use super::{aws, ExitStatus};
use crate::output::Printer;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The project's name.
    pub name: String,
}

pub async fn run(args: Args, printer: &Printer) -> Result<ExitStatus, LaunchError> {
    launch::check_project_name(&args.name)?;
    let aws = aws().await?;
    let Some(project) = launch::describe_project(&aws.clients.sagemaker, &args.name).await? else {
        return Err(LaunchError::NoSuchProject(args.name));
    };
    let why = explain::explain(&aws.explain_sources(), &project).await?;
    printer.status(&project, why.as_ref());
    Ok(ExitStatus::Success)
}
