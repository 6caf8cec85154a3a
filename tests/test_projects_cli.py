"""The `projects` command (target/debug/projects, run as a subprocess) against the extended emulator: it lists
the published templates, checks a project's name and parameters against the template before calling SageMaker,
creates a project and follows it until it settles, shows it, deletes it — in text for people and in JSON for
scripts — and finds the templates and the launch role in the bootstrap stack's outputs."""
import json
import os
import pty
import select
import subprocess
import time
from urllib.parse import quote

import pytest

from harness.buckets import create_template_bucket
from harness.emulator import free_port
from harness.fixtures import LAUNCH_ROLE_ARN, LAUNCH_ROLE_NAME, LAUNCH_ROLE_TRUST, cr_event, make_role
from harness.functions import ROOT, binary_path

BIN = binary_path("projects")
ACCOUNT = "123456789012"
BUCKET = "sagemaker-projects-templates-123456789012"
PREFIX = "templates/"
VISIBLE = "sagemaker%3Astudio-visibility=true"
TEMPLATE_TAG = "sagemaker-projects-bootstrap:template"
DIGEST_TAG = "sagemaker-projects-bootstrap:template-digest"
STEMS = ["build-train-codepipeline", "build-train-deploy-codepipeline", "build-train-deploy-jenkins",
         "build-train-deploy-monitor-codepipeline", "deploy-codepipeline"]
DEPLOY_PARAMS = {
    "SourceModelPackageGroupName": "churn-models",
    "CodeConnectionArn": f"arn:aws:codeconnections:us-east-1:{ACCOUNT}:connection/0a1b2c3d-1111-2222-3333-444455556666",
    "ModelDeployCodeRepositoryFullname": "acme/churn-deploy",
}
# a small project template the emulator can complete: one queue, one parameter with AllowedValues, one default
TEAM_QUEUE = """\
Parameters:
  SageMakerProjectName: {Type: String, MinLength: 1, MaxLength: 32, AllowedPattern: '^[a-zA-Z](-*[a-zA-Z0-9])*'}
  SageMakerProjectId: {Type: String}
  Purpose: {Type: String, AllowedValues: [training, inference], Description: What the queue carries}
  RetentionSeconds: {Type: String, Default: '345600'}
Resources:
  Queue:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: !Sub 'sagemaker-${SageMakerProjectId}-${Purpose}'
      MessageRetentionPeriod: !Ref RetentionSeconds
"""


def pascal(stem):
    return "".join(w.capitalize() for w in stem.split("-"))


def template_url(name):
    return f"https://{BUCKET}.s3.us-east-1.amazonaws.com/{PREFIX}{name}.yaml"


def pinned(s3, name, version=None):
    """The TemplateURL of a template's current (or given) version, as `projects create` and `update` send it."""
    head = s3.head_object(Bucket=BUCKET, Key=f"{PREFIX}{name}.yaml", **({"VersionId": version} if version else {}))
    return f"{template_url(name)}?versionId={quote(head['VersionId'], safe='')}"


def digest(s3, name, version=None):
    head = s3.head_object(Bucket=BUCKET, Key=f"{PREFIX}{name}.yaml", **({"VersionId": version} if version else {}))
    return head["ETag"].strip('"')


class Run:
    def __init__(self, proc):
        self.code, self.out, self.err = proc.returncode, proc.stdout, proc.stderr

    def json(self):
        return json.loads(self.out)

    def __repr__(self):
        return f"exit {self.code}\n--- stdout\n{self.out}\n--- stderr\n{self.err}"


