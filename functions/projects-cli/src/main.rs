//! `projects` — parsing and wiring only; the behaviour is in projects_core::projects, the rendering in
//! `output`.

mod args;
mod commands;
mod exit;
#[cfg(test)]
mod fuzz_target;
mod output;

use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use projects_core::projects::LaunchError;

use commands::*;

use exit::ExitStatus;
use output::{Format, Printer};

/// Launch, inspect and delete SageMaker AI projects from the S3 project templates that the
/// sagemaker-projects-bootstrap stack publishes.
#[derive(Parser, Debug)]
#[command(name = "projects", version, verbatim_doc_comment, after_long_help = AFTER_HELP)]
struct Cli {
    /// How results are printed on stdout: text for people, or json for scripts: one JSON document per
    /// command, errors included ({"error": {...}}).
    #[arg(long, global = true, value_enum, default_value_t = OutputFormat::Text)]
    output: OutputFormat,

    #[command(subcommand)]
    command: Command,
}

const AFTER_HELP: &str = "\
Where the templates come from:
  By default from the outputs of the bootstrap stack (--stack, PROJECTS_STACK, default
  sagemaker-projects-bootstrap): LaunchRoleArn, TemplatesLocation and one <Name>TemplateUrl per
  template. With --template-url (and --launch-role) no stack is read.

Exit status:
  0  done (for create: CreateCompleted; for delete: the project is gone)
  1  the project failed (CreateFailed, DeleteFailed) or AWS refused a call
  2  invalid input (name, parameters, template choice): nothing was created or deleted
  3  still in progress when --timeout ran out (the project carries on; see `projects status`)

Environment:
  AWS_PROFILE, AWS_REGION, AWS_ACCESS_KEY_ID, ...  the usual AWS SDK settings
  AWS_ENDPOINT_URL  another endpoint for every service, e.g. a local emulator (S3 then path-style)
  PROJECTS_STACK    the bootstrap stack's name

Examples:
  projects templates
  projects create churn-deploy --template deploy-codepipeline \\
      --param SourceModelPackageGroupName=churn-models \\
      --param CodeConnectionArn=arn:aws:codeconnections:eu-west-1:111122223333:connection/abcd-1234 \\
      --param ModelDeployCodeRepositoryFullname=acme/churn-deploy
  projects status churn-deploy --output json
  projects delete churn-deploy
  projects list --outdated
  projects update churn-deploy --dry-run
  projects upgrade --all --canary 2 --max-failures 1";

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum OutputFormat {
    Text,
    Json,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// List the published templates: name, URL, required parameters, optional ones with their defaults.
    Templates(templates::Args),
    /// Create a project from a template, then follow it until it is created (or failed).
    ///
    /// The name and the parameters are checked against the template's declarations before SageMaker is
    /// called: the template is read from its S3 URL (GetObject), so a template uploaded to the bucket after
    /// installation works as well as the published ones. SageMaker fills in SageMakerProjectName and
    /// SageMakerProjectId itself; they cannot be passed.
    Create(create::Args),
    /// Show a project: status, template, URL, launch role, parameters, stack name and status message.
    Status(status::Args),
    /// Delete a project (CloudFormation deletes its stack), then follow it until it is gone.
    Delete(delete::Args),
    /// List every project of the region: template, the version it runs, whether that is the one published
    /// now, status, domain (for projects the onboarder created), creator.
    ///
    /// SageMaker Search returns 100 projects a page with their tags; the published versions of each template
    /// come from one ListObjectVersions per template: 1,000 projects on five templates take 15 requests.
    List(list::Args),
    /// Move a project to another version of its template (by default the one published now), keeping its
    /// parameters, then follow it until UpdateCompleted (or UpdateFailed).
    ///
    /// The project's parameters are carried over and -p overrides applied; everything is checked against the
    /// target version before SageMaker is called (a parameter the version no longer declares is named: leave
    /// it out with --drop-param). UpdateProject gets the version-pinned TemplateURL; once the update
    /// completed, the project's version tags name the new version.
    Update(update::Args),
    /// Roll every outdated project forward to the version published now: canaries first, a few at a time,
    /// stopping at the first failure beyond --max-failures; then print a table (project, from -> to, outcome,
    /// time). A failed project is left as SageMaker reports it; running the command again continues where it
    /// stopped (upgraded projects are no longer outdated).
    Upgrade(upgrade::Args),
    /// Check why users cannot see or create projects, each line OK or what to do: the templates tagged
    /// visible, the bucket's CORS, the launch role and its trust, the seed-code function and its SSM
    /// parameter, a CloudTrail trail logging management events, and per domain its location tag, Projects not hidden in Studio, and each execution role's
    /// PassRole, SP-* stack rights, GetObjectTagging and launch-access tag. Exit 0 only when all pass.
    ///
    /// --fix applies the grants and the domain tag with the onboarder's own code (and policy owner).
    Doctor(doctor::Args),
}

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if let Err(e) = args::check(&args) {
        eprintln!("error: {e}");
        return ExitCode::from(2);
    }
    let cli = Cli::parse_from(args);
    let printer = Printer::new(match cli.output {
        OutputFormat::Text => Format::Text,
        OutputFormat::Json => Format::Json,
    });
    match run(cli.command, &printer).await {
        Ok(status) => status.into(),
        Err(e) => {
            printer.error(&e);
            ExitStatus::of_error(&e).into()
        }
    }
}

/// One subcommand: each decides its exit status (an error's is decided by [`ExitStatus::of_error`]).
async fn run(command: Command, printer: &Printer) -> Result<ExitStatus, LaunchError> {
    match command {
        Command::Templates(args) => templates::run(args, printer).await,
        Command::Create(args) => create::run(args, printer).await,
        Command::Status(args) => status::run(args, printer).await,
        Command::Delete(args) => delete::run(args, printer).await,
        Command::List(args) => list::run(args, printer).await,
        Command::Update(args) => update::run(args, printer).await,
        Command::Upgrade(args) => upgrade::run(args, printer).await,
        Command::Doctor(args) => doctor::run(args, printer).await,
    }
}
