"""Security promises, as tests.

- No log line of any function holds a presigned URL's query (the sink's URLs carry `X-Amz-Signature=SIGNATURE-…`),
  the credentials the functions run with, or a value given as a (NoEcho) property — at the default level and at
  debug. Checked on this module's own runs, on every function log written during the session so far, and once
  more when the session ends (over the logs of the modules that run after this one).
- The IAM documents the functions write (iam/execution-role/*.json, as rendered on a role) keep the same cfn-guard
  promises as every template; the templates themselves are covered by tests/test_guard.py.
- The ResponseURL allow-list refuses other hosts end to end: no request is ever made to them.

`cargo deny` (licences, bans, sources) runs in `make deny`, not here."""
from __future__ import annotations

import json
import re
import time
import urllib.parse
import uuid
from pathlib import Path

import pytest

import test_guard as guard_rules
from harness.buckets import create_template_bucket
from harness.emulator import Emulator
from harness.faults import FaultySink, Listener
from harness.functions import Functions, LOG_DIR
from harness import fixtures
from harness.fixtures import LAUNCH_ROLE_ARN, cr_event, make_role, runtime_env

ROOT = Path(__file__).resolve().parents[1]
SESSION_START = time.time()  # this module is imported when the session collects its tests
ACCOUNT = "123456789012"
BUCKET = "sagemaker-projects-templates-123456789012"
#: what the functions run with here: distinctive, so any appearance in a log is a leak
SECRET_KEY = f"sEcReTkEy{uuid.uuid4().hex}"
SESSION_TOKEN = f"SeSsIoNtOkEn{uuid.uuid4().hex}"
NOECHO = f"NoEcHo{uuid.uuid4().hex[:12]}"


def leaks(text: str, secrets: list[str]) -> list[str]:
    """Lines of `text` holding a presigned signature or one of `secrets`."""
    found = []
    for line in text.splitlines():
        if "SIGNATURE-" in line or any(re.search(rf"\b{re.escape(s)}\b", line) for s in secrets):
            found.append(line[:300])
    return found


def session_logs() -> list[Path]:
    return [p for p in LOG_DIR.glob("*.log") if p.stat().st_mtime >= SESSION_START]


class _LogScanAtSessionEnd:
    """Scans, when the session ends, the function logs written after this module ran (as conftest does for the
    sink): any leak fails the session."""

    def __init__(self, secrets: list[str]):
        self.secrets = secrets

    def pytest_sessionfinish(self, session, exitstatus):
        found = {p.name: leaks(p.read_text(errors="replace"), self.secrets) for p in session_logs()}
        found = {k: v for k, v in found.items() if v}
        print(f"\nlog scan: {len(session_logs())} function logs of this session, {len(found)} with a leak")
        for name, lines in found.items():
            for line in lines[:3]:
                print(f"  leak in {name}: {line}")
        if found:
            session.exitstatus = 1


@pytest.fixture(scope="module", autouse=True)
def scan_at_session_end(request, emulator):
    env = emulator.child_env()
    secrets = [SECRET_KEY, SESSION_TOKEN, NOECHO]
    # the emulator's secret, unless it is also its access key id (an identifier, which the SDK logs at debug)
    if env["AWS_SECRET_ACCESS_KEY"] != env["AWS_ACCESS_KEY_ID"]:
        secrets.append(env["AWS_SECRET_ACCESS_KEY"])
    plugin = _LogScanAtSessionEnd(secrets)
    if not request.config.pluginmanager.is_registered(plugin):
        request.config.pluginmanager.register(plugin, "sppb-log-scan")
    return secrets


def runtime_env(emulator: Emulator, **extra) -> dict:
    """The functions' environment under test, with credentials of their own (distinctive, so a leak shows)."""
    return fixtures.runtime_env(emulator, AWS_ACCESS_KEY_ID="AKIAIOSFODNN7EXAMPLE", AWS_SECRET_ACCESS_KEY=SECRET_KEY,
                                AWS_SESSION_TOKEN=SESSION_TOKEN, **extra)


@pytest.fixture(scope="module", params=["info", "debug"])
def fns(emulator, request):
    f = Functions(runtime_env(emulator, AWS_LAMBDA_LOG_LEVEL=request.param), name=f"security-{request.param}")
    yield f
    f.stop()


def trail(name, request=None, response=None):
    return {"version": "0", "id": str(uuid.uuid4()), "detail-type": "AWS API Call via CloudTrail",
            "source": "aws.sagemaker", "account": ACCOUNT, "time": "2026-11-29T12:00:00Z", "region": "us-east-1",
            "resources": [], "detail": {"eventSource": "sagemaker.amazonaws.com", "eventName": name,
                                        "awsRegion": "us-east-1", "recipientAccountId": ACCOUNT,
                                        "requestParameters": request, "responseElements": response}}


