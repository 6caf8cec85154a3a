"""The bootstrap stack's lifecycle through the emulator's CloudFormation: real UpdateStack and DeleteStack calls on
infra/bootstrap.yaml, each custom resource answered by its real binary, asserting the end state in IAM, S3 and
SageMaker and the stack's status sequence.

Each test deploys its own stack (the `aws` fixture resets the emulator) with two execution roles listed, RoleA and
RoleB; RoleC exists but is not listed."""
from __future__ import annotations

import json
from pathlib import Path
import time
from types import SimpleNamespace
from urllib.parse import unquote

import pytest

from harness import ext_lambda, stack
from harness.fixtures import DEPLOY_PARAMS, LAUNCH_ROLE_NAME, eventually, make_role

ROOT = Path(__file__).resolve().parents[1]
LAUNCH_TAG = "sagemaker-projects-launch-access"
LOCATION_TAG = "sagemaker:projectS3TemplatesLocation"
OUR_POLICIES = "SageMakerProjects-"
GUARD = "SeedCodeInUseGuard"


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


def stack_statuses(b, since: str = "UPDATE_IN_PROGRESS") -> list[str]:
    """The stack's own statuses since its last `since`, oldest first."""
    events = b.cfn.describe_stack_events(StackName=b.stack_id)["StackEvents"][::-1]
    statuses = [e["ResourceStatus"] for e in events if e["ResourceType"] == "AWS::CloudFormation::Stack"]
    return statuses[len(statuses) - 1 - statuses[::-1].index(since):]


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


def domain_tags(b, domain_arn: str) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in b.aws.client("sagemaker").list_tags(ResourceArn=domain_arn)["Tags"]}


def onboarded_domain(b) -> str:
    """A domain of RoleC's, created after the install and onboarded by a sweep (an update with a new digest, as a
    user shipping a new template set would cause); returns its ARN."""
    sm = b.aws.client("sagemaker")
    arn = sm.create_domain(DomainName="team", AuthMode="IAM", DefaultUserSettings={"ExecutionRole": b.roles["RoleC"]},
                           SubnetIds=["subnet-1"], VpcId="vpc-1")["DomainArn"]
    sm.add_tags(ResourceArn=arn, Tags=[{"Key": "team", "Value": "ml"}])
    assert update(b, TemplateSetDigest="sweep-the-new-domain") == "UPDATE_COMPLETE"
    b.parameters["TemplateSetDigest"] = "sweep-the-new-domain"
    return arn


def settled_project(b, name: str, timeout: float = 120.0) -> str:
    """The project's status once no longer in progress."""
    sm = b.aws.client("sagemaker")
    deadline = time.monotonic() + timeout
    while True:
        status = sm.describe_project(ProjectName=name)["ProjectStatus"]
        if not status.endswith("InProgress") and status != "Pending" or time.monotonic() > deadline:
            return status
        time.sleep(0.3)


def create_project(b, name: str, url: str | None = None) -> str:
    """A project of the deploy-codepipeline template (its stack has a Custom::SeedCode served by the bootstrap
    stack's seed-code function); returns its settled status."""
    outputs = stack.outputs_of(b.cfn.describe_stacks(StackName=b.stack_id)["Stacks"][0])
    b.aws.client("sagemaker").create_project(ProjectName=name, TemplateProviders=[{"CfnTemplateProvider": {
        "TemplateName": "deploy-codepipeline", "TemplateURL": url or outputs["DeployCodepipelineTemplateUrl"],
        "RoleARN": outputs["LaunchRoleArn"],
        "Parameters": [{"Key": k, "Value": v} for k, v in DEPLOY_PARAMS.items()]}}])
    return settled_project(b, name)


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


def test_emptying_existing_execution_roles_deletes_the_resource_whose_condition_turned_false(bootstrap):
    """HasExistingExecutionRoles turns false: Custom::ExecutionRolePolicies, its function, role and log group leave
    the stack; the custom resource's Delete (at cleanup) takes its grants back."""
    b = bootstrap
    assert all(ours(iam_state(b)[r])[0] for r in ("RoleA", "RoleB"))
    before = custom_resource_requests(b)
    assert update(b, ExistingExecutionRoles=[]) == "UPDATE_COMPLETE", stack.failure_events(b.cfn, b.stack_id)
    requests = new_requests(b, before)
    assert [e["RequestType"] for e in requests["ExecutionRolePolicies"]] == ["Delete"]
    after = iam_state(b)
    assert ours(after["RoleA"]) == ([], None) and ours(after["RoleB"]) == ([], None)
    remaining = stack.stack_resources(b.aws)
    assert not {"ExecutionRolePolicies", "ExecutionRolePoliciesFunction", "ExecutionRolePoliciesRole"} & set(remaining)
    names = {f["FunctionName"] for f in b.aws.client("lambda").list_functions()["Functions"]}
    assert b.resources["ExecutionRolePoliciesFunction"] not in names


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


