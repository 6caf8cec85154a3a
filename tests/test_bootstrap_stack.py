"""The regional bootstrap stack (infra/bootstrap.yaml), deployed for real into the emulator's CloudFormation after
the account-wide roles stack (iam/roles.yaml), with every function running as its real binary (ext_lambda).

One deployment serves the whole module (tests run in file order; the last one deletes the stack). The stack
completes only once its custom resources were answered by the functions, so CREATE_COMPLETE already says that
the templates were published, the listed execution roles granted and the install sweep run.

What the emulator cannot take, and how this module copes (see also harness/stack.py and harness/ext_*.py):
- CloudTrail: moto emits no CloudTrail events, so the test puts a CloudTrail-shaped CreateDomain event on the
  default bus with PutEvents; the rule → SQS → event source mapping → onboarder path after that is the stack's.
  (AWS refuses PutEvents with an `aws.*` source; moto does not.)
- SQS event source mapping: moto 5.2.5 invokes the function synchronously inside SendMessage and never delivers
  delayed messages; harness/ext_sqs.py replaces that with a poller thread that behaves like Lambda's (batches,
  ReportBatchItemFailures, DelaySeconds honoured), so the delayed re-check path runs too.
- Creation order: moto creates every resource in one pass; ext_cloudformation holds back a custom resource's
  Create until the custom resources it depends on have answered theirs (so the install sweep runs after the
  templates are published, as on CloudFormation), but other resources are not ordered.
- A project's own stack (SP-…) completes only thanks to the harness: ext_cloudformation resolves
  `{{resolve:ssm:…}}` (the templates find the seed-code function through the stack's SSM parameter) and models
  AWS::CodeBuild::Project, whose moto builds succeed at once; no Git repository is seeded.
- Resources moto has no model for (bucket and queue policies, EventInvokeConfig, the optional trail) are skipped
  by moto; their content is checked in the template (cfn-lint, cfn-guard) rather than here.
"""
from __future__ import annotations

import json
import os
import subprocess
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import unquote

import pytest
from botocore.exceptions import ClientError

from harness import emf, ext_cloudwatch, ext_lambda, ext_sagemaker_domains, ext_sqs, stack
from harness.buckets import STUDIO_CORS
from harness.fixtures import DEPLOY_PARAMS, eventually, make_role
from harness.functions import binary_path

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE_NAMES = sorted(p.stem for p in (ROOT / "templates").glob("*.yaml"))
PREFIX = "templates/"
ALARM_EMAIL = "ml-platform@example.com"
NAME_PREFIX = "projects-bootstrap"
NAMESPACE = "SageMakerProjectsBootstrap"
LOCATION_TAG = "sagemaker:projectS3TemplatesLocation"
VISIBILITY_TAG = "sagemaker:studio-visibility"
LAUNCH_TAG = "sagemaker-projects-launch-access"
#: binary → the stack's logical id of its function
FUNCTIONS = {
    "template-publisher": "TemplatePublisherFunction",
    "execution-role-policies": "ExecutionRolePoliciesFunction",
    "template-tagger": "TemplateTaggerFunction",
    "domain-onboarder": "DomainOnboarderFunction",
    "seedcode-checkin": "SeedCodeFunction",
}


def pascal(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("-"))


def project_deleted(sm, name: str) -> bool:
    """DeleteCompleted, or already gone: SageMaker shows a deleted project for a while, then not at all, and a slow
    poll can miss the first."""
    try:
        return sm.describe_project(ProjectName=name)["ProjectStatus"] == "DeleteCompleted"
    except ClientError as e:
        if "does not exist" in e.response["Error"]["Message"]:
            return True
        raise


def bootstrap_template() -> dict:
    from harness.ext_sagemaker import parse_template

    return parse_template((ROOT / "infra" / "bootstrap.yaml").read_text())


@pytest.fixture(scope="module")
def deployed(emulator):
    """Two existing execution roles, a domain that exists before the install, the IAM roles stack, the function
    packages, then the bootstrap stack with a default template."""
    emulator.reset()
    iam, sm = emulator.client("iam"), emulator.client("sagemaker")
    listed_arn = make_role(iam, "AmazonSageMaker-ExecutionRole-listed", "/service-role/")
    make_role(iam, "ListedByName")
    early_role = make_role(iam, "EarlyDomainRole")
    early_domain = sm.create_domain(DomainName="early", AuthMode="IAM", DefaultUserSettings={"ExecutionRole": early_role},
                                    SubnetIds=["subnet-1"], VpcId="vpc-1")["DomainArn"]
    iam_outputs = stack.deploy_iam_roles(emulator)
    artifacts = stack.upload_artifacts(emulator)  # placeholders: the emulator runs target/debug/<Handler>
    outputs = stack.deploy_bootstrap(emulator, parameters={
        **artifacts,
        "ExistingExecutionRoles": [listed_arn, "ListedByName"],
        "DefaultTemplate": "deploy-codepipeline",
        "DefaultTemplateParameters": json.dumps(DEPLOY_PARAMS),
        "RecheckDelaySeconds": 1,
        "AlarmEmail": ALARM_EMAIL,
        "NamePrefix": NAME_PREFIX,  # as make deploy creates a new stack (infra/deploy.py)
    })
    resources = stack.stack_resources(emulator)
    lam = emulator.client("lambda")
    functions = {binary: lam.get_function(FunctionName=resources[logical])
                 for binary, logical in FUNCTIONS.items()}
    return SimpleNamespace(
        aws=emulator, iam=iam, sm=sm, s3=emulator.client("s3"), sqs=emulator.client("sqs"),
        events=emulator.client("events"), lam=lam, outputs=outputs, iam_outputs=iam_outputs,
        resources=resources, functions=functions, bucket=outputs["TemplateBucket"],
        early_domain=early_domain, onboarder=resources["DomainOnboarderFunction"],
        tagger=resources["TemplateTaggerFunction"],
    )


