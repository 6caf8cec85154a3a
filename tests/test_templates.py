"""The five SageMaker project templates (templates/*.yaml), read as a specification of aws-facts §1 and §4.

Static part: every template parses, is cfn-lint clean, declares the parameters SageMaker fills and the per-template
parameters of §4 with their constraints, references only the fixed service roles, names every nameable resource
inside the launch role's prefixes and the services' length limits, and wires seed code, repositories, pipelines and
rules as §4 asks.

Behaviour of the seed-code build: the inline buildspec of the seed CodeBuild project is run with bash against local
bare Git repositories (git's `url.<base>.insteadOf` maps the CodeConnections git-http URL to a local path, and a
stand-in `aws` serves `s3 cp` from a directory), so its push / leave-alone / fail decisions are exercised for real.

Emulator part: each template is created as a stack in moto's CloudFormation. What moto can and cannot show:
- moto does not resolve dynamic references; the emulator (harness/ext_cloudformation.py) resolves
  `{{resolve:ssm:...}}` at CreateStack, as CloudFormation does on AWS (the SSM parameter holds the ARN of a Lambda
  created here);
- moto skips CodeBuild, CodePipeline, S3 bucket policies and SageMaker code repositories silently (so it cannot
  prove their properties: the static tests do), but creates the S3 bucket and the EventBridge rules for real;
- a `Custom::SeedCode` makes moto invoke the function behind ServiceToken. moto cannot run Lambda code, so the
  test stands in for the Rust seed-code function: it records the Create events moto sends (checking the properties
  the function will get) and answers SUCCESS on the ResponseURL with RepositoryUrl/BuildId, which moves the stack to
  CREATE_COMPLETE. That shows the stack waits for the seed code and that no reference in the template breaks.
  (BuildProject is absent from the recorded properties because moto drops a !Ref to a skipped CodeBuild project.)
"""
from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
import zipfile
from pathlib import Path

import pytest
import yaml

from harness import cfn_yaml
from harness.fixtures import LAMBDA_TRUST, make_role

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
# Facts (aws-facts §1, §3, §4) and the per-template specification table.
# ---------------------------------------------------------------------------------------------------------------
PROJECT_NAME_CONSTRAINTS = {"Type": "String", "MinLength": 1, "MaxLength": 32,
                            "AllowedPattern": "^[a-zA-Z](-*[a-zA-Z0-9])*"}
SERVICE_ROLES = {f"service-role/AmazonSageMakerProjects{n}Role"
                 for n in ("Cloudformation", "CodeBuild", "CodePipeline", "Events", "Execution", "Lambda")}
SEED_SERVICE_TOKEN = "{{resolve:ssm:/sagemaker-projects-bootstrap/seedcode-function-arn}}"
SEED_INTERFACE = {"ServiceToken", "BuildProject", "SeedCodeBucket", "SeedCodeKey", "ConnectionArn",
                  "RepositoryFullName", "Branch"}
NAME_PREFIXES = ("sagemaker-", "SP-")

# parameter kinds: values each kind must accept and reject
KINDS = {
    "connection": (
        ["arn:aws:codeconnections:us-east-1:123456789012:connection/0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0",
         "arn:aws:codestar-connections:eu-west-1:123456789012:connection/abc-123",
         "arn:aws-cn:codeconnections:cn-north-1:123456789012:connection/abc"],
        ["", "arn:aws:s3:::bucket", "connection/abc", "arn:aws:codeconnections:us-east-1:1234:connection/abc",
         "arn:aws:codeconnections:us-east-1:123456789012:host/abc"],
    ),
    "fullname": (
        ["example-org/model-build", "group/subgroup/repo", "my.org/repo_1"],
        ["", "repo", "org/", "/repo", "org/re po", "org//repo"],
    ),
    "branch": (["main", "feature/new-model", "release_2.0"], ["", "-x", "a b", "/main"]),
    "url": (["https://github.com/example-org/model-build.git"],
            ["", "http://github.com/x/y.git", "git@github.com:x/y.git", "https://github.com/x y"]),
    "group": (["AbaloneModels", "demo-p-abcdefghijkl"], ["", "-x", "bad_name", "a" * 64]),
    "bool": (["true", "false"], ["", "yes", "True"]),
}


def _p(kind: str, default: str | None = None) -> dict:
    return {"kind": kind, "default": default}


def _repo_params(prefix: str) -> dict:
    return {f"{prefix}CodeRepositoryFullname": _p("fullname"), f"{prefix}CodeRepositoryBranch": _p("branch", "main")}


def _jenkins_params(prefix: str) -> dict:
    return {f"{prefix}CodeRepositoryUrl": _p("url"), **_repo_params(prefix),
            f"{prefix}CodeConnectionArn": _p("connection"), f"{prefix}SeedCodeRequired": _p("bool", "true")}


