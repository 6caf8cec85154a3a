//! Fuzz target of the command line: arguments as a user types them (NUL-separated in the input), through
//! clap and every check `projects` makes before its first AWS call. `make test` runs it for 2 s, `make fuzz`
//! for `FUZZ_SECONDS`.

use clap::Parser;
use projects_core::projects::{self as launch, Catalog};

use super::{Cli, Command};

/// Never a panic: the length bound's refusal, clap's, or the checks' typed errors.
#[test]
fn cli_args() {
    fuzzing::Target::new("cli_args", |input| {
        let text = String::from_utf8_lossy(input);
        let args: Vec<std::ffi::OsString> = std::iter::once("projects")
            .chain(text.split('\0'))
            .map(Into::into)
            .collect();
        if super::args::check(&args).is_err() {
            return Ok(());
        }
        let Ok(cli) = Cli::try_parse_from(args) else {
            return Ok(());
        };
        match cli.command {
            Command::Create(args) => {
                let _ = launch::check_project_name(&args.name);
                if let Some(d) = &args.description {
                    let _ = launch::check_description(d);
                }
                let _ = launch::parse_parameters(&args.params);
                if !args.source.template_urls.is_empty() {
                    if let Ok(catalog) = Catalog::from_flags(
                        &args.source.template_urls,
                        args.source.launch_role.as_deref(),
                    ) {
                        let _ = catalog.choose(&args.template);
                    }
                }
            }
            Command::Update(args) => {
                let _ = launch::check_project_name(&args.name);
                let _ = launch::parse_parameters(&args.params);
            }
            Command::Status(args) => {
                let _ = launch::check_project_name(&args.name);
            }
            _ => {}
        }
        Ok(())
    })
    .seeds([
        "create\0churn\0--template\0deploy-codepipeline\0--param\0A=1\0-p\0B=x=y\0-d\0Churn — prod",
        "create\0x\0-t\0https://b.s3.us-east-1.amazonaws.com/t/x.yaml\0--template-url\0x=https://b.s3.us-east-1.amazonaws.com/t/x.yaml\0--launch-role\0arn:aws:iam::123456789012:role/r",
        "update\0churn\0--param\0A=2\0--dry-run",
        "status\0churn\0--output\0json",
        "upgrade\0--all\0--canary\x002\0--max-failures\x001",
    ])
    .dictionary(&[
        "\0", "create", "update", "status", "delete", "list", "templates", "upgrade", "doctor", "--param", "-p",
        "=", "--template", "-t", "--template-url", "https://b.s3.amazonaws.com/t/x.yaml", "--description",
        "-d", "--launch-role", "--output", "json", "--timeout", "--", "-", "\n", "é", "\u{200b}", "a",
    ])
    .max_repeat(5000)
    .run();
}
