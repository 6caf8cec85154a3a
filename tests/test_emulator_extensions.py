"""The emulator extensions' own behaviour (harness/ext_sagemaker.py, ext_lambda.py, ext_events.py,
ext_cloudformation.py), through boto3.

What AWS does is the specification; where AWS's exact words are not documented, the tests pin the error code
and that the message names the culprit."""
from __future__ import annotations

import datetime as dt
import json
import re
import time

import pytest
from botocore.exceptions import ClientError

from harness import emulator as emu
from harness import ext_cloudformation, ext_events, ext_lambda, ext_sagemaker, ext_sagemaker_domains
from harness.fixtures import (LAUNCH_ROLE_NAME, LAUNCH_ROLE_TRUST, RecordingFunction, eventually, make_function,
                              make_role)

BUCKET = "sagemaker-templates-test"
ACCOUNT = "123456789012"

TEMPLATE = """\
AWSTemplateFormatVersion: "2010-09-09"
Description: a project template for the emulator's tests
Metadata:
  SagemakerTemplateParameterRules:
    Notes: {Optional: true}
Parameters:
  SageMakerProjectName:
    Type: String
    AllowedPattern: ^[a-zA-Z](-*[a-zA-Z0-9])*
    MinLength: 1
    MaxLength: 32
  SageMakerProjectId:
    Type: String
  RepositoryFullname:
    Type: String
  Branch:
    Type: String
    Default: main
  Notes:
    Type: String
Resources:
  Artifacts:
    Type: AWS::S3::Bucket
    Properties:
      BucketName: !Sub sagemaker-project-${SageMakerProjectId}
Outputs:
  ArtifactBucket:
    Value: !Ref Artifacts
"""


# ------------------------------------------------------------------------------------------------- helpers


def put_template(aws, key="templates/build-train.yaml", body=TEMPLATE, visible: str | None = "true"):
    s3 = aws.client("s3")
    if BUCKET not in [b["Name"] for b in s3.list_buckets()["Buckets"]]:
        s3.create_bucket(Bucket=BUCKET)
    kwargs = {"Tagging": f"sagemaker:studio-visibility={visible}"} if visible is not None else {}
    s3.put_object(Bucket=BUCKET, Key=key, Body=body.encode(), **kwargs)
    return f"https://{BUCKET}.s3.{aws.region}.amazonaws.com/{key}"


def launch_role(aws, name=LAUNCH_ROLE_NAME) -> str:
    return make_role(aws.client("iam"), name, trust=LAUNCH_ROLE_TRUST)


def provider(url, params=None, role=None, name="build-train"):
    cfn = {"TemplateName": name, "TemplateURL": url}
    if params is not None:
        cfn["Parameters"] = [{"Key": k, "Value": v} for k, v in params.items()]
    if role is not None:
        cfn["RoleARN"] = role
    return [{"CfnTemplateProvider": cfn}]


def create(aws, name="proj-a", params=None, url=None, role=None, **kwargs):
    url = url or put_template(aws)
    params = {"RepositoryFullname": "acme/models"} if params is None else params
    return aws.client("sagemaker").create_project(
        ProjectName=name, TemplateProviders=provider(url, params, role), **kwargs
    )


def error_of(call, *args, **kwargs) -> tuple[str, str]:
    with pytest.raises(ClientError) as info:
        call(*args, **kwargs)
    err = info.value.response["Error"]
    return err["Code"], err["Message"]


def wait_stack(cf, stack_id, timeout=120.0) -> dict:
    deadline = time.time() + timeout
    while True:
        stack = cf.describe_stacks(StackName=stack_id)["Stacks"][0]
        if not stack["StackStatus"].endswith("_IN_PROGRESS") or time.time() > deadline:
            return stack
        time.sleep(0.2)


def stack_events(cf, stack_id) -> list[str]:
    events = cf.describe_stack_events(StackName=stack_id)["StackEvents"]
    return [f"{e['LogicalResourceId']} {e['ResourceStatus']}" for e in reversed(events)]


# ------------------------------------------------------------------------------------------------- CreateProject


def test_create_project_creates_the_template_stack_and_completes(aws):
    role = launch_role(aws)
    out = create(aws, "proj-a", {"RepositoryFullname": "acme/models"}, role=role,
                 ProjectDescription="demo", Tags=[{"Key": "team", "Value": "ml"}])
    sm, cf = aws.client("sagemaker"), aws.client("cloudformation")

    assert re.fullmatch(r"p-[a-z0-9]{12}", out["ProjectId"])
    assert out["ProjectArn"] == f"arn:aws:sagemaker:{aws.region}:{ACCOUNT}:project/proj-a"

    stack = cf.describe_stacks(StackName=f"SP-{out['ProjectId']}")["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    assert stack["RoleARN"] == role
    assert {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]} == {
        "SageMakerProjectName": "proj-a",
        "SageMakerProjectId": out["ProjectId"],
        "RepositoryFullname": "acme/models",
        "Branch": "main",
        "Notes": "",
    }
    # SageMaker's two tags, and the project's own (inferred, README "The emulator")
    assert {t["Key"]: t["Value"] for t in stack["Tags"]} == {
        "sagemaker:project-name": "proj-a",
        "sagemaker:project-id": out["ProjectId"],
        "team": "ml",
    }
    assert aws.client("s3").head_bucket(Bucket=f"sagemaker-project-{out['ProjectId']}")

    described = sm.describe_project(ProjectName="proj-a")
    assert described["ProjectStatus"] == "CreateCompleted"
    assert described["ProjectId"] == out["ProjectId"]
    assert described["ProjectDescription"] == "demo"
    detail = described["TemplateProviderDetails"][0]["CfnTemplateProviderDetail"]
    assert detail["TemplateName"] == "build-train"
    assert detail["TemplateURL"].endswith("/templates/build-train.yaml")
    assert detail["RoleARN"] == role
    assert detail["Parameters"] == [{"Key": "RepositoryFullname", "Value": "acme/models"}]
    assert detail["StackDetail"]["Name"] == f"SP-{out['ProjectId']}"
    assert detail["StackDetail"]["Id"] == stack["StackId"]
    assert detail["StackDetail"]["StatusMessage"]
    assert sm.list_tags(ResourceArn=out["ProjectArn"])["Tags"] == [{"Key": "team", "Value": "ml"}]