def run_cli(env, *args, timeout=60):
    proc = subprocess.run([str(BIN), *args], env=env, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    return Run(proc)


@pytest.fixture(scope="session", autouse=True)
def built():
    if not BIN.exists():
        pytest.fail(f"{BIN} is not built: run `cargo build --workspace --bins` first")


@pytest.fixture
def world(aws, answer):
    """The five templates published by the real template-publisher, a launch role, and a CLI runner whose
    environment points the SDK at the emulator (and at nothing of the caller's)."""
    s3, iam, sm = aws.client("s3"), aws.client("iam"), aws.client("sagemaker")
    create_template_bucket(s3, BUCKET)
    published = answer("template-publisher", cr_event(
        "Custom::ProjectTemplates", {"Bucket": BUCKET, "Prefix": PREFIX},
        stack=f"arn:aws:cloudformation:us-east-1:{ACCOUNT}:stack/bootstrap/1", logical="ProjectTemplates",
        request_id="r1"))
    assert published["Status"] == "SUCCESS", published
    urls = {stem: published["Data"][f"{pascal(stem)}Url"] for stem in STEMS}
    assert urls == {stem: template_url(stem) for stem in STEMS}
    make_role(iam, LAUNCH_ROLE_NAME, trust=LAUNCH_ROLE_TRUST)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/tmp"), **aws.child_env()}

    class World:
        def cli(self, *args, extra_env=None, **kw):
            return run_cli({**env, **(extra_env or {})}, *args, **kw)

        def flags(self):
            out = [f for stem in STEMS for f in ("--template-url", f"{stem}={urls[stem]}")]
            return [*out, "--launch-role", LAUNCH_ROLE_ARN]

        def upload(self, name, body, visible=True):
            s3.put_object(Bucket=BUCKET, Key=f"{PREFIX}{name}.yaml", Body=body.encode(),
                          **({"Tagging": VISIBLE} if visible else {}))
            return template_url(name)

        def projects(self):
            return sorted(p["ProjectName"] for p in sm.list_projects()["ProjectSummaryList"])

    w = World()
    w.urls, w.env, w.s3, w.sm, w.cf, w.sqs = urls, env, s3, sm, aws.client("cloudformation"), aws.client("sqs")
    w.iam, w.cloudtrail = iam, aws.client("cloudtrail")
    return w


def params(mapping):
    return [f for k, v in mapping.items() for f in ("--param", f"{k}={v}")]


FAST = ["--poll-interval", "0.2", "--timeout", "30"]


# ------------------------------------------------------------------------------------------------------- templates


def test_templates_lists_each_template_with_its_url_and_required_and_optional_parameters(world):
    r = world.cli("templates", *world.flags())
    assert r.code == 0, r
    assert r.out.startswith(f"Templates from command line\nLaunch role: {LAUNCH_ROLE_ARN}\n"), r
    blocks = {b.split("\n", 1)[0]: b for b in r.out.split("\n\n")[1:]}
    assert sorted(blocks) == STEMS
    deploy = blocks["deploy-codepipeline"]
    assert f"  url:      {template_url('deploy-codepipeline')}\n" in deploy
    required = deploy.split("  required:\n")[1].split("  optional:\n")[0]
    assert [line.split()[0] for line in required.splitlines()] == list(DEPLOY_PARAMS)
    optional = deploy.split("  optional:\n")[1].split("  create:")[0]
    assert [line.split()[0] for line in optional.splitlines()] == ["ModelDeployCodeRepositoryBranch=main"]
    assert ("  create:   projects create NAME -t deploy-codepipeline -p SourceModelPackageGroupName=… "
            "-p CodeConnectionArn=… -p ModelDeployCodeRepositoryFullname=…") in deploy
    assert "SageMakerProjectName" not in r.out and "SageMakerProjectId" not in r.out


def test_templates_as_json_for_scripts(world):
    r = world.cli("templates", "--output", "json", *world.flags())
    assert r.code == 0, r
    doc = r.json()
    assert (doc["source"], doc["launch_role_arn"]) == ("command line", LAUNCH_ROLE_ARN)
    by_name = {t["name"]: t for t in doc["templates"]}
    assert sorted(by_name) == STEMS and by_name["deploy-codepipeline"]["url"] == template_url("deploy-codepipeline")
    declared = {p["name"]: (p["required"], p.get("default")) for p in by_name["deploy-codepipeline"]["parameters"]}
    assert declared == {**{k: (True, None) for k in DEPLOY_PARAMS}, "ModelDeployCodeRepositoryBranch": (False, "main")}


def test_the_templates_and_the_launch_role_are_found_in_the_bootstrap_stacks_outputs(world):
    outputs = {
        "TemplateBucket": BUCKET,
        "TemplatesLocation": f"s3://{BUCKET}/{PREFIX}",
        "LaunchRoleArn": LAUNCH_ROLE_ARN,
        **{f"{pascal(stem)}TemplateUrl": url for stem, url in world.urls.items()},
        "TemplateTaggerFunctionArn": f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:tagger",
    }
    body = {"Resources": {"Marker": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "bootstrap-marker"}}},
            "Outputs": {k: {"Value": v} for k, v in outputs.items()}}
    world.cf.create_stack(StackName="sagemaker-projects-bootstrap", TemplateBody=json.dumps(body))
    world.cf.create_stack(StackName="team-bootstrap", TemplateBody=json.dumps(
        {**body, "Resources": {"Marker": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "team-marker"}}}}))

    default = world.cli("templates", "--output", "json").json()
    assert default["source"] == "stack sagemaker-projects-bootstrap"
    assert default["launch_role_arn"] == LAUNCH_ROLE_ARN and default["templates_location"] == f"s3://{BUCKET}/{PREFIX}"
    assert [t["name"] for t in default["templates"]] == STEMS
    assert all(t["parameters"] for t in default["templates"])
    assert world.cli("templates", "--stack", "team-bootstrap", "--output", "json").json()["source"] == "stack team-bootstrap"
    by_env = world.cli("templates", "--output", "json", extra_env={"PROJECTS_STACK": "team-bootstrap"})
    assert by_env.json()["source"] == "stack team-bootstrap"

    # a template uploaded beside the published ones later is found by name, and launched with the stack's role
    world.upload("team-queue", TEAM_QUEUE)
    r = world.cli("create", "from-stack", "-t", "team-queue", "-p", "Purpose=training", *FAST)
    assert r.code == 0, r
    provider = world.sm.describe_project(ProjectName="from-stack")["TemplateProviderDetails"][0]["CfnTemplateProviderDetail"]
    assert (provider["TemplateURL"], provider["RoleARN"]) == (pinned(world.s3, "team-queue"), LAUNCH_ROLE_ARN)


def test_a_missing_stack_is_one_clear_line(world):
    r = world.cli("templates", "--stack", "nowhere")
    assert r.code == 1 and r.out == "", r
    assert r.err == ("error: stack nowhere does not exist in us-east-1: deploy the bootstrap stack, name it with "
                     "--stack or PROJECTS_STACK, or pass --template-url and --launch-role\n")


# ------------------------------------------------------------------------------------------------- create and follow


def test_create_without_studio_visibility_leaves_the_visibility_tag_off(world):
    world.upload("team-queue", TEAM_QUEUE)
    r = world.cli("create", "hidden", "-t", "team-queue", "-p", "Purpose=training", "--no-studio-visibility",
                  *FAST, *world.flags())
    assert r.code == 0, r
    assert tags_of(world, "hidden") == {TEMPLATE_TAG: "team-queue", DIGEST_TAG: digest(world.s3, "team-queue")}


