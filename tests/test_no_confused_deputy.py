"""No confused deputy: whoever can reach a function gains nothing the stack did not grant (README "Security model").

AWS's managed policy AmazonSageMakerFullAccess, which most SageMaker users carry, allows `lambda:InvokeFunction` on
every `*sagemaker*` function and object writes on every `*sagemaker*` bucket. So every request below is one such a
user could send; each is refused before anything is written.

1. Forged custom-resource requests, sent straight to the real binaries with the bounds the bootstrap stack gives
   them (resources/bounds.rs): another stack, launch role, bucket, KMS key, a role the stack does not list, the
   launch role itself and an administrator's role as "execution roles", a seed request from a stack that is no
   project's. Each answers FAILED naming the field, and IAM, S3, SageMaker and CodeBuild are left as they were.
2. The policies, evaluated offline (harness/iam_policy.py) as AWS evaluates them: a FullAccess principal may not
   change a template (the template bucket's policy), the launch role may invoke the seed-code function and no
   other function, and what the product puts on an execution role passes the launch role and no other role.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from harness import ext_iam
from harness import iam_policy as iam
from harness.emulator import ACCOUNT_ID, REGION
from harness.ext_sagemaker import parse_template
from harness.fixtures import BOUNDS_ON, LAUNCH_ROLE_ARN, LAUNCH_ROLE_TRUST, cr_event, make_role
from test_iam_stack import Resolver

ROOT = Path(__file__).resolve().parents[1]
STACK = f"arn:aws:cloudformation:{REGION}:{ACCOUNT_ID}:stack/sagemaker-projects-bootstrap/6f1c2a3b"
FORGED_STACK = f"arn:aws:cloudformation:{REGION}:{ACCOUNT_ID}:stack/my-own-stack/0a0b0c0d"
BUCKET = f"sagemaker-projects-templates-{ACCOUNT_ID}-{REGION}"
PREFIX = "templates/"
KEY = f"arn:aws:kms:{REGION}:{ACCOUNT_ID}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
TEAM_ROLE = f"arn:aws:iam::{ACCOUNT_ID}:role/service-role/TeamExecutionRole"
LAUNCH_TAG = "sagemaker-projects-launch-access"

#: the environment infra/bootstrap.yaml gives each function (its bounds), the harness's "off" switch overridden
ROLE_POLICIES_ENV = {**BOUNDS_ON, "STACK_ID": STACK, "LAUNCH_ROLE_ARN": LAUNCH_ROLE_ARN, "TEMPLATE_BUCKET": BUCKET,
                     "TEMPLATE_KMS_KEY_ARN": "", "EXECUTION_ROLES": f"{TEAM_ROLE},AdminRole,{LAUNCH_ROLE_ARN}",
                    "PROJECT_ISOLATION": "Account"}
PUBLISHER_ENV = {**BOUNDS_ON, "STACK_ID": STACK, "TEMPLATE_BUCKET": BUCKET}
ONBOARDER_ENV = {**BOUNDS_ON, "STACK_ID": STACK, "LAUNCH_ROLE_ARN": LAUNCH_ROLE_ARN, "TEMPLATE_BUCKET": BUCKET,
                 "TEMPLATE_PREFIX": PREFIX, "TEMPLATE_KMS_KEY_ARN": "", "DEFAULT_TEMPLATE": "",
                 "POLICY_OWNER": "deputy-test"}
SEEDCODE_ENV = {**BOUNDS_ON, "STACK_ID": STACK}


# ------------------------------------------------------------------------------------------------------------------
# 1. forged requests to the real binaries
# ------------------------------------------------------------------------------------------------------------------
def ours(client, role: str) -> list[str]:
    return [n for n in client.list_role_policies(RoleName=role)["PolicyNames"] if n.startswith("SageMakerProjects-")]


def untouched(client, *roles: str) -> None:
    for role in roles:
        assert ours(client, role) == [], f"{role} got policies"
        assert LAUNCH_TAG not in {t["Key"] for t in client.list_role_tags(RoleName=role)["Tags"]}, f"{role} tagged"


@pytest.fixture
def roles(aws):
    """The listed execution role, the caller's own role, an administrator's role (listed too: only its policy keeps it
    out of reach), a deployment role that trusts CloudFormation, and the launch role."""
    client = aws.client("iam")
    make_role(client, "TeamExecutionRole", "/service-role/")
    make_role(client, "CallerRole")
    make_role(client, "AdminRole")
    client.attach_role_policy(RoleName="AdminRole",
                              PolicyArn=ext_iam.load_aws_managed_policy(ACCOUNT_ID, "AdministratorAccess"))
    deploy_admin = make_role(client, "DeployAdmin", trust=LAUNCH_ROLE_TRUST)
    make_role(client, "AmazonSageMakerProjectsLaunchRole", trust=LAUNCH_ROLE_TRUST)
    return client, deploy_admin


def role_policies_event(stack=STACK, **overrides):
    props = {"ExecutionRoles": [TEAM_ROLE], "LaunchRoleArn": LAUNCH_ROLE_ARN, "TemplateBucket": BUCKET,
             "TemplatePrefix": PREFIX, "TemplateBucketKmsKeyArn": "", **overrides}
    return cr_event("Custom::ExecutionRolePolicies", props, stack=stack, logical="ExecutionRolePolicies")


def test_the_stacks_own_request_is_served(answer, roles):
    client, _ = roles
    r = answer("execution-role-policies", role_policies_event(), extra_env=ROLE_POLICIES_ENV)
    assert r["Status"] == "SUCCESS", r
    assert len(ours(client, "TeamExecutionRole")) == 3


FORGED_ROLE_REQUESTS = {
    "another launch role": ({"LaunchRoleArn": f"arn:aws:iam::{ACCOUNT_ID}:role/DeployAdmin"},
                            "LaunchRoleArn: \"arn:aws:iam::123456789012:role/DeployAdmin\" is not this stack's launch role"),
    "another bucket": ({"TemplateBucket": "my-own-templates"}, "TemplateBucket: \"my-own-templates\" is not this stack's"),
    "another KMS key": ({"TemplateBucketKmsKeyArn": KEY}, "TemplateBucketKmsKeyArn:"),
    "a role the stack does not list": ({"ExecutionRoles": [TEAM_ROLE, "CallerRole"]},
                                       "ExecutionRoles: \"CallerRole\" is not this stack's ExistingExecutionRoles"),
    "an administrator's role": ({"ExecutionRoles": ["AdminRole"]},
                                "role AdminRole is out of this product's reach (an administrator policy is attached"),
    "the launch role as an execution role": ({"ExecutionRoles": [LAUNCH_ROLE_ARN]},
                                             "role AmazonSageMakerProjectsLaunchRole is out of this product's reach"),
}


def test_a_request_for_account_wide_stack_rights_from_an_isolated_stack_is_refused(answer, roles):
    client, _ = roles
    env = {**ROLE_POLICIES_ENV, "PROJECT_ISOLATION": "Domain"}
    r = answer("execution-role-policies", role_policies_event(ProjectIsolation="Account"), extra_env=env)
    assert r["Status"] == "FAILED" and "ProjectIsolation: \"Account\" is not this stack's project isolation" in r["Reason"], r
    untouched(client, "TeamExecutionRole")
    # the stack's own request: the listed role may create project stacks from the templates, change none
    r = answer("execution-role-policies", role_policies_event(ProjectIsolation="Domain"), extra_env=env)
    assert r["Status"] == "SUCCESS", r
    stacks = client.get_role_policy(RoleName="TeamExecutionRole",
                                    PolicyName=next(n for n in ours(client, "TeamExecutionRole")
                                                    if "ProjectStacks" in n))["PolicyDocument"]
    own = f"arn:aws:cloudformation:{REGION}:{ACCOUNT_ID}:stack/SP-p-1/1"
    url = f"https://{BUCKET}.s3.{REGION}.amazonaws.com/{PREFIX}deploy-codepipeline.yaml"
    assert iam.allows(stacks["Statement"], "cloudformation:CreateStack", own, {"cloudformation:TemplateUrl": url})
    for action in ("cloudformation:UpdateStack", "cloudformation:DeleteStack"):
        assert not iam.allows(stacks["Statement"], action, own, {"cloudformation:TemplateUrl": url}), action


@pytest.mark.parametrize("case", FORGED_ROLE_REQUESTS)
def test_a_forged_execution_role_request_is_refused_and_writes_nothing(answer, roles, case):
    client, _ = roles
    overrides, reason = FORGED_ROLE_REQUESTS[case]
    r = answer("execution-role-policies", role_policies_event(**overrides), extra_env=ROLE_POLICIES_ENV)
    assert r["Status"] == "FAILED" and reason in r["Reason"], r
    untouched(client, "TeamExecutionRole", "CallerRole", "AdminRole", "DeployAdmin", "AmazonSageMakerProjectsLaunchRole")


def test_requests_naming_another_stack_change_nothing_the_stack_granted(answer, roles):
    """Create and Update from another stack are refused; a Delete from it (whose id the runtime does not recognise
    as its own, or whose stack is not this one) leaves the stack's grants in place."""
    client, _ = roles
    created = answer("execution-role-policies", role_policies_event(), extra_env=ROLE_POLICIES_ENV)
    assert created["Status"] == "SUCCESS", created
    granted = ours(client, "TeamExecutionRole")
    r = answer("execution-role-policies", role_policies_event(stack=FORGED_STACK, ExecutionRoles=["CallerRole"]),
               extra_env=ROLE_POLICIES_ENV)
    assert r["Status"] == "FAILED" and "is not the stack that deployed this function" in r["Reason"], r
    for verb in ("Update", "Delete"):
        ev = role_policies_event(stack=FORGED_STACK, ExecutionRoles=["CallerRole"])
        ev.update(RequestType=verb, PhysicalResourceId=created["PhysicalResourceId"],
                  OldResourceProperties=role_policies_event()["ResourceProperties"])
        r = answer("execution-role-policies", ev, extra_env=ROLE_POLICIES_ENV)
        assert r["Status"] in ("FAILED", "SUCCESS"), r
        assert ours(client, "TeamExecutionRole") == granted, verb
        untouched(client, "CallerRole")