def test_an_existing_alarm_topic_replaces_the_stacks_own_and_the_alarms_follow_it(bootstrap):
    b = bootstrap
    sns, cw = b.aws.client("sns"), b.aws.client("cloudwatch")
    own = b.outputs["AlarmTopicArn"]

    def actions() -> set[str]:
        alarms = cw.describe_alarms(AlarmNamePrefix=f"{stack.BOOTSTRAP_STACK}-")["MetricAlarms"]
        assert len(alarms) == 14  # with ExistingExecutionRoles: the policies function's two alarms too
        return {a for alarm in alarms for a in alarm["AlarmActions"] + alarm["OKActions"]}

    assert actions() == {own}
    assert sns.list_subscriptions_by_topic(TopicArn=own)["Subscriptions"] == []  # no AlarmEmail
    team = sns.create_topic(Name="platform-alarms")["TopicArn"]
    assert update(b, AlarmTopicArn=team) == "UPDATE_COMPLETE"
    assert actions() == {team}
    outputs = {o["OutputKey"]: o["OutputValue"] for o in
               b.cfn.describe_stacks(StackName=stack.BOOTSTRAP_STACK)["Stacks"][0]["Outputs"]}
    assert outputs["AlarmTopicArn"] == team
    # (CloudFormation then deletes the stack's own topic, its condition now false; moto keeps it: not checked)


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
    domain = onboarded_domain(b)
    assert domain_tags(b, domain)[LOCATION_TAG] == f"s3://{b.outputs['TemplateBucket']}/templates/"
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
    assert set(requests) == {"ProjectTemplates", "ExecutionRolePolicies", "ReconcileDomains"}
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
    # the sweep ran again with the new location: the domain points at it at once, not at the next schedule
    [sweep] = requests["ReconcileDomains"]
    assert sweep["RequestType"] == "Update"
    assert domain_tags(b, domain)[LOCATION_TAG] == f"s3://{b.outputs['TemplateBucket']}/v2/templates/"
    # and projects are created from the moved templates
    url = stack.outputs_of(b.cfn.describe_stacks(StackName=b.stack_id)["Stacks"][0])["DeployCodepipelineTemplateUrl"]
    assert "/v2/templates/" in url
    assert create_project(b, "after-move", url) == "CreateCompleted"
    # the upload rule's EventPattern changed in place (AWS::Events::Rule replaces only on Name): same name and ARN,
    # so the tagger's permission still names it and an upload under the new prefix is judged
    assert stack.stack_resources(b.aws)["TemplateUploadRule"] == b.resources["TemplateUploadRule"]
    rule = b.aws.client("events").describe_rule(Name=b.resources["TemplateUploadRule"])
    assert json.loads(rule["EventPattern"])["detail"]["object"]["key"] == [{"prefix": "v2/templates/"}]
    s3.put_object(Bucket=b.outputs["TemplateBucket"], Key="v2/templates/team-own.yaml",
                  Body=(ROOT / "templates" / "deploy-codepipeline.yaml").read_bytes())
    eventually(lambda: {t["Key"]: t["Value"] for t in s3.get_object_tagging(
        Bucket=b.outputs["TemplateBucket"], Key="v2/templates/team-own.yaml")["TagSet"]}.get(
        "sagemaker:studio-visibility") == "true", "the upload under the moved prefix was never judged")


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


