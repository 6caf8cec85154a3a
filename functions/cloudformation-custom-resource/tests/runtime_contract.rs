//! The runtime's guarantees, each against a real local HTTP server standing in for the S3 response URL.
#![allow(clippy::unwrap_used)] // test support code: a failed setup should panic loudly

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cloudformation_custom_resource::{
    Answer, CustomResource, Outcome, Request, Settings, handle, physical_id,
};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::time::Instant;

// ---------------------------------------------------------------- a response URL that records every PUT

#[derive(Debug, Clone)]
struct Put {
    method: String,
    content_type: Option<String>,
    content_length: Option<usize>,
    body: Vec<u8>,
}

impl Put {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("response body is JSON")
    }
}

#[derive(Clone)]
struct Sink {
    url: String,
    puts: Arc<Mutex<Vec<Put>>>,
}

impl Sink {
    /// Answers the scripted statuses in order, then 200.
    async fn start(script: &[u16]) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!(
            "http://{}/cloudformation-response?X-Amz-Signature=SECRET",
            listener.local_addr().unwrap()
        );
        let puts = Arc::new(Mutex::new(Vec::new()));
        let script = Arc::new(Mutex::new(
            script.iter().copied().collect::<VecDeque<u16>>(),
        ));
        let recorded = puts.clone();
        tokio::spawn(async move {
            loop {
                let Ok((mut sock, _)) = listener.accept().await else {
                    return;
                };
                let (recorded, script) = (recorded.clone(), script.clone());
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 4096];
                    let header_end = loop {
                        let n = sock.read(&mut chunk).await.unwrap_or(0);
                        if n == 0 {
                            return;
                        }
                        buf.extend_from_slice(&chunk[..n]);
                        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                            break i + 4;
                        }
                    };
                    let head = String::from_utf8_lossy(&buf[..header_end]).to_string();
                    let header = |name: &str| {
                        head.lines().find_map(|l| {
                            let (k, v) = l.split_once(':')?;
                            k.eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
                        })
                    };
                    let content_length =
                        header("content-length").and_then(|v| v.parse::<usize>().ok());
                    while buf.len() < header_end + content_length.unwrap_or(0) {
                        let n = sock.read(&mut chunk).await.unwrap_or(0);
                        if n == 0 {
                            break;
                        }
                        buf.extend_from_slice(&chunk[..n]);
                    }
                    recorded.lock().unwrap().push(Put {
                        method: head.split(' ').next().unwrap_or("").to_owned(),
                        content_type: header("content-type"),
                        content_length,
                        body: buf[header_end..].to_vec(),
                    });
                    let status = script.lock().unwrap().pop_front().unwrap_or(200);
                    let reply = format!(
                        "HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                    );
                    let _ = sock.write_all(reply.as_bytes()).await;
                });
            }
        });
        Self { url, puts }
    }

    fn puts(&self) -> Vec<Put> {
        self.puts.lock().unwrap().clone()
    }

    /// The single response this invocation sent, checked against the protocol.
    fn only_response(&self, event: &Value) -> Value {
        let puts = self.puts();
        assert_eq!(
            puts.len(),
            1,
            "exactly one response per invocation, got {puts:?}"
        );
        check_contract(&puts[0], event)
    }
}

fn check_contract(put: &Put, event: &Value) -> Value {
    assert_eq!(put.method, "PUT");
    assert_eq!(
        put.content_type.as_deref().unwrap_or(""),
        "",
        "Content-Type must be empty"
    );
    assert_eq!(
        put.content_length,
        Some(put.body.len()),
        "exact Content-Length"
    );
    assert!(put.body.len() <= 4096, "body {} bytes", put.body.len());
    let r = put.json();
    for echoed in ["StackId", "RequestId", "LogicalResourceId"] {
        assert_eq!(r[echoed], event[echoed], "{echoed} echoed");
    }
    let id = r["PhysicalResourceId"]
        .as_str()
        .expect("PhysicalResourceId");
    assert!(!id.is_empty() && id.len() <= 1024);
    match r["Status"].as_str() {
        Some("SUCCESS") => {}
        Some("FAILED") => assert!(
            !r["Reason"].as_str().unwrap_or("").is_empty(),
            "FAILED needs a Reason"
        ),
        other => panic!("bad Status {other:?}"),
    }
    r
}

