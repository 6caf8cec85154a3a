"""Custom::SeedCode, run for real: the binary through cargo-lambda, CodeBuild in the emulator, every response
checked by the sink.

moto 5.2.5 implements CreateProject, StartBuild, BatchGetBuilds and StopBuild, but runs no build: StartBuild
ignores environment overrides and idempotency tokens, and every build reads SUCCEEDED from its first
BatchGetBuilds. So these tests record what the function sends to StartBuild (a spy on moto's handler, which runs in
this process), and where a test needs a build that fails or never ends, replace moto's BatchGetBuilds answer for
that test only.

Covered by the unit tests in functions/projects-core/src/resources/seed_code/ instead: that CodeBuild's answer to
a repeated token is followed without a second build (moto ignores tokens), and that a build still running near the
deadline is stopped and answered in time — cargo-lambda 1.9.2 gives every invocation a fixed 600 s deadline
(`--timeout` only bounds the invoke request), so an end-to-end run of that path would take ten minutes."""
import pytest
from moto.codebuild.models import CodeBuildBackend
from moto.codebuild.responses import CodeBuildResponse

from harness.fixtures import cr_event

FUNCTION = "seedcode-checkin"
STACK = "arn:aws:cloudformation:us-east-1:123456789012:stack/SP-demo-p-abcdefghijkl/4a1b2c3d"
PROJECT = "sagemaker-demo-p-abcdefghijkl-git-seedcodecheckin"
CONNECTION_ID = "0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0"
CONNECTION = f"arn:aws:codeconnections:us-east-1:123456789012:connection/{CONNECTION_ID}"
SEED_BUCKET = "sagemaker-servicecatalog-seedcode-us-east-1"
SEED_KEY = "toolchain/model-building-workflow-v1.0.zip"
SERVICE_TOKEN = "arn:aws:lambda:us-east-1:123456789012:function:sagemaker-projects-seedcode"


def repository_url(full_name, connection_id=CONNECTION_ID, account="123456789012", region="us-east-1"):
    return (f"https://codeconnections.{region}.amazonaws.com/git-http/{account}/{region}/{connection_id}/"
            f"{full_name}.git")


def props(**overrides):
    p = {"BuildProject": PROJECT, "SeedCodeBucket": SEED_BUCKET, "SeedCodeKey": SEED_KEY,
         "ConnectionArn": CONNECTION, "RepositoryFullName": "example-org/model-build", "Branch": "main"}
    p.update(overrides)
    return p


def event(request_type, properties, old=None, physical_id=None, request_id="req-1", logical="ModelBuildSeedCode"):
    return cr_event("Custom::SeedCode", properties, request_type, stack=STACK, logical=logical, request_id=request_id,
                    service_token=SERVICE_TOKEN, physical_id=physical_id, ServiceToken=SERVICE_TOKEN,
                    old=None if old is None else {"ServiceToken": SERVICE_TOKEN, **old})


@pytest.fixture
def codebuild(aws):
    """The emulator's CodeBuild with the templates' check-in project (AWS's, from the seed-code bucket)."""
    cb = aws.client("codebuild")
    cb.create_project(
        name=PROJECT,
        source={"type": "S3", "buildspec": "buildspec.yml",
                "location": f"{SEED_BUCKET}/bootstrap/GitRepositorySeedCodeCheckinCodeBuildProject-v1.1.zip"},
        artifacts={"type": "NO_ARTIFACTS"},
        environment={"type": "LINUX_CONTAINER", "computeType": "BUILD_GENERAL1_SMALL",
                     "image": "aws/codebuild/amazonlinux2-x86_64-standard:5.0"},
        serviceRole=f"arn:aws:iam::{aws.account_id}:role/service-role/AmazonSageMakerProjectsCodeBuildRole",
    )
    return cb


@pytest.fixture
def calls(monkeypatch):
    """What the function sent to StartBuild and StopBuild, as moto received it."""
    seen = {"start": [], "stop": []}
    start, stop = CodeBuildResponse.start_build, CodeBuildResponse.stop_build

    def spy_start(self):
        seen["start"].append({k: self._get_param(k) for k in
                              ("projectName", "environmentVariablesOverride", "secondarySourcesOverride",
                               "idempotencyToken")})
        return start(self)

    def spy_stop(self):
        seen["stop"].append(self._get_param("id"))
        return stop(self)

    monkeypatch.setattr(CodeBuildResponse, "start_build", spy_start)
    monkeypatch.setattr(CodeBuildResponse, "stop_build", spy_stop)
    return seen


def builds_of(store, ids):
    return [b for history in store.build_metadata_history.values() for b in history if b["id"] in ids]


