"""Custom::ExecutionRolePolicies, run for real: the binary through cargo-lambda, IAM in the emulator, every
response checked by the sink."""
import json
import urllib.parse

import pytest

from harness.fixtures import LAUNCH_ROLE_ARN, cr_event, make_role

FUNCTION = "execution-role-policies"
STACK = "arn:aws:cloudformation:us-east-1:123456789012:stack/bootstrap/4a1b2c3d"
TAG = "sagemaker-projects-launch-access"


def event(request_type, props, old=None, physical_id=None, request_id="req-1", logical="RolePolicies", stack=STACK):
    return cr_event("Custom::ExecutionRolePolicies", props, request_type, stack=stack, logical=logical,
                    request_id=request_id, old=old, physical_id=physical_id)


def props(roles, bucket="sagemaker-templates-test", prefix="templates/"):
    return {"ExecutionRoles": roles, "LaunchRoleArn": LAUNCH_ROLE_ARN, "TemplateBucket": bucket, "TemplatePrefix": prefix}


@pytest.fixture
def run(aws, answer):
    return lambda ev: answer(FUNCTION, ev)


def inline(iam, role):
    out = {}
    for name in iam.list_role_policies(RoleName=role)["PolicyNames"]:
        doc = iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
        if isinstance(doc, str):
            doc = json.loads(urllib.parse.unquote(doc))
        out[name] = doc
    return out


def ours(policies):
    return {n: d for n, d in policies.items() if n.startswith("SageMakerProjects-")}


def tags(iam, role):
    return {t["Key"]: t["Value"] for t in iam.list_role_tags(RoleName=role)["Tags"]}


def test_create_gives_each_role_the_three_policies_and_the_launch_tag(aws, run):
    iam = aws.client("iam")
    plain = make_role(iam, "PlainExecutionRole")
    pathed = make_role(iam, "AmazonSageMaker-ExecutionRole-1", "/service-role/")
    r = run(event("Create", props([plain, pathed])))
    assert r["Status"] == "SUCCESS", r
    assert r["PhysicalResourceId"].startswith("RolePolicies-g0-")
    assert r["Data"]["Roles"] == "AmazonSageMaker-ExecutionRole-1,PlainExecutionRole"
    for role in ("PlainExecutionRole", "AmazonSageMaker-ExecutionRole-1"):
        policies = ours(inline(iam, role))
        assert len(policies) == 3
        by_purpose = {n.split("-")[1]: d for n, d in policies.items()}
        assert by_purpose["PassLaunchRole"]["Statement"] == [
            {"Sid": "PassTheProjectsLaunchRoleOnly", "Effect": "Allow", "Action": "iam:PassRole", "Resource": LAUNCH_ROLE_ARN,
             "Condition": {"StringEquals": {"iam:PassedToService": ["sagemaker.amazonaws.com", "cloudformation.amazonaws.com"]}}}
        ]
        assert by_purpose["ProjectStacks"]["Statement"][0]["Resource"] == "arn:aws:cloudformation:*:123456789012:stack/SP-*"
        assert by_purpose["TemplateRead"]["Statement"][0]["Resource"] == "arn:aws:s3:::sagemaker-templates-test/templates/*"
        assert tags(iam, role)[TAG] == "true"


def test_a_replayed_create_converges_to_the_same_state_and_answer(aws, run):
    iam = aws.client("iam")
    role = make_role(iam, "ReplayRole")
    answers = [run(event("Create", props([role]))) for _ in range(5)]
    assert {a["PhysicalResourceId"] for a in answers} == {answers[0]["PhysicalResourceId"]}
    assert all(a["Status"] == "SUCCESS" for a in answers)
    assert len(ours(inline(iam, "ReplayRole"))) == 3


def test_update_follows_the_role_list_and_the_bucket(aws, run):
    iam = aws.client("iam")
    a, b, c = (make_role(iam, n) for n in ("RoleA", "RoleB", "RoleC"))
    created = run(event("Create", props([a, b])))
    pid = created["PhysicalResourceId"]
    updated = run(event("Update", props([b, c], bucket="sagemaker-other-bucket"), old=props([a, b]), physical_id=pid, request_id="req-2"))
    assert updated["Status"] == "SUCCESS" and updated["PhysicalResourceId"] == pid
    assert ours(inline(iam, "RoleA")) == {} and TAG not in tags(iam, "RoleA")
    for role in ("RoleB", "RoleC"):
        read = [d for n, d in ours(inline(iam, role)).items() if "TemplateRead" in n][0]
        assert read["Statement"][0]["Resource"] == "arn:aws:s3:::sagemaker-other-bucket/templates/*"
        assert tags(iam, role)[TAG] == "true"