def test_a_function_without_its_bounds_refuses_everything(answer, roles):
    client, _ = roles
    r = answer("execution-role-policies", role_policies_event(), extra_env=BOUNDS_ON)
    assert r["Status"] == "FAILED", r
    assert "has no STACK_ID in its environment" in r["Reason"], r
    untouched(client, "TeamExecutionRole")


def test_the_publisher_writes_only_into_its_stacks_bucket(answer, aws):
    s3 = aws.client("s3")
    for b in (BUCKET, "my-own-templates"):
        s3.create_bucket(Bucket=b)
    for stack, bucket, reason in [(STACK, "my-own-templates", "Bucket: \"my-own-templates\" is not this stack's"),
                                  (FORGED_STACK, BUCKET, "is not the stack that deployed this function")]:
        r = answer("template-publisher", cr_event("Custom::ProjectTemplates", {"Bucket": bucket, "Prefix": PREFIX},
                                                  stack=stack, logical="ProjectTemplates"), extra_env=PUBLISHER_ENV)
        assert r["Status"] == "FAILED" and reason in r["Reason"], r
    for b in (BUCKET, "my-own-templates"):
        assert s3.list_objects_v2(Bucket=b)["KeyCount"] == 0, b
    ok = answer("template-publisher", cr_event("Custom::ProjectTemplates", {"Bucket": BUCKET, "Prefix": PREFIX},
                                               stack=STACK, logical="ProjectTemplates"), extra_env=PUBLISHER_ENV)
    assert ok["Status"] == "SUCCESS" and ok["Data"]["Written"] == "5", ok