def policies_of(d, role: str) -> dict[str, dict]:
    """This product's inline policies on `role`: name → document."""
    out = {}
    for name in d.iam.list_role_policies(RoleName=role)["PolicyNames"]:
        if name.startswith("SageMakerProjects-"):
            doc = d.iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
            out[name] = json.loads(unquote(doc)) if isinstance(doc, str) else doc
    return out


def role_tags(d, role: str) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in d.iam.list_role_tags(RoleName=role)["Tags"]}


def domain_tags(d, arn: str) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in d.sm.list_tags(ResourceArn=arn)["Tags"]}


def object_tags(d, key: str) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in d.s3.get_object_tagging(Bucket=d.bucket, Key=key)["TagSet"]}


def cloudtrail_event(event_name: str, request: dict, response: dict | None) -> dict:
    return {"Source": "aws.sagemaker", "DetailType": "AWS API Call via CloudTrail", "Detail": json.dumps({
        "eventVersion": "1.08", "eventSource": "sagemaker.amazonaws.com", "eventName": event_name,
        "awsRegion": "us-east-1", "recipientAccountId": "123456789012", "eventID": str(uuid.uuid4()),
        "requestParameters": request, "responseElements": response})}


def queue_deliveries(d, matching=lambda body: True) -> list[ext_lambda.Invocation]:
    """Finished onboarder invocations that came from its queue through the event source mapping and carried a
    message body for which `matching(body)` holds."""
    queue_arn = d.sqs.get_queue_attributes(QueueUrl=d.outputs["OnboarderQueueUrl"],
                                           AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    found = []
    for call in ext_lambda.invocations(d.onboarder):
        records = call.event.get("Records") if isinstance(call.event, dict) else None
        if not call.done.is_set() or not records or records[0].get("eventSourceARN") != queue_arn:
            continue
        if any(matching(json.loads(r["body"])) for r in records):
            found.append(call)
    return found


def about_domain(arn: str):
    return lambda body: ((body.get("detail") or {}).get("responseElements") or {}).get("domainArn") == arn


def delivered_bodies(d) -> list[dict]:
    return [json.loads(r["body"]) for c in queue_deliveries(d) for r in c.event["Records"]]


def onboard_new_domain(d, name: str, start: str = "InService") -> tuple[str, str]:
    """A domain `name` with a role of its own, created in state `start`, and its CloudTrail CreateDomain event put on
    the bus; returns (domain ARN, role name) once the onboarder took the event from its queue."""
    role = f"{pascal(name)}Role"
    with ext_sagemaker_domains.domains_start(start):
        arn = d.sm.create_domain(DomainName=name, AuthMode="IAM", SubnetIds=["subnet-1"], VpcId="vpc-1",
                                 DefaultUserSettings={"ExecutionRole": make_role(d.iam, role)})["DomainArn"]
    d.events.put_events(Entries=[cloudtrail_event("CreateDomain", {"domainName": name}, {"domainArn": arn})])
    eventually(lambda: queue_deliveries(d, about_domain(arn)), f"the event of domain {name} never came")
    return arn, role


# ---------------------------------------------------------------------------------------------------------------


def test_the_stack_completes_with_each_function_wired_as_its_binary_expects(deployed):
    d = deployed
    template = bootstrap_template()
    for binary, fn in d.functions.items():
        config = fn["Configuration"]
        assert (config["Runtime"], config["Handler"]) == ("provided.al2023", binary)
        assert config["Environment"]["Variables"]["AWS_LAMBDA_LOG_LEVEL"] == "info"
        props = template["Resources"][FUNCTIONS[binary]]["Properties"]
        assert props["Architectures"] == ["arm64"]
        assert props["Code"]["S3Key"] == {"Fn::Sub": f"${{ArtifactPrefix}}{binary}.zip"}
    assert d.functions["seedcode-checkin"]["Configuration"]["FunctionName"] == "sagemaker-projects-seedcode"
    assert d.aws.client("ssm").get_parameter(Name="/sagemaker-projects-bootstrap/seedcode-function-arn")[
        "Parameter"]["Value"] == d.outputs["SeedCodeFunctionArn"]

    tagger_env = d.functions["template-tagger"]["Configuration"]["Environment"]["Variables"]
    assert (tagger_env["TEMPLATE_BUCKET"], tagger_env["TEMPLATE_PREFIX"]) == (d.bucket, PREFIX)
    onboarder = d.functions["domain-onboarder"]
    env = onboarder["Configuration"]["Environment"]["Variables"]
    stack_id = d.aws.client("cloudformation").describe_stacks(StackName=stack.BOOTSTRAP_STACK)["Stacks"][0]["StackId"]
    assert env["POLICY_OWNER"] == stack_id.rsplit("/", 1)[1] and len(env["POLICY_OWNER"]) <= 40
    assert env["LAUNCH_ROLE_ARN"] == d.iam_outputs["LaunchRoleArn"]
    assert env["RECHECK_QUEUE_URL"] == d.outputs["OnboarderQueueUrl"]
    assert (env["DEFAULT_TEMPLATE"], json.loads(env["DEFAULT_TEMPLATE_PARAMETERS"])) == ("deploy-codepipeline", DEPLOY_PARAMS)
    assert (env["OPT_IN_TAG"], env["OPT_OUT_TAG"], env["PARAMETERS_TAG"]) == (
        "sagemaker-projects-bootstrap:template", "sagemaker-projects-bootstrap:opt-out",
        "sagemaker-projects-bootstrap:template-parameters")
    assert onboarder["Concurrency"]["ReservedConcurrentExecutions"] == 2

    # the bounds of each custom resource (resources/bounds.rs), from the stack's own configuration
    for binary in ("template-publisher", "execution-role-policies", "domain-onboarder", "seedcode-checkin"):
        variables = d.functions[binary]["Configuration"]["Environment"]["Variables"]
        assert variables["STACK_ID"] == stack_id, binary
        assert "CUSTOM_RESOURCE_BOUNDS" not in variables, binary
    roles_env = d.functions["execution-role-policies"]["Configuration"]["Environment"]["Variables"]
    assert (roles_env["LAUNCH_ROLE_ARN"], roles_env["TEMPLATE_BUCKET"], roles_env["TEMPLATE_KMS_KEY_ARN"]) == (
        d.iam_outputs["LaunchRoleArn"], d.bucket, "")
    assert roles_env["EXECUTION_ROLES"].split(",") == [d.iam.get_role(RoleName="AmazonSageMaker-ExecutionRole-listed")[
        "Role"]["Arn"], "ListedByName"]

    # named out of SageMaker's managed policies' reach (NamePrefix), the seed-code function excepted
    for binary, fn in d.functions.items():
        if binary != "seedcode-checkin":
            assert fn["Configuration"]["FunctionName"] == f"{NAME_PREFIX}-{binary}", binary
    for output in ("OnboarderQueueUrl", "OnboarderDeadLetterQueueUrl"):
        assert d.outputs[output].rsplit("/", 1)[1].startswith(f"{NAME_PREFIX}-"), output
    rules = [r for logical, r in d.resources.items() if template["Resources"][logical]["Type"] == "AWS::Events::Rule"]
    assert sorted(rules) == [f"{NAME_PREFIX}-{n}" for n in ("domain-events", "reconcile-schedule", "template-uploads")]

    mapping, = d.lam.list_event_source_mappings(FunctionName=d.onboarder)["EventSourceMappings"]
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    queue = d.sqs.get_queue_attributes(QueueUrl=d.outputs["OnboarderQueueUrl"], AttributeNames=["All"])["Attributes"]
    assert mapping["EventSourceArn"] == queue["QueueArn"]
    assert int(queue["VisibilityTimeout"]) >= 6 * onboarder["Configuration"]["Timeout"]
    assert json.loads(queue["RedrivePolicy"])["deadLetterTargetArn"].endswith(
        d.outputs["OnboarderDeadLetterQueueUrl"].rsplit("/", 1)[1])

    # no named IAM role: every role of the stack has a generated name under the product's path
    roles = [r for logical, r in d.resources.items() if template["Resources"][logical]["Type"] == "AWS::IAM::Role"]
    assert len(roles) == 5
    for name in roles:
        role = d.iam.get_role(RoleName=name)["Role"]
        assert role["Path"] == "/sagemaker-projects-bootstrap/" and name.startswith(f"{stack.BOOTSTRAP_STACK}-")
    assert all("RoleName" not in r.get("Properties", {}) for r in template["Resources"].values())


def test_with_every_guardrail_off_nothing_of_them_is_set(deployed):
    """The guardrail parameters (tests/test_guardrails.py) left at their defaults keep today's stack: no boundary,
    the default paths, no VPC, SSE-S3, no extra tag."""
    d = deployed
    template = bootstrap_template()
    roles = {n: r for n, r in d.resources.items() if template["Resources"][n]["Type"] == "AWS::IAM::Role"}
    for name in roles.values():
        role = d.iam.get_role(RoleName=name)["Role"]
        assert "PermissionsBoundary" not in role and role["Path"] == "/sagemaker-projects-bootstrap/"
        assert not d.iam.list_role_tags(RoleName=name)["Tags"]
        attached = d.iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]
        assert not any("FunctionVpcAccessPolicy" in p["PolicyArn"] for p in attached)
    assert "FunctionVpcAccessPolicy" not in d.resources
    for fn in d.functions.values():
        assert not (fn["Configuration"].get("VpcConfig") or {}).get("SubnetIds")
    launch = d.iam.get_role(RoleName="AmazonSageMakerProjectsLaunchRole")["Role"]
    assert launch["Path"] == "/" and "PermissionsBoundary" not in launch
    rule = d.s3.get_bucket_encryption(Bucket=d.bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}
    onboarder_env = d.functions["domain-onboarder"]["Configuration"]["Environment"]["Variables"]
    assert not onboarder_env.get("TEMPLATE_KMS_KEY_ARN")


