"""`make bench`: our functions against the embedded emulator, beside a Python peer, the seed's AWS CLI loop and
a raw-HTTP floor. Prints a table of ratios; writes bench/results/bench.json and bench/results/bench.svg.

Benchmarks, not tests: nothing here asserts a timing. The run fails (non-zero) only when something broke — a
function answered FAILED, a process died, a tool is missing. What each number means: bench/README.md.

    .venv/bin/python bench/run.py [--quick] [--only cold,warm,publish,sweep,requests,artifacts,latency,bounds]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
sys.path[:0] = [str(ROOT / "tests"), str(BENCH)]

from benchlib import counter, report  # noqa: E402
from benchlib.runtime_api import FunctionProcess, plain_env  # noqa: E402
from harness import emulator as emu  # noqa: E402
from harness import ext_sagemaker_domains  # noqa: E402
from harness.buckets import create_template_bucket  # noqa: E402
from harness.sink import ResponseSink  # noqa: E402

RELEASE = ROOT / "target" / "release"
DEBUG = ROOT / "target" / "debug"
PEER_PY = BENCH / ".venvs" / "peer" / "bin" / "python"
AWS_CLI = ROOT / ".venv-awscli" / "bin" / "aws"
WORK = BENCH / ".work"
LOGS = WORK / "logs"
RESULTS = BENCH / "results"
TEMPLATES = ROOT / "templates"

ACCOUNT = "123456789012"
BUCKET = "sagemaker-projects-templates-123456789012"
PREFIX = "templates/"
STACK = f"arn:aws:cloudformation:us-east-1:{ACCOUNT}:stack/bootstrap/0b5e7c1e-bench"
LAUNCH = f"arn:aws:iam::{ACCOUNT}:role/AmazonSageMakerProjectsLaunchRole"
TRUST = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "sagemaker.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
DEPLOY_PARAMS = {
    "SourceModelPackageGroupName": "models",
    "CodeConnectionArn": f"arn:aws:codeconnections:us-east-1:{ACCOUNT}:connection/0a1b2c3d-1111-2222-3333-444455556666",
    "ModelDeployCodeRepositoryFullname": "acme/model-deploy",
}
ONBOARDER_ENV = {
    "LAUNCH_ROLE_ARN": LAUNCH, "TEMPLATE_BUCKET": BUCKET, "TEMPLATE_PREFIX": PREFIX,
    "DEFAULT_TEMPLATE": "deploy-codepipeline", "DEFAULT_TEMPLATE_PARAMETERS": json.dumps(DEPLOY_PARAMS),
    "POLICY_OWNER": "bench-onboarder",
}
VISIBLE = "sagemaker%3Astudio-visibility=true&sagemaker-projects-bootstrap%3Apublished-by=setup00000"


class TimedSink(ResponseSink):
    """The harness's response sink (every PUT contract-checked), stamping when each response arrived."""

    def __init__(self):
        self.put_times: dict[str, float] = {}
        super().__init__()

    def _record(self, path, put):
        self.put_times.setdefault(path.split("?")[0].rsplit("/", 1)[-1], time.perf_counter())
        super()._record(path, put)


def median(xs):
    return statistics.median(xs) if xs else None


def spread(xs):
    """min, p25, median, p75, max — the distribution, not just a centre."""
    if not xs:
        return None
    s = sorted(xs)
    q = statistics.quantiles(s, n=4, method="inclusive") if len(s) > 1 else [s[0]] * 3
    return {"n": len(s), "min": s[0], "p25": q[0], "median": q[1], "p75": q[2], "max": s[-1]}


class Broken(RuntimeError):
    """Something failed that a benchmark must not paper over."""


# ------------------------------------------------------------------------------------------- the worlds


def world_publisher(aws):
    create_template_bucket(aws.client("s3"), BUCKET)


def world_role_policies(aws):
    aws.client("iam").create_role(RoleName="TeamExecutionRole", Path="/service-role/", AssumeRolePolicyDocument=TRUST)


def publish_templates_for_setup(aws):
    s3 = aws.client("s3")
    create_template_bucket(s3, BUCKET)
    for p in sorted(TEMPLATES.glob("*.yaml")):
        s3.put_object(Bucket=BUCKET, Key=PREFIX + p.name, Body=p.read_bytes(), Tagging=VISIBLE)


def world_onboarder(aws, domains=1):
    publish_templates_for_setup(aws)
    role = aws.client("iam").create_role(RoleName="SharedExecutionRole", Path="/service-role/",
                                         AssumeRolePolicyDocument=TRUST)["Role"]["Arn"]
    sm = aws.client("sagemaker")
    arns = [sm.create_domain(DomainName=f"team-{i:03d}", AuthMode="IAM", DefaultUserSettings={"ExecutionRole": role},
                             SubnetIds=["subnet-1"], VpcId="vpc-1")["DomainArn"] for i in range(domains)]
    return arns


