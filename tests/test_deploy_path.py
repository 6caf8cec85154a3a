"""The deploy path as users run it: the README's own commands — `make deploy-iam`, `make deploy`, `make destroy` —
with the real AWS CLI v1 (.venv-awscli, pinned) against the emulator, from a copy of infra/parameters.example.json.

The CLI deploys through change sets (CreateChangeSet, ExecuteChangeSet: harness/cloudformation/change_sets.py) and,
both templates being over CloudFormation's 51,200-byte TemplateBody limit, through the artifact bucket. Packaging is
the one step left out: `PACKAGED=1` deploys placeholder zips (the emulator runs target/debug/<Handler> whatever the
package holds); the arm64 build has its own check (`make package`).

One deployment serves the module; the tests run in file order and the last one removes everything.
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from types import SimpleNamespace

import boto3
import pytest

from harness import aws_cli
from harness.aws_cli import AwsCli
from harness.emulator import ACCOUNT_ID, REGION
from harness.fixtures import eventually
from harness.functions import binary_path

ROOT = Path(__file__).resolve().parents[1]
STACK = "sagemaker-projects-bootstrap"
IAM_STACK = "sagemaker-projects-iam"
ARTIFACTS = f"deploy-artifacts-{ACCOUNT_ID}-{REGION}"

pytestmark = pytest.mark.skipif(not aws_cli.installed(),
                                reason="the AWS CLI venv is missing (make tools installs .venv-awscli)")


@pytest.fixture(scope="module")
def cli(emulator, tmp_path_factory):
    """`make <target>` as a user runs it (harness.aws_cli), from a copy of infra/parameters.example.json."""
    emulator.reset()
    home = tmp_path_factory.mktemp("deploy")
    aws_cli = AwsCli(emulator, home)
    emulator.client("s3").create_bucket(Bucket=ARTIFACTS)
    parameters = home / "parameters.json"
    shutil.copy(ROOT / "infra" / "parameters.example.json", parameters)  # README: copy it, change what you decide

    def make(*args: str) -> subprocess.CompletedProcess:
        out = aws_cli.make(*args, f"ARTIFACT_BUCKET={ARTIFACTS}", f"PARAMETERS_FILE={parameters}")
        if out.returncode != 0:
            aws_cli.failure_events(STACK, IAM_STACK)
        return out

    return SimpleNamespace(make=make, env=aws_cli.env, parameters=parameters, aws=emulator,
                           cfn=emulator.client("cloudformation"), sm=emulator.client("sagemaker"))


def outputs(cli, stack: str) -> dict[str, str]:
    found = cli.cfn.describe_stacks(StackName=stack)["Stacks"][0]
    return {o["OutputKey"]: o["OutputValue"] for o in found.get("Outputs") or []}


def test_deploy_iam_creates_the_roles_stack_through_the_artifact_bucket(cli):
    assert (ROOT / "iam" / "roles.yaml").stat().st_size > 51_200, "the case this covers"
    out = cli.make("deploy-iam")
    assert out.returncode == 0, out.stderr
    stack = cli.cfn.describe_stacks(StackName=IAM_STACK)["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    assert outputs(cli, IAM_STACK)["LaunchRoleArn"] == f"arn:aws:iam::{ACCOUNT_ID}:role/AmazonSageMakerProjectsLaunchRole"
    keys = [o["Key"] for o in cli.aws.client("s3").list_objects_v2(Bucket=ARTIFACTS)["Contents"]]
    assert any(k.startswith(f"{IAM_STACK}/") and k.endswith(".template") for k in keys), keys


def test_deploy_iam_without_a_bucket_says_what_to_set(cli):
    out = subprocess.run(["make", "--no-print-directory", "deploy-iam", "ARTIFACT_BUCKET="], cwd=ROOT, env=cli.env,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode != 0 and "51,200-byte TemplateBody limit" in out.stdout + out.stderr


def test_deploy_creates_the_stack_from_the_example_parameters_with_its_outputs(cli):
    out = cli.make("deploy")
    assert out.returncode == 0, out.stderr
    assert "Waiting for changeset to be created" in out.stdout and "Successfully created/updated stack" in out.stdout
    stack = cli.cfn.describe_stacks(StackName=STACK)["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    o = outputs(cli, STACK)
    assert o["LaunchRoleArn"].endswith(":role/AmazonSageMakerProjectsLaunchRole")
    assert o["TemplatesLocation"] == f"s3://{o['TemplateBucket']}/templates/"
    # a new stack's names are out of SageMaker's managed policies' reach (infra/deploy.py gives it NamePrefix)
    parameters = {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]}
    assert parameters["NamePrefix"] == "projects-bootstrap"
    functions = [f["FunctionName"] for f in cli.aws.client("lambda").list_functions()["Functions"]]
    assert "projects-bootstrap-domain-onboarder" in functions and not any(
        "sagemaker" in f for f in functions if f != "sagemaker-projects-seedcode"), functions


def readme_sdk_snippet() -> str:
    """README "Creating a project", "With the SDK (boto3)": the code as written, its placeholders (…) filled in."""
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("**With the SDK (boto3):**"):]
    code = section[section.index("```python") + len("```python"):section.index("```", section.index("```python") + 9)]
    return (code.replace("arn:aws:codeconnections:…:connection/…",
                         f"arn:aws:codeconnections:{REGION}:{ACCOUNT_ID}:connection/0a1b2c3d-1111-2222-3333-444455556666"))


def test_the_readmes_sdk_snippet_creates_a_project_from_the_outputs(cli, monkeypatch):
    for k in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION"):
        monkeypatch.setenv(k, cli.env[k])
    exec(compile(readme_sdk_snippet(), "README.md", "exec"), {"boto3": boto3})
    status = eventually(lambda: (lambda s: s if s not in ("Pending", "CreateInProgress") else None)(
        cli.sm.describe_project(ProjectName="churn-deploy")["ProjectStatus"]), "the project never settled", timeout=120)
    assert status == "CreateCompleted"


def test_projects_templates_reads_the_deployed_stack(cli):
    out = subprocess.run([str(binary_path("projects")), "templates", "--stack", STACK], env=cli.env,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    for name in ("build-train-codepipeline", "deploy-codepipeline", "build-train-deploy-jenkins"):
        assert name in out.stdout


def test_a_closed_pipe_ends_projects_quietly_with_success(cli):
    """`projects templates | true`: the reader is gone before the first line; the CLI ends with 0, not a panic."""
    out = subprocess.run(["bash", "-c", f"'{binary_path('projects')}' templates | true; echo \"status=${{PIPESTATUS[0]}}\""],
                         env={**cli.env, "PROJECTS_STACK": STACK}, capture_output=True, text=True, timeout=120)
    assert "status=0" in out.stdout and "panicked" not in out.stderr, (out.stdout, out.stderr)


def test_update_dry_run_and_update_agree_on_a_project_whose_template_resolves_ssm(cli):
    """The project's stack template names its seed-code function as `{{resolve:ssm:…}}`: GetTemplate answers it so
    (not resolved), so the dry run sees what `update` sees: nothing to change."""
    projects = [str(binary_path("projects"))]
    env = {**cli.env, "PROJECTS_STACK": STACK}
    dry = subprocess.run([*projects, "update", "churn-deploy", "--dry-run"], env=env, capture_output=True,
                         text=True, timeout=120)
    real = subprocess.run([*projects, "update", "churn-deploy"], env=env, capture_output=True, text=True,
                          timeout=120)
    print(dry.stdout, dry.stderr, real.stdout, real.stderr)
    assert "~ ModelDeploySeedCode" not in dry.stdout and "~" not in dry.stdout, dry.stdout
    assert real.returncode == dry.returncode == 0, (dry, real)
    assert "nothing to update" in real.stdout, real.stdout
    project = cli.sm.describe_project(ProjectName="churn-deploy")
    assert project["ProjectStatus"] == "CreateCompleted", "no UpdateProject was sent"
    # the version it runs is recorded: created by the SDK without tags, it now carries them
    tags = {t["Key"]: t["Value"] for t in cli.sm.list_tags(ResourceArn=project["ProjectArn"])["Tags"]}
    assert tags["sagemaker-projects-bootstrap:template"] == "deploy-codepipeline"


def test_a_second_deploy_with_a_changed_parameter_updates_and_an_unchanged_one_changes_nothing(cli):
    values = json.loads(cli.parameters.read_text()) + [{"ParameterKey": "RecheckDelaySeconds", "ParameterValue": "10"}]
    cli.parameters.write_text(json.dumps(values))
    out = cli.make("deploy")
    assert out.returncode == 0, out.stderr
    assert cli.cfn.describe_stacks(StackName=STACK)["Stacks"][0]["StackStatus"] == "UPDATE_COMPLETE"
    onboarder = cli.aws.client("lambda").get_function(FunctionName="projects-bootstrap-domain-onboarder")
    assert onboarder["Configuration"]["Environment"]["Variables"]["RECHECK_DELAY_SECONDS"] == "10"
    again = cli.make("deploy")
    assert again.returncode == 0, again.stderr
    assert "No changes to deploy" in again.stdout


def test_destroy_is_refused_naming_the_projects_then_removes_the_stack_and_purge_the_bucket(cli):
    bucket = outputs(cli, STACK)["TemplateBucket"]
    refused = cli.make("destroy")
    assert refused.returncode != 0
    # the guard's own reason, not the stack's list of failed resources
    assert "SeedCodeInUseGuard could not be deleted:" in refused.stderr and "churn-deploy" in refused.stderr, \
        refused.stderr
    assert cli.cfn.describe_stacks(StackName=STACK)["Stacks"][0]["StackStatus"] == "DELETE_FAILED"

    cli.sm.delete_project(ProjectName="churn-deploy")
    eventually(lambda: not any(p["ProjectName"] == "churn-deploy" and p["ProjectStatus"] != "DeleteCompleted"
                               for p in cli.sm.list_projects()["ProjectSummaryList"]), "the project was not deleted")
    done = cli.make("destroy")
    assert done.returncode == 0, done.stderr
    assert f"the template bucket {bucket}" in done.stdout and "make destroy PURGE=1" in done.stdout
    assert not [s for s in cli.cfn.list_stacks()["StackSummaries"]
                if s["StackName"] == STACK and s["StackStatus"] != "DELETE_COMPLETE"]
    s3 = cli.aws.client("s3")
    versions = s3.list_object_versions(Bucket=bucket)
    assert versions.get("DeleteMarkers") and versions.get("Versions"), "kept: every version and delete marker"

    purged = cli.make("destroy", "PURGE=1")
    assert purged.returncode == 0, purged.stderr
    assert re.search(rf"removed the template bucket {bucket} \(\d+ object versions and delete markers\)", purged.stdout)
    assert bucket not in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    # and once more: nothing left, said so
    assert "nothing to purge" in cli.make("destroy", "PURGE=1").stdout
