"""The five SageMaker project templates (templates/*.yaml): what each must satisfy besides upstream's facts (those,
per template, are tests/test_template_fidelity.py).

Static part (cfn-lint: `make lint-templates`): every template parses, declares the parameters SageMaker fills, accepts whatever the
SageMaker-provided template accepts, references only the fixed service roles (all created by iam/roles.yaml), names
every nameable resource inside the launch role's prefixes and the services' length limits, keeps its artifacts bucket
encrypted, private and TLS-only, has no inline code, and gives every Custom::SeedCode the seed function's interface
and a ServiceTimeout.

Emulator part: each template is created as a stack in moto's CloudFormation. What moto can and cannot show:
- the harness resolves `{{resolve:ssm:...}}` at CreateStack, as CloudFormation does;
- moto skips CodePipeline, S3 bucket policies and SageMaker code repositories silently (so it cannot prove their
  properties: the static tests do), creates CodeBuild projects through the harness, and creates the S3 bucket and the
  EventBridge rules for real;
- a `Custom::SeedCode` makes moto invoke the function behind ServiceToken; here a double stands in for the Rust seed
  function: it records the Create events (checking the properties the function will get) and answers SUCCESS with
  `url`, which moves the stack to CREATE_COMPLETE. That shows the stack waits for the seed code and that no
  reference in the template breaks. (The real function runs in tests/test_template_fidelity.py.)
"""
from __future__ import annotations

import json
import re
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from test_template_fidelity import FACTS as FIDELITY

from harness import cfn_yaml
from harness.fixtures import RecordingFunction, make_function

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE_DIR = ROOT / "templates"
IAM_ROLES = ROOT / "iam" / "roles.yaml"

TEMPLATES = [
    "build-train-codepipeline.yaml",
    "build-train-deploy-codepipeline.yaml",
    "build-train-deploy-jenkins.yaml",
    "build-train-deploy-monitor-codepipeline.yaml",
    "deploy-codepipeline.yaml",
]


def load_cfn(path: Path) -> dict:
    return cfn_yaml.load(path.read_text())


_cache: dict[str, dict] = {}


def template(name: str) -> dict:
    if name not in _cache:
        _cache[name] = load_cfn(TEMPLATE_DIR / name)
    return _cache[name]


def resources_of(tpl: dict, rtype: str) -> dict[str, dict]:
    return {k: v for k, v in tpl["Resources"].items() if v["Type"] == rtype}


# ---------------------------------------------------------------------------------------------------------------
# What every template must satisfy besides upstream's facts (those: tests/test_template_fidelity.py).
# ---------------------------------------------------------------------------------------------------------------
PROJECT_NAME_CONSTRAINTS = {"Type": "String", "MinLength": 1, "MaxLength": 32,
                            "AllowedPattern": "^[a-zA-Z](-*[a-zA-Z0-9])*"}
SERVICE_ROLES = {f"service-role/AmazonSageMakerProjects{n}Role"
                 for n in ("Cloudformation", "CodeBuild", "CodePipeline", "Events", "Execution", "Lambda")}
SEED_SERVICE_TOKEN = "{{resolve:ssm:/sagemaker-projects-bootstrap/seedcode-function-arn}}"
SEED_INTERFACE = {"ServiceToken", "ServiceTimeout", "BuildProject", "SeedCodeBucket", "SeedCodeKey", "ConnectionArn",
                  "RepositoryFullName", "Branch"}
SEED_INTERFACE_V1_0 = SEED_INTERFACE | {"CheckinVersion", "SeedCodeUpdateFileName"}
NAME_PREFIXES = ("sagemaker-", "SP-")