def cfn_event(resource_type, logical, props):
    return {"RequestType": "Create", "StackId": STACK, "RequestId": f"bench-{time.time_ns()}",
            "LogicalResourceId": logical, "ResourceType": resource_type,
            "ResourceProperties": {"ServiceToken": f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:x", **props}}


FUNCTIONS = [
    {
        "name": "template-publisher", "binary": "template-publisher", "peer": "publisher.handler",
        # the bounds the bootstrap stack gives it (resources/bounds.rs): measured as deployed
        "env": {"STACK_ID": STACK, "TEMPLATE_BUCKET": BUCKET}, "world": world_publisher,
        "event": lambda: cfn_event("Custom::ProjectTemplates", "Templates", {"Bucket": BUCKET, "Prefix": PREFIX}),
        "expect": {"Written": "5"},
    },
    {
        "name": "execution-role-policies", "binary": "execution-role-policies", "peer": "role_policies.handler",
        "env": {"STACK_ID": STACK, "LAUNCH_ROLE_ARN": LAUNCH, "TEMPLATE_BUCKET": BUCKET, "TEMPLATE_KMS_KEY_ARN": "",
                "EXECUTION_ROLES": f"arn:aws:iam::{ACCOUNT}:role/service-role/TeamExecutionRole"},
        "world": world_role_policies,
        "event": lambda: cfn_event("Custom::ExecutionRolePolicies", "RolePolicies", {
            "ExecutionRoles": [f"arn:aws:iam::{ACCOUNT}:role/service-role/TeamExecutionRole"],
            "LaunchRoleArn": LAUNCH, "TemplateBucket": BUCKET, "TemplatePrefix": PREFIX}),
        "expect": {"Roles": "TeamExecutionRole"},
    },
    {
        "name": "domain-onboarder (Custom::ReconcileDomains, 1 domain)", "binary": "domain-onboarder",
        "peer": "reconcile.handler", "env": {**ONBOARDER_ENV, "STACK_ID": STACK, "TEMPLATE_KMS_KEY_ARN": ""},
        "world": world_onboarder,
        "event": lambda: cfn_event("Custom::ReconcileDomains", "InstallSweep",
                                   {"Trigger": "1", "TemplatesLocation": f"s3://{BUCKET}/{PREFIX}"}),
        "expect": {"Domains": "1", "Onboarded": "1", "Failed": "0"},
    },
]


# the fleet section's template: one queue; its second version adds a dead-letter queue
FLEET_TEMPLATE = """\
Parameters:
  SageMakerProjectName: {Type: String}
  SageMakerProjectId: {Type: String}
Resources:
  Queue:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: !Sub 'sagemaker-${SageMakerProjectId}'
"""
FLEET_ADDITION = """\
  DeadLetters:
    Type: AWS::SQS::Queue
"""


class Bench:
    def __init__(self, quick: bool):
        self.quick = quick
        self.aws = emu.start()
        counter.install()
        self.sink = TimedSink()
        self.base_env = {**self.aws.child_env(), "CFN_RESPONSE_ALLOW_LOOPBACK": "true"}
        self.results: dict = {}

    # ------------------------------------------------------------------------------ processes
    def start(self, fn, impl, event=None, log_name=None, env=None, binaries=RELEASE) -> FunctionProcess:
        env = {**self.base_env, **fn["env"], **(env or {})}
        if impl == "rust":
            argv, cwd = [str(binaries / fn["binary"])], None
        else:
            argv, cwd = [str(PEER_PY), "-m", "awslambdaric", fn["peer"]], str(BENCH / "peer")
            env.update({"_HANDLER": fn["peer"], "LAMBDA_TASK_ROOT": cwd})
        return FunctionProcess(fn["binary"], argv, env, LOGS / f"{log_name or fn['binary']}-{impl}.log", cwd=cwd,
                               event=event)

    def checked_response(self, token, fn, impl):
        body = self.sink.response(token)
        if body.get("Status") != "SUCCESS":
            raise Broken(f"{fn['name']} ({impl}) answered {body.get('Status')}: {body.get('Reason')}")
        data = body.get("Data") or {}
        for k, v in fn["expect"].items():
            if data.get(k) != v:
                raise Broken(f"{fn['name']} ({impl}): Data.{k} = {data.get(k)!r}, expected {v!r}")
        return body

    def fresh_world(self, fn):
        self.aws.reset()
        fn["world"](self.aws)

    # ------------------------------------------------------------------------------ 0. warm-up
    def warmup(self, sections):
        """One unmeasured pass over what the sections use, so no measurement pays moto's first-use costs
        (lazy imports, first request to a service) or the first read of a binary from disk."""
        impls = ("rust", "peer") if {"cold", "warm"} & sections else ("rust",)
        for fn in FUNCTIONS:
            for impl in impls:
                self.fresh_world(fn)
                event, token = self.sink.address(fn["event"]())
                p = self.start(fn, impl, event=event, log_name=f"{fn['binary']}-warmup")
                try:
                    p.wait(p.cold, timeout=300)
                finally:
                    p.stop()
                self.checked_response(token, fn, impl)
        if "publish" in sections:
            self.fresh_world(FUNCTIONS[0])
            self.ours_publish(5)
            self.fresh_world(FUNCTIONS[0])
            self.floor_publish(5)

    # ------------------------------------------------------------------------------ 1. cold
    def cold(self, runs: int):
        out = {}
        for fn in FUNCTIONS:
            row = {}
            for impl in ("rust", "peer"):
                cold_ms, init_ms, hwm, requests, busy = [], [], [], [], []
                for _ in range(runs):
                    self.fresh_world(fn)
                    event, token = self.sink.address(fn["event"]())
                    with counter.counting() as w:
                        p = self.start(fn, impl, event=event)
                        try:
                            p.wait(p.cold, timeout=300)
                            t_put = self.sink.put_times.get(token)
                            mem = p.memory()
                        finally:
                            p.stop()
                    self.checked_response(token, fn, impl)
                    cold_ms.append((t_put - p.t_start) * 1e3)
                    init_ms.append((p.api.polls[0] - p.t_start) * 1e3)
                    hwm.append(mem.get("VmHWM", 0) / 1024)
                    requests.append(w.as_dict())
                    busy.append(w.busy_s * 1e3)
                own = [c - e for c, e in zip(cold_ms, busy)]
                row[impl] = {"cold_ms": spread(cold_ms), "init_ms": spread(init_ms), "peak_rss_mib": spread(hwm),
                             "emulator_busy_ms": spread(busy), "outside_emulator_ms": spread(own),
                             "requests": requests[-1]}
                print(f"  cold {fn['name']:<55} {impl:<5} median {median(cold_ms):8.1f} ms "
                      f"(init {median(init_ms):6.1f} ms, in emulator {median(busy):6.1f} ms), "
                      f"peak RSS {median(hwm):6.1f} MiB, {requests[-1]['total']} requests", flush=True)
            out[fn["binary"]] = row
        self.results["cold"] = out

    # ------------------------------------------------------------------------------ 2. warm
    def warm(self, runs: int):
        out = {}
        for fn in FUNCTIONS:
            row = {}
            for impl in ("rust", "peer"):
                p = self.start(fn, impl, log_name=f"{fn['binary']}-warm")
                lat, busy = [], []
                try:
                    p.wait_idle(timeout=120)
                    for i in range(runs + 1):  # the first invocation warms the process up; not counted
                        self.fresh_world(fn)
                        event, token = self.sink.address(fn["event"]())
                        p.wait_idle()
                        with counter.counting() as w:
                            inv = p.api.enqueue(event)
                            p.wait(inv, timeout=300)
                        self.checked_response(token, fn, impl)
                        if i:
                            lat.append((self.sink.put_times[token] - inv.t_queued) * 1e3)
                            busy.append(w.busy_s * 1e3)
                    mem = p.memory()
                finally:
                    p.stop()
                row[impl] = {"warm_ms": spread(lat), "emulator_busy_ms": spread(busy),
                             "peak_rss_mib_after": mem.get("VmHWM", 0) / 1024}
                print(f"  warm {fn['name']:<55} {impl:<5} median {median(lat):8.1f} ms "
                      f"(in emulator {median(busy):6.1f} ms), peak RSS after {runs + 1}: "
                      f"{mem.get('VmHWM', 0) / 1024:6.1f} MiB", flush=True)
            out[fn["binary"]] = row
        self.results["warm"] = out

    # ------------------------------------------------------------------------------ 3. publishing
    def timed_process(self, argv, env=None):
        t = time.perf_counter()
        proc = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=1800)
        wall = (time.perf_counter() - t) * 1e3
        if proc.returncode != 0:
            raise Broken(f"{' '.join(map(str, argv[:3]))}… exited {proc.returncode}: {proc.stderr[-1500:]}")
        return wall, proc.stdout

    def ours_publish(self, count):
        env = {**plain_env(WORK / "home"), **self.base_env}
        first_wall, out = self.timed_process([str(RELEASE / "publish-bench"), BUCKET, PREFIX, str(count)], env)
        return first_wall, json.loads(out.strip().splitlines()[-1])

    def floor_publish(self, count):
        host, port = "127.0.0.1", str(self.aws.port)
        wall, out = self.timed_process([sys.executable, str(BENCH / "benchlib" / "floor.py"), host, port, BUCKET,
                                        PREFIX, str(count), "16", str(TEMPLATES)])
        return wall, json.loads(out.strip().splitlines()[-1])

    def cli_publish(self, names, src_dir):
        cfg = WORK / "aws-cli-config"
        cfg.write_text("[default]\nregion = us-east-1\noutput = json\ns3 =\n    addressing_style = path\n")
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update({"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
                    "AWS_CONFIG_FILE": str(cfg), "AWS_EC2_METADATA_DISABLED": "true"})
        endpoint = ["--endpoint-url", self.aws.endpoint]
        t = time.perf_counter()
        for name in names:  # the seed's loop: copy, then tag, one CLI process each
            key = PREFIX + name
            self.timed_process([str(AWS_CLI), *endpoint, "s3", "cp", "--only-show-errors", str(src_dir / name),
                                f"s3://{BUCKET}/{key}"], env)
            self.timed_process([str(AWS_CLI), *endpoint, "s3api", "put-object-tagging", "--bucket", BUCKET, "--key", key,
                                "--tagging", "TagSet=[{Key=sagemaker:studio-visibility,Value=true}]"], env)
        return (time.perf_counter() - t) * 1e3

    def expect_keys(self, count):
        keys = 0
        for page in self.aws.client("s3").get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=PREFIX):
            keys += len(page.get("Contents", []))
        if keys != count:
            raise Broken(f"expected {count} objects under {PREFIX}, found {keys}")

    def publishing(self, reps5: int, reps1000: int, cli_sample: int):
        out = {}
        names5 = sorted(p.name for p in TEMPLATES.glob("*.yaml"))
        for count, reps in ((5, reps5), (1000, reps1000)):
            row = {"ours": {"wall_ms": [], "publish_ms": [], "unchanged_wall_ms": [], "unchanged_publish_ms": []},
                   "floor": {"wall_ms": [], "publish_ms": []}}
            for _ in range(reps):
                self.fresh_world(FUNCTIONS[0])
                with counter.counting() as w:
                    wall, res = self.ours_publish(count)
                if res["written"] != count:
                    raise Broken(f"publish-bench wrote {res['written']} of {count}")
                self.expect_keys(count)
                row["ours"]["wall_ms"].append(wall)
                row["ours"]["publish_ms"].append(res["publish_ms"])
                row["ours"]["requests_first"] = w.as_dict()
                with counter.counting() as w:
                    wall, res = self.ours_publish(count)
                if res["written"] != 0:
                    raise Broken(f"an unchanged publish wrote {res['written']}")
                row["ours"]["unchanged_wall_ms"].append(wall)
                row["ours"]["unchanged_publish_ms"].append(res["publish_ms"])
                row["ours"]["requests_unchanged"] = w.as_dict()

                self.fresh_world(FUNCTIONS[0])
                with counter.counting() as w:
                    wall, res = self.floor_publish(count)
                if res["written"] != count:
                    raise Broken(f"floor wrote {res['written']} of {count}")
                self.expect_keys(count)
                row["floor"]["wall_ms"].append(wall)
                row["floor"]["publish_ms"].append(res["publish_ms"])
                row["floor"]["requests"] = w.as_dict()
            # the seed's method: every file of the 5; for 1,000, a measured sample (2 CLI processes per file)
            src = TEMPLATES
            if count == 5:
                cli_names, cli_reps = names5, max(1, reps // 2 + 1)
            else:
                src = WORK / "many"
                src.mkdir(parents=True, exist_ok=True)
                cli_names = [f"{i:04d}-{names5[i % 5]}" for i in range(cli_sample)]
                for i, n in enumerate(cli_names):
                    (src / n).write_bytes((TEMPLATES / names5[i % 5]).read_bytes())
                cli_reps = 1
            cli = []
            for _ in range(cli_reps):
                self.fresh_world(FUNCTIONS[0])
                with counter.counting() as w:
                    cli.append(self.cli_publish(cli_names, src))
                self.expect_keys(len(cli_names))
            per_file = median(cli) / len(cli_names)
            row["cli"] = {"files_measured": len(cli_names), "wall_ms": cli, "per_file_ms": per_file,
                          "requests": w.as_dict(),
                          "wall_ms_for_all": per_file * count,
                          "extrapolated": len(cli_names) != count}
            for side in ("ours", "floor"):
                for k in [k for k in row[side] if k.endswith("_ms")]:
                    row[side][k] = spread(row[side][k])
            o, f = row["ours"], row["floor"]
            print(f"  publish {count:>4}: ours {o['wall_ms']['median']:8.1f} ms process "
                  f"({o['publish_ms']['median']:8.1f} ms publish, unchanged {o['unchanged_publish_ms']['median']:6.1f} ms), "
                  f"floor {f['publish_ms']['median']:8.1f} ms, CLI loop {row['cli']['wall_ms_for_all']:9.0f} ms"
                  f"{' (extrapolated from %d files)' % len(cli_names) if row['cli']['extrapolated'] else ''}; requests "
                  f"ours {o['requests_first']['total']}+{o['requests_unchanged']['total']}, floor {f['requests']['total']}, "
                  f"CLI {row['cli']['requests']['total']} for {len(cli_names)} files", flush=True)
            out[str(count)] = row
        self.results["publishing"] = out

    # ------------------------------------------------------------------------------ 4. sweep
    def sweep(self, domains: int):
        fn = FUNCTIONS[2]
        self.aws.reset()
        t = time.perf_counter()
        world_onboarder(self.aws, domains)
        setup_s = time.perf_counter() - t
        p = self.start(fn, "rust", log_name="domain-onboarder-sweep")
        try:
            p.wait_idle(timeout=60)
            scheduled = {"version": "0", "id": "bench", "detail-type": "Scheduled Event", "source": "aws.events",
                         "account": ACCOUNT, "time": "2026-11-29T12:00:00Z", "region": "us-east-1",
                         "resources": [], "detail": {}}
            with counter.counting() as w:
                inv = p.api.enqueue(scheduled)
                p.wait(inv, timeout=1200)
            mem = p.memory()
        finally:
            p.stop()
        result = inv.json() or {}
        if inv.outcome != "response" or result.get("Onboarded") != domains or result.get("Failed"):
            raise Broken(f"sweep of {domains} domains: {inv.outcome} {str(result)[:500]}")
        wall = (inv.t_result - inv.t_taken) * 1e3
        per_domain = {op: round(n / domains, 3) for op, n in sorted(w.ops.items())}
        self.results["sweep"] = {"domains": domains, "wall_ms": wall, "setup_s": setup_s,
                                 "requests": w.as_dict(), "requests_per_domain": round(w.total / domains, 3),
                                 "per_domain_by_operation": per_domain, "peak_rss_mib": mem.get("VmHWM", 0) / 1024,
                                 "report": result}
        print(f"  sweep {domains} domains: {wall / 1e3:6.1f} s ({wall / domains:5.1f} ms a domain; "
              f"in emulator {w.busy_s:6.1f} s), {w.total / domains:.2f} requests a domain, "
              f"peak RSS {mem.get('VmHWM', 0) / 1024:.1f} MiB", flush=True)

    # ------------------------------------------------------------------------------ 4b. the fleet: list, upgrade
    def fleet(self, count: int):
        """`projects list` and `projects upgrade --all` over `count` projects after a template change: wall time
        and the requests counted at the emulator."""
        from harness.fixtures import LAUNCH_ROLE_ARN, LAUNCH_ROLE_NAME, LAUNCH_ROLE_TRUST, make_role

        self.aws.reset()
        s3, sm = self.aws.client("s3"), self.aws.client("sagemaker")
        bucket, key = "sagemaker-projects-templates-123456789012", "templates/team-queue.yaml"
        create_template_bucket(s3, bucket)
        make_role(self.aws.client("iam"), LAUNCH_ROLE_NAME, trust=LAUNCH_ROLE_TRUST)
        v1 = FLEET_TEMPLATE.encode()
        s3.put_object(Bucket=bucket, Key=key, Body=v1, Tagging="sagemaker%3Astudio-visibility=true")
        head = s3.head_object(Bucket=bucket, Key=key)
        url = f"https://{bucket}.s3.us-east-1.amazonaws.com/{key}?versionId={head['VersionId']}"
        t = time.perf_counter()
        for i in range(count):
            sm.create_project(ProjectName=f"fleet-{i:04d}", TemplateProviders=[{"CfnTemplateProvider": {
                "TemplateName": "team-queue", "TemplateURL": url, "RoleARN": LAUNCH_ROLE_ARN}}],
                Tags=[{"Key": "sagemaker-projects-bootstrap:template", "Value": "team-queue"},
                      {"Key": "sagemaker-projects-bootstrap:template-digest", "Value": head["ETag"].strip('"')}])
        setup_s = time.perf_counter() - t
        s3.put_object(Bucket=bucket, Key=key, Body=v1 + FLEET_ADDITION.encode(),
                      Tagging="sagemaker%3Astudio-visibility=true")
        cli = ROOT / "target" / "debug" / "projects"
        env = {**self.aws.child_env(), "PATH": "/usr/bin:/bin"}
        out = {"projects": count, "setup_s": round(setup_s, 1)}
        for name, args in (("list", ["list", "--outdated", "--output", "json"]),
                           ("upgrade", ["upgrade", "--all", "--canary", "1", "--concurrency", "8",
                                        "--poll-interval", "0.5", "--output", "json"])):
            with counter.counting() as w:
                t = time.perf_counter()
                done = subprocess.run([str(cli), *args], env=env, capture_output=True, text=True, timeout=3600)
                wall = time.perf_counter() - t
            if done.returncode != 0:
                raise Broken(f"projects {name}: exit {done.returncode}: {done.stderr[-500:]}")
            doc = json.loads(done.stdout)
            items = doc.get("projects") or doc.get("rows") or []
            out[name] = {"wall_s": round(wall, 2), "requests": w.as_dict(), "items": len(items),
                         "in_emulator_s": round(w.busy_s, 2)}
            print(f"  projects {name} over {count} projects: {wall:6.2f} s, {w.total} requests "
                  f"({', '.join(f'{k} {v}' for k, v in sorted(w.ops.items()))})", flush=True)
        upgraded = [r for r in json.loads(done.stdout)["rows"] if r["outcome"] == "Upgraded"]
        if len(upgraded) != count:
            raise Broken(f"projects upgrade: {len(upgraded)} of {count} upgraded")
        self.results["fleet"] = out

    # ------------------------------------------------------------------------------ 4c. onboarding latency
    def latency(self, ready_after_s: list[int], interval_s: int = 30, scale: int = 30):
        """A new domain turns InService `ready_after_s` seconds after its CreateDomain event; the onboarder's
        re-checks run through a real (emulated) SQS queue with DelaySeconds, the queue's messages handed to the
        function as Lambda's SQS poller would. The clock is scaled: RECHECK_DELAY_SECONDS=1 stands for
        `interval_s` (= `scale` seconds), and the domain turns InService after ready_after_s / scale seconds.
        Measured: the lag from InService to the end of the invocation that tagged the domain and created its
        project (the wait until that invocation started scaled back, its own run time as it is), and the
        onboarder invocations the domain took. The former backoff (60, 120, 240, 480,
        900, 900… s) is computed for the same instants (its code is gone), next to it."""
        fn = FUNCTIONS[2]
        binaries = RELEASE if (RELEASE / fn["binary"]).exists() else DEBUG
        rows = []
        for ready_after in ready_after_s:
            self.aws.reset()
            publish_templates_for_setup(self.aws)
            sqs, sm = self.aws.client("sqs"), self.aws.client("sagemaker")
            queue = sqs.create_queue(QueueName="onboarder")["QueueUrl"]
            queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
            role = self.aws.client("iam").create_role(RoleName="SharedExecutionRole", Path="/service-role/",
                                                      AssumeRolePolicyDocument=TRUST)["Role"]["Arn"]
            with ext_sagemaker_domains.domains_start("Pending"):
                arn = sm.create_domain(DomainName="new-team", AuthMode="IAM", DefaultUserSettings={"ExecutionRole": role},
                                       SubnetIds=["subnet-1"], VpcId="vpc-1")["DomainArn"]
            domain = arn.rsplit("/", 1)[1]
            trail = {"version": "0", "id": "bench", "detail-type": "AWS API Call via CloudTrail",
                     "source": "aws.sagemaker", "account": ACCOUNT, "time": "2026-11-29T12:00:00Z",
                     "region": "us-east-1", "resources": [],
                     "detail": {"eventSource": "sagemaker.amazonaws.com", "eventName": "CreateDomain",
                                "responseElements": {"domainArn": arn}}}
            env = {"RECHECK_QUEUE_URL": queue, "RECHECK_DELAY_SECONDS": "1", "RECHECK_MAX_MINUTES": "60"}
            p = self.start(fn, "rust", log_name="domain-onboarder-latency", env=env, binaries=binaries)
            try:
                p.wait_idle(timeout=60)
                t0 = time.perf_counter()
                ext_sagemaker_domains.set_domain_status(domain, "InService", after=ready_after / scale)
                bodies, invocations, t_done = [json.dumps(trail)], 0, None
                while t_done is None:
                    if time.perf_counter() - t0 > 2 * ready_after / scale + 60:
                        raise Broken(f"latency: domain {domain} not onboarded after {ready_after}s (scaled)")
                    for body in bodies:
                        batch = {"Records": [{"messageId": f"m-{invocations}", "eventSource": "aws:sqs",
                                              "eventSourceARN": queue_arn, "body": body}]}
                        inv = p.invoke(batch, timeout=120)
                        invocations += 1
                        result = (inv.json() or {}).get("Results", [{}])[0]
                        if result.get("Outcome") == "Onboarded" and result.get("project"):
                            t_done = inv
                        elif result.get("Outcome") != "Waiting":
                            raise Broken(f"latency: unexpected answer {inv.outcome} {str(inv.json())[:300]}")
                    got = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=1)
                    bodies = [m["Body"] for m in got.get("Messages", [])]
                    for m in got.get("Messages", []):
                        sqs.delete_message(QueueUrl=queue, ReceiptHandle=m["ReceiptHandle"])
            finally:
                p.stop()
            # the wait for the queue is on the scaled clock, the onboarding invocation itself is not
            lag_s = max(0.0, (t_done.t_taken - t0) * scale - ready_after) + (t_done.t_result - t_done.t_taken)
            old_lag_s, old_invocations = old_backoff(ready_after)
            rows.append({"ready_after_s": ready_after, "lag_s": round(lag_s, 1), "invocations": invocations,
                         "backoff_lag_s": old_lag_s, "backoff_invocations": old_invocations})
            print(f"  InService after {ready_after:4d} s: onboarded {lag_s:5.1f} s later in {invocations:2d} "
                  f"invocations (the former backoff: {old_lag_s:5.1f} s, {old_invocations} invocations)", flush=True)
        self.results["latency"] = {"interval_s": interval_s, "scale": scale, "binary": str(binaries.name),
                                   "domains": rows}

    # ------------------------------------------------------------------------------ 5. requests per operation
    def requests(self):
        cold = self.results.get("cold", {})
        pub = self.results.get("publishing", {}).get("5", {}).get("ours", {})
        # onboard 1 domain: a CloudTrail CreateDomain event, straight from EventBridge
        fn = FUNCTIONS[2]
        self.aws.reset()
        arn = world_onboarder(self.aws, 1)[0]
        event = {"version": "0", "id": "bench", "detail-type": "AWS API Call via CloudTrail", "source": "aws.sagemaker",
                 "account": ACCOUNT, "time": "2026-11-29T12:00:00Z", "region": "us-east-1", "resources": [],
                 "detail": {"eventVersion": "1.08", "eventSource": "sagemaker.amazonaws.com",
                            "eventName": "CreateDomain", "awsRegion": "us-east-1", "recipientAccountId": ACCOUNT,
                            "requestParameters": {"domainName": "team-000"},
                            "responseElements": {"domainArn": arn}}}
        p = self.start(fn, "rust", log_name="domain-onboarder-event")
        try:
            p.wait_idle(timeout=60)
            with counter.counting() as onboard:
                inv = p.api.enqueue(event)
                p.wait(inv, timeout=300)
            again = None
            with counter.counting() as again:
                inv2 = p.api.enqueue(event)
                p.wait(inv2, timeout=300)
        finally:
            p.stop()
        if (inv.json() or {}).get("Outcome") != "Onboarded" or (inv2.json() or {}).get("Outcome") != "Onboarded":
            raise Broken(f"onboard 1 domain: {inv.body[:300]!r} / {inv2.body[:300]!r}")
        rows = [
            {"operation": "publish 5 templates, first time", "measured": pub.get("requests_first"), "minimum": 6,
             "why": "1 ListObjectsV2 (what is there: skip unchanged, never overwrite a foreign object) + 5 PutObject "
                    "carrying their tags"},
            {"operation": "publish 5 templates, unchanged", "measured": pub.get("requests_unchanged"), "minimum": 1,
             "why": "1 ListObjectsV2: the ETags show nothing changed"},
            {"operation": "grant policies to 1 role (Custom::ExecutionRolePolicies)",
             "measured": cold.get("execution-role-policies", {}).get("rust", {}).get("requests"), "minimum": 5,
             "why": "3 PutRolePolicy + 1 TagRole (the writes) + 1 ListRolePolicies (IAM's 10,240-character inline "
                    "quota must be checked before writing; no other inline policy to read here)"},
            {"operation": "onboard 1 domain (CloudTrail CreateDomain, InService, 1 role, default template)",
             "measured": onboard.as_dict(), "minimum": 9,
             "why": "DescribeDomain (status, roles) + ListTags (opt-out; DescribeDomain has no tags) + the role grant "
                    "(5, as above) + AddTags (location) + CreateProject (a deterministic name makes a duplicate fail "
                    "with a conflict, so no read is needed first)"},
            {"operation": "onboard the same domain again (duplicate event)", "measured": again.as_dict(), "minimum": 8,
             "why": "DescribeDomain + ListTags + ListRolePolicies + 3 GetRolePolicy (is each document still ours?) + 1 "
                    "for the role tag (a read, or an idempotent TagRole) + 1 for the project (a read, or a "
                    "CreateProject that conflicts); the location tag shows in ListTags"},
        ]
        sw = self.results.get("sweep")
        if sw:
            n, ops = sw["domains"], sw["requests"]["operations"]
            # per domain: DescribeDomain, ListTags, AddTags, CreateProject, ListUserProfiles; once: the ListDomains
            # pages (the server's page size decides how many) and the shared role's grant (5, as above)
            minimum = (5 * n + ops.get("sagemaker:ListDomains", 1) + 5) / n
            rows.append({"operation": f"reconcile sweep, per domain ({n} domains, one shared role)",
                         "measured": {"total": round(sw["requests"]["total"] / n, 3),
                                      "operations": sw["per_domain_by_operation"]},
                         "minimum": round(minimum, 3),
                         "why": "per domain DescribeDomain + ListTags + AddTags + CreateProject + ListUserProfiles; "
                                "once: the ListDomains pages and the shared role's grant (5)"})
        for r in rows:
            m = r["measured"] or {}
            r["ratio"] = (m.get("total") / r["minimum"]) if m.get("total") is not None else None
            ops = ", ".join(f"{k.split(':', 1)[1]}×{v}" for k, v in (m.get("operations") or {}).items())
            print(f"  requests: {r['operation']:<85} {m.get('total', '-')!s:>3} (minimum {r['minimum']}) {ops}",
                  flush=True)
        self.results["requests"] = rows

    # ------------------------------------------------------------------------------ 6. artifacts
    def bounds(self):
        """The worst inputs within the stated bounds and the refused ones past them, each in its own process:
        time (best of 3) and peak RSS, release build (functions/projects-core/examples/input_bounds.rs)."""
        run = subprocess.run([str(RELEASE / "examples" / "input_bounds")], capture_output=True, text=True, timeout=600)
        if run.returncode != 0:
            raise Broken(f"input_bounds: {run.stderr.strip()[-300:]}")
        rows = [json.loads(line) for line in run.stdout.splitlines() if line.strip()]
        for r in rows:
            print(f"  {r['case']:<40} {r['bytes']:>9} B {r['ms']:>8.1f} ms {r['peak_rss_mib']:>7.1f} MiB  {r['verdict'][:70]}",
                  flush=True)
        self.results["bounds"] = rows

    def artifacts(self):
        import zipfile

        dist = ROOT / "dist"
        sizes = {}
        for fn in lambda_functions():
            candidates = [dist / f"{fn}.zip", dist / "build" / fn / "bootstrap.zip",
                          ROOT / "target" / "lambda" / fn / "bootstrap.zip"]
            z = next((c for c in candidates if c.exists()), candidates[0])
            if not z.exists():
                sizes[fn] = None
                continue
            with zipfile.ZipFile(z) as zf:
                unzipped = sum(i.file_size for i in zf.infolist())
                arch = zf.read("bootstrap")[18:20] if "bootstrap" in zf.namelist() else b""
            sizes[fn] = {"zip_bytes": z.stat().st_size, "unzipped_bytes": unzipped, "path": str(z.relative_to(ROOT)),
                         "machine": {b"\xb7\x00": "aarch64", b"\x3e\x00": "x86_64"}.get(arch, "unknown")}
            print(f"  artifact {fn:<25} {z.stat().st_size / 1e6:6.2f} MB zipped ({unzipped / 1e6:6.2f} MB unzipped, "
                  f"{sizes[fn]['machine']})", flush=True)
        self.results["artifacts"] = sizes


