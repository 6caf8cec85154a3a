"""Enterprise guardrails (issue 18, item 3), deployed with every option ON into the emulator: iam/roles.yaml and
infra/bootstrap.yaml with a permissions boundary, a role path, subnets and security groups, a customer KMS key on
the template bucket and a cost tag. Each promise is read back from the created resources, not from the template.
With every option OFF the stacks are today's (tests/test_bootstrap_stack.py,
`test_with_every_guardrail_off_nothing_of_them_is_set`).

Also the publisher under SSE-KMS (item 4): the emulator gives SSE-KMS objects an ETag that is not their MD5
(harness/ext_s3.py), as S3 does, and a second publish must write nothing.

What the emulator does not do: enforce IAM (the boundary, the KMS statements and the key policy are checked as
written, not as evaluated), run the functions inside the VPC (the configuration is checked), or encrypt bytes.
"""
from __future__ import annotations

import hashlib
import json
from types import SimpleNamespace
from urllib.parse import unquote

import pytest

from harness import cfn_yaml, stack
from harness.fixtures import make_role

ROLE_PATH = "/platform/ml/"
TAG = ("CostCenter", "ml-42")
PREFIX = "templates/"
FUNCTION_ROLE_PATH = f"{ROLE_PATH}sagemaker-projects-bootstrap/"
BOUNDARY_DOC = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": ["s3:*", "sagemaker:*", "iam:*", "sqs:*", "logs:*", "kms:*", "ec2:*",
                                   "cloudformation:*", "codebuild:*", "codepipeline:*", "events:*", "lambda:*",
                                   "ecr:*", "ssm:*", "codeconnections:*", "codestar-connections:*"],
     "Resource": "*"}]})


@pytest.fixture(scope="module")
def on(emulator):
    emulator.reset()
    iam, ec2, kms = emulator.client("iam"), emulator.client("ec2"), emulator.client("kms")
    boundary = iam.create_policy(PolicyName="Boundary", Path="/platform/", PolicyDocument=BOUNDARY_DOC)["Policy"]["Arn"]
    key = kms.create_key(Description="template bucket")["KeyMetadata"]["Arn"]
    vpc = ec2.create_vpc(CidrBlock="10.8.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.8.{i}.0/24")["Subnet"]["SubnetId"] for i in (1, 2)]
    group = ec2.create_security_group(GroupName="functions", Description="HTTPS out", VpcId=vpc)["GroupId"]
    listed = make_role(iam, "AmazonSageMaker-ExecutionRole-kms", "/service-role/")
    tag = {"ResourceTagKey": TAG[0], "ResourceTagValue": TAG[1]}
    artifacts = stack.upload_artifacts(emulator)
    # the roles stack takes the boundary as an ARN, the bootstrap stack as a policy name (as a StackSet gives it)
    iam_outputs = stack.deploy_iam_roles(emulator, parameters={
        "PermissionsBoundaryArn": boundary, "RolePath": ROLE_PATH, **tag})
    parameters = {
        **artifacts, "PermissionsBoundaryArn": "platform/Boundary", "RolePath": ROLE_PATH, "SubnetIds": subnets,
        "SecurityGroupIds": [group], "TemplateBucketKmsKeyArn": key, "ExistingExecutionRoles": [listed], **tag}
    outputs = stack.deploy_bootstrap(emulator, parameters=parameters)
    return SimpleNamespace(
        aws=emulator, iam=iam, s3=emulator.client("s3"), lam=emulator.client("lambda"), boundary=boundary,
        key=key, subnets=subnets, group=group, listed=listed.rsplit("/", 1)[1], outputs=outputs,
        iam_outputs=iam_outputs, iam_resources=stack.stack_resources(emulator, stack.IAM_STACK),
        resources=stack.stack_resources(emulator), parameters=parameters,
        template=cfn_yaml.load(stack.BOOTSTRAP_TEMPLATE.read_text()),
        iam_template=cfn_yaml.load(stack.IAM_TEMPLATE.read_text()))


def of_type(template: dict, resources: dict[str, str], rtype: str) -> dict[str, str]:
    """logical id → physical id of the created resources of one type."""
    return {n: resources[n] for n, r in template["Resources"].items() if r["Type"] == rtype and n in resources}


def document(doc) -> dict:
    """A policy document as IAM returns it (URL-encoded JSON, or already parsed by botocore)."""
    return json.loads(unquote(doc)) if isinstance(doc, str) else doc


