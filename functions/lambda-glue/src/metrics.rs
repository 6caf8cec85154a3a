//! CloudWatch metrics as Embedded Metric Format (EMF) log lines: one JSON line per invocation on stdout, which
//! CloudWatch Logs turns into metrics: no PutMetricData call, no permission, no extra latency.
//!
//! Code anywhere records with [`count`] or [`seconds`]; [`crate::run`] writes what the invocation recorded
//! with [`flush`] once its handler has returned. Everything goes to namespace [`NAMESPACE`] with one dimension set,
//! `[Stack, Function]`: `Stack` from `STACK_NAME` (the bootstrap stack sets it; left out when unset) and
//! `Function` from `_HANDLER` (Lambda sets it to the function's Handler, our binary name), else
//! `AWS_LAMBDA_FUNCTION_NAME`. The metric names are the constants below; README "Metrics and alarms".
//!
//! Why not a crate: `metrics_cloudwatch_embedded` (Apache-2.0, on the `metrics` facade) works through a
//! process-global recorder whose Lambda integration pulls in `lambda_http`; these few counters need neither,
//! and a recorder that a test can scope ([`capture`]) keeps the unit tests parallel.

use std::collections::BTreeMap;
use std::future::Future;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Map, Value};

/// The one CloudWatch namespace of the product.
pub const NAMESPACE: &str = "SageMakerProjectsBootstrap";

// template-publisher (Custom::ProjectTemplates)
pub const TEMPLATES_WRITTEN: &str = "TemplatesWritten";
pub const TEMPLATES_UNCHANGED: &str = "TemplatesUnchanged";
pub const TEMPLATES_REMOVED: &str = "TemplatesRemoved";
// template-tagger
pub const TEMPLATES_ACCEPTED: &str = "TemplatesAccepted";
pub const TEMPLATES_REJECTED: &str = "TemplatesRejected";
// execution-role-policies and domain-onboarder
pub const ROLES_GRANTED: &str = "RolesGranted";
// domain-onboarder
pub const DOMAINS_ONBOARDED: &str = "DomainsOnboarded";
pub const PROJECTS_CREATED: &str = "ProjectsCreated";
pub const RECHECKS_WAITING: &str = "RechecksWaiting";
pub const DOMAINS_ABANDONED: &str = "DomainsAbandoned";
/// Records the onboarder left in its dead-letter queue with their last error.
pub const EVENTS_DEAD_LETTERED: &str = "EventsDeadLettered";
pub const SWEEP_DURATION: &str = "SweepDuration";
pub const SWEEP_FAILURES: &str = "SweepFailures";
// every custom-resource function (the runtime's answer)
pub const CUSTOM_RESOURCE_SUCCEEDED: &str = "CustomResourceSucceeded";
pub const CUSTOM_RESOURCE_FAILED: &str = "CustomResourceFailed";

/// The units this product uses (a subset of CloudWatch's `StandardUnit`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    Count,
    Seconds,
}

impl Unit {
    pub fn as_str(self) -> &'static str {
        match self {
            Unit::Count => "Count",
            Unit::Seconds => "Seconds",
        }
    }
}

/// Values recorded since the last flush, by metric name: counts add up, a duration keeps the last value.
#[derive(Clone, Debug, Default)]
pub struct Recorder {
    values: Arc<Mutex<BTreeMap<&'static str, (f64, Unit)>>>,
}

impl Recorder {
    pub fn add(&self, name: &'static str, value: f64, unit: Unit) {
        if let Ok(mut v) = self.values.lock() {
            let entry = v.entry(name).or_insert((0.0, unit));
            match unit {
                Unit::Count => entry.0 += value,
                Unit::Seconds => entry.0 = value,
            }
        }
    }

    /// What was recorded, emptied.
    pub fn take(&self) -> BTreeMap<&'static str, (f64, Unit)> {
        self.values
            .lock()
            .map(|mut v| std::mem::take(&mut *v))
            .unwrap_or_default()
    }
}

tokio::task_local! {
    static SCOPED: Recorder;
}