GROUP_OF_PROJECT = {"Fn::Sub": "${SageMakerProjectName}-${SageMakerProjectId}"}

SOURCE = ("Source", [("Source", "CodeStarSourceConnection", 1)])
BUILD = ("Build", [("Build", "CodeBuild", 1)])
BUILD_PIPELINE = [SOURCE, BUILD]
DEPLOY_PIPELINE = [SOURCE, BUILD,
                   ("DeployStaging", [("Deploy", "CloudFormation", 1), ("Build", "CodeBuild", 2),
                                      ("Approval", "Manual", 3)]),
                   ("DeployProd", [("Deploy", "CloudFormation", 1)])]
MONITOR_PIPELINE = [SOURCE, BUILD,
                    ("MonitorStaging", [("Deploy", "CloudFormation", 1), ("Approval", "Manual", 2)]),
                    ("MonitorProd", [("Deploy", "CloudFormation", 1)])]

KEY_BUILD = "toolchain/model-building-workflow-v1.0.zip"
KEY_DEPLOY = "toolchain/model-deployment-v1.0.zip"
KEY_MONITOR = "toolchain/model-monitoring-v1.0.zip"

SPEC = {
    "build-train-codepipeline.yaml": {
        "parameters": {"CodeConnectionArn": _p("connection"), **_repo_params("ModelBuild")},
        "repositories": {"ModelBuild": KEY_BUILD},
        "pipelines": {"ModelBuild": BUILD_PIPELINE},
        "rules": {},
        "outputs": {"ArtifactsBucketName", "ModelBuildPipelineUrl"},
    },
    "build-train-deploy-codepipeline.yaml": {
        "parameters": {"CodeConnectionArn": _p("connection"), **_repo_params("ModelBuild"),
                       **_repo_params("ModelDeploy")},
        "repositories": {"ModelBuild": KEY_BUILD, "ModelDeploy": KEY_DEPLOY},
        "pipelines": {"ModelBuild": BUILD_PIPELINE, "ModelDeploy": DEPLOY_PIPELINE},
        "rules": {"model-approval": ("ModelDeploy", GROUP_OF_PROJECT)},
        "outputs": {"ArtifactsBucketName", "ModelBuildPipelineUrl", "ModelDeployPipelineUrl"},
    },
    "build-train-deploy-jenkins.yaml": {
        "parameters": {**_jenkins_params("ModelBuild"), **_jenkins_params("ModelDeploy")},
        "repositories": {"ModelBuild": "toolchain/model-building-workflow-jenkins-v1.0.zip",
                         "ModelDeploy": "toolchain/model-deployment-jenkins-v1.0.zip"},
        "pipelines": {},
        "rules": {},
        "outputs": {"ArtifactsBucketName"},
    },
    "build-train-deploy-monitor-codepipeline.yaml": {
        "parameters": {"CodeConnectionArn": _p("connection"), **_repo_params("ModelBuild"),
                       **_repo_params("ModelDeploy"), **_repo_params("ModelMonitor")},
        "repositories": {"ModelBuild": KEY_BUILD, "ModelDeploy": KEY_DEPLOY, "ModelMonitor": KEY_MONITOR},
        "pipelines": {"ModelBuild": BUILD_PIPELINE, "ModelDeploy": DEPLOY_PIPELINE,
                      "ModelMonitor": MONITOR_PIPELINE},
        "rules": {"model-approval": ("ModelDeploy", GROUP_OF_PROJECT),
                  "staging-in-service": ("ModelMonitor", None)},
        "outputs": {"ArtifactsBucketName", "ModelBuildPipelineUrl", "ModelDeployPipelineUrl",
                    "ModelMonitorPipelineUrl"},
    },
    "deploy-codepipeline.yaml": {
        "parameters": {"SourceModelPackageGroupName": _p("group"), "CodeConnectionArn": _p("connection"),
                       **_repo_params("ModelDeploy")},
        "repositories": {"ModelDeploy": KEY_DEPLOY},
        "pipelines": {"ModelDeploy": DEPLOY_PIPELINE},
        "rules": {"model-approval": ("ModelDeploy", {"Ref": "SourceModelPackageGroupName"})},
        "outputs": {"ArtifactsBucketName", "ModelDeployPipelineUrl"},
    },
}

