//! `make bench`'s section `bounds`: how long the worst inputs within the stated bounds take, and how much
//! memory, each case in its own process (so its peak RSS is its own). Prints one JSON line per case.
//!
//!     target/release/examples/input_bounds            # every case
//!     target/release/examples/input_bounds CASE       # one case, in this process

use std::process::Command;
use std::time::Instant;

use projects_core::onboarding::events;
use projects_core::templates::{self, MAX_NODES, MAX_TEMPLATE_BYTES};

const HEADER: &str = "Parameters:\n  SageMakerProjectName: {Type: String}\n  SageMakerProjectId: {Type: String}\nResources:\n  T: {Type: AWS::SNS::Topic}\n";

/// A template of `HEADER` and Metadata entries made by `entry(i)` until it would pass 1 MiB.
fn filled(entry: impl Fn(usize) -> String) -> Vec<u8> {
    let mut text = format!("{HEADER}Metadata:\n");
    for i in 0.. {
        let next = entry(i);
        if text.len() + next.len() > MAX_TEMPLATE_BYTES {
            break;
        }
        text.push_str(&next);
    }
    text.into_bytes()
}

/// (case, what it is, input); templates go through `validate`, events through the onboarder's reading.
fn case(name: &str) -> Option<(&'static str, Vec<u8>)> {
    let template = "template";
    let event = "event";
    Some(match name {
        // accepted: the most nodes (a flow sequence of one-letter scalars, just within MAX_NODES)
        "template-flat-flow-sequence-at-the-node-limit" => (
            template,
            format!(
                "{HEADER}Metadata:\n  Big: [{}]\n",
                "a,".repeat(MAX_NODES / 2 - 50)
            )
            .into_bytes(),
        ),
        // refused: the same, filling 1 MiB
        "template-1MiB-flat-flow-sequence" => (
            template,
            format!(
                "{HEADER}Metadata:\n  Big: [{}]\n",
                "a,".repeat(MAX_TEMPLATE_BYTES / 2 - 100)
            )
            .into_bytes(),
        ),
        // accepted: entries nested to the depth limit (64) in flow collections, the parser's costly case, up
        // to the node limit (67 nodes an entry as the scan counts them)
        "template-flow-depth-64-at-the-node-limit" => (template, {
            let entries: String = (0..(MAX_NODES - 200) / 67)
                .map(|i| format!("  K{i}: {}{}\n", "[".repeat(62), "]".repeat(62)))
                .collect();
            format!("{HEADER}Metadata:\n{entries}").into_bytes()
        }),
        // accepted: block mappings 60 deep, repeated
        "template-1MiB-block-depth-60" => (
            template,
            filled(|i| {
                (0..59)
                    .map(|d| format!("{}k{i}x{d}:\n", "  ".repeat(d + 1)))
                    .collect::<String>()
                    + &format!("{}v{i}: x\n", "  ".repeat(60))
            }),
        ),
        // accepted: the resource quota
        "template-500-resources" => (template, {
            let mut t = "Parameters:\n  SageMakerProjectName: {Type: String}\n  SageMakerProjectId: {Type: String}\nResources:\n".to_owned();
            for i in 0..500 {
                t.push_str(&format!("  Topic{i}:\n    Type: AWS::SNS::Topic\n    Properties:\n      TopicName: !Sub 'sagemaker-${{SageMakerProjectId}}-{i}'\n"));
            }
            t.into_bytes()
        }),
        // refused
        "template-200000-nested-flow-sequences" => (
            template,
            format!(
                "Resources: {}{}\n",
                "[".repeat(200_000),
                "]".repeat(200_000)
            )
            .into_bytes(),
        ),
        "template-1MiB-alias-expansion" => (
            template,
            filled(|i| {
                if i == 0 {
                    format!("  A: &a [{}]\n", "x,".repeat(1000))
                } else {
                    "  - *a\n".to_owned()
                }
            }),
        ),
        "template-1MiB-plus-one" => (template, vec![b' '; MAX_TEMPLATE_BYTES + 1]),
        // events: the largest asynchronous invocation payload (1 MiB), nested to the limit, and far deeper
        // accepted: 1 MiB at the depth limit, just within the container limit, the rest strings
        "event-1MiB-at-the-depth-and-container-limits" => (event, {
            let mut e = r#"{"source": "aws.sagemaker", "detail-type": "AWS API Call via CloudTrail", "detail": {"eventName": "UpdateDomain", "requestParameters": {"domainId": "d-x1", "padding": ["#.to_owned();
            for _ in 0..(10_000 - 10) / 59 {
                e.push_str(&format!("{}1{},", "[".repeat(59), "]".repeat(59)));
            }
            while e.len() < 1_048_000 - 200 {
                e.push_str(&format!("\"{}\",", "x".repeat(1000)));
            }
            e.push_str("0]}}}");
            e.into_bytes()
        }),
        // refused: 1 MiB of nested arrays 64 deep (~150 MiB as values)
        "event-1MiB-nested-arrays-64-deep" => (event, {
            let mut e = "[".to_owned();
            while e.len() < 1_048_000 {
                e.push_str(&format!("{}1{},", "[".repeat(62), "]".repeat(62)));
            }
            e.push_str("0]");
            e.into_bytes()
        }),
        "event-1MiB-nested-500000-deep" => (
            event,
            format!("{}{}", "[".repeat(500_000), "]".repeat(500_000)).into_bytes(),
        ),
        _ => return None,
    })
}

const CASES: [&str; 11] = [
    "template-flat-flow-sequence-at-the-node-limit",
    "template-flow-depth-64-at-the-node-limit",
    "template-1MiB-flat-flow-sequence",
    "template-1MiB-block-depth-60",
    "template-500-resources",
    "template-200000-nested-flow-sequences",
    "template-1MiB-alias-expansion",
    "template-1MiB-plus-one",
    "event-1MiB-at-the-depth-and-container-limits",
    "event-1MiB-nested-arrays-64-deep",
    "event-1MiB-nested-500000-deep",
];

fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

fn run_one(name: &str) {
    let Some((kind, input)) = case(name) else {
        eprintln!("no case {name}");
        std::process::exit(2);
    };
    let before = peak_rss_mib();
    let mut best = f64::MAX;
    let mut verdict = String::new();
    for _ in 0..3 {
        let started = Instant::now();
        verdict = match kind {
            "template" => match templates::validate(&input) {
                Ok(info) => format!("accepted ({} resources)", info.resources),
                Err(e) => format!("refused: {e}"),
            },
            _ => {
                let event = lambda_glue::raw_event::event_from_body(&input);
                match events::parse(&event, "123456789012", "us-east-1") {
                    events::Parsed::Work(w) => format!("work: {w:?}"),
                    events::Parsed::Ignore(why) => {
                        format!("ignored: {}", why.chars().take(80).collect::<String>())
                    }
                }
            }
        };
        best = best.min(started.elapsed().as_secs_f64() * 1e3);
    }
    let line = serde_json::json!({
        "case": name, "bytes": input.len(), "verdict": verdict, "ms": (best * 10.0).round() / 10.0,
        "peak_rss_mib": (peak_rss_mib() * 10.0).round() / 10.0,
        "input_rss_mib": (before * 10.0).round() / 10.0,
    });
    println!("{line}");
}

fn main() {
    match std::env::args().nth(1) {
        Some(name) => run_one(&name),
        None => {
            let me = std::env::current_exe().expect("the example's own path");
            for name in CASES {
                let status = Command::new(&me)
                    .arg(name)
                    .status()
                    .expect("the example runs");
                if !status.success() {
                    std::process::exit(1);
                }
            }
        }
    }
}