static GLOBAL: Mutex<Option<Recorder>> = Mutex::new(None);

fn global() -> Recorder {
    GLOBAL
        .lock()
        .map(|mut g| g.get_or_insert_with(Recorder::default).clone())
        .unwrap_or_default()
}

fn record(name: &'static str, value: f64, unit: Unit) {
    // inside `capture` (tests) the scoped recorder; otherwise the process's (one invocation at a time)
    if SCOPED.try_with(|r| r.add(name, value, unit)).is_err() {
        global().add(name, value, unit);
    }
}

/// Adds `n` to a count metric of this invocation.
pub fn count(name: &'static str, n: usize) {
    record(name, n as f64, Unit::Count);
}

/// Sets a duration metric of this invocation, in seconds.
pub fn seconds(name: &'static str, value: f64) {
    record(name, value, Unit::Seconds);
}

/// Runs `f` with its own recorder and returns what it recorded (for tests; the task's own code only —
/// a `tokio::spawn`ed task records into the process's recorder).
pub async fn capture<F: Future>(f: F) -> (F::Output, BTreeMap<&'static str, (f64, Unit)>) {
    let recorder = Recorder::default();
    let out = SCOPED.scope(recorder.clone(), f).await;
    (out, recorder.take())
}

/// The dimensions of this process: `Stack` (when `STACK_NAME` is set) and `Function`.
pub fn dimensions(env: impl Fn(&str) -> Option<String>) -> Vec<(&'static str, String)> {
    let mut dims = Vec::new();
    if let Some(stack) = env("STACK_NAME").filter(|s| !s.is_empty()) {
        dims.push(("Stack", stack));
    }
    let function = env("_HANDLER")
        .or_else(|| env("AWS_LAMBDA_FUNCTION_NAME"))
        .filter(|f| !f.is_empty())
        .unwrap_or_else(|| "unknown".to_owned());
    dims.push(("Function", function));
    dims
}

