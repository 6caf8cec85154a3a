//! `projects doctor`: what keeps users from seeing or creating projects, with `--fix`.

use projects_core::doctor;
use projects_core::projects::{LaunchError, DEFAULT_STACK};

use super::{aws, stack_outputs, ExitStatus};
use crate::output::Printer;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// One domain (default: every domain of the region).
    #[arg(long, value_name = "ID")]
    pub domain: Option<String>,

    /// Also check this user profile's own execution role and Studio settings (with --domain).
    #[arg(long, value_name = "NAME", requires = "domain")]
    pub user_profile: Option<String>,

    /// Repair what can be repaired: the execution roles' grants and the domain tag.
    #[arg(long)]
    pub fix: bool,

    /// Put the messages of the onboarder's dead-letter queue back on its queue, once their cause is fixed
    /// (each sent before it is deleted; safe to run again).
    #[arg(long)]
    pub redrive: bool,

    /// The bootstrap stack whose outputs name the launch role and the templates' location.
    #[arg(long, env = "PROJECTS_STACK", default_value = DEFAULT_STACK, value_name = "STACK")]
    pub stack: String,
}

pub async fn run(args: Args, printer: &Printer) -> Result<ExitStatus, LaunchError> {
    let aws = aws().await?;
    let (outputs, stack_id) = stack_outputs(&aws, &args.stack).await?;
    let setup = doctor::Setup::from_stack(&args.stack, &outputs, stack_id.as_deref())?;
    let clients = doctor::Clients {
        cloudtrail: &aws.cloudtrail,
        sagemaker: &aws.clients.sagemaker,
        s3: &aws.clients.s3,
        iam: &aws.clients.iam,
        cloudformation: &aws.cloudformation,
        sqs: &aws.clients.sqs,
    };
    let scope = doctor::Scope {
        domain: args.domain,
        user_profile: args.user_profile,
        fix: args.fix,
        redrive: args.redrive,
    };
    let report = doctor::doctor(&clients, &setup, &scope).await?;
    printer.doctor(&report);
    Ok(ExitStatus::passed(report.passed()))
}