def inline_policies(iam, role: str) -> dict[str, dict]:
    return {n: document(iam.get_role_policy(RoleName=role, PolicyName=n)["PolicyDocument"])
            for n in iam.list_role_policies(RoleName=role)["PolicyNames"]}


def test_every_role_of_both_stacks_carries_the_boundary_and_follows_the_role_path(on):
    roles = {**of_type(on.iam_template, on.iam_resources, "AWS::IAM::Role"),
             **of_type(on.template, on.resources, "AWS::IAM::Role")}
    assert len(roles) == 8 + 5
    for logical, name in roles.items():
        role = on.iam.get_role(RoleName=name)["Role"]
        assert role.get("PermissionsBoundary", {}).get("PermissionsBoundaryArn") == on.boundary, logical
        expected = ("/service-role/" if logical not in on.template["Resources"] and logical != "LaunchRole"
                    else ROLE_PATH if logical == "LaunchRole" else FUNCTION_ROLE_PATH)
        assert role["Path"] == expected, logical


def test_every_arn_of_the_launch_role_follows_the_path(on):
    launch = f"arn:aws:iam::{on.aws.account_id}:role{ROLE_PATH}AmazonSageMakerProjectsLaunchRole"
    assert on.iam_outputs["LaunchRoleArn"] == launch
    assert on.outputs["LaunchRoleArn"] == launch
    onboarder = on.lam.get_function_configuration(FunctionName=on.resources["DomainOnboarderFunction"])
    assert onboarder["Environment"]["Variables"]["LAUNCH_ROLE_ARN"] == launch
    # the execution role written by the function may pass exactly that role
    docs = inline_policies(on.iam, on.listed)
    passes = [d for n, d in docs.items() if n.startswith("SageMakerProjects-PassLaunchRole-")]
    assert passes and passes[0]["Statement"][0]["Resource"] == launch
    # and the functions' own roles, under the path, are out of their reach (the Deny follows the path too)
    grants = on.resources["ExecutionRoleGrantsPolicy"]
    version = on.iam.get_policy(PolicyArn=grants)["Policy"]["DefaultVersionId"]
    doc = document(on.iam.get_policy_version(PolicyArn=grants, VersionId=version)["PolicyVersion"]["Document"])
    deny = next(s for s in doc["Statement"] if s["Effect"] == "Deny")
    assert set(deny["Resource"]) >= {launch, f"arn:aws:iam::{on.aws.account_id}:role{FUNCTION_ROLE_PATH}*"}
    for logical in of_type(on.template, on.resources, "AWS::Lambda::Function"):
        role = on.lam.get_function_configuration(FunctionName=on.resources[logical])["Role"]
        assert f":role{FUNCTION_ROLE_PATH}" in role, logical


def test_every_function_runs_in_the_given_subnets_with_the_vpc_rights(on):
    functions = of_type(on.template, on.resources, "AWS::Lambda::Function")
    assert len(functions) == 5
    for logical, name in functions.items():
        vpc = on.lam.get_function_configuration(FunctionName=name).get("VpcConfig") or {}
        assert sorted(vpc.get("SubnetIds", [])) == sorted(on.subnets), logical
        assert vpc.get("SecurityGroupIds") == [on.group], logical
    vpc_policy = on.resources["FunctionVpcAccessPolicy"]
    for logical, name in of_type(on.template, on.resources, "AWS::IAM::Role").items():
        attached = {p["PolicyArn"] for p in on.iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]}
        assert vpc_policy in attached, logical


def test_the_template_bucket_is_sse_kms_with_the_key_and_the_readers_may_decrypt_with_it(on):
    rule = on.s3.get_bucket_encryption(Bucket=on.outputs["TemplateBucket"])[
        "ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": on.key}
    assert rule.get("BucketKeyEnabled") is True
    head = on.s3.head_object(Bucket=on.outputs["TemplateBucket"], Key=f"{PREFIX}deploy-codepipeline.yaml")
    assert head["ServerSideEncryption"] == "aws:kms"
    # each function role that touches the objects has exactly its KMS right, on this key, through S3 only
    wanted = {"TemplatePublisherRole": "kms:GenerateDataKey", "TemplateTaggerRole": "kms:Decrypt",
              "DomainOnboarderRole": "kms:Decrypt"}
    for logical, name in of_type(on.template, on.resources, "AWS::IAM::Role").items():
        statements = [s for d in inline_policies(on.iam, name).values() for s in d["Statement"]
                      if any(str(a).startswith("kms:") for a in (s["Action"] if isinstance(s["Action"], list)
                                                                  else [s["Action"]]))]
        if logical not in wanted:
            assert not statements, logical
            continue
        assert [s["Action"] for s in statements] == [[wanted[logical]]], logical
        assert statements[0]["Resource"] == on.key
        assert statements[0]["Condition"]["StringEquals"]["kms:ViaService"] == f"s3.{on.aws.region}.amazonaws.com"
    # the execution role gets the fourth policy: decrypt through S3 with this key
    key_docs = [d for n, d in inline_policies(on.iam, on.listed).items() if n.startswith("SageMakerProjects-TemplateKey-")]
    assert key_docs and key_docs[0]["Statement"][0]["Resource"] == on.key


