"""The emulator's CloudFormation (harness/ext_cloudformation.py) as CloudFormation behaves: the custom-resource
lifecycle through UpdateStack (Update, replacement, cleanup, rollback), ServiceTimeout, and AWS::CodeBuild::Project
beside an SSM dynamic reference, as the project templates use them.

The custom-resource tests stand a recording double in for the function (`LambdaFunction.invoke`) and answer each
request themselves by PUTting to its ResponseURL, as a function would."""
import json
import time

import pytest
from botocore.exceptions import ClientError

from harness import ext_cloudformation
from harness.fixtures import RecordingFunction, make_function

TEMPLATE = {
    "Resources": {
        "Queue": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "{{resolve:ssm:/demo/queue-name}}"}},
        "Seed": {"Type": "AWS::CodeBuild::Project", "Properties": {
            "Name": "sagemaker-demo-seedcode", "ServiceRole": "arn:aws:iam::123456789012:role/r",
            "Source": {"Type": "NO_SOURCE", "BuildSpec": "version: 0.2"},
            "Artifacts": {"Type": "NO_ARTIFACTS"},
            "Environment": {"Type": "LINUX_CONTAINER", "ComputeType": "BUILD_GENERAL1_SMALL", "Image": "aws/codebuild/standard:7.0"}}},
    },
    "Outputs": {
        "ProjectName": {"Value": {"Ref": "Seed"}},
        "ProjectArn": {"Value": {"Fn::GetAtt": ["Seed", "Arn"]}},
    },
}


def test_ssm_references_resolve_and_codebuild_projects_are_created(aws):
    aws.client("ssm").put_parameter(Name="/demo/queue-name", Value="resolved-queue", Type="String")
    cfn = aws.client("cloudformation")
    cfn.create_stack(StackName="ext-cfn", TemplateBody=json.dumps(TEMPLATE))
    stack = cfn.describe_stacks(StackName="ext-cfn")["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    assert outputs["ProjectName"] == "sagemaker-demo-seedcode"
    assert outputs["ProjectArn"] == "arn:aws:codebuild:us-east-1:123456789012:project/sagemaker-demo-seedcode"
    assert any(u.endswith("/resolved-queue") for u in aws.client("sqs").list_queues().get("QueueUrls", []))
    # GetTemplate answers what was submitted, the reference unresolved (a dry run compares it with a new version)
    assert cfn.get_template(StackName="ext-cfn")["TemplateBody"] == TEMPLATE  # (boto3 parses a JSON body)
    codebuild = aws.client("codebuild")
    assert codebuild.list_projects()["projects"] == ["sagemaker-demo-seedcode"]
    build = codebuild.start_build(projectName="sagemaker-demo-seedcode")["build"]
    assert codebuild.batch_get_builds(ids=[build["id"]])["builds"][0]["buildStatus"] == "SUCCEEDED"
    cfn.delete_stack(StackName="ext-cfn")
    assert codebuild.list_projects()["projects"] == []


# ---------------------------------------------------------------------------------------------------------------
# The custom-resource lifecycle through UpdateStack


class Function(RecordingFunction):
    """Stands in for the custom resources' function: records every request CloudFormation sends; the test answers."""

    def __init__(self, aws):
        super().__init__()
        self.aws = aws

    def next(self, count: int = 1) -> list[dict]:
        """The `count` requests after those already taken, by logical id order of arrival."""
        start = getattr(self, "_taken", 0)
        events = self.wait_for(start + count)[start:start + count]
        self._taken = start + count
        return events

    def quiet(self, seconds: float = 0.5) -> None:
        """Nothing more is sent."""
        time.sleep(seconds)
        assert self.events[getattr(self, "_taken", 0):] == []

    def answer(self, event: dict, status: str = "SUCCESS", physical_id: str | None = None, reason: str | None = None,
               data: dict | None = None) -> None:
        import urllib.request

        body = {"Status": status, "StackId": event["StackId"], "RequestId": event["RequestId"],
                "LogicalResourceId": event["LogicalResourceId"],
                "PhysicalResourceId": physical_id or event.get("PhysicalResourceId") or f"{event['LogicalResourceId']}-1"}
        if reason:
            body["Reason"] = reason
        if data:
            body["Data"] = data
        req = urllib.request.Request(event["ResponseURL"], data=json.dumps(body).encode(), method="PUT",
                                     headers={"Content-Type": ""})
        with urllib.request.urlopen(req, timeout=10) as resp:
            assert resp.status == 200


@pytest.fixture
def function(aws, monkeypatch):
    from moto.awslambda.models import LambdaFunction

    f = Function(aws)
    monkeypatch.setattr(LambdaFunction, "invoke", lambda self, body, *a, **kw: f.invoke(self, body, *a, **kw))
    return f


def service_token(aws) -> str:
    return make_function(aws, "custom-resources", "not-run")


def custom(token: str, **properties) -> dict:
    return {"Type": "Custom::Thing", "Properties": {"ServiceToken": token, **properties}}


def template(**resources) -> str:
    return json.dumps({"Resources": resources})


def status(cf, stack_id: str) -> str:
    return cf.describe_stacks(StackName=stack_id)["Stacks"][0]["StackStatus"]


def stack_statuses(cf, stack_id: str) -> list[str]:
    """The stack's own events, oldest first."""
    events = cf.describe_stack_events(StackName=stack_id)["StackEvents"][::-1]
    return [e["ResourceStatus"] for e in events if e["ResourceType"] == "AWS::CloudFormation::Stack"]


def resource_statuses(cf, stack_id: str, logical_id: str) -> list[tuple[str, str]]:
    """(status, physical id) of one resource's events, oldest first."""
    events = cf.describe_stack_events(StackName=stack_id)["StackEvents"][::-1]
    return [(e["ResourceStatus"], e.get("PhysicalResourceId", "")) for e in events
            if e["LogicalResourceId"] == logical_id and e["ResourceType"] != "AWS::CloudFormation::Stack"]


def physical_ids(cf, stack_id: str) -> dict[str, str]:
    return {r["LogicalResourceId"]: r["PhysicalResourceId"]
            for r in cf.describe_stack_resources(StackName=stack_id)["StackResources"]}


def created(aws, function, **resources) -> tuple[object, str]:
    """A CREATE_COMPLETE stack of `resources`, each custom resource answered with id `<logical>-1`."""
    cf = aws.client("cloudformation")
    stack_id = cf.create_stack(StackName="lifecycle", TemplateBody=template(**resources))["StackId"]
    customs = [k for k, v in resources.items() if v["Type"].startswith("Custom::")]
    for _ in customs:  # one at a time: a resource that depends on another is sent its Create after that one's answer
        [event] = function.next()
        assert event["RequestType"] == "Create"
        function.answer(event)
    assert status(cf, stack_id) == "CREATE_COMPLETE"
    return cf, stack_id


def test_an_update_with_changed_properties_sends_update_with_the_old_properties(aws, function):
    token = service_token(aws)
    cf, stack_id = created(aws, function, Changed=custom(token, Size=1, Names=["a"]), Same=custom(token, Size=1))
    [create] = [e for e in function.events if e["LogicalResourceId"] == "Changed"]

    cf.update_stack(StackName=stack_id, TemplateBody=template(
        Changed=custom(token, Size=2, Names=["a", "b"]), Same=custom(token, Size=1)))
    [update] = function.next()
    assert update["RequestType"] == "Update"
    assert update["LogicalResourceId"] == "Changed"
    assert update["PhysicalResourceId"] == "Changed-1"
    assert update["ResourceProperties"] == {"ServiceToken": token, "Size": "2", "Names": ["a", "b"]}
    assert update["OldResourceProperties"] == {"ServiceToken": token, "Size": "1", "Names": ["a"]}
    assert update["RequestId"] != create["RequestId"]
    assert update["ResponseURL"].startswith(f"{aws.endpoint}/cloudformation_{aws.region}/cfnresponse?")
    assert status(cf, stack_id) == "UPDATE_IN_PROGRESS"  # until the function answers

    function.answer(update)
    assert status(cf, stack_id) == "UPDATE_COMPLETE"
    function.quiet()  # nothing to the unchanged resource, and no cleanup Delete: the id did not change
    assert stack_statuses(cf, stack_id) == ["CREATE_IN_PROGRESS", "CREATE_COMPLETE", "UPDATE_IN_PROGRESS",
                                            "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS", "UPDATE_COMPLETE"]
    assert resource_statuses(cf, stack_id, "Changed")[-2:] == [("UPDATE_IN_PROGRESS", "Changed-1"),
                                                               ("UPDATE_COMPLETE", "Changed-1")]
    assert not [s for s, _ in resource_statuses(cf, stack_id, "Same") if s.startswith("UPDATE")]
    assert ext_cloudformation.contract_violations() == []


def test_unchanged_properties_send_nothing(aws, function):
    token = service_token(aws)
    cf, stack_id = created(aws, function, Thing=custom(token, Size=1))
    # another resource changes, and the custom resource's properties are written differently but resolve the same
    cf.update_stack(StackName=stack_id, TemplateBody=json.dumps({
        "Parameters": {"Size": {"Type": "String", "Default": "1"}},
        "Resources": {"Thing": custom(token, Size={"Ref": "Size"}),
                      "Queue": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "lifecycle-queue"}}}}))
    assert status(cf, stack_id) == "UPDATE_COMPLETE"
    function.quiet()