def old_backoff(ready_after: float, first: int = 60, cap: int = 900) -> tuple[float, int]:
    """The former re-check schedule (first, doubling, at most `cap`): the lag after `ready_after` until the
    next look, and the invocations until then (the first one included)."""
    t, delay, invocations = 0.0, first, 1
    while t < ready_after:
        t += delay
        delay = min(delay * 2, cap)
        invocations += 1
    return t - ready_after, invocations


def lambda_functions() -> list[str]:
    """The functions `make package` zips: the Makefile's FUNCTIONS list (one source of truth)."""
    import re

    m = re.search(r"^FUNCTIONS\s*:?=\s*(.+)$", (ROOT / "Makefile").read_text(), re.M)
    if m and "$" not in m.group(1):
        return m.group(1).split()
    return ["template-publisher", "template-tagger", "execution-role-policies", "domain-onboarder", "seedcode-checkin"]


def environment():
    load = os.getloadavg()
    return {"machine": platform.machine(), "cpus": os.cpu_count(), "python": platform.python_version(),
            "load_average_at_start": [round(x, 2) for x in load], "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "rustc": subprocess.run(["rustc", "--version"], capture_output=True, text=True).stdout.strip(),
            "peer": pins(BENCH / "requirements.txt", ("awslambdaric", "boto3", "botocore", "crhelper")),
            "awscli": pins(ROOT / "tests" / "requirements-awscli.txt", ("awscli",))}