@pytest.mark.parametrize(
    "url_form",
    [
        "https://{bucket}.s3.{region}.amazonaws.com/{key}",
        "https://{bucket}.s3.amazonaws.com/{key}",
        "https://s3.{region}.amazonaws.com/{bucket}/{key}",
    ],
)
def test_template_url_styles_and_encoded_keys_are_accepted(aws, url_form):
    put_template(aws, key="templates/build train+v1.yaml")
    url = url_form.format(bucket=BUCKET, region=aws.region, key="templates/build%20train%2Bv1.yaml")
    out = create(aws, url=url)
    assert aws.client("sagemaker").describe_project(ProjectName="proj-a")["ProjectStatus"] == "CreateCompleted"
    assert out["ProjectId"]


def test_json_templates_are_accepted(aws):
    doc = {
        "Parameters": {"SageMakerProjectName": {"Type": "String"}, "SageMakerProjectId": {"Type": "String"}},
        "Resources": {"Q": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": {"Fn::Sub": "q-${SageMakerProjectId}"}}}},
    }
    url = put_template(aws, key="t.json", body=json.dumps(doc))
    out = create(aws, url=url, params={})
    assert aws.client("sagemaker").describe_project(ProjectName="proj-a")["ProjectStatus"] == "CreateCompleted"
    assert aws.client("sqs").get_queue_url(QueueName=f"q-{out['ProjectId']}")


@pytest.mark.parametrize(
    "name, field",
    [("-leading-dash", "projectName"), ("under_score", "projectName"), ("x" * 33, "projectName")],
)
def test_project_name_constraints(aws, name, field):
    code, message = error_of(create, aws, name)
    assert code == "ValidationException"
    assert f"at '{field}'" in message
    if len(name) > 32:
        assert "length less than or equal to 32" in message


def test_description_and_tag_limits(aws):
    code, message = error_of(create, aws, ProjectDescription="d" * 1025)
    assert (code, "at 'projectDescription'" in message) == ("ValidationException", True)
    tags = [{"Key": f"k{i}", "Value": "v"} for i in range(51)]
    code, message = error_of(create, aws, Tags=tags)
    assert (code, "at 'tags'" in message) == ("ValidationException", True)


def test_template_url_must_be_https(aws):
    put_template(aws)
    code, message = error_of(create, aws, url=f"http://{BUCKET}.s3.amazonaws.com/templates/build-train.yaml")
    assert code == "ValidationException"
    assert "templateURL" in message and "https" in message


def test_template_url_must_be_an_s3_url(aws):
    code, message = error_of(create, aws, url="https://example.com/templates/build-train.yaml")
    assert code == "ValidationException" and "S3" in message


def test_template_object_must_exist(aws):
    put_template(aws)
    code, message = error_of(create, aws, url=f"https://{BUCKET}.s3.amazonaws.com/templates/missing.yaml")
    assert code == "ValidationException" and "missing.yaml" in message
    code, _ = error_of(create, aws, url="https://no-such-bucket-xyz.s3.amazonaws.com/templates/t.yaml")
    assert code == "ValidationException"


@pytest.mark.parametrize("visible", [None, "false"])
def test_template_object_must_be_visible(aws, visible):
    url = put_template(aws, visible=visible)
    code, message = error_of(create, aws, url=url)
    assert code == "ValidationException" and "sagemaker:studio-visibility" in message


def test_undeclared_parameter_is_rejected(aws):
    code, message = error_of(create, aws, params={"RepositoryFullname": "a/b", "Colour": "blue"})
    assert code == "ValidationException" and "Colour" in message


def test_missing_required_parameter_is_rejected(aws):
    code, message = error_of(create, aws, params={"Branch": "dev"})
    assert code == "ValidationException" and "RepositoryFullname" in message
    assert "Notes" not in message  # optional by the template's SagemakerTemplateParameterRules
    assert "SageMakerProject" not in message  # SageMaker fills those in itself


def test_caller_may_not_pass_the_parameters_sagemaker_fills_in(aws):
    code, message = error_of(create, aws, params={"RepositoryFullname": "a/b", "SageMakerProjectId": "p-x"})
    assert code == "ValidationException" and "SageMakerProjectId" in message


def test_duplicate_name_is_resource_in_use(aws):
    create(aws, "proj-a")
    code, message = error_of(create, aws, "proj-a")
    assert code == "ResourceInUse"
    assert "already exists" in message and "project/proj-a" in message


def test_parameter_value_breaking_the_template_fails_the_project(aws):
    # the project name is fine for SageMaker, but the template only allows names starting with a letter
    out = create(aws, "1st-project")
    described = aws.client("sagemaker").describe_project(ProjectName="1st-project")
    assert described["ProjectStatus"] == "CreateFailed"
    message = described["TemplateProviderDetails"][0]["CfnTemplateProviderDetail"]["StackDetail"]["StatusMessage"]
    assert "SageMakerProjectName" in message
    assert out["ProjectId"]


def test_unknown_launch_role_fails_the_project(aws):
    create(aws, role=f"arn:aws:iam::{ACCOUNT}:role/NoSuchRole")
    described = aws.client("sagemaker").describe_project(ProjectName="proj-a")
    assert described["ProjectStatus"] == "CreateFailed"
    assert "NoSuchRole" in described["TemplateProviderDetails"][0]["CfnTemplateProviderDetail"]["StackDetail"][
        "StatusMessage"]


def test_describe_unknown_project(aws):
    code, message = error_of(aws.client("sagemaker").describe_project, ProjectName="ghost")
    assert code == "ValidationException" and "ghost" in message and "does not exist" in message


# ------------------------------------------------------------------------------------------------- List / Update / Delete


def test_list_projects_filters_sorts_and_pages(aws):
    sm = aws.client("sagemaker")
    put_template(aws)
    for name in ("beta", "alpha", "gamma-xy", "delta-xy"):
        create(aws, name)
    listed = sm.list_projects()["ProjectSummaryList"]
    assert [p["ProjectName"] for p in listed] == ["beta", "alpha", "gamma-xy", "delta-xy"]  # CreationTime, Ascending
    assert all(p["ProjectStatus"] == "CreateCompleted" and p["ProjectId"].startswith("p-") for p in listed)

    by_name = sm.list_projects(SortBy="Name", SortOrder="Descending")["ProjectSummaryList"]
    assert [p["ProjectName"] for p in by_name] == ["gamma-xy", "delta-xy", "beta", "alpha"]
    # NameContains takes a name's pattern (`-x` is refused as on AWS, ext_strict)
    assert [p["ProjectName"] for p in sm.list_projects(NameContains="xy")["ProjectSummaryList"]] == [
        "gamma-xy", "delta-xy"]

    first = sm.list_projects(MaxResults=3)
    second = sm.list_projects(MaxResults=3, NextToken=first["NextToken"])
    assert len(first["ProjectSummaryList"]) == 3 and "NextToken" not in second
    assert [p["ProjectName"] for p in first["ProjectSummaryList"] + second["ProjectSummaryList"]] == [
        p["ProjectName"] for p in listed]

    later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=1)
    assert sm.list_projects(CreationTimeAfter=later)["ProjectSummaryList"] == []
    assert len(sm.list_projects(CreationTimeBefore=later)["ProjectSummaryList"]) == 4