def test_a_changed_parameter_a_custom_resource_uses_sends_update(aws, function):
    token = service_token(aws)
    body = json.dumps({"Parameters": {"Size": {"Type": "String"}},
                       "Resources": {"Thing": custom(token, Size={"Ref": "Size"})}})
    cf = aws.client("cloudformation")
    stack_id = cf.create_stack(StackName="lifecycle", TemplateBody=body,
                               Parameters=[{"ParameterKey": "Size", "ParameterValue": "1"}])["StackId"]
    function.answer(function.next()[0])
    cf.update_stack(StackName=stack_id, TemplateBody=body, Parameters=[{"ParameterKey": "Size", "ParameterValue": "2"}])
    [update] = function.next()
    assert (update["RequestType"], update["ResourceProperties"]["Size"], update["OldResourceProperties"]["Size"]) == (
        "Update", "2", "1")
    function.answer(update)
    assert status(cf, stack_id) == "UPDATE_COMPLETE"


def test_a_changed_parameter_reached_through_sub_sends_update_and_its_rollback_sends_it_back(aws, function):
    token = service_token(aws)
    body = json.dumps({"Parameters": {"Name": {"Type": "String"}},
                       "Resources": {"Thing": custom(token, Arn={"Fn::Sub": "arn:aws:iam::123456789012:role/${Name}"}),
                                     "Other": custom(token, V=1)}})
    cf = aws.client("cloudformation")
    stack_id = cf.create_stack(StackName="lifecycle", TemplateBody=body,
                               Parameters=[{"ParameterKey": "Name", "ParameterValue": "a"}])["StackId"]
    for event in function.next(2):
        function.answer(event)
    changed = body.replace('"V": 1', '"V": 2')
    cf.update_stack(StackName=stack_id, TemplateBody=changed,
                    Parameters=[{"ParameterKey": "Name", "ParameterValue": "b"}])
    updates = {e["LogicalResourceId"]: e for e in function.next(2)}
    assert updates["Thing"]["ResourceProperties"]["Arn"].endswith("/b")
    assert updates["Thing"]["OldResourceProperties"]["Arn"].endswith("/a")
    function.answer(updates["Thing"])
    function.answer(updates["Other"], "FAILED", reason="no")
    back = {e["LogicalResourceId"]: e for e in function.next(2)}
    assert set(back) == {"Thing", "Other"}
    assert back["Thing"]["ResourceProperties"]["Arn"].endswith("/a")
    assert back["Thing"]["OldResourceProperties"]["Arn"].endswith("/b")
    for event in back.values():
        function.answer(event)
    assert status(cf, stack_id) == "UPDATE_ROLLBACK_COMPLETE"
    function.quiet()