# Name property, length limit and pattern per nameable resource type (service quotas / API patterns).
NAMEABLE = {
    "AWS::S3::Bucket": ("BucketName", 63, r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]"),
    "AWS::CodeBuild::Project": ("Name", 255, r"[A-Za-z0-9][A-Za-z0-9\-_]{1,254}"),
    "AWS::CodePipeline::Pipeline": ("Name", 100, r"[A-Za-z0-9.@\-_]+"),
    "AWS::Events::Rule": ("Name", 64, r"[\.\-_A-Za-z0-9]+"),
    "AWS::SageMaker::CodeRepository": ("CodeRepositoryName", 63, r"[a-zA-Z0-9](-*[a-zA-Z0-9])*"),
    "AWS::Lambda::Function": ("FunctionName", 64, r"[a-zA-Z0-9-_]+"),
    "AWS::ECR::Repository": ("RepositoryName", 256, r"[a-z0-9]+(?:[._-][a-z0-9]+)*"),
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


def pipeline_name(prefix: str) -> str:
    return f"sagemaker-${{SageMakerProjectName}}-${{SageMakerProjectId}}-{prefix.lower()}"


def seed_resource(tpl: dict, repo: str) -> dict:
    return tpl["Resources"][f"{repo}SeedCode"]


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
def test_cfn_lint_reports_no_error_and_no_warning(name):
    cfn_lint = Path(sys.executable).with_name("cfn-lint")
    if not cfn_lint.exists():
        pytest.skip(f"cfn-lint not installed next to {sys.executable}")
    result = subprocess.run([str(cfn_lint), str(TEMPLATE_DIR / name)], capture_output=True, text=True, timeout=120)
    # exit status bits: 2 = error, 4 = warning, 8 = informational
    assert result.returncode & 0b110 == 0, result.stdout + result.stderr


@pytest.mark.parametrize("name", TEMPLATES)
def test_declares_the_parameters_sagemaker_fills(name):
    params = template(name)["Parameters"]
    for key, value in PROJECT_NAME_CONSTRAINTS.items():
        assert params["SageMakerProjectName"][key] == value, key
    assert params["SageMakerProjectId"]["Type"] == "String"
    project_name = params["SageMakerProjectName"]
    for ok in ("a", "demo", "My-Project-1", "a--b", "a" * 32):
        assert accepts(project_name, ok), ok
    for bad in ("", "1abc", "-abc", "abc-", "a_b", "a" * 33):
        assert not accepts(project_name, bad), bad


@pytest.mark.parametrize("name", TEMPLATES)
def test_declares_exactly_the_per_template_parameters_of_the_facts(name):
    params = template(name)["Parameters"]
    expected = SPEC[name]["parameters"]
    assert set(params) - {"SageMakerProjectName", "SageMakerProjectId"} == set(expected)
    for pname, spec in expected.items():
        param = params[pname]
        assert param["Type"] == "String", pname
        assert param.get("Default") == spec["default"], pname
        good, bad = KINDS[spec["kind"]]
        for value in good:
            assert accepts(param, value), (pname, value)
        for value in bad:
            assert not accepts(param, value), (pname, value)
        if spec["kind"] == "bool":
            assert param["AllowedValues"] == ["true", "false"], pname
        assert param.get("Description"), pname


@pytest.mark.parametrize("name", TEMPLATES)
def test_optional_parameters_are_exactly_those_with_defaults(name):
    tpl = template(name)
    rules = tpl["Metadata"]["SagemakerTemplateParameterRules"]
    with_default = {p for p, v in tpl["Parameters"].items() if "Default" in v}
    assert set(rules) == with_default
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
        path = props.get("Path", "/").strip("/")
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
    assert list(buckets) == ["ArtifactsBucket"]
    bucket = buckets["ArtifactsBucket"]
    props = bucket["Properties"]
    assert props["BucketName"] == {"Fn::Sub": "sagemaker-project-${SageMakerProjectId}"}
    assert bucket["DeletionPolicy"] == "Retain" and bucket["UpdateReplacePolicy"] == "Retain"
    sse = props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
    assert sse["SSEAlgorithm"] in ("AES256", "aws:kms")
    assert props["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True, "BlockPublicPolicy": True, "IgnorePublicAcls": True, "RestrictPublicBuckets": True}
    policies = [p for p in resources_of(tpl, "AWS::S3::BucketPolicy").values()
                if p["Properties"]["Bucket"] == {"Ref": "ArtifactsBucket"}]
    assert len(policies) == 1
    denies = [s for s in policies[0]["Properties"]["PolicyDocument"]["Statement"] if s["Effect"] == "Deny"]
    tls = [s for s in denies if s.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}]
    assert tls and tls[0]["Action"] in ("s3:*", ["s3:*"]) and tls[0]["Principal"] == "*"
    assert {"Fn::GetAtt": ["ArtifactsBucket", "Arn"]} in tls[0]["Resource"]
    assert {"Fn::Sub": "${ArtifactsBucket.Arn}/*"} in tls[0]["Resource"]


@pytest.mark.parametrize("name", TEMPLATES)
def test_no_inline_function_code(name):
    for _, value in walk(template(name)["Resources"]):
        if isinstance(value, dict):
            assert "ZipFile" not in value and "InlineCode" not in value


@pytest.mark.parametrize("name", TEMPLATES)
def test_each_repository_gets_seed_code_through_the_seed_function_interface(name):
    tpl = template(name)
    repos = SPEC[name]["repositories"]
    jenkins = "jenkins" in name
    assert set(resources_of(tpl, "Custom::SeedCode")) == {f"{r}SeedCode" for r in repos}
    for repo, key in repos.items():
        seed = seed_resource(tpl, repo)
        props = seed["Properties"]
        assert set(props) == SEED_INTERFACE
        assert props["ServiceToken"] == SEED_SERVICE_TOKEN
        assert props["SeedCodeBucket"] == {"Fn::Sub": "sagemaker-servicecatalog-seedcode-${AWS::Region}"}
        mapping = props["SeedCodeKey"]["Fn::FindInMap"]
        assert tpl["Mappings"][mapping[0]][mapping[1]][mapping[2]] == key
        connection = f"{repo}CodeConnectionArn" if jenkins else "CodeConnectionArn"
        assert props["ConnectionArn"] == {"Ref": connection}
        assert props["RepositoryFullName"] == {"Ref": f"{repo}CodeRepositoryFullname"}
        assert props["Branch"] == {"Ref": f"{repo}CodeRepositoryBranch"}
        project = tpl["Resources"][props["BuildProject"]["Ref"]]
        assert project["Type"] == "AWS::CodeBuild::Project"
        assert project["Properties"]["Source"]["Type"] == "NO_SOURCE"
        assert "version: 0.2" in project["Properties"]["Source"]["BuildSpec"]
        if jenkins:
            assert seed["Condition"] == f"Seed{repo}"
            assert tpl["Conditions"][f"Seed{repo}"] == {
                "Fn::Equals": [{"Ref": f"{repo}SeedCodeRequired"}, "true"]}
        else:
            assert "Condition" not in seed


@pytest.mark.parametrize("name", TEMPLATES)
def test_each_repository_is_registered_with_sagemaker_at_the_seeded_url(name):
    tpl = template(name)
    repos = SPEC[name]["repositories"]
    code_repos = resources_of(tpl, "AWS::SageMaker::CodeRepository")
    assert set(code_repos) == {f"{r}CodeRepository" for r in repos}
    for repo in repos:
        git = code_repos[f"{repo}CodeRepository"]["Properties"]["GitConfig"]
        seeded_url = {"Fn::GetAtt": [f"{repo}SeedCode", "RepositoryUrl"]}
        if "jenkins" in name:
            assert git["RepositoryUrl"] == {"Fn::If": [f"Seed{repo}", seeded_url, {"Ref": f"{repo}CodeRepositoryUrl"}]}
        else:
            assert git["RepositoryUrl"] == seeded_url
        assert git["Branch"] == {"Ref": f"{repo}CodeRepositoryBranch"}


def test_jenkins_seed_project_exists_only_when_some_seed_code_is_required():
    tpl = template("build-train-deploy-jenkins.yaml")
    assert tpl["Conditions"]["SeedAny"] == {"Fn::Or": [{"Condition": "SeedModelBuild"},
                                                       {"Condition": "SeedModelDeploy"}]}
    (project,) = resources_of(tpl, "AWS::CodeBuild::Project").values()
    assert project["Condition"] == "SeedAny"
    assert not resources_of(tpl, "AWS::CodePipeline::Pipeline")
    assert not resources_of(tpl, "AWS::Events::Rule")


def _layout(pipeline: dict) -> list:
    return [(stage["Name"], [(a["ActionTypeId"]["Category"], a["ActionTypeId"]["Provider"], a["RunOrder"])
                             for a in stage["Actions"]])
            for stage in pipeline["Properties"]["Stages"]]


@pytest.mark.parametrize("name", TEMPLATES)
def test_pipelines_are_v2_with_the_stages_of_the_facts(name):
    tpl = template(name)
    expected = SPEC[name]["pipelines"]
    pipelines = resources_of(tpl, "AWS::CodePipeline::Pipeline")
    assert set(pipelines) == {f"{p}Pipeline" for p in expected}
    connection = {"Ref": "CodeConnectionArn"}
    for prefix, layout in expected.items():
        pipeline = pipelines[f"{prefix}Pipeline"]
        props = pipeline["Properties"]
        assert props["PipelineType"] == "V2"
        assert props["Name"] == {"Fn::Sub": pipeline_name(prefix)}
        assert props["ArtifactStore"] == {"Type": "S3", "Location": {"Ref": "ArtifactsBucket"}}
        assert _layout(pipeline) == layout
        # the first run must see the seed commit
        assert pipeline["DependsOn"] == f"{prefix}SeedCode"
        source = props["Stages"][0]["Actions"][0]["Configuration"]
        assert source["ConnectionArn"] == connection
        assert source["FullRepositoryId"] == {"Ref": f"{prefix}CodeRepositoryFullname"}
        assert source["BranchName"] == {"Ref": f"{prefix}CodeRepositoryBranch"}
        for stage in props["Stages"]:
            for action in stage["Actions"]:
                if action["ActionTypeId"]["Provider"] == "CodeBuild":
                    project = tpl["Resources"][action["Configuration"]["ProjectName"]["Ref"]]
                    assert project["Properties"]["Source"]["Type"] == "CODEPIPELINE"


def test_model_build_project_gets_what_the_sagemaker_pipeline_needs():
    for name in ("build-train-codepipeline.yaml", "build-train-deploy-codepipeline.yaml",
                 "build-train-deploy-monitor-codepipeline.yaml"):
        env = {v["Name"]: v["Value"] for v in
               template(name)["Resources"]["ModelBuildProject"]["Properties"]["Environment"]["EnvironmentVariables"]}
        assert env["SAGEMAKER_PROJECT_NAME"] == {"Ref": "SageMakerProjectName"}
        assert env["SAGEMAKER_PROJECT_ID"] == {"Ref": "SageMakerProjectId"}
        assert env["ARTIFACT_BUCKET"] == {"Ref": "ArtifactsBucket"}
        assert env["SAGEMAKER_PIPELINE_NAME"] == {"Fn::Sub": "sagemaker-${SageMakerProjectName}"}
        assert env["SAGEMAKER_PIPELINE_ROLE_ARN"] == role_arn("Execution")


MODEL_PACKAGE_DETAIL_TYPE = "SageMaker Model Package State Change"
ENDPOINT_DETAIL_TYPE = "SageMaker Endpoint State Change"


@pytest.mark.parametrize("name", TEMPLATES)
def test_rules_watch_the_events_of_the_facts_and_start_the_right_pipeline(name):
    tpl = template(name)
    expected = SPEC[name]["rules"]
    rules = resources_of(tpl, "AWS::Events::Rule")
    assert {res["Properties"]["Name"]["Fn::Sub"].rsplit("}-", 1)[1] for res in rules.values()} == set(expected)
    for logical_id, res in rules.items():
        props = res["Properties"]
        kind = props["Name"]["Fn::Sub"].rsplit("}-", 1)[1]
        prefix, group = expected[kind]
        assert props["State"] == "ENABLED"
        pattern = props["EventPattern"]
        assert pattern["source"] == ["aws.sagemaker"]
        if kind == "model-approval":
            assert pattern["detail-type"] == [MODEL_PACKAGE_DETAIL_TYPE]
            assert pattern["detail"] == {"ModelPackageGroupName": [group],
                                         "ModelApprovalStatus": [{"anything-but": "PendingManualApproval"}]}
        else:
            assert pattern["detail-type"] == [ENDPOINT_DETAIL_TYPE]
            assert pattern["detail"] == {"EndpointName": [{"Fn::Sub": "${SageMakerProjectName}-staging"}],
                                         "EndpointStatus": ["IN_SERVICE"]}
        (target,) = props["Targets"]
        assert target["Arn"] == {"Fn::Sub": "arn:${AWS::Partition}:codepipeline:${AWS::Region}:${AWS::AccountId}:"
                                            + pipeline_name(prefix)}
        # the target names the pipeline by its name: depend on it so the rule never points at nothing
        assert res["DependsOn"] == f"{prefix}Pipeline"
        assert tpl["Resources"][f"{prefix}Pipeline"]["Properties"]["Name"] == {"Fn::Sub": pipeline_name(prefix)}


@pytest.mark.parametrize("name", TEMPLATES)
def test_outputs_give_the_bucket_and_the_pipeline_console_urls(name):
    outputs = template(name).get("Outputs", {})
    assert set(outputs) == SPEC[name]["outputs"]
    for prefix in SPEC[name]["pipelines"]:
        url = outputs[f"{prefix}PipelineUrl"]["Value"]["Fn::Sub"]
        assert url.startswith("https://${AWS::Region}.console.aws.amazon.com/codesuite/codepipeline/pipelines/")
        assert f"${{{prefix}Pipeline}}" in url


# ---------------------------------------------------------------------------------------------------------------
# The seed buildspec, run for real against local Git repositories.
# ---------------------------------------------------------------------------------------------------------------
FAKE_AWS = """#!/usr/bin/env bash
# stand-in for the AWS CLI: `aws s3 cp [--only-show-errors] s3://b/k dest` served from $FAKE_S3_ROOT/b/k
args=()
for a in "$@"; do [ "$a" = "--only-show-errors" ] || args+=("$a"); done
if [ "${args[0]}" = "s3" ] && [ "${args[1]}" = "cp" ]; then
  src="${args[2]#s3://}"
  [ -f "$FAKE_S3_ROOT/$src" ] || { echo "fatal error: An error occurred (404) when calling the HeadObject operation" >&2; exit 1; }
  cp "$FAKE_S3_ROOT/$src" "${args[3]}"
  exit 0
fi
echo "fake aws: unsupported call $*" >&2
exit 2
"""

SEED_URL = ("https://codeconnections.eu-west-1.amazonaws.com/git-http/123456789012/eu-west-1/"
            "0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0/example-org/model-build.git")


def seed_buildspec_commands(name: str) -> list[str]:
    tpl = template(name)
    (seed_project,) = {r["Properties"]["BuildProject"]["Ref"] for r in resources_of(tpl, "Custom::SeedCode").values()}
    spec = yaml.safe_load(tpl["Resources"][seed_project]["Properties"]["Source"]["BuildSpec"])
    assert spec["version"] == 0.2 and spec["env"]["shell"] == "bash"
    assert set(spec["phases"]) == {"build"}
    return spec["phases"]["build"]["commands"]


@pytest.fixture
def seed_env(tmp_path):
    for tool in ("git", "unzip", "bash"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed")
    home = tmp_path / "home"
    home.mkdir()
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "aws").write_text(FAKE_AWS)
    (bin_dir / "aws").chmod(0o755)
    s3 = tmp_path / "s3"
    seed_zip = s3 / "sagemaker-servicecatalog-seedcode-eu-west-1" / "toolchain" / "seed.zip"
    seed_zip.parent.mkdir(parents=True)
    with zipfile.ZipFile(seed_zip, "w") as zf:
        zf.writestr("README.md", "# seed\n")
        zf.writestr("pipelines/run_pipeline.py", "print('hello')\n")
    remote = tmp_path / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", str(remote)], check=True)
    # the CodeConnections URL is served by the local bare repository
    (home / ".gitconfig").write_text(f'[url "{remote}"]\n\tinsteadOf = {SEED_URL}\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(HOME=str(home), PATH=f"{bin_dir}{os.pathsep}{env['PATH']}", FAKE_S3_ROOT=str(s3),
               GIT_CONFIG_NOSYSTEM="1", SEED_BUCKET="sagemaker-servicecatalog-seedcode-eu-west-1",
               SEED_KEY="toolchain/seed.zip", REPOSITORY_URL=SEED_URL, BRANCH="main")
    return {"env": env, "remote": remote, "home": home, "tmp": tmp_path}


def run_buildspec(commands: list[str], env: dict, cwd: Path) -> subprocess.CompletedProcess:
    """Runs the commands as CodeBuild does: one bash shell per build, stop at the first failing command."""
    result = None
    for command in commands:
        result = subprocess.run(["bash", "-c", command], env=env, cwd=cwd, capture_output=True, text=True,
                                timeout=60)
        if result.returncode != 0:
            return result
    return result


def remote_refs(remote: Path) -> dict[str, str]:
    out = subprocess.run(["git", "--git-dir", str(remote), "for-each-ref", "--format=%(refname) %(objectname)"],
                         capture_output=True, text=True, check=True).stdout
    return dict(line.split() for line in out.splitlines())


@pytest.mark.parametrize("name", TEMPLATES)
def test_seed_build_pushes_the_zip_as_the_first_commit_of_the_branch(name, seed_env):
    commands = seed_buildspec_commands(name)
    result = run_buildspec(commands, seed_env["env"], seed_env["tmp"])
    assert result.returncode == 0, result.stdout + result.stderr
    refs = remote_refs(seed_env["remote"])
    assert set(refs) == {"refs/heads/main"}
    git = ["git", "--git-dir", str(seed_env["remote"])]
    files = subprocess.run(git + ["ls-tree", "-r", "--name-only", "main"], capture_output=True, text=True).stdout
    assert files.split() == ["README.md", "pipelines/run_pipeline.py"]
    parents = subprocess.run(git + ["rev-list", "--parents", "-n", "1", "main"], capture_output=True, text=True)
    assert len(parents.stdout.split()) == 1, "the seed commit must be a root commit"
    # git is set to sign git-http requests with the connection's region (taken from the URL host)
    config = (seed_env["home"] / ".gitconfig").read_text()
    assert "aws --region eu-west-1 codecommit credential-helper $@" in config
    assert re.search(r"usehttppath = true", config, re.IGNORECASE)


@pytest.mark.parametrize("name", TEMPLATES)
def test_seed_build_leaves_a_repository_with_commits_alone(name, seed_env):
    commands = seed_buildspec_commands(name)
    assert run_buildspec(commands, seed_env["env"], seed_env["tmp"]).returncode == 0
    before = remote_refs(seed_env["remote"])
    # a second run (a retried custom resource, an update) changes nothing
    again = run_buildspec(commands, seed_env["env"], seed_env["tmp"])
    assert again.returncode == 0, again.stderr
    assert remote_refs(seed_env["remote"]) == before
    # a repository holding only another branch is left alone too
    other = dict(seed_env["env"], BRANCH="develop")
    third = run_buildspec(commands, other, seed_env["tmp"])
    assert third.returncode == 0, third.stderr
    assert remote_refs(seed_env["remote"]) == before


@pytest.mark.parametrize("missing", ["SEED_BUCKET", "SEED_KEY", "REPOSITORY_URL", "BRANCH"])
def test_seed_build_fails_without_an_override(missing, seed_env):
    env = dict(seed_env["env"])
    env[missing] = ""
    result = run_buildspec(seed_buildspec_commands(TEMPLATES[0]), env, seed_env["tmp"])
    assert result.returncode != 0
    assert missing in result.stderr
    assert remote_refs(seed_env["remote"]) == {}


def test_seed_build_refuses_a_url_that_is_not_a_codeconnections_one(seed_env):
    env = dict(seed_env["env"], REPOSITORY_URL=f"file://{seed_env['remote']}")
    result = run_buildspec(seed_buildspec_commands(TEMPLATES[0]), env, seed_env["tmp"])
    assert result.returncode != 0
    assert "not a CodeConnections git-http URL" in result.stderr
    assert remote_refs(seed_env["remote"]) == {}


def test_seed_build_fails_when_the_seed_object_is_missing(seed_env):
    env = dict(seed_env["env"], SEED_KEY="toolchain/absent.zip")
    result = run_buildspec(seed_buildspec_commands(TEMPLATES[0]), env, seed_env["tmp"])
    assert result.returncode != 0
    assert remote_refs(seed_env["remote"]) == {}


def test_seed_build_fails_when_the_repository_cannot_be_read(seed_env):
    shutil.rmtree(seed_env["remote"])
    result = run_buildspec(seed_buildspec_commands(TEMPLATES[0]), seed_env["env"], seed_env["tmp"])
    assert result.returncode != 0
    assert "cannot list the refs" in result.stderr


def test_all_templates_share_one_seed_buildspec():
    assert len({json.dumps(seed_buildspec_commands(n)) for n in TEMPLATES}) == 1


# ---------------------------------------------------------------------------------------------------------------
# The templates as stacks in the emulator's CloudFormation
# ---------------------------------------------------------------------------------------------------------------
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
      "ModelBuildCodeRepositoryFullname": "example-org/model-build", "ModelBuildCodeConnectionArn": CONNECTION,
      "ModelDeployCodeRepositoryUrl": "https://github.com/example-org/model-deploy.git",
      "ModelDeployCodeRepositoryFullname": "example-org/model-deploy",
      "ModelDeployCodeConnectionArn": DEPLOY_CONNECTION, "ModelDeployCodeRepositoryBranch": "develop"},
     ["ModelBuild", "ModelDeploy"]),
    ("jenkins-build-only", "build-train-deploy-jenkins.yaml",
     {"ModelBuildCodeRepositoryUrl": "https://github.com/example-org/model-build.git",
      "ModelBuildCodeRepositoryFullname": "example-org/model-build", "ModelBuildCodeConnectionArn": CONNECTION,
      "ModelDeployCodeRepositoryUrl": "https://github.com/example-org/model-deploy.git",
      "ModelDeployCodeRepositoryFullname": "example-org/model-deploy",
      "ModelDeployCodeConnectionArn": DEPLOY_CONNECTION, "ModelDeploySeedCodeRequired": "false"},
     ["ModelBuild"]),
    ("jenkins-none", "build-train-deploy-jenkins.yaml",
     {"ModelBuildCodeRepositoryUrl": "https://github.com/example-org/model-build.git",
      "ModelBuildCodeRepositoryFullname": "example-org/model-build", "ModelBuildCodeConnectionArn": CONNECTION,
      "ModelBuildSeedCodeRequired": "false",
      "ModelDeployCodeRepositoryUrl": "https://github.com/example-org/model-deploy.git",
      "ModelDeployCodeRepositoryFullname": "example-org/model-deploy",
      "ModelDeployCodeConnectionArn": DEPLOY_CONNECTION, "ModelDeploySeedCodeRequired": "false"},
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


class SeedFunctionDouble:
    """Stands in for the seed-code Lambda: records the custom-resource events moto sends to it."""

    def __init__(self):
        self.events: list[dict] = []
        self._lock = threading.Lock()

    def invoke(self, function, body, *args, **kwargs):
        with self._lock:
            self.events.append(json.loads(body))
        return b""

    def wait_for(self, count: int, timeout: float = 10.0) -> list[dict]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.events) >= count:
                    return list(self.events)
            time.sleep(0.05)
        return list(self.events)