def test_outputs_name_the_bucket_the_templates_and_the_launch_role(deployed):
    d = deployed
    out = d.outputs
    assert d.bucket == f"sagemaker-projects-templates-{d.aws.account_id}-{d.aws.region}"
    assert out["TemplatesLocation"] == f"s3://{d.bucket}/{PREFIX}"
    assert out["LaunchRoleArn"] == d.iam_outputs["LaunchRoleArn"]
    for name in TEMPLATE_NAMES:
        assert out[f"{pascal(name)}TemplateUrl"] == \
            f"https://{d.bucket}.s3.{d.aws.region}.amazonaws.com/{PREFIX}{name}.yaml"
    for key in ("TemplatePublisherFunctionArn", "ExecutionRolePoliciesFunctionArn", "TemplateTaggerFunctionArn",
                "DomainOnboarderFunctionArn", "SeedCodeFunctionArn"):
        assert d.lam.get_function(FunctionName=out[key])["Configuration"]["FunctionArn"] == out[key]
    for key in ("OnboarderQueueUrl", "OnboarderDeadLetterQueueUrl", "EventsDeadLetterQueueUrl"):
        assert d.sqs.get_queue_attributes(QueueUrl=out[key], AttributeNames=["QueueArn"])["Attributes"]

    described = d.aws.client("cloudformation").describe_stacks(StackName=stack.BOOTSTRAP_STACK)["Stacks"][0]
    by_key = {o["OutputKey"]: o for o in described["Outputs"]}
    for name in TEMPLATE_NAMES:
        assert name in by_key[f"{pascal(name)}TemplateUrl"]["Description"]
    # every output is exported as <stack>-<output>, but those that exist only under a condition
    declared = bootstrap_template()["Outputs"]
    for key, decl in declared.items():
        if "Condition" in decl:
            assert "Export" not in decl, key
        else:
            assert decl["Export"]["Name"] == {"Fn::Sub": f"${{AWS::StackName}}-{key}"}
            assert by_key[key]["ExportName"] == f"{stack.BOOTSTRAP_STACK}-{key}"