def test_a_replacement_deletes_the_old_id_at_cleanup(aws, function):
    token = service_token(aws)
    cf, stack_id = created(aws, function, Thing=custom(token, Prefix="old/"))
    cf.update_stack(StackName=stack_id, TemplateBody=template(Thing=custom(token, Prefix="new/")))
    [update] = function.next()
    function.answer(update, physical_id="Thing-2")  # a new id: CloudFormation takes it as a replacement

    [delete] = function.next()
    assert delete["RequestType"] == "Delete"
    assert delete["PhysicalResourceId"] == "Thing-1"
    assert delete["ResourceProperties"] == {"ServiceToken": token, "Prefix": "old/"}  # the old properties
    assert "OldResourceProperties" not in delete
    assert status(cf, stack_id) == "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS"  # until the Delete is answered
    function.answer(delete)
    assert status(cf, stack_id) == "UPDATE_COMPLETE"
    assert physical_ids(cf, stack_id) == {"Thing": "Thing-2"}
    assert resource_statuses(cf, stack_id, "Thing")[-4:] == [
        ("UPDATE_IN_PROGRESS", "Thing-1"), ("UPDATE_COMPLETE", "Thing-2"),
        ("DELETE_IN_PROGRESS", "Thing-1"), ("DELETE_COMPLETE", "Thing-1")]
    function.quiet()


def test_an_added_resource_gets_create_and_a_removed_one_delete_at_cleanup(aws, function):
    token = service_token(aws)
    cf, stack_id = created(aws, function, Kept=custom(token, Size=1), Dropped=custom(token, Size=1))
    cf.update_stack(StackName=stack_id, TemplateBody=template(Kept=custom(token, Size=1), Added=custom(token, Size=3)))
    [create] = function.next()
    assert (create["RequestType"], create["LogicalResourceId"]) == ("Create", "Added")
    function.quiet(0.3)  # the removed resource is deleted only once the update has succeeded
    function.answer(create)
    [delete] = function.next()
    assert (delete["RequestType"], delete["LogicalResourceId"], delete["PhysicalResourceId"]) == (
        "Delete", "Dropped", "Dropped-1")
    assert status(cf, stack_id) == "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS"
    function.answer(delete)
    assert status(cf, stack_id) == "UPDATE_COMPLETE"
    assert physical_ids(cf, stack_id) == {"Kept": "Kept-1", "Added": "Added-1"}

    # a later update may add a resource of the removed one's name again: it is created anew
    cf.update_stack(StackName=stack_id, TemplateBody=template(Kept=custom(token, Size=1), Added=custom(token, Size=3),
                                                             Dropped=custom(token, Size=1)))
    [again] = function.next()
    assert (again["RequestType"], again["LogicalResourceId"]) == ("Create", "Dropped")
    function.answer(again)
    assert status(cf, stack_id) == "UPDATE_COMPLETE"

    cf.delete_stack(StackName=stack_id)  # every resource still in the stack gets its Delete, with its properties
    deletes = {e["LogicalResourceId"]: e for e in function.next(3)}
    assert {k: e["RequestType"] for k, e in deletes.items()} == {"Kept": "Delete", "Added": "Delete",
                                                                 "Dropped": "Delete"}
    assert deletes["Added"]["ResourceProperties"]["Size"] == "3"


def test_a_failed_update_rolls_updated_resources_back_and_ends_update_rollback_complete(aws, function):
    token = service_token(aws)
    cf, stack_id = created(aws, function, InPlace=custom(token, V=1), Failing=custom(token, V=1),
                           Replaced=custom(token, V=1))
    cf.update_stack(StackName=stack_id, TemplateBody=template(
        InPlace=custom(token, V=2), Failing=custom(token, V=2), Replaced=custom(token, V=2), Added=custom(token, V=2)))
    requests = {e["LogicalResourceId"]: e for e in function.next(4)}
    assert {k: e["RequestType"] for k, e in requests.items()} == {
        "InPlace": "Update", "Failing": "Update", "Replaced": "Update", "Added": "Create"}
    function.answer(requests["InPlace"])
    function.answer(requests["Replaced"], physical_id="Replaced-2")
    function.answer(requests["Added"])
    assert status(cf, stack_id) == "UPDATE_IN_PROGRESS"
    function.answer(requests["Failing"], "FAILED", reason="the new value is refused")

    # the resources updated in place (the failed one too) are sent Update back: old and new properties swapped
    back = {e["LogicalResourceId"]: e for e in function.next(2)}
    assert set(back) == {"InPlace", "Failing"}
    for event in back.values():
        assert event["RequestType"] == "Update"
        assert event["ResourceProperties"]["V"] == "1" and event["OldResourceProperties"]["V"] == "2"
    stack = cf.describe_stacks(StackName=stack_id)["Stacks"][0]
    assert stack["StackStatus"] == "UPDATE_ROLLBACK_IN_PROGRESS"
    assert stack["StackStatusReason"] == "The following resource(s) failed to update: [Failing]. "
    for event in back.values():
        function.answer(event)

    # cleanup of the rollback: the replacement's new id and the added resource are deleted
    deletes = {e["LogicalResourceId"]: e for e in function.next(2)}
    assert {k: (e["RequestType"], e["PhysicalResourceId"], e["ResourceProperties"]["V"])
            for k, e in deletes.items()} == {"Replaced": ("Delete", "Replaced-2", "2"),
                                              "Added": ("Delete", "Added-1", "2")}
    assert status(cf, stack_id) == "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS"
    for event in deletes.values():
        function.answer(event)
    assert status(cf, stack_id) == "UPDATE_ROLLBACK_COMPLETE"
    function.quiet()
    assert stack_statuses(cf, stack_id)[2:] == [
        "UPDATE_IN_PROGRESS", "UPDATE_ROLLBACK_IN_PROGRESS", "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS",
        "UPDATE_ROLLBACK_COMPLETE"]
    assert [s for s, _ in resource_statuses(cf, stack_id, "Failing")][-4:] == [
        "UPDATE_IN_PROGRESS", "UPDATE_FAILED", "UPDATE_IN_PROGRESS", "UPDATE_COMPLETE"]
    assert physical_ids(cf, stack_id) == {"InPlace": "InPlace-1", "Failing": "Failing-1", "Replaced": "Replaced-1"}

    # the stack is as before: the same update again sends the same requests, with the old properties as old
    cf.update_stack(StackName=stack_id, TemplateBody=template(InPlace=custom(token, V=2)))
    [again] = function.next()
    assert (again["LogicalResourceId"], again["OldResourceProperties"]["V"]) == ("InPlace", "1")


