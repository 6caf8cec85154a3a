"""`make demo`: the whole product on the embedded emulator, printed as it happens.

1. starts moto (with the harness extensions; Lambda invocations run the real binaries through cargo-lambda);
2. deploys the IAM roles stack (iam/roles.yaml) and the real bootstrap stack (infra/bootstrap.yaml) into the
   emulator's CloudFormation — its custom resources publish the templates and grant a listed execution role;
3. creates a SageMaker domain (Pending, then InService), puts the CloudTrail-shaped CreateDomain event on the
   default bus, and follows it: rule → SQS → onboarder → role policies → domain tag → project;
4. uploads a template later and lets S3 → EventBridge → the tagger judge it;
5. creates one project by hand with the `projects` CLI;
6. changes that template, then `projects list --outdated` and `projects upgrade --all` roll the project forward;
then prints a table of what it did. Exits non-zero if any step fails; stops everything it started."""
from __future__ import annotations

import json
import logging
import subprocess
import sys
import time
import uuid
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import emulator as emu  # noqa: E402
from harness import ext_lambda, ext_sagemaker_domains, stack  # noqa: E402
from harness.fixtures import make_role  # noqa: E402
from harness.functions import binary_path  # noqa: E402

DEPLOY_PARAMS = {
    "SourceModelPackageGroupName": "churn-models",
    "CodeConnectionArn": "arn:aws:codeconnections:us-east-1:123456789012:connection/0a1b2c3d-1111-2222-3333-444455556666",
    "ModelDeployCodeRepositoryFullname": "acme/churn-deploy",
}
LATER_TEMPLATE = b"""Parameters:
  SageMakerProjectName: {Type: String}
  SageMakerProjectId: {Type: String}
Resources:
  Queue:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: !Sub 'sagemaker-${SageMakerProjectName}-${SageMakerProjectId}'
"""
LATER_TEMPLATE_V2 = LATER_TEMPLATE + b"""  DeadLetters:
    Type: AWS::SQS::Queue
"""


class Demo:
    def __init__(self):
        self.started = time.monotonic()
        self.rows: list[tuple[str, bool, str]] = []

    def say(self, text: str) -> None:
        print(f"[{time.monotonic() - self.started:6.1f}s] {text}", flush=True)

    def check(self, what: str, ok: bool, detail: str) -> bool:
        self.rows.append((what, ok, detail))
        self.say(f"{'ok    ' if ok else 'FAILED'} {what}: {detail}")
        return ok

    @property
    def failed(self) -> bool:
        return any(not ok for _, ok, _ in self.rows)

    def table(self) -> None:
        width = max(len(r[0]) for r in self.rows)
        line = "─" * (width + 72)
        print(f"\n{line}\n{'step':<{width}}  result  detail\n{line}")
        for what, ok, detail in self.rows:
            print(f"{what:<{width}}  {'ok' if ok else 'FAILED':<6}  {detail[:110]}")
        print(line)


