"""Convergence under faults: with a fifth of all AWS requests failing (throttling, 5xx, dropped connections, and
failures *after* the request took effect), every function either finishes its work or says clearly that it did
not — and a second run without faults (the replay CloudFormation or Lambda would send, or the reconcile sweep)
reaches exactly the correct end state. Nothing is lost, nothing is duplicated, nothing foreign is touched.

The functions talk to the emulator through `harness.faults.FaultProxy` (seed `FAULT_SEED`, default below; a
failing run replays with the same seed). The replay runs through the same binaries (`replay`), straight to
the emulator. The module ends by printing the counts: faults injected, operations, converged, lost."""
from __future__ import annotations

import json
import os
import re
import time
import urllib.parse
import uuid
from collections import Counter
from pathlib import Path

import pytest

from harness.buckets import create_template_bucket, object_tags
from harness.faults import FaultProxy
from harness.functions import Functions, LOG_DIR
from harness.fixtures import DEPLOY_PARAMS, LAUNCH_ROLE_ARN, cr_event, make_role, runtime_env

ROOT = Path(__file__).resolve().parents[1]
SEED = int(os.environ.get("FAULT_SEED", "20261129"))
RATE = float(os.environ.get("FAULT_RATE", "0.2"))
ACCOUNT = "123456789012"
BUCKET = "sagemaker-projects-templates-123456789012"
TEMPLATES = {p.name: p.read_bytes() for p in sorted((ROOT / "templates").glob("*.yaml"))}
VISIBLE = "sagemaker:studio-visibility"
PUBLISHED_BY = "sagemaker-projects-bootstrap:published-by"
REJECTED = "sagemaker-projects-bootstrap:rejected"
LAUNCH_TAG = "sagemaker-projects-launch-access"
LOCATION_TAG = "sagemaker:projectS3TemplatesLocation"
FOREIGN_POLICY = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"}]})
CLEAR_FAILURE = re.compile(r"(S3|IAM|SageMaker) \w+ (on|for) .+ failed: \w+|timed out")

TALLY: dict[str, Counter] = {}
KINDS: Counter = Counter()


def stack_id(name: str) -> str:
    """Deterministic, so that the requests (and so the seeded faults) are the same on every run."""
    return f"arn:aws:cloudformation:us-east-1:{ACCOUNT}:stack/{name}/{uuid.uuid5(uuid.NAMESPACE_URL, f'{SEED}/{name}')}"


def tally(scenario: str, **counts: int) -> None:
    TALLY.setdefault(scenario, Counter()).update(counts)


@pytest.fixture(scope="module")
def proxy(emulator, request):
    p = FaultProxy(emulator.endpoint, seed=SEED, rate=RATE, latency_rate=0.1, latency=(0.01, 0.15))
    request.config.pluginmanager.register(_Summary(), "sppb-convergence-summary")
    yield p
    p.stop()
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    (LOG_DIR.parent / "convergence.json").write_text(
        json.dumps({"seed": SEED, "rate": RATE, "scenarios": TALLY, "kinds": KINDS}, indent=2))


def summary_lines() -> list[str]:
    total = Counter()
    for c in TALLY.values():
        total.update(c)
    lines = [f"convergence (seed {SEED}, {RATE:.0%} of AWS requests failing):"]
    for scenario, c in [*TALLY.items(), ("total", total)]:
        lines.append(f"  {scenario:<24} faults {c['faults']:>4}  operations {c['operations']:>3}  completed under "
                     f"faults {c['completed']:>3}  failed clearly {c['failed']:>3}  converged {c['converged']:>3}  "
                     f"lost {c['lost']}")
    lines.append("  faults by kind: " + ", ".join(f"{k} {n}" for k, n in sorted(KINDS.items())))
    return lines


class _Summary:
    """Prints the counts after the test summary (a module's own output is captured)."""

    def pytest_terminal_summary(self, terminalreporter):
        if TALLY:
            for line in summary_lines():
                terminalreporter.write_line(line)


@pytest.fixture(scope="module")
def faulty(emulator, proxy):
    """The binaries with every AWS request going through the fault proxy."""
    f = Functions(runtime_env(emulator, AWS_ENDPOINT_URL=proxy.endpoint), name="faulty")
    yield f
    f.stop()


@pytest.fixture(scope="module")
def replay(emulator):
    """The same binaries straight to the emulator, for the replay (this module's own: its runs are long)."""
    f = Functions(runtime_env(emulator), name="replay")
    yield f
    f.stop()


