//! `projects list`: every project of the region with its template version.

use projects_core::projects::{self as launch, explain, fleet, LaunchError};

use super::{aws, ExitStatus};
use crate::output::Printer;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Only the projects that run another version than the one published now.
    #[arg(long)]
    pub outdated: bool,

    /// Only the projects of this template (its name, as `projects templates` shows it).
    #[arg(long, short = 't', value_name = "NAME")]
    pub template: Option<String>,

    /// Only the projects the onboarder created for this domain.
    #[arg(long, value_name = "ID")]
    pub domain: Option<String>,

    /// Only the failed projects (CreateFailed, UpdateFailed, DeleteFailed), each with why it failed and what to
    /// do (one DescribeProject and the stack's events per failed project).
    #[arg(long)]
    pub failed: bool,
}

pub async fn run(args: Args, printer: &Printer) -> Result<ExitStatus, LaunchError> {
    let aws = aws().await?;
    let filter = fleet::Filter {
        template: args
            .template
            .map(|t| t.trim_end_matches(".yaml").to_owned()),
        outdated: args.outdated,
        domain: args.domain,
    };
    let mut listing = fleet::list(&aws.clients.sagemaker, &aws.clients.s3, &filter).await?;
    if !args.failed {
        printer.list(&listing);
        return Ok(ExitStatus::Success);
    }
    listing.projects.retain(|p| explain::failed(&p.status));
    let mut explained = Vec::new();
    for p in &listing.projects {
        let why = match launch::describe_project(&aws.clients.sagemaker, &p.name).await? {
            Some(project) => explain::explain(&aws.explain_sources(), &project).await?,
            None => None,
        };
        explained.push((p.name.clone(), why));
    }
    printer.failed_list(&listing, &explained);
    Ok(ExitStatus::Success)
}