def test_update_project_updates_the_stack(aws):
    out = create(aws, params={"RepositoryFullname": "acme/models"})
    sm, cf = aws.client("sagemaker"), aws.client("cloudformation")
    url = sm.describe_project(ProjectName="proj-a")["TemplateProviderDetails"][0]["CfnTemplateProviderDetail"][
        "TemplateURL"]
    sm.update_project(
        ProjectName="proj-a",
        ProjectDescription="new",
        TemplateProvidersToUpdate=[{"CfnTemplateProvider": {
            "TemplateName": "build-train", "TemplateURL": url,
            "Parameters": [{"Key": "RepositoryFullname", "Value": "acme/other"}, {"Key": "Branch", "Value": "dev"}],
        }}],
    )
    described = sm.describe_project(ProjectName="proj-a")
    assert described["ProjectStatus"] == "UpdateCompleted"
    assert described["ProjectDescription"] == "new"
    stack = cf.describe_stacks(StackName=f"SP-{out['ProjectId']}")["Stacks"][0]
    params = {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]}
    assert (params["RepositoryFullname"], params["Branch"]) == ("acme/other", "dev")
    assert params["SageMakerProjectId"] == out["ProjectId"]


# an update moto fails while applying it (a queue whose dead-letter queue does not exist): the stack rolls back
FAILING_UPDATE = """\
Parameters:
  SageMakerProjectName: {Type: String}
  SageMakerProjectId: {Type: String}
  RepositoryFullname: {Type: String}
Resources:
  Artifacts:
    Type: AWS::S3::Bucket
    Properties:
      BucketName: !Sub sagemaker-project-${SageMakerProjectId}
  Queue:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: !Sub sagemaker-${SageMakerProjectId}-q
      RedrivePolicy: {deadLetterTargetArn: 'arn:aws:sqs:us-east-1:123456789012:nowhere', maxReceiveCount: 3}
"""


def stack_of(aws, project_id):
    cf = aws.client("cloudformation")
    stack = cf.describe_stacks(StackName=f"SP-{project_id}")["Stacks"][0]
    resources = cf.list_stack_resources(StackName=stack["StackId"])["StackResourceSummaries"]
    return stack, sorted(r["LogicalResourceId"] for r in resources)


def test_an_update_the_stack_rolls_back_reads_update_failed_with_the_stacks_reason(aws):
    out = create(aws, params={"RepositoryFullname": "acme/models"})
    sm = aws.client("sagemaker")
    url = put_template(aws, key="templates/failing.yaml", body=FAILING_UPDATE)
    sm.update_project(ProjectName="proj-a", TemplateProvidersToUpdate=provider(url, {"RepositoryFullname": "a/b"}))
    described = sm.describe_project(ProjectName="proj-a")
    detail = described["TemplateProviderDetails"][0]["CfnTemplateProviderDetail"]["StackDetail"]
    stack, resources = stack_of(aws, out["ProjectId"])
    assert (described["ProjectStatus"], stack["StackStatus"]) == ("UpdateFailed", "UPDATE_ROLLBACK_COMPLETE")
    # the stack's reason is CloudFormation's summary; the cause is on the resource, reported before the rollback
    assert detail["StatusMessage"] == (
        "UPDATE_ROLLBACK_COMPLETE: The following resource(s) failed to create: [Queue]. ")
    events = aws.client("cloudformation").describe_stack_events(StackName=stack["StackId"])["StackEvents"][::-1]
    failed = [(e["LogicalResourceId"], e["ResourceStatus"], e.get("ResourceStatusReason")) for e in events
              if e["ResourceStatus"].endswith("_FAILED") or e["ResourceStatus"] == "UPDATE_ROLLBACK_IN_PROGRESS"]
    assert failed == [
        ("Queue", "CREATE_FAILED",
         "AWS.SimpleQueueService.NonExistentQueue: Could not find DLQ for arn:aws:sqs:us-east-1:123456789012:nowhere"),
        (stack["StackName"], "UPDATE_ROLLBACK_IN_PROGRESS", "The following resource(s) failed to create: [Queue]. ")]
    assert resources == ["Artifacts"]  # rolled back: the queue the update added is gone
    # a failed update can be updated again (back to the first template): the stack's own outcome again
    first = put_template(aws)
    sm.update_project(ProjectName="proj-a", TemplateProvidersToUpdate=provider(first, {"RepositoryFullname": "a/b"}))
    assert sm.describe_project(ProjectName="proj-a")["ProjectStatus"] == "UpdateCompleted"


def test_an_update_update_stack_refuses_fails_the_project_and_leaves_the_stack_as_it_was(aws):
    out = create(aws, params={"RepositoryFullname": "acme/models"})
    sm = aws.client("sagemaker")
    body = TEMPLATE.replace("  Branch:\n    Type: String\n    Default: main",
                            "  Branch:\n    Type: String\n    Default: main\n    AllowedValues: [main]")
    url = put_template(aws, key="templates/strict.yaml", body=body)
    sm.update_project(ProjectName="proj-a", TemplateProvidersToUpdate=provider(
        url, {"RepositoryFullname": "a/b", "Branch": "dev"}))
    described = sm.describe_project(ProjectName="proj-a")
    stack, _ = stack_of(aws, out["ProjectId"])
    assert (described["ProjectStatus"], stack["StackStatus"]) == ("UpdateFailed", "CREATE_COMPLETE")
    message = described["TemplateProviderDetails"][0]["CfnTemplateProviderDetail"]["StackDetail"]["StatusMessage"]
    assert message.startswith("CREATE_COMPLETE: ") and "Branch" in message, message