def test_create_follows_the_project_until_it_is_created_then_status_and_delete(world):
    world.upload("team-queue", TEAM_QUEUE)
    r = world.cli("create", "churn-train", "-t", "team-queue", "-p", "Purpose=training", "-d", "Churn model queue",
                  *FAST, *world.flags())
    assert r.code == 0, r
    assert r.out.startswith("Project churn-train is CreateCompleted ("), r
    # stderr is not a terminal: one line per status change, no spinner, no carriage returns
    assert "\r" not in r.err and "\x1b" not in r.err, r
    lines = r.err.splitlines()
    assert lines[0].startswith("creating project churn-train (p-") and lines[0].endswith(") from template team-queue")
    assert lines[-1].endswith("] churn-train: CreateCompleted") and len(lines) <= 3, r

    project = world.sm.describe_project(ProjectName="churn-train")
    provider = project["TemplateProviderDetails"][0]["CfnTemplateProviderDetail"]
    assert project["ProjectStatus"] == "CreateCompleted" and project["ProjectDescription"] == "Churn model queue"
    assert (provider["TemplateName"], provider["TemplateURL"], provider["RoleARN"]) == (
        "team-queue", pinned(world.s3, "team-queue"), LAUNCH_ROLE_ARN)
    # the project names the template and the version it runs
    tags = {t["Key"]: t["Value"] for t in world.sm.list_tags(ResourceArn=project["ProjectArn"])["Tags"]}
    assert tags == {TEMPLATE_TAG: "team-queue", DIGEST_TAG: digest(world.s3, "team-queue"),
                    "sagemaker:studio-visibility": "true"}
    assert provider["Parameters"] == [{"Key": "Purpose", "Value": "training"}]
    stack = provider["StackDetail"]["Name"]
    assert stack == f"SP-{project['ProjectId']}"
    assert world.sqs.get_queue_url(QueueName=f"sagemaker-{project['ProjectId']}-training")["QueueUrl"]

    status = world.cli("status", "churn-train")
    assert status.code == 0, status
    rows = dict((line[:14].strip(), line[14:]) for line in status.out.splitlines())
    assert rows["Project"] == f"churn-train ({project['ProjectId']})"
    assert rows["Status"] == "CreateCompleted"
    assert rows["Template"] == "team-queue" and rows["URL"] == pinned(world.s3, "team-queue")
    assert rows["Launch role"] == LAUNCH_ROLE_ARN and rows["Parameters"] == "Purpose=training"
    assert rows["Stack"] == stack and rows["Stack status"].startswith("CREATE_COMPLETE")

    deleted = world.cli("delete", "churn-train", *FAST)
    assert deleted.code == 0, deleted
    assert deleted.out.startswith("Project churn-train is deleted ("), deleted
    stack_id = provider["StackDetail"]["Id"]
    assert world.cf.describe_stacks(StackName=stack_id)["Stacks"][0]["StackStatus"] == "DELETE_COMPLETE"
    time.sleep(1.1)  # the emulator shows DeleteCompleted for a second, then the project is gone
    assert world.projects() == []
    gone = world.cli("status", "churn-train")
    assert (gone.code, gone.out, gone.err) == (1, "", "error: project churn-train does not exist\n")


def test_on_a_terminal_the_progress_line_is_redrawn_in_place_and_cleared_at_the_end(world):
    world.upload("team-queue", TEAM_QUEUE)
    master, slave = pty.openpty()
    proc = subprocess.Popen([str(BIN), "create", "on-tty", "-t", "team-queue", "-p", "Purpose=training", *FAST,
                             *world.flags()], env=world.env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=slave)
    os.close(slave)
    out, _ = proc.communicate(timeout=60)
    tty = b""
    while select.select([master], [], [], 1)[0]:
        try:
            chunk = os.read(master, 4096)
        except OSError:  # the terminal's other side is closed and drained
            break
        if not chunk:
            break
        tty += chunk
    os.close(master)
    text = tty.decode()
    assert proc.returncode == 0, text
    assert out.decode().startswith("Project on-tty is CreateCompleted")
    assert "] on-tty: CreateCompleted\r\n" in text
    assert "\r\x1b[2K" in text and any(frame in text for frame in "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"), text
    assert text.endswith("\r\x1b[2K"), repr(text[-80:])


def test_every_command_speaks_json_for_scripts(world):
    world.upload("team-queue", TEAM_QUEUE)
    started = time.monotonic()
    created = world.cli("create", "scripted", "-t", "team-queue", "-p", "Purpose=inference", "--output", "json",
                        *FAST, *world.flags())
    wall = time.monotonic() - started
    assert created.code == 0, created
    doc = created.json()
    assert (doc["name"], doc["action"], doc["outcome"]) == ("scripted", "create", "Completed")
    assert doc["id"].startswith("p-") and doc["arn"] == f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:project/scripted"
    # seconds the command followed the project: a part of the command's own run, not milliseconds or a timestamp
    assert isinstance(doc["elapsed_seconds"], (int, float)) and 0 <= doc["elapsed_seconds"] <= wall, (doc, wall)
    project = doc["project"]
    assert project["status"] == "CreateCompleted" and project["stack_name"] == f"SP-{doc['id']}"
    assert project["parameters"] == {"Purpose": "inference"} and project["template_url"] == pinned(world.s3, "team-queue")

    status = world.cli("status", "scripted", "--output", "json").json()
    assert {k: status[k] for k in ("name", "id", "status", "template_name", "role_arn")} == {
        "name": "scripted", "id": doc["id"], "status": "CreateCompleted", "template_name": "team-queue",
        "role_arn": LAUNCH_ROLE_ARN}

    deleted = world.cli("delete", "scripted", "--output", "json", *FAST)
    assert deleted.code == 0, deleted
    assert {k: deleted.json()[k] for k in ("name", "action", "outcome")} == {
        "name": "scripted", "action": "delete", "outcome": "Completed"}

    refused = world.cli("create", "bad_name", "-t", "team-queue", "--output", "json", *world.flags())
    assert refused.code == 2
    assert refused.json()["error"]["exit_code"] == 2 and "bad_name" in refused.json()["error"]["message"]


def test_no_wait_returns_once_sagemaker_accepted_the_project(world):
    world.upload("team-queue", TEAM_QUEUE)
    r = world.cli("create", "quick", "-t", "team-queue", "-p", "Purpose=training", "--no-wait", "--output", "json",
                  *world.flags())
    assert r.code == 0, r
    doc = r.json()
    assert (doc["outcome"], doc["project"]) == ("Started", None) and doc["id"].startswith("p-")
    assert world.projects() == ["quick"]


def test_a_project_whose_stack_cannot_find_the_seed_code_function_says_to_deploy_the_bootstrap_stack(world):
    # the embedded templates resolve their seed-code function from SSM; with no bootstrap stack in this
    # emulator the parameter is missing and CloudFormation refuses the project's stack
    r = world.cli("create", "no-seed", "-t", "deploy-codepipeline", *params(DEPLOY_PARAMS), *FAST, *world.flags())
    assert r.code == 1, r
    message = world.sm.describe_project(ProjectName="no-seed")["TemplateProviderDetails"][0][
        "CfnTemplateProviderDetail"]["StackDetail"]["StatusMessage"]
    assert "/sagemaker-projects-bootstrap/seedcode-function-arn" in message, message
    assert r.err.endswith(
        "error: project no-seed is CreateFailed: The project's stack cannot find the seed-code function: SSM parameter "
        "/sagemaker-projects-bootstrap/seedcode-function-arn does not exist in this account and region. Deploy the "
        "bootstrap stack here (make deploy), then projects delete no-seed and create it again. (the project stays "
        "until deleted: projects delete no-seed)\n"), r
    assert "Stack status " in r.out and "CreateFailed" in r.out
    assert world.cli("delete", "no-seed", *FAST).code == 0


