"""The bootstrap stack's lifecycle through the emulator's CloudFormation (issue 16, part 2): real UpdateStack calls
on infra/bootstrap.yaml, each custom resource answered by its real binary, asserting the end state in IAM and the
stack's status sequence.

Each test deploys its own stack (the `aws` fixture resets the emulator) with two execution roles listed, RoleA and
RoleB; RoleC exists but is not listed."""
from __future__ import annotations

import json
from types import SimpleNamespace
from urllib.parse import unquote

import pytest

from harness import ext_lambda, stack
from harness.fixtures import make_role

LAUNCH_TAG = "sagemaker-projects-launch-access"
OUR_POLICIES = "SageMakerProjects-"


pytestmark = pytest.mark.skipif(bool(stack.missing_binaries()),
                                reason="the functions are not built (run `cargo build --workspace --bins`)")


@pytest.fixture
def bootstrap(aws):
    iam = aws.client("iam")
    roles = {name: make_role(iam, name) for name in ("RoleA", "RoleB", "RoleC")}
    stack.deploy_iam_roles(aws)
    parameters = {**stack.upload_artifacts(aws), "ExistingExecutionRoles": [roles["RoleA"], roles["RoleB"]],
                  "RecheckDelaySeconds": 1}
    outputs = stack.deploy_bootstrap(aws, parameters=parameters)
    cfn = aws.client("cloudformation")
    stack_id = cfn.describe_stacks(StackName=stack.BOOTSTRAP_STACK)["Stacks"][0]["StackId"]
    resources = stack.stack_resources(aws)
    return SimpleNamespace(aws=aws, iam=iam, cfn=cfn, roles=roles, parameters=parameters, outputs=outputs,
                           stack_id=stack_id, resources=resources)


def update(b, **changes) -> str:
    """UpdateStack with the same template and the deployed parameters but `changes`; returns the final status."""
    return stack.update_stack(b.aws, stack.BOOTSTRAP_STACK, stack.BOOTSTRAP_TEMPLATE, {**b.parameters, **changes})


def stack_statuses(b) -> list[str]:
    """The stack's own statuses since its last UPDATE_IN_PROGRESS, oldest first."""
    events = b.cfn.describe_stack_events(StackName=b.stack_id)["StackEvents"][::-1]
    statuses = [e["ResourceStatus"] for e in events if e["ResourceType"] == "AWS::CloudFormation::Stack"]
    return statuses[len(statuses) - 1 - statuses[::-1].index("UPDATE_IN_PROGRESS"):]


def custom_resource_requests(b) -> dict[str, list[dict]]:
    """Requests each custom resource's function was sent (logical id → events, oldest first)."""
    out: dict[str, list[dict]] = {}
    for call in ext_lambda.invocations():
        if call.source == "custom-resource":
            out.setdefault(call.event["LogicalResourceId"], []).append(call.event)
    return out


def iam_state(b) -> dict[str, dict]:
    """Every inline policy (name → document) and tag of the three roles."""
    state = {}
    for name in b.roles:
        policies = {}
        for policy in b.iam.list_role_policies(RoleName=name)["PolicyNames"]:
            doc = b.iam.get_role_policy(RoleName=name, PolicyName=policy)["PolicyDocument"]
            policies[policy] = json.loads(unquote(doc)) if isinstance(doc, str) else doc
        tags = {t["Key"]: t["Value"] for t in b.iam.list_role_tags(RoleName=name)["Tags"]}
        state[name] = {"policies": policies, "tags": tags}
    return state


def ours(role_state: dict) -> tuple[list[str], str | None]:
    return sorted(p for p in role_state["policies"] if p.startswith(OUR_POLICIES)), role_state["tags"].get(LAUNCH_TAG)