@pytest.fixture
def run(aws, answer):
    return lambda ev: answer(FUNCTION, ev)


def overrides(call):
    return {v["name"]: (v["value"], v.get("type")) for v in call["environmentVariablesOverride"]}


def test_create_runs_the_check_in_build_with_upstreams_v1_1_overrides_and_answers_the_git_http_url(
        aws, codebuild, calls, run):
    r = run(event("Create", props()))
    assert r["Status"] == "SUCCESS", r
    assert r["PhysicalResourceId"].startswith("ModelBuildSeedCode-g0-")
    assert r["Data"]["url"] == r["Data"]["RepositoryUrl"] == repository_url("example-org/model-build")
    assert r["Data"]["BuildId"] == codebuild.list_builds_for_project(projectName=PROJECT)["ids"][0]
    assert len(calls["start"]) == 1 and calls["stop"] == []
    (call,) = calls["start"]
    assert call["projectName"] == PROJECT
    assert overrides(call) == {
        "GIT_REPOSITORY_BRANCH": ("main", "PLAINTEXT"),
        "GIT_REPOSITORY_URL": (repository_url("example-org/model-build"), "PLAINTEXT"),
    }
    assert call["secondarySourcesOverride"] == [
        {"type": "S3", "location": f"{SEED_BUCKET}/{SEED_KEY}", "sourceIdentifier": "source"}]
    assert call["idempotencyToken"].startswith("seed-")


def test_the_jenkins_v1_0_check_in_gets_upstreams_six_overrides_and_no_secondary_source(aws, codebuild, calls, run):
    key = "toolchain/model-building-workflow-jenkins-v1.0.zip"
    r = run(event("Create", props(CheckinVersion="v1.0", SeedCodeUpdateFileName="jenkins/seed_job.groovy",
                                  SeedCodeKey=key)))
    assert r["Status"] == "SUCCESS", r
    (call,) = calls["start"]
    assert overrides(call) == {
        "SEEDCODE_BUCKET_NAME": (SEED_BUCKET, "PLAINTEXT"),
        "SEEDCODE_BUCKET_KEY": (key, "PLAINTEXT"),
        "GIT_REPOSITORY_FULL_NAME": ("example-org/model-build", "PLAINTEXT"),
        "GIT_REPOSITORY_BRANCH": ("main", "PLAINTEXT"),
        "GIT_REPOSITORY_CONNECTION_ARN": (CONNECTION, "PLAINTEXT"),
        "SEED_CODE_UPDATE_FILE_NAME": ("jenkins/seed_job.groovy", "PLAINTEXT"),
    }
    assert not call["secondarySourcesOverride"]


def test_a_codestar_connections_arn_gives_its_own_git_http_host(aws, codebuild, calls, run):
    arn = "arn:aws:codestar-connections:us-east-1:123456789012:connection/abc-123"
    r = run(event("Create", props(ConnectionArn=arn, RepositoryFullName="group/subgroup/repo")))
    assert r["Status"] == "SUCCESS", r
    url = "https://codestar-connections.us-east-1.amazonaws.com/git-http/123456789012/us-east-1/abc-123/group/subgroup/repo.git"
    assert r["Data"]["RepositoryUrl"] == url
    assert overrides(calls["start"][0])["GIT_REPOSITORY_URL"] == (url, "PLAINTEXT")


def test_a_replayed_event_sends_the_same_idempotency_token_and_another_request_does_not(aws, codebuild, calls, run):
    first = run(event("Create", props()))
    replay = run(event("Create", props()))
    other = run(event("Create", props(), request_id="req-9"))
    assert first["Status"] == replay["Status"] == other["Status"] == "SUCCESS"
    assert first["PhysicalResourceId"] == replay["PhysicalResourceId"]
    tokens = [c["idempotencyToken"] for c in calls["start"]]
    assert tokens[0] == tokens[1] != tokens[2]