def test_the_install_sweep_points_domains_only_at_its_stacks_templates(answer, aws, roles):
    client, _ = roles
    sm = aws.client("sagemaker")
    domain = sm.create_domain(DomainName="deputy", AuthMode="IAM", DefaultUserSettings={"ExecutionRole": TEAM_ROLE},
                              SubnetIds=["subnet-1"], VpcId="vpc-1")["DomainArn"]

    def sweep(**props):
        return answer("domain-onboarder", cr_event("Custom::ReconcileDomains", {"Trigger": "1", **props},
                                                   stack=STACK, logical="ReconcileDomains"), extra_env=ONBOARDER_ENV)

    def location_tag():
        tags = {t["Key"]: t["Value"] for t in sm.list_tags(ResourceArn=domain).get("Tags", [])}
        return tags.get("sagemaker:projectS3TemplatesLocation")

    for props, reason in [
        ({"TemplatesLocation": "s3://my-own-templates/"}, "TemplatesLocation: \"my-own-templates\" is not this stack's"),
        ({"TemplatesLocation": f"s3://{BUCKET}/{PREFIX}", "LaunchRoleArn": f"arn:aws:iam::{ACCOUNT_ID}:role/DeployAdmin"},
         "LaunchRoleArn:"),
        ({"TemplatesLocation": f"s3://{BUCKET}/{PREFIX}", "DefaultTemplate": "deploy-codepipeline"}, "DefaultTemplate:"),
    ]:
        r = sweep(**props)
        assert r["Status"] == "FAILED" and reason in r["Reason"], r
        assert location_tag() is None
        untouched(client, "TeamExecutionRole")
    # the stack's own request, with a prefix of its own: acted on as sent
    r = sweep(TemplatesLocation=f"s3://{BUCKET}/moved/", LaunchRoleArn=LAUNCH_ROLE_ARN)
    assert r["Status"] == "SUCCESS", r
    assert location_tag() == f"s3://{BUCKET}/moved/"