def test_a_changed_service_token_is_refused_before_either_function_hears_of_it(aws, function):
    token = service_token(aws)
    other = make_function(aws, "renamed-custom-resources", "not-run")
    cf, stack_id = created(aws, function, Thing=custom(token, V=1))
    cf.update_stack(StackName=stack_id, TemplateBody=template(Thing=custom(other, V=1)))
    assert status(cf, stack_id) == "UPDATE_ROLLBACK_COMPLETE"
    assert failure_reason(cf, stack_id, "Thing", "UPDATE_FAILED") == "Modifying service token is not allowed."
    function.quiet()  # no Update to the new function, nothing back to the old one
    cf.update_stack(StackName=stack_id, TemplateBody=template(Thing=custom(token, V=2)))
    [update] = function.next()
    assert update["OldResourceProperties"] == {"ServiceToken": token, "V": "1"}, "the old properties stayed"


def test_within_one_update_a_custom_resource_is_updated_after_those_it_depends_on(aws, function):
    """Second reads First's answer: it is sent nothing until First answered its Update, then its Update with the
    value First answered (resolved again, as CloudFormation resolves a resource when it reaches it)."""
    token = service_token(aws)
    first, second = custom(token, V=1), custom(token, Seen={"Fn::GetAtt": ["First", "Value"]})
    cf = aws.client("cloudformation")
    stack_id = cf.create_stack(StackName="lifecycle", TemplateBody=template(First=first, Second=second))["StackId"]
    [create] = function.next()
    function.answer(create, data={"Value": "a"})
    function.answer(function.next()[0])
    assert status(cf, stack_id) == "CREATE_COMPLETE"

    cf.update_stack(StackName=stack_id, TemplateBody=template(First=custom(token, V=2), Second=second))
    [update] = function.next()
    assert update["LogicalResourceId"] == "First"
    function.quiet()  # Second waits for First's answer
    function.answer(update, data={"Value": "b"})
    [then] = function.next()
    assert (then["LogicalResourceId"], then["OldResourceProperties"]["Seen"], then["ResourceProperties"]["Seen"]) == (
        "Second", "a", "b")
    function.answer(then)
    assert status(cf, stack_id) == "UPDATE_COMPLETE"

    # an answer that changes nothing Second reads: Second is sent nothing at all
    cf.update_stack(StackName=stack_id, TemplateBody=template(First=custom(token, V=3), Second=second))
    function.answer(function.next()[0], data={"Value": "b"})
    assert status(cf, stack_id) == "UPDATE_COMPLETE"
    function.quiet()


def test_an_update_that_changes_nothing_is_refused_as_cloudformation_refuses_it(aws, function):
    """UpdateStack with the same template, parameter values (given or by default), tags and role: CloudFormation's
    ValidationError "No updates are to be performed.", whatever the request leaves out."""
    token = service_token(aws)
    body = json.dumps({"Parameters": {"Size": {"Type": "String", "Default": "1"}},
                       "Resources": {"Thing": custom(token, Size={"Ref": "Size"})}})
    cf = aws.client("cloudformation")
    stack_id = cf.create_stack(StackName="lifecycle", TemplateBody=body)["StackId"]
    function.answer(function.next()[0])
    for parameters in ([], [{"ParameterKey": "Size", "ParameterValue": "1"}],
                       [{"ParameterKey": "Size", "UsePreviousValue": True}]):
        with pytest.raises(ClientError, match="No updates are to be performed."):
            cf.update_stack(StackName=stack_id, TemplateBody=body, Parameters=parameters)
    with pytest.raises(ClientError, match="No updates are to be performed."):
        cf.update_stack(StackName=stack_id, UsePreviousTemplate=True)
    assert status(cf, stack_id) == "CREATE_COMPLETE"
    function.quiet()
    # a changed value is an update
    cf.update_stack(StackName=stack_id, TemplateBody=body, Parameters=[{"ParameterKey": "Size", "ParameterValue": "2"}])
    function.answer(function.next()[0])
    assert status(cf, stack_id) == "UPDATE_COMPLETE"