def test_update_reseeds_only_when_repository_branch_or_seed_change(aws, codebuild, calls, run):
    created = run(event("Create", props()))
    pid = created["PhysicalResourceId"]

    # nothing of the seed changed (here: the project, e.g. renamed by a template update): no build, same answer
    same = run(event("Update", props(BuildProject="sagemaker-other-seedcode"), old=props(), physical_id=pid,
                     request_id="req-2"))
    assert same["Status"] == "SUCCESS", same
    assert same["PhysicalResourceId"] == pid
    assert same["Data"]["RepositoryUrl"] == created["Data"]["RepositoryUrl"]
    assert len(calls["start"]) == 1

    # another branch: seeded again, same resource
    branch = run(event("Update", props(Branch="develop"), old=props(), physical_id=pid, request_id="req-3"))
    assert branch["Status"] == "SUCCESS", branch
    assert branch["PhysicalResourceId"] == pid
    assert overrides(calls["start"][-1])["GIT_REPOSITORY_BRANCH"] == ("develop", "PLAINTEXT")
    assert len(calls["start"]) == 2

    # another seed object: seeded again, same resource
    key = run(event("Update", props(Branch="develop", SeedCodeKey="toolchain/model-building-workflow-v1.1.zip"),
                    old=props(Branch="develop"), physical_id=pid, request_id="req-4"))
    assert key["Status"] == "SUCCESS" and key["PhysicalResourceId"] == pid
    assert len(calls["start"]) == 3

    # another repository: seeded, and the resource is replaced
    moved = run(event("Update", props(RepositoryFullName="example-org/other"), old=props(), physical_id=pid,
                      request_id="req-5"))
    assert moved["Status"] == "SUCCESS", moved
    assert moved["PhysicalResourceId"] != pid
    assert moved["Data"]["RepositoryUrl"] == repository_url("example-org/other")
    assert overrides(calls["start"][-1])["GIT_REPOSITORY_URL"] == (repository_url("example-org/other"), "PLAINTEXT")
    assert len(calls["start"]) == 4


def test_delete_leaves_the_repository_and_starts_nothing(aws, codebuild, calls, run):
    pid = run(event("Create", props()))["PhysicalResourceId"]
    deleted = run(event("Delete", props(), physical_id=pid, request_id="req-2"))
    assert deleted["Status"] == "SUCCESS", deleted
    assert deleted["PhysicalResourceId"] == pid
    assert len(calls["start"]) == 1 and calls["stop"] == []
    assert codebuild.batch_get_projects(names=[PROJECT])["projects"], "the project is the template's, untouched"


@pytest.mark.parametrize("field, value", [
    ("BuildProject", "has space"),
    ("SeedCodeBucket", "Not_A_Bucket"),
    ("SeedCodeKey", "toolchain/seed.tar.gz"),
    ("ConnectionArn", "arn:aws:codeconnections:us-east-1:123456789012:host/abc"),
    ("RepositoryFullName", "just-a-repo"),
    ("Branch", "-not-a-branch"),
    ("CheckinVersion", "v2"),
])
def test_an_invalid_property_fails_naming_it_and_starts_nothing(aws, codebuild, calls, run, field, value):
    r = run(event("Create", props(**{field: value})))
    assert r["Status"] == "FAILED"
    assert r["Reason"].startswith(f'{field}: "{value}" is not '), r["Reason"]
    assert "expected" in r["Reason"]
    assert r["PhysicalResourceId"].startswith("create-failed:")
    assert calls["start"] == []


def test_an_unknown_property_fails_naming_it(aws, codebuild, calls, run):
    r = run(event("Create", {**props(), "Brnach": "main"}))
    assert r["Status"] == "FAILED"
    assert r["Reason"].startswith("ResourceProperties.Brnach: unknown field `Brnach`"), r["Reason"]
    assert calls["start"] == []


def test_a_missing_build_project_is_named(aws, calls, run):
    r = run(event("Create", props()))
    assert r["Status"] == "FAILED"
    assert r["Reason"].startswith(f"BuildProject: CodeBuild project {PROJECT} was not found"), r["Reason"]


def test_a_failed_build_fails_the_resource_with_its_phase_and_context(aws, codebuild, calls, run, monkeypatch):
    def failed(self, ids):
        builds = builds_of(self, ids)
        for b in builds:
            b.update(buildStatus="FAILED", currentPhase="COMPLETED", buildComplete=True, phases=[
                {"phaseType": "SUBMITTED", "phaseStatus": "SUCCEEDED"},
                {"phaseType": "PROVISIONING", "phaseStatus": "SUCCEEDED"},
                {"phaseType": "BUILD", "phaseStatus": "FAILED", "contexts": [
                    {"statusCode": "COMMAND_EXECUTION_ERROR",
                     "message": "Error while executing command: (...). Reason: exit status 1"}]},
                {"phaseType": "FINALIZING", "phaseStatus": "SUCCEEDED"},
            ])
        return builds

    monkeypatch.setattr(CodeBuildBackend, "batch_get_builds", failed)
    r = run(event("Create", props()))
    assert r["Status"] == "FAILED"
    build_id = codebuild.list_builds_for_project(projectName=PROJECT)["ids"][0]
    assert r["Reason"].startswith(
        f"seed build {build_id} FAILED in phase BUILD: COMMAND_EXECUTION_ERROR: Error while executing command: "
        "(...). Reason: exit status 1"), r["Reason"]
