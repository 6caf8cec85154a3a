//! `projects` — parsing and wiring only; the behaviour is in projects_core::projects, the rendering in
//! `output`.

mod args;
mod exit;
#[cfg(test)]
mod fuzz_target;
mod output;

use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use projects_core::aws::{CallError, Clients};
use projects_core::projects::{
    self as launch, doctor, fleet, update, upgrade, Catalog, FollowSettings, Goal, LaunchError,
    LaunchPlan, DEFAULT_STACK,
};

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
    Templates {
        #[command(flatten)]
        source: Source,
    },
    /// Create a project from a template, then follow it until it is created (or failed).
    ///
    /// The name and the parameters are checked against the template's declarations before SageMaker is
    /// called: the template is read from its S3 URL (GetObject), so a template uploaded to the bucket after
    /// installation works as well as the published ones. SageMaker fills in SageMakerProjectName and
    /// SageMakerProjectId itself; they cannot be passed.
    Create(CreateArgs),
    /// Show a project: status, template, URL, launch role, parameters, stack name and status message.
    Status {
        /// The project's name.
        name: String,
    },
    /// Delete a project (CloudFormation deletes its stack), then follow it until it is gone.
    Delete(DeleteArgs),
    /// List every project of the region: template, the version it runs, whether that is the one published
    /// now, status, domain (for projects the onboarder created), creator.
    ///
    /// SageMaker Search returns 100 projects a page with their tags; the published versions of each template
    /// come from one ListObjectVersions per template: 1,000 projects on five templates take 15 requests.
    List(ListArgs),
    /// Move a project to another version of its template (by default the one published now), keeping its
    /// parameters, then follow it until UpdateCompleted (or UpdateFailed).
    ///
    /// The project's parameters are carried over and -p overrides applied; everything is checked against the
    /// target version before SageMaker is called (a parameter the version no longer declares is named: leave
    /// it out with --drop-param). UpdateProject gets the version-pinned TemplateURL; once the update
    /// completed, the project's version tags name the new version.
    Update(UpdateArgs),
    /// Roll every outdated project forward to the version published now: canaries first, a few at a time,
    /// stopping at the first failure beyond --max-failures; then print a table (project, from -> to, outcome,
    /// time). A failed project is left as SageMaker reports it; running the command again continues where it
    /// stopped (upgraded projects are no longer outdated).
    Upgrade(UpgradeArgs),
    /// Check why users cannot see or create projects, each line OK or what to do: the templates tagged
    /// visible, the bucket's CORS, the launch role and its trust, the seed-code function and its SSM
    /// parameter, a CloudTrail trail logging management events, and per domain its location tag, Projects not hidden in Studio, and each execution role's
    /// PassRole, SP-* stack rights, GetObjectTagging and launch-access tag. Exit 0 only when all pass.
    ///
    /// --fix applies the grants and the domain tag with the onboarder's own code (and policy owner).
    Doctor(DoctorArgs),
}

#[derive(Args, Debug)]
struct DoctorArgs {
    /// One domain (default: every domain of the region).
    #[arg(long, value_name = "ID")]
    domain: Option<String>,

    /// Also check this user profile's own execution role and Studio settings (with --domain).
    #[arg(long, value_name = "NAME", requires = "domain")]
    user_profile: Option<String>,

    /// Repair what can be repaired: the execution roles' grants and the domain tag.
    #[arg(long)]
    fix: bool,

    /// The bootstrap stack whose outputs name the launch role and the templates' location.
    #[arg(long, env = "PROJECTS_STACK", default_value = DEFAULT_STACK, value_name = "STACK")]
    stack: String,
}

#[derive(Args, Debug)]
struct UpgradeArgs {
    /// Only the projects of this template.
    #[arg(long, short = 't', value_name = "NAME")]
    template: Option<String>,

    /// Only the projects the onboarder created for this domain.
    #[arg(long, value_name = "ID", conflicts_with = "all")]
    domain: Option<String>,

    /// Every outdated project of the region (one of --domain and --all is required).
    #[arg(long)]
    all: bool,

    /// How many projects are upgraded first, on their own; the rest start only if they succeed.
    #[arg(long, value_name = "N", default_value = "1")]
    canary: usize,