def test_a_stack_whose_create_rolled_back_can_only_be_deleted(aws, function):
    token = service_token(aws)
    cf = aws.client("cloudformation")
    stack_id = cf.create_stack(StackName="lifecycle", TemplateBody=template(Thing=custom(token, V=1)))["StackId"]
    [create] = function.next()
    function.answer(create, status="FAILED", reason="no")
    function.answer(function.next()[0])  # the rollback's Delete
    assert status(cf, stack_id) == "ROLLBACK_COMPLETE"
    with pytest.raises(ClientError, match="is in ROLLBACK_COMPLETE state and can not be updated"):
        cf.update_stack(StackName=stack_id, TemplateBody=template(Thing=custom(token, V=2)))
    function.quiet()


def test_a_failed_rollback_answer_ends_update_rollback_failed(aws, function):
    token = service_token(aws)
    cf, stack_id = created(aws, function, Thing=custom(token, V=1))
    cf.update_stack(StackName=stack_id, TemplateBody=template(Thing=custom(token, V=2)))
    function.answer(function.next()[0], "FAILED", reason="refused")
    [back] = function.next()
    assert (back["RequestType"], back["ResourceProperties"]["V"]) == ("Update", "1")
    function.answer(back, "FAILED", reason="refused again")
    stack = cf.describe_stacks(StackName=stack_id)["Stacks"][0]
    assert stack["StackStatus"] == "UPDATE_ROLLBACK_FAILED"
    assert "Thing" in stack["StackStatusReason"]
    function.quiet()
    with pytest.raises(ClientError, match="UPDATE_ROLLBACK_FAILED state and can not be updated"):
        cf.update_stack(StackName=stack_id, TemplateBody=template(Thing=custom(token, V=3)))

    # ContinueUpdateRollback: the Update back again, and this time it is answered
    cf.continue_update_rollback(StackName=stack_id)
    [again] = function.next()
    assert (again["RequestType"], again["ResourceProperties"]["V"], again["OldResourceProperties"]["V"]) == (
        "Update", "1", "2")
    function.answer(again)
    assert status(cf, stack_id) == "UPDATE_ROLLBACK_COMPLETE"
    with pytest.raises(ClientError, match="only a stack in UPDATE_ROLLBACK_FAILED can"):
        cf.continue_update_rollback(StackName=stack_id)


def test_continue_update_rollback_can_skip_a_resource_whose_rollback_keeps_failing(aws, function):
    token = service_token(aws)
    cf, stack_id = created(aws, function, Thing=custom(token, V=1))
    cf.update_stack(StackName=stack_id, TemplateBody=template(Thing=custom(token, V=2)))
    function.answer(function.next()[0], "FAILED", reason="refused")
    function.answer(function.next()[0], "FAILED", reason="refused again")
    with pytest.raises(ClientError, match="are not resources whose rollback failed"):
        cf.continue_update_rollback(StackName=stack_id, ResourcesToSkip=["Other"])
    cf.continue_update_rollback(StackName=stack_id, ResourcesToSkip=["Thing"])
    assert status(cf, stack_id) == "UPDATE_ROLLBACK_COMPLETE"
    function.quiet()  # skipped: no request
    assert resource_statuses(cf, stack_id, "Thing")[-1] == ("UPDATE_COMPLETE", "Thing-1")


