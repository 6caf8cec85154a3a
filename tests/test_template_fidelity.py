"""Fidelity: each of our five templates against its own table of the SageMaker-provided template's facts
(aws-samples/sagemaker-custom-project-templates, s3_templates/sample-templates/templates/<name>.yaml; aws-facts §4,
issue 14). Users bring automation, seed code and Jenkins jobs that expect exactly these names, keys and variables.

Each table lists, for one template: its parameters (type, default and every constraint, none stricter than
upstream's), the seed zips per repository, the check-in project (source, buildspec, timeout, variables), every
CodeBuild project by name suffix with upstream's environment variables (literal values compared), the CloudFormation
deploy actions (stack names, action modes, capabilities), pipelines (names, stages, actions, artifacts), rules (names,
target ids), output keys and logical ids with their types. A single drift fails a test naming it.

What ours may add (kept, not compared): variables such as SAGEMAKER_PROJECT_ARN, encryption and a TLS-only bucket
policy, outputs. What ours replaces: upstream's inline Python function and its AWS::CloudFormation::CustomResource
invokers (`…SeedCodeCheckinProjectTriggerLambda…`) are one `Custom::SeedCode` per seeded repository, served by the
Rust seed function whose ARN is read from SSM.

The emulator part creates a SageMaker project from each template with the real seed function (through cargo-lambda)
and checks that it reaches CreateCompleted and what the function sent to StartBuild (v1.1 and v1.0).
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from harness import cfn_yaml, ext_lambda
from harness.emulator import ACCOUNT_ID, REGION
from harness.fixtures import make_function

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE_DIR = ROOT / "templates"


def template(name: str) -> dict:
    return cfn_yaml.load((TEMPLATE_DIR / name).read_text())


# ---------------------------------------------------------------------------------------------------------------
# Rendering: a template value as the string CloudFormation would make of it (for one set of parameters).
# ---------------------------------------------------------------------------------------------------------------
ENV = {"SageMakerProjectName": "demo", "SageMakerProjectId": "p-abcdefghijkl", "AWS::Region": "eu-west-1",
       "AWS::AccountId": "123456789012", "AWS::Partition": "aws", "SourceModelPackageGroupName": "AbaloneModels",
       "MlOpsArtifactsBucket": "sagemaker-project-p-abcdefghijkl"}


def render(value, tpl: dict | None = None):
    """Upstream-comparable string of a value: !Ref of a parameter or the bucket, !Sub, !Join; other values as is."""
    import re

    if isinstance(value, (str, int, bool)):
        return str(value) if not isinstance(value, bool) else str(value).lower()
    if isinstance(value, dict) and "Ref" in value:
        if value["Ref"] in ENV:
            return ENV[value["Ref"]]
        return f"<{value['Ref']}>"
    if isinstance(value, dict) and "Fn::Sub" in value:
        s = value["Fn::Sub"]
        return re.sub(r"\$\{([^}]+)\}", lambda m: ENV.get(m.group(1), f"<{m.group(1)}>"), s)
    if isinstance(value, dict) and "Fn::Join" in value:
        sep, items = value["Fn::Join"]
        return sep.join(render(i, tpl) for i in items)
    return value


ROLE = "arn:aws:iam::123456789012:role/service-role/AmazonSageMakerProjects{}Role"
NAME = "sagemaker-demo-p-abcdefghijkl"
GROUP = "demo-p-abcdefghijkl"
BUCKET = "sagemaker-project-p-abcdefghijkl"

# ---------------------------------------------------------------------------------------------------------------
# The facts, per template.
# ---------------------------------------------------------------------------------------------------------------
PROJECT_PARAMS = {
    "SageMakerProjectName": {"Type": "String", "MinLength": 1, "MaxLength": 32,
                             "AllowedPattern": "^[a-zA-Z](-*[a-zA-Z0-9])*"},
    "SageMakerProjectId": {"Type": "String"},
}
CONNECTION_PARAM = {"CodeConnectionArn": {"Type": "String"}}


def repo_params(prefix: str, branch_max: bool = False) -> dict:
    branch = {"Type": "String", "Default": "main"}
    if branch_max:
        branch["MaxLength"] = 255
    return {f"{prefix}CodeRepositoryBranch": branch,
            f"{prefix}CodeRepositoryFullname": {"Type": "String", "MaxLength": 1024}}


def jenkins_params(prefix: str, url_max: bool, branch_max: bool) -> dict:
    url = {"Type": "String", **({"MaxLength": 1024} if url_max else {})}
    return {f"{prefix}CodeRepositoryUrl": url, **repo_params(prefix, branch_max),
            f"{prefix}CodeRepositoryCodestarConnectionArn": {"Type": "String"},
            f"{prefix}CodeRepositoryIsSeedcodeRequired": {"Type": "String", "Default": "true",
                                                          "AllowedValues": ["true", "false"]}}


CHECKIN_V11 = {"Location": "sagemaker-servicecatalog-seedcode-eu-west-1/bootstrap/"
                           "GitRepositorySeedCodeCheckinCodeBuildProject-v1.1.zip",
               "BuildSpec": "buildspec.yml", "TimeoutInMinutes": 14, "Environment": {}}
CHECKIN_V10 = {"Location": "sagemaker-servicecatalog-seedcode-eu-west-1/bootstrap/"
                           "GitRepositorySeedCodeCheckinCodeBuildProject-v1.0.zip",
               "BuildSpec": "buildspec-jenkins.yml", "TimeoutInMinutes": 14,
               "Environment": {"ARTIFACT_BUCKET": BUCKET, "AWS_REGION": "eu-west-1",
                               "MODEL_EXECUTION_ROLE_ARN": ROLE.format("Execution"),
                               "SAGEMAKER_PIPELINE_ROLE_ARN": ROLE.format("Execution"),
                               "SAGEMAKER_PROJECT_ID": "p-abcdefghijkl", "SAGEMAKER_PROJECT_NAME": "demo",
                               "SOURCE_MODEL_PACKAGE_GROUP_NAME": GROUP}}

COMMON_VARS = {"SAGEMAKER_PROJECT_NAME": "demo", "SAGEMAKER_PROJECT_ID": "p-abcdefghijkl", "AWS_REGION": "eu-west-1"}
MODELBUILD = ("modelbuild", "SageMakerModelPipelineBuildProject", "codebuild-buildspec.yml", 480, {
    **COMMON_VARS, "ARTIFACT_BUCKET": BUCKET, "SAGEMAKER_PIPELINE_NAME": "sagemaker-demo",
    "SAGEMAKER_PIPELINE_ROLE_ARN": ROLE.format("Execution")})


def modeldeploy(group: str):
    return ("modeldeploy", "ModelDeployBuildProject", "buildspec.yml", 30, {
        **COMMON_VARS, "ARTIFACT_BUCKET": BUCKET, "MODEL_EXECUTION_ROLE_ARN": ROLE.format("Execution"),
        "SOURCE_MODEL_PACKAGE_GROUP_NAME": group, "EXPORT_TEMPLATE_NAME": "template-export.yml",
        "EXPORT_TEMPLATE_STAGING_CONFIG": "staging-config-export.json",
        "EXPORT_TEMPLATE_PROD_CONFIG": "prod-config-export.json"})


TESTING = ("testing", "ModelDeployTestProject", "test/buildspec.yml", 30, {
    **COMMON_VARS, "BUILD_CONFIG": "staging-config-export.json", "EXPORT_TEST_RESULTS": "test-results.json"})
MODELMONITOR = ("modelmonitor", "GetBaselinesAndConfigs", "buildspec.yml", None, {
    **COMMON_VARS, "ARTIFACT_BUCKET": BUCKET, "MONITOR_OUTPUTS_BUCKET": BUCKET,
    "MODEL_MONITOR_ROLE_ARN": ROLE.format("Execution"),
    "EXPORT_TEMPLATE_NAME": "model-monitor-template-export.yml",
    "EXPORT_TEMPLATE_STAGING_CONFIG": "staging-monitoring-schedule-config-export.json",
    "EXPORT_TEMPLATE_PROD_CONFIG": "prod-monitoring-schedule-config-export.json"})

# pipeline: logical id -> (name suffix, [(stage, [(action, provider, run order, inputs, outputs)])])
BUILD_PIPELINE = ("ModelBuildPipeline", "modelbuild", [
    ("Source", [("ModelBuildWorkflowCode", "CodeStarSourceConnection", 1, [], ["ModelBuildSourceArtifact"])]),
    ("Build", [("BuildAndExecuteSageMakerPipeline", "CodeBuild", 1, ["ModelBuildSourceArtifact"],
                ["ModelBuildBuildArtifact"])]),
])
DEPLOY_PIPELINE = ("ModelDeployPipeline", "modeldeploy", [
    ("Source", [("ModelDeployInfraCode", "CodeStarSourceConnection", 1, [], ["SourceArtifact"])]),
    ("Build", [("BuildDeploymentTemplates", "CodeBuild", 1, ["SourceArtifact"], ["BuildArtifact"])]),
    ("DeployStaging", [("DeployResourcesStaging", "CloudFormation", 1, ["BuildArtifact"], []),
                       ("TestStaging", "CodeBuild", 2, ["SourceArtifact", "BuildArtifact"], ["TestArtifact"]),
                       ("ApproveDeployment", "Manual", 3, [], [])]),
    ("DeployProd", [("DeployResourcesProd", "CloudFormation", 1, ["BuildArtifact"], [])]),
])
MONITOR_PIPELINE = ("SageMakerMonitorPipeline", "modelmonitor", [
    ("Source", [("ModelMonitorInfraCode", "CodeStarSourceConnection", 1, [], ["ModelMonitorSourceArtifact"])]),
    ("Build", [("GetBaselinesAndConfigs", "CodeBuild", 1, ["ModelMonitorSourceArtifact"],
                ["ModelMonitorBuildArtifact"])]),
    ("DeployStaging", [("DeployMonitorsStaging", "CloudFormation", 1, ["ModelMonitorBuildArtifact"], []),
                       ("ApproveMonitorsProdDeployment", "Manual", 2, [], [])]),
    ("DeployProd", [("DeployMonitorsProd", "CloudFormation", 1, ["ModelMonitorBuildArtifact"], [])]),
])
# CloudFormation deploy actions: action -> (stack name, mode, template path, template configuration)
DEPLOY_ACTIONS = {
    "DeployResourcesStaging": (f"{NAME}-deploy-staging", "REPLACE_ON_FAILURE", "BuildArtifact::template-export.yml",
                               "BuildArtifact::staging-config-export.json"),
    "DeployResourcesProd": (f"{NAME}-deploy-prod", "CREATE_UPDATE", "BuildArtifact::template-export.yml",
                            "BuildArtifact::prod-config-export.json"),
}
MONITOR_ACTIONS = {
    "DeployMonitorsStaging": (f"{NAME}-modelmonitor-staging", "REPLACE_ON_FAILURE",
                              "ModelMonitorBuildArtifact::model-monitor-template-export.yml",
                              "ModelMonitorBuildArtifact::staging-monitoring-schedule-config-export.json"),
    "DeployMonitorsProd": (f"{NAME}-modelmonitor-prod", "CREATE_UPDATE",
                           "ModelMonitorBuildArtifact::model-monitor-template-export.yml",
                           "ModelMonitorBuildArtifact::prod-monitoring-schedule-config-export.json"),
}
# rules: logical id -> (name, target id, pipeline name suffix, detail-type, detail)
MODEL_RULE = lambda group: ("ModelDeploySageMakerEventRule", (  # noqa: E731
    f"{NAME}-model", "sagemaker-demo-trigger", "modeldeploy", "SageMaker Model Package State Change",
    {"ModelPackageGroupName": [group], "ModelApprovalStatus": [{"anything-but": ["PendingManualApproval"]}]}))
ENDPOINT_RULE = ("InServiceEndpointEventRule", (
    f"{NAME}-ep", "sagemaker-demo-endpoint-trigger", "modelmonitor", "SageMaker Endpoint State Change",
    {"EndpointName": ["demo-staging"], "EndpointStatus": ["IN_SERVICE"]}))

S3 = "AWS::S3::Bucket"
CB = "AWS::CodeBuild::Project"
CP = "AWS::CodePipeline::Pipeline"
REPO = "AWS::SageMaker::CodeRepository"
RULE = "AWS::Events::Rule"

FACTS = {
    "build-train-codepipeline.yaml": {
        "parameters": {**PROJECT_PARAMS, **repo_params("ModelBuild", True), **CONNECTION_PARAM},
        "optional": {"ModelBuildCodeRepositoryBranch"},
        "seeds": {"ModelBuild": "toolchain/model-building-workflow-v1.0.zip"},
        "checkin": CHECKIN_V11,
        "codebuild": [MODELBUILD],
        "pipelines": [BUILD_PIPELINE],
        "deploy_actions": {},
        "rules": {},
        "outputs": set(),
        "logical_ids": {"GitSeedCodeCheckinProject": CB, "MlOpsArtifactsBucket": S3, "ModelBuildPipeline": CP,
                        "ModelBuildSagemakerCodeRepository": REPO, "SageMakerModelPipelineBuildProject": CB},
    },
    "build-train-deploy-codepipeline.yaml": {
        "parameters": {**PROJECT_PARAMS, **repo_params("ModelBuild", True), **repo_params("ModelDeploy"),
                       **CONNECTION_PARAM},
        "optional": {"ModelBuildCodeRepositoryBranch", "ModelDeployCodeRepositoryBranch"},
        "seeds": {"ModelBuild": "toolchain/model-building-workflow-v1.0.zip",
                  "ModelDeploy": "toolchain/mpg-deployment-config-v1.0.zip"},
        "checkin": CHECKIN_V11,
        "codebuild": [MODELBUILD, modeldeploy(GROUP), TESTING],
        "pipelines": [BUILD_PIPELINE, DEPLOY_PIPELINE],
        "deploy_actions": DEPLOY_ACTIONS,
        "rules": dict([MODEL_RULE(GROUP)]),
        "outputs": set(),
        "logical_ids": {"GitSeedCodeCheckinProject": CB, "MlOpsArtifactsBucket": S3, "ModelBuildPipeline": CP,
                        "ModelBuildSagemakerCodeRepository": REPO, "ModelDeployBuildProject": CB,
                        "ModelDeployPipeline": CP, "ModelDeploySageMakerEventRule": RULE,
                        "ModelDeploySagemakerCodeRepository": REPO, "ModelDeployTestProject": CB,
                        "SageMakerModelPipelineBuildProject": CB},
    },
    "build-train-deploy-jenkins.yaml": {
        "parameters": {**PROJECT_PARAMS, **jenkins_params("ModelBuild", True, True),
                       **jenkins_params("ModelDeploy", False, False)},
        "optional": {"ModelBuildCodeRepositoryBranch", "ModelDeployCodeRepositoryBranch"},
        "seeds": {"ModelBuild": "toolchain/model-building-workflow-jenkins-v1.0.zip",
                  "ModelDeploy": "toolchain/mpg-deployment-config-jenkins-v1.0.zip"},
        "checkin": CHECKIN_V10,
        "codebuild": [],
        "pipelines": [],
        "deploy_actions": {},
        "rules": {},
        "outputs": set(),
        "logical_ids": {"GitSeedCodeCheckinProject": CB, "MlOpsArtifactsBucket": S3,
                        "ModelBuildSagemakerCodeRepository": REPO, "ModelDeploySagemakerCodeRepository": REPO},
    },
    "build-train-deploy-monitor-codepipeline.yaml": {
        "parameters": {**PROJECT_PARAMS, **repo_params("ModelBuild", True), **repo_params("ModelDeploy"),
                       **repo_params("ModelMonitor"), **CONNECTION_PARAM},
        "optional": {"ModelBuildCodeRepositoryBranch", "ModelDeployCodeRepositoryBranch",
                     "ModelMonitorCodeRepositoryBranch"},
        "seeds": {"ModelBuild": "toolchain/model-building-workflow-mm-clarify-v1.0.zip",
                  "ModelDeploy": "toolchain/mpg-deployment-config-v1.0.zip",
                  "ModelMonitor": "toolchain/model-monitor-workflow-v1.0.zip"},
        "checkin": CHECKIN_V11,
        "codebuild": [MODELBUILD, modeldeploy(GROUP), TESTING, MODELMONITOR],
        "pipelines": [BUILD_PIPELINE, DEPLOY_PIPELINE, MONITOR_PIPELINE],
        "deploy_actions": {**DEPLOY_ACTIONS, **MONITOR_ACTIONS},
        "rules": dict([MODEL_RULE(GROUP), ENDPOINT_RULE]),
        "outputs": {"ModelBuildPipeline", "ModelDeployPipeline", "ModelMonitorPipeline"},
        "logical_ids": {"GetBaselinesAndConfigs": CB, "GitSeedCodeCheckinProject": CB,
                        "InServiceEndpointEventRule": RULE, "MlOpsArtifactsBucket": S3, "ModelBuildPipeline": CP,
                        "ModelBuildSagemakerCodeRepository": REPO, "ModelDeployBuildProject": CB,
                        "ModelDeployPipeline": CP, "ModelDeploySageMakerEventRule": RULE,
                        "ModelDeploySagemakerCodeRepository": REPO, "ModelDeployTestProject": CB,
                        "ModelMonitorSagemakerCodeRepository": REPO, "SageMakerModelPipelineBuildProject": CB,
                        "SageMakerMonitorPipeline": CP},
    },
    "deploy-codepipeline.yaml": {
        "parameters": {**PROJECT_PARAMS, "SourceModelPackageGroupName": {"Type": "String"},
                       **repo_params("ModelDeploy"), **CONNECTION_PARAM},
        "optional": {"ModelDeployCodeRepositoryBranch"},
        "seeds": {"ModelDeploy": "toolchain/mpg-deployment-config-v1.1.zip"},
        "checkin": CHECKIN_V11,
        "codebuild": [modeldeploy("AbaloneModels"), TESTING],
        "pipelines": [DEPLOY_PIPELINE],
        "deploy_actions": DEPLOY_ACTIONS,
        "rules": dict([MODEL_RULE("AbaloneModels")]),
        "outputs": set(),
        "logical_ids": {"GitSeedCodeCheckinProject": CB, "MlOpsArtifactsBucket": S3, "ModelDeployBuildProject": CB,
                        "ModelDeployPipeline": CP, "ModelDeploySageMakerEventRule": RULE,
                        "ModelDeploySagemakerCodeRepository": REPO, "ModelDeployTestProject": CB},
    },
}
TEMPLATES = sorted(FACTS)
CONSTRAINT_KEYS = ("Type", "Default", "MinLength", "MaxLength", "AllowedPattern", "AllowedValues")
SEED_TOKEN = "{{resolve:ssm:/sagemaker-projects-bootstrap/seedcode-function-arn}}"


def test_the_tables_cover_the_five_templates():
    assert sorted(p.name for p in TEMPLATE_DIR.glob("*.yaml")) == TEMPLATES


@pytest.mark.parametrize("name", TEMPLATES)
def test_parameters_have_upstreams_names_types_defaults_and_constraints(name):
    params = template(name)["Parameters"]
    assert set(params) == set(FACTS[name]["parameters"])
    for pname, expected in FACTS[name]["parameters"].items():
        got = {k: params[pname][k] for k in CONSTRAINT_KEYS if k in params[pname]}
        assert got == expected, pname


@pytest.mark.parametrize("name", TEMPLATES)
def test_optional_parameters_are_upstreams(name):
    rules = template(name)["Metadata"]["SagemakerTemplateParameterRules"]
    assert rules == {p: {"Optional": True} for p in FACTS[name]["optional"]}


@pytest.mark.parametrize("name", TEMPLATES)
def test_every_upstream_logical_id_is_kept_with_its_type(name):
    resources = template(name)["Resources"]
    for logical_id, rtype in FACTS[name]["logical_ids"].items():
        assert logical_id in resources, logical_id
        assert resources[logical_id]["Type"] == rtype, logical_id


@pytest.mark.parametrize("name", TEMPLATES)
def test_each_repository_is_seeded_with_upstreams_zip_by_the_seed_function(name):
    tpl = template(name)
    seeds = {k: v for k, v in tpl["Resources"].items() if v["Type"] == "Custom::SeedCode"}
    jenkins = "jenkins" in name
    assert set(seeds) == {f"{repo}SeedCode" for repo in FACTS[name]["seeds"]}
    for repo, key in FACTS[name]["seeds"].items():
        props = seeds[f"{repo}SeedCode"]["Properties"]
        assert props["ServiceToken"] == SEED_TOKEN
        assert render(props["SeedCodeBucket"]) == "sagemaker-servicecatalog-seedcode-eu-west-1"
        assert props["SeedCodeKey"] == key
        assert props["BuildProject"] == {"Ref": "GitSeedCodeCheckinProject"}
        assert props["Branch"] == {"Ref": f"{repo}CodeRepositoryBranch"}
        assert props["RepositoryFullName"] == {"Ref": f"{repo}CodeRepositoryFullname"}
        if jenkins:
            assert props["ConnectionArn"] == {"Ref": f"{repo}CodeRepositoryCodestarConnectionArn"}
            assert props["CheckinVersion"] == "v1.0"
            assert props["SeedCodeUpdateFileName"] == "jenkins/seed_job.groovy"
            assert seeds[f"{repo}SeedCode"]["Condition"] == f"CreateResourceFor{repo}SeedcodeCheckin"
        else:
            assert props["ConnectionArn"] == {"Ref": "CodeConnectionArn"}
            assert "CheckinVersion" not in props and "SeedCodeUpdateFileName" not in props


@pytest.mark.parametrize("name", TEMPLATES)
def test_the_check_in_project_is_awss(name):
    tpl = template(name)
    project = tpl["Resources"]["GitSeedCodeCheckinProject"]["Properties"]
    expected = FACTS[name]["checkin"]
    assert render(project["Name"]) == f"{NAME}-git-seedcodecheckin"
    assert project["Source"]["Type"] == "S3"
    assert render(project["Source"]["Location"]) == expected["Location"]
    assert project["Source"]["BuildSpec"] == expected["BuildSpec"]
    assert project["TimeoutInMinutes"] == expected["TimeoutInMinutes"]
    assert project["Artifacts"] == {"Type": "NO_ARTIFACTS"}
    assert render(project["ServiceRole"]) == ROLE.format("CodeBuild")
    env = {v["Name"]: render(v["Value"]) for v in project["Environment"].get("EnvironmentVariables", [])}
    assert env == expected["Environment"]
    if "jenkins" in name:
        assert tpl["Resources"]["GitSeedCodeCheckinProject"]["Condition"] == "CreateResourceForAnySeedCodeCheckin"
        assert tpl["Conditions"] == {
            "CreateResourceForModelBuildSeedcodeCheckin": {
                "Fn::Equals": [{"Ref": "ModelBuildCodeRepositoryIsSeedcodeRequired"}, "true"]},
            "CreateResourceForModelDeploySeedcodeCheckin": {
                "Fn::Equals": [{"Ref": "ModelDeployCodeRepositoryIsSeedcodeRequired"}, "true"]},
            "CreateResourceForAnySeedCodeCheckin": {"Fn::Or": [
                {"Fn::Equals": [{"Ref": "ModelBuildCodeRepositoryIsSeedcodeRequired"}, "true"]},
                {"Fn::Equals": [{"Ref": "ModelDeployCodeRepositoryIsSeedcodeRequired"}, "true"]}]}}


@pytest.mark.parametrize("name", TEMPLATES)
def test_codebuild_projects_have_upstreams_names_buildspecs_and_variables(name):
    resources = template(name)["Resources"]
    projects = {k for k, v in resources.items() if v["Type"] == CB} - {"GitSeedCodeCheckinProject"}
    assert projects == {logical for _, logical, _, _, _ in FACTS[name]["codebuild"]}
    for suffix, logical, buildspec, timeout, variables in FACTS[name]["codebuild"]:
        props = resources[logical]["Properties"]
        assert render(props["Name"]) == f"{NAME}-{suffix}", logical
        assert props["Source"] == {"Type": "CODEPIPELINE", "BuildSpec": buildspec}, logical
        assert props.get("TimeoutInMinutes") == timeout, logical
        assert props["Artifacts"] == {"Type": "CODEPIPELINE"}, logical
        assert render(props["ServiceRole"]) == ROLE.format("CodeBuild"), logical
        env = {v["Name"]: render(v["Value"]) for v in props["Environment"]["EnvironmentVariables"]}
        for var, value in variables.items():
            assert env.get(var) == value, (logical, var)


@pytest.mark.parametrize("name", TEMPLATES)
def test_pipelines_have_upstreams_names_stages_actions_and_artifacts(name):
    resources = template(name)["Resources"]
    pipelines = {k for k, v in resources.items() if v["Type"] == CP}
    assert pipelines == {logical for logical, _, _ in FACTS[name]["pipelines"]}
    for logical, suffix, stages in FACTS[name]["pipelines"]:
        props = resources[logical]["Properties"]
        assert render(props["Name"]) == f"{NAME}-{suffix}"
        assert props["PipelineType"] == "V2"
        assert render(props["RoleArn"]) == ROLE.format("CodePipeline")
        assert props["ArtifactStore"] == {"Type": "S3", "Location": {"Ref": "MlOpsArtifactsBucket"}}
        layout = [(s["Name"], [(a["Name"], a["ActionTypeId"]["Provider"], int(a.get("RunOrder", 1)),
                                [i["Name"] for i in a.get("InputArtifacts", [])],
                                [o["Name"] for o in a.get("OutputArtifacts", [])]) for a in s["Actions"]])
                  for s in props["Stages"]]
        assert layout == stages, logical


@pytest.mark.parametrize("name", TEMPLATES)
def test_every_cloudformation_deploy_action_is_upstreams_with_named_iam(name):
    resources = template(name)["Resources"]
    seen = {}
    for res in resources.values():
        if res["Type"] != CP:
            continue
        for stage in res["Properties"]["Stages"]:
            for action in stage["Actions"]:
                if action["ActionTypeId"]["Provider"] == "CloudFormation":
                    c = action["Configuration"]
                    assert c["Capabilities"] == "CAPABILITY_NAMED_IAM", action["Name"]
                    assert render(c["RoleArn"]) == ROLE.format("Cloudformation"), action["Name"]
                    seen[action["Name"]] = (render(c["StackName"]), c["ActionMode"], c["TemplatePath"],
                                            c["TemplateConfiguration"])
    assert seen == FACTS[name]["deploy_actions"]


@pytest.mark.parametrize("name", TEMPLATES)
def test_rules_have_upstreams_names_patterns_and_target_ids(name):
    resources = template(name)["Resources"]
    rules = {k: v for k, v in resources.items() if v["Type"] == RULE}
    assert set(rules) == set(FACTS[name]["rules"])
    for logical, (rule_name, target_id, pipeline, detail_type, detail) in FACTS[name]["rules"].items():
        props = rules[logical]["Properties"]
        assert render(props["Name"]) == rule_name
        assert props["State"] == "ENABLED"
        pattern = props["EventPattern"]
        assert pattern["source"] == ["aws.sagemaker"] and pattern["detail-type"] == [detail_type]
        assert {k: [render(v) for v in vs] for k, vs in pattern["detail"].items()} == detail
        (target,) = props["Targets"]
        assert render(target["Id"]) == target_id
        assert render(target["Arn"]) == f"arn:aws:codepipeline:eu-west-1:123456789012:{NAME}-{pipeline}"
        assert render(target["RoleArn"]) == ROLE.format("Events")


@pytest.mark.parametrize("name", TEMPLATES)
def test_upstreams_output_keys_are_kept(name):
    outputs = template(name).get("Outputs", {})
    assert FACTS[name]["outputs"] <= set(outputs)
    pipelines = {"ModelBuildPipeline": "ModelBuildPipeline", "ModelDeployPipeline": "ModelDeployPipeline",
                 "ModelMonitorPipeline": "SageMakerMonitorPipeline"}
    for key in FACTS[name]["outputs"]:
        assert outputs[key]["Value"] == {"Fn::Sub": "https://console.aws.amazon.com/codesuite/codepipeline/pipelines/"
                                                    f"${{{pipelines[key]}}}/view?region=${{AWS::Region}}"}


@pytest.mark.parametrize("name", TEMPLATES)
def test_code_repositories_use_the_seeded_url_or_jenkins_the_users(name):
    resources = template(name)["Resources"]
    for repo in FACTS[name]["seeds"]:
        props = resources[f"{repo}SagemakerCodeRepository"]["Properties"]
        assert render(props["CodeRepositoryName"]) == f"sagemaker-p-abcdefghijkl-{repo.lower()}"
        assert props["GitConfig"]["Branch"] == {"Ref": f"{repo}CodeRepositoryBranch"}
        if "jenkins" in name:
            assert props["GitConfig"]["RepositoryUrl"] == {"Ref": f"{repo}CodeRepositoryUrl"}
        else:
            assert props["GitConfig"]["RepositoryUrl"] == {"Fn::GetAtt": [f"{repo}SeedCode", "url"]}


@pytest.mark.parametrize("name", TEMPLATES)
def test_artifacts_bucket_is_upstreams_and_retained(name):
    bucket = template(name)["Resources"]["MlOpsArtifactsBucket"]
    assert render(bucket["Properties"]["BucketName"]) == BUCKET
    assert bucket["DeletionPolicy"] == "Retain"


def _custom_resources(path: Path) -> dict:
    tpl = cfn_yaml.load(path.read_text())
    return {k: v for k, v in tpl["Resources"].items() if v["Type"].startswith("Custom::")}


def _function_timeouts(path: Path) -> dict:
    tpl = cfn_yaml.load(path.read_text())
    return {k: v["Properties"]["Timeout"] for k, v in tpl["Resources"].items() if v["Type"] == "AWS::Lambda::Function"}


SEED_FUNCTION_TIMEOUT = _function_timeouts(ROOT / "infra" / "bootstrap.yaml")["SeedCodeFunction"]


# every template of ours that declares a custom resource (a template without one would pass having checked nothing)
WITH_CUSTOM_RESOURCES = [p for p in sorted(TEMPLATE_DIR.glob("*.yaml")) + sorted((ROOT / "infra").glob("*.yaml"))
                         if _custom_resources(p)]


def test_the_templates_with_custom_resources_are_the_project_templates_and_the_bootstrap_stack():
    assert [p.name for p in WITH_CUSTOM_RESOURCES] == [*sorted(FACTS), "bootstrap.yaml"]


@pytest.mark.parametrize("path", WITH_CUSTOM_RESOURCES, ids=lambda p: p.name)
def test_every_custom_resource_has_a_service_timeout_sized_to_its_function(path):
    timeouts = _function_timeouts(path)
    assert _custom_resources(path), path
    for logical, res in _custom_resources(path).items():
        props = res["Properties"]
        assert "ServiceTimeout" in props, logical
        token = props["ServiceToken"]
        limit = timeouts[token["Fn::GetAtt"][0]] if isinstance(token, dict) else SEED_FUNCTION_TIMEOUT
        assert limit + 60 <= int(props["ServiceTimeout"]) <= 3600, logical


# ---------------------------------------------------------------------------------------------------------------
# In the emulator: a SageMaker project from each template, the real seed function behind Custom::SeedCode.
# ---------------------------------------------------------------------------------------------------------------
CONNECTION_ID = "0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0"
TEMPLATE_BUCKET = "sagemaker-fidelity-templates"

needs_seed_binary = pytest.mark.skipif(
    not ext_lambda.binary_path("seedcode-checkin").exists(),
    reason="target/debug/seedcode-checkin is not built (run `cargo build --workspace --bins`)")


@pytest.fixture
def seed_function(aws):
    """sagemaker-projects-seedcode (the real binary) and its SSM pointer, as the bootstrap stack makes them."""
    # STACK_ID: a bootstrap stack of this account and region, as infra/bootstrap.yaml sets it (resources/bounds.rs)
    bootstrap = f"arn:aws:cloudformation:{REGION}:{ACCOUNT_ID}:stack/sagemaker-projects-bootstrap/1"
    arn = make_function(aws, "sagemaker-projects-seedcode", "seedcode-checkin", role_name="seedcode-fn", Timeout=900,
                        Environment={"Variables": {"STACK_ID": bootstrap}})
    aws.client("ssm").put_parameter(Name="/sagemaker-projects-bootstrap/seedcode-function-arn", Value=arn,
                                    Type="String")
    return arn


@pytest.fixture
def start_builds(monkeypatch):
    """Every StartBuild request as moto received it."""
    from moto.codebuild.responses import CodeBuildResponse

    seen = []
    original = CodeBuildResponse.start_build

    def spy(self):
        seen.append({k: self._get_param(k) for k in
                     ("projectName", "environmentVariablesOverride", "secondarySourcesOverride", "idempotencyToken")})
        return original(self)

    monkeypatch.setattr(CodeBuildResponse, "start_build", spy)
    return seen


def create_project(aws, template_name: str, project: str, params: dict) -> dict:
    s3 = aws.client("s3")
    if TEMPLATE_BUCKET not in [b["Name"] for b in s3.list_buckets()["Buckets"]]:
        s3.create_bucket(Bucket=TEMPLATE_BUCKET)
    s3.put_object(Bucket=TEMPLATE_BUCKET, Key=template_name, Body=(TEMPLATE_DIR / template_name).read_bytes(),
                  Tagging="sagemaker:studio-visibility=true")
    url = f"https://{TEMPLATE_BUCKET}.s3.{aws.region}.amazonaws.com/{template_name}"
    sm = aws.client("sagemaker")
    created = sm.create_project(ProjectName=project, TemplateProviders=[{"CfnTemplateProvider": {
        "TemplateName": template_name.removesuffix(".yaml")[:32], "TemplateURL": url,
        "Parameters": [{"Key": k, "Value": v} for k, v in params.items()]}}])
    deadline = time.monotonic() + 240
    while True:
        described = sm.describe_project(ProjectName=project)
        if described["ProjectStatus"] not in ("Pending", "CreateInProgress") or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    if described["ProjectStatus"] != "CreateCompleted":
        stack = described["TemplateProviderDetails"][0]["CfnTemplateProviderDetail"]["StackDetail"]
        events = aws.client("cloudformation").describe_stack_events(StackName=stack["Id"])["StackEvents"]
        reasons = [(e["LogicalResourceId"], e.get("ResourceStatusReason")) for e in events
                   if "FAILED" in e["ResourceStatus"]]
        pytest.fail(f"{project}: {described['ProjectStatus']}: {stack.get('StatusMessage')}; {reasons}")
    return {**created, "described": described}


def overrides(call) -> dict:
    return {v["name"]: v["value"] for v in call["environmentVariablesOverride"]}


def connection(aws, service="codeconnections"):
    return f"arn:aws:{service}:{aws.region}:{aws.account_id}:connection/{CONNECTION_ID}"


def git_http(aws, full_name, service="codeconnections"):
    return (f"https://{service}.{aws.region}.amazonaws.com/git-http/{aws.account_id}/{aws.region}/{CONNECTION_ID}/"
            f"{full_name}.git")


@needs_seed_binary
def test_a_v1_1_project_starts_the_check_in_project_with_upstreams_overrides_and_completes(
        aws, seed_function, start_builds):
    params = {"CodeConnectionArn": connection(aws), "ModelBuildCodeRepositoryFullname": "acme/build",
              "ModelDeployCodeRepositoryFullname": "group/sub/deploy", "ModelDeployCodeRepositoryBranch": "rel+1@x#y",
              "ModelMonitorCodeRepositoryFullname": "acme/monitor"}
    created = create_project(aws, "build-train-deploy-monitor-codepipeline.yaml", "mon", params)
    project_id = created["ProjectId"]
    checkin = f"sagemaker-mon-{project_id}-git-seedcodecheckin"
    bucket = f"sagemaker-servicecatalog-seedcode-{aws.region}"
    got = sorted(((c["projectName"], overrides(c)["GIT_REPOSITORY_URL"], overrides(c)["GIT_REPOSITORY_BRANCH"],
                   json.dumps(c["secondarySourcesOverride"], sort_keys=True)) for c in start_builds))
    expected = sorted((checkin, git_http(aws, repo), branch, json.dumps(
        [{"location": f"{bucket}/{key}", "sourceIdentifier": "source", "type": "S3"}], sort_keys=True))
        for repo, branch, key in [
            ("acme/build", "main", "toolchain/model-building-workflow-mm-clarify-v1.0.zip"),
            ("group/sub/deploy", "rel+1@x#y", "toolchain/mpg-deployment-config-v1.0.zip"),
            ("acme/monitor", "main", "toolchain/model-monitor-workflow-v1.0.zip")])
    assert got == expected
    for call in start_builds:
        assert set(overrides(call)) == {"GIT_REPOSITORY_BRANCH", "GIT_REPOSITORY_URL"}
        assert call["idempotencyToken"].startswith("seed-")


@needs_seed_binary
def test_the_jenkins_project_starts_the_v1_0_check_in_project_with_upstreams_overrides_and_completes(
        aws, seed_function, start_builds):
    star = connection(aws, "codestar-connections")
    params = {"ModelBuildCodeRepositoryUrl": "https://gitlab.example.com/acme/build.git",
              "ModelBuildCodeRepositoryFullname": "acme/build", "ModelBuildCodeRepositoryCodestarConnectionArn": star,
              "ModelDeployCodeRepositoryUrl": "https://gitlab.example.com/acme/deploy.git",
              "ModelDeployCodeRepositoryFullname": "acme/deploy",
              "ModelDeployCodeRepositoryCodestarConnectionArn": star, "ModelDeployCodeRepositoryBranch": "dev"}
    created = create_project(aws, "build-train-deploy-jenkins.yaml", "jen", params)
    checkin = f"sagemaker-jen-{created['ProjectId']}-git-seedcodecheckin"
    bucket = f"sagemaker-servicecatalog-seedcode-{aws.region}"
    assert sorted((c["projectName"], json.dumps(overrides(c), sort_keys=True)) for c in start_builds) == sorted(
        (checkin, json.dumps({"SEEDCODE_BUCKET_NAME": bucket, "SEEDCODE_BUCKET_KEY": key,
                              "GIT_REPOSITORY_FULL_NAME": repo, "GIT_REPOSITORY_BRANCH": branch,
                              "GIT_REPOSITORY_CONNECTION_ARN": star,
                              "SEED_CODE_UPDATE_FILE_NAME": "jenkins/seed_job.groovy"}, sort_keys=True))
        for repo, branch, key in [("acme/build", "main", "toolchain/model-building-workflow-jenkins-v1.0.zip"),
                                  ("acme/deploy", "dev", "toolchain/mpg-deployment-config-jenkins-v1.0.zip")])
    assert all(not c["secondarySourcesOverride"] for c in start_builds)


@needs_seed_binary
@pytest.mark.parametrize("template_name, params, seeded", [
    ("build-train-codepipeline.yaml", {"ModelBuildCodeRepositoryFullname": "acme/build"}, 1),
    ("build-train-deploy-codepipeline.yaml", {"ModelBuildCodeRepositoryFullname": "acme/build",
                                              "ModelDeployCodeRepositoryFullname": "acme/deploy"}, 2),
    ("deploy-codepipeline.yaml", {"ModelDeployCodeRepositoryFullname": "acme/deploy",
                                  "SourceModelPackageGroupName": "arn:aws:sagemaker:us-east-1:123456789012:"
                                                                 "model-package-group/Abalone"}, 1),
    ("build-train-deploy-jenkins.yaml", {"ModelBuildCodeRepositoryUrl": "https://github.com/acme/build.git",
                                         "ModelBuildCodeRepositoryFullname": "",
                                         "ModelBuildCodeRepositoryCodestarConnectionArn": "",
                                         "ModelBuildCodeRepositoryIsSeedcodeRequired": "false",
                                         "ModelDeployCodeRepositoryUrl": "https://github.com/acme/deploy.git",
                                         "ModelDeployCodeRepositoryFullname": "",
                                         "ModelDeployCodeRepositoryCodestarConnectionArn": "",
                                         "ModelDeployCodeRepositoryIsSeedcodeRequired": "false"}, 0),
], ids=["build-train", "build-train-deploy", "deploy", "jenkins-no-seed"])
def test_a_project_from_each_other_template_completes(aws, seed_function, start_builds, template_name, params, seeded):
    if "jenkins" not in template_name:
        params = {"CodeConnectionArn": connection(aws), **params}
    create_project(aws, template_name, "proj", params)
    assert len(start_builds) == seeded