def test_update_project_checks_the_provider_as_create_project_does(aws):
    create(aws, params={"RepositoryFullname": "acme/models"})
    sm = aws.client("sagemaker")
    url = put_template(aws)
    hidden = put_template(aws, key="templates/hidden.yaml", visible=None)
    cases = [
        (provider(url, {"RepositoryFullname": "a/b", "Nope": "1"}), "Nope"),
        (provider(url, {}), "RepositoryFullname"),
        (provider(hidden, {"RepositoryFullname": "a/b"}), "sagemaker:studio-visibility"),
        (provider(url, {"RepositoryFullname": "a/b"}, name="other"), "other"),
    ]
    for providers, culprit in cases:
        with pytest.raises(ClientError) as e:
            sm.update_project(ProjectName="proj-a", TemplateProvidersToUpdate=providers)
        assert e.value.response["Error"]["Code"] == "ValidationException" and culprit in str(e.value), providers
    assert sm.describe_project(ProjectName="proj-a")["ProjectStatus"] == "CreateCompleted"


def test_a_template_url_pinned_to_a_version_reads_that_version(aws):
    s3 = aws.client("s3")
    put_template(aws)
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    first = put_template(aws)
    v1 = s3.head_object(Bucket=BUCKET, Key="templates/build-train.yaml")["VersionId"]
    put_template(aws, body="\n".join(line for line in FAILING_UPDATE.splitlines() if "RedrivePolicy" not in line))
    out = create(aws, params={"RepositoryFullname": "acme/models"}, url=f"{first}?versionId={v1}")
    assert stack_of(aws, out["ProjectId"])[1] == ["Artifacts"]
    latest = create(aws, name="proj-b", params={"RepositoryFullname": "acme/models"}, url=first)
    assert stack_of(aws, latest["ProjectId"])[1] == ["Artifacts", "Queue"]


def test_search_finds_projects_with_their_tags_and_providers_a_page_at_a_time(aws):
    for i in range(5):
        create(aws, name=f"p{i}", Tags=[{"Key": "team", "Value": "a" if i % 2 else "b"}])
    sm = aws.client("sagemaker")
    first = sm.search(Resource="Project", MaxResults=3, SortBy="Name", SortOrder="Ascending")
    second = sm.search(Resource="Project", MaxResults=3, SortBy="Name", SortOrder="Ascending",
                       NextToken=first["NextToken"])
    names = [r["Project"]["ProjectName"] for r in first["Results"] + second["Results"]]
    assert names == ["p0", "p1", "p2", "p3", "p4"] and "NextToken" not in second
    record = first["Results"][1]["Project"]
    assert record["Tags"] == [{"Key": "team", "Value": "a"}] and record["ProjectStatus"] == "CreateCompleted"
    assert record["TemplateProviderDetails"][0]["CfnTemplateProviderDetail"]["TemplateName"] == "build-train"
    team_a = sm.search(Resource="Project", SearchExpression={"Filters": [
        {"Name": "Tags.team", "Operator": "Equals", "Value": "a"}]})
    assert sorted(r["Project"]["ProjectName"] for r in team_a["Results"]) == ["p1", "p3"]
    with pytest.raises(ClientError):
        sm.search(Resource="Project", MaxResults=101)


def test_delete_project_deletes_its_stack_then_the_project_goes(aws):
    out = create(aws)
    sm, cf = aws.client("sagemaker"), aws.client("cloudformation")
    stack_id = cf.describe_stacks(StackName=f"SP-{out['ProjectId']}")["Stacks"][0]["StackId"]
    sm.delete_project(ProjectName="proj-a")

    assert cf.describe_stacks(StackName=stack_id)["Stacks"][0]["StackStatus"] == "DELETE_COMPLETE"
    assert sm.describe_project(ProjectName="proj-a")["ProjectStatus"] == "DeleteCompleted"
    code, message = error_of(sm.delete_project, ProjectName="proj-a")
    assert code == "ValidationException" and "DeleteCompleted" in message

    time.sleep(ext_sagemaker.DELETED_PROJECT_TTL_SECONDS + 0.1)
    code, message = error_of(sm.describe_project, ProjectName="proj-a")
    assert code == "ValidationException" and "does not exist" in message
    assert sm.list_projects()["ProjectSummaryList"] == []
    # the name is free again
    assert create(aws)["ProjectId"] != out["ProjectId"]


def test_a_deleted_project_name_can_be_reused_at_once(aws):
    create(aws)
    aws.client("sagemaker").delete_project(ProjectName="proj-a")
    create(aws)
    assert aws.client("sagemaker").describe_project(ProjectName="proj-a")["ProjectStatus"] == "CreateCompleted"


def test_delete_unknown_project(aws):
    code, message = error_of(aws.client("sagemaker").delete_project, ProjectName="ghost")
    assert code == "ValidationException" and "ghost" in message and "does not exist" in message


def test_projects_are_kept_per_region(aws):
    create(aws)
    other = aws.client("sagemaker", region_name="eu-west-1")
    assert other.list_projects()["ProjectSummaryList"] == []
    assert error_of(other.describe_project, ProjectName="proj-a")[0] == "ValidationException"


# ------------------------------------------------------------------------------------------------- domains


def create_domain(aws, name="studio", **kwargs) -> dict:
    sm = aws.client("sagemaker")
    sm.create_domain(
        DomainName=name, AuthMode="IAM", SubnetIds=["subnet-1"], VpcId="vpc-1",
        DefaultUserSettings={"ExecutionRole": f"arn:aws:iam::{ACCOUNT}:role/service-role/Exec"}, **kwargs,
    )
    return sm.list_domains()["Domains"][-1]


def test_add_tags_then_list_tags_on_a_domain_created_without_tags(aws):
    sm = aws.client("sagemaker")
    arn = create_domain(aws)["DomainArn"]
    assert sm.list_tags(ResourceArn=arn)["Tags"] == []
    sm.add_tags(ResourceArn=arn, Tags=[{"Key": "owner", "Value": "ml"}])
    sm.add_tags(ResourceArn=arn, Tags=[{"Key": "sagemaker:projectS3TemplatesLocation",
                                       "Value": "s3://sagemaker-templates/t/"}])
    tags = {t["Key"]: t["Value"] for t in sm.list_tags(ResourceArn=arn)["Tags"]}
    assert tags == {"owner": "ml", "sagemaker:projectS3TemplatesLocation": "s3://sagemaker-templates/t/"}

    # AddTags overwrites a key's value rather than adding a second tag
    sm.add_tags(ResourceArn=arn, Tags=[{"Key": "owner", "Value": "platform"}])
    assert sorted((t["Key"], t["Value"]) for t in sm.list_tags(ResourceArn=arn)["Tags"]) == [
        ("owner", "platform"), ("sagemaker:projectS3TemplatesLocation", "s3://sagemaker-templates/t/")]
    sm.delete_tags(ResourceArn=arn, TagKeys=["owner"])
    assert [t["Key"] for t in sm.list_tags(ResourceArn=arn)["Tags"]] == ["sagemaker:projectS3TemplatesLocation"]