def pins(path, names):
    return [line for line in path.read_text().splitlines() if line.split("==")[0] in names]


def preflight(sections):
    missing = []
    needs_rust = {"cold", "warm", "publish", "sweep", "requests"} & sections
    for b in ("template-publisher", "execution-role-policies", "domain-onboarder", "publish-bench"):
        if needs_rust and not (RELEASE / b).exists():
            missing.append(f"target/release/{b} (cargo build --release --workspace --bins)")
    if {"cold", "warm"} & sections and not PEER_PY.exists():
        missing.append(f"{PEER_PY.relative_to(ROOT)} (make bench installs it from bench/requirements.txt)")
    if "publish" in sections and not AWS_CLI.exists():
        missing.append(f"{AWS_CLI.relative_to(ROOT)} (make tools installs it from tests/requirements-awscli.txt)")
    if "fleet" in sections and not (ROOT / "target" / "debug" / "projects").exists():
        missing.append("target/debug/projects (make build)")
    if "bounds" in sections and not (RELEASE / "examples" / "input_bounds").exists():
        missing.append("target/release/examples/input_bounds (cargo build --release --workspace --bins --examples)")
    if "latency" in sections and not any((d / "domain-onboarder").exists() for d in (RELEASE, DEBUG)):
        missing.append("target/release/domain-onboarder or target/debug/domain-onboarder (cargo build)")
    if missing:
        raise SystemExit("bench: missing\n  " + "\n  ".join(missing))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer repetitions (a smoke run, not for the README)")
    ap.add_argument("--only", default="cold,warm,publish,sweep,fleet,requests,artifacts,latency,bounds")
    ap.add_argument("--domains", type=int, default=500)
    ap.add_argument("--projects", type=int, default=200)
    args = ap.parse_args()
    sections = set(args.only.split(","))
    preflight(sections)
    WORK.mkdir(parents=True, exist_ok=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    env = environment()
    print(f"make bench: {env['cpus']} cpus, load {env['load_average_at_start']}, {env['rustc']}", flush=True)
    b = Bench(args.quick)
    failed = None
    try:
        q = args.quick
        steps = [("cold", lambda: b.cold(3 if q else 10)),
                 ("warm", lambda: b.warm(5 if q else 20)),
                 ("publish", lambda: b.publishing(1 if q else 5, 1 if q else 2, 6 if q else 25)),
                 ("sweep", lambda: b.sweep(50 if q else args.domains)),
                 ("fleet", lambda: b.fleet(20 if q else args.projects)),
                 ("latency", lambda: b.latency([450] if q else [100, 275, 450, 610])),
                 ("requests", b.requests),
                 ("artifacts", b.artifacts),
                 ("bounds", b.bounds)]
        if sections & {"cold", "warm", "publish", "sweep", "requests"}:
            print("— warm-up (not measured)", flush=True)
            b.warmup(sections)
        for name, step in steps:
            if name in sections:
                print(f"— {name}", flush=True)
                step()
    except Broken as e:
        failed = str(e)
    finally:
        b.sink.stop()
        b.aws.stop()
    if b.sink.violations:
        failed = (failed or "") + f" response contract violations: {b.sink.violations[:5]}"
    b.results["environment"] = {**env, "quick": args.quick, "seconds": round(time.perf_counter() - t0, 1)}
    rows = report.ratios(b.results)
    b.results["ratios"] = rows
    print(report.table(rows))
    if not args.quick and sections == set(ap.get_default("only").split(",")):
        (RESULTS / "bench.json").write_text(json.dumps(b.results, indent=2, default=str) + "\n")
        (RESULTS / "bench.svg").write_text(report.svg(rows, b.results["environment"]))
        readme = BENCH / "README.md"
        if readme.exists():
            readme.write_text(report.replace_results(readme.read_text(), rows, b.results))
        print(f"wrote {RESULTS.relative_to(ROOT)}/bench.json, bench.svg and the table in bench/README.md")
    else:
        out = WORK / "bench-partial.json"
        out.write_text(json.dumps(b.results, indent=2, default=str) + "\n")
        print(f"partial or quick run: results in {out.relative_to(ROOT)} (bench/results/ untouched)")
    print(f"make bench: {time.perf_counter() - t0:.0f} s")
    if failed:
        print(f"make bench: BROKEN — {failed}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