def test_no_log_line_holds_a_signature_credentials_or_a_noecho_value(aws, fns, sink, scan_at_session_end):
    """Success and failure paths of every function, including response URLs that fail and events that cannot be
    answered; property values marked by NOECHO stand for NoEcho parameters passed to a custom resource."""
    s3, iam, sm = aws.client("s3"), aws.client("iam"), aws.client("sagemaker")
    create_template_bucket(s3, BUCKET)
    role = make_role(iam, "SecRole")
    faulty = FaultySink(sink, hang_seconds=1)
    onboarder_env = {"LAUNCH_ROLE_ARN": LAUNCH_ROLE_ARN, "TEMPLATE_BUCKET": BUCKET, "TEMPLATE_PREFIX": "templates/",
                     "POLICY_OWNER": "sec"}
    answered = []

    def answer(function, event, plan=None, env=None):
        addressed, token = faulty.address(event, plan) if plan else sink.address(event)
        fns.watch(env).invoke(function, addressed, timeout=300)
        answered.append(token)
        return addressed

    try:
        answer("template-publisher", cr_event("Custom::ProjectTemplates", {"Bucket": BUCKET, "Prefix": "templates/",
                                                                      "Digest": NOECHO}))
        answer("template-publisher", cr_event("Custom::ProjectTemplates", {"Bucket": BUCKET, "Digest": NOECHO}), ["500", "pass"])
        answer("template-publisher", cr_event("Custom::ProjectTemplates", {"Bucket": BUCKET, "Digest": NOECHO}), ["403"])
        answer("template-publisher", cr_event("Custom::ProjectTemplates", {"Bucket": "sagemaker-missing", "Digest": NOECHO}))
        answer("execution-role-policies", cr_event("Custom::ExecutionRolePolicies", {
            "ExecutionRoles": [role, "MissingRole"], "LaunchRoleArn": LAUNCH_ROLE_ARN, "TemplateBucket": BUCKET,
            "TemplatePrefix": f"{NOECHO.lower()}/"}))
        answer("execution-role-policies", cr_event("Custom::ExecutionRolePolicies", {
            "ExecutionRoles": [role], "LaunchRoleArn": LAUNCH_ROLE_ARN, "TemplateBucket": BUCKET,
            "TemplatePrefix": f"{NOECHO.lower()}/"}))
        answer("seedcode-checkin", cr_event("Custom::SeedCode", {
            "BuildProject": "sagemaker-missing-seedcode", "SeedCodeBucket": "sagemaker-servicecatalog-seedcode-us-east-1",
            "SeedCodeKey": "toolchain/x.zip", "RepositoryFullName": "acme/repo", "Branch": NOECHO,
            "ConnectionArn": f"arn:aws:codeconnections:us-east-1:{ACCOUNT}:connection/0a1b2c3d-1111-2222-3333-444455556666"}))
        answer("domain-onboarder", cr_event("Custom::ReconcileDomains", {"Trigger": NOECHO, "TemplatesLocation": f"s3://{BUCKET}/templates/"}), env=onboarder_env)
        # events that cannot be answered: a refused host, and truncated JSON, both carrying a signature
        refused = cr_event("Custom::ProjectTemplates", {"Bucket": BUCKET, "Digest": NOECHO},
                     ResponseURL=f"https://evil.example.com/r?X-Amz-Signature=SIGNATURE-{uuid.uuid4().hex}")
        assert "Rejected" in fns.watch().invoke("template-publisher", refused)
        addressed, token = sink.address(cr_event("Custom::ProjectTemplates", {"Bucket": BUCKET, "Digest": NOECHO}))
        first = {"ResponseURL": addressed["ResponseURL"], **addressed}  # cut after the URL, inside the properties
        fns.watch().invoke("template-publisher", json.dumps(first).encode()[:-30])
        answered.append(token)
        arn = sm.create_domain(DomainName="sec", AuthMode="IAM", DefaultUserSettings={"ExecutionRole": role},
                               SubnetIds=["subnet-1"], VpcId="vpc-1")["DomainArn"]
        fns.watch(onboarder_env).invoke("domain-onboarder", trail("CreateDomain", {"domainName": "sec"}, {"domainArn": arn}))
        fns.watch({"TEMPLATE_BUCKET": BUCKET}).invoke("template-tagger", {"source": "aws.s3", "detail": {}})
    finally:
        faulty.stop()
    statuses = [p.json()["Status"] for t in answered for p in sink.responses(t)]
    assert "SUCCESS" in statuses and "FAILED" in statuses, "both paths were taken"
    time.sleep(0.5)
    text = "".join(p.read_text(errors="replace") for p in fns.log_paths())
    assert "/cfn-response/" in text, "the logs name the response URL (without its query)"
    assert leaks(text, scan_at_session_end) == []
    if fns.base_env["AWS_LAMBDA_LOG_LEVEL"] == "debug":
        assert 'secret_access_key: \\"** redacted **\\"' in text, "at debug the SDK shows the credentials it uses, redacted"