def wait(check, timeout: float = 60.0, every: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(every)
    return None


def run(demo: Demo, aws) -> None:
    iam, sm, s3, events = aws.client("iam"), aws.client("sagemaker"), aws.client("s3"), aws.client("events")
    tags_of = lambda arn: {t["Key"]: t["Value"] for t in sm.list_tags(ResourceArn=arn)["Tags"]}  # noqa: E731

    demo.say("deploying the account-wide IAM stack (iam/roles.yaml)…")
    iam_outputs = stack.deploy_iam_roles(aws)
    demo.check("IAM roles stack", "LaunchRoleArn" in iam_outputs, iam_outputs.get("LaunchRoleArn", "no launch role"))

    existing = make_role(iam, "AmazonSageMaker-ExecutionRole-existing", "/service-role/")
    demo.say("deploying the bootstrap stack (infra/bootstrap.yaml); its custom resources run the real functions…")
    outputs = stack.deploy_bootstrap(aws, parameters={
        "ExistingExecutionRoles": [existing],
        "DefaultTemplate": "deploy-codepipeline",
        "DefaultTemplateParameters": json.dumps(DEPLOY_PARAMS),
        "RecheckDelaySeconds": 1,
        "NamePrefix": "projects-bootstrap",  # as make deploy names a new stack's resources (README "Security model")
    })
    resources = stack.stack_resources(aws)
    demo.check("bootstrap stack", True, f"CREATE_COMPLETE, {len(resources)} resources")
    bucket = outputs["TemplateBucket"]

    objects = s3.list_objects_v2(Bucket=bucket).get("Contents", [])
    visible = [o["Key"] for o in objects
               if {t["Key"]: t["Value"] for t in s3.get_object_tagging(Bucket=bucket, Key=o["Key"])["TagSet"]}
               .get("sagemaker:studio-visibility") == "true"]
    demo.check("templates published and visible", len(visible) == 5, f"{len(visible)} in {outputs['TemplatesLocation']}")
    granted = [n for n in iam.list_role_policies(RoleName="AmazonSageMaker-ExecutionRole-existing")["PolicyNames"]]
    demo.check("policies on the listed role", len(granted) == 3, ", ".join(p.rsplit("-", 1)[0] for p in granted))

    demo.say("a data scientist's admin creates a SageMaker domain (it starts Pending)…")
    role = make_role(iam, "AmazonSageMaker-ExecutionRole-team", "/service-role/")
    with ext_sagemaker_domains.domains_start("Pending"):
        arn = sm.create_domain(DomainName="team", AuthMode="IAM", DefaultUserSettings={"ExecutionRole": role},
                               SubnetIds=["subnet-1"], VpcId="vpc-1")["DomainArn"]
    domain = arn.rsplit("/", 1)[1]
    event = {"Source": "aws.sagemaker", "DetailType": "AWS API Call via CloudTrail", "Detail": json.dumps({
        "eventVersion": "1.08", "eventSource": "sagemaker.amazonaws.com", "eventName": "CreateDomain",
        "awsRegion": aws.region, "recipientAccountId": aws.account_id, "eventID": str(uuid.uuid4()),
        "requestParameters": {"domainName": "team"}, "responseElements": {"domainArn": arn}})}
    demo.say(f"CloudTrail delivers CreateDomain for {domain} to EventBridge (rule → SQS → onboarder)…")
    events.put_events(Entries=[event])
    policies = wait(lambda: len(iam.list_role_policies(RoleName="AmazonSageMaker-ExecutionRole-team")["PolicyNames"]) == 3)
    demo.check("role policies while Pending", bool(policies), "3 inline policies + launch-access tag" if policies else "none")
    demo.check("no domain tag while Pending", "sagemaker:projectS3TemplatesLocation" not in tags_of(arn),
               "the onboarder re-checks through a delayed SQS message")
    demo.say("the domain finishes creating (InService)…")
    ext_sagemaker_domains.set_domain_status(domain, "InService")
    tag = wait(lambda: tags_of(arn).get("sagemaker:projectS3TemplatesLocation"), timeout=30)
    demo.check("domain tag", tag == outputs["TemplatesLocation"], f"sagemaker:projectS3TemplatesLocation={tag}")
    name = f"mlops-{domain}"
    project = wait(lambda: next((p for p in sm.list_projects()["ProjectSummaryList"] if p["ProjectName"] == name), None))
    demo.check("project created", project is not None, name)
    settled = wait(lambda: (lambda s: s if s not in ("Pending", "CreateInProgress") else None)(
        sm.describe_project(ProjectName=name)["ProjectStatus"]), timeout=60) if project else None
    detail = sm.describe_project(ProjectName=name)["TemplateProviderDetails"][0]["CfnTemplateProviderDetail"] if project else {}
    stack_detail = detail.get("StackDetail", {})
    demo.check("project stack", settled == "CreateCompleted",
               f"{settled}: {stack_detail.get('Name', '?')} {stack_detail.get('StatusMessage', '')}".strip())

    demo.say("someone uploads their own template to the bucket later…")
    s3.put_object(Bucket=bucket, Key="templates/team-queue.yaml", Body=LATER_TEMPLATE)
    s3.put_object(Bucket=bucket, Key="templates/broken.yaml", Body=b"Resources: {}\n")
    later = wait(lambda: (lambda t: t if "sagemaker:studio-visibility" in t else None)(
        {x["Key"]: x["Value"] for x in s3.get_object_tagging(Bucket=bucket, Key="templates/team-queue.yaml")["TagSet"]}))
    demo.check("later upload judged", (later or {}).get("sagemaker:studio-visibility") == "true", "team-queue.yaml visible")
    broken = wait(lambda: (lambda t: t if "sagemaker:studio-visibility" in t else None)(
        {x["Key"]: x["Value"] for x in s3.get_object_tagging(Bucket=bucket, Key="templates/broken.yaml")["TagSet"]}))
    demo.check("broken upload hidden", (broken or {}).get("sagemaker:studio-visibility") == "false",
               f"reason: {(broken or {}).get('sagemaker-projects-bootstrap:rejected', '?')}")

    demo.say("a data scientist creates a project by hand with the projects CLI…")
    cli = binary_path("projects")
    cmd = [str(cli), "create", "churn-experiments", "--stack", stack.BOOTSTRAP_STACK, "--template", "team-queue"]
    print("$ projects " + " ".join(cmd[1:]), flush=True)
    result = subprocess.run(cmd, env={**aws.child_env(), "PATH": "/usr/bin:/bin"}, capture_output=True, text=True, timeout=120)
    sys.stdout.write(result.stdout)
    sys.stderr.write(result.stderr)
    demo.check("project by hand (CLI)", result.returncode == 0, f"churn-experiments: exit {result.returncode}")

    def projects(*args: str) -> subprocess.CompletedProcess:
        """Runs the CLI, printing what a person would see; a JSON answer is read, not printed."""
        cmd = [str(cli), *args]
        print("$ projects " + " ".join(args), flush=True)
        done = subprocess.run(cmd, env={**aws.child_env(), "PATH": "/usr/bin:/bin"}, capture_output=True, text=True,
                              timeout=300)
        if "json" not in args:
            sys.stdout.write(done.stdout)
        sys.stderr.write(done.stderr)
        return done

    demo.say("the team changes its template (a new version of team-queue.yaml; the bucket keeps the old one)…")
    s3.put_object(Bucket=bucket, Key="templates/team-queue.yaml", Body=LATER_TEMPLATE_V2)
    version = s3.head_object(Bucket=bucket, Key="templates/team-queue.yaml")["VersionId"]
    judged = wait(lambda: {x["Key"]: x["Value"] for x in s3.get_object_tagging(
        Bucket=bucket, Key="templates/team-queue.yaml", VersionId=version)["TagSet"]}.get("sagemaker:studio-visibility"))
    demo.check("new version judged", judged == "true", f"team-queue.yaml version {version[:8]}… visible")
    outdated = projects("list", "--outdated", "--output", "json")
    behind = [p["name"] for p in json.loads(outdated.stdout or "{}").get("projects", [])] if outdated.returncode == 0 else []
    demo.check("projects list --outdated", behind == ["churn-experiments"], ", ".join(behind) or "none")
    projects("update", "churn-experiments", "--dry-run")
    upgraded = projects("upgrade", "--all", "--canary", "1", "--poll-interval", "0.5", "--timeout", "120")
    after = projects("list", "--outdated", "--output", "json")
    left = json.loads(after.stdout or "{}").get("projects", ["?"]) if after.returncode == 0 else ["?"]
    demo.check("projects upgrade --all", upgraded.returncode == 0 and left == [],
               f"exit {upgraded.returncode}; {len(left)} outdated after")


def main() -> int:
    # moto names every resource type it skips (CodePipeline, CodeRepository…): expected here, noise in a demo
    warnings.filterwarnings("ignore", module="moto")
    logging.getLogger("moto").setLevel(logging.ERROR)
    demo = Demo()
    missing = stack.missing_binaries()
    if missing:
        print(f"build the functions first (make build): missing {', '.join(missing)}", file=sys.stderr)
        return 2
    demo.say("starting the emulator (moto + harness extensions) …")
    aws = emu.start()
    try:
        run(demo, aws)
    except Exception as e:  # noqa: BLE001 — the demo reports every failure, then exits non-zero
        demo.check("demo", False, f"{type(e).__name__}: {e}")
    finally:
        ext_lambda.shutdown()
        aws.stop()
    demo.table()
    verdict = "FAILED" if demo.failed else "every step ok"
    print(f"demo finished in {time.monotonic() - demo.started:.1f}s: {verdict}")
    return 1 if demo.failed else 0


if __name__ == "__main__":
    sys.exit(main())
