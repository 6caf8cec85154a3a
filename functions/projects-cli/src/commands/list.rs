//! `projects list`: every project of the region with its template version.

use projects_core::projects::{fleet, LaunchError};

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
    let listing = fleet::list(&aws.clients.sagemaker, &aws.clients.s3, &filter).await?;
    printer.list(&listing);
    Ok(ExitStatus::Success)
}
