"""The bad-input catalogue: every function, fed what it should never get, gives exactly one clear outcome.

For a custom resource that can be answered, that outcome is one FAILED response whose Reason names the problem
(checked at the sink). For an event that cannot be answered (no usable ResponseURL), or an EventBridge / SQS
event that is not for us, it is a logged rejection the function returns normally — so Lambda does not retry
it. Never a panic (the function's log is scanned), a hang (every invocation is timed), or a partial write (the
emulator's state is compared before and after). Raw bytes go through cargo-lambda's invoke API unchanged."""
from __future__ import annotations

import copy
import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable

import pytest

from harness.buckets import create_template_bucket
from harness.faults import Listener
from harness.functions import Functions
from harness.fixtures import LAUNCH_ROLE_ARN, cr_event, make_role, runtime_env

ACCOUNT = "123456789012"
BUCKET = "sagemaker-projects-templates-123456789012"
STACK = f"arn:aws:cloudformation:us-east-1:{ACCOUNT}:stack/bad-inputs/5e1f"
MB = 1024 * 1024
#: no outcome may take longer than this (cargo-lambda's own deadline is 600 s)
PROMPT = 30.0

ONBOARDER_ENV = {"LAUNCH_ROLE_ARN": LAUNCH_ROLE_ARN, "TEMPLATE_BUCKET": BUCKET, "TEMPLATE_PREFIX": "templates/",
                 "DEFAULT_TEMPLATE": "build-train-codepipeline", "POLICY_OWNER": "bad-inputs"}
TAGGER_ENV = {"TEMPLATE_BUCKET": BUCKET, "TEMPLATE_PREFIX": "uploads/"}
ENVS = {"domain-onboarder": ONBOARDER_ENV, "template-tagger": TAGGER_ENV}


@dataclass
class Case:
    id: str
    function: str
    #: the event, or a function of the test context that builds it
    event: Any
    #: failed: a FAILED response; rejected / ignored / error: the invocation's own answer; ok: a good outcome
    expect: str
    #: text the Reason / rejection must contain
    says: str
    #: turns the addressed event into the raw bytes sent
    raw: Callable[[dict], bytes] | None = None
    #: for `ok`: what the answer must contain
    check: Callable[[dict], bool] | None = None
    extra: dict = field(default_factory=dict)


def cr(resource_type: str, props: Any, request_type: Any = "Create", **extra) -> dict:
    return cr_event(resource_type, props, request_type, stack=STACK, **{"ResponseURL": "(sink)", **extra})


def role_props(**over) -> dict:
    return {"ExecutionRoles": ["BystanderRole"], "LaunchRoleArn": LAUNCH_ROLE_ARN, "TemplateBucket": BUCKET,
            "TemplatePrefix": "templates/", **over}


def seed_props(**over) -> dict:
    return {"BuildProject": "sagemaker-p-seedcode", "SeedCodeBucket": "sagemaker-servicecatalog-seedcode-us-east-1",
            "SeedCodeKey": "toolchain/model-building-workflow-v1.0.zip",
            "ConnectionArn": f"arn:aws:codeconnections:us-east-1:{ACCOUNT}:connection/0a1b2c3d-1111-2222-3333-444455556666",
            "RepositoryFullName": "acme/model-build", "Branch": "main", **over}


def truncated(ev: dict) -> bytes:
    """The event's JSON cut inside ResourceProperties, after every field a response must echo."""
    ordered = {k: ev[k] for k in ("RequestType", "ResponseURL", "StackId", "RequestId", "LogicalResourceId")}
    ordered.update({k: v for k, v in ev.items() if k not in ordered})
    text = json.dumps(ordered)
    cut = text.index('"ResourceProperties"') + len('"ResourceProperties": {"Serv')
    return text[:cut].encode()


def trailing_garbage(ev: dict) -> bytes:
    return json.dumps(ev).encode() + b"}}\x00"