def test_the_five_templates_are_published_visible_into_the_bucket_the_template_describes(deployed):
    d = deployed
    keys = sorted(o["Key"] for o in d.s3.list_objects_v2(Bucket=d.bucket, Prefix=PREFIX)["Contents"])
    assert keys == [f"{PREFIX}{name}.yaml" for name in TEMPLATE_NAMES] and len(keys) == 5
    for key in keys:
        assert object_tags(d, key)[VISIBILITY_TAG] == "true"
    assert d.s3.get_bucket_versioning(Bucket=d.bucket)["Status"] == "Enabled"
    rule, = d.s3.get_bucket_encryption(Bucket=d.bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    assert all(d.s3.get_public_access_block(Bucket=d.bucket)["PublicAccessBlockConfiguration"].values())
    assert d.s3.get_bucket_cors(Bucket=d.bucket)["CORSRules"] == STUDIO_CORS["CORSRules"]
    declared = bootstrap_template()["Resources"]["TemplateBucket"]
    assert (declared["DeletionPolicy"], declared["UpdateReplacePolicy"]) == ("Retain", "Retain")
    # moto's GetBucketNotificationConfiguration leaves EventBridge out; the tagger test shows the events flow
    assert declared["Properties"]["NotificationConfiguration"] == {"EventBridgeConfiguration": {"EventBridgeEnabled": True}}


def test_listed_execution_roles_get_the_three_policies_and_the_launch_access_tag(deployed):
    d = deployed
    for role in ("AmazonSageMaker-ExecutionRole-listed", "ListedByName"):
        docs = policies_of(d, role)
        assert sorted(n.split("-")[1] for n in docs) == ["PassLaunchRole", "ProjectStacks", "TemplateRead"], docs
        pass_doc = next(doc for n, doc in docs.items() if n.startswith("SageMakerProjects-PassLaunchRole-"))
        assert pass_doc["Statement"][0]["Resource"] == d.outputs["LaunchRoleArn"]
        read_doc = next(doc for n, doc in docs.items() if n.startswith("SageMakerProjects-TemplateRead-"))
        assert read_doc["Statement"][0]["Resource"] == f"arn:aws:s3:::{d.bucket}/{PREFIX}*"
        assert role_tags(d, role)[LAUNCH_TAG] == "true"


def test_a_domain_that_existed_before_the_install_is_onboarded_by_the_install_sweep(deployed):
    d = deployed
    owner = d.functions["domain-onboarder"]["Configuration"]["Environment"]["Variables"]["POLICY_OWNER"]
    assert sorted(policies_of(d, "EarlyDomainRole")) == [
        f"SageMakerProjects-{p}-{owner}" for p in ("PassLaunchRole", "ProjectStacks", "TemplateRead")]
    assert role_tags(d, "EarlyDomainRole")[LAUNCH_TAG] == "true"
    assert domain_tags(d, d.early_domain)[LOCATION_TAG] == d.outputs["TemplatesLocation"]


def test_a_template_uploaded_later_is_tagged_through_s3_eventbridge_and_the_tagger(deployed):
    d = deployed
    good, bad = f"{PREFIX}team-deploy.yaml", f"{PREFIX}notes.yaml"
    d.s3.put_object(Bucket=d.bucket, Key="elsewhere/other.yaml", Body=b"just: some notes\n")
    d.s3.put_object(Bucket=d.bucket, Key=good, Body=(ROOT / "templates" / "deploy-codepipeline.yaml").read_bytes())
    d.s3.put_object(Bucket=d.bucket, Key=bad, Body=b"just: some notes\n")
    eventually(lambda: VISIBILITY_TAG in object_tags(d, good) and VISIBILITY_TAG in object_tags(d, bad),
               "the uploads were not tagged")
    assert object_tags(d, good) == {VISIBILITY_TAG: "true"}
    verdict = object_tags(d, bad)
    assert verdict[VISIBILITY_TAG] == "false" and verdict["sagemaker-projects-bootstrap:rejected"]
    # the path: S3 "Object Created" → the stack's rule → the tagger; outside the prefix the rule does not match
    keys = {c.event["detail"]["object"]["key"] for c in ext_lambda.invocations(d.tagger)
            if c.source == "events-rule" and c.event.get("source") == "aws.s3"}
    assert {good, bad} <= keys and "elsewhere/other.yaml" not in keys
    assert object_tags(d, "elsewhere/other.yaml") == {}


def test_a_create_domain_event_flows_rule_queue_onboarder_to_a_tagged_domain_and_its_project(deployed):
    d = deployed
    role = make_role(d.iam, "TeamRole", "/service-role/")
    arn = d.sm.create_domain(DomainName="team", AuthMode="IAM", DefaultUserSettings={"ExecutionRole": role},
                             SubnetIds=["subnet-1"], VpcId="vpc-1")["DomainArn"]
    domain = arn.rsplit("/", 1)[1]
    put = d.events.put_events(Entries=[cloudtrail_event("CreateDomain", {"domainName": "team"}, {"domainArn": arn})])
    assert put["FailedEntryCount"] == 0

    call, = eventually(lambda: queue_deliveries(d, about_domain(arn)), "no CreateDomain came from the queue")
    assert call.result["batchItemFailures"] == []
    assert call.result["Results"] == [
        {"Outcome": "Onboarded", "domain": domain, "roles": ["TeamRole"], "project": f"mlops-{domain}"}]
    assert domain_tags(d, arn)[LOCATION_TAG] == d.outputs["TemplatesLocation"]
    assert len(policies_of(d, "TeamRole")) == 3 and role_tags(d, "TeamRole")[LAUNCH_TAG] == "true"
    project = d.sm.describe_project(ProjectName=f"mlops-{domain}")
    provider = project["TemplateProviderDetails"][0]["CfnTemplateProviderDetail"]
    current = d.s3.head_object(Bucket=d.bucket, Key=f"{PREFIX}deploy-codepipeline.yaml")["VersionId"]
    assert provider["TemplateURL"] == f"{d.outputs['DeployCodepipelineTemplateUrl']}?versionId={current}"
    assert provider["RoleARN"] == d.outputs["LaunchRoleArn"]
    assert {p["Key"]: p["Value"] for p in provider["Parameters"]} == DEPLOY_PARAMS
    # its stack completes: the seed-code resource found sagemaker-projects-seedcode through the stack's SSM pointer
    status = eventually(lambda: (lambda st: st if st not in ("Pending", "CreateInProgress") else None)(
        d.sm.describe_project(ProjectName=f"mlops-{domain}")["ProjectStatus"]), "the project never settled", timeout=60)
    assert status == "CreateCompleted", d.sm.describe_project(ProjectName=f"mlops-{domain}")[
        "TemplateProviderDetails"][0]["CfnTemplateProviderDetail"]["StackDetail"]
    seeds = [c for c in ext_lambda.invocations(d.resources["SeedCodeFunction"]) if c.source == "custom-resource"]
    assert all(c.done.wait(10) for c in seeds)  # the stack completes on the answer, before the function returns
    assert seeds and all(c.result["Answered"]["Status"] == "SUCCESS" for c in seeds)
    # the event source mapping deleted the message it delivered
    attrs = d.sqs.get_queue_attributes(QueueUrl=d.outputs["OnboarderQueueUrl"], AttributeNames=["All"])["Attributes"]
    assert (attrs["ApproximateNumberOfMessages"], attrs["ApproximateNumberOfMessagesNotVisible"]) == ("0", "0")


def test_a_pending_domain_is_rechecked_through_the_queue_until_it_is_in_service(deployed):
    d = deployed
    role = make_role(d.iam, "SlowRole")
    with ext_sagemaker_domains.domains_start("Pending"):
        arn = d.sm.create_domain(DomainName="slow", AuthMode="IAM", DefaultUserSettings={"ExecutionRole": role},
                                 SubnetIds=["subnet-1"], VpcId="vpc-1")["DomainArn"]
    domain = arn.rsplit("/", 1)[1]
    d.events.put_events(Entries=[cloudtrail_event("CreateDomain", {"domainName": "slow"}, {"domainArn": arn})])
    first, = eventually(lambda: queue_deliveries(d, about_domain(arn)), "the Pending domain's event never came")
    assert first.result["Results"][0]["Outcome"] == "Waiting"
    assert LOCATION_TAG not in domain_tags(d, arn)
    ext_sagemaker_domains.set_domain_status(domain, "InService")

    def rechecks():
        return queue_deliveries(d, lambda body: (body.get("Recheck") or {}).get("domain_id") == domain)

    eventually(lambda: [c for c in rechecks() if c.result["Results"][0]["Outcome"] == "Onboarded"],
               "no delayed re-check from the queue onboarded the domain", timeout=20)
    outcomes = [c.result["Results"][0]["Outcome"] for c in rechecks()]
    assert outcomes == ["Waiting"] * (len(outcomes) - 1) + ["Onboarded"]
    assert domain_tags(d, arn)[LOCATION_TAG] == d.outputs["TemplatesLocation"]


def test_events_the_rule_does_not_select_never_reach_the_queue(deployed):
    d = deployed
    d.events.put_events(Entries=[
        cloudtrail_event("DeleteDomain", {"domainId": "d-aaaaaaaaaaaa"}, None),
        {"Source": "aws.sagemaker", "DetailType": "SageMaker Model Package State Change", "Detail": json.dumps(
            {"eventSource": "sagemaker.amazonaws.com", "eventName": "CreateDomain"})},
        cloudtrail_event("UpdateUserProfile", {"domainId": "d-bbbbbbbbbbbb", "userProfileName": "nobody"}, None),
    ])
    # the one the rule selects is delivered; by then the others would have been too
    eventually(lambda: queue_deliveries(d, lambda b: (b.get("detail") or {}).get("eventName") == "UpdateUserProfile"),
               "UpdateUserProfile was not delivered")
    time.sleep(2 * ext_sqs.SQS_POLL_SECONDS)
    bodies = delivered_bodies(d)
    assert not [b for b in bodies if b.get("detail-type") == "SageMaker Model Package State Change"]
    assert not [b for b in bodies if (b.get("detail") or {}).get("eventName") == "DeleteDomain"]


def test_every_function_writes_valid_emf_metrics_that_reach_cloudwatch(deployed):
    """The functions' log lines, read as CloudWatch Logs reads them (ext_cloudwatch): each EMF document follows the
    specification, in one namespace with the Stack and Function dimensions, and its values reach CloudWatch. What
    makes each metric happens here (or at the deployment): a domain waited for then onboarded with its project, a
    failed one abandoned, a template accepted and one rejected."""
    d = deployed
    waiting, _ = onboard_new_domain(d, "metered", start="Pending")
    ext_sagemaker_domains.set_domain_status(waiting.rsplit("/", 1)[1], "InService")
    broken, _ = onboard_new_domain(d, "broken", start="Failed")
    call, = queue_deliveries(d, about_domain(broken))
    assert call.result["Results"][0]["Outcome"] == "Abandoned"  # which the DomainsAbandoned alarm watches
    d.s3.put_object(Bucket=d.bucket, Key=f"{PREFIX}metered.yaml",
                    Body=(ROOT / "templates" / "deploy-codepipeline.yaml").read_bytes())
    d.s3.put_object(Bucket=d.bucket, Key=f"{PREFIX}metered-notes.yaml", Body=b"just: some notes\n")

    expected = {
        "template-publisher": {"TemplatesWritten", "TemplatesUnchanged", "TemplatesRemoved",
                               "CustomResourceSucceeded"},
        "execution-role-policies": {"RolesGranted", "CustomResourceSucceeded"},
        "template-tagger": {"TemplatesAccepted", "TemplatesRejected"},
        "domain-onboarder": {"RolesGranted", "DomainsOnboarded", "ProjectsCreated", "RechecksWaiting",
                             "DomainsAbandoned", "SweepDuration", "SweepFailures", "CustomResourceSucceeded"},
        "seedcode-checkin": {"CustomResourceSucceeded"},
    }

    def seen() -> dict[str, set[str]]:
        names: dict[str, set[str]] = {}
        for doc in ext_cloudwatch.documents():
            for m in doc["_aws"]["CloudWatchMetrics"][0]["Metrics"]:
                names.setdefault(doc["Function"], set()).add(m["Name"])
        return names

    eventually(lambda: all(want <= seen().get(fn, set()) for fn, want in expected.items()),
               f"not every function wrote its metrics: {seen()}")
    assert ext_cloudwatch.invalid_documents() == []
    for doc in ext_cloudwatch.documents():
        assert emf.problems(doc) == []
        directive, = doc["_aws"]["CloudWatchMetrics"]
        assert (directive["Namespace"], directive["Dimensions"]) == (NAMESPACE, [["Stack", "Function"]])
        assert doc["Stack"] == stack.BOOTSTRAP_STACK and doc["Function"] in expected
    # what the product alarms look at crossed their threshold (0) in CloudWatch
    cw = d.aws.client("cloudwatch")
    now = datetime.now(timezone.utc)
    for function, metric in (("template-tagger", "TemplatesRejected"), ("domain-onboarder", "DomainsAbandoned")):
        points = cw.get_metric_statistics(
            Namespace=NAMESPACE, MetricName=metric, Statistics=["Sum"], Period=300,
            Dimensions=[{"Name": "Stack", "Value": stack.BOOTSTRAP_STACK}, {"Name": "Function", "Value": function}],
            StartTime=now - timedelta(minutes=30), EndTime=now + timedelta(minutes=5))["Datapoints"]
        assert sum(p["Sum"] for p in points) >= 1, (metric, points)


def test_a_domain_sagemaker_keeps_failing_on_ends_in_the_dead_letter_queue_and_its_alarm_fires(deployed):
    """A SageMaker outage for one domain: each delivery of its event fails (a transient error, so the record goes
    back to the queue), ten deliveries later SQS moves the event to the dead-letter queue, and the metric the
    onboarder-dead-letter-queue alarm watches crosses the alarm's threshold in CloudWatch."""
    d = deployed
    role = make_role(d.iam, "DoomedRole")
    arn = d.sm.create_domain(DomainName="doomed", AuthMode="IAM", DefaultUserSettings={"ExecutionRole": role},
                             SubnetIds=["subnet-1"], VpcId="vpc-1")["DomainArn"]
    domain = arn.rsplit("/", 1)[1]
    queue, dlq = d.outputs["OnboarderQueueUrl"], d.outputs["OnboarderDeadLetterQueueUrl"]
    attributes = d.sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["All"])["Attributes"]
    max_receives = json.loads(attributes["RedrivePolicy"])["maxReceiveCount"]
    env = {k: str(v) for k, v in  # moto answers the numbers of the template as JSON numbers; Lambda as strings
           d.lam.get_function_configuration(FunctionName=d.onboarder)["Environment"]["Variables"].items()}

    def dead_letters() -> int:
        return int(d.sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["ApproximateNumberOfMessages"])[
            "Attributes"]["ApproximateNumberOfMessages"])

    assert dead_letters() == 0
    # The clock scaled: a failed delivery comes back after 1 s instead of the queue's 30 minutes, and each fails at
    # its first SageMaker answer (AWS_MAX_ATTEMPTS=1, the SDKs' own knob) instead of after the SDK's six attempts.
    d.lam.update_function_configuration(FunctionName=d.onboarder,
                                        Environment={"Variables": {**env, "AWS_MAX_ATTEMPTS": "1"}})
    d.sqs.set_queue_attributes(QueueUrl=queue, Attributes={"VisibilityTimeout": "1"})
    try:
        with ext_sagemaker_domains.domain_unavailable(domain):
            d.events.put_events(Entries=[
                cloudtrail_event("CreateDomain", {"domainName": "doomed"}, {"domainArn": arn})])
            eventually(dead_letters, "the event never reached the dead-letter queue", timeout=90)
    finally:
        d.sqs.set_queue_attributes(QueueUrl=queue, Attributes={"VisibilityTimeout": attributes["VisibilityTimeout"]})
        d.lam.update_function_configuration(FunctionName=d.onboarder, Environment={"Variables": env})

    deliveries = queue_deliveries(d, about_domain(arn))
    assert len(deliveries) == max_receives == 10
    for call in deliveries[:-1]:  # a batch may carry other messages too: ours is handed back each time
        record, = [r for r in call.event["Records"] if about_domain(arn)(json.loads(r["body"]))]
        assert {"itemIdentifier": record["messageId"]} in call.result["batchItemFailures"], call.result
    # its last delivery: the onboarder leaves it in the dead-letter queue itself, with the reason
    last, = [r for r in deliveries[-1].result["Results"] if "DeadLettered" in r]
    assert last["DeadLettered"]["call"] == "SageMaker DescribeDomain", last
    assert last["DeadLettered"]["code"] == "ServiceUnavailable" and last["DeadLettered"]["deliveries"] == 10, last
    assert LOCATION_TAG not in domain_tags(d, arn) and not policies_of(d, "DoomedRole")

    # the alarm's own metric, statistic and period, as CloudWatch evaluates it
    cw = d.aws.client("cloudwatch")
    alarm, = cw.describe_alarms(AlarmNames=[f"{stack.BOOTSTRAP_STACK}-onboarder-dead-letter-queue"])["MetricAlarms"]

    def crossed():
        now = datetime.now(timezone.utc)
        points = cw.get_metric_statistics(
            Namespace=alarm["Namespace"], MetricName=alarm["MetricName"], Dimensions=alarm["Dimensions"],
            Statistics=[alarm["Statistic"]], Period=alarm["Period"],
            StartTime=now - timedelta(seconds=alarm["Period"] * alarm["EvaluationPeriods"]),
            EndTime=now + timedelta(seconds=60))["Datapoints"]
        return [p for p in points if p[alarm["Statistic"]] > alarm["Threshold"]]

    assert alarm["ComparisonOperator"] == "GreaterThanThreshold"
    eventually(crossed, f"{alarm['MetricName']} of the dead-letter queue never crossed {alarm['Threshold']}")
    # what waits there is the event itself, with its last error beside it
    letter, = d.sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10, MessageAttributeNames=["All"],
                                    VisibilityTimeout=0)["Messages"]
    assert about_domain(arn)(json.loads(letter["Body"]))
    assert {k: v["StringValue"] for k, v in letter["MessageAttributes"].items()} == {
        "LastError.Call": "SageMaker DescribeDomain", "LastError.Code": "ServiceUnavailable",
        "LastError.Message": letter["MessageAttributes"]["LastError.Message"]["StringValue"],
        "Subject": f"domain {domain}", "Deliveries": "10"}

    # projects doctor names it: which domain, how many deliveries, the last error, and what to do
    cli_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/tmp"),
               **d.aws.child_env(), "PROJECTS_STACK": stack.BOOTSTRAP_STACK}

    def doctor(*flags):
        proc = subprocess.run([str(binary_path("projects")), "doctor", "--domain", domain, "--output", "json",
                               *flags], env=cli_env, capture_output=True, text=True, timeout=120)
        return {c["what"]: c for c in json.loads(proc.stdout)["checks"]}

    shown = doctor()[f"the onboarder's dead-letter queue: domain {domain}"]
    assert shown["state"] == "Failed" and shown["detail"].startswith(
        "10 deliveries; SageMaker DescribeDomain: ServiceUnavailable: "), shown
    assert "projects doctor --redrive" in shown["fix"], shown
    # the outage over, --redrive puts it back on the onboarder's queue, which onboards the domain
    redriven = doctor("--redrive")
    assert redriven["the onboarder's dead-letter queue: --redrive"]["detail"] == "1 put back on the onboarder's queue", \
        redriven
    assert dead_letters() == 0
    eventually(lambda: LOCATION_TAG in domain_tags(d, arn), "the redriven event never onboarded the domain",
               timeout=60)
    # safe to run again: nothing left to put back
    again = doctor("--redrive")
    assert again["the onboarder's dead-letter queue"] == {"state": "Ok", "what": "the onboarder's dead-letter queue",
                                                          "detail": "empty"}, again