def test_add_tags_keeps_tags_given_at_creation(aws):
    sm = aws.client("sagemaker")
    arn = create_domain(aws, Tags=[{"Key": "a", "Value": "1"}])["DomainArn"]
    sm.add_tags(ResourceArn=arn, Tags=[{"Key": "b", "Value": "2"}])
    assert sorted((t["Key"], t["Value"]) for t in sm.list_tags(ResourceArn=arn)["Tags"]) == [("a", "1"), ("b", "2")]


def test_domains_start_in_service_by_default(aws):
    assert create_domain(aws)["Status"] == "InService"


def test_domain_can_start_pending_and_become_in_service(aws):
    sm = aws.client("sagemaker")
    with ext_sagemaker_domains.domains_start("Pending"):
        domain_id = create_domain(aws)["DomainId"]
    assert create_domain(aws, "later")["Status"] == "InService"  # the knob is scoped
    assert sm.describe_domain(DomainId=domain_id)["Status"] == "Pending"
    ext_sagemaker_domains.set_domain_status(domain_id, "InService")
    assert sm.describe_domain(DomainId=domain_id)["Status"] == "InService"


def test_domain_can_go_from_pending_to_failed(aws):
    sm = aws.client("sagemaker")
    ext_sagemaker_domains.DOMAIN_INITIAL_STATUS = "Pending"  # restored by the next reset
    domain_id = create_domain(aws)["DomainId"]
    ext_sagemaker_domains.set_domain_status(domain_id, "Failed", failure_reason="subnet has no free addresses")
    described = sm.describe_domain(DomainId=domain_id)
    assert (described["Status"], described["FailureReason"]) == ("Failed", "subnet has no free addresses")


def test_domain_status_can_change_later_in_the_background(aws):
    sm = aws.client("sagemaker")
    with ext_sagemaker_domains.domains_start("Pending"):
        domain_id = create_domain(aws)["DomainId"]
    assert sm.describe_domain(DomainId=domain_id)["Status"] == "Pending"  # (the first call loads moto's model)
    ext_sagemaker_domains.set_domain_status(domain_id, "InService", after=1.0)
    assert sm.describe_domain(DomainId=domain_id)["Status"] == "Pending"
    eventually(lambda: sm.describe_domain(DomainId=domain_id)["Status"] == "InService",
               "the domain never became InService", timeout=10)


def test_reset_restores_the_initial_domain_status(aws):
    ext_sagemaker_domains.DOMAIN_INITIAL_STATUS = "Pending"
    aws.reset()
    assert create_domain(aws)["Status"] == "InService"


def test_describe_unknown_domain_is_resource_not_found(aws):
    code, _ = error_of(aws.client("sagemaker").describe_domain, DomainId="d-doesnotexist")
    assert code == "ResourceNotFound"


# ------------------------------------------------------------------------------------------------- Lambda


def lambda_function(aws, name, handler, env=None) -> str:
    return make_function(aws, name, handler, Environment={"Variables": env or {}})


NOT_BUILT = "no-such-binary-for-tests"
#: these tests are about the emulator's custom resources, not the product's bounds (resources/bounds.rs)
UNBOUNDED = {"CUSTOM_RESOURCE_BOUNDS": "off"}

needs_execution_role_policies = pytest.mark.skipif(
    not ext_lambda.binary_path("execution-role-policies").exists(),
    reason="target/debug/execution-role-policies is not built (run `cargo build --workspace --bins`)",
)


@needs_execution_role_policies
def test_custom_resource_runs_the_real_binary_through_cargo_lambda(aws):
    iam, cf = aws.client("iam"), aws.client("cloudformation")
    fn = lambda_function(aws, "execution-role-policies", "execution-role-policies", UNBOUNDED)
    launch = launch_role(aws)
    make_role(iam, "Exec", "/service-role/")
    template = {
        "Resources": {"Policies": {"Type": "Custom::ExecutionRolePolicies", "Properties": {
            "ServiceToken": fn,
            "ExecutionRoles": [f"arn:aws:iam::{ACCOUNT}:role/service-role/Exec"],
            "LaunchRoleArn": launch,
            "TemplateBucket": "sagemaker-templates-test",
        }}},
        "Outputs": {"PolicyNames": {"Value": {"Fn::GetAtt": ["Policies", "PolicyNames"]}}},
    }
    stack_id = cf.create_stack(StackName="execution-role-policies", TemplateBody=json.dumps(template))["StackId"]
    stack = wait_stack(cf, stack_id, timeout=600)
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack_events(cf, stack_id)

    names = iam.list_role_policies(RoleName="Exec")["PolicyNames"]
    assert names and sorted(stack["Outputs"][0]["OutputValue"].split(",")) == sorted(names)
    [call] = ext_lambda.wait_for_invocations(1, "execution-role-policies")
    assert call.binary == "execution-role-policies"
    assert call.event["RequestType"] == "Create"
    assert call.event["ResponseURL"].startswith(f"{aws.endpoint}/cloudformation_{aws.region}/cfnresponse")
    resource = cf.describe_stack_resources(StackName=stack_id)["StackResources"][0]
    assert resource["PhysicalResourceId"] != "Policies"  # the function's id, not one moto made up

    cf.delete_stack(StackName=stack_id)
    assert wait_stack(cf, stack_id, timeout=300)["StackStatus"] == "DELETE_COMPLETE"
    assert iam.list_role_policies(RoleName="Exec")["PolicyNames"] == []
    assert ext_cloudformation.contract_violations() == []
    delete = ext_lambda.wait_for_invocations(2, "execution-role-policies")[1].event
    assert (delete["RequestType"], delete["PhysicalResourceId"]) == ("Delete", resource["PhysicalResourceId"])