def test_a_seed_request_from_a_stack_that_is_no_project_starts_no_build(answer, aws):
    cb = aws.client("codebuild")
    props = {"BuildProject": "sagemaker-demo-p-abcdefghijkl-git-seedcodecheckin",
             "SeedCodeBucket": f"sagemaker-servicecatalog-seedcode-{REGION}",
             "SeedCodeKey": "toolchain/model-building-workflow-v1.0.zip",
             "ConnectionArn": f"arn:aws:codeconnections:{REGION}:{ACCOUNT_ID}:connection/0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0",
             "RepositoryFullName": "attacker/repo", "Branch": "main"}
    for stack in (FORGED_STACK, f"arn:aws:cloudformation:eu-west-1:{ACCOUNT_ID}:stack/SP-x-p-1/1",
                  f"arn:aws:cloudformation:{REGION}:999999999999:stack/SP-x-p-1/1"):
        r = answer("seedcode-checkin", cr_event("Custom::SeedCode", props, stack=stack, logical="SeedCode"),
                   extra_env=SEEDCODE_ENV)
        assert r["Status"] == "FAILED" and "is not a stack named SP-*" in r["Reason"], r
    assert cb.list_builds()["ids"] == []


# ------------------------------------------------------------------------------------------------------------------
# 2. the policies, evaluated offline
# ------------------------------------------------------------------------------------------------------------------
def managed_policy(name: str) -> list[dict]:
    from moto.iam.aws_managed_policies import aws_managed_policies_data

    return iam.as_list(json.loads(aws_managed_policies_data)[name]["Document"]["Statement"])


FULL_ACCESS = managed_policy("AmazonSageMakerFullAccess")


NAME_PROPERTY = {"AWS::Lambda::Function": "FunctionName", "AWS::SQS::Queue": "QueueName", "AWS::SNS::Topic": "TopicName",
                 "AWS::Events::Rule": "Name", "AWS::S3::Bucket": "BucketName"}
#: what a SageMaker managed policy could do to a product resource named in its reach
REACH = {"AWS::Lambda::Function": ["lambda:InvokeFunction", "lambda:UpdateFunctionCode", "lambda:AddPermission"],
         "AWS::SQS::Queue": ["sqs:SendMessage"], "AWS::SNS::Topic": ["sns:Publish", "sns:Subscribe"],
         "AWS::Events::Rule": ["events:PutTargets", "events:PutRule", "events:DeleteRule"],
         "AWS::S3::Bucket": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]}


def sagemaker_managed_policies_by_name() -> list[dict]:
    """Every Allow of every AWS managed policy named for SageMaker, on its resource patterns that name SageMaker
    (`function:*sagemaker*`, `arn:aws:sqs:*:*:*SageMaker*`…): what a resource's name alone puts in reach. (A grant
    on every resource of a type, `function:*`, reaches everything whatever its name.)"""
    from moto.iam.aws_managed_policies import aws_managed_policies_data

    out = []
    for name, p in json.loads(aws_managed_policies_data).items():
        if re.search("sagemaker", name, re.I):
            for s in iam.as_list(p["Document"]["Statement"]):
                named = [r for r in iam.as_list(s.get("Resource", [])) if re.search("sagemaker", r, re.I)]
                if s.get("Effect") == "Allow" and named:
                    out.append({**s, "Resource": named, "Condition": {}})  # whatever the condition
    return out


