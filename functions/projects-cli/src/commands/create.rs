//! `projects create`: check everything that needs no AWS call, read the template, create, follow.

use projects_core::projects::{self as launch, Goal, LaunchError, LaunchPlan};

use super::{aws, catalog, follow, ExitStatus, Follow, Source};
use crate::output::Printer;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The project's name: 1-32 letters, digits and hyphens, starting and ending with a letter or digit.
    pub name: String,

    /// The template: a name from `projects templates` (with or without .yaml), the name of another
    /// template in the same bucket and prefix, or an https S3 URL.
    #[arg(long, short = 't', value_name = "TEMPLATE")]
    pub template: String,

    /// A template parameter (repeatable).
    #[arg(long = "param", short = 'p', value_name = "KEY=VALUE")]
    pub params: Vec<String>,

    /// The project's description (at most 1,024 characters).
    #[arg(long, short = 'd')]
    pub description: Option<String>,

    /// Do not tag the project sagemaker:studio-visibility=true (the tag Studio lists projects by).
    #[arg(long)]
    pub no_studio_visibility: bool,

    #[command(flatten)]
    pub follow: Follow,

    #[command(flatten)]
    pub source: Source,
}

pub async fn run(args: Args, printer: &Printer) -> Result<ExitStatus, LaunchError> {
    // everything that needs no AWS call first
    launch::check_project_name(&args.name)?;
    if let Some(d) = &args.description {
        launch::check_description(d)?;
    }
    let parameters = launch::parse_parameters(&args.params)?;
    let aws = aws().await?;
    let catalog = catalog(&aws, &args.source).await?;
    let chosen = catalog.choose(&args.template)?;
    let template = launch::load_template(&aws.clients.s3, &catalog, &chosen).await?;
    let mut plan = LaunchPlan::new(
        &args.name,
        args.description.as_deref(),
        template,
        parameters,
        catalog.launch_role()?,
    )?;
    plan.visible_in_studio = !args.no_studio_visibility;
    let created = launch::create_project(&aws.clients.sagemaker, &plan).await?;
    if args.follow.no_wait {
        printer.started(&plan.project, Some(&created));
        return Ok(ExitStatus::Success);
    }
    printer.note(&format!(
        "creating project {} ({}) from template {}",
        plan.project, created.id, plan.template.name
    ));
    follow(
        &aws,
        &plan.project,
        Goal::Created,
        &args.follow.wait,
        printer,
    )
    .await
}