def test_delete_removes_exactly_what_it_put(aws, run):
    iam = aws.client("iam")
    role = make_role(iam, "SharedRole")
    iam.put_role_policy(RoleName="SharedRole", PolicyName="TeamPolicy", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"}]}))
    iam.tag_role(RoleName="SharedRole", Tags=[{"Key": "team", "Value": "ml"}])
    pid = run(event("Create", props([role])))["PhysicalResourceId"]
    deleted = run(event("Delete", props([role]), physical_id=pid, request_id="req-3"))
    assert deleted["Status"] == "SUCCESS"
    assert list(inline(iam, "SharedRole")) == ["TeamPolicy"]
    assert tags(iam, "SharedRole") == {"team": "ml"}


def test_two_stacks_on_one_role_never_clobber_each_other(aws, run):
    iam = aws.client("iam")
    role = make_role(iam, "TwoStacksRole")
    other_stack = "arn:aws:cloudformation:us-east-1:123456789012:stack/second/99"
    first = run(event("Create", props([role])))
    second = run(event("Create", props([role]), stack=other_stack))
    assert len(ours(inline(iam, "TwoStacksRole"))) == 6
    run(event("Delete", props([role]), physical_id=first["PhysicalResourceId"], request_id="d1"))
    assert len(ours(inline(iam, "TwoStacksRole"))) == 3
    assert tags(iam, "TwoStacksRole")[TAG] == "true", "the other stack still grants launch access"
    run(event("Delete", props([role]), physical_id=second["PhysicalResourceId"], stack=other_stack, request_id="d2"))
    assert ours(inline(iam, "TwoStacksRole")) == {} and TAG not in tags(iam, "TwoStacksRole")


def test_a_failed_create_leaves_nothing_and_its_delete_touches_nothing(aws, run):
    iam = aws.client("iam")
    exists = make_role(iam, "ExistingRole")
    failed = run(event("Create", props([exists, "arn:aws:iam::123456789012:role/DoesNotExist"])))
    assert failed["Status"] == "FAILED"
    assert failed["Reason"] == "execution role DoesNotExist does not exist"
    assert failed["PhysicalResourceId"].startswith("create-failed:")
    assert ours(inline(iam, "ExistingRole")) == {}, "the partial create was undone"
    # someone else's grant appears meanwhile: the sentinel's Delete must not touch it
    run(event("Create", props([exists]), stack="arn:aws:cloudformation:us-east-1:123456789012:stack/other/1"))
    before = inline(iam, "ExistingRole")
    deleted = run(event("Delete", props([exists]), physical_id=failed["PhysicalResourceId"], request_id="req-9"))
    assert deleted["Status"] == "SUCCESS" and deleted["PhysicalResourceId"] == failed["PhysicalResourceId"]
    assert inline(iam, "ExistingRole") == before


def test_delete_succeeds_when_the_role_is_already_gone(aws, run):
    iam = aws.client("iam")
    role = make_role(iam, "ShortLivedRole")
    pid = run(event("Create", props([role])))["PhysicalResourceId"]
    for name in iam.list_role_policies(RoleName="ShortLivedRole")["PolicyNames"]:
        iam.delete_role_policy(RoleName="ShortLivedRole", PolicyName=name)
    iam.delete_role(RoleName="ShortLivedRole")
    assert run(event("Delete", props([role]), physical_id=pid, request_id="r2"))["Status"] == "SUCCESS"


def test_the_inline_quota_is_checked_before_anything_is_written(aws, run):
    iam = aws.client("iam")
    make_role(iam, "CrowdedRole")
    big = {"Version": "2012-10-17", "Statement": [
        {"Sid": f"S{i}", "Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::bucket-{i:04d}-{'x' * 60}/*"}
        for i in range(70)]}
    iam.put_role_policy(RoleName="CrowdedRole", PolicyName="Big", PolicyDocument=json.dumps(big))
    r = run(event("Create", props(["CrowdedRole"])))
    assert r["Status"] == "FAILED"
    assert "over IAM's 10240-character quota" in r["Reason"], r["Reason"]
    assert list(inline(iam, "CrowdedRole")) == ["Big"]


@pytest.mark.parametrize(
    "bad, field",
    [
        ({"ExecutionRoles": ["arn:aws:iam::999999999999:role/Foreign"]}, "ExecutionRoles: role arn:aws:iam::999999999999:role/Foreign is in account 999999999999"),
        ({"ExecutionRoles": []}, "ExecutionRoles: expected at least one role ARN or name"),
        ({"ExecutionRoles": ["has space"]}, "ExecutionRoles: \"has space\" is not an IAM role"),
        ({"LaunchRoleArn": "AmazonSageMakerProjectsLaunchRole"}, "LaunchRoleArn: \"AmazonSageMakerProjectsLaunchRole\" is not an IAM role"),
        ({"TemplateBucket": "Not_A_Bucket"}, "TemplateBucket: \"Not_A_Bucket\" is not an S3 bucket name"),
        ({"TemplatePrefix": "/abs"}, "TemplatePrefix: \"/abs\" is not a key prefix"),
        ({"Extra": "x"}, "ResourceProperties.Extra: unknown field `Extra`"),
    ],
)
def test_bad_properties_fail_naming_the_field_and_write_nothing(aws, run, bad, field):
    iam = aws.client("iam")
    make_role(iam, "UntouchedRole")
    p = {**props(["UntouchedRole"]), **bad}
    r = run(event("Create", p))
    assert r["Status"] == "FAILED"
    assert r["Reason"].startswith(field), r["Reason"]
    assert ours(inline(iam, "UntouchedRole")) == {}
    assert TAG not in tags(iam, "UntouchedRole")