@pytest.fixture
def faults(proxy):
    """Counts the faults a test injected."""
    proxy.clear()
    return proxy


def custom_resource(sink, invoke, function, request_type, logical, props, stack, request_id, env=None):
    ev = cr_event("Custom::X", props, request_type, stack=stack, logical=logical, request_id=request_id)
    addressed, token = sink.address(ev)
    invoke(function, addressed, env)
    return sink.response(token)


def through(functions: Functions):
    def invoke(function, event, env=None):
        return functions.watch(env).invoke(function, event, timeout=300)
    return invoke


def faults_injected(faults) -> int:
    """How many faults the proxy injected in this test (added, by kind, to the summary)."""
    KINDS.update(faults.faults())
    return sum(faults.faults().values())


def judge_custom_resource(response: dict) -> str:
    """completed | failed; a FAILED answer must say which AWS call failed (or that time ran out)."""
    if response["Status"] == "SUCCESS":
        return "completed"
    assert CLEAR_FAILURE.search(response["Reason"]), f"unclear failure: {response['Reason']}"
    return "failed"


def under_faults_then_replayed(run, resources, faults, faulty, replay) -> tuple[Counter, int]:
    """`run(invoke, *resource)` for each of `resources` under faults, then again straight to the emulator (the
    replay, which must succeed): the outcomes under faults and how many faults were injected."""
    outcomes = Counter(judge_custom_resource(run(through(faulty), *r)) for r in resources)
    injected = faults_injected(faults)
    replays = [run(through(replay), *r) for r in resources]
    assert all(r["Status"] == "SUCCESS" for r in replays), replays
    return outcomes, injected


# --------------------------------------------------------------------------------------------- publisher