# ------------------------------------------------------------------------------------- refused before CreateProject


@pytest.mark.parametrize("given, message", [
    ({**DEPLOY_PARAMS, "ModelDeployBranch": "dev"},
     "error: template deploy-codepipeline has no parameter ModelDeployBranch; it takes SourceModelPackageGroupName, "
     "CodeConnectionArn, ModelDeployCodeRepositoryFullname, ModelDeployCodeRepositoryBranch\n"),
    ({"SourceModelPackageGroupName": "churn-models"},
     "error: template deploy-codepipeline requires parameters CodeConnectionArn, ModelDeployCodeRepositoryFullname "
     "(pass --param CodeConnectionArn=… --param ModelDeployCodeRepositoryFullname=…)\n"),
    ({**DEPLOY_PARAMS, "SageMakerProjectName": "x"},
     "error: parameter SageMakerProjectName is filled in by SageMaker (from the project's name and id); do not pass it\n"),
], ids=["unknown", "missing-required", "reserved"])
def test_parameters_that_do_not_fit_the_template_are_refused_naming_them(world, given, message):
    r = world.cli("create", "churn-deploy", "-t", "deploy-codepipeline", *params(given), *world.flags())
    assert (r.code, r.out, r.err) == (2, "", message), r
    assert world.projects() == []


def test_values_outside_allowed_values_are_refused_before_create_project(world):
    world.upload("team-queue", TEAM_QUEUE)
    r = world.cli("create", "q", "-t", "team-queue", "-p", "Purpose=storage", *world.flags())
    assert (r.code, r.err) == (2, 'error: parameter Purpose: "storage" is not one of training, inference\n'), r
    assert world.projects() == []


def test_a_template_that_is_not_tagged_visible_is_refused_by_sagemaker_in_one_line(world):
    world.upload("hidden", TEAM_QUEUE, visible=False)
    r = world.cli("create", "hidden-one", "-t", "hidden", "-p", "Purpose=training", *world.flags())
    assert r.code == 1 and r.out == "", r
    assert r.err == (f"error: CreateProject: ValidationException: The template {pinned(world.s3, 'hidden')} is not "
                     "visible to SageMaker: the object needs the tag sagemaker:studio-visibility=true.\n"), r
    assert world.projects() == []


def test_a_template_name_that_is_no_object_is_refused_listing_the_known_ones(world):
    r = world.cli("create", "typo", "-t", "deploy-codepipelin", *world.flags())
    assert r.code == 2, r
    assert r.err == (f"error: no template deploy-codepipelin: s3://{BUCKET}/{PREFIX}deploy-codepipelin.yaml does not "
                     f"exist; the command line lists {', '.join(STEMS)}\n")


@pytest.mark.parametrize("name, why", [
    ("a" * 33, "it has 33 characters"),
    ("under_score", "'_' is not allowed"),
    ("trailing-", "it starts or ends with '-'"),
])
def test_a_name_breaking_the_pattern_is_refused_before_any_call(world, name, why):
    # an endpoint where nothing listens: any AWS call would fail differently (and slowly, with retries)
    dead = {"AWS_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}"}
    started = time.monotonic()
    r = world.cli("create", name, "-t", "deploy-codepipeline", *params(DEPLOY_PARAMS), *world.flags(), extra_env=dead)
    assert (r.code, r.out) == (2, ""), r
    assert r.err == (f"error: project name {json.dumps(name)} is not valid ({why}): use 1-32 letters, digits and "
                     "hyphens, starting and ending with a letter or digit\n"), r
    assert time.monotonic() - started < 5


# ------------------------------------------------------------------------------------------------------ the fleet

TEAM_QUEUE_V2 = TEAM_QUEUE.replace("Resources:\n", "Resources:\n  Dlq:\n    Type: AWS::SQS::Queue\n")


def counted(call):
    """(result, requests by operation) of `call()`, counted where they arrive: at the emulator."""
    import sys
    sys.path.insert(0, str(ROOT / "bench"))
    from benchlib import counter
    counter.install()
    with counter.counting() as window:
        result = call()
    return result, dict(window.ops)


def create_many(world, n, template="team-queue"):
    url = pinned(world.s3, template)
    for i in range(n):
        world.sm.create_project(ProjectName=f"bulk-{i:04d}", TemplateProviders=[{"CfnTemplateProvider": {
            "TemplateName": template, "TemplateURL": url, "RoleARN": LAUNCH_ROLE_ARN,
            "Parameters": [{"Key": "Purpose", "Value": "training"}]}}],
            Tags=[{"Key": TEMPLATE_TAG, "Value": template}, {"Key": DIGEST_TAG, "Value": digest(world.s3, template)}])


def test_list_shows_each_projects_template_version_and_whether_it_is_the_published_one(world):
    world.upload("team-queue", TEAM_QUEUE)
    for name in ("alpha", "beta"):
        assert world.cli("create", name, "-t", "team-queue", "-p", "Purpose=training", *FAST, *world.flags()).code == 0
    old, new = digest(world.s3, "team-queue"), None
    world.upload("team-queue", TEAM_QUEUE_V2)
    new = digest(world.s3, "team-queue")
    assert world.cli("create", "gamma", "-t", "team-queue", "-p", "Purpose=training", *FAST, *world.flags()).code == 0

    r = world.cli("list")
    assert r.code == 0, r
    header, *rows = r.out.splitlines()
    assert header.split() == ["PROJECT", "TEMPLATE", "VERSION", "CURRENT", "STATUS", "DOMAIN", "CREATED", "BY"]
    cells = [row.split() for row in rows]
    assert cells == [
        ["alpha", "team-queue", old[:12], "no", f"({new[:12]})", "CreateCompleted", "-", "-"],
        ["beta", "team-queue", old[:12], "no", f"({new[:12]})", "CreateCompleted", "-", "-"],
        ["gamma", "team-queue", new[:12], "yes", "CreateCompleted", "-", "-"],
    ], r
    assert r.err == "3 projects, 2 outdated (1 Search + 1 ListObjectVersions requests)\n"

    outdated = world.cli("list", "--outdated", "--output", "json")
    doc = outdated.json()
    assert [p["name"] for p in doc["projects"]] == ["alpha", "beta"]
    assert {(p["digest"], p["current_digest"], p["outdated"]) for p in doc["projects"]} == {(old, new, True)}
    assert [v["digest"] for v in doc["templates"][0]["versions"]] == [new, old]
    assert world.cli("list", "--template", "deploy-codepipeline", "--output", "json").json()["projects"] == []
    assert len(world.cli("list", "-t", "team-queue", "--output", "json").json()["projects"]) == 3


