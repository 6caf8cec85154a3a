"""`make load`: a benchmark, not a test — the real binaries under load on the embedded emulator.

1. N concurrent `Custom::ExecutionRolePolicies` Create invocations (default 200), one role each, all in flight at
   once, spread over S cargo-lambda routers with C function instances each (default 4 × 2): one cargo-lambda
   router deadlocks when about 100 invocations wait in it (its scheduler queue holds 100), so no router is given
   more than 64 at a time;
2. a burst of M S3 "Object Created" events (default 1,000) to the template tagger, for M uploads made first: all
   submitted at once, at most 64 in flight per router (the rest wait on the caller's side, and that wait counts
   in their latency).

Prints, per function: invocations, failures (any answer other than the expected one: must be 0), p50 / p99 /
max latency as the caller sees it (queueing included), throughput, and the peak resident memory (VmHWM) of the
function's instances. Writes the same to .run/load.json. No timing is asserted; it exits non-zero only when an
invocation failed. Loopback only; bounded in count and time.

    .venv/bin/python tests/load_run.py [--custom-resources 200] [--events 1000] [--routers 4] [--concurrency 2]
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import emulator as emu  # noqa: E402
from harness.buckets import create_template_bucket  # noqa: E402
from harness.functions import LOG_DIR, Functions, peak_rss_kib  # noqa: E402
from harness.fixtures import LAUNCH_ROLE_ARN, cr_event, make_role  # noqa: E402
from harness.sink import ResponseSink  # noqa: E402

ACCOUNT = "123456789012"
BUCKET = "sagemaker-projects-templates-123456789012"
VALID = b"""Parameters:
  SageMakerProjectName: {Type: String}
  SageMakerProjectId: {Type: String}
Resources:
  Topic: {Type: AWS::SNS::Topic}