def test_template_publisher_converges(aws, faults, faulty, replay, sink):
    s3 = aws.client("s3")
    create_template_bucket(s3, BUCKET)
    foreign = {"team/notes.yaml": (b"Resources: {}\n", "owner=data-science"),
               "p1/team-template.yaml": (b"Resources: {T: {Type: AWS::SNS::Topic}}\n", "owner=ml")}
    for key, (body, tagging) in foreign.items():
        s3.put_object(Bucket=BUCKET, Key=key, Body=body, Tagging=tagging)
    stacks = [(stack_id(f"pub{i}"), f"p{i}/") for i in range(4)]

    def run(invoke, stack, prefix):
        return custom_resource(sink, invoke, "template-publisher", "Create", "Templates",
                               {"Bucket": BUCKET, "Prefix": prefix}, stack, "create-1")

    outcomes, injected = under_faults_then_replayed(run, stacks, faults, faulty, replay)

    lost = 0
    for stack, prefix in stacks:
        owners = set()
        for name, content in TEMPLATES.items():
            key = prefix + name
            try:
                body = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
                tags = object_tags(s3, BUCKET, key)
            except s3.exceptions.NoSuchKey:
                lost += 1
                continue
            lost += body != content or tags.get(VISIBLE) != "true"
            owners.add(tags.get(PUBLISHED_BY))
        assert len(owners) == 1, f"{prefix}: one owner for the whole set, got {owners}"
    for key, (body, tagging) in foreign.items():
        lost += s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() != body
        lost += object_tags(s3, BUCKET, key) != dict([tagging.split("=")])
        lost += len(s3.list_object_versions(Bucket=BUCKET, Prefix=key)["Versions"]) != 1
    expected_keys = {p + n for _, p in stacks for n in TEMPLATES} | set(foreign)
    listed = {o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"]}
    assert listed == expected_keys, listed ^ expected_keys
    tally("template-publisher", faults=injected, operations=len(stacks), lost=lost, converged=len(stacks) if not lost else 0,
          **outcomes)
    assert injected > 0, "the proxy injected no fault: the scenario proved nothing"
    assert lost == 0


# --------------------------------------------------------------------------------------------- execution-role-policies


def inline(iam, role):
    out = {}
    for name in iam.list_role_policies(RoleName=role)["PolicyNames"]:
        doc = iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
        out[name] = json.loads(urllib.parse.unquote(doc)) if isinstance(doc, str) else doc
    return out


def role_tags(iam, role):
    return {t["Key"]: t["Value"] for t in iam.list_role_tags(RoleName=role)["Tags"]}


def test_execution_role_policies_converge(aws, faults, faulty, replay, sink):
    iam = aws.client("iam")
    roles = [f"ConvergeRole{i}" for i in range(8)]
    arns = {}
    for i, r in enumerate(roles):
        arns[r] = make_role(iam, r, "/service-role/" if i % 2 else "/")
        iam.put_role_policy(RoleName=r, PolicyName="TeamPolicy", PolicyDocument=FOREIGN_POLICY)
        iam.tag_role(RoleName=r, Tags=[{"Key": "team", "Value": f"t{i}"}])
    # three resources over overlapping sets of roles
    resources = [(stack_id(f"grants{i}"), roles[i * 2:i * 2 + 4]) for i in range(3)]

    def run(invoke, stack, members):
        props = {"ExecutionRoles": [arns[m] for m in members], "LaunchRoleArn": LAUNCH_ROLE_ARN,
                 "TemplateBucket": BUCKET, "TemplatePrefix": "templates/"}
        return custom_resource(sink, invoke, "execution-role-policies", "Create", "RolePolicies", props, stack, "c-1")

    outcomes, injected = under_faults_then_replayed(run, resources, faults, faulty, replay)

    lost = 0
    for i, r in enumerate(roles):
        owners = sum(r in members for _, members in resources)
        policies = inline(iam, r)
        ours = [n for n in policies if n.startswith("SageMakerProjects-")]
        lost += len(ours) != 3 * owners
        lost += policies.get("TeamPolicy") != json.loads(FOREIGN_POLICY)
        expected_tags = {"team": f"t{i}", **({LAUNCH_TAG: "true"} if owners else {})}
        lost += role_tags(iam, r) != expected_tags
    tally("execution-role-policies", faults=injected, operations=len(resources), lost=lost,
          converged=len(resources) if not lost else 0, **outcomes)
    assert injected > 0
    assert lost == 0


# --------------------------------------------------------------------------------------------- template-tagger

VALID = b"""Parameters:
  SageMakerProjectName: {Type: String}
  SageMakerProjectId: {Type: String}
Resources:
  Topic: {Type: AWS::SNS::Topic}
"""


def s3_event(key, put):
    return {"version": "0", "id": str(uuid.uuid4()), "detail-type": "Object Created", "source": "aws.s3",
            "account": ACCOUNT, "time": "2026-11-29T12:00:00Z", "region": "us-east-1",
            "resources": [f"arn:aws:s3:::{BUCKET}"],
            "detail": {"version": "0", "bucket": {"name": BUCKET},
                       "object": {"key": key, "size": 1, "etag": put["ETag"].strip('"'), "version-id": put["VersionId"],
                                  "sequencer": "00"}, "request-id": "R", "requester": ACCOUNT, "reason": "PutObject"}}


def test_template_tagger_converges(aws, faults, faulty, replay):
    s3 = aws.client("s3")
    create_template_bucket(s3, BUCKET)
    env = {"TEMPLATE_BUCKET": BUCKET, "TEMPLATE_PREFIX": "uploads/"}
    uploads = {}
    for i in range(12):
        key = f"uploads/t{i:02d}.yaml"
        body = VALID if i % 3 else b"Resources: {}\n"
        tagging = f"team=t{i}" if i % 2 else None
        put = s3.put_object(Bucket=BUCKET, Key=key, Body=body, **({"Tagging": tagging} if tagging else {}))
        uploads[key] = (put, i % 3 != 0, {"team": f"t{i}"} if tagging else {})
    s3.put_object(Bucket=BUCKET, Key="uploads/readme.md", Body=b"# notes", Tagging="owner=docs")

    outcomes = Counter()
    for key, (put, _, _) in uploads.items():
        out = faulty.watch(env).invoke("template-tagger", s3_event(key, put), timeout=300)
        if "Visible" in out:
            outcomes["completed"] += 1
        else:
            # an AWS failure fails the invocation (Lambda retries it): the error names the S3 call
            assert re.search(r"S3 \w+ on uploads/t\d+\.yaml failed", json.dumps(out)), out
            outcomes["failed"] += 1
    injected = faults_injected(faults)
    for key, (put, _, _) in uploads.items():
        assert "Visible" in replay.invoke("template-tagger", s3_event(key, put), extra_env=env, timeout=300)

    lost = 0
    for key, (put, valid, foreign) in uploads.items():
        tags = object_tags(s3, BUCKET, key)
        verdict = {VISIBLE: "true"} if valid else {VISIBLE: "false", REJECTED: tags.get(REJECTED, "")}
        lost += tags != {**foreign, **verdict}
        lost += not valid and not tags.get(REJECTED, "").startswith("Resources is empty")
        lost += len(s3.list_object_versions(Bucket=BUCKET, Prefix=key)["Versions"]) != 1
    lost += object_tags(s3, BUCKET, "uploads/readme.md") != {"owner": "docs"}
    tally("template-tagger", faults=injected, operations=len(uploads), lost=lost,
          converged=len(uploads) if not lost else 0, **outcomes)
    assert injected > 0
    assert lost == 0


# --------------------------------------------------------------------------------------------- domain-onboarder

ONBOARDER_ENV = {
    "LAUNCH_ROLE_ARN": LAUNCH_ROLE_ARN, "TEMPLATE_BUCKET": BUCKET, "TEMPLATE_PREFIX": "templates/",
    "DEFAULT_TEMPLATE": "deploy-codepipeline", "DEFAULT_TEMPLATE_PARAMETERS": json.dumps(DEPLOY_PARAMS),
    "POLICY_OWNER": "onboarder-converge",
}


def trail(name, request=None, response=None):
    return {"version": "0", "id": str(uuid.uuid4()), "detail-type": "AWS API Call via CloudTrail",
            "source": "aws.sagemaker", "account": ACCOUNT, "time": "2026-11-29T12:00:00Z", "region": "us-east-1",
            "resources": [], "detail": {"eventVersion": "1.08", "eventSource": "sagemaker.amazonaws.com",
                                        "eventName": name, "awsRegion": "us-east-1", "recipientAccountId": ACCOUNT,
                                        "requestParameters": request, "responseElements": response}}


SCHEDULE = {"version": "0", "id": "s", "detail-type": "Scheduled Event", "source": "aws.events", "account": ACCOUNT,
            "time": "2026-11-29T12:00:00Z", "region": "us-east-1", "resources": [], "detail": {}}


def test_domain_onboarder_and_the_sweep_converge(aws, faults, faulty, replay, sink):
    s3, iam, sm = aws.client("s3"), aws.client("iam"), aws.client("sagemaker")
    create_template_bucket(s3, BUCKET)
    published = custom_resource(sink, through(replay), "template-publisher", "Create", "Templates",
                                {"Bucket": BUCKET, "Prefix": "templates/"},
                                f"arn:aws:cloudformation:us-east-1:{ACCOUNT}:stack/b/1", "r")
    assert published["Status"] == "SUCCESS"
    roles = {}
    for name in ("SharedRole", "RoleA", "RoleB", "UnusedRole", "ProfileRole"):
        roles[name] = make_role(iam, name, "/service-role/")
        iam.put_role_policy(RoleName=name, PolicyName="TeamPolicy", PolicyDocument=FOREIGN_POLICY)
        iam.tag_role(RoleName=name, Tags=[{"Key": "team", "Value": "ml"}])
    domains = {}
    for i, role in enumerate(["SharedRole", "SharedRole", "RoleA", "RoleB"]):
        arn = sm.create_domain(DomainName=f"converge-{i}", AuthMode="IAM", DefaultUserSettings={"ExecutionRole": roles[role]},
                               SubnetIds=["subnet-1"], VpcId="vpc-1",
                               Tags=[{"Key": "cost-center", "Value": str(i)}])["DomainArn"]
        domains[arn.rsplit("/", 1)[1]] = (arn, role, i)
    first = next(iter(domains))
    sm.create_user_profile(DomainId=first, UserProfileName="alice", UserSettings={"ExecutionRole": roles["ProfileRole"]})

    outcomes = Counter()
    invoke = through(faulty)
    for domain, (arn, _, _) in domains.items():
        out = invoke("domain-onboarder", trail("CreateDomain", {"domainName": "x"}, {"domainArn": arn}), ONBOARDER_ENV)
        if out.get("Outcome") == "Onboarded":
            outcomes["completed"] += 1
        else:
            # a transient AWS failure fails the invocation (EventBridge/Lambda retry it); it says which call
            text = json.dumps(out)
            assert CLEAR_FAILURE.search(text) or "failed: " in text, out
            outcomes["failed"] += 1
    profile = invoke("domain-onboarder", trail("CreateUserProfile", {"domainId": first, "userProfileName": "alice"}),
                     ONBOARDER_ENV)
    outcomes["completed" if profile.get("Outcome") == "Onboarded" else "failed"] += 1
    # the install sweep, under faults too
    sweep = custom_resource(sink, invoke, "domain-onboarder", "Create", "InstallSweep",
                            {"Trigger": "1", "TemplatesLocation": f"s3://{BUCKET}/templates/"},
                            f"arn:aws:cloudformation:us-east-1:{ACCOUNT}:stack/b/1", "sweep-1", ONBOARDER_ENV)
    outcomes[judge_custom_resource(sweep)] += 1
    if sweep["Status"] == "SUCCESS":
        assert int(sweep["Data"]["Onboarded"]) + int(sweep["Data"]["Failed"]) == len(domains), sweep
    injected = faults_injected(faults)

    # the scheduled sweep, without faults
    out = replay.invoke("domain-onboarder", SCHEDULE, extra_env=ONBOARDER_ENV, timeout=300)
    assert (out["Domains"], out["Onboarded"], out["Failed"], out["Profiles"]) == (len(domains), len(domains), 0, 1), out

    lost = 0
    location = f"s3://{BUCKET}/templates/"
    for domain, (arn, _, i) in domains.items():
        tags = {t["Key"]: t["Value"] for t in sm.list_tags(ResourceArn=arn)["Tags"]}
        lost += tags != {"cost-center": str(i), LOCATION_TAG: location}
    projects = Counter(p["ProjectName"] for p in sm.list_projects(MaxResults=100)["ProjectSummaryList"])
    assert projects == Counter({f"mlops-{d}": 1 for d in domains}), projects
    for name in roles:
        policies = inline(iam, name)
        ours = sorted(n for n in policies if n.startswith("SageMakerProjects-"))
        used = name == "ProfileRole" or any(r == name for _, r, _ in domains.values())
        lost += len(ours) != (3 if used else 0)
        lost += any(not n.endswith("-onboarder-converge") for n in ours)
        lost += policies.get("TeamPolicy") != json.loads(FOREIGN_POLICY)
        lost += role_tags(iam, name) != {"team": "ml", **({LAUNCH_TAG: "true"} if used else {})}
    operations = len(domains) + 2
    tally("domain-onboarder", faults=injected, operations=operations, lost=lost,
          converged=operations if not lost else 0, **outcomes)
    assert injected > 0
    assert lost == 0


# --------------------------------------------------------------------------------------------- beyond the retries


def test_a_fault_beyond_the_retries_fails_clearly_is_undone_and_the_replay_converges(aws, faults, faulty, replay, sink):
    """IAM answers one role's PutRolePolicy 503 as often as the SDK tries (6 attempts): that Create fails, saying
    which call failed, and takes back what it had written to the other roles (its rollback's Delete, of the
    sentinel id, touches nothing); the replay then converges like any other."""
    iam = aws.client("iam")
    roles = [f"BeyondRole{i}" for i in range(3)]
    for r in roles:
        make_role(iam, r)
        iam.put_role_policy(RoleName=r, PolicyName="TeamPolicy", PolicyDocument=FOREIGN_POLICY)
    faults.rule("http503", service="iam", operation="PutRolePolicy", contains=b"RoleName=BeyondRole2", times=6)
    stack = stack_id("beyond")
    props = {"ExecutionRoles": roles, "LaunchRoleArn": LAUNCH_ROLE_ARN, "TemplateBucket": BUCKET}
    answer = custom_resource(sink, through(faulty), "execution-role-policies", "Create", "RolePolicies", props, stack, "c")
    assert answer["Status"] == "FAILED"
    assert answer["Reason"].startswith("IAM PutRolePolicy on role BeyondRole2 failed: ServiceUnavailable"), answer["Reason"]
    left = {r: sorted(set(iam.list_role_policies(RoleName=r)["PolicyNames"]) - {"TeamPolicy"}) for r in roles}
    assert left == {r: [] for r in roles}, f"a failed Create left grants behind: {left}"
    assert all(LAUNCH_TAG not in role_tags(iam, r) for r in roles)
    replayed = custom_resource(sink, through(replay), "execution-role-policies", "Create", "RolePolicies", props,
                               stack, "c")
    assert replayed["Status"] == "SUCCESS"
    lost = 0
    for r in roles:
        policies = inline(iam, r)
        lost += len([n for n in policies if n.startswith("SageMakerProjects-")]) != 3
        lost += policies.get("TeamPolicy") != json.loads(FOREIGN_POLICY)
        lost += role_tags(iam, r) != {LAUNCH_TAG: "true"}
    tally("beyond the SDK retries", faults=faults_injected(faults), operations=1, failed=1, lost=lost,
          converged=0 if lost else 1)
    assert lost == 0


# --------------------------------------------------------------------------------------------- exact faults


def test_a_failed_publish_is_undone_so_the_rollback_leaves_no_template_behind(aws, faults, faulty, sink):
    """CloudFormation answers a failed Create by rolling back with a Delete of the sentinel id, which touches
    nothing: so the Create itself must take back what it wrote before failing (as Custom::ExecutionRolePolicies
    does). Otherwise templates stay published and visible in Studio after the stack is gone, and the next stack
    (another owner) finds them in its way."""
    s3 = aws.client("s3")
    create_template_bucket(s3, BUCKET)
    s3.put_object(Bucket=BUCKET, Key="templates/team.yaml", Body=b"Resources: {}\n", Tagging="owner=ml")
    faults.rule("denied", service="s3", operation="PutObject", contains=b"templates/deploy-codepipeline.yaml")
    stack = stack_id("rolled-back")
    props = {"Bucket": BUCKET, "Prefix": "templates/"}
    created = custom_resource(sink, through(faulty), "template-publisher", "Create", "Templates", props, stack, "c")
    assert created["Status"] == "FAILED"
    assert created["Reason"].startswith(f"S3 PutObject on s3://{BUCKET}/templates/deploy-codepipeline.yaml failed: "
                                        "AccessDenied"), created["Reason"]
    rollback = cr_event("Custom::ProjectTemplates", props, "Delete", stack=stack, logical="Templates", request_id="d",
                        physical_id=created["PhysicalResourceId"])
    addressed, token = sink.address(rollback)
    through(faulty)("template-publisher", addressed)
    assert sink.response(token)["Status"] == "SUCCESS"
    left = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix="templates/").get("Contents", []))
    assert left == ["templates/team.yaml"], f"published by a Create that failed, never removed: {left}"