def test_list_takes_one_search_per_100_projects_and_one_list_object_versions_per_template(world):
    world.upload("team-queue", TEAM_QUEUE)
    create_many(world, 250)
    r, requests = counted(lambda: world.cli("list", "--output", "json"))
    assert r.code == 0, r
    assert len(r.json()["projects"]) == 250
    assert requests == {"sagemaker:Search": 3, "s3:ListObjectVersions": 1}, requests
    assert r.json()["requests"] == {"Search": 3, "ListObjectVersions": 1, "GetObject": 0}


def test_under_sse_kms_list_names_versions_by_content_reading_each_version_once(world):
    """SSE-KMS ETags are not the content's MD5 (ext_s3): the projects' digests match no listed ETag, so `list`
    reads each stored version once and names it by its content, as `create` and the onboarder tag projects."""
    import hashlib

    def upload_kms(body):
        world.s3.put_object(Bucket=BUCKET, Key=f"{PREFIX}team-queue.yaml", Body=body.encode(), Tagging=VISIBLE,
                            ServerSideEncryption="aws:kms", SSEKMSKeyId="alias/templates")

    upload_kms(TEAM_QUEUE)
    assert world.cli("create", "alpha", "-t", "team-queue", "-p", "Purpose=training", *FAST, *world.flags()).code == 0
    old = hashlib.md5(TEAM_QUEUE.encode()).hexdigest()  # noqa: S324 - S3's content digest
    assert tags_of(world, "alpha")[DIGEST_TAG] == old != digest(world.s3, "team-queue")
    upload_kms(TEAM_QUEUE_V2)
    new = hashlib.md5(TEAM_QUEUE_V2.encode()).hexdigest()  # noqa: S324

    r, requests = counted(lambda: world.cli("list", "--output", "json"))
    assert r.code == 0, r
    [project] = r.json()["projects"]
    assert (project["digest"], project["current_digest"], project["outdated"]) == (old, new, True)
    assert requests == {"sagemaker:Search": 1, "s3:ListObjectVersions": 1, "s3:GetObject": 2}, requests
    assert r.err == "1 project, 1 outdated (1 Search + 1 ListObjectVersions + 2 GetObject requests)\n"


def tags_of(world, name):
    arn = world.sm.describe_project(ProjectName=name)["ProjectArn"]
    return {t["Key"]: t["Value"] for t in world.sm.list_tags(ResourceArn=arn)["Tags"]}


def provider_of(world, name):
    return world.sm.describe_project(ProjectName=name)["TemplateProviderDetails"][0]["CfnTemplateProviderDetail"]


def resources_of(world, name):
    stack = provider_of(world, name)["StackDetail"]["Id"]
    return sorted(r["LogicalResourceId"] for r in world.cf.list_stack_resources(StackName=stack)["StackResourceSummaries"])


# the queue renamed, the dead-letter queue gone, a topic added
TEAM_QUEUE_V3 = TEAM_QUEUE.replace("-${Purpose}'", "-${Purpose}-v3'") + "  Topic:\n    Type: AWS::SNS::Topic\n"
# an update CloudFormation fails while applying it (a dead-letter queue that does not exist): it rolls back
TEAM_QUEUE_BROKEN = TEAM_QUEUE + """\
  Broken:
    Type: AWS::SQS::Queue
    Properties:
      RedrivePolicy: {deadLetterTargetArn: 'arn:aws:sqs:us-east-1:123456789012:nowhere', maxReceiveCount: 3}
"""
# Purpose renamed Usage
TEAM_QUEUE_RENAMED = TEAM_QUEUE.replace("  Purpose:", "  Usage:").replace("${Purpose}", "${Usage}")


def test_update_moves_a_project_to_the_published_version_keeping_its_parameters(world):
    world.upload("team-queue", TEAM_QUEUE)
    assert world.cli("create", "alpha", "-t", "team-queue", "-p", "Purpose=training", *FAST, *world.flags()).code == 0
    old = digest(world.s3, "team-queue")
    world.upload("team-queue", TEAM_QUEUE_V2)
    new = digest(world.s3, "team-queue")

    r = world.cli("update", "alpha", "-p", "RetentionSeconds=600", *FAST)
    assert r.code == 0, r
    assert r.out.startswith("Project alpha is UpdateCompleted ("), r
    assert r.err.splitlines()[0] == f"updating project alpha: template team-queue {old[:12]} -> {new[:12]}"
    assert r.err.splitlines()[-1].endswith("] alpha: UpdateCompleted"), r
    provider = provider_of(world, "alpha")
    assert provider["TemplateURL"] == pinned(world.s3, "team-queue")
    assert provider["Parameters"] == [{"Key": "Purpose", "Value": "training"}, {"Key": "RetentionSeconds", "Value": "600"}]
    assert resources_of(world, "alpha") == ["Dlq", "Queue"]
    # the version tags follow the update; the visibility tag the creation set stays
    assert tags_of(world, "alpha") == {TEMPLATE_TAG: "team-queue", DIGEST_TAG: new, "sagemaker:studio-visibility": "true"}
    assert world.cli("list", "--outdated", "--output", "json").json()["projects"] == []

    again = world.cli("update", "alpha", *FAST)
    assert (again.code, again.out) == (0, f"Project alpha already runs template team-queue {new[:12]} with these "
                                          "parameters: nothing to update.\n"), again

    # back to the first version, by digest: the old version is still addressable
    back = world.cli("update", "alpha", "--template-version", old[:8], *FAST)
    assert back.code == 0, back
    assert provider_of(world, "alpha")["TemplateURL"] == pinned(world.s3, "team-queue", version_of(world, old))
    assert resources_of(world, "alpha") == ["Queue"] and tags_of(world, "alpha")[DIGEST_TAG] == old