// ---------------------------------------------------------------- a handler whose behaviour each test sets

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct Props {
    behaviour: String,
    #[serde(default)]
    size: usize,
}

#[derive(Default)]
struct Scripted {
    calls: AtomicUsize,
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct ScriptedError(String);

impl Scripted {
    async fn act(&self, p: &Props) -> Result<Outcome, ScriptedError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        match p.behaviour.as_str() {
            "ok" => Ok(Outcome::default().with("Answer", "42")),
            "replace" => Ok(Outcome::default().replacing()),
            "fail" => Err(ScriptedError(
                "AccessDenied: not allowed to iam:PutRolePolicy".into(),
            )),
            "long-reason" => Err(ScriptedError(format!("START{}END", "x".repeat(p.size)))),
            "big-data" => Ok(Outcome::default().with("Blob", "d".repeat(p.size))),
            "secret" => Ok(Outcome {
                no_echo: true,
                ..Outcome::default()
            }
            .with("Password", "hunter2")),
            "panic" => panic!("boom in handler"),
            "hang" => {
                tokio::time::sleep(Duration::from_secs(3600)).await;
                Ok(Outcome::default())
            }
            other => Err(ScriptedError(format!("unknown behaviour {other}"))),
        }
    }
}

impl CustomResource for Scripted {
    type Properties = Props;
    type Error = ScriptedError;
    async fn create(&self, _: &Request, p: &Props) -> Result<Outcome, ScriptedError> {
        self.act(p).await
    }
    async fn update(&self, _: &Request, _: &Props, p: &Props) -> Result<Outcome, ScriptedError> {
        self.act(p).await
    }
    async fn delete(&self, _: &Request, p: &Props) -> Result<Outcome, ScriptedError> {
        self.act(p).await
    }
}

const STACK: &str = "arn:aws:cloudformation:us-east-1:123456789012:stack/demo/abc";

fn event(sink: &Sink, request_type: &str, props: Value) -> Value {
    json!({
        "RequestType": request_type,
        "ResponseURL": sink.url,
        "StackId": STACK,
        "RequestId": "req-1",
        "LogicalResourceId": "Thing",
        "ResourceType": "Custom::Thing",
        "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:f",
        "ResourceProperties": props,
    })
}

fn settings() -> Settings {
    let mut s = Settings::default()
        .allowing_loopback(true)
        .with_headroom(Duration::from_millis(300));
    s.sender.base_delay = Duration::from_millis(5);
    s
}

async fn invoke(handler: &Arc<Scripted>, ev: Value, budget: Duration) -> Result<Value, String> {
    handle(handler.clone(), ev, Instant::now() + budget, &settings())
        .await
        .map(|answer| serde_json::to_value(answer).expect("an answer is JSON"))
        .map_err(|e| e.to_string())
}

fn props(behaviour: &str) -> Value {
    json!({"ServiceToken": "arn", "Behaviour": behaviour})
}

/// `h` invoked once with a `kind` request of `properties` (then `edit`ed), within 10 s: the one response the
/// ResponseURL got.
async fn respond(
    h: &Arc<Scripted>,
    kind: &str,
    properties: Value,
    edit: impl FnOnce(&mut Value),
) -> Value {
    let sink = Sink::start(&[]).await;
    let mut ev = event(&sink, kind, properties);
    edit(&mut ev);
    invoke(h, ev.clone(), Duration::from_secs(10))
        .await
        .unwrap();
    sink.only_response(&ev)
}

// ---------------------------------------------------------------- the guarantees

#[tokio::test]
async fn create_answers_success_once_with_a_deterministic_id_and_data() {
    let h = Arc::new(Scripted::default());
    let r = respond(&h, "Create", props("ok"), |_| {}).await;
    assert_eq!(r["Status"], "SUCCESS");
    assert_eq!(
        r["PhysicalResourceId"],
        physical_id::on_create(STACK, "Thing")
    );
    assert_eq!(r["Data"], json!({"Answer": "42"}));
}

