"""When something fails, say why (README "When something fails"): each kind of failure made in the emulator as AWS
produces it, and `projects status` naming the cause and the action in its first line, the evidence after it.

The projects are real: the five templates published by the real publisher, created with the real `projects` CLI,
their stacks run by the emulator's CloudFormation with the real seed-code function behind Custom::SeedCode. The dead
letter shown and redriven is in tests/test_bootstrap_stack.py (it needs the deployed stack's queues)."""
from __future__ import annotations

import json
import os
import subprocess

import pytest

from harness import ext_codebuild, ext_lambda
from harness.cloudformation.permissions import role_permissions_enforced
from harness.buckets import create_template_bucket
from harness.emulator import ACCOUNT_ID, REGION
from harness.fixtures import DEPLOY_PARAMS, LAUNCH_ROLE_ARN, LAUNCH_ROLE_NAME, LAUNCH_ROLE_TRUST, cr_event, \
    make_function, make_role
from harness.functions import binary_path

BUCKET = f"sagemaker-projects-templates-{ACCOUNT_ID}"
PREFIX = "templates/"
FAST = ["--poll-interval", "0.2", "--timeout", "120"]

pytestmark = pytest.mark.skipif(
    not (ext_lambda.binary_path("seedcode-checkin").exists() and binary_path("projects").exists()),
    reason="the functions and the CLI are not built (run `cargo build --workspace --bins`)")


@pytest.fixture
def cli(aws, answer):
    """The published templates, the launch role, the seed-code function behind every project's Custom::SeedCode,
    and `projects` pointed at the emulator with the templates by URL."""
    create_template_bucket(aws.client("s3"), BUCKET)
    published = answer("template-publisher", cr_event(
        "Custom::ProjectTemplates", {"Bucket": BUCKET, "Prefix": PREFIX},
        stack=f"arn:aws:cloudformation:{REGION}:{ACCOUNT_ID}:stack/bootstrap/1", logical="ProjectTemplates",
        request_id="r1"))
    assert published["Status"] == "SUCCESS", published
    make_role(aws.client("iam"), LAUNCH_ROLE_NAME, trust=LAUNCH_ROLE_TRUST)
    bootstrap = f"arn:aws:cloudformation:{REGION}:{ACCOUNT_ID}:stack/sagemaker-projects-bootstrap/1"
    seed = make_function(aws, "sagemaker-projects-seedcode", "seedcode-checkin", role_name="seedcode-fn", Timeout=900,
                         Environment={"Variables": {"STACK_ID": bootstrap}})
    aws.client("ssm").put_parameter(Name="/sagemaker-projects-bootstrap/seedcode-function-arn", Value=seed,
                                    Type="String")
    urls = [f for stem in ("deploy-codepipeline",) for f in (
        "--template-url", f"{stem}=https://{BUCKET}.s3.{REGION}.amazonaws.com/{PREFIX}{stem}.yaml")]
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/tmp"), **aws.child_env()}

    def run(*args):
        proc = subprocess.run([str(binary_path("projects")), *args], env=env, capture_output=True, text=True,
                              timeout=300, stdin=subprocess.DEVNULL)
        return proc

    run.create_flags = [*urls, "--launch-role", LAUNCH_ROLE_ARN, *FAST]
    return run


def params(values: dict) -> list[str]:
    return [f for k, v in values.items() for f in ("--param", f"{k}={v}")]


def test_a_seed_check_in_whose_repository_is_missing_is_explained_by_the_builds_log(cli):
    with ext_codebuild.repositories_missing({"acme/model-deploy"}):
        created = cli("create", "churn", "--template", "deploy-codepipeline", *params(DEPLOY_PARAMS),
                      *cli.create_flags)
    assert created.returncode == 1, created.stderr
    # create itself ends with the cause, not the stack's summary of it
    assert created.stderr.rstrip().endswith(
        "then projects delete churn and create it again. (the project stays until deleted: projects delete churn)"), \
        created.stderr
    assert "fatal: repository" in created.stderr.splitlines()[-1]

    status = cli("status", "churn")
    assert status.returncode == 0, status.stderr
    first, *rest = status.stdout.splitlines()
    url = (f"https://codeconnections.{REGION}.amazonaws.com/git-http/{ACCOUNT_ID}/{REGION}/"
           "0a1b2c3d-1111-2222-3333-444455556666/acme/model-deploy.git")
    # the cause, then the action: one line a person reads first
    assert first == (f"The seed-code check-in build failed in phase BUILD: fatal: repository '{url}/' not found. "
                     "Check that the repository (ModelDeployCodeRepositoryFullname=acme/model-deploy) exists on the "
                     "connection and the connection is available, then projects delete churn and create it again."), \
        status.stdout
    evidence = "\n".join(rest)
    assert "Status        CreateFailed" in evidence
    assert "Failed        SeedCode" in evidence or "(Custom::" in evidence, evidence
    assert "remote: Repository not found." in evidence, evidence

    # the same as one JSON document, and in the list of failed projects
    doc = json.loads(cli("status", "churn", "--output", "json").stdout)
    why = doc["explanation"]
    assert why["headline"] == first and why["cause"] == {"kind": "SeedCheckIn"}
    assert why["build"]["phase"] == "BUILD" and why["build"]["status"] == "FAILED"
    assert why["build"]["context"].startswith("COMMAND_EXECUTION_ERROR: Error while executing command: git clone")
    assert why["build"]["log"][-3:-1] == [f"fatal: repository '{url}/' not found", ""] or \
        f"fatal: repository '{url}/' not found" in why["build"]["log"], why["build"]["log"]
    assert why["resource"]["status"] == "CREATE_FAILED" and why["resource"]["reason"].startswith("seed build ")
    listed = cli("list", "--failed")
    assert listed.stdout == f"churn  CreateFailed  {first}\n", listed.stdout