"""
#: give up on the whole run after this long (the target is well under 5 minutes)
BUDGET_SECONDS = 280
#: invocations one cargo-lambda router is given at a time (it deadlocks at about 100)
ROUTER_IN_FLIGHT = 64


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))]


def memory_of(watches: Functions, binary: str) -> int:
    """Peak resident KiB over the running instances of `binary`."""
    pids = watches.processes().get(binary, [])
    return max((peak_rss_kib(p) for p in pids), default=0)


def summary(name: str, latencies: list[float], failures: int, wall: float, peak_kib: int) -> dict:
    return {"function": name, "invocations": len(latencies), "failures": failures,
            "p50_ms": round(statistics.median(latencies) * 1000, 1),
            "p99_ms": round(percentile(latencies, 99) * 1000, 1), "max_ms": round(max(latencies) * 1000, 1),
            "per_second": round(len(latencies) / wall, 1), "wall_s": round(wall, 1),
            "peak_rss_mib": round(peak_kib / 1024, 1)}


def progress(what: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {what}", file=sys.stderr, flush=True)


def timed(call):
    started = time.monotonic()
    try:
        out = call()
    except Exception as e:  # noqa: BLE001 - a failure to count, not to crash the run
        out = {"exception": repr(e)}
    return time.monotonic() - started, out


def routers(watches: Functions, count: int, env: dict | None = None) -> list:
    """`count` distinct routers (a distinct environment makes a distinct watch), each warmed to one instance."""
    return [watches.watch({**(env or {}), "LOAD_ROUTER": str(i)}) for i in range(count)]


def spread(calls: list, watches_: list, per_router: int) -> list:
    """Runs calls[i](watch) on router i % len(watches_), at most `per_router` at a time on each, all submitted
    at once; returns (seconds, answer) per call, in order."""
    gates = [threading.Semaphore(per_router) for _ in watches_]

    def run(i):
        started = time.monotonic()
        with gates[i % len(watches_)]:
            _, out = timed(lambda: calls[i](watches_[i % len(watches_)]))
        return time.monotonic() - started, out

    with ThreadPoolExecutor(max_workers=min(len(calls), per_router * len(watches_))) as pool:
        return list(pool.map(run, range(len(calls))))


def custom_resources(e, watches: Functions, sink: ResponseSink, n: int, router_count: int) -> dict:
    iam = e.client("iam")
    roles = [make_role(iam, f"LoadRole{i:04d}") for i in range(n)]
    progress(f"{n} roles made")
    shards = routers(watches, router_count)
    for watch in shards:  # warm: one instance up per router (its start is not what this measures)
        warm, _ = sink.address(cr_event("Custom::ExecutionRolePolicies", {}, "Delete",
                                        stack="arn:aws:cloudformation:us-east-1:1:stack/w/1", logical="W",
                                        request_id="w", physical_id="not-ours"))
        watch.invoke("execution-role-policies", warm)
    events = []
    for i, role in enumerate(roles):
        ev = cr_event("Custom::ExecutionRolePolicies",
                      {"ExecutionRoles": [role], "LaunchRoleArn": LAUNCH_ROLE_ARN, "TemplateBucket": BUCKET,
                       "TemplatePrefix": "templates/"},
                      stack=f"arn:aws:cloudformation:us-east-1:{ACCOUNT}:stack/load{i}/{uuid.uuid4()}",
                      logical="RolePolicies")
        events.append(sink.address(ev))
    per_router = -(-n // router_count)
    if per_router > ROUTER_IN_FLIGHT:
        raise SystemExit(f"{n} invocations need at least {-(-n // ROUTER_IN_FLIGHT)} routers")
    progress(f"{n} custom-resource invocations at once over {router_count} routers")
    started = time.monotonic()
    results = spread([lambda w, ev=ev: w.invoke("execution-role-policies", ev, timeout=120) for ev, _ in events],
                     shards, per_router)
    wall = time.monotonic() - started
    failures = 0
    for (_, token), (_, out) in zip(events, results):
        puts = sink.responses(token)
        failures += len(puts) != 1 or puts[0].json().get("Status") != "SUCCESS"
    granted = sum(len(iam.list_role_policies(RoleName=f"LoadRole{i:04d}")["PolicyNames"]) == 3 for i in range(n))
    failures += n - granted
    return summary("execution-role-policies", [t for t, _ in results], failures, wall,
                   memory_of(watches, "execution-role-policies"))


def tagger_burst(e, watches: Functions, m: int, router_count: int) -> dict:
    s3 = e.client("s3")
    create_template_bucket(s3, BUCKET)
    env = {"TEMPLATE_BUCKET": BUCKET, "TEMPLATE_PREFIX": "uploads/"}
    events = []
    for i in range(m):
        key = f"uploads/t{i:05d}.yaml"
        put = s3.put_object(Bucket=BUCKET, Key=key, Body=VALID if i % 4 else b"Resources: {}\n")
        events.append({"version": "0", "id": str(uuid.uuid4()), "detail-type": "Object Created", "source": "aws.s3",
                       "account": ACCOUNT, "time": "2026-11-29T12:00:00Z", "region": "us-east-1",
                       "resources": [f"arn:aws:s3:::{BUCKET}"],
                       "detail": {"version": "0", "bucket": {"name": BUCKET},
                                  "object": {"key": key, "size": 1, "etag": put["ETag"].strip('"'),
                                             "version-id": put["VersionId"], "sequencer": "00"},
                                  "request-id": "R", "requester": ACCOUNT, "reason": "PutObject"}})
    progress(f"{m} uploads made")
    shards = routers(watches, router_count, env)
    for watch in shards:
        watch.invoke("template-tagger", {"warm": True})
    progress(f"{m} events in a burst over {router_count} routers")
    started = time.monotonic()
    results = spread([lambda w, ev=ev: w.invoke("template-tagger", ev, timeout=120) for ev in events], shards,
                     ROUTER_IN_FLIGHT)
    wall = time.monotonic() - started
    failures = sum("Visible" not in out for _, out in results)
    return summary("template-tagger", [t for t, _ in results], failures, wall, memory_of(watches, "template-tagger"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--custom-resources", type=int, default=200)
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--routers", type=int, default=4, help="cargo lambda watch processes")
    parser.add_argument("--concurrency", type=int, default=2, help="instances per function per router")
    args = parser.parse_args()

    started = time.monotonic()
    e = emu.start()
    sink = ResponseSink()
    watches = Functions({**e.child_env(), "CFN_RESPONSE_ALLOW_LOOPBACK": "true", "AWS_LAMBDA_LOG_LEVEL": "warn",
                       "CUSTOM_RESOURCE_BOUNDS": "off"},
                      name="load", instances=args.concurrency)
    rows = []
    try:
        rows.append(custom_resources(e, watches, sink, args.custom_resources, args.routers))
        if time.monotonic() - started < BUDGET_SECONDS:
            rows.append(tagger_burst(e, watches, args.events, args.routers))
    finally:
        watches.stop()
        sink.stop()
        e.stop()
    print(f"\nload run: {args.routers} cargo-lambda routers × {args.concurrency} instances per function, "
          f"{time.monotonic() - started:.0f} s in all")
    header = f"{'function':<26}{'invocations':>12}{'failures':>10}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}{'per s':>8}{'peak MiB':>10}"
    print(header)
    for r in rows:
        print(f"{r['function']:<26}{r['invocations']:>12}{r['failures']:>10}{r['p50_ms']:>9}{r['p99_ms']:>9}"
              f"{r['max_ms']:>9}{r['per_second']:>8}{r['peak_rss_mib']:>10}")
    if sink.violations:
        print(f"response sink: {len(sink.violations)} contract violations, e.g. {sink.violations[0]}")
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    (LOG_DIR.parent / "load.json").write_text(json.dumps({"routers": args.routers, "concurrency": args.concurrency, "results": rows}, indent=2))
    return 1 if any(r["failures"] for r in rows) or sink.violations else 0


if __name__ == "__main__":
    sys.exit(main())