#[tokio::test]
async fn a_replayed_create_answers_the_same_id() {
    let h = Arc::new(Scripted::default());
    let mut ids = Vec::new();
    for _ in 0..5 {
        let r = respond(&h, "Create", props("ok"), |_| {}).await;
        ids.push(r["PhysicalResourceId"].clone());
    }
    ids.dedup();
    assert_eq!(ids.len(), 1);
}

#[tokio::test]
async fn a_handler_error_is_a_failed_create_with_the_sentinel_id_and_the_error_as_reason() {
    let h = Arc::new(Scripted::default());
    let r = respond(&h, "Create", props("fail"), |_| {}).await;
    assert_eq!(r["Status"], "FAILED");
    assert_eq!(
        r["Reason"],
        "AccessDenied: not allowed to iam:PutRolePolicy"
    );
    assert_eq!(
        r["PhysicalResourceId"],
        physical_id::sentinel(STACK, "Thing")
    );
}

#[tokio::test]
async fn a_panic_is_answered_failed() {
    let h = Arc::new(Scripted::default());
    let r = respond(&h, "Create", props("panic"), |_| {}).await;
    assert_eq!(r["Status"], "FAILED");
    assert_eq!(r["Reason"], "the handler panicked: boom in handler");
}

#[tokio::test]
async fn the_watchdog_answers_before_the_deadline_when_the_handler_hangs() {
    let sink = Sink::start(&[]).await;
    let h = Arc::new(Scripted::default());
    let ev = event(&sink, "Update", props("hang"));
    let mut ev = ev;
    ev["PhysicalResourceId"] = json!("Thing-g0-kept");
    ev["OldResourceProperties"] = props("ok");
    let budget = Duration::from_millis(1500);
    let started = Instant::now();
    invoke(&h, ev.clone(), budget).await.unwrap();
    assert!(started.elapsed() < budget, "answered within the deadline");
    let r = sink.only_response(&ev);
    assert_eq!(r["Status"], "FAILED");
    assert!(
        r["Reason"].as_str().unwrap().starts_with("timed out"),
        "{r}"
    );
    assert_eq!(
        r["PhysicalResourceId"], "Thing-g0-kept",
        "a failed update keeps its id"
    );
}

#[tokio::test]
async fn an_oversized_reason_is_cut_to_fit_keeping_head_and_tail() {
    // Size arrives as a string, like every CloudFormation scalar: this also proves type errors are answered
    let h = Arc::new(Scripted::default());
    let r = respond(
        &h,
        "Create",
        json!({"Behaviour": "long-reason", "Size": "20000"}),
        |_| {},
    )
    .await;
    assert_eq!(
        r["Reason"],
        "ResourceProperties.Size: invalid type: string \"20000\", expected usize"
    );

    let r = respond(
        &h,
        "Create",
        json!({"Behaviour": "long-reason", "Size": 20000}),
        |_| {},
    )
    .await;
    let reason = r["Reason"].as_str().unwrap();
    assert!(reason.starts_with("START") && reason.ends_with("END") && reason.contains("bytes cut"));
}

#[tokio::test]
async fn oversized_data_is_answered_failed_within_the_limit() {
    let h = Arc::new(Scripted::default());
    let r = respond(
        &h,
        "Create",
        json!({"Behaviour": "big-data", "Size": 8000}),
        |_| {},
    )
    .await;
    assert_eq!(r["Status"], "FAILED");
    assert!(
        r["Reason"]
            .as_str()
            .unwrap()
            .contains("must fit in 4096 bytes")
    );
}

#[tokio::test]
async fn no_echo_is_passed_on() {
    let h = Arc::new(Scripted::default());
    assert_eq!(
        respond(&h, "Create", props("secret"), |_| {}).await["NoEcho"],
        true
    );
}