def test_under_sse_kms_etags_are_not_the_md5_and_a_second_publish_writes_nothing(on):
    bucket = on.outputs["TemplateBucket"]
    keys = [o for o in on.s3.list_objects_v2(Bucket=bucket, Prefix=PREFIX)["Contents"]]
    assert len(keys) == 5
    for o in keys:
        body = on.s3.get_object(Bucket=bucket, Key=o["Key"])["Body"].read()
        assert o["ETag"] != f'"{hashlib.md5(body).hexdigest()}"', "the emulator shows SSE-KMS ETags as S3 does"
        head = on.s3.head_object(Bucket=bucket, Key=o["Key"], ChecksumMode="ENABLED")
        assert head.get("ChecksumSHA256"), "written with an S3 SHA-256 checksum"
    before = {v["Key"]: v["VersionId"] for v in on.s3.list_object_versions(Bucket=bucket, Prefix=PREFIX)["Versions"]}
    # a new digest makes CloudFormation send the publisher an Update: same content, so nothing is written
    status = stack.update_stack(on.aws, stack.BOOTSTRAP_STACK, stack.BOOTSTRAP_TEMPLATE,
                                {**on.parameters, "TemplateSetDigest": "republish-1"})
    assert status == "UPDATE_COMPLETE"
    after = {v["Key"]: v["VersionId"] for v in on.s3.list_object_versions(Bucket=bucket, Prefix=PREFIX)["Versions"]}
    assert after == before, "no new object version: the publisher recognised every template by S3's SHA-256"


def tags_of(aws, rtype: str, physical: str) -> dict[str, str]:
    """The tags the created resource carries, read from its own service."""
    if rtype == "AWS::IAM::Role":
        return {t["Key"]: t["Value"] for t in aws.client("iam").list_role_tags(RoleName=physical)["Tags"]}
    if rtype == "AWS::Lambda::Function":
        lam = aws.client("lambda")
        return lam.list_tags(Resource=lam.get_function(FunctionName=physical)["Configuration"]["FunctionArn"])["Tags"]
    if rtype == "AWS::SQS::Queue":
        return aws.client("sqs").list_queue_tags(QueueUrl=physical).get("Tags", {})
    if rtype == "AWS::S3::Bucket":
        return {t["Key"]: t["Value"] for t in aws.client("s3").get_bucket_tagging(Bucket=physical)["TagSet"]}
    if rtype == "AWS::Logs::LogGroup":
        return aws.client("logs").list_tags_log_group(logGroupName=physical)["tags"]
    if rtype == "AWS::Events::Rule":
        events = aws.client("events")
        arn = events.describe_rule(Name=physical)["Arn"]
        return {t["Key"]: t["Value"] for t in events.list_tags_for_resource(ResourceARN=arn)["Tags"]}
    if rtype == "AWS::Lambda::EventSourceMapping":
        lam = aws.client("lambda")
        arn = lam.get_event_source_mapping(UUID=physical).get("EventSourceMappingArn")
        return lam.list_tags(Resource=arn)["Tags"] if arn else {}
    raise AssertionError(f"no tag reader for {rtype}")


def test_every_taggable_resource_of_both_stacks_carries_the_cost_tag(on):
    checked = []
    for template, resources in ((on.template, on.resources), (on.iam_template, on.iam_resources)):
        for logical, r in template["Resources"].items():
            if "Tags" not in r.get("Properties", {}) or logical not in resources:
                continue
            tags = tags_of(on.aws, r["Type"], resources[logical])
            assert tags.get(TAG[0]) == TAG[1], f"{logical} ({r['Type']}): {tags}"
            checked.append(logical)
    # every resource type of the stacks that takes a Tags list declares it (the rest: README, "Tags")
    assert len(checked) >= 8 + 5 * 3 + 3 + 3 + 1