@pytest.fixture
def seed_function(aws, monkeypatch):
    """A Lambda in the emulator whose ARN is the SSM parameter the templates resolve; its invocations recorded."""
    from moto.awslambda import models as lambda_models

    double = SeedFunctionDouble()
    monkeypatch.setattr(lambda_models.LambdaFunction, "invoke",
                        lambda self, body, *a, **kw: double.invoke(self, body, *a, **kw))
    role = make_role(aws.client("iam"), "seedcode-double", trust=LAMBDA_TRUST)
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as zf:
        zf.writestr("bootstrap", "")
    fn = aws.client("lambda").create_function(
        FunctionName="sagemaker-projects-seedcode-double", Runtime="provided.al2023",
        Role=role, Handler="bootstrap", Code={"ZipFile": code.getvalue()})
    aws.client("ssm").put_parameter(Name=SEED_PARAMETER, Value=fn["FunctionArn"], Type="String")
    double.arn = fn["FunctionArn"]
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
        assert props["SeedCodeKey"] == SPEC[name]["repositories"][repo]
        assert props["ConnectionArn"] == params[f"{repo}CodeConnectionArn" if jenkins else "CodeConnectionArn"]
        assert props["RepositoryFullName"] == params[f"{repo}CodeRepositoryFullname"]
        assert props["Branch"] == params.get(f"{repo}CodeRepositoryBranch", "main")

    if seeded:
        # the stack waits for the seed code
        time.sleep(0.2)
        assert len(seed_function.events) == len(seeded)
        assert stack_status(cfn, stack_id) == "CREATE_IN_PROGRESS"
        for event in events:
            repo_name = params[f"{event['LogicalResourceId'].removesuffix('SeedCode')}CodeRepositoryFullname"]
            assert answer(aws, event, {
                "RepositoryUrl": f"https://codeconnections.{aws.region}.amazonaws.com/git-http/{aws.account_id}/"
                                 f"{aws.region}/0b1c2d3e/{repo_name}.git",
                "BuildId": "sagemaker-demo-p-abcdefghijkl-seedcode:0000"}) == 200
    assert stack_status(cfn, stack_id) == "CREATE_COMPLETE"

    # the artifacts bucket, encrypted
    bucket = f"sagemaker-project-{PROJECT['SageMakerProjectId']}"
    s3 = aws.client("s3")
    rule = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"

    # outputs (moto leaves ${<Pipeline>} unresolved: it skips CodePipeline resources)
    outputs = {o["OutputKey"]: o["OutputValue"]
               for o in cfn.describe_stacks(StackName=stack_id)["Stacks"][0].get("Outputs", [])}
    assert set(outputs) == SPEC[name]["outputs"]
    assert outputs["ArtifactsBucketName"] == bucket
    for prefix in SPEC[name]["pipelines"]:
        assert outputs[f"{prefix}PipelineUrl"].startswith(
            f"https://{aws.region}.console.aws.amazon.com/codesuite/codepipeline/pipelines/")

    # the EventBridge rules: names, targets and what they match
    eb = aws.client("events")
    rules = {r["Name"]: r for r in eb.list_rules()["Rules"]}
    project_id, project_name = PROJECT["SageMakerProjectId"], PROJECT["SageMakerProjectName"]
    assert set(rules) == {f"sagemaker-{project_id}-{kind}" for kind in SPEC[name]["rules"]}
    events_role = f"arn:aws:iam::{aws.account_id}:role/service-role/AmazonSageMakerProjectsEventsRole"
    for kind, (prefix, _) in SPEC[name]["rules"].items():
        rule_name = f"sagemaker-{project_id}-{kind}"
        assert rules[rule_name]["State"] == "ENABLED"
        (target,) = eb.list_targets_by_rule(Rule=rule_name)["Targets"]
        assert target["Arn"] == (f"arn:aws:codepipeline:{aws.region}:{aws.account_id}:"
                                 f"sagemaker-{project_name}-{project_id}-{prefix.lower()}")
        assert target["RoleArn"] == events_role
        if kind == "model-approval":
            group = params.get("SourceModelPackageGroupName", f"{project_name}-{project_id}")
            probes = [package_event(group, "Approved"), package_event(group, "Rejected"),
                      package_event(group, "PendingManualApproval"), package_event("other-group", "Approved")]
            assert probe_rule(aws, rule_name, probes) == [True, True, False, False]
        else:
            probes = [endpoint_event(f"{project_name}-staging", "IN_SERVICE"),
                      endpoint_event(f"{project_name}-staging", "CREATING"),
                      endpoint_event(f"{project_name}-prod", "IN_SERVICE")]
            assert probe_rule(aws, rule_name, probes) == [True, False, False]