class BootstrapResolver(Resolver):
    """infra/bootstrap.yaml's resources as CloudFormation names them for a stack called sagemaker-projects-bootstrap
    (generated names end in a random suffix, here X)."""

    def ref(self, name: str):
        if name == "AWS::NoValue":
            return None
        parameter = self.t["Parameters"].get(name)
        if parameter and parameter["Type"] == "CommaDelimitedList":
            return str(self.params[name]).split(",")
        res = self.t["Resources"].get(name)
        if res and res["Type"] == "AWS::S3::Bucket":
            return self.resolve(res["Properties"]["BucketName"])
        if res and res["Type"] == "AWS::Lambda::Function":
            return self.name_of(name)
        return super().ref(name)

    def name_of(self, logical: str) -> str:
        """The resource's name: its name property, else what CloudFormation generates from the stack's name."""
        res = self.t["Resources"][logical]
        name = self.resolve(res["Properties"].get(NAME_PROPERTY[res["Type"]]))
        generated = f"{self.pseudo['AWS::StackName']}-{logical}-X"
        return name or (generated.lower() if res["Type"] == "AWS::S3::Bucket" else generated)

    def arn_of(self, logical: str) -> str:
        res, name = self.t["Resources"][logical], self.name_of(logical)
        region, account = self.pseudo["AWS::Region"], self.pseudo["AWS::AccountId"]
        return {"AWS::Lambda::Function": f"arn:aws:lambda:{region}:{account}:function:{name}",
                "AWS::SQS::Queue": f"arn:aws:sqs:{region}:{account}:{name}",
                "AWS::SNS::Topic": f"arn:aws:sns:{region}:{account}:{name}",
                "AWS::Events::Rule": f"arn:aws:events:{region}:{account}:rule/{name}",
                "AWS::S3::Bucket": f"arn:aws:s3:::{name}/AWSLogs/x"}[res["Type"]]

    def getatt(self, name: str, attr: str):
        res = self.t["Resources"][name]
        account, partition = self.pseudo["AWS::AccountId"], self.pseudo["AWS::Partition"]
        if res["Type"] == "AWS::S3::Bucket" and attr == "Arn":
            return f"arn:{partition}:s3:::{self.name_of(name) if 'BucketName' not in res['Properties'] else self.ref(name)}"
        if res["Type"] == "AWS::IAM::Role" and attr == "Arn":
            path = self.resolve(res["Properties"].get("Path", "/"))
            return f"arn:{partition}:iam::{account}:role{path}{self.pseudo['AWS::StackName']}-{name}-X"
        if res["Type"] == "AWS::Lambda::Function" and attr == "Arn":
            return f"arn:{partition}:lambda:{self.pseudo['AWS::Region']}:{account}:function:{self.ref(name)}"
        return super().getatt(name, attr)

    def resolve(self, node):
        if isinstance(node, dict) and len(node) == 1:
            (key, value), = node.items()
            if key == "Fn::Join":
                return value[0].join(str(v) for v in self.resolve(value[1]))
            if key == "Fn::Split":
                return self.resolve(value[1]).split(value[0])
            if key == "Fn::Select":
                return self.resolve(value[1])[int(value[0])]
        return super().resolve(node)


def bootstrap(**parameters) -> BootstrapResolver:
    t = parse_template((ROOT / "infra" / "bootstrap.yaml").read_text())
    r = BootstrapResolver(t, "aws", ACCOUNT_ID, REGION, parameters)
    r.pseudo["AWS::StackName"] = "sagemaker-projects-bootstrap"
    return r


def bucket_policy(r: BootstrapResolver) -> list[dict]:
    return iam.as_list(r.resolve(r.t["Resources"]["TemplateBucketPolicy"]["Properties"]["PolicyDocument"])["Statement"])


WRITES = ["s3:PutObject", "s3:DeleteObject", "s3:DeleteObjectVersion", "s3:PutObjectTagging", "s3:PutObjectAcl"]


def may(principal_arn: str, identity: list[dict], resource_policy: list[dict], action: str, resource: str) -> bool:
    """Same-account access: the identity's and the bucket's statements together, any Deny winning."""
    return iam.allows(identity + resource_policy, action, resource,
                      {"aws:PrincipalArn": principal_arn, "aws:SecureTransport": "true"})