def test_no_function_log_of_this_session_leaks(scan_at_session_end):
    logs = session_logs()
    assert logs, "no function has run in this session yet"
    found = {p.name: leaks(p.read_text(errors="replace"), scan_at_session_end) for p in logs}
    assert {k: v for k, v in found.items() if v} == {}


# --------------------------------------------------------------------------------------------- IAM documents


def test_the_policies_the_functions_write_keep_the_guard_promises(aws, emulator, sink, tmp_path):
    """The three documents of iam/execution-role/, exactly as the function renders them onto a role, checked
    with the same rules as every template (tests/test_guard.py runs them on iam/, infra/ and templates/)."""
    iam = aws.client("iam")
    make_role(iam, "GuardedRole", "/service-role/")
    f = Functions(runtime_env(emulator), name="security-guard")
    try:
        addressed, token = sink.address(cr_event("Custom::ExecutionRolePolicies", {
            "ExecutionRoles": ["GuardedRole"], "LaunchRoleArn": LAUNCH_ROLE_ARN, "TemplateBucket": BUCKET,
            "TemplatePrefix": "templates/"}))
        f.watch().invoke("execution-role-policies", addressed)
    finally:
        f.stop()
    assert sink.response(token)["Status"] == "SUCCESS"
    names = iam.list_role_policies(RoleName="GuardedRole")["PolicyNames"]
    assert len(names) == 3
    resources = {}
    for i, name in enumerate(sorted(names)):
        doc = iam.get_role_policy(RoleName="GuardedRole", PolicyName=name)["PolicyDocument"]
        doc = json.loads(urllib.parse.unquote(doc)) if isinstance(doc, str) else doc
        resources[f"Written{i}"] = {"Type": "AWS::IAM::RolePolicy", "Properties": {
            "RoleName": "GuardedRole", "PolicyName": name, "PolicyDocument": doc}}
    template = tmp_path / "written-policies.json"
    template.write_text(json.dumps({"AWSTemplateFormatVersion": "2010-09-09", "Resources": resources}))
    results = guard_rules.guard(template, guard_rules.COMMON_RULE_FILES)
    assert results.get("iam_no_wildcard_actions") == "PASS" and results.get("iam_passrole_named_roles") == "PASS", results
    failed = sorted(n for n, v in results.items() if v == "FAIL")
    assert not failed, f"{failed}\n{guard_rules.failure_report(template, guard_rules.COMMON_RULE_FILES)}"


# --------------------------------------------------------------------------------------------- the ResponseURL allow-list


@pytest.fixture
def listener():
    lst = Listener()
    yield lst
    lst.stop()


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:{port}/cfn-response/x?X-Amz-Signature=SIGNATURE-1",
    "https://127.0.0.1:{port}/cloudformation-custom-resource-response-useast1/x",
    "https://my-bucket.s3.amazonaws.com/cloudformation-custom-resource-response-useast1/x",
    "https://s3.amazonaws.com/someone-elses-bucket/cloudformation-custom-resource-response-useast1/x",
    "https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com.evil.example/x",
], ids=["loopback-http", "loopback-https", "other-bucket-virtual", "other-bucket-path", "suffix-trick"])
def test_the_deployed_allow_list_refuses_other_hosts_without_a_request(emulator, listener, url):
    """As deployed (no CFN_RESPONSE_ALLOW_LOOPBACK): only CloudFormation's S3 response buckets over https."""
    f = Functions({**emulator.child_env()}, name="security-deployed")
    try:
        ev = cr_event("Custom::ProjectTemplates", {"Bucket": BUCKET}, ResponseURL=url.format(port=listener.port))
        out = f.watch().invoke("template-publisher", ev, timeout=300)
    finally:
        f.stop()
    assert set(out) == {"Rejected"} and "is not a CloudFormation response bucket" in out["Rejected"], out
    assert listener.connections == []
    assert "SIGNATURE" not in out["Rejected"]


def test_the_loopback_exception_is_for_loopback_addresses_only(emulator, listener):
    """CFN_RESPONSE_ALLOW_LOOPBACK lets the emulator's http://127.0.0.1 through — not every host whose name
    starts with "127." (a DNS name such as 127.0.0.1.nip.io resolves anywhere)."""
    f = Functions({**emulator.child_env(), "CFN_RESPONSE_ALLOW_LOOPBACK": "true"}, name="security-loopback")
    try:
        ev = cr_event("Custom::ProjectTemplates", {"Bucket": BUCKET},
                ResponseURL=f"http://127.0.0.1.nip.io:{listener.port}/cfn-response/x")
        started = time.monotonic()
        out = f.watch().invoke("template-publisher", ev, timeout=300)
        took = time.monotonic() - started
    finally:
        f.stop()
    assert set(out) == {"Rejected"}, f"{out} after {took:.0f} s"
    assert listener.connections == []