# Values upstream accepts, which ours must accept too (constraints never stricter than upstream's), per parameter
# name suffix. Jenkins: the repository and connection may be empty when no seed code is asked for.
ACCEPTED = {
    "CodeConnectionArn": ["arn:aws:codeconnections:us-east-1:123456789012:connection/0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0",
                          "arn:aws:codestar-connections:eu-west-1:123456789012:connection/abc-123",
                          "arn:aws-cn:codeconnections:cn-north-1:123456789012:connection/abc"],
    "CodestarConnectionArn": ["", "arn:aws:codestar-connections:eu-west-1:123456789012:connection/abc-123"],
    "Fullname": ["example-org/model-build", "my.org/repo_1", "group/" + "sub/" * 100 + "repo"],
    "Branch": ["main", "feature/new-model", "release+1", "user@topic", "fix#12", "a" * 255],
    "Url": ["https://github.com/example-org/model-build.git", "https://gitlab.example.com/" + "g/" * 200 + "r.git"],
    "SourceModelPackageGroupName": ["AbaloneModels",
                                    "arn:aws:sagemaker:us-east-1:123456789012:model-package-group/AbaloneModels"],
    "IsSeedcodeRequired": ["true", "false"],
}
REJECTED = {"IsSeedcodeRequired": ["", "yes", "True"]}

# Name property, length limit and pattern per nameable resource type (service quotas / API patterns).
NAMEABLE = {
    "AWS::S3::Bucket": ("BucketName", 63, r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]"),
    "AWS::CodeBuild::Project": ("Name", 255, r"[A-Za-z0-9][A-Za-z0-9\-_]{1,254}"),
    "AWS::CodePipeline::Pipeline": ("Name", 100, r"[A-Za-z0-9.@\-_]+"),
    "AWS::Events::Rule": ("Name", 64, r"[\.\-_A-Za-z0-9]+"),
    "AWS::SageMaker::CodeRepository": ("CodeRepositoryName", 63, r"[a-zA-Z0-9](-*[a-zA-Z0-9])*"),
}
UNNAMED_TYPES = {"AWS::S3::BucketPolicy", "Custom::SeedCode"}
STACK_NAME = (128, r"[a-zA-Z][-a-zA-Z0-9]*")

# Worst case for names: the longest project name SageMaker allows (with upper case, which S3 refuses) and a
# project id of the observed form p-<12 lowercase alphanumerics> (inferred; SageMaker does not document it).
WORST_CASE = {
    "SageMakerProjectName": "Abcdefghij-klmnopqrstuvwxyz01234",
    "SageMakerProjectId": "p-abcdefghijkl",
    "AWS::Region": "ap-southeast-2",
    "AWS::AccountId": "123456789012",
    "AWS::Partition": "aws",
}

# seeded repositories per template (the seed keys themselves: test_template_fidelity.py)
SEEDED = {
    "build-train-codepipeline.yaml": ["ModelBuild"],
    "build-train-deploy-codepipeline.yaml": ["ModelBuild", "ModelDeploy"],
    "build-train-deploy-jenkins.yaml": ["ModelBuild", "ModelDeploy"],
    "build-train-deploy-monitor-codepipeline.yaml": ["ModelBuild", "ModelDeploy", "ModelMonitor"],
    "deploy-codepipeline.yaml": ["ModelDeploy"],
}
# pipeline logical id -> the repository it reads
PIPELINE_REPOSITORY = {"ModelBuildPipeline": "ModelBuild", "ModelDeployPipeline": "ModelDeploy",
                       "SageMakerMonitorPipeline": "ModelMonitor"}


# ---------------------------------------------------------------------------------------------------------------
# Small evaluators over the parsed template.
# ---------------------------------------------------------------------------------------------------------------
def render(value, env: dict[str, str]) -> str:
    """The string a !Sub/!Ref/literal yields, given parameter and pseudo-parameter values; KeyError otherwise."""
    if isinstance(value, str):
        return value
    if "Ref" in value:
        return env[value["Ref"]]
    if "Fn::Sub" in value:
        tmpl = value["Fn::Sub"]
        local = {}
        if isinstance(tmpl, list):
            tmpl, local = tmpl
        return re.sub(r"\$\{([^}]+)\}", lambda m: {**env, **local}[m.group(1)], tmpl)
    raise KeyError(f"cannot render {value!r}")