def test_alarms_watch_the_queues_the_functions_and_the_product_metrics_and_notify_one_topic(deployed):
    d = deployed
    topic = d.outputs["AlarmTopicArn"]
    subscriptions = d.aws.client("sns").list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    assert [(s["Protocol"], s["Endpoint"]) for s in subscriptions] == [("email", ALARM_EMAIL)]
    alarms = {a["AlarmName"].removeprefix(f"{stack.BOOTSTRAP_STACK}-"): a for a in d.aws.client(
        "cloudwatch").describe_alarms(AlarmNamePrefix=f"{stack.BOOTSTRAP_STACK}-")["MetricAlarms"]}

    def queue_name(logical):
        return d.resources[logical].rsplit("/", 1)[1]

    def dims(**kv):
        return sorted(kv.items())

    expected = {
        "events-dead-letter-queue": ("AWS/SQS", "ApproximateNumberOfMessagesVisible", "Maximum",
                                     dims(QueueName=queue_name("EventsDeadLetterQueue"))),
        "onboarder-dead-letter-queue": ("AWS/SQS", "ApproximateNumberOfMessagesVisible", "Maximum",
                                        dims(QueueName=queue_name("OnboarderDeadLetterQueue"))),
        "domains-abandoned": (NAMESPACE, "DomainsAbandoned", "Sum",
                              dims(Stack=stack.BOOTSTRAP_STACK, Function="domain-onboarder")),
        "templates-rejected": (NAMESPACE, "TemplatesRejected", "Sum",
                               dims(Stack=stack.BOOTSTRAP_STACK, Function="template-tagger")),
    }
    for binary, logical in FUNCTIONS.items():
        for metric in ("Errors", "Throttles"):
            expected[f"{binary}-{metric.lower()}"] = ("AWS/Lambda", metric, "Sum",
                                                      dims(FunctionName=d.resources[logical]))
    assert set(alarms) == set(expected)
    for name, (namespace, metric, statistic, dimensions) in expected.items():
        a = alarms[name]
        got_dims = sorted((x["Name"], x["Value"]) for x in a["Dimensions"])
        assert (a["Namespace"], a["MetricName"], a["Statistic"], got_dims) == (namespace, metric, statistic,
                                                                               dimensions), name
        assert (a["ComparisonOperator"], a["Threshold"], a["EvaluationPeriods"], a["Period"]) == \
            ("GreaterThanThreshold", 0.0, 1, 300), name
        assert a["AlarmActions"] == a["OKActions"] == [topic], name
        assert a["TreatMissingData"] == "notBreaching", name