def test_a_failed_update_that_moved_the_prefix_leaves_domains_and_onboarded_roles_on_the_old_location(bootstrap):
    """The sweep's Update back to the old properties restores the old location: Custom::ReconcileDomains acts on the
    properties it is sent, not on its function's environment at that moment."""
    b = bootstrap
    domain = onboarded_domain(b)
    location = domain_tags(b, domain)[LOCATION_TAG]
    onboarded_before = iam_state(b)["RoleC"]
    missing = b.roles["RoleA"].replace("RoleA", "DoesNotExist")
    status = update(b, TemplatePrefix="v2/templates/", TemplateSetDigest="moved",
                    ExistingExecutionRoles=[b.roles["RoleA"], missing])
    assert status == "UPDATE_ROLLBACK_COMPLETE", stack.failure_events(b.cfn, b.stack_id)
    assert domain_tags(b, domain)[LOCATION_TAG] == location == b.outputs["TemplatesLocation"]
    assert iam_state(b)["RoleC"] == onboarded_before, "the onboarded role reads the old prefix again"
    onboarder = b.aws.client("lambda").get_function(FunctionName=b.resources["DomainOnboarderFunction"])
    assert onboarder["Configuration"]["Environment"]["Variables"]["TEMPLATE_PREFIX"] == "templates/"
    sweeps = custom_resource_requests(b)["ReconcileDomains"]
    assert sweeps[-1]["ResourceProperties"]["TemplatesLocation"] == location


# ---------------------------------------------------------------------------------------------------------------
# Deleting the bootstrap stack

#: what deleting the bootstrap stack keeps, by design: the template bucket (projects' TemplateURLs point into it,
#: and it may hold the team's own uploads) with its policy, and the trail's log bucket when the stack made one
RETAINED = {"TemplateBucket", "TemplateBucketPolicy", "TrailBucket", "TrailBucketPolicy"}


def delete(b, **kwargs) -> str:
    b.cfn.delete_stack(StackName=b.stack_id, **kwargs)
    return stack.wait_for_stack(b.cfn, b.stack_id)


def test_the_template_retains_exactly_what_the_tests_expect_and_the_guard_is_deleted_first():
    from harness import cfn_graph, cfn_yaml

    resources = cfn_yaml.load(stack.BOOTSTRAP_TEMPLATE.read_text())["Resources"]
    assert {k for k, v in resources.items() if v.get("DeletionPolicy") == "Retain"} == RETAINED
    # CloudFormation deletes dependents first: the guard depends on every other resource, so nothing is deleted
    # before it has allowed the deletion
    assert cfn_graph.transitive(cfn_graph.dependencies(resources), GUARD) == set(resources) - {GUARD}


def test_deleting_the_bootstrap_stack_leaves_only_what_is_retained_by_design(bootstrap):
    b = bootstrap
    domain = onboarded_domain(b)
    b.iam.put_role_policy(RoleName="RoleA", PolicyName="Foreign", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "*"}]}))
    bucket = b.outputs["TemplateBucket"]
    s3 = b.aws.client("s3")
    s3.put_object(Bucket=bucket, Key="templates/team-own.yaml", Body=b"Resources: {}")
    assert all(ours(state) != ([], None) for state in iam_state(b).values())
    before = custom_resource_requests(b)

    assert delete(b) == "DELETE_COMPLETE", stack.failure_events(b.cfn, b.stack_id)
    assert stack_statuses(b, since="DELETE_IN_PROGRESS") == ["DELETE_IN_PROGRESS", "DELETE_COMPLETE"]

    # the guard is asked first and alone; then the custom resources that take back what they made
    deletes = [(e["LogicalResourceId"], e["RequestType"]) for e in
               [c.event for c in ext_lambda.invocations() if c.source == "custom-resource"][
                   sum(map(len, before.values())):]]
    assert deletes[0] == (GUARD, "Delete")
    assert sorted(deletes[1:]) == [("ExecutionRolePolicies", "Delete"), ("ProjectTemplates", "Delete"),
                                   ("ReconcileDomains", "Delete")]

    # IAM: every policy and tag of ours is gone, from listed and onboarded roles alike; others' stay
    after = iam_state(b)
    assert {name: ours(state) for name, state in after.items()} == {n: ([], None) for n in b.roles}
    assert "Foreign" in after["RoleA"]["policies"]
    assert b.iam.get_role(RoleName=LAUNCH_ROLE_NAME)  # the roles stack is the account's, not this stack's
    # SageMaker: the domain no longer points at templates that are gone; its own tags stay
    assert domain_tags(b, domain) == {"team": "ml"}
    # S3: our templates are gone, the bucket (retained) and the team's own upload stay
    assert sorted(template_objects(b, "templates/")) == ["templates/team-own.yaml"]
    # the stack's own resources: functions, their SSM pointer, queues and rules are gone
    names = {f["FunctionName"] for f in b.aws.client("lambda").list_functions()["Functions"]}
    assert not names & {b.resources[k] for k in b.resources if k.endswith("Function")}
    assert not b.aws.client("ssm").get_parameters(Names=["/sagemaker-projects-bootstrap/seedcode-function-arn"])[
        "Parameters"]
    assert not b.aws.client("sqs").list_queues().get("QueueUrls")
    assert not b.aws.client("events").list_rules()["Rules"]
    skipped = {e["LogicalResourceId"] for e in b.cfn.describe_stack_events(StackName=b.stack_id)["StackEvents"]
               if e["ResourceStatus"] == "DELETE_SKIPPED"}
    # every retained resource the stack has, moto's model or not (the trail's exist only with CreateTrail)
    assert skipped == RETAINED - {"TrailBucket", "TrailBucketPolicy"}