def version_of(world, content_digest):
    versions = world.s3.list_object_versions(Bucket=BUCKET, Prefix=f"{PREFIX}team-queue.yaml")["Versions"]
    return next(v["VersionId"] for v in versions if v["ETag"].strip('"') == content_digest)


def test_update_dry_run_prints_the_parameter_changes_and_the_resources_by_logical_id(world):
    world.upload("team-queue", TEAM_QUEUE_V2)
    assert world.cli("create", "beta", "-t", "team-queue", "-p", "Purpose=training", *FAST, *world.flags()).code == 0
    old = digest(world.s3, "team-queue")
    world.upload("team-queue", TEAM_QUEUE_V3)
    new = digest(world.s3, "team-queue")
    r = world.cli("update", "beta", "--dry-run", "-p", "Purpose=inference")
    assert r.code == 0, r
    assert r.out == (f"Project beta: template team-queue {old[:12]} -> {new[:12]}\n"
                     f"URL: {pinned(world.s3, 'team-queue')}\n"
                     "Parameters:\n  Purpose: training -> inference\n"
                     "Resources:\n  + Topic\n  - Dlq\n  ~ Queue\n"), r
    assert r.err == "dry run: nothing was changed\n"
    doc = world.cli("update", "beta", "--dry-run", "--output", "json").json()
    assert doc["resources"] == {"added": ["Topic"], "removed": ["Dlq"], "modified": ["Queue"]}
    assert (doc["plan"]["from"], doc["plan"]["to"], doc["plan"]["parameter_changes"]) == (old, new, [])
    # nothing changed
    assert world.sm.describe_project(ProjectName="beta")["ProjectStatus"] == "CreateCompleted"
    assert resources_of(world, "beta") == ["Dlq", "Queue"] and tags_of(world, "beta")[DIGEST_TAG] == old


def test_an_update_that_fails_exits_1_naming_the_resource_that_failed_and_keeps_the_version_tags(world):
    world.upload("team-queue", TEAM_QUEUE)
    assert world.cli("create", "gamma", "-t", "team-queue", "-p", "Purpose=training", *FAST, *world.flags()).code == 0
    old = digest(world.s3, "team-queue")
    world.upload("team-queue", TEAM_QUEUE_BROKEN)
    r = world.cli("update", "gamma", *FAST)
    assert r.code == 1, r
    message = provider_of(world, "gamma")["StackDetail"]["StatusMessage"]
    # SageMaker's message is the stack's summary ...
    assert message == "UPDATE_ROLLBACK_COMPLETE: The following resource(s) failed to create: [Broken]. ", message
    # ... the CLI says the resource that failed in the update, its reason, and what to do
    assert r.err.endswith(
        "error: project gamma is UpdateFailed: Broken (AWS::SQS::Queue) failed: AWS.SimpleQueueService.NonExistentQueue: "
        "Could not find DLQ for arn:aws:sqs:us-east-1:123456789012:nowhere. Fix the cause, then projects update gamma.\n"), r
    status = world.cli("status", "gamma").out.splitlines()[0]
    assert status == r.err.splitlines()[-1].removeprefix("error: project gamma is UpdateFailed: "), status
    assert resources_of(world, "gamma") == ["Queue"] and tags_of(world, "gamma")[DIGEST_TAG] == old


def test_a_parameter_the_new_version_no_longer_declares_is_named_before_sagemaker_is_called(world):
    world.upload("team-queue", TEAM_QUEUE)
    assert world.cli("create", "delta", "-t", "team-queue", "-p", "Purpose=training", *FAST, *world.flags()).code == 0
    world.upload("team-queue", TEAM_QUEUE_RENAMED)
    new = digest(world.s3, "team-queue")
    r = world.cli("update", "delta", *FAST)
    assert (r.code, r.out) == (2, ""), r
    assert r.err == (f"error: project delta has parameter Purpose that template team-queue version {new[:12]} no "
                     "longer declares; it takes Usage, RetentionSeconds (pass --drop-param Purpose to leave it out)\n")
    assert world.sm.describe_project(ProjectName="delta")["ProjectStatus"] == "CreateCompleted"
    missing = world.cli("update", "delta", "--drop-param", "Purpose", *FAST)
    assert missing.code == 2 and "requires parameter Usage" in missing.err, missing
    ok = world.cli("update", "delta", "--drop-param", "Purpose", "-p", "Usage=training", *FAST)
    assert ok.code == 0, ok
    assert provider_of(world, "delta")["Parameters"] == [{"Key": "Usage", "Value": "training"}]
    unknown = world.cli("update", "delta", "--template-version", "ffffff", *FAST)
    assert unknown.code == 2 and "has no published version ffffff" in unknown.err, unknown


# fails (and rolls back) only in projects whose Purpose is inference
TEAM_QUEUE_BROKEN_FOR_INFERENCE = TEAM_QUEUE.replace("Resources:\n", """\
Conditions:
  Inference: !Equals [!Ref Purpose, inference]
Resources:
  Broken:
    Type: AWS::SQS::Queue
    Condition: Inference
    Properties:
      RedrivePolicy: {deadLetterTargetArn: 'arn:aws:sqs:us-east-1:123456789012:nowhere', maxReceiveCount: 3}
""")


def upgrade_rows(r):
    header, *rows = r.out.splitlines()
    assert header.split()[:4] == ["PROJECT", "TEMPLATE", "FROM", "->"], r
    return {row.split()[0]: row for row in rows}