def trail(name, request=None, response=None, errorCode=None, **top) -> dict:  # noqa: N803 - CloudTrail's name
    ev = {"version": "0", "id": str(uuid.uuid4()), "detail-type": "AWS API Call via CloudTrail",
          "source": "aws.sagemaker", "account": ACCOUNT, "time": "2026-11-29T12:00:00Z", "region": "us-east-1",
          "resources": [], "detail": {"eventVersion": "1.08", "eventSource": "sagemaker.amazonaws.com",
                                      "eventName": name, "awsRegion": "us-east-1", "recipientAccountId": ACCOUNT,
                                      "requestParameters": request, "responseElements": response}}
    if errorCode:
        ev["detail"].update(errorCode=errorCode, errorMessage="injected by the test")
    ev.update(top)
    return ev


def s3_event(key, etag="0" * 32, version=None, detail_type="Object Created", bucket=BUCKET, **object_extra):
    obj = {"key": key, "size": 10, "etag": etag, "sequencer": "00", **object_extra}
    if version:
        obj["version-id"] = version
    return {"version": "0", "id": str(uuid.uuid4()), "detail-type": detail_type, "source": "aws.s3",
            "account": ACCOUNT, "time": "2026-11-29T12:00:00Z", "region": "us-east-1",
            "resources": [f"arn:aws:s3:::{bucket}"],
            "detail": {"version": "0", "bucket": {"name": bucket}, "object": obj, "request-id": "R",
                       "requester": ACCOUNT, "reason": "PutObject"}}


def uploaded(key: str, body: bytes = b"Resources: {}\n", delete: bool = False):
    """An event for an upload made when the case runs (optionally deleted again at once)."""
    def build(ctx):
        put = ctx.s3.put_object(Bucket=BUCKET, Key=key, Body=body)
        if delete:
            ctx.s3.delete_object(Bucket=BUCKET, Key=key, VersionId=put["VersionId"])
        return s3_event(key, put["ETag"].strip('"'), put["VersionId"])
    return build


def listener_url(template: str):
    """A ResponseURL on the recording listener, which must see no connection at all."""
    def build(ctx):
        return cr("Custom::ExecutionRolePolicies", role_props(),
                  ResponseURL=template.format(port=ctx.listener.port))
    return build


ERP, PUB, SEED, ONB, TAG = ("execution-role-policies", "template-publisher", "seedcode-checkin", "domain-onboarder",
                            "template-tagger")
ERP_T, PUB_T, SEED_T, REC_T = ("Custom::ExecutionRolePolicies", "Custom::ProjectTemplates", "Custom::SeedCode",
                               "Custom::ReconcileDomains")