def test_a_sagemaker_user_may_not_change_a_template():
    r = bootstrap()
    obj = f"arn:aws:s3:::{BUCKET}/{PREFIX}deploy-codepipeline.yaml"
    user = f"arn:aws:iam::{ACCOUNT_ID}:role/service-role/AmazonSageMaker-ExecutionRole-1"
    for action in WRITES[:2]:
        assert iam.allows(FULL_ACCESS, action, obj), f"FullAccess alone allows {action} on *sagemaker* buckets"
    for action in WRITES:
        assert not may(user, FULL_ACCESS, bucket_policy(r), action, obj), action
    # reading stays: Studio lists the templates with the user's own role
    assert may(user, FULL_ACCESS, bucket_policy(r), "s3:GetObject", obj)


def test_the_publisher_the_tagger_and_named_administrators_still_may():
    everything = [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]
    obj = f"arn:aws:s3:::{BUCKET}/{PREFIX}team.yaml"
    admin = f"arn:aws:iam::{ACCOUNT_ID}:role/PlatformTemplates"
    default, named = bootstrap(), bootstrap(TemplateAdministratorArns=admin)
    for logical in ("TemplatePublisherRole", "TemplateTaggerRole"):
        principal = default.getatt(logical, "Arn")
        assert may(principal, everything, bucket_policy(default), "s3:PutObject", obj), logical
    assert not may(admin, everything, bucket_policy(default), "s3:PutObject", obj), "not named: denied"
    assert may(admin, everything, bucket_policy(named), "s3:PutObject", obj)
    assert may(named.getatt("TemplateTaggerRole", "Arn"), everything, bucket_policy(named), "s3:PutObjectTagging", obj)


def launch_role_statements() -> list[dict]:
    t = parse_template((ROOT / "iam" / "roles.yaml").read_text())
    r = Resolver(t, "aws", ACCOUNT_ID)
    attached = [res for res in t["Resources"].values() if res["Type"] == "AWS::IAM::ManagedPolicy"
                and {"Ref": "LaunchRole"} in res["Properties"].get("Roles", [])]
    assert len(attached) >= 2, "the launch role's managed policies"
    return [s for res in attached for s in iam.as_list(r.resolve(res["Properties"]["PolicyDocument"])["Statement"])]


def test_the_launch_role_may_invoke_the_seed_code_function_and_nothing_else_of_lambda():
    statements = launch_role_statements()
    lambda_actions = {a for a in iam.granted_actions(statements) if a.startswith("lambda:")}
    assert lambda_actions == {"lambda:invokefunction"}, lambda_actions
    fn = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:"
    assert iam.allows(statements, "lambda:InvokeFunction", fn + "sagemaker-projects-seedcode")
    r = bootstrap()
    for logical in ("TemplatePublisherFunction", "DomainOnboarderFunction", "TemplateTaggerFunction"):
        assert not iam.allows(statements, "lambda:InvokeFunction", r.getatt(logical, "Arn")), logical


def execution_role_statements() -> list[dict]:
    """iam/execution-role/*.json as the functions render them (policies.rs)."""
    values = {"${LaunchRoleArn}": LAUNCH_ROLE_ARN, "${Partition}": "aws", "${AccountId}": ACCOUNT_ID,
              "${TemplateBucket}": BUCKET, "${TemplatePrefix}": PREFIX, "${TemplateKeyArn}": KEY,
              "${Region}": REGION, "${S3Domain}": "amazonaws.com", "${DomainId}": "d-team"}
    out = []
    for path in sorted((ROOT / "iam" / "execution-role").glob("*.json")):
        text = re.sub(r"\$\{\w+\}", lambda m: values[m.group(0)], path.read_text())
        out += iam.as_list(json.loads(text)["Statement"])
    return out


def test_what_an_execution_role_is_given_passes_the_launch_role_and_no_other():
    statements = execution_role_statements()
    for service in ("cloudformation.amazonaws.com", "sagemaker.amazonaws.com"):
        ctx = {"iam:PassedToService": service}
        assert iam.allows(statements, "iam:PassRole", LAUNCH_ROLE_ARN, ctx), service
        for other in ("DeployAdmin", "service-role/AmazonSageMakerProjectsCloudformationRole", "OrganizationAccountAccessRole"):
            assert not iam.allows(statements, "iam:PassRole", f"arn:aws:iam::{ACCOUNT_ID}:role/{other}", ctx), other