def launch_role_without(aws, action: str) -> None:
    """The launch role with iam/roles.yaml's own policies, less one action."""
    from test_no_confused_deputy import launch_role_statements

    iam = aws.client("iam")
    statements = []
    for s in launch_role_statements():
        actions = [a for a in ([s["Action"]] if isinstance(s.get("Action"), str) else s.get("Action", []))
                   if a != action]
        if actions or "NotAction" in s:
            statements.append({**s, **({"Action": actions} if "Action" in s else {})})
    half = len(statements) // 2
    for i, part in enumerate((statements[:half], statements[half:])):
        iam.put_role_policy(RoleName=LAUNCH_ROLE_NAME, PolicyName=f"launch-{i}",
                            PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": part}))


def test_a_launch_role_lacking_a_permission_is_named_with_the_action_and_the_fix(aws, cli):
    launch_role_without(aws, "s3:PutBucketPolicy")
    with role_permissions_enforced():
        created = cli("create", "denied", "--template", "deploy-codepipeline", *params(DEPLOY_PARAMS),
                      *cli.create_flags)
    assert created.returncode == 1, created.stderr
    first = cli("status", "denied").stdout.splitlines()[0]
    project_id = json.loads(cli("status", "denied", "--output", "json").stdout)["id"]
    assert first == (
        "MlOpsArtifactsBucketPolicy (AWS::S3::BucketPolicy) failed: AmazonSageMakerProjectsLaunchRole may not "
        f"s3:PutBucketPolicy on arn:aws:s3:::sagemaker-project-{project_id}. Fix: add s3:PutBucketPolicy to "
        "AmazonSageMakerProjectsLaunchRole (iam/roles.yaml) and deploy the roles stack again, then projects delete "
        "denied and create it again."), first
    why = json.loads(cli("status", "denied", "--output", "json").stdout)["explanation"]
    assert why["cause"] == {"kind": "AccessDenied", "role": "AmazonSageMakerProjectsLaunchRole",
                            "action": "s3:PutBucketPolicy", "on": f"arn:aws:s3:::sagemaker-project-{project_id}"}


def test_with_the_launch_roles_own_policies_the_same_project_is_created(aws, cli):
    """The enforcement judges by the policies, not by a switch: iam/roles.yaml's launch role creates the project."""
    launch_role_without(aws, "no:SuchAction")
    with role_permissions_enforced():
        created = cli("create", "allowed", "--template", "deploy-codepipeline", *params(DEPLOY_PARAMS),
                      *cli.create_flags)
    assert created.returncode == 0, created.stderr


TEAM_BUCKET = """\
Parameters:
  SageMakerProjectName: {Type: String}
  SageMakerProjectId: {Type: String}
  CostCenter:
    Type: String
    AllowedPattern: '^cc-[0-9]{4}$'
    ConstraintDescription: a cost center such as cc-0042
Resources:
  Artifacts:
    Type: AWS::S3::Bucket
    Properties:
      BucketName: !Sub 'sagemaker-project-${SageMakerProjectId}'
"""


def test_a_parameter_cloudformation_refuses_is_named_with_its_value(aws, cli):
    # AllowedPattern is CloudFormation's to judge: the CLI passes the value on, SageMaker's stack refuses it
    aws.client("s3").put_object(Bucket=BUCKET, Key=f"{PREFIX}team-bucket.yaml", Body=TEAM_BUCKET.encode(),
                                Tagging="sagemaker:studio-visibility=true")
    url = f"team-bucket=https://{BUCKET}.s3.{REGION}.amazonaws.com/{PREFIX}team-bucket.yaml"
    created = cli("create", "costly", "--template", "team-bucket", "--param", "CostCenter=42",
                  "--template-url", url, "--launch-role", LAUNCH_ROLE_ARN, *FAST)
    assert created.returncode == 1, created.stderr
    first = cli("status", "costly").stdout.splitlines()[0]
    assert first.startswith("The project failed: parameter CostCenter=42 was refused (Parameter 'CostCenter' must "
                            "match pattern ^cc-[0-9]{4}$"), first
    assert first.endswith("Fix the value, then projects delete costly and create it again."), first


def test_a_project_that_did_not_fail_has_no_explanation(cli):
    created = cli("create", "fine", "--template", "deploy-codepipeline", *params(DEPLOY_PARAMS), *cli.create_flags)
    assert created.returncode == 0, created.stderr
    doc = json.loads(cli("status", "fine", "--output", "json").stdout)
    assert doc["status"] == "CreateCompleted" and "explanation" not in doc
    assert cli("list", "--failed").stdout == "no failed projects\n"