def test_deleting_the_bootstrap_stack_while_a_project_uses_its_seed_code_is_refused_and_can_be_forced(bootstrap):
    """Refused naming the project, with nothing touched; then the forced way out the refusal names, to the end."""
    b = bootstrap
    assert create_project(b, "churn") == "CreateCompleted"
    before_iam, before_templates = iam_state(b), template_objects(b, "templates/")
    before = custom_resource_requests(b)

    assert delete(b) == "DELETE_FAILED"
    assert stack_statuses(b, since="DELETE_IN_PROGRESS") == ["DELETE_IN_PROGRESS", "DELETE_FAILED"]
    events = b.cfn.describe_stack_events(StackName=b.stack_id)["StackEvents"]
    [reason] = [e["ResourceStatusReason"] for e in events
                if e["LogicalResourceId"] == GUARD and e["ResourceStatus"] == "DELETE_FAILED"]
    assert "churn (SP-" in reason
    assert "aws sagemaker delete-project" in reason
    assert f"--retain-resources {GUARD}" in reason
    # refused before anything was touched: only the guard was asked, nothing of ours was taken back
    assert {k: [e["RequestType"] for e in v] for k, v in new_requests(b, before).items()} == {GUARD: ["Delete"]}
    assert iam_state(b) == before_iam and template_objects(b, "templates/") == before_templates
    assert b.aws.client("lambda").get_function(FunctionName="sagemaker-projects-seedcode")
    # nothing else went first: the rules and queues stand behind the resources the guard depends on (queue
    # policies, invoke configs), which moto does not model but which order CloudFormation's deletion all the same
    events_api, sqs = b.aws.client("events"), b.aws.client("sqs")
    for rule in ("DomainEventsRule", "TemplateUploadRule", "ReconcileScheduleRule"):
        assert events_api.describe_rule(Name=b.resources[rule])["State"] == "ENABLED", rule
    for queue in ("OnboarderQueue", "OnboarderDeadLetterQueue", "EventsDeadLetterQueue"):
        assert sqs.get_queue_attributes(QueueUrl=b.resources[queue], AttributeNames=["QueueArn"]), queue
    deleted = [e["LogicalResourceId"] for e in events if e["ResourceStatus"] == "DELETE_COMPLETE"]
    assert deleted == [], deleted

    # forced: the guard is retained, everything else goes
    assert delete(b, RetainResources=[GUARD]) == "DELETE_COMPLETE", stack.failure_events(b.cfn, b.stack_id)
    assert template_objects(b, "templates/") == {}

    # the project's own deletion now fails where the message said: its seed-code resource has no function ...
    sm = b.aws.client("sagemaker")
    sm.delete_project(ProjectName="churn")
    assert settled_project(b, "churn") == "DeleteFailed"
    detail = sm.describe_project(ProjectName="churn")["TemplateProviderDetails"][0]["CfnTemplateProviderDetail"]
    project_stack = detail["StackDetail"]["Id"]
    failed = [e["LogicalResourceId"] for e in b.cfn.describe_stack_events(StackName=project_stack)["StackEvents"]
              if e["ResourceStatus"] == "DELETE_FAILED" and e["ResourceType"] == "Custom::SeedCode"]
    assert failed
    # ... and the way out the message gives works: the project's stack without its seed-code resources, then
    # the project
    b.cfn.delete_stack(StackName=project_stack, RetainResources=sorted(set(failed)))
    assert stack.wait_for_stack(b.cfn, project_stack) == "DELETE_COMPLETE"
    sm.delete_project(ProjectName="churn")
    assert settled_project(b, "churn") == "DeleteCompleted"