def grant_statements(r: BootstrapResolver) -> list[dict]:
    """What the onboarder and execution-role-policies may do to roles (infra/bootstrap.yaml)."""
    doc = r.resolve(r.t["Resources"]["ExecutionRoleGrantsPolicy"]["Properties"]["PolicyDocument"])
    return iam.as_list(doc["Statement"])


MANAGED_TAG = "aws:ResourceTag/sagemaker-projects-bootstrap:managed"


def test_by_default_the_functions_reach_sagemaker_named_and_opted_in_roles_only():
    statements = grant_statements(bootstrap())
    role = f"arn:aws:iam::{ACCOUNT_ID}:role/"
    for name in ("service-role/AmazonSageMaker-ExecutionRole-20261207T101010", "TeamSagemakerRole",
                 "ml/sagemaker-studio-users"):
        assert iam.allows(statements, "iam:PutRolePolicy", role + name), name
        assert iam.allows(statements, "iam:TagRole", role + name, {"aws:TagKeys": [LAUNCH_TAG]}), name
    for name in ("DeployAdmin", "OrganizationAccountAccessRole", "DataScience"):
        assert not iam.allows(statements, "iam:PutRolePolicy", role + name), name
    # a role of another name, once an administrator tagged it: its policies, and no tag but the launch-access one
    opted_in = {MANAGED_TAG: "true"}
    assert iam.allows(statements, "iam:PutRolePolicy", role + "DataScience", opted_in)
    assert iam.allows(statements, "iam:TagRole", role + "DataScience", {**opted_in, "aws:TagKeys": [LAUNCH_TAG]})
    assert not iam.allows(statements, "iam:TagRole", role + "DataScience",
                          {**opted_in, "aws:TagKeys": ["sagemaker-projects-bootstrap:managed"]})
    # never the launch role, the service roles or the product's own roles, whatever their tags or names
    for name in ("AmazonSageMakerProjectsLaunchRole", "service-role/AmazonSageMakerProjectsCodeBuildRole",
                 "sagemaker-projects-bootstrap/x-OnboarderRole-1"):
        assert not iam.allows(statements, "iam:PutRolePolicy", role + name, opted_in), name
    # every role, only when asked for by name
    everything = grant_statements(bootstrap(ManagedRoleArnPattern=f"arn:aws:iam::{ACCOUNT_ID}:role/*"))
    assert iam.allows(everything, "iam:PutRolePolicy", role + "DeployAdmin")


def named_resources(r: BootstrapResolver) -> list[str]:
    """The stack's resources that carry a name, without the seed-code function (README "Security model": its fixed
    name is every project stack's ServiceToken); the trail bucket exists only with CreateTrail."""
    return [logical for logical, res in r.t["Resources"].items()
            if res["Type"] in NAME_PROPERTY and logical not in ("SeedCodeFunction", "TemplateBucket")
            and (res.get("Condition") is None or r.condition(res["Condition"]))]


def test_with_a_name_prefix_no_sagemaker_managed_policy_reaches_a_product_resource_by_its_name():
    policies = sagemaker_managed_policies_by_name()
    r = bootstrap(NamePrefix="projects-bootstrap", CreateTrail="true", ExistingExecutionRoles="TeamExecutionRole")
    named = named_resources(r)
    assert len(named) == 12, named
    for logical in named:
        arn, kind = r.arn_of(logical), r.t["Resources"][logical]["Type"]
        assert arn.split(":")[-1].split("/")[-1].startswith("projects-bootstrap-") or "projects-bootstrap-trail" in arn, arn
        for action in REACH[kind]:
            assert not iam.allows(policies, action, arn), f"{action} on {arn}"


def test_without_a_name_prefix_the_stack_derived_names_stay_in_reach_and_only_the_bounds_protect():
    """The residual for stacks created before NamePrefix (README "Security model"): AmazonSageMakerFullAccess may
    invoke their functions, which is why every request is bounded (part 1 of this module)."""
    r = bootstrap(ExistingExecutionRoles="TeamExecutionRole")
    for logical in ("TemplatePublisherFunction", "ExecutionRolePoliciesFunction", "DomainOnboarderFunction"):
        assert iam.allows(FULL_ACCESS, "lambda:InvokeFunction", r.arn_of(logical)), logical
