//! `projects update`: plan the move to another template version, show it (`--dry-run`) or apply and follow it.

use projects_core::projects::{self as launch, update, Goal, LaunchError};

use super::{aws, ExitStatus, Follow};
use crate::output::Printer;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The project's name.
    pub name: String,

    /// A parameter to set (repeatable); the others keep their values.
    #[arg(long = "param", short = 'p', value_name = "KEY=VALUE")]
    pub params: Vec<String>,

    /// A parameter to leave out, because the target version no longer declares it (repeatable).
    #[arg(long = "drop-param", value_name = "KEY")]
    pub drop_params: Vec<String>,

    /// The version: `current` (published now) or a digest (at least 6 characters) from `projects list`.
    #[arg(long, value_name = "current|DIGEST", default_value = "current")]
    pub template_version: String,

    /// Print what the update would change (parameters, and resources added, removed and modified by logical
    /// id) and change nothing.
    #[arg(long)]
    pub dry_run: bool,

    #[command(flatten)]
    pub follow: Follow,
}

pub async fn run(args: Args, printer: &Printer) -> Result<ExitStatus, LaunchError> {
    launch::check_project_name(&args.name)?;
    let request = update::Request {
        overrides: launch::parse_parameters(&args.params)?,
        drop: args.drop_params,
    };
    let aws = aws().await?;
    let (sm, s3) = (&aws.clients.sagemaker, &aws.clients.s3);
    let subject = update::find(sm, s3, &args.name).await?;
    let target = update::Target::parse(&args.template_version);
    let plan = subject.plan(s3, &target, &request).await?;
    if args.dry_run {
        let diff = update::dry_run(&aws.cloudformation, &subject, &plan).await?;
        printer.update_plan(&plan, &diff);
        return Ok(ExitStatus::Success);
    }
    if update::runs_target_already(&aws.cloudformation, &subject, &plan).await? {
        if plan.from.is_none() {
            // it runs that version: the tags now say so (the dry run showed no change either)
            update::retag(sm, &plan).await?;
        }
        printer.update_noop(&plan);
        return Ok(ExitStatus::Success);
    }
    printer.note(&format!(
        "updating project {}: template {} {} -> {}",
        plan.project,
        plan.template,
        plan.from_short(),
        plan.to_short()
    ));
    if args.follow.no_wait {
        update::update_project(sm, &plan).await?;
        printer.started_update(&plan);
        return Ok(ExitStatus::Success);
    }
    let mut progress = printer.progress(&plan.project);
    let settled = update::apply(sm, &plan, args.follow.wait.settings(), |p| {
        progress.observe(p)
    })
    .await;
    progress.finish();
    let settled = settled?;
    let why = aws.explain(settled.project.as_ref()).await;
    printer.settled(&plan.project, Goal::Updated, &settled, why.as_ref());
    Ok(ExitStatus::of_follow(settled.outcome))
}
