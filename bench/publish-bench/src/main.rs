//! Times the product's publisher, `projects_core::publishing::publish`, on a set of N templates: one publish
//! per process, so the emulator can count each one's requests (run it twice: the second finds every template
//! unchanged). Prints one JSON line: the publish's own wall time and what it wrote.
//!
//! Usage: `publish-bench <bucket> <prefix> <count>` with the SDK environment of the functions
//! (`AWS_ENDPOINT_URL`, `AWS_REGION`, credentials). Count 5 publishes the five embedded templates under their
//! own names; any other count cycles through them under numbered names (`0042-deploy-codepipeline.yaml`).

use std::process::ExitCode;
use std::time::Instant;

use projects_core::aws::Clients;
use projects_core::publishing::{self, Location, Template, CONCURRENCY};
use projects_core::templates::EMBEDDED;
use serde_json::json;

const OWNER: &str = "bench00000";

fn template_set(count: usize) -> Vec<Template> {
    if count == EMBEDDED.len() {
        return EMBEDDED
            .iter()
            .map(|(name, body)| Template::new(name, body.as_bytes().to_vec()))
            .collect();
    }
    (0..count)
        .map(|i| {
            let (name, body) = EMBEDDED[i % EMBEDDED.len()];
            Template::new(&format!("{i:04}-{name}"), body.as_bytes().to_vec())
        })
        .collect()
}

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(bucket), Some(prefix), Some(count)) = (
        args.first(),
        args.get(1),
        args.get(2).and_then(|c| c.parse::<usize>().ok()),
    ) else {
        eprintln!("usage: publish-bench <bucket> <prefix> <count>");
        return ExitCode::from(2);
    };
    let started = Instant::now();
    let clients = Clients::from_env().await;
    let set = template_set(count);
    let location = Location {
        bucket: bucket.clone(),
        prefix: prefix.clone(),
    };
    let setup_ms = started.elapsed().as_secs_f64() * 1e3;

    let t = Instant::now();
    let report = match publishing::publish(&clients.s3, &location, OWNER, &set).await {
        Ok(report) => report,
        Err(e) => {
            eprintln!("publish failed: {e}");
            return ExitCode::FAILURE;
        }
    };
    let publish_ms = t.elapsed().as_secs_f64() * 1e3;
    println!(
        "{}",
        json!({
            "count": count,
            "bytes": set.iter().map(|t| t.content.len()).sum::<usize>(),
            "concurrency": CONCURRENCY,
            "setup_ms": setup_ms,
            "publish_ms": publish_ms,
            "written": report.written,
            "unchanged": report.unchanged,
        })
    );
    ExitCode::SUCCESS
}