def test_adding_and_removing_a_role_in_existing_execution_roles(bootstrap):
    b = bootstrap
    b.iam.put_role_policy(RoleName="RoleB", PolicyName="Foreign", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "*"}]}))
    b.iam.tag_role(RoleName="RoleB", Tags=[{"Key": "team", "Value": "ml"}])
    before = iam_state(b)
    granted = ours(before["RoleA"])
    assert granted[0] and granted[1] is not None and ours(before["RoleB"]) == granted
    assert ours(before["RoleC"]) == ([], None)
    requests_before = custom_resource_requests(b)

    assert update(b, ExistingExecutionRoles=[b.roles["RoleA"], b.roles["RoleC"]]) == "UPDATE_COMPLETE"
    assert stack_statuses(b) == ["UPDATE_IN_PROGRESS", "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS", "UPDATE_COMPLETE"]

    after = iam_state(b)
    assert after["RoleA"] == before["RoleA"]
    assert ours(after["RoleC"]) == granted
    assert ours(after["RoleB"]) == ([], None)  # what we gave the dropped role is gone ...
    assert after["RoleB"]["policies"]["Foreign"] == before["RoleB"]["policies"]["Foreign"]  # ... what others gave stays
    assert after["RoleB"]["tags"] == {"team": "ml"}

    # one Update, to the one custom resource whose properties changed
    new = {k: v[len(requests_before.get(k, [])):] for k, v in custom_resource_requests(b).items()}
    new = {k: v for k, v in new.items() if v}
    assert list(new) == ["ExecutionRolePolicies"]
    [event] = new["ExecutionRolePolicies"]
    assert event["RequestType"] == "Update"
    assert event["OldResourceProperties"]["ExecutionRoles"] == [b.roles["RoleA"], b.roles["RoleB"]]
    assert event["ResourceProperties"]["ExecutionRoles"] == [b.roles["RoleA"], b.roles["RoleC"]]


def test_an_update_that_fails_half_way_rolls_back_to_exactly_the_state_before(bootstrap):
    b = bootstrap
    before = iam_state(b)
    requests_before = custom_resource_requests(b)
    missing = b.roles["RoleA"].replace("RoleA", "DoesNotExist")

    status = update(b, ExistingExecutionRoles=[b.roles["RoleA"], b.roles["RoleB"], b.roles["RoleC"], missing])
    assert status == "UPDATE_ROLLBACK_COMPLETE", stack.failure_events(b.cfn, b.stack_id)
    assert stack_statuses(b) == ["UPDATE_IN_PROGRESS", "UPDATE_ROLLBACK_IN_PROGRESS",
                                 "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS", "UPDATE_ROLLBACK_COMPLETE"]
    assert iam_state(b) == before

    events = b.cfn.describe_stack_events(StackName=b.stack_id)["StackEvents"][::-1]
    [failed] = [e for e in events if e["LogicalResourceId"] == "ExecutionRolePolicies"
                and e["ResourceStatus"] == "UPDATE_FAILED"]
    assert "DoesNotExist" in failed["ResourceStatusReason"]

    new = {k: v[len(requests_before.get(k, [])):] for k, v in custom_resource_requests(b).items()}
    updates = new["ExecutionRolePolicies"]
    assert updates[1]["ResourceProperties"]["ExecutionRoles"] == [b.roles["RoleA"], b.roles["RoleB"]]
    assert [(e["RequestType"], len(e["ResourceProperties"]["ExecutionRoles"])) for e in updates] == [
        ("Update", 4), ("Update", 2)]  # the failed update, then the update back to the old list
    assert {k for k, v in new.items() if v} == {"ExecutionRolePolicies"}


def test_new_function_code_with_no_property_change_invokes_no_custom_resource(bootstrap):
    b = bootstrap
    requests_before = custom_resource_requests(b)
    stack.upload_artifacts(b.aws, bucket=b.parameters["ArtifactBucket"], prefix="functions-v2/")
    assert update(b, ArtifactPrefix="functions-v2/") == "UPDATE_COMPLETE"
    assert stack_statuses(b) == ["UPDATE_IN_PROGRESS", "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS", "UPDATE_COMPLETE"]
    assert custom_resource_requests(b) == requests_before
    fn = b.aws.client("lambda").get_function(FunctionName=b.resources["ExecutionRolePoliciesFunction"])
    assert fn["Code"]["Location"]  # still a function after its update


def template_objects(b, prefix: str) -> dict[str, str]:
    """Key → version id of the objects under `prefix` in the template bucket."""
    s3 = b.aws.client("s3")
    found = s3.list_object_versions(Bucket=b.outputs["TemplateBucket"], Prefix=prefix).get("Versions", [])
    return {v["Key"]: v["VersionId"] for v in found if v["IsLatest"]}


def new_requests(b, before: dict[str, list[dict]]) -> dict[str, list[dict]]:
    out = {k: v[len(before.get(k, [])):] for k, v in custom_resource_requests(b).items()}
    return {k: v for k, v in out.items() if v}