#[tokio::test]
async fn server_errors_are_retried_until_delivered() {
    let sink = Sink::start(&[503, 500]).await;
    let h = Arc::new(Scripted::default());
    let ev = event(&sink, "Create", props("ok"));
    let summary = invoke(&h, ev.clone(), Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(summary["Attempts"], 3);
    let puts = sink.puts();
    assert_eq!(puts.len(), 3);
    let bodies: Vec<Value> = puts.iter().map(|p| check_contract(p, &ev)).collect();
    assert!(
        bodies.windows(2).all(|w| w[0] == w[1]),
        "every retry carries the same response"
    );
    assert_eq!(
        h.calls.load(Ordering::SeqCst),
        1,
        "retrying delivery does not redo the work"
    );
}

#[tokio::test]
async fn a_client_error_is_final_and_rejected_without_a_retry() {
    let sink = Sink::start(&[403]).await;
    let h = Arc::new(Scripted::default());
    let ev = event(&sink, "Create", props("ok"));
    // not an Err: Lambda would run the handler (a seed build…) again, only to be refused the same way
    let out = invoke(&h, ev.clone(), Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(
        out["Rejected"],
        "the response URL answered HTTP 403 (final, not retried)"
    );
    assert_eq!(sink.puts().len(), 1);
}

#[tokio::test]
async fn an_unreachable_response_url_gives_up_before_the_deadline() {
    // a port nothing listens on
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/x", listener.local_addr().unwrap());
    drop(listener);
    let h = Arc::new(Scripted::default());
    let ev = json!({"RequestType": "Create", "ResponseURL": url, "StackId": STACK, "RequestId": "r",
                    "LogicalResourceId": "Thing", "ResourceProperties": {"Behaviour": "ok"}});
    let budget = Duration::from_secs(2);
    let started = Instant::now();
    let err = invoke(&h, ev, budget).await.unwrap_err();
    assert!(started.elapsed() <= budget + Duration::from_millis(200));
    assert!(
        err.starts_with("the response was not delivered after"),
        "{err}"
    );
}

type Mutation = Box<dyn Fn(&mut Value)>;

#[tokio::test]
async fn malformed_events_get_one_failed_response_naming_the_problem() {
    let cases: Vec<(&str, Mutation, &str)> = vec![
        (
            "no RequestType",
            Box::new(|e| {
                e.as_object_mut().unwrap().remove("RequestType");
            }),
            "RequestType is missing; expected one of Create, Update, Delete",
        ),
        (
            "unknown RequestType",
            Box::new(|e| e["RequestType"] = json!("Upsert")),
            "RequestType \"Upsert\" is not one of Create, Update, Delete",
        ),
        (
            "properties not an object",
            Box::new(|e| e["ResourceProperties"] = json!("Behaviour=ok")),
            "ResourceProperties must be a JSON object of properties, got a string",
        ),
        (
            "missing property",
            Box::new(|e| e["ResourceProperties"] = json!({"ServiceToken": "x"})),
            "ResourceProperties: missing field `Behaviour`",
        ),
        (
            "unknown property",
            Box::new(|e| e["ResourceProperties"]["Behavior"] = json!("typo")),
            "ResourceProperties.Behavior: unknown field `Behavior`, expected `Behaviour` or `Size`",
        ),
        (
            "wrong type",
            Box::new(|e| e["ResourceProperties"]["Behaviour"] = json!(["ok"])),
            "ResourceProperties.Behaviour: invalid type: sequence, expected a string",
        ),
        (
            "update without old properties' field",
            Box::new(|e| {
                e["RequestType"] = json!("Update");
                e["PhysicalResourceId"] = json!("Thing-g0-x");
                e["OldResourceProperties"] = json!({});
            }),
            "OldResourceProperties: missing field `Behaviour`",
        ),
        (
            "update without a physical id",
            Box::new(|e| e["RequestType"] = json!("Update")),
            "PhysicalResourceId is missing from an Update request",
        ),
    ];
    for (name, mutate, reason) in cases {
        let h = Arc::new(Scripted::default());
        let r = respond(&h, "Create", props("ok"), mutate).await;
        assert_eq!(r["Status"], "FAILED", "{name}");
        assert_eq!(r["Reason"], reason, "{name}");
        assert_eq!(
            h.calls.load(Ordering::SeqCst),
            0,
            "{name}: the handler never ran"
        );
    }
}

#[tokio::test]
async fn an_event_that_is_not_json_is_still_answered_when_its_coordinates_can_be_read() {
    let sink = Sink::start(&[]).await;
    let h = Arc::new(Scripted::default());
    // the text as CloudFormation writes it, in its order (not serde_json's, which sorts keys unless a crate in the
    // build turns on `preserve_order`), cut off after the coordinates
    let full = format!(
        r#"{{"RequestType":"Create","ServiceToken":"arn:aws:lambda:us-east-1:123456789012:function:f","ResponseURL":"{}","StackId":"{STACK}","RequestId":"req-1","LogicalResourceId":"Thing","ResourceType":"Custom::Thing","ResourceProperties":{{"Behaviour":"ok"}}}}"#,
        sink.url
    );
    let truncated = &full[..full.find("\"ResourceType\"").unwrap() + 10];
    let wrapped = json!({ cloudformation_custom_resource::raw_event::UNPARSEABLE: truncated });
    invoke(&h, wrapped, Duration::from_secs(10)).await.unwrap();
    let ev = event(&sink, "Create", props("ok"));
    let r = sink.only_response(&ev);
    assert_eq!(r["Status"], "FAILED");
    assert!(
        r["Reason"]
            .as_str()
            .unwrap()
            .starts_with("the event is not valid JSON (EOF while parsing"),
        "{r}"
    );
    assert_eq!(h.calls.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn events_that_cannot_be_answered_are_rejected_without_a_request() {
    let h = Arc::new(Scripted::default());
    for ev in [
        json!({"RequestType": "Create"}),
        json!(["not", "an", "object"]),
        json!({"RequestType": "Create", "ResponseURL": "https://attacker.example.com/x?sig=1"}),
        json!({"RequestType": "Create", "ResponseURL": "http://127.0.0.1:1/x"}),
    ] {
        let s = settings().allowing_loopback(false);
        let out = handle(
            h.clone(),
            ev.clone(),
            Instant::now() + Duration::from_secs(5),
            &s,
        )
        .await
        .unwrap();
        assert!(
            matches!(out, Answer::Rejected { response: None, .. }),
            "{ev} → {out:?}"
        );
    }
    assert_eq!(h.calls.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn delete_of_a_sentinel_or_foreign_id_succeeds_without_touching_anything() {
    let h = Arc::new(Scripted::default());
    for id in [
        physical_id::sentinel(STACK, "Thing"),
        "2026/11/29/[$LATEST]0123456789abcdef".to_owned(),
        physical_id::on_create(
            "arn:aws:cloudformation:us-east-1:123456789012:stack/other/1",
            "Thing",
        ),
    ] {
        let r = respond(&h, "Delete", props("fail"), |ev| {
            ev["PhysicalResourceId"] = json!(id)
        })
        .await;
        assert_eq!(r["Status"], "SUCCESS");
        assert_eq!(r["PhysicalResourceId"], json!(id));
    }
    assert_eq!(h.calls.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn delete_of_our_id_runs_the_handler_and_keeps_the_id() {
    let h = Arc::new(Scripted::default());
    let id = physical_id::on_create(STACK, "Thing");
    let r = respond(&h, "Delete", props("ok"), |ev| {
        ev["PhysicalResourceId"] = json!(id)
    })
    .await;
    assert_eq!(r["PhysicalResourceId"], json!(id));
    assert_eq!(h.calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn update_keeps_the_id_unless_the_handler_asks_for_replacement() {
    let h = Arc::new(Scripted::default());
    let old_id = physical_id::on_create(STACK, "Thing");
    for (behaviour, same) in [("ok", true), ("replace", false)] {
        let r = respond(&h, "Update", props(behaviour), |ev| {
            ev["PhysicalResourceId"] = json!(old_id);
            ev["OldResourceProperties"] = props("ok");
        })
        .await;
        let new_id = r["PhysicalResourceId"].as_str().unwrap().to_owned();
        assert_eq!(new_id == old_id, same, "{behaviour}");
        assert!(physical_id::is_ours(&new_id, STACK, "Thing"));
    }
}

#[test]
fn deadlines_are_read_as_epoch_millis_or_as_the_emulators_relative_timeout() {
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let left = |ms| {
        cloudformation_custom_resource::deadline_of(ms).saturating_duration_since(Instant::now())
    };
    assert!(
        left(now_ms + 30_000) > Duration::from_secs(29)
            && left(now_ms + 30_000) <= Duration::from_secs(30)
    );
    assert_eq!(
        left(now_ms - 5_000),
        Duration::ZERO,
        "a past deadline leaves no time"
    );
    let relative = left(600_000);
    assert!(relative > Duration::from_secs(599) && relative <= Duration::from_secs(600));
}
