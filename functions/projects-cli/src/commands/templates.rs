//! `projects templates`: the published templates and what each takes.

use projects_core::projects::{self as launch, LaunchError};

use super::{aws, catalog, ExitStatus, Source};
use crate::output::Printer;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub source: Source,
}

pub async fn run(args: Args, printer: &Printer) -> Result<ExitStatus, LaunchError> {
    let source = args.source;

    let aws = aws().await?;
    let catalog = catalog(&aws, &source).await?;
    let mut specs = Vec::new();
    for t in &catalog.templates {
        let chosen = launch::Chosen {
            template: t.clone(),
            listed: true,
        };
        specs.push(launch::load_template(&aws.clients.s3, &catalog, &chosen).await);
    }
    printer.templates(&catalog, &specs);
    Ok(ExitStatus::passed(specs.iter().all(Result::is_ok)))
}