def test_an_upgrade_whose_canary_fails_halts_the_rest_and_a_rerun_continues_where_it_stopped(world):
    world.upload("team-queue", TEAM_QUEUE)
    create_many(world, 4)
    old = digest(world.s3, "team-queue")
    world.upload("team-queue", TEAM_QUEUE_BROKEN)

    dry = world.cli("upgrade", "--all", "--canary", "1", "--dry-run")
    assert dry.code == 0, dry
    assert dry.err == "dry run: 4 outdated projects would be upgraded (1 canaries first); nothing was changed\n"

    r = world.cli("upgrade", "--all", "--canary", "1", *FAST)
    assert r.code == 1, r
    rows = upgrade_rows(r)
    assert sorted(rows) == ["bulk-0000", "bulk-0001", "bulk-0002", "bulk-0003"]
    canary = rows["bulk-0000"].split()
    assert canary[1:4] == ["(canary)", "team-queue", old[:12]] and "Failed" in canary, r
    assert "UpdateFailed: UPDATE_ROLLBACK_COMPLETE:" in rows["bulk-0000"]
    assert all("NotStarted" in rows[f"bulk-000{i}"] for i in (1, 2, 3)), r
    assert r.err.endswith("0 upgraded, 1 failed, 0 refused, 0 timed out, 3 not started, 0 skipped; stopped after 1 "
                          "failures (--max-failures 0): run it again to continue\n"), r
    statuses = {p: world.sm.describe_project(ProjectName=p)["ProjectStatus"] for p in rows}
    assert statuses == {"bulk-0000": "UpdateFailed", "bulk-0001": "CreateCompleted", "bulk-0002": "CreateCompleted",
                        "bulk-0003": "CreateCompleted"}
    assert all(tags_of(world, p)[DIGEST_TAG] == old for p in rows)

    # the template is fixed: the re-run upgrades all four, the failed canary first
    world.upload("team-queue", TEAM_QUEUE_V2)
    new = digest(world.s3, "team-queue")
    again = world.cli("upgrade", "--all", "--canary", "1", "--concurrency", "3", "--output", "json", *FAST)
    assert again.code == 0, again
    report = again.json()
    assert [(row["project"], row["canary"], row["outcome"]) for row in report["rows"]][0] == (
        "bulk-0000", True, "Upgraded")
    assert sorted(row["outcome"] for row in report["rows"]) == ["Upgraded"] * 4 and not report["halted"]
    assert all(tags_of(world, p)[DIGEST_TAG] == new and resources_of(world, p) == ["Dlq", "Queue"] for p in rows)
    done = world.cli("upgrade", "--all", *FAST)
    assert (done.code, done.err) == (0, "0 upgraded, 0 failed, 0 refused, 0 timed out, 0 not started, 0 skipped\n")


def test_an_upgrade_tolerates_max_failures_and_reports_each_project(world):
    world.upload("team-queue", TEAM_QUEUE)
    create_many(world, 3)
    url = pinned(world.s3, "team-queue")
    world.sm.create_project(ProjectName="bulk-infer", TemplateProviders=[{"CfnTemplateProvider": {
        "TemplateName": "team-queue", "TemplateURL": url, "RoleARN": LAUNCH_ROLE_ARN,
        "Parameters": [{"Key": "Purpose", "Value": "inference"}]}}],
        Tags=[{"Key": TEMPLATE_TAG, "Value": "team-queue"}, {"Key": DIGEST_TAG, "Value": digest(world.s3, "team-queue")}])
    world.upload("team-queue", TEAM_QUEUE_BROKEN_FOR_INFERENCE)
    r = world.cli("upgrade", "--all", "--canary", "1", "--max-failures", "1", "--concurrency", "2", *FAST)
    assert r.code == 1, r
    rows = upgrade_rows(r)
    outcomes = {p: next(o for o in ("Upgraded", "Failed", "NotStarted") if o in row) for p, row in rows.items()}
    assert outcomes == {"bulk-0000": "Upgraded", "bulk-0001": "Upgraded", "bulk-0002": "Upgraded",
                        "bulk-infer": "Failed"}, r
    assert r.err.endswith("3 upgraded, 1 failed, 0 refused, 0 timed out, 0 not started, 0 skipped\n"), r
    assert world.cli("list", "--outdated", "--output", "json").json()["projects"][0]["name"] == "bulk-infer"
    # which projects: one of --domain and --all, never both (clap's argument group, a usage error)
    neither = world.cli("upgrade", *FAST)
    assert neither.code == 2 and "--domain <ID>" in neither.err and "--all" in neither.err, neither
    both = world.cli("upgrade", "--all", "--domain", "d-1", *FAST)
    assert both.code == 2 and "cannot be used with" in both.err, both


# ------------------------------------------------------------------------------------------------------ the doctor


# the launch role's trust as iam/roles.yaml writes it: CloudFormation, and roles tagged for launch access
LAUNCH_TRUST_TAGGED = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "cloudformation.amazonaws.com"}, "Action": "sts:AssumeRole"},
    {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "sts:AssumeRole",
     "Condition": {"StringEquals": {"aws:PrincipalTag/sagemaker-projects-launch-access": "true",
                                    "aws:PrincipalType": "AssumedRole"}}}]})


def bootstrap_stack(world):
    """A stand-in for the bootstrap stack: its outputs, and the seed-code function and SSM parameter; and the
    launch role trusting tagged roles, as iam/roles.yaml makes it."""
    world.iam.update_assume_role_policy(RoleName=LAUNCH_ROLE_NAME, PolicyDocument=LAUNCH_TRUST_TAGGED)
    outputs = {"TemplateBucket": BUCKET, "TemplatesLocation": f"s3://{BUCKET}/{PREFIX}", "LaunchRoleArn": LAUNCH_ROLE_ARN,
               **{f"{pascal(stem)}TemplateUrl": url for stem, url in world.urls.items()}}
    body = {"Resources": {
        "SeedCodeFunction": {"Type": "AWS::Lambda::Function", "Properties": {
            "FunctionName": "sagemaker-projects-seedcode", "Runtime": "provided.al2023", "Handler": "bootstrap",
            "Role": LAUNCH_ROLE_ARN, "Code": {"ZipFile": "placeholder"}}},
        "SeedCodeFunctionArnParameter": {"Type": "AWS::SSM::Parameter", "Properties": {
            "Name": "/sagemaker-projects-bootstrap/seedcode-function-arn", "Type": "String",
            "Value": {"Fn::GetAtt": ["SeedCodeFunction", "Arn"]}}}},
        "Outputs": {k: {"Value": v} for k, v in outputs.items()}}
    stack_id = world.cf.create_stack(StackName="sagemaker-projects-bootstrap", TemplateBody=json.dumps(body))["StackId"]
    return stack_id.split("/")[2]


def logging_trail(world, logging=True):
    cloudtrail = world.cloudtrail
    world.s3.create_bucket(Bucket="trail-logs")
    cloudtrail.create_trail(Name="management", S3BucketName="trail-logs", IsMultiRegionTrail=True)
    if logging:
        cloudtrail.start_logging(Name="management")


def doctor_lines(r):
    return [line for line in r.out.splitlines() if not line.startswith("       fix:")]