def test_the_template_declares_what_the_emulator_skips():
    """Bucket and queue policies, failure destinations and the optional trail: moto has no model for them."""
    res = bootstrap_template()["Resources"]
    for bucket, policy in (("TemplateBucket", "TemplateBucketPolicy"), ("TrailBucket", "TrailBucketPolicy")):
        statements = res[policy]["Properties"]["PolicyDocument"]["Statement"]
        assert res[policy]["Properties"]["Bucket"] == {"Ref": bucket}
        assert any(s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": False}}
                   for s in statements)
    queue_policy = res["OnboarderQueuePolicy"]["Properties"]["PolicyDocument"]["Statement"][0]
    assert queue_policy["Principal"] == {"Service": "events.amazonaws.com"}
    assert queue_policy["Condition"]["ArnEquals"]["aws:SourceArn"] == {"Fn::GetAtt": ["DomainEventsRule", "Arn"]}
    for config in ("TemplateTaggerInvokeConfig", "DomainOnboarderInvokeConfig"):
        assert res[config]["Properties"]["DestinationConfig"]["OnFailure"]["Destination"] == \
            {"Fn::GetAtt": ["EventsDeadLetterQueue", "Arn"]}
    assert res["Trail"]["Condition"] == "IsTrailCreated"
    assert res["Trail"]["Properties"]["EventSelectors"] == [{"ReadWriteType": "WriteOnly",
                                                             "IncludeManagementEvents": True}]
    grants = res["ExecutionRoleGrantsPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    deny, = [s for s in grants if s.get("Effect") == "Deny"]  # (the opt-in statements are Fn::If items)
    assert {"iam:PutRolePolicy", "iam:TagRole"} <= set(deny["Action"])
    assert any("service-role/AmazonSageMakerProjects*" in r["Fn::Sub"] for r in deny["Resource"])
    assert any(r["Fn::Sub"].endswith("role${RolePath}${LaunchRoleName}") for r in deny["Resource"])


def test_deleting_the_stack_is_refused_while_the_onboarders_projects_exist_then_takes_back_what_it_made(deployed):
    d = deployed
    arn, role = onboard_new_domain(d, "closing")
    eventually(lambda: d.sm.list_projects(NameContains=arn.rsplit("/", 1)[1])["ProjectSummaryList"],
               "the closing domain got no project")
    listed_roles = ("AmazonSageMaker-ExecutionRole-listed", "ListedByName")
    granted = tuple(r["RoleName"] for r in d.iam.list_roles()["Roles"] if policies_of(d, r["RoleName"]))
    onboarded_roles = tuple(r for r in granted if r not in listed_roles)
    assert {"EarlyDomainRole", role} <= set(onboarded_roles) and set(listed_roles) <= set(granted)
    ours = {f"{PREFIX}{name}.yaml" for name in TEMPLATE_NAMES}
    uploads = sorted(o["Key"] for o in d.s3.list_objects_v2(Bucket=d.bucket, Prefix=PREFIX).get("Contents", [])
                     if o["Key"] not in ours)
    projects = sorted(p["ProjectName"] for p in d.sm.list_projects()["ProjectSummaryList"])
    assert projects and all(p.startswith("mlops-") for p in projects)
    before = len(ext_lambda.invocations())

    # the onboarder's projects run the seed-code function: the deletion is refused, naming them
    assert stack.delete_stack(d.aws) == "DELETE_FAILED"
    refusals = [c for c in ext_lambda.invocations()[before:] if c.source == "custom-resource"]
    assert [c.event["LogicalResourceId"] for c in refusals] == ["SeedCodeInUseGuard"]
    events = d.aws.client("cloudformation").describe_stack_events(StackName=stack.BOOTSTRAP_STACK)["StackEvents"]
    [reason] = [e["ResourceStatusReason"] for e in events
                if e["LogicalResourceId"] == "SeedCodeInUseGuard" and e["ResourceStatus"] == "DELETE_FAILED"]
    assert all(f"{p} (SP-" in reason for p in projects), reason
    assert all(policies_of(d, r) for r in onboarded_roles + listed_roles)  # nothing was taken back

    # their users delete the projects; then the stack goes
    for project in projects:
        d.sm.delete_project(ProjectName=project)
    eventually(lambda: all(project_deleted(d.sm, p) for p in projects), "the projects were not deleted", timeout=60)
    before = len(ext_lambda.invocations())
    assert stack.delete_stack(d.aws) == "DELETE_COMPLETE"

    deletes = [c for c in ext_lambda.invocations()[before:] if c.source == "custom-resource"]
    assert [c.event["LogicalResourceId"] for c in deletes][0] == "SeedCodeInUseGuard"
    assert sorted(c.event["LogicalResourceId"] for c in deletes[1:]) == [
        "ExecutionRolePolicies", "ProjectTemplates", "ReconcileDomains"]
    assert all(c.done.wait(10) for c in deletes)  # the stack completes on the last answer, before its function returns
    assert all(c.event["RequestType"] == "Delete" and c.result["Answered"]["Status"] == "SUCCESS" for c in deletes)
    # templates: ours are gone, the uploads stay, the bucket is retained
    remaining = sorted(o["Key"] for o in d.s3.list_objects_v2(Bucket=d.bucket, Prefix=PREFIX).get("Contents", []))
    assert remaining == uploads
    # every grant is taken back, from listed and from onboarded roles
    for role in onboarded_roles + listed_roles:
        assert policies_of(d, role) == {} and LAUNCH_TAG not in role_tags(d, role), role
    # the functions and their SSM pointer are gone
    names = {f["FunctionName"] for f in d.lam.list_functions()["Functions"]}
    assert not names & {d.resources[logical] for logical in FUNCTIONS.values()}
    assert not d.aws.client("ssm").get_parameters(Names=["/sagemaker-projects-bootstrap/seedcode-function-arn"])[
        "Parameters"]


def test_the_template_prefix_parameter_keeps_the_domain_tag_within_sagemakers_rules():
    """CloudFormation refuses a TemplatePrefix whose domain tag `s3://<bucket>/<prefix>` SageMaker would refuse:
    tag values are at most 256 of letters, digits, spaces and `_.:/=+-@` (no `(`, `'`, `!`, `*`)."""
    import re

    spec = bootstrap_template()["Parameters"]["TemplatePrefix"]
    pattern, longest = re.compile(spec["AllowedPattern"]), int(spec["MaxLength"])

    def accepted(value: str) -> bool:  # CloudFormation: the whole value matches, within MaxLength
        return len(value) <= longest and pattern.fullmatch(value) is not None

    for ok in ("", "templates/", "ml-platform/templates.v2/", f"{'p' * (longest - 1)}/"):
        assert accepted(ok), ok
    for refused in ("ml-platform/templates(prod)/", "team's/", "templates", "/templates/", f"{'p' * 211}/"):
        assert not accepted(refused), refused
    bucket = f"sagemaker-projects-templates-123456789012-{'ap-southeast-5'}"
    tag = f"s3://{bucket}/{'p' * (longest - 1)}/"
    assert len(tag) <= 256 and re.fullmatch(r"[\w\s_.:/=+\-@]*", tag, re.ASCII)