def test_moving_the_template_prefix_replaces_the_templates_and_deletes_the_old_ones_at_cleanup(bootstrap):
    b = bootstrap
    s3 = b.aws.client("s3")
    old = template_objects(b, "templates/")
    assert len(old) == 5
    old_id = b.resources["ProjectTemplates"]
    before = custom_resource_requests(b)

    assert update(b, TemplatePrefix="v2/templates/") == "UPDATE_COMPLETE", stack.failure_events(b.cfn, b.stack_id)
    assert stack_statuses(b) == ["UPDATE_IN_PROGRESS", "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS", "UPDATE_COMPLETE"]

    moved = template_objects(b, "v2/templates/")
    assert sorted(k.removeprefix("v2/") for k in moved) == sorted(old)
    assert template_objects(b, "templates/") == {}  # the old resource's objects, deleted at cleanup
    for key in moved:
        tags = {t["Key"]: t["Value"] for t in s3.get_object_tagging(Bucket=b.outputs["TemplateBucket"],
                                                                     Key=key)["TagSet"]}
        assert tags.get("sagemaker:studio-visibility") == "true", (key, tags)

    requests = new_requests(b, before)
    assert set(requests) == {"ProjectTemplates", "ExecutionRolePolicies"}  # the sweep's Trigger did not change
    update_event, delete_event = requests["ProjectTemplates"]
    assert (update_event["RequestType"], update_event["PhysicalResourceId"],
            update_event["OldResourceProperties"]["Prefix"], update_event["ResourceProperties"]["Prefix"]) == (
        "Update", old_id, "templates/", "v2/templates/")
    assert (delete_event["RequestType"], delete_event["PhysicalResourceId"],
            delete_event["ResourceProperties"]["Prefix"]) == ("Delete", old_id, "templates/")
    new_id = stack.stack_resources(b.aws)["ProjectTemplates"]
    assert new_id != old_id
    [policies] = requests["ExecutionRolePolicies"]
    assert (policies["RequestType"], policies["ResourceProperties"]["TemplatePrefix"]) == ("Update", "v2/templates/")


def test_a_new_digest_with_the_same_template_set_rewrites_nothing_and_sweeps_again(bootstrap):
    b = bootstrap
    old = template_objects(b, "templates/")
    old_id = b.resources["ProjectTemplates"]
    before = custom_resource_requests(b)

    assert update(b, TemplateSetDigest="set-2") == "UPDATE_COMPLETE", stack.failure_events(b.cfn, b.stack_id)
    assert stack_statuses(b) == ["UPDATE_IN_PROGRESS", "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS", "UPDATE_COMPLETE"]
    assert template_objects(b, "templates/") == old  # unchanged templates are not written again
    requests = new_requests(b, before)
    assert {k: [e["RequestType"] for e in v] for k, v in requests.items()} == {
        "ProjectTemplates": ["Update"], "ReconcileDomains": ["Update"]}  # no cleanup Delete: no replacement
    assert stack.stack_resources(b.aws)["ProjectTemplates"] == old_id


def test_a_failed_update_after_a_replacement_deletes_the_new_templates_and_keeps_the_old(bootstrap):
    b = bootstrap
    old = template_objects(b, "templates/")
    old_id = b.resources["ProjectTemplates"]
    before_iam = iam_state(b)
    before = custom_resource_requests(b)
    missing = b.roles["RoleA"].replace("RoleA", "DoesNotExist")

    status = update(b, TemplatePrefix="v2/templates/", ExistingExecutionRoles=[b.roles["RoleA"], missing])
    assert status == "UPDATE_ROLLBACK_COMPLETE", stack.failure_events(b.cfn, b.stack_id)
    assert stack_statuses(b) == ["UPDATE_IN_PROGRESS", "UPDATE_ROLLBACK_IN_PROGRESS",
                                 "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS", "UPDATE_ROLLBACK_COMPLETE"]
    assert template_objects(b, "templates/") == old  # the old templates were never touched
    assert template_objects(b, "v2/templates/") == {}  # the replacement's, deleted at the rollback's cleanup
    assert iam_state(b) == before_iam
    assert stack.stack_resources(b.aws)["ProjectTemplates"] == old_id

    requests = new_requests(b, before)
    templates = requests["ProjectTemplates"]
    assert [e["RequestType"] for e in templates] == ["Update", "Delete"]
    assert templates[1]["PhysicalResourceId"] != old_id
    assert templates[1]["ResourceProperties"]["Prefix"] == "v2/templates/"
    assert [e["RequestType"] for e in requests["ExecutionRolePolicies"]] == ["Update", "Update"]