    /// How many failed projects are tolerated; the next failure stops the upgrade.
    #[arg(long, value_name = "K", default_value = "0")]
    max_failures: usize,

    /// How many projects are updated at once.
    #[arg(long, value_name = "N", default_value = "4", value_parser = clap::value_parser!(u16).range(1..=32))]
    concurrency: u16,

    /// List what would be upgraded and change nothing.
    #[arg(long)]
    dry_run: bool,

    #[command(flatten)]
    wait: Wait,
}

#[derive(Args, Debug)]
struct UpdateArgs {
    /// The project's name.
    name: String,

    /// A parameter to set (repeatable); the others keep their values.
    #[arg(long = "param", short = 'p', value_name = "KEY=VALUE")]
    params: Vec<String>,

    /// A parameter to leave out, because the target version no longer declares it (repeatable).
    #[arg(long = "drop-param", value_name = "KEY")]
    drop_params: Vec<String>,

    /// The version: `current` (published now) or a digest (at least 6 characters) from `projects list`.
    #[arg(long, value_name = "current|DIGEST", default_value = "current")]
    template_version: String,

    /// Print what the update would change (parameters, and resources added, removed and modified by logical
    /// id) and change nothing.
    #[arg(long)]
    dry_run: bool,

    /// Return once SageMaker has accepted the update, without following it.
    #[arg(long)]
    no_wait: bool,

    #[command(flatten)]
    wait: Wait,
}

#[derive(Args, Debug)]
struct ListArgs {
    /// Only the projects that run another version than the one published now.
    #[arg(long)]
    outdated: bool,

    /// Only the projects of this template (its name, as `projects templates` shows it).
    #[arg(long, short = 't', value_name = "NAME")]
    template: Option<String>,

    /// Only the projects the onboarder created for this domain.
    #[arg(long, value_name = "ID")]
    domain: Option<String>,
}

#[derive(Args, Debug)]
struct Source {
    /// The bootstrap stack whose outputs list the templates and the launch role.
    #[arg(long, env = "PROJECTS_STACK", default_value = DEFAULT_STACK, value_name = "STACK")]
    stack: String,

    /// Use this template instead of the stack's (repeatable): NAME=URL, or a bare https S3 URL named after
    /// its file. No stack is read then.
    #[arg(long = "template-url", value_name = "NAME=URL")]
    template_urls: Vec<String>,

    /// The role CloudFormation assumes to create the project's resources (overrides the stack's
    /// LaunchRoleArn; needed with --template-url to create).
    #[arg(long, value_name = "ARN")]
    launch_role: Option<String>,
}

#[derive(Args, Debug)]
struct CreateArgs {
    /// The project's name: 1-32 letters, digits and hyphens, starting and ending with a letter or digit.
    name: String,

    /// The template: a name from `projects templates` (with or without .yaml), the name of another
    /// template in the same bucket and prefix, or an https S3 URL.
    #[arg(long, short = 't', value_name = "TEMPLATE")]
    template: String,

    /// A template parameter (repeatable).
    #[arg(long = "param", short = 'p', value_name = "KEY=VALUE")]
    params: Vec<String>,

    /// The project's description (at most 1,024 characters).
    #[arg(long, short = 'd')]
    description: Option<String>,

    /// Do not tag the project sagemaker:studio-visibility=true (the tag Studio lists projects by).
    #[arg(long)]
    no_studio_visibility: bool,

    /// Return once SageMaker has accepted the project, without following it.
    #[arg(long)]
    no_wait: bool,

    #[command(flatten)]
    wait: Wait,

    #[command(flatten)]
    source: Source,
}

#[derive(Args, Debug)]
struct DeleteArgs {
    /// The project's name.
    name: String,

    /// Return once SageMaker has accepted the deletion, without following it.
    #[arg(long)]
    no_wait: bool,

    #[command(flatten)]
    wait: Wait,
}

#[derive(Args, Debug)]
struct Wait {
    /// Seconds between two status checks while following.
    #[arg(long, value_name = "SECONDS", default_value = "5", value_parser = interval)]
    poll_interval: Duration,

