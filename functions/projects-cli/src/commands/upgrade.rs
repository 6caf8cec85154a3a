//! `projects upgrade`: roll the outdated projects forward, canaries first.

use clap::ArgGroup;
use projects_core::projects::{fleet, upgrade, LaunchError};

use super::{aws, ExitStatus, Wait};
use crate::output::{self, Printer};

#[derive(clap::Args, Debug)]
#[command(group(ArgGroup::new("projects").required(true).args(["domain", "all"])))]
pub struct Args {
    /// Only the projects of this template.
    #[arg(long, short = 't', value_name = "NAME")]
    pub template: Option<String>,

    /// Only the projects the onboarder created for this domain.
    #[arg(long, value_name = "ID")]
    pub domain: Option<String>,

    /// Every outdated project of the region (one of --domain and --all is required).
    #[arg(long)]
    pub all: bool,

    /// How many projects are upgraded first, on their own; the rest start only if they succeed.
    #[arg(long, value_name = "N", default_value = "1")]
    pub canary: usize,

    /// How many failed projects are tolerated; the next failure stops the upgrade.
    #[arg(long, value_name = "K", default_value = "0")]
    pub max_failures: usize,

    /// How many projects are updated at once.
    #[arg(long, value_name = "N", default_value = "4", value_parser = clap::value_parser!(u16).range(1..=32))]
    pub concurrency: u16,

    /// List what would be upgraded and change nothing.
    #[arg(long)]
    pub dry_run: bool,

    #[command(flatten)]
    pub wait: Wait,
}

pub async fn run(args: Args, printer: &Printer) -> Result<ExitStatus, LaunchError> {
    let aws = aws().await?;
    let settings = upgrade::Settings {
        filter: fleet::Filter {
            template: args
                .template
                .map(|t| t.trim_end_matches(".yaml").to_owned()),
            outdated: true,
            domain: args.domain,
        },
        canary: args.canary,
        max_failures: args.max_failures,
        concurrency: usize::from(args.concurrency),
        follow: args.wait.settings(),
    };
    let report = upgrade::upgrade(
        &aws.clients.sagemaker,
        &aws.clients.s3,
        &settings,
        args.dry_run,
        &output::upgrade_event,
    )
    .await?;
    printer.upgrade(&report, &settings);
    Ok(ExitStatus::of_upgrade(&report))
}