@needs_execution_role_policies
def test_a_failed_custom_resource_rolls_the_stack_back(aws):
    cf = aws.client("cloudformation")
    fn = lambda_function(aws, "execution-role-policies", "execution-role-policies", UNBOUNDED)
    template = {"Resources": {"Policies": {"Type": "Custom::ExecutionRolePolicies", "Properties": {
        "ServiceToken": fn,
        "ExecutionRoles": [f"arn:aws:iam::{ACCOUNT}:role/NoSuchRole"],
        "LaunchRoleArn": launch_role(aws),
        "TemplateBucket": "sagemaker-templates-test",
    }}}}
    stack_id = cf.create_stack(StackName="failing", TemplateBody=json.dumps(template))["StackId"]
    stack = wait_stack(cf, stack_id, timeout=600)
    assert stack["StackStatus"] == "ROLLBACK_COMPLETE"
    events = cf.describe_stack_events(StackName=stack_id)["StackEvents"]
    [failed] = [e for e in events if e["ResourceStatus"] == "CREATE_FAILED"]
    assert "NoSuchRole" in failed["ResourceStatusReason"]
    # CloudFormation sends Delete for the failed resource, with the id its FAILED answer gave
    create_call, delete_call = ext_lambda.wait_for_invocations(2, "execution-role-policies")
    assert create_call.event["RequestType"] == "Create"
    assert delete_call.event["RequestType"] == "Delete"
    assert delete_call.event["PhysicalResourceId"] == failed["PhysicalResourceId"]


def test_custom_resource_without_a_built_binary_fails_fast_with_the_reason(aws):
    cf = aws.client("cloudformation")
    fn = lambda_function(aws, "unbuilt", NOT_BUILT)
    template = {"Resources": {"Thing": {"Type": "Custom::Thing", "Properties": {
        "ServiceToken": fn, "Count": 3, "Enabled": True, "Nested": {"Ratio": 0.5}, "List": [1, "a"]}}}}
    stack_id = cf.create_stack(StackName="unbuilt", TemplateBody=json.dumps(template))["StackId"]
    stack = wait_stack(cf, stack_id, timeout=30)
    assert stack["StackStatus"] == "ROLLBACK_COMPLETE"
    events = cf.describe_stack_events(StackName=stack_id)["StackEvents"]
    failed = [e for e in events if e["ResourceStatus"] == "CREATE_FAILED"]
    assert failed and "BinaryNotBuilt" in failed[0]["ResourceStatusReason"]
    # CloudFormation hands every property value to the function as a string
    create_call = ext_lambda.invocations("unbuilt")[0]
    assert create_call.event["ResourceProperties"] == {
        "ServiceToken": fn, "Count": "3", "Enabled": "true", "Nested": {"Ratio": "0.5"}, "List": ["1", "a"]}


def test_invocation_type_event_answers_at_once_and_runs_later(aws):
    lambda_function(aws, "async-fn", NOT_BUILT, env={"MODE": "test"})
    resp = aws.client("lambda").invoke(FunctionName="async-fn", InvocationType="Event", Payload=b'{"n": 1}')
    assert resp["StatusCode"] == 202 and resp["Payload"].read() == b""
    [call] = ext_lambda.wait_for_invocations(1, "async-fn")
    assert (call.source, call.event, call.binary) == ("event", {"n": 1}, NOT_BUILT)


def test_synchronous_invocation_returns_what_the_function_returned(aws):
    lambda_function(aws, "sync-fn", NOT_BUILT)
    resp = aws.client("lambda").invoke(FunctionName="sync-fn", Payload=b'{"n": 2}')
    body = json.loads(resp["Payload"].read())
    # the binary is not built, so the runtime's error is what comes back, flagged as a function error
    assert resp["FunctionError"] == "Unhandled"
    assert body["errorType"] == "Runtime.BinaryNotBuilt"
    assert ext_lambda.invocations("sync-fn")[0].event == {"n": 2}


def rule_with_lambda_target(aws, fn_arn, pattern, allow=True, **target):
    events = aws.client("events")
    rule_arn = events.put_rule(Name="to-lambda", EventPattern=json.dumps(pattern))["RuleArn"]
    events.put_targets(Rule="to-lambda", Targets=[{"Id": "fn", "Arn": fn_arn, **target}])
    if allow:
        aws.client("lambda").add_permission(
            FunctionName=fn_arn, StatementId="events", Action="lambda:InvokeFunction",
            Principal="events.amazonaws.com", SourceArn=rule_arn)
    return rule_arn