    /// Stop following after this many seconds (exit 3; the project carries on).
    #[arg(long, value_name = "SECONDS", default_value = "3600", value_parser = seconds)]
    timeout: Duration,
}

impl Wait {
    fn settings(&self) -> FollowSettings {
        FollowSettings {
            interval: self.poll_interval,
            timeout: self.timeout,
            ..FollowSettings::default()
        }
    }
}

fn seconds(s: &str) -> Result<Duration, String> {
    s.trim()
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite() && *v >= 0.0 && *v <= 604_800.0)
        .map(Duration::from_secs_f64)
        .ok_or_else(|| format!("{s:?} is not a number of seconds between 0 and 604800"))
}

fn interval(s: &str) -> Result<Duration, String> {
    seconds(s).and_then(|d| {
        if d >= Duration::from_millis(100) {
            Ok(d)
        } else {
            Err("the poll interval is at least 0.1 seconds".to_owned())
        }
    })
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

async fn run(command: Command, printer: &Printer) -> Result<ExitStatus, LaunchError> {
    match command {
        Command::Templates { source } => {
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
        Command::Create(args) => {
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
                &catalog,
            )?;
            plan.visible_in_studio = !args.no_studio_visibility;
            let created = launch::create_project(&aws.clients.sagemaker, &plan).await?;
            if args.no_wait {
                printer.started(&plan.project, Some(&created));
                return Ok(ExitStatus::Success);
            }
            printer.note(&format!(
                "creating project {} ({}) from template {}",
                plan.project, created.id, plan.template.name
            ));
            follow(&aws, &plan.project, Goal::Created, &args.wait, printer).await
        }
        Command::Status { name } => {
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
        Command::Delete(args) => {
            launch::check_project_name(&args.name)?;
            let aws = aws().await?;
            launch::delete_project(&aws.clients.sagemaker, &args.name).await?;
            if args.no_wait {
                printer.started(&args.name, None);
                return Ok(ExitStatus::Success);
            }
            printer.note(&format!("deleting project {}", args.name));
            follow(&aws, &args.name, Goal::Deleted, &args.wait, printer).await
        }
        Command::Update(args) => {
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
            if args.no_wait {
                update::update_project(sm, &plan).await?;
                printer.started_update(&plan);
                return Ok(ExitStatus::Success);
            }
            let mut progress = printer.progress(&plan.project);
            let settled =
                update::apply(sm, &plan, args.wait.settings(), |p| progress.observe(p)).await;
            progress.finish();
            let settled = settled?;
            printer.settled(&plan.project, Goal::Updated, &settled);
            Ok(ExitStatus::of_follow(settled.outcome))
        }
        Command::Upgrade(args) => {
            if !args.all && args.domain.is_none() {
                return Err(LaunchError::Invalid(
                    "name the projects to upgrade: --domain ID, or --all for every outdated project of the region"
                        .to_owned(),
                ));
            }
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
        Command::Doctor(args) => {
            let aws = aws().await?;
            let (outputs, stack_id) = stack_outputs(&aws, &args.stack).await?;
            let catalog = Catalog::from_outputs(&args.stack, &outputs)?;
            let setup = doctor::Setup {
                stack: args.stack.clone(),
                launch_role: projects_core::names::RoleArn::parse(
                    "LaunchRoleArn",
                    catalog.launch_role()?,
                )
                .map_err(|e| LaunchError::Invalid(e.to_string()))?,
                location: catalog.templates_location.clone().ok_or_else(|| {
                    LaunchError::NotBootstrapStack {
                        stack: args.stack.clone(),
                        problem: " has no output TemplatesLocation".to_owned(),
                    }
                })?,
                // the onboarder's POLICY_OWNER: the stack id's last part
                owner: stack_id
                    .as_deref()
                    .and_then(|id| id.split('/').nth(2))
                    .map(str::to_owned)
                    .ok_or_else(|| LaunchError::NotBootstrapStack {
                        stack: args.stack.clone(),
                        problem: " has no stack id to own the grants".to_owned(),
                    })?,
                template_key: outputs
                    .iter()
                    .find(|(k, _)| k == "TemplateBucketKmsKeyArn")
                    .map(|(_, v)| v.clone()),
                // a stack from before the output had account-wide stack rights
                isolation: outputs
                    .iter()
                    .find(|(k, _)| k == "ProjectIsolation")
                    .map(|(_, v)| {
                        projects_core::policies::Isolation::parse("ProjectIsolation", v)
                            .map_err(LaunchError::Invalid)
                    })
                    .transpose()?
                    .unwrap_or_default(),
                region: stack_id
                    .as_deref()
                    .and_then(|id| id.split(':').nth(3))
                    .unwrap_or_default()
                    .to_owned(),
            };
            let clients = doctor::Clients {
                cloudtrail: &aws.cloudtrail,
                sagemaker: &aws.clients.sagemaker,
                s3: &aws.clients.s3,
                iam: &aws.clients.iam,
                cloudformation: &aws.cloudformation,
            };
            let scope = doctor::Scope {
                domain: args.domain,
                user_profile: args.user_profile,
                fix: args.fix,
            };
            let report = doctor::doctor(&clients, &setup, &scope).await?;
            printer.doctor(&report);
            Ok(ExitStatus::passed(report.passed()))
        }
        Command::List(args) => {
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
    }
}

async fn follow(
    aws: &Aws,
    name: &str,
    goal: Goal,
    wait: &Wait,
    printer: &Printer,
) -> Result<ExitStatus, LaunchError> {
    let mut progress = printer.progress(name);
    let settled = launch::follow(&aws.clients.sagemaker, name, goal, wait.settings(), |p| {
        progress.observe(p)
    })
    .await;
    progress.finish();
    let settled = settled?;
    printer.settled(name, goal, &settled);
    Ok(ExitStatus::of_follow(settled.outcome))
}

/// The SDK clients, built once the input has been checked.
struct Aws {
    clients: Clients,
    cloudtrail: aws_sdk_cloudtrail::Client,
    cloudformation: aws_sdk_cloudformation::Client,
    region: String,
}

async fn aws() -> Result<Aws, LaunchError> {
    let config = projects_core::aws::config().await;
    let region = config.region().map(|r| r.to_string()).ok_or_else(|| {
        LaunchError::Invalid(
            "no AWS region: set AWS_REGION (or a region in your AWS profile)".to_owned(),
        )
    })?;
    Ok(Aws {
        clients: Clients::new(&config),
        cloudformation: aws_sdk_cloudformation::Client::new(&config),
        cloudtrail: aws_sdk_cloudtrail::Client::new(&config),
        region,
    })
}

/// The templates and the launch role: from the flags, or from the bootstrap stack's outputs.
async fn catalog(aws: &Aws, source: &Source) -> Result<Catalog, LaunchError> {
    if !source.template_urls.is_empty() {
        return Catalog::from_flags(&source.template_urls, source.launch_role.as_deref());
    }
    let (outputs, _) = stack_outputs(aws, &source.stack).await?;
    let mut catalog = Catalog::from_outputs(&source.stack, &outputs)?;
    if let Some(role) = &source.launch_role {
        catalog.launch_role_arn = Catalog::from_flags(&[], Some(role))?.launch_role_arn;
    }
    Ok(catalog)
}

/// The bootstrap stack's outputs and its id.
async fn stack_outputs(
    aws: &Aws,
    stack: &str,
) -> Result<(Vec<(String, String)>, Option<String>), LaunchError> {
    let described = aws
        .cloudformation
        .describe_stacks()
        .stack_name(stack)
        .send()
        .await
        .map_err(|e| {
            let call = CallError::new("CloudFormation", "DescribeStacks", stack, e);
            // CloudFormation says so in a ValidationError: "Stack with id X does not exist"
            if call.message.contains("does not exist") {
                LaunchError::NoSuchStack {
                    stack: stack.to_owned(),
                    region: aws.region.clone(),
                }
            } else {
                LaunchError::Aws(call)
            }
        })?;
    let first = described.stacks().first();
    let outputs = first
        .map(|s| {
            s.outputs()
                .iter()
                .filter_map(|o| Some((o.output_key()?.to_owned(), o.output_value()?.to_owned())))
                .collect()
        })
        .unwrap_or_default();
    Ok((outputs, first.and_then(|s| s.stack_id()).map(str::to_owned)))
}