# --------------------------------------------------------------------------------------------- the response URL fails

NOTHING_TO_DO = cr_event("Custom::ProjectTemplates", {"Bucket": BUCKET}, "Delete",
                         stack=f"arn:aws:cloudformation:us-east-1:{ACCOUNT}:stack/s/1", logical="Templates",
                         request_id="r", physical_id="an-id-this-function-never-issued")


@pytest.fixture(scope="module")
def faulty_sink(sink):
    from harness.faults import FaultySink

    s = FaultySink(sink, hang_seconds=30)
    yield s
    s.stop()


#: each PUT of a response waits 2 s, not the default 10 s, for an answer: a hanging URL costs 2 s an attempt
ATTEMPT_TIMEOUT = {"CFN_RESPONSE_ATTEMPT_TIMEOUT_MS": "2000"}


def answer_through(faulty_sink, replay, plan):
    addressed, token = faulty_sink.address(dict(NOTHING_TO_DO), plan)
    started = time.monotonic()
    out = replay.watch(ATTEMPT_TIMEOUT).invoke("template-publisher", addressed, timeout=300)
    return out, faulty_sink.attempts(token), time.monotonic() - started, token


@pytest.mark.parametrize("plan", [["500", "503", "pass"], ["drop", "pass"], ["hang", "pass"]],
                         ids=["5xx-then-ok", "dropped-then-ok", "hang-then-ok"])