def test_doctor_finds_what_a_broken_domain_lacks_and_fix_repairs_it(world):
    owner = bootstrap_stack(world)
    logging_trail(world)
    iam = world.iam
    make_role(iam, "TeamRole", path="/service-role/")
    world.sm.create_domain(DomainName="team", AuthMode="IAM", SubnetIds=["subnet-1"], VpcId="vpc-1",
                           DefaultUserSettings={"ExecutionRole": f"arn:aws:iam::{ACCOUNT}:role/service-role/TeamRole"})
    domain = world.sm.list_domains()["Domains"][0]["DomainId"]

    broken = world.cli("doctor", "--domain", domain)
    assert broken.code == 1, broken
    lines = doctor_lines(broken)
    assert lines[0].startswith(f"OK     templates under s3://{BUCKET}/{PREFIX}: 5 templates, all tagged"), broken
    assert lines[1].startswith(f"OK     CORS of bucket {BUCKET} for Studio"), broken
    assert lines[2].startswith("OK     launch role AmazonSageMakerProjectsLaunchRole: trusts roles tagged"), broken
    assert lines[3].startswith("OK     seed-code function and its SSM parameter"), broken
    assert lines[4] == "OK     a CloudTrail trail logging management events: management (logging)", broken
    assert lines[5] == f"FAIL   domain {domain}: tag sagemaker:projectS3TemplatesLocation: missing", broken
    assert lines[6] == f"OK     domain {domain}: Projects shown in Studio: not hidden", broken
    assert lines[7] == (f"FAIL   domain {domain}: default user role TeamRole: lacks iam:PassRole on {LAUNCH_ROLE_ARN}, "
                        "CloudFormation on SP-* stacks, s3:GetObjectTagging on the templates, the tag "
                        "sagemaker-projects-launch-access=true"), broken
    assert f"       fix: projects doctor --domain {domain} --fix (AddTags)\n" in broken.out
    assert broken.err == "2 of 8 checks failed\n"

    fixed = world.cli("doctor", "--domain", domain, "--fix")
    assert fixed.code == 0, fixed
    assert [line.split()[0] for line in doctor_lines(fixed)] == ["OK", "OK", "OK", "OK", "OK", "FIXED", "OK", "FIXED"]
    # the onboarder's own grant: its three policies under its owner (the stack id's last part), and the tag
    names = sorted(iam.list_role_policies(RoleName="TeamRole")["PolicyNames"])
    assert names == [f"SageMakerProjects-{p}-{owner}" for p in ("PassLaunchRole", "ProjectStacks", "TemplateRead")]
    arn = world.sm.list_domains()["Domains"][0]["DomainArn"]
    tags = {t["Key"]: t["Value"] for t in world.sm.list_tags(ResourceArn=arn)["Tags"]}
    assert tags["sagemaker:projectS3TemplatesLocation"] == f"s3://{BUCKET}/{PREFIX}"

    healthy = world.cli("doctor", "--output", "json")
    assert healthy.code == 0, healthy
    assert healthy.json()["passed"] and {c["state"] for c in healthy.json()["checks"]} == {"Ok"}


def test_doctor_reports_a_role_it_cannot_grant_as_one_failed_check_and_goes_on(world):
    """A role of another account, or one out of the product's reach, fails its own line with the reason, even
    with --fix; the other checks still run and the report ends as usual (exit 1, not 2: nothing was invalid)."""
    bootstrap_stack(world)
    logging_trail(world)
    foreign = "arn:aws:iam::999999999999:role/TheirRole"
    world.sm.create_domain(DomainName="team", AuthMode="IAM", SubnetIds=["subnet-1"], VpcId="vpc-1",
                           DefaultUserSettings={"ExecutionRole": foreign},
                           DefaultSpaceSettings={"ExecutionRole": LAUNCH_ROLE_ARN})
    domain = world.sm.list_domains()["Domains"][0]["DomainId"]

    r = world.cli("doctor", "--domain", domain, "--fix")
    assert r.code == 1, r
    lines = doctor_lines(r)
    assert lines[5].startswith(f"FIXED  domain {domain}: tag sagemaker:projectS3TemplatesLocation: missing"), r
    assert lines[7] == (f"FAIL   domain {domain}: default user role {foreign}: ExecutionRole: role {foreign} is in "
                        f"account 999999999999; this stack can only manage roles of account {ACCOUNT}"), r
    assert lines[8].startswith(f"FAIL   domain {domain}: default space role {LAUNCH_ROLE_NAME}: lacks "), r
    assert lines[8].endswith("not granted: role AmazonSageMakerProjectsLaunchRole is out of this product's reach "
                             "(the projects' launch role): its policies and tags are never changed"), r
    assert f"       fix: grant it in its own account, or give the domain a role of account {ACCOUNT}\n" in r.out
    assert r.err == "2 of 9 checks failed\n", r
    assert world.iam.list_role_policies(RoleName=LAUNCH_ROLE_NAME)["PolicyNames"] == [], "the launch role is untouched"


def test_doctor_names_hidden_templates_missing_cors_a_trail_not_logging_and_hidden_projects(world):
    bootstrap_stack(world)
    logging_trail(world, logging=False)
    world.upload("hidden", TEAM_QUEUE, visible=False)
    world.s3.delete_bucket_cors(Bucket=BUCKET)
    world.sm.create_domain(DomainName="team", AuthMode="IAM", SubnetIds=["subnet-1"], VpcId="vpc-1",
                           DefaultUserSettings={"ExecutionRole": LAUNCH_ROLE_ARN,
                                                "StudioWebPortalSettings": {"HiddenMlTools": ["Projects"]}})
    r = world.cli("doctor")
    assert r.code == 1, r
    lines = doctor_lines(r)
    assert lines[0] == f"FAIL   templates under s3://{BUCKET}/{PREFIX}: not tagged sagemaker:studio-visibility=true: hidden.yaml"
    assert lines[1].startswith(f"FAIL   CORS of bucket {BUCKET} for Studio: no rule allows origin https://*.sagemaker.aws")
    assert "FAIL   a CloudTrail trail logging management events: management is not logging" in lines, r
    assert any(line.endswith("Projects shown in Studio: Projects is among the hidden ML tools "
                             "(StudioWebPortalSettings.HiddenMlTools)") for line in lines), r