def walk(node, path=()):
    """Every (path, value) pair of the template tree."""
    yield path, node
    if isinstance(node, dict):
        for k, v in node.items():
            yield from walk(v, path + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from walk(v, path + (i,))


def sub_strings(tpl: dict) -> list[str]:
    """Every literal string and !Sub template string in Resources and Outputs."""
    out = []
    for _, v in walk({"Resources": tpl["Resources"], "Outputs": tpl.get("Outputs", {})}):
        if isinstance(v, str):
            out.append(v)
        elif isinstance(v, dict) and "Fn::Sub" in v:
            s = v["Fn::Sub"]
            out.append(s[0] if isinstance(s, list) else s)
    return out


def accepts(param: dict, value: str) -> bool:
    """Whether CloudFormation accepts `value` for a String parameter (length, pattern as a full match, values)."""
    if param.get("Type") != "String":
        return False
    if not param.get("MinLength", 0) <= len(value) <= param.get("MaxLength", 4096):
        return False
    if "AllowedPattern" in param and not re.fullmatch(param["AllowedPattern"], value):
        return False
    if "AllowedValues" in param and value not in param["AllowedValues"]:
        return False
    return True


def role_arn(name: str) -> dict:
    return {"Fn::Sub": f"arn:${{AWS::Partition}}:iam::${{AWS::AccountId}}:role/service-role/"
                       f"AmazonSageMakerProjects{name}Role"}


# ---------------------------------------------------------------------------------------------------------------
# Static tests
# ---------------------------------------------------------------------------------------------------------------
def test_template_set_is_the_five_of_the_facts():
    assert sorted(p.name for p in TEMPLATE_DIR.glob("*.yaml")) == sorted(TEMPLATES)


@pytest.mark.parametrize("name", TEMPLATES)
def test_parses_as_cloudformation(name):
    tpl = template(name)
    assert tpl["AWSTemplateFormatVersion"] == "2010-09-09"
    assert tpl["Description"].strip()
    assert tpl["Resources"]


@pytest.mark.parametrize("name", TEMPLATES)
def test_declares_the_parameters_sagemaker_fills(name):
    params = template(name)["Parameters"]
    for key, value in PROJECT_NAME_CONSTRAINTS.items():
        assert params["SageMakerProjectName"][key] == value, key
    assert params["SageMakerProjectId"]["Type"] == "String"
    project_name = params["SageMakerProjectName"]
    for ok in ("a", "demo", "My-Project-1", "a--b", "a" * 32):
        assert accepts(project_name, ok), ok
    for bad in ("", "1abc", "-abc", "a_b", "a" * 33):
        assert not accepts(project_name, bad), bad


@pytest.mark.parametrize("name", TEMPLATES)
def test_parameters_accept_whatever_upstream_accepts(name):
    params = template(name)["Parameters"]
    checked = 0
    for pname, param in params.items():
        for suffix, values in ACCEPTED.items():
            if pname.endswith(suffix):
                checked += 1
                for value in values:
                    if "jenkins" not in name and value == "":
                        continue
                    assert accepts(param, value), (pname, value)
                for value in REJECTED.get(suffix, []):
                    assert not accepts(param, value), (pname, value)
                assert param.get("Description"), pname
                break
    assert checked == len(params) - 2


@pytest.mark.parametrize("name", TEMPLATES)
def test_optional_parameters_are_exactly_those_with_a_default_branch(name):
    tpl = template(name)
    rules = tpl["Metadata"]["SagemakerTemplateParameterRules"]
    assert set(rules) == {p for p, v in tpl["Parameters"].items() if "Default" in v and p.endswith("Branch")}
    assert all(rule == {"Optional": True} for rule in rules.values())


@pytest.mark.parametrize("name", TEMPLATES)
def test_interface_groups_and_labels_every_parameter_once(name):
    tpl = template(name)
    interface = tpl["Metadata"]["AWS::CloudFormation::Interface"]
    grouped = [p for g in interface["ParameterGroups"] for p in g["Parameters"]]
    assert sorted(grouped) == sorted(tpl["Parameters"])
    assert all(g["Label"]["default"] for g in interface["ParameterGroups"])
    assert set(interface["ParameterLabels"]) == set(tpl["Parameters"])
    assert interface["ParameterGroups"][0]["Parameters"] == ["SageMakerProjectName", "SageMakerProjectId"]


@pytest.mark.parametrize("name", TEMPLATES)
def test_references_only_the_fixed_service_roles(name):
    iam_strings = [s for s in sub_strings(template(name)) if ":iam::" in s]
    assert iam_strings
    for s in iam_strings:
        m = re.fullmatch(r"arn:\$\{AWS::Partition\}:iam::\$\{AWS::AccountId\}:role/(.+)", s)
        assert m, s
        assert m.group(1) in SERVICE_ROLES, s


@pytest.mark.parametrize("name", TEMPLATES)
def test_each_service_uses_its_own_role(name):
    tpl = template(name)
    for res in resources_of(tpl, "AWS::CodeBuild::Project").values():
        assert res["Properties"]["ServiceRole"] == role_arn("CodeBuild")
    for res in resources_of(tpl, "AWS::CodePipeline::Pipeline").values():
        props = res["Properties"]
        assert props["RoleArn"] == role_arn("CodePipeline")
        for stage in props["Stages"]:
            for action in stage["Actions"]:
                if action["ActionTypeId"]["Provider"] == "CloudFormation":
                    assert action["Configuration"]["RoleArn"] == role_arn("Cloudformation")
    for res in resources_of(tpl, "AWS::Events::Rule").values():
        for target in res["Properties"]["Targets"]:
            assert target["RoleArn"] == role_arn("Events")


def _iam_stack_roles() -> set[str]:
    tpl = load_cfn(IAM_ROLES)
    roles = set()
    for res in tpl["Resources"].values():
        if res["Type"] != "AWS::IAM::Role":
            continue
        props = res.get("Properties", {})
        role_name = props.get("RoleName")
        if isinstance(role_name, dict) and "Fn::Sub" in role_name:
            role_name = role_name["Fn::Sub"]
        if not isinstance(role_name, str):
            continue
        path = props.get("Path", "/")
        if isinstance(path, dict):  # !Ref RolePath (the launch role): "/" by default; templates name no such role
            path = "/"
        path = path.strip("/")
        roles.add(f"{path}/{role_name}" if path else role_name)
    return roles


@pytest.mark.parametrize("name", TEMPLATES)
def test_every_referenced_role_is_created_by_the_iam_stack(name):
    if not IAM_ROLES.exists():
        pytest.skip(f"{IAM_ROLES.relative_to(ROOT)} does not exist yet: cannot cross-check the role names")
    created = _iam_stack_roles()
    referenced = {re.sub(r".*:role/", "", s) for s in sub_strings(template(name)) if ":iam::" in s}
    assert referenced <= created, f"roles not created by iam/roles.yaml: {sorted(referenced - created)}"


@pytest.mark.parametrize("name", TEMPLATES)
def test_every_nameable_resource_is_named_within_the_launch_role_prefixes_and_limits(name):
    tpl = template(name)
    seen: dict[str, set[str]] = {}
    for logical_id, res in tpl["Resources"].items():
        rtype = res["Type"]
        if rtype in UNNAMED_TYPES:
            continue
        assert rtype in NAMEABLE, f"{logical_id}: add {rtype} to the NAMEABLE table of this test"
        prop, limit, pattern = NAMEABLE[rtype]
        assert prop in res.get("Properties", {}), f"{logical_id} has no explicit {prop}"
        value = render(res["Properties"][prop], WORST_CASE)
        assert value.startswith(NAME_PREFIXES), (logical_id, value)
        assert len(value) <= limit, (logical_id, value, len(value))
        assert re.fullmatch(pattern, value), (logical_id, value)
        assert value not in seen.setdefault(rtype, set()), f"duplicate {rtype} name {value}"
        seen[rtype].add(value)
    for res in resources_of(tpl, "AWS::CodePipeline::Pipeline").values():
        for stage in res["Properties"]["Stages"]:
            for action in stage["Actions"]:
                if action["ActionTypeId"]["Provider"] == "CloudFormation":
                    stack = render(action["Configuration"]["StackName"], WORST_CASE)
                    assert stack.startswith(NAME_PREFIXES), stack
                    assert len(stack) <= STACK_NAME[0] and re.fullmatch(STACK_NAME[1], stack), stack


@pytest.mark.parametrize("name", TEMPLATES)
def test_artifacts_bucket_is_retained_encrypted_private_and_tls_only(name):
    tpl = template(name)
    buckets = resources_of(tpl, "AWS::S3::Bucket")
    assert list(buckets) == ["MlOpsArtifactsBucket"]
    bucket = buckets["MlOpsArtifactsBucket"]
    props = bucket["Properties"]
    assert props["BucketName"] == {"Fn::Sub": "sagemaker-project-${SageMakerProjectId}"}
    assert bucket["DeletionPolicy"] == "Retain" and bucket["UpdateReplacePolicy"] == "Retain"
    sse = props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
    assert sse["SSEAlgorithm"] in ("AES256", "aws:kms")
    assert props["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True, "BlockPublicPolicy": True, "IgnorePublicAcls": True, "RestrictPublicBuckets": True}
    policies = [p for p in resources_of(tpl, "AWS::S3::BucketPolicy").values()
                if p["Properties"]["Bucket"] == {"Ref": "MlOpsArtifactsBucket"}]
    assert len(policies) == 1
    denies = [s for s in policies[0]["Properties"]["PolicyDocument"]["Statement"] if s["Effect"] == "Deny"]
    tls = [s for s in denies if s.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}]
    assert tls and tls[0]["Action"] in ("s3:*", ["s3:*"]) and tls[0]["Principal"] == "*"
    assert {"Fn::GetAtt": ["MlOpsArtifactsBucket", "Arn"]} in tls[0]["Resource"]
    assert {"Fn::Sub": "${MlOpsArtifactsBucket.Arn}/*"} in tls[0]["Resource"]


@pytest.mark.parametrize("name", TEMPLATES)
def test_no_inline_function_code_and_no_function(name):
    tpl = template(name)
    for _, value in walk(tpl["Resources"]):
        if isinstance(value, dict):
            assert "ZipFile" not in value and "InlineCode" not in value
    assert not resources_of(tpl, "AWS::Lambda::Function")
    assert not resources_of(tpl, "AWS::CloudFormation::CustomResource")


@pytest.mark.parametrize("name", TEMPLATES)
def test_each_seed_resource_uses_the_seed_function_interface(name):
    tpl = template(name)
    seeds = resources_of(tpl, "Custom::SeedCode")
    assert set(seeds) == {f"{r}SeedCode" for r in SEEDED[name]}
    for seed in seeds.values():
        props = seed["Properties"]
        assert set(props) == (SEED_INTERFACE_V1_0 if "jenkins" in name else SEED_INTERFACE)
        assert props["ServiceToken"] == SEED_SERVICE_TOKEN
        # the seed function's 900 s plus a margin, instead of CloudFormation's default hour
        assert props["ServiceTimeout"] == 1200


@pytest.mark.parametrize("name", TEMPLATES)
def test_pipelines_wait_for_their_seed_and_rules_for_their_pipeline(name):
    tpl = template(name)
    for logical, res in resources_of(tpl, "AWS::CodePipeline::Pipeline").items():
        # the first run must see the seed commit
        assert res["DependsOn"] == f"{PIPELINE_REPOSITORY[logical]}SeedCode"
    for res in resources_of(tpl, "AWS::Events::Rule").values():
        # the target names the pipeline by its name: depend on it so the rule never points at nothing
        (target,) = res["Properties"]["Targets"]
        pipeline = re.search(r"-(model\w+)$", target["Arn"]["Fn::Sub"]).group(1)
        depends = res["DependsOn"]
        assert tpl["Resources"][depends]["Properties"]["Name"]["Fn::Sub"].endswith(f"-{pipeline}")


PROJECT = {"SageMakerProjectName": "demo", "SageMakerProjectId": "p-abcdefghijkl"}
CONNECTION = "arn:aws:codeconnections:us-east-1:123456789012:connection/0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0"
DEPLOY_CONNECTION = "arn:aws:codeconnections:us-east-1:123456789012:connection/11111111-2222-3333-4444-555555555555"
SEED_PARAMETER = "/sagemaker-projects-bootstrap/seedcode-function-arn"

# (case id, template, parameters besides the project's, repositories expected to be seeded)
STACK_CASES = [
    ("build-train", "build-train-codepipeline.yaml",
     {"CodeConnectionArn": CONNECTION, "ModelBuildCodeRepositoryFullname": "example-org/model-build"},
     ["ModelBuild"]),
    ("build-train-deploy", "build-train-deploy-codepipeline.yaml",
     {"CodeConnectionArn": CONNECTION, "ModelBuildCodeRepositoryFullname": "example-org/model-build",
      "ModelDeployCodeRepositoryFullname": "example-org/model-deploy", "ModelDeployCodeRepositoryBranch": "develop"},
     ["ModelBuild", "ModelDeploy"]),
    ("jenkins-both", "build-train-deploy-jenkins.yaml",
     {"ModelBuildCodeRepositoryUrl": "https://github.com/example-org/model-build.git",
      "ModelBuildCodeRepositoryFullname": "example-org/model-build", "ModelBuildCodeRepositoryCodestarConnectionArn": CONNECTION,
      "ModelDeployCodeRepositoryUrl": "https://github.com/example-org/model-deploy.git",
      "ModelDeployCodeRepositoryFullname": "example-org/model-deploy",
      "ModelDeployCodeRepositoryCodestarConnectionArn": DEPLOY_CONNECTION, "ModelDeployCodeRepositoryBranch": "develop"},
     ["ModelBuild", "ModelDeploy"]),
    ("jenkins-build-only", "build-train-deploy-jenkins.yaml",
     {"ModelBuildCodeRepositoryUrl": "https://github.com/example-org/model-build.git",
      "ModelBuildCodeRepositoryFullname": "example-org/model-build", "ModelBuildCodeRepositoryCodestarConnectionArn": CONNECTION,
      "ModelDeployCodeRepositoryUrl": "https://github.com/example-org/model-deploy.git",
      "ModelDeployCodeRepositoryFullname": "example-org/model-deploy",
      "ModelDeployCodeRepositoryCodestarConnectionArn": DEPLOY_CONNECTION, "ModelDeployCodeRepositoryIsSeedcodeRequired": "false"},
     ["ModelBuild"]),
    ("jenkins-none", "build-train-deploy-jenkins.yaml",
     {"ModelBuildCodeRepositoryUrl": "https://github.com/example-org/model-build.git",
      "ModelBuildCodeRepositoryFullname": "example-org/model-build", "ModelBuildCodeRepositoryCodestarConnectionArn": CONNECTION,
      "ModelBuildCodeRepositoryIsSeedcodeRequired": "false",
      "ModelDeployCodeRepositoryUrl": "https://github.com/example-org/model-deploy.git",
      "ModelDeployCodeRepositoryFullname": "example-org/model-deploy",
      "ModelDeployCodeRepositoryCodestarConnectionArn": DEPLOY_CONNECTION, "ModelDeployCodeRepositoryIsSeedcodeRequired": "false"},
     []),
    ("build-train-deploy-monitor", "build-train-deploy-monitor-codepipeline.yaml",
     {"CodeConnectionArn": CONNECTION, "ModelBuildCodeRepositoryFullname": "example-org/model-build",
      "ModelDeployCodeRepositoryFullname": "example-org/model-deploy",
      "ModelMonitorCodeRepositoryFullname": "example-org/model-monitor",
      "ModelMonitorCodeRepositoryBranch": "develop"},
     ["ModelBuild", "ModelDeploy", "ModelMonitor"]),
    ("deploy", "deploy-codepipeline.yaml",
     {"CodeConnectionArn": CONNECTION, "SourceModelPackageGroupName": "AbaloneModels",
      "ModelDeployCodeRepositoryFullname": "example-org/model-deploy"},
     ["ModelDeploy"]),
]


def test_stack_cases_cover_every_template():
    assert {case[1] for case in STACK_CASES} == set(TEMPLATES)


@pytest.fixture
def seed_function(aws, monkeypatch):
    """A Lambda in the emulator whose ARN is the SSM parameter the templates resolve; its invocations recorded."""
    from moto.awslambda import models as lambda_models

    double = RecordingFunction()
    monkeypatch.setattr(lambda_models.LambdaFunction, "invoke",
                        lambda self, body, *a, **kw: double.invoke(self, body, *a, **kw))
    arn = make_function(aws, "sagemaker-projects-seedcode-double", "bootstrap", role_name="seedcode-double")
    aws.client("ssm").put_parameter(Name=SEED_PARAMETER, Value=arn, Type="String")
    double.arn = arn
    return double


def answer(aws, event: dict, data: dict) -> int:
    """PUT a SUCCESS response to the event's ResponseURL, as the seed function does (empty Content-Type)."""
    url = urllib.parse.urlsplit(event["ResponseURL"])
    target = f"{aws.endpoint}{url.path}?{url.query}"
    body = json.dumps({"Status": "SUCCESS", "PhysicalResourceId": f"seed-{event['LogicalResourceId']}",
                       "StackId": event["StackId"], "RequestId": event["RequestId"],
                       "LogicalResourceId": event["LogicalResourceId"], "Data": data}).encode()
    req = urllib.request.Request(target, data=body, method="PUT", headers={"Content-Type": ""})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return resp.status


def stack_status(cfn, stack_id: str) -> str:
    return cfn.describe_stacks(StackName=stack_id)["Stacks"][0]["StackStatus"]


def probe_rule(aws, rule_name: str, events: list[dict]) -> list[bool]:
    """Which of `events` the deployed rule's pattern matches.

    moto cannot deliver to a CodePipeline target (PutEvents answers 500 on a match), so the rule's targets are
    swapped for an SQS probe queue while the events are put, and put back afterwards."""
    sqs = aws.client("sqs")
    queue_url = sqs.create_queue(QueueName=f"probe-{rule_name}"[:80])["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    eb = aws.client("events")
    original = eb.list_targets_by_rule(Rule=rule_name)["Targets"]
    eb.remove_targets(Rule=rule_name, Ids=[t["Id"] for t in original])
    eb.put_targets(Rule=rule_name, Targets=[{"Id": "probe", "Arn": queue_arn}])
    matched = []
    for event in events:
        eb.put_events(Entries=[{"Source": event["source"], "DetailType": event["detail-type"],
                                "Detail": json.dumps(event["detail"])}])
        got = sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=0).get("Messages", [])
        for m in got:
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"])
        matched.append(bool(got))
    eb.remove_targets(Rule=rule_name, Ids=["probe"])
    eb.put_targets(Rule=rule_name, Targets=original)
    return matched


MODEL_PACKAGE_DETAIL_TYPE = "SageMaker Model Package State Change"
ENDPOINT_DETAIL_TYPE = "SageMaker Endpoint State Change"


def package_event(group: str, status: str) -> dict:
    return {"source": "aws.sagemaker", "detail-type": MODEL_PACKAGE_DETAIL_TYPE,
            "detail": {"ModelPackageGroupName": group, "ModelApprovalStatus": status}}


def endpoint_event(endpoint: str, status: str) -> dict:
    return {"source": "aws.sagemaker", "detail-type": ENDPOINT_DETAIL_TYPE,
            "detail": {"EndpointName": endpoint, "EndpointStatus": status}}


@pytest.mark.parametrize("case", STACK_CASES, ids=[c[0] for c in STACK_CASES])
def test_template_creates_as_a_stack_in_the_emulator(case, aws, seed_function):
    _, name, extra, seeded = case
    cfn = aws.client("cloudformation")
    params = {**PROJECT, **extra}
    body = (TEMPLATE_DIR / name).read_text()  # its {{resolve:ssm:…}} ServiceToken resolved by the emulator
    stack_id = cfn.create_stack(
        StackName=f"SP-{PROJECT['SageMakerProjectName']}-{PROJECT['SageMakerProjectId']}", TemplateBody=body,
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in params.items()])["StackId"]

    # the seed function is asked once per seeded repository, with the properties of its interface
    events = seed_function.wait_for(len(seeded))
    assert sorted(e["LogicalResourceId"] for e in events) == sorted(f"{r}SeedCode" for r in seeded)
    jenkins = "jenkins" in name
    for event in events:
        repo = event["LogicalResourceId"].removesuffix("SeedCode")
        props = event["ResourceProperties"]
        assert event["RequestType"] == "Create" and event["ResourceType"] == "Custom::SeedCode"
        assert props["ServiceToken"] == seed_function.arn
        assert props["SeedCodeBucket"] == f"sagemaker-servicecatalog-seedcode-{aws.region}"
        assert props["SeedCodeKey"] == FIDELITY[name]["seeds"][repo]
        assert props["ConnectionArn"] == params[
            f"{repo}CodeRepositoryCodestarConnectionArn" if jenkins else "CodeConnectionArn"]
        assert props.get("CheckinVersion") == ("v1.0" if jenkins else None)
        assert props["ServiceTimeout"] == "1200"
        assert props["RepositoryFullName"] == params[f"{repo}CodeRepositoryFullname"]
        assert props["Branch"] == params.get(f"{repo}CodeRepositoryBranch", "main")

    if seeded:
        # the stack waits for the seed code
        time.sleep(0.2)
        assert len(seed_function.events) == len(seeded)
        assert stack_status(cfn, stack_id) == "CREATE_IN_PROGRESS"
        for event in events:
            repo_name = params[f"{event['LogicalResourceId'].removesuffix('SeedCode')}CodeRepositoryFullname"]
            url = (f"https://codeconnections.{aws.region}.amazonaws.com/git-http/{aws.account_id}/{aws.region}/"
                   f"0b1c2d3e/{repo_name}.git")
            assert answer(aws, event, {
                "url": url, "RepositoryUrl": url,
                "BuildId": "sagemaker-demo-p-abcdefghijkl-git-seedcodecheckin:0000"}) == 200
    assert stack_status(cfn, stack_id) == "CREATE_COMPLETE"

    # the artifacts bucket, encrypted
    bucket = f"sagemaker-project-{PROJECT['SageMakerProjectId']}"
    s3 = aws.client("s3")
    rule = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"

    # outputs (moto leaves ${<Pipeline>} unresolved: it skips CodePipeline resources)
    outputs = {o["OutputKey"]: o["OutputValue"]
               for o in cfn.describe_stacks(StackName=stack_id)["Stacks"][0].get("Outputs", [])}
    assert set(outputs) == set(template(name).get("Outputs", {}))
    assert FIDELITY[name]["outputs"] <= set(outputs)
    assert outputs["MlOpsArtifactsBucketName"] == bucket
    for key in set(outputs) - {"MlOpsArtifactsBucketName"}:
        assert outputs[key].startswith("https://console.aws.amazon.com/codesuite/codepipeline/pipelines/"), key

    # the EventBridge rules: names, targets and what they match
    eb = aws.client("events")
    rules = {r["Name"]: r for r in eb.list_rules()["Rules"]}
    project_id, project_name = PROJECT["SageMakerProjectId"], PROJECT["SageMakerProjectName"]
    kinds = {"ModelDeploySageMakerEventRule": ("model", "trigger", "modeldeploy"),
             "InServiceEndpointEventRule": ("ep", "endpoint-trigger", "modelmonitor")}
    expected = [kinds[logical] for logical in FIDELITY[name]["rules"]]
    assert set(rules) == {f"sagemaker-{project_name}-{project_id}-{kind}" for kind, _, _ in expected}
    events_role = f"arn:aws:iam::{aws.account_id}:role/service-role/AmazonSageMakerProjectsEventsRole"
    for kind, target_id, pipeline in expected:
        rule_name = f"sagemaker-{project_name}-{project_id}-{kind}"
        assert rules[rule_name]["State"] == "ENABLED"
        (target,) = eb.list_targets_by_rule(Rule=rule_name)["Targets"]
        assert target["Id"] == f"sagemaker-{project_name}-{target_id}"
        assert target["Arn"] == (f"arn:aws:codepipeline:{aws.region}:{aws.account_id}:"
                                 f"sagemaker-{project_name}-{project_id}-{pipeline}")
        assert target["RoleArn"] == events_role
        if kind == "model":
            group = params.get("SourceModelPackageGroupName", f"{project_name}-{project_id}")
            probes = [package_event(group, "Approved"), package_event(group, "Rejected"),
                      package_event(group, "PendingManualApproval"), package_event("other-group", "Approved")]
            assert probe_rule(aws, rule_name, probes) == [True, True, False, False]
        else:
            probes = [endpoint_event(f"{project_name}-staging", "IN_SERVICE"),
                      endpoint_event(f"{project_name}-staging", "CREATING"),
                      endpoint_event(f"{project_name}-prod", "IN_SERVICE")]
            assert probe_rule(aws, rule_name, probes) == [True, False, False]