/// One EMF document: `_aws` metadata plus every dimension and metric value at the top level.
pub fn document(
    values: &BTreeMap<&'static str, (f64, Unit)>,
    dimensions: &[(&'static str, String)],
    timestamp_ms: u64,
) -> Value {
    let metrics: Vec<Value> = values
        .iter()
        .map(|(name, (_, unit))| json!({"Name": name, "Unit": unit.as_str()}))
        .collect();
    let keys: Vec<&str> = dimensions.iter().map(|(k, _)| *k).collect();
    let mut doc = Map::new();
    doc.insert(
        "_aws".to_owned(),
        json!({
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{"Namespace": NAMESPACE, "Dimensions": [keys], "Metrics": metrics}],
        }),
    );
    for (k, v) in dimensions {
        doc.insert((*k).to_owned(), json!(v));
    }
    for (name, (value, _)) in values {
        doc.insert((*name).to_owned(), json!(value));
    }
    Value::Object(doc)
}

/// Writes what this invocation recorded as one EMF line on stdout (nothing when nothing was recorded).
pub fn flush() {
    let values = global().take();
    if values.is_empty() {
        return;
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    let dims = dimensions(|k| std::env::var(k).ok());
    let mut line = document(&values, &dims, now).to_string();
    line.push('\n');
    // one write: the line must not interleave with a log line
    let _ = std::io::stdout().lock().write_all(line.as_bytes());
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// The EMF specification's rules, as the Python integration tests check them too (tests/harness/emf.py).
    fn check_emf(doc: &Value) -> Result<(), String> {
        let aws = doc.get("_aws").ok_or("no _aws")?;
        aws.get("Timestamp")
            .and_then(Value::as_u64)
            .ok_or("_aws.Timestamp is not a whole number of milliseconds")?;
        let directives = aws
            .get("CloudWatchMetrics")
            .and_then(Value::as_array)
            .ok_or("no CloudWatchMetrics array")?;
        for d in directives {
            let ns = d["Namespace"].as_str().ok_or("no Namespace")?;
            if ns.is_empty() || ns.len() > 255 {
                return Err(format!("bad Namespace {ns:?}"));
            }
            for set in d["Dimensions"].as_array().ok_or("no Dimensions")? {
                let set = set.as_array().ok_or("a dimension set is not an array")?;
                if set.len() > 30 {
                    return Err("more than 30 dimensions in a set".into());
                }
                for k in set {
                    let k = k.as_str().ok_or("a dimension key is not a string")?;
                    if !doc.get(k).is_some_and(Value::is_string) {
                        return Err(format!("dimension {k} is not a string at the top level"));
                    }
                }
            }
            let metrics = d["Metrics"].as_array().ok_or("no Metrics")?;
            if metrics.len() > 100 {
                return Err("more than 100 metrics".into());
            }
            for m in metrics {
                let name = m["Name"].as_str().ok_or("a metric without Name")?;
                if !doc.get(name).is_some_and(Value::is_number) {
                    return Err(format!("metric {name} has no number at the top level"));
                }
                let unit = m["Unit"].as_str().unwrap_or("None");
                if !["Count", "Seconds", "Milliseconds", "None"].contains(&unit) {
                    return Err(format!("unit {unit}"));
                }
            }
        }
        Ok(())
    }

    #[test]
    fn a_document_follows_the_emf_specification() {
        let r = Recorder::default();
        r.add(TEMPLATES_WRITTEN, 2.0, Unit::Count);
        r.add(TEMPLATES_WRITTEN, 3.0, Unit::Count);
        r.add(SWEEP_DURATION, 1.5, Unit::Seconds);
        let dims = vec![("Stack", "boot".to_owned()), ("Function", "f".to_owned())];
        let doc = document(&r.take(), &dims, 1_700_000_000_000);
        check_emf(&doc).unwrap();
        assert_eq!(doc["TemplatesWritten"], json!(5.0));
        assert_eq!(doc["SweepDuration"], json!(1.5));
        assert_eq!(
            doc["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([["Stack", "Function"]])
        );
        assert_eq!(
            doc["_aws"]["CloudWatchMetrics"][0]["Namespace"],
            "SageMakerProjectsBootstrap"
        );
        assert!(r.take().is_empty(), "take empties the recorder");
    }

    #[test]
    fn the_checker_refuses_what_cloudwatch_would_drop() {
        let dims = vec![("Function", "f".to_owned())];
        let mut values = BTreeMap::new();
        values.insert(ROLES_GRANTED, (1.0, Unit::Count));
        let good = document(&values, &dims, 1);
        let mut no_value = good.clone();
        no_value.as_object_mut().unwrap().remove("RolesGranted");
        assert!(check_emf(&no_value).unwrap_err().contains("RolesGranted"));
        let mut no_dim = good.clone();
        no_dim.as_object_mut().unwrap().remove("Function");
        assert!(check_emf(&no_dim).unwrap_err().contains("Function"));
        let mut no_ts = good;
        no_ts["_aws"]["Timestamp"] = json!("now");
        assert!(check_emf(&no_ts).is_err());
    }

    #[test]
    fn dimensions_name_the_stack_and_the_handler() {
        let env = |vars: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                vars.iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| (*v).to_owned())
            }
        };
        assert_eq!(
            dimensions(env(&[
                ("STACK_NAME", "boot"),
                ("_HANDLER", "domain-onboarder"),
                ("AWS_LAMBDA_FUNCTION_NAME", "boot-DomainOnboarderFunction-X")
            ])),
            vec![
                ("Stack", "boot".to_owned()),
                ("Function", "domain-onboarder".to_owned())
            ]
        );
        assert_eq!(
            dimensions(env(&[("AWS_LAMBDA_FUNCTION_NAME", "template-tagger")])),
            vec![("Function", "template-tagger".to_owned())]
        );
    }

    #[tokio::test]
    async fn capture_keeps_a_tasks_metrics_apart() {
        let ((), got) = capture(async {
            count(PROJECTS_CREATED, 1);
            count(PROJECTS_CREATED, 1);
        })
        .await;
        assert_eq!(got.get(PROJECTS_CREATED), Some(&(2.0, Unit::Count)));
    }
}