def test_put_events_delivers_to_a_lambda_target(aws):
    fn = lambda_function(aws, "on-event", NOT_BUILT)
    rule_with_lambda_target(aws, fn, {"source": ["acme.app"]})
    resp = aws.client("events").put_events(Entries=[
        {"Source": "acme.app", "DetailType": "Thing Happened", "Detail": json.dumps({"id": 7})},
        {"Source": "other.app", "DetailType": "Thing Happened", "Detail": "{}"},
    ])
    assert resp["FailedEntryCount"] == 0
    [call] = ext_lambda.wait_for_invocations(1, "on-event")
    event = call.event
    assert call.source == "events-rule"
    assert set(event) == {"version", "id", "detail-type", "source", "account", "time", "region", "resources",
                          "detail"}
    assert (event["source"], event["detail-type"], event["detail"]) == ("acme.app", "Thing Happened", {"id": 7})
    assert (event["account"], event["region"], event["id"]) == (ACCOUNT, aws.region, resp["Entries"][0]["EventId"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", event["time"])
    time.sleep(0.3)
    assert len(ext_lambda.invocations("on-event")) == 1  # the other source did not match


def test_lambda_target_input_options(aws):
    fn = lambda_function(aws, "shaped", NOT_BUILT)
    rule_with_lambda_target(aws, fn, {"source": ["acme.app"]}, InputTransformer={
        "InputPathsMap": {"thing": "$.detail.id"}, "InputTemplate": '{"thing": <thing>, "fixed": "yes"}'})
    aws.client("events").put_events(Entries=[{"Source": "acme.app", "DetailType": "T", "Detail": '{"id": 9}'}])
    assert ext_lambda.wait_for_invocations(1, "shaped")[0].event == {"thing": 9, "fixed": "yes"}

    aws.client("events").put_targets(Rule="to-lambda", Targets=[{"Id": "fn", "Arn": fn, "InputPath": "$.detail"}])
    aws.client("events").put_events(Entries=[{"Source": "acme.app", "DetailType": "T", "Detail": '{"id": 10}'}])
    assert ext_lambda.wait_for_invocations(2, "shaped")[1].event == {"id": 10}


def test_lambda_target_needs_the_functions_permission(aws):
    fn = lambda_function(aws, "locked", NOT_BUILT)
    rule_arn = rule_with_lambda_target(aws, fn, {"source": ["acme.app"]}, allow=False)
    resp = aws.client("events").put_events(Entries=[{"Source": "acme.app", "DetailType": "T", "Detail": "{}"}])
    assert resp["FailedEntryCount"] == 0  # PutEvents accepted it; the delivery is what fails
    time.sleep(0.3)
    assert ext_lambda.invocations("locked") == []
    assert [(d.rule_arn, d.target_arn) for d in ext_events.dropped_deliveries()] == [(rule_arn, fn)]


def test_s3_object_created_reaches_a_lambda_target_through_eventbridge(aws):
    s3 = aws.client("s3")
    s3.create_bucket(Bucket="sagemaker-uploads")
    s3.put_bucket_notification_configuration(
        Bucket="sagemaker-uploads", NotificationConfiguration={"EventBridgeConfiguration": {}})
    fn = lambda_function(aws, "on-upload", NOT_BUILT)
    rule_with_lambda_target(aws, fn, {"source": ["aws.s3"], "detail-type": ["Object Created"],
                                      "detail": {"bucket": {"name": ["sagemaker-uploads"]}}})
    s3.put_object(Bucket="sagemaker-uploads", Key="templates/new.yaml", Body=b"x: 1",
                  Tagging="sagemaker:studio-visibility=true")
    [call] = ext_lambda.wait_for_invocations(1, "on-upload")
    assert call.event["detail-type"] == "Object Created" and call.event["source"] == "aws.s3"
    assert call.event["detail"]["object"]["key"] == "templates/new.yaml"
    assert call.event["account"] == ACCOUNT


def test_put_events_to_a_target_moto_cannot_deliver_to_no_longer_fails(aws):
    events = aws.client("events")
    pipeline = f"arn:aws:codepipeline:{aws.region}:{ACCOUNT}:sagemaker-demo-build"
    rule_arn = events.put_rule(Name="to-pipeline", EventPattern=json.dumps({"source": ["acme.app"]}))["RuleArn"]
    events.put_targets(Rule="to-pipeline", Targets=[
        {"Id": "p", "Arn": pipeline, "RoleArn": f"arn:aws:iam::{ACCOUNT}:role/service-role/Events"}])
    resp = events.put_events(Entries=[{"Source": "acme.app", "DetailType": "T", "Detail": "{}"}])
    assert resp["FailedEntryCount"] == 0
    assert [(d.rule_arn, d.target_arn) for d in ext_events.dropped_deliveries()] == [(rule_arn, pipeline)]


@pytest.fixture
def double(monkeypatch):
    from moto.awslambda.models import LambdaFunction

    d = RecordingFunction()
    monkeypatch.setattr(LambdaFunction, "invoke", lambda self, body, *a, **kw: d.invoke(self, body, *a, **kw))
    return d


def put_response(aws, event: dict, body: dict, content_type: str = "") -> int:
    import urllib.request

    data = json.dumps({"StackId": event["StackId"], "RequestId": event["RequestId"],
                       "LogicalResourceId": event["LogicalResourceId"], **body}).encode()
    req = urllib.request.Request(event["ResponseURL"], data=data, method="PUT",
                                 headers={"Content-Type": content_type})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return resp.status


def test_a_failed_response_rolls_back_and_deletes_what_was_created(aws, double):
    cf = aws.client("cloudformation")
    fn = lambda_function(aws, "handler", NOT_BUILT)
    template = {"Resources": {
        "First": {"Type": "Custom::Thing", "Properties": {"ServiceToken": fn}},
        "Second": {"Type": "Custom::Thing", "Properties": {"ServiceToken": fn}},
    }}
    stack_id = cf.create_stack(StackName="two-things", TemplateBody=json.dumps(template))["StackId"]
    creates = {e["LogicalResourceId"]: e for e in double.wait_for(2)}
    assert set(creates) == {"First", "Second"}
    assert creates["First"]["ResponseURL"].startswith(f"{aws.endpoint}/cloudformation_{aws.region}/cfnresponse?")
    assert cf.describe_stacks(StackName=stack_id)["Stacks"][0]["StackStatus"] == "CREATE_IN_PROGRESS"

    assert put_response(aws, creates["First"], {"Status": "SUCCESS", "PhysicalResourceId": "first-1"}) == 200
    assert put_response(aws, creates["Second"], {"Status": "FAILED", "PhysicalResourceId": "second-1",
                                                 "Reason": "quota exceeded"}) == 200
    deletes = {e["LogicalResourceId"]: e for e in double.wait_for(4)[2:]}
    assert {k: (e["RequestType"], e["PhysicalResourceId"]) for k, e in deletes.items()} == {
        "First": ("Delete", "first-1"), "Second": ("Delete", "second-1")}
    stack = cf.describe_stacks(StackName=stack_id)["Stacks"][0]
    assert stack["StackStatus"] == "ROLLBACK_IN_PROGRESS"  # until the Deletes are answered
    for event in deletes.values():
        put_response(aws, event, {"Status": "SUCCESS", "PhysicalResourceId": event["PhysicalResourceId"]})
    stack = cf.describe_stacks(StackName=stack_id)["Stacks"][0]
    assert stack["StackStatus"] == "ROLLBACK_COMPLETE"
    assert "Second" in stack["StackStatusReason"]
    failed = [e for e in cf.describe_stack_events(StackName=stack_id)["StackEvents"]
              if e["ResourceStatus"] == "CREATE_FAILED"]
    assert [(e["LogicalResourceId"], e["ResourceStatusReason"]) for e in failed] == [("Second", "quota exceeded")]
    assert ext_cloudformation.contract_violations() == []


def test_responses_that_break_the_protocol_are_reported(aws, double):
    cf = aws.client("cloudformation")
    fn = lambda_function(aws, "handler", NOT_BUILT)
    template = {"Resources": {"Thing": {"Type": "Custom::Thing", "Properties": {"ServiceToken": fn}}}}
    cf.create_stack(StackName="sloppy", TemplateBody=json.dumps(template))
    [event] = double.wait_for(1)
    put_response(aws, event, {"Status": "FAILED", "PhysicalResourceId": "x"})  # FAILED without a Reason
    [violation] = ext_cloudformation.contract_violations()
    assert "Reason" in violation and "Thing" in violation


def test_ssm_dynamic_references_are_resolved_at_create_stack(aws, double):
    cf = aws.client("cloudformation")
    fn = lambda_function(aws, "seed", NOT_BUILT)
    aws.client("ssm").put_parameter(Name="/sagemaker-projects/seed-fn", Value=fn, Type="String")
    template = {"Resources": {"Seed": {"Type": "Custom::SeedCode", "Properties": {
        "ServiceToken": "{{resolve:ssm:/sagemaker-projects/seed-fn}}"}}}}
    cf.create_stack(StackName="resolved", TemplateBody=json.dumps(template))
    [event] = double.wait_for(1)
    assert event["ServiceToken"] == fn == event["ResourceProperties"]["ServiceToken"]

    template["Resources"]["Seed"]["Properties"]["ServiceToken"] = "{{resolve:ssm:/sagemaker-projects/missing}}"
    code, message = error_of(cf.create_stack, StackName="unresolved", TemplateBody=json.dumps(template))
    assert code == "ValidationError" and "/sagemaker-projects/missing" in message


SEEDED_TEMPLATE = """\
Parameters:
  SageMakerProjectName: {Type: String}
  SageMakerProjectId: {Type: String}
Resources:
  Seed:
    Type: Custom::SeedCode
    Properties:
      ServiceToken: '{{resolve:ssm:/sagemaker-projects/seed-fn}}'
      Project: !Ref SageMakerProjectName
"""


def test_project_status_follows_its_stack_through_custom_resources(aws, double):
    sm = aws.client("sagemaker")
    fn = lambda_function(aws, "seed", NOT_BUILT)
    aws.client("ssm").put_parameter(Name="/sagemaker-projects/seed-fn", Value=fn, Type="String")
    url = put_template(aws, key="seeded.yaml", body=SEEDED_TEMPLATE)
    create(aws, "seeded", params={}, url=url)
    [event] = double.wait_for(1)
    assert event["ResourceProperties"]["Project"] == "seeded"
    assert sm.describe_project(ProjectName="seeded")["ProjectStatus"] == "CreateInProgress"
    put_response(aws, event, {"Status": "SUCCESS", "PhysicalResourceId": "seed-1"})
    assert sm.describe_project(ProjectName="seeded")["ProjectStatus"] == "CreateCompleted"

    sm.delete_project(ProjectName="seeded")
    [delete] = double.wait_for(2)[1:]
    assert (delete["RequestType"], delete["PhysicalResourceId"]) == ("Delete", "seed-1")
    assert sm.describe_project(ProjectName="seeded")["ProjectStatus"] == "DeleteInProgress"
    assert error_of(create, aws, "seeded", params={}, url=url)[0] == "ResourceInUse"
    put_response(aws, delete, {"Status": "SUCCESS", "PhysicalResourceId": "seed-1"})
    assert sm.describe_project(ProjectName="seeded")["ProjectStatus"] == "DeleteCompleted"


def test_project_fails_when_its_stack_fails(aws, double):
    sm = aws.client("sagemaker")
    fn = lambda_function(aws, "seed", NOT_BUILT)
    aws.client("ssm").put_parameter(Name="/sagemaker-projects/seed-fn", Value=fn, Type="String")
    create(aws, "seeded", params={}, url=put_template(aws, key="seeded.yaml", body=SEEDED_TEMPLATE))
    [event] = double.wait_for(1)
    put_response(aws, event, {"Status": "FAILED", "PhysicalResourceId": "seed-1", "Reason": "no connection"})
    [delete] = double.wait_for(2)[1:]
    put_response(aws, delete, {"Status": "SUCCESS", "PhysicalResourceId": "seed-1"})
    described = sm.describe_project(ProjectName="seeded")
    assert described["ProjectStatus"] == "CreateFailed"
    detail = described["TemplateProviderDetails"][0]["CfnTemplateProviderDetail"]["StackDetail"]
    assert detail["StatusMessage"].startswith("ROLLBACK_COMPLETE") and "Seed" in detail["StatusMessage"]


# ------------------------------------------------------------------------------------------------- installing


def test_an_extension_is_installed_after_those_it_requires():
    assert emu.install_order({"ext_b": (), "ext_a": ("ext_c",), "ext_c": ()}) == ["ext_c", "ext_a", "ext_b"]


def test_extensions_that_require_each_other_or_a_missing_one_are_refused():
    with pytest.raises(RuntimeError, match="require each other"):
        emu.install_order({"ext_a": ("ext_b",), "ext_b": ("ext_a",)})
    with pytest.raises(RuntimeError, match="no harness extension"):
        emu.install_order({"ext_a": ("ext_gone",)})


# ------------------------------------------------------------------------------------------------- strict requests


def refused(call, **kwargs) -> dict:
    with pytest.raises(ClientError) as e:
        call(**kwargs)
    return e.value.response["Error"]


def test_a_json_request_breaking_the_service_model_is_refused_as_sagemaker_refuses_it(aws):
    sm = aws.client("sagemaker")
    arn = sm.create_domain(DomainName="strict", AuthMode="IAM", SubnetIds=["subnet-1"], VpcId="vpc-1",
                           DefaultUserSettings={"ExecutionRole": f"arn:aws:iam::{ACCOUNT}:role/x"})["DomainArn"]
    # a tag value SageMaker refuses: "(" is outside [\p{L}\p{Z}\p{N}_.:/=+\-@]*
    error = refused(sm.add_tags, ResourceArn=arn, Tags=[{"Key": "sagemaker:projectS3TemplatesLocation",
                                                          "Value": "s3://bucket/templates(prod)/"}])
    assert error["Code"] == "ValidationException"
    assert error["Message"].startswith("1 validation error detected: Value 's3://bucket/templates(prod)/' at "
                                       "'tags.1.member.value' failed to satisfy constraint: Member must satisfy "
                                       "regular expression pattern"), error
    # and one over 256 characters, with a description holding a newline in the same breath: both reported
    error = refused(sm.add_tags, ResourceArn=arn, Tags=[{"Key": "k", "Value": "v" * 257}])
    assert "Member must have length less than or equal to 256" in error["Message"], error
    assert "sagemaker:projectS3TemplatesLocation" not in {t["Key"] for t in sm.list_tags(ResourceArn=arn)["Tags"]}


def test_a_query_request_breaking_the_service_model_is_refused_as_iam_refuses_it(aws):
    error = refused(aws.client("iam").create_role, RoleName="r" * 65, AssumeRolePolicyDocument=LAUNCH_ROLE_TRUST)
    assert (error["Code"], error["Message"]) == ("ValidationError", (
        f"1 validation error detected: Value '{'r' * 65}' at 'roleName' failed to satisfy constraint: Member must "
        "have length less than or equal to 64"))


def test_s3_refuses_what_its_documented_limits_refuse(aws):
    s3 = aws.client("s3")
    s3.create_bucket(Bucket="strict-limits")
    assert refused(s3.put_object, Bucket="strict-limits", Key="k" * 1025, Body=b"x")["Code"] == "KeyTooLongError"
    assert refused(s3.put_object, Bucket="strict-limits", Key="t.yaml", Body=b"x",
                   Tagging="reason=bad(chars)")["Code"] == "InvalidTag"
    assert s3.list_objects_v2(Bucket="strict-limits")["KeyCount"] == 0