CASES = [
    # ---- the envelope, for every custom resource
    Case("erp-truncated-json", ERP, cr(ERP_T, role_props()), "failed", "the event is not valid JSON (EOF while parsing",
         raw=truncated),
    Case("erp-trailing-garbage", ERP, cr(ERP_T, role_props()), "failed", "the event is not valid JSON (trailing characters",
         raw=trailing_garbage),
    Case("pub-truncated-json", PUB, cr(PUB_T, {"Bucket": BUCKET}), "failed", "the event is not valid JSON", raw=truncated),
    Case("seed-truncated-json", SEED, cr(SEED_T, seed_props()), "failed", "the event is not valid JSON", raw=truncated),
    Case("reconcile-truncated-json", ONB, cr(REC_T, {"Trigger": "1"}), "failed", "the event is not valid JSON",
         raw=truncated),
    Case("not-json-at-all", ERP, None, "rejected", "no ResponseURL", raw=lambda _: b"\x00\xffnot json"),
    Case("empty-body", PUB, None, "rejected", "no ResponseURL", raw=lambda _: b""),
    Case("json-array", ERP, None, "rejected", "no ResponseURL", raw=lambda _: b"[1, 2, 3]"),
    Case("json-null", SEED, None, "rejected", "no ResponseURL", raw=lambda _: b"null"),
    Case("response-url-not-a-string", ERP, cr(ERP_T, role_props(), ResponseURL=["https://x"]), "rejected",
         "no ResponseURL"),
    Case("request-type-lowercase", ERP, cr(ERP_T, role_props(), "create"), "failed",
         'RequestType "create" is not one of Create, Update, Delete'),
    Case("request-type-unknown", PUB, cr(PUB_T, {"Bucket": BUCKET}, "Replace"), "failed",
         'RequestType "Replace" is not one of Create, Update, Delete'),
    Case("request-type-number", SEED, cr(SEED_T, seed_props(), 7), "failed", "RequestType 7 is not one of"),
    Case("request-type-missing", ONB, cr(REC_T, {}, None), "failed", "RequestType is missing"),
    Case("properties-a-string", ERP, cr(ERP_T, "ExecutionRoles=x"), "failed",
         "ResourceProperties must be a JSON object of properties, got a string"),
    Case("old-properties-an-array", PUB, cr(PUB_T, {"Bucket": BUCKET}, "Update", PhysicalResourceId="Resource-g0-x",
                                            OldResourceProperties=[1]), "failed",
         "OldResourceProperties must be a JSON object of properties, got an array"),
    Case("update-without-physical-id", ERP, cr(ERP_T, role_props(), "Update", OldResourceProperties=role_props()),
         "failed", "PhysicalResourceId is missing from an Update request"),
    Case("reconcile-update-without-physical-id", ONB, cr(REC_T, {"Trigger": "2"}, "Update",
                                                         OldResourceProperties={"Trigger": "1"}),
         "failed", "PhysicalResourceId is missing from an Update request"),
    # ---- ResponseURLs that must be refused without a single request
    Case("response-url-https-not-s3", ERP, listener_url("https://127.0.0.1:{port}/cloudformation-custom-resource-response-useast1/k?X-Amz-Signature=s"),
         "rejected", "is not a CloudFormation response bucket on S3 over https"),
    Case("response-url-ftp", ERP, listener_url("ftp://127.0.0.1:{port}/x"), "rejected",
         "is not a CloudFormation response bucket"),
    Case("response-url-s3-lookalike", ERP, listener_url(
        "https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com.127.0.0.1.nip.io:{port}/k"),
         "rejected", "is not a CloudFormation response bucket"),
    Case("response-url-userinfo-trick", ERP, listener_url(
        "https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com@127.0.0.1:{port}/k"),
         "rejected", "carries a user name or password"),
    Case("response-url-file", ERP, cr(ERP_T, role_props(), ResponseURL="file:///etc/passwd"), "rejected",
         "is not a CloudFormation response bucket"),
    Case("response-url-not-a-url", ERP, cr(ERP_T, role_props(), ResponseURL="not a url"), "rejected",
         "ResponseURL is not a URL"),
    # ---- properties: types, missing, extra, names, sizes
    Case("roles-a-number", ERP, cr(ERP_T, role_props(ExecutionRoles=5)), "failed",
         "ResourceProperties.ExecutionRoles: expected a list of strings, got 5"),
    Case("roles-list-of-objects", ERP, cr(ERP_T, role_props(ExecutionRoles=[{"Arn": "x"}])), "failed",
         "ResourceProperties.ExecutionRoles: expected a list of strings, found {"),
    Case("launch-role-missing", ERP, cr(ERP_T, {k: v for k, v in role_props().items() if k != "LaunchRoleArn"}),
         "failed", "ResourceProperties: missing field `LaunchRoleArn`"),
    Case("extra-field", ERP, cr(ERP_T, role_props(Colour="blue")), "failed", "ResourceProperties.Colour: unknown field `Colour`"),
    Case("role-of-another-account", ERP, cr(ERP_T, role_props(ExecutionRoles=["arn:aws:iam::999999999999:role/Theirs"])),
         "failed", "role arn:aws:iam::999999999999:role/Theirs is in account 999999999999; this stack can only manage "
                   "roles of account 123456789012"),
    Case("role-name-unicode", ERP, cr(ERP_T, role_props(ExecutionRoles=["Rôle-Données"])), "failed",
         'ExecutionRoles: "Rôle-Données" is not an IAM role'),
    Case("role-name-65-chars", ERP, cr(ERP_T, role_props(ExecutionRoles=["R" * 65])), "failed",
         f'ExecutionRoles: "{"R" * 65}" is not an IAM role'),
    Case("launch-role-not-a-role-arn", ERP, cr(ERP_T, role_props(LaunchRoleArn=f"arn:aws:iam::{ACCOUNT}:user/Bob")),
         "failed", "LaunchRoleArn: "),
    Case("bucket-uppercase", ERP, cr(ERP_T, role_props(TemplateBucket="Templates")), "failed",
         'TemplateBucket: "Templates" is not an S3 bucket name'),
    Case("bucket-ip-address", PUB, cr(PUB_T, {"Bucket": "192.168.10.1"}), "failed",
         'Bucket: "192.168.10.1" is not an S3 bucket name'),
    Case("bucket-too-short", PUB, cr(PUB_T, {"Bucket": "ab"}), "failed", 'Bucket: "ab" is not an S3 bucket name'),
    Case("bucket-double-dot", PUB, cr(PUB_T, {"Bucket": "sagemaker..templates"}), "failed",
         'Bucket: "sagemaker..templates" is not an S3 bucket name'),
    Case("bucket-does-not-exist", PUB, cr(PUB_T, {"Bucket": "sagemaker-nobody-made-this"}), "failed",
         "S3 ListObjectsV2 on s3://sagemaker-nobody-made-this/ failed: NoSuchBucket"),
    Case("prefix-escapes", PUB, cr(PUB_T, {"Bucket": BUCKET, "Prefix": "../etc/"}), "failed",
         'Prefix: "../etc/" is not a key prefix'),
    Case("prefix-unicode", PUB, cr(PUB_T, {"Bucket": BUCKET, "Prefix": "modèles/"}), "failed",
         'Prefix: "modèles/" is not a key prefix'),
    Case("retain-not-boolean", PUB, cr(PUB_T, {"Bucket": BUCKET, "Retain": "maybe"}), "failed",
         'ResourceProperties.Retain: expected "true" or "false", got "maybe"'),
    Case("bucket-a-list", PUB, cr(PUB_T, {"Bucket": [BUCKET]}), "failed", "ResourceProperties.Bucket: invalid type: sequence"),
    Case("huge-role-list", ERP, cr(ERP_T, role_props(ExecutionRoles=["x" * (MB + MB // 4)])), "failed",
         'ExecutionRoles: "xxxx'),
    Case("huge-bucket-name", PUB, cr(PUB_T, {"Bucket": "b" * (MB + 10)}), "failed", 'Bucket: "bbbb'),
    Case("seed-build-project", SEED, cr(SEED_T, seed_props(BuildProject="-bad name")), "failed",
         'BuildProject: "-bad name" is not a CodeBuild project name'),
    Case("seed-key-escapes", SEED, cr(SEED_T, seed_props(SeedCodeKey="../secrets.zip")), "failed",
         'SeedCodeKey: "../secrets.zip" is not the S3 key of a seed-code archive'),
    Case("seed-connection-github-token", SEED, cr(SEED_T, seed_props(ConnectionArn="ghp_0123456789abcdef")), "failed",
         "is not a CodeConnections connection ARN"),
    Case("seed-connection-other-service", SEED, cr(SEED_T, seed_props(
        ConnectionArn=f"arn:aws:codecommit:us-east-1:{ACCOUNT}:connection/abc")), "failed",
         "is not a CodeConnections connection ARN"),
    Case("seed-branch-dotdot", SEED, cr(SEED_T, seed_props(Branch="feature..x")), "failed",
         'Branch: "feature..x" is not a Git branch name'),
    Case("seed-repository-no-owner", SEED, cr(SEED_T, seed_props(RepositoryFullName="justrepo")), "failed",
         'RepositoryFullName: "justrepo" is not a repository\'s full name'),
    Case("seed-repository-unicode", SEED, cr(SEED_T, seed_props(RepositoryFullName="acmé/dépôt")), "failed",
         "is not a repository's full name"),
    Case("seed-branch-missing", SEED, cr(SEED_T, {k: v for k, v in seed_props().items() if k != "Branch"}), "failed",
         "ResourceProperties: missing field `Branch`"),
    # ---- CloudTrail events for the onboarder
    Case("trail-error-code", ONB, trail("CreateDomain", {"domainName": "x"}, None, errorCode="ResourceLimitExceeded"),
         "ignored", "the call failed"),
    Case("trail-other-account", ONB, trail("UpdateDomain", {"domainId": "d-abc"}, account="999999999999"), "ignored",
         "event from account 999999999999, not 123456789012"),
    Case("trail-other-region", ONB, trail("UpdateDomain", {"domainId": "d-abc"}, region="ap-southeast-2"), "ignored",
         "event from region ap-southeast-2, not us-east-1"),
    Case("trail-domain-id-unicode", ONB, trail("UpdateDomain", {"domainId": "d-ünïcode"}), "ignored",
         "is not a domain id"),
    Case("trail-profile-name-too-long", ONB, trail("CreateUserProfile", {"domainId": "d-abc", "userProfileName": "p" * 64}),
         "ignored", "is not a profile name"),
    Case("trail-detail-an-array", ONB, trail("CreateDomain") | {"detail": [1]}, "ignored",
         "CloudTrail event without a detail object"),
    Case("trail-truncated", ONB, None, "ignored", "event is not JSON within the bounds (EOF while parsing",
         raw=lambda _: json.dumps(trail("CreateDomain", {"domainName": "x"})).encode()[:90]),
    Case("recheck-negative-attempt", ONB, {"Recheck": {"domain_id": "d-abc", "attempt": -1, "first_seen": 0}},
         "ignored", "malformed re-check message"),
    Case("sqs-body-not-json", ONB, {"Records": [{"messageId": "m1", "receiptHandle": "r", "body": "{not json",
                                                 "eventSource": "aws:sqs", "attributes": {}}]}, "ok", "",
         check=lambda out: out["batchItemFailures"] == [] and "Ignored" in out["Results"][0]),
    # ---- S3 events for the tagger
    Case("s3-object-deleted-since", TAG, uploaded("uploads/gone.yaml", delete=True), "ignored", "the object is gone"),
    Case("s3-version-that-never-existed", TAG, s3_event("uploads/ghost.yaml", version="3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY"),
         "ignored", "the object is gone"),
    Case("s3-object-deleted-event", TAG, s3_event("uploads/x.yaml", detail_type="Object Deleted"), "ignored",
         "not an S3 Object Created event"),
    Case("s3-key-a-number", TAG, s3_event("uploads/x.yaml") | {"detail": {"bucket": {"name": BUCKET}, "object": {"key": 5}}},
         "ignored", "not an S3 Object Created event: invalid type"),
    Case("s3-no-detail", TAG, {"source": "aws.s3", "detail-type": "Object Created"}, "ignored",
         "not an S3 Object Created event"),
    Case("s3-truncated", TAG, None, "ignored", "event is not JSON", raw=lambda _: json.dumps(s3_event("uploads/a.yaml")).encode()[:70]),
    Case("s3-unicode-key-is-judged", TAG, uploaded("uploads/modèle-équipe-数据.yaml"), "ok", "",
         check=lambda out: out["Visible"] is False and out["Reason"].startswith("Resources is empty")),
    Case("s3-very-long-key-is-judged", TAG, uploaded("uploads/" + "k" * 1000 + ".yaml"), "ok", "",
         check=lambda out: out["Visible"] is False),
]


@pytest.fixture(scope="module")
def fns(emulator):
    f = Functions(runtime_env(emulator), name="bad-inputs")
    # start every function once, untimed: its cold start is not what the catalogue times
    for function in (ERP, PUB, SEED, ONB, TAG):
        f.watch(ENVS.get(function)).invoke(function, b"null", timeout=600)
    yield f
    f.stop()


@pytest.fixture(scope="module")
def listener():
    lst = Listener()
    yield lst
    lst.stop()


class Ctx:
    pass


def snapshot(aws) -> dict:
    """Everything a bad input could have written to."""
    iam, s3, sm = aws.client("iam"), aws.client("s3"), aws.client("sagemaker")
    roles = {}
    for r in iam.list_roles()["Roles"]:
        name = r["RoleName"]
        roles[name] = (sorted(iam.list_role_policies(RoleName=name)["PolicyNames"]),
                       sorted((t["Key"], t["Value"]) for t in iam.list_role_tags(RoleName=name)["Tags"]))
    objects = {}
    for b in s3.list_buckets()["Buckets"]:
        for v in s3.list_object_versions(Bucket=b["Name"]).get("Versions", []):
            tags = s3.get_object_tagging(Bucket=b["Name"], Key=v["Key"], VersionId=v["VersionId"])["TagSet"]
            objects[(b["Name"], v["Key"], v["VersionId"])] = sorted((t["Key"], t["Value"]) for t in tags)
    domains = {d["DomainId"]: sorted((t["Key"], t["Value"]) for t in sm.list_tags(ResourceArn=d["DomainArn"])["Tags"])
               for d in sm.list_domains()["Domains"]}
    projects = sorted(p["ProjectName"] for p in sm.list_projects()["ProjectSummaryList"])
    return {"roles": roles, "objects": objects, "domains": domains, "projects": projects}


def log_offsets(fns) -> dict:
    return {p: p.stat().st_size for p in fns.log_paths()}


def new_log_text(fns, offsets) -> str:
    text = []
    for p in fns.log_paths():
        with open(p, "rb") as f:
            f.seek(offsets.get(p, 0))
            text.append(f.read().decode(errors="replace"))
    return "".join(text)


def test_the_catalogue_is_large_and_covers_every_function():
    assert len(CASES) >= 40
    assert {c.function for c in CASES} == {ERP, PUB, SEED, ONB, TAG}
    assert len({c.id for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_gets_one_clear_outcome(aws, fns, sink, listener, case):
    s3, iam, sm = aws.client("s3"), aws.client("iam"), aws.client("sagemaker")
    create_template_bucket(s3, BUCKET)
    role = make_role(iam, "BystanderRole")
    iam.put_role_policy(RoleName="BystanderRole", PolicyName="TeamPolicy", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"}]}))
    sm.create_domain(DomainName="bystander", AuthMode="IAM", DefaultUserSettings={"ExecutionRole": role},
                     SubnetIds=["subnet-1"], VpcId="vpc-1", Tags=[{"Key": "team", "Value": "ml"}])
    ctx = Ctx()
    ctx.s3, ctx.listener = s3, listener
    event = case.event(ctx) if callable(case.event) else copy.deepcopy(case.event)
    before = snapshot(aws)
    heard_before = len(listener.connections)

    token = None
    if case.expect == "failed":
        event, token = sink.address(event)
    body = case.raw(event) if case.raw else event
    offsets = log_offsets(fns)
    watch = fns.watch(ENVS.get(case.function))
    started = time.monotonic()
    out = watch.invoke(case.function, body, timeout=PROMPT * 4)
    took = time.monotonic() - started

    assert took < PROMPT, f"{case.id} took {took:.1f} s"
    if case.expect == "failed":
        answer = sink.response(token)  # exactly one, contract-checked
        assert answer["Status"] == "FAILED", answer
        assert case.says in answer["Reason"], answer["Reason"]
        assert set(out) == {"Answered", "Attempts"} and out["Answered"]["Status"] == "FAILED", out
    elif case.expect == "ok":
        assert case.check(out), out
    else:
        key = {"rejected": "Rejected", "ignored": "Ignored", "error": "Error"}[case.expect]
        assert set(out) == {key}, f"one outcome, returned normally (so not retried): {out}"
        assert case.says in out[key], out[key]
    assert len(listener.connections) == heard_before, "a refused ResponseURL was contacted"
    if case.expect != "ok":
        assert snapshot(aws) == before, "a bad input changed something"
    logs = new_log_text(fns, offsets)
    assert "panicked" not in logs, logs[-3000:]


def test_no_bad_input_ever_panicked_a_function(fns):
    """Over the whole catalogue (log lines may trail an invocation's answer by a moment)."""
    time.sleep(0.5)
    logs = "".join(p.read_text(errors="replace") for p in fns.log_paths())
    assert logs, "the catalogue ran no function"
    assert "panicked" not in logs


def test_a_launch_role_of_another_account_is_refused(aws, fns, sink):
    """iam:PassRole can only pass a role of the caller's own account, so a LaunchRoleArn in another account than
    the stack's can never work; worse, bare role names are then taken to be in that account's scope. The
    stack's account is in its StackId: the resource must fail naming LaunchRoleArn, and write nothing."""
    iam = aws.client("iam")
    make_role(iam, "BystanderRole")
    event, token = sink.address(cr(ERP_T, role_props(LaunchRoleArn="arn:aws:iam::999999999999:role/TheirLaunchRole")))
    fns.watch().invoke(ERP, event, timeout=PROMPT)
    answer = sink.response(token)
    assert answer["Status"] == "FAILED", f"granted PassRole on another account's role: {answer}"
    assert "LaunchRoleArn" in answer["Reason"] and "999999999999" in answer["Reason"], answer["Reason"]
    assert iam.list_role_policies(RoleName="BystanderRole")["PolicyNames"] == []