def test_a_resource_moto_fails_during_an_update_rolls_back_and_deletes_what_the_update_created(aws, function):
    token = service_token(aws)
    cf, stack_id = created(aws, function, Thing=custom(token, V=1))
    cf.update_stack(StackName=stack_id, TemplateBody=template(
        Thing=custom(token, V=1),
        New=custom(token, V=1),
        Broken={"Type": "AWS::IAM::Policy", "Properties": {
            "PolicyName": "p", "Roles": ["no-such-role"],
            "PolicyDocument": {"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}}}))
    [create] = function.next()
    assert (create["RequestType"], create["LogicalResourceId"]) == ("Create", "New")
    assert status(cf, stack_id) == "UPDATE_IN_PROGRESS"  # CloudFormation lets what is in progress finish
    function.answer(create)
    [delete] = function.next()
    assert (delete["RequestType"], delete["LogicalResourceId"], delete["PhysicalResourceId"]) == (
        "Delete", "New", "New-1")
    assert status(cf, stack_id) == "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS"
    function.answer(delete)
    assert status(cf, stack_id) == "UPDATE_ROLLBACK_COMPLETE"
    assert physical_ids(cf, stack_id) == {"Thing": "Thing-1"}
    function.quiet()


def test_an_update_is_refused_while_the_stack_is_in_progress(aws, function):
    token = service_token(aws)
    cf, stack_id = created(aws, function, Thing=custom(token, V=1))
    cf.update_stack(StackName=stack_id, TemplateBody=template(Thing=custom(token, V=2)))
    with pytest.raises(ClientError, match="UPDATE_IN_PROGRESS state and can not be updated"):
        cf.update_stack(StackName=stack_id, TemplateBody=template(Thing=custom(token, V=3)))
    function.answer(function.next()[0])
    assert status(cf, stack_id) == "UPDATE_COMPLETE"


# ServiceTimeout


def wait_status(cf, stack_id: str, wanted: str, timeout: float = 10.0) -> dict:
    deadline = time.time() + timeout
    while True:
        stack = cf.describe_stacks(StackName=stack_id)["Stacks"][0]
        if stack["StackStatus"] == wanted or time.time() > deadline:
            assert stack["StackStatus"] == wanted
            return stack
        time.sleep(0.1)


def failure_reason(cf, stack_id: str, logical_id: str, status_: str) -> str:
    events = cf.describe_stack_events(StackName=stack_id)["StackEvents"]
    [reason] = [e["ResourceStatusReason"] for e in events
                if e["LogicalResourceId"] == logical_id and e["ResourceStatus"] == status_]
    return reason


def test_a_failed_create_cancels_what_is_still_being_created_after_it_as_cloudformation_reports_it(aws, function):
    token = service_token(aws)
    cf = aws.client("cloudformation")
    stack_id = cf.create_stack(StackName="cascade", TemplateBody=template(
        Fast=custom(token, Which="fast"), Slow=custom(token, Which="slow")))["StackId"]
    creates = {e["LogicalResourceId"]: e for e in function.next(2)}
    function.answer(creates["Fast"], "FAILED", reason="the repository is missing")
    wait_status(cf, stack_id, "ROLLBACK_IN_PROGRESS", timeout=3)
    function.answer(creates["Slow"])  # too late: it was cancelled
    events = cf.describe_stack_events(StackName=stack_id)["StackEvents"][::-1]
    failed = [(e["LogicalResourceId"], e["ResourceStatus"], e.get("ResourceStatusReason")) for e in events
              if e["ResourceStatus"] in ("CREATE_FAILED", "ROLLBACK_IN_PROGRESS")]
    # the cause first, then the cancellation it caused, then the stack's summary
    assert failed == [("Fast", "CREATE_FAILED", "the repository is missing"),
                      ("Slow", "CREATE_FAILED", "Resource creation cancelled"),
                      ("cascade", "ROLLBACK_IN_PROGRESS",
                       "The following resource(s) failed to create: [Fast, Slow]. Rollback requested by user.")], failed


def test_service_timeout_fails_an_unanswered_create_and_its_rollback_delete(aws, function):
    token = service_token(aws)
    cf = aws.client("cloudformation")
    stack_id = cf.create_stack(StackName="lifecycle", TemplateBody=template(
        Thing=custom(token, ServiceTimeout=1)))["StackId"]
    [create] = function.next()
    assert create["ResourceProperties"] == {"ServiceToken": token, "ServiceTimeout": "1"}  # sent, as a string
    wait_status(cf, stack_id, "ROLLBACK_IN_PROGRESS", timeout=3)
    reason = failure_reason(cf, stack_id, "Thing", "CREATE_FAILED")
    assert reason.startswith("CloudFormation did not receive a response from your Custom Resource.")
    assert f"requestId [{create['RequestId']}]" in reason
    [delete] = function.next()
    assert delete["RequestType"] == "Delete"
    wait_status(cf, stack_id, "ROLLBACK_FAILED", timeout=3)  # the Delete went unanswered too
    function.answer(delete)  # too late: CloudFormation ignores it
    assert status(cf, stack_id) == "ROLLBACK_FAILED"


def test_service_timeout_fails_an_unanswered_update(aws, function):
    token = service_token(aws)
    cf, stack_id = created(aws, function, Thing=custom(token, V=1, ServiceTimeout=1))
    cf.update_stack(StackName=stack_id, TemplateBody=template(Thing=custom(token, V=2, ServiceTimeout=1)))
    [update] = function.next()
    wait_status(cf, stack_id, "UPDATE_ROLLBACK_IN_PROGRESS", timeout=3)
    assert "did not receive a response" in failure_reason(cf, stack_id, "Thing", "UPDATE_FAILED")
    [back] = function.next()
    function.answer(back)
    assert status(cf, stack_id) == "UPDATE_ROLLBACK_COMPLETE"


def test_service_timeout_fails_an_unanswered_delete(aws, function):
    token = service_token(aws)
    cf, stack_id = created(aws, function, Thing=custom(token, ServiceTimeout=1))
    cf.delete_stack(StackName=stack_id)
    [delete] = function.next()
    assert delete["RequestType"] == "Delete"
    assert status(cf, stack_id) == "DELETE_IN_PROGRESS"
    wait_status(cf, stack_id, "DELETE_FAILED", timeout=3)
    assert "did not receive a response" in failure_reason(cf, stack_id, "Thing", "DELETE_FAILED")


def test_without_service_timeout_an_unanswered_resource_keeps_the_stack_waiting(aws, function):
    token = service_token(aws)
    cf = aws.client("cloudformation")
    stack_id = cf.create_stack(StackName="lifecycle", TemplateBody=template(Thing=custom(token)))["StackId"]
    function.next()
    time.sleep(1.5)
    assert status(cf, stack_id) == "CREATE_IN_PROGRESS"  # CloudFormation's default is an hour


# ---------------------------------------------------------------------------------------------------------------
# DeleteStack: dependents first, one wave at a time; a failed Delete stops it; RetainResources after DELETE_FAILED


def queue_names(aws) -> set[str]:
    return {u.rsplit("/", 1)[1] for u in aws.client("sqs").list_queues().get("QueueUrls", [])}


def guarded(aws, function) -> tuple[object, str]:
    """Queue ← Base (references it) ← Guard (DependsOn Base): CloudFormation deletes Guard, then Base, then Queue."""
    token = service_token(aws)
    return created(aws, function, Queue={"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "wave-queue"}},
                   Base=custom(token, Queue={"Ref": "Queue"}), Guard={**custom(token), "DependsOn": "Base"})


def test_delete_stack_deletes_dependents_first_and_waits_for_each_answer(aws, function):
    cf, stack_id = guarded(aws, function)
    cf.delete_stack(StackName=stack_id)
    [first] = function.next()
    assert (first["RequestType"], first["LogicalResourceId"]) == ("Delete", "Guard")
    function.quiet()  # Base waits for Guard's answer
    assert status(cf, stack_id) == "DELETE_IN_PROGRESS"
    function.answer(first)
    [second] = function.next()
    assert (second["RequestType"], second["LogicalResourceId"]) == ("Delete", "Base")
    assert "wave-queue" in queue_names(aws)  # what Base depends on outlives it
    function.answer(second)
    assert "wave-queue" not in queue_names(aws)
    assert stack_statuses(cf, stack_id)[-2:] == ["DELETE_IN_PROGRESS", "DELETE_COMPLETE"]
    assert cf.describe_stacks(StackName=stack_id)["Stacks"][0]["StackStatus"] == "DELETE_COMPLETE"


def test_a_failed_delete_stops_the_deletion_with_everything_not_reached_in_place(aws, function):
    cf, stack_id = guarded(aws, function)
    cf.delete_stack(StackName=stack_id)
    [refused] = function.next()
    function.answer(refused, status="FAILED", reason="still in use")
    assert status(cf, "lifecycle") == "DELETE_FAILED"  # still found by name, as CloudFormation's are
    assert "failed to delete: [Guard]" in cf.describe_stacks(StackName="lifecycle")["Stacks"][0]["StackStatusReason"]
    assert failure_reason(cf, stack_id, "Guard", "DELETE_FAILED") == "still in use"
    function.quiet()  # Base was never asked
    assert "wave-queue" in queue_names(aws)

    cf.delete_stack(StackName="lifecycle")  # deleting again asks the failed resource again
    [again] = function.next()
    assert (again["RequestType"], again["LogicalResourceId"]) == ("Delete", "Guard")
    function.answer(again, status="FAILED", reason="still in use")
    assert status(cf, stack_id) == "DELETE_FAILED"


def test_retain_resources_after_delete_failed_skips_them_and_deletes_the_rest(aws, function):
    cf, stack_id = guarded(aws, function)
    cf.delete_stack(StackName=stack_id)
    function.answer(function.next()[0], status="FAILED", reason="still in use")
    assert status(cf, stack_id) == "DELETE_FAILED"

    cf.delete_stack(StackName=stack_id, RetainResources=["Guard"])
    [base] = function.next()
    assert (base["RequestType"], base["LogicalResourceId"]) == ("Delete", "Base")
    function.answer(base)
    assert status(cf, stack_id) == "DELETE_COMPLETE"
    assert resource_statuses(cf, stack_id, "Guard")[-1][0] == "DELETE_SKIPPED"
    assert "wave-queue" not in queue_names(aws)


def test_retain_resources_is_refused_unless_the_stack_is_delete_failed(aws, function):
    cf, stack_id = guarded(aws, function)
    with pytest.raises(ClientError) as e:
        cf.delete_stack(StackName=stack_id, RetainResources=["Guard"])
    assert e.value.response["Error"]["Code"] == "ValidationError"
    assert "DELETE_FAILED" in e.value.response["Error"]["Message"]
    assert status(cf, stack_id) == "CREATE_COMPLETE"
    function.quiet()


def test_a_retained_resource_is_skipped_and_kept(aws, function):
    token = service_token(aws)
    cf, stack_id = created(aws, function, Thing=custom(token),
                           Queue={"Type": "AWS::SQS::Queue", "DeletionPolicy": "Retain",
                                  "Properties": {"QueueName": "kept-queue"}})
    cf.delete_stack(StackName=stack_id)
    function.answer(function.next()[0])
    assert status(cf, stack_id) == "DELETE_COMPLETE"
    assert "kept-queue" in queue_names(aws)
    assert resource_statuses(cf, stack_id, "Queue")[-1][0] == "DELETE_SKIPPED"


def test_a_custom_resource_is_created_after_the_custom_resources_it_depends_on_and_sees_their_answers(aws, function):
    token = service_token(aws)
    cf = aws.client("cloudformation")
    stack_id = cf.create_stack(StackName="lifecycle", TemplateBody=template(
        First=custom(token), Second=custom(token, FirstId={"Ref": "First"}, Out={"Fn::GetAtt": ["First", "Out"]}),
        Third={**custom(token), "DependsOn": "Second"}))["StackId"]
    [first] = function.next()
    assert first["LogicalResourceId"] == "First"
    function.quiet()  # the others wait for First's answer
    function.answer(first, physical_id="first-id", data={"Out": "from-first"})
    [second] = function.next()
    assert (second["LogicalResourceId"], second["ResourceProperties"]["FirstId"],
            second["ResourceProperties"]["Out"]) == ("Second", "first-id", "from-first")
    function.quiet()
    assert status(cf, stack_id) == "CREATE_IN_PROGRESS"
    function.answer(second)
    [third] = function.next()
    assert third["LogicalResourceId"] == "Third"
    function.answer(third)
    assert status(cf, stack_id) == "CREATE_COMPLETE"


def test_a_failed_create_rolls_back_without_deleting_resources_never_asked(aws, function):
    token = service_token(aws)
    cf = aws.client("cloudformation")
    stack_id = cf.create_stack(StackName="lifecycle", TemplateBody=template(
        First=custom(token), Second={**custom(token), "DependsOn": "First"}))["StackId"]
    [first] = function.next()
    function.answer(first, status="FAILED", reason="no")
    [delete] = function.next()
    assert (delete["RequestType"], delete["LogicalResourceId"]) == ("Delete", "First")
    function.answer(delete)
    function.quiet()  # Second was never created, so it is never deleted
    assert status(cf, stack_id) == "ROLLBACK_COMPLETE"


# ---------------------------------------------------------------------------------------------------------------
# Change sets, as `aws cloudformation deploy` uses them


def change_set(cf, kind: str, body: str, parameters=(), name: str = "deploy-1") -> dict:
    """CreateChangeSet as the aws CLI's deploy sends it; DescribeChangeSet once it settled."""
    created = cf.create_change_set(StackName="deployed", ChangeSetName=name, ChangeSetType=kind, TemplateBody=body,
                                   Parameters=list(parameters), Capabilities=["CAPABILITY_IAM"])
    return cf.describe_change_set(ChangeSetName=created["Id"])


def test_a_create_change_set_creates_the_stack_as_create_stack_does(aws, function):
    token = service_token(aws)
    cf = aws.client("cloudformation")
    body = json.dumps({"Resources": {"Thing": custom(token, V=1)},
                       "Outputs": {"ThingId": {"Value": {"Ref": "Thing"}}, "Data": {"Value": {"Fn::GetAtt": ["Thing", "Key"]}}}})
    cs = change_set(cf, "CREATE", body)
    assert (cs["Status"], cs["ExecutionStatus"]) == ("CREATE_COMPLETE", "AVAILABLE")
    assert status(cf, cs["StackId"]) == "REVIEW_IN_PROGRESS"
    cf.execute_change_set(ChangeSetName=cs["ChangeSetId"])
    [create] = function.next()
    assert status(cf, cs["StackId"]) == "CREATE_IN_PROGRESS", "until the custom resource answers"
    function.answer(create, data={"Key": "value"})
    stack = cf.describe_stacks(StackName="deployed")["Stacks"][0]
    assert (stack["StackId"], stack["StackStatus"]) == (cs["StackId"], "CREATE_COMPLETE")
    assert {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]} == {"ThingId": "Thing-1", "Data": "value"}
    assert stack_statuses(cf, cs["StackId"]) == ["REVIEW_IN_PROGRESS", "CREATE_IN_PROGRESS", "CREATE_COMPLETE"]
    assert cf.describe_change_set(ChangeSetName=cs["ChangeSetId"])["ExecutionStatus"] == "EXECUTE_COMPLETE"
    with pytest.raises(ClientError, match="InvalidChangeSetStatus"):
        cf.execute_change_set(ChangeSetName=cs["ChangeSetId"])


def test_an_update_change_set_updates_as_update_stack_does_and_one_without_changes_fails(aws, function):
    token = service_token(aws)
    cf = aws.client("cloudformation")
    body = json.dumps({"Parameters": {"V": {"Type": "String", "Default": "1"}},
                       "Resources": {"Thing": custom(token, V={"Ref": "V"})}})
    cs = change_set(cf, "CREATE", body)
    cf.execute_change_set(ChangeSetName=cs["ChangeSetId"])
    function.answer(function.next()[0])
    # what the CLI sends for an unchanged deploy: UsePreviousValue for every parameter
    same = change_set(cf, "UPDATE", body, [{"ParameterKey": "V", "UsePreviousValue": True}], name="deploy-2")
    assert (same["Status"], same["ExecutionStatus"]) == ("FAILED", "UNAVAILABLE")
    assert same["StatusReason"].startswith("The submitted information didn't contain changes.")
    with pytest.raises(ClientError, match="InvalidChangeSetStatus"):
        cf.execute_change_set(ChangeSetName=same["ChangeSetId"])
    changed = change_set(cf, "UPDATE", body, [{"ParameterKey": "V", "ParameterValue": "2"}], name="deploy-3")
    assert changed["Status"] == "CREATE_COMPLETE"
    cf.execute_change_set(ChangeSetName=changed["ChangeSetId"])
    [update] = function.next()
    assert (update["RequestType"], update["OldResourceProperties"]["V"], update["ResourceProperties"]["V"]) == (
        "Update", "1", "2")
    function.answer(update)
    assert status(cf, changed["StackId"]) == "UPDATE_COMPLETE"
    # a failed update through a change set rolls back as UpdateStack's does
    failing = change_set(cf, "UPDATE", body, [{"ParameterKey": "V", "ParameterValue": "3"}], name="deploy-4")
    cf.execute_change_set(ChangeSetName=failing["ChangeSetId"])
    function.answer(function.next()[0], status="FAILED", reason="no")
    function.answer(function.next()[0])  # the Update back
    assert status(cf, failing["StackId"]) == "UPDATE_ROLLBACK_COMPLETE"
    with pytest.raises(ClientError, match="already exists"):
        change_set(cf, "CREATE", body, name="again")


# ---------------------------------------------------------------------------------------------------------------
# In place or replaced, per property, from the resource provider schemas (createOnlyProperties)


def test_an_update_keeps_a_generated_name_unless_a_create_only_property_changed(aws):
    cf = aws.client("cloudformation")

    def body(prefix: str, name=None) -> str:
        rule = {"EventPattern": {"source": ["x"], "detail": {"key": [{"prefix": {"Ref": "Prefix"}}]}}}
        if name:
            rule["Name"] = name
        return json.dumps({"Parameters": {"Prefix": {"Type": "String", "Default": prefix}},
                           "Resources": {"Rule": {"Type": "AWS::Events::Rule", "Properties": rule},
                                         "Queue": {"Type": "AWS::SQS::Queue", "Properties": {"VisibilityTimeout": 60}}}})

    stack_id = cf.create_stack(StackName="schemas", TemplateBody=body("a/"))["StackId"]
    before = physical_ids(cf, stack_id)
    # the pattern changes through a parameter: AWS::Events::Rule replaces only on Name, so in place
    cf.update_stack(StackName=stack_id, TemplateBody=body("a/"), Parameters=[{"ParameterKey": "Prefix",
                                                                              "ParameterValue": "b/"}])
    assert status(cf, stack_id) == "UPDATE_COMPLETE"
    assert physical_ids(cf, stack_id) == before
    rule = aws.client("events").describe_rule(Name=before["Rule"])
    assert json.loads(rule["EventPattern"])["detail"]["key"] == [{"prefix": "b/"}]
    # a new Name (createOnly) is a replacement, under the new name
    cf.update_stack(StackName=stack_id, TemplateBody=body("b/", name="named-rule"))
    assert status(cf, stack_id) == "UPDATE_COMPLETE"
    assert physical_ids(cf, stack_id)["Rule"] == "named-rule"