def test_a_failing_response_url_is_retried_until_the_one_response_is_delivered(faulty_sink, replay, sink, plan):
    out, attempts, took, token = answer_through(faulty_sink, replay, plan)
    assert [a.behaviour for a in attempts] == plan
    assert out["Attempts"] == len(plan), out
    assert sink.response(token)["Status"] == "SUCCESS"
    assert took < 60


def test_a_403_from_the_response_url_is_final(faulty_sink, replay, sink):
    out, attempts, took, token = answer_through(faulty_sink, replay, ["403"])
    assert [a.behaviour for a in attempts] == ["403"], "a client error is not retried"
    assert "HTTP 403 (final, not retried)" in json.dumps(out), out
    assert sink.responses(token) == []
    assert took < 10


@pytest.mark.parametrize("plan", [["503"], ["hang"]], ids=["always-5xx", "always-hangs"])
def test_a_response_url_that_never_accepts_is_given_up_within_the_deadline(faulty_sink, replay, sink, plan):
    """cargo-lambda gives every invocation 600 s: the runtime gives up long before, after a bounded number of
    attempts (each bounded in time), and fails the invocation so Lambda's own retry can try again."""
    out, attempts, took, token = answer_through(faulty_sink, replay, plan)
    assert 2 <= len(attempts) <= 6, attempts
    assert "the response was not delivered after" in json.dumps(out), out
    assert sink.responses(token) == []
    assert took < 120, f"{took:.0f} s"
