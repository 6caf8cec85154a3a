"""The domain onboarder through cargo-lambda against the extended emulator: every new domain and user profile
becomes project-ready on its own and gets its project — once, however often the events arrive."""
import json
import uuid

import pytest

from harness import ext_sagemaker_domains
from harness import iam_policy
from harness.buckets import create_template_bucket
from harness.fixtures import DEPLOY_PARAMS, LAUNCH_ROLE_ARN, LAUNCH_ROLE_TRUST, cr_event, make_role

FUNCTION = "domain-onboarder"
ACCOUNT = "123456789012"
BUCKET = "sagemaker-projects-templates-123456789012"
PREFIX = "templates/"
LOCATION_TAG = "sagemaker:projectS3TemplatesLocation"
LAUNCH_TAG = "sagemaker-projects-launch-access"


def env(queue_url="", default_template="deploy-codepipeline", studio_visibility=None, isolation=None):
    return {
        **({"PROJECT_ISOLATION": isolation} if isolation is not None else {}),
        "LAUNCH_ROLE_ARN": LAUNCH_ROLE_ARN, "TEMPLATE_BUCKET": BUCKET, "TEMPLATE_PREFIX": PREFIX,
        "DEFAULT_TEMPLATE": default_template, "DEFAULT_TEMPLATE_PARAMETERS": json.dumps(DEPLOY_PARAMS),
        "RECHECK_QUEUE_URL": queue_url, "RECHECK_DELAY_SECONDS": "1", "POLICY_OWNER": "onboarder-test",
        **({"PROJECT_STUDIO_VISIBILITY": studio_visibility} if studio_visibility is not None else {}),
    }


def trail(event_name, request=None, response=None, **detail):
    return {
        "version": "0", "id": str(uuid.uuid4()), "detail-type": "AWS API Call via CloudTrail",
        "source": "aws.sagemaker", "account": ACCOUNT, "time": "2026-11-29T12:00:00Z", "region": "us-east-1",
        "resources": [],
        "detail": {"eventVersion": "1.08", "eventSource": "sagemaker.amazonaws.com", "eventName": event_name,
                   "awsRegion": "us-east-1", "recipientAccountId": ACCOUNT,
                   "requestParameters": request, "responseElements": response, **detail},
    }


def create_domain_event(domain_arn, name="team"):
    return trail("CreateDomain", request={"domainName": name}, response={"domainArn": domain_arn, "url": "https://x"})


def sqs_batch(*bodies):
    return {"Records": [{"messageId": str(uuid.uuid4()), "receiptHandle": "r", "body": json.dumps(b),
                         "eventSource": "aws:sqs", "eventSourceARN": f"arn:aws:sqs:us-east-1:{ACCOUNT}:q",
                         "awsRegion": "us-east-1", "attributes": {}, "messageAttributes": {}} for b in bodies]}


@pytest.fixture
def world(aws, functions, answer):
    """Published templates (through the real publisher), a queue, and a role factory."""
    s3, iam, sm, sqs = aws.client("s3"), aws.client("iam"), aws.client("sagemaker"), aws.client("sqs")
    create_template_bucket(s3, BUCKET)
    ev = cr_event("Custom::ProjectTemplates", {"Bucket": BUCKET, "Prefix": PREFIX},
                  stack=f"arn:aws:cloudformation:us-east-1:{ACCOUNT}:stack/b/1", logical="Templates", request_id="r")
    assert answer("template-publisher", ev)["Status"] == "SUCCESS"
    queue = sqs.create_queue(QueueName="onboarder")["QueueUrl"]

    class World:
        def role(self, name, path="/"):
            return make_role(iam, name, path)

        def domain(self, name, role, space_role=None, tags=None):
            settings = {"ExecutionRole": role}
            kwargs = {"DefaultSpaceSettings": {"ExecutionRole": space_role}} if space_role else {}
            if tags:
                kwargs["Tags"] = [{"Key": k, "Value": v} for k, v in tags.items()]
            arn = sm.create_domain(DomainName=name, AuthMode="IAM", DefaultUserSettings=settings,
                                   SubnetIds=["subnet-1"], VpcId="vpc-1", **kwargs)["DomainArn"]
            return arn, arn.rsplit("/", 1)[1]

        def onboard(self, event, queue_url=queue, **kw):
            return functions.invoke(FUNCTION, event, extra_env=env(queue_url, **kw))

        def domain_tags(self, arn):
            return {t["Key"]: t["Value"] for t in sm.list_tags(ResourceArn=arn)["Tags"]}

        def our_policies(self, role):
            return sorted(n for n in iam.list_role_policies(RoleName=role)["PolicyNames"] if n.startswith("SageMakerProjects-"))

        def role_tags(self, role):
            return {t["Key"]: t["Value"] for t in iam.list_role_tags(RoleName=role)["Tags"]}

        def projects(self):
            return sorted(p["ProjectName"] for p in sm.list_projects(MaxResults=100)["ProjectSummaryList"])

        def receive(self):
            msgs = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=3).get("Messages", [])
            for m in msgs:
                sqs.delete_message(QueueUrl=queue, ReceiptHandle=m["ReceiptHandle"])
            return [json.loads(m["Body"]) for m in msgs]

    w = World()
    w.s3, w.iam, w.sm, w.sqs, w.queue, w.aws = s3, iam, sm, sqs, queue, aws
    return w


def test_a_new_domain_in_service_is_onboarded_and_gets_its_project(world):
    role = world.role("TeamExecutionRole", "/service-role/")
    space = world.role("TeamSpaceRole")
    arn, domain = world.domain("team-a", role, space_role=space, tags={"cost-center": "42"})
    out = world.onboard(create_domain_event(arn))
    assert out["Outcome"] == "Onboarded", out
    assert out["project"] == f"mlops-{domain}"
    for r in ("TeamExecutionRole", "TeamSpaceRole"):
        assert len(world.our_policies(r)) == 3 and world.role_tags(r)[LAUNCH_TAG] == "true"
    assert world.domain_tags(arn) == {"cost-center": "42", LOCATION_TAG: f"s3://{BUCKET}/{PREFIX}"}
    assert world.projects() == [f"mlops-{domain}"]
    project = world.sm.describe_project(ProjectName=f"mlops-{domain}")
    provider = project["TemplateProviderDetails"][0]["CfnTemplateProviderDetail"]
    # pinned to the version published now: whatever is uploaded over it later, the project runs this content
    current = world.s3.head_object(Bucket=BUCKET, Key=f"{PREFIX}deploy-codepipeline.yaml")["VersionId"]
    assert provider["TemplateURL"] == (f"https://{BUCKET}.s3.us-east-1.amazonaws.com/{PREFIX}deploy-codepipeline.yaml"
                                       f"?versionId={current}")
    assert provider["RoleARN"] == LAUNCH_ROLE_ARN
    # the project names its domain, its template and the version it runs: the digest of what was published;
    # and carries the tag Studio lists API-created projects by
    published = world.s3.head_object(Bucket=BUCKET, Key=f"{PREFIX}deploy-codepipeline.yaml")["ETag"].strip('"')
    tags = {t["Key"]: t["Value"] for t in world.sm.list_tags(ResourceArn=project["ProjectArn"])["Tags"]}
    assert tags == {"sagemaker-projects-bootstrap:domain": domain, "sagemaker:domain-arn": arn,
                    "sagemaker-projects-bootstrap:template": "deploy-codepipeline",
                    "sagemaker-projects-bootstrap:template-digest": published, "sagemaker:studio-visibility": "true"}


def test_with_studio_visibility_off_the_project_has_no_visibility_tag(world):
    arn, domain = world.domain("team-hidden", world.role("HiddenRole"))
    out = world.onboard(create_domain_event(arn), studio_visibility="false")
    assert out["Outcome"] == "Onboarded", out
    project = world.sm.describe_project(ProjectName=f"mlops-{domain}")
    tags = {t["Key"]: t["Value"] for t in world.sm.list_tags(ResourceArn=project["ProjectArn"])["Tags"]}
    assert "sagemaker:studio-visibility" not in tags and tags["sagemaker-projects-bootstrap:domain"] == domain


def test_a_pending_domain_is_rechecked_through_the_queue_until_in_service(world):
    role = world.role("PendingRole")
    with ext_sagemaker_domains.domains_start("Pending"):
        arn, domain = world.domain("slow", role)
    first = world.onboard(sqs_batch(create_domain_event(arn)))
    assert first["batchItemFailures"] == []
    result = first["Results"][0]
    assert result["Outcome"] == "Waiting" and result["RecheckInSeconds"] == 1
    assert len(world.our_policies("PendingRole")) == 3, "roles are granted while the domain is still Pending"
    assert LOCATION_TAG not in world.domain_tags(arn), "the domain is tagged only once InService"
    recheck = world.receive()
    assert recheck == [{"Recheck": {"domain_id": domain, "attempt": 1, "first_seen": recheck[0]["Recheck"]["first_seen"]}}]
    # still pending: the same short delay again (a steady interval, not a backoff)
    again = world.onboard(sqs_batch(*recheck))["Results"][0]
    assert again["Outcome"] == "Waiting" and again["RecheckInSeconds"] == 1
    ext_sagemaker_domains.set_domain_status(domain, "InService")
    done = world.onboard(sqs_batch(*world.receive()))["Results"][0]
    assert done["Outcome"] == "Onboarded"
    assert world.domain_tags(arn)[LOCATION_TAG] == f"s3://{BUCKET}/{PREFIX}"
    assert world.projects() == [f"mlops-{domain}"]
    assert world.receive() == []


def test_a_domain_that_fails_is_abandoned_without_a_tag_or_project(world):
    role = world.role("DoomedRole")
    with ext_sagemaker_domains.domains_start("Pending"):
        arn, domain = world.domain("doomed", role)
    world.onboard(sqs_batch(create_domain_event(arn)))
    ext_sagemaker_domains.set_domain_status(domain, "Failed", "subnet has no free addresses")
    out = world.onboard(sqs_batch(*world.receive()))["Results"][0]
    assert out == {"Outcome": "Abandoned", "domain": domain, "status": "Failed"}
    assert LOCATION_TAG not in world.domain_tags(arn)
    assert world.projects() == [] and world.receive() == []


def test_a_user_profile_with_its_own_role_is_onboarded(world):
    arn, domain = world.domain("profiles", world.role("DomainRole"))
    world.sm.create_user_profile(DomainId=domain, UserProfileName="alice",
                                 UserSettings={"ExecutionRole": world.role("AliceRole")})
    event = trail("CreateUserProfile", request={"domainId": domain, "userProfileName": "alice"},
                  response={"userProfileArn": f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:user-profile/{domain}/alice"})
    out = world.onboard(event)
    assert out == {"Outcome": "Onboarded", "domain": domain, "profile": "alice", "role": "AliceRole"}
    assert len(world.our_policies("AliceRole")) == 3 and world.role_tags("AliceRole")[LAUNCH_TAG] == "true"


def test_ten_duplicate_events_make_one_project(world):
    arn, domain = world.domain("dupes", world.role("DupeRole"))
    event = create_domain_event(arn)
    outs = [world.onboard(event) for _ in range(5)] + [world.onboard(sqs_batch(event, event))["Results"][0] for _ in range(3)]
    assert all(o["Outcome"] == "Onboarded" and o["project"] == f"mlops-{domain}" for o in outs), outs
    assert world.projects() == [f"mlops-{domain}"]
    assert len(world.our_policies("DupeRole")) == 3


def test_an_opted_out_domain_is_left_alone(world):
    arn, domain = world.domain("private", world.role("PrivateRole"),
                               tags={"sagemaker-projects-bootstrap:opt-out": "true"})
    assert world.onboard(create_domain_event(arn)) == {"Outcome": "OptedOut", "domain": domain}
    assert world.our_policies("PrivateRole") == [] and LAUNCH_TAG not in world.role_tags("PrivateRole")
    assert LOCATION_TAG not in world.domain_tags(arn) and world.projects() == []


def test_an_opt_in_tag_picks_the_template_and_its_parameters(world):
    params = " ".join(f"{k}={v}" for k, v in DEPLOY_PARAMS.items())
    arn, domain = world.domain("chooser", world.role("ChooserRole"), tags={
        "sagemaker-projects-bootstrap:template": "deploy-codepipeline",
        "sagemaker-projects-bootstrap:template-parameters": params})
    out = world.onboard(create_domain_event(arn), default_template="")
    assert out["project"] == f"mlops-{domain}"


def test_a_template_uploaded_over_the_published_one_is_never_launched(world):
    """AmazonSageMakerFullAccess may write *sagemaker* buckets (the bucket policy denies it on AWS; the emulator
    enforces no policy): were a template replaced, the onboarder launches only the version its build published."""
    key = f"{PREFIX}deploy-codepipeline.yaml"
    world.s3.put_object(Bucket=BUCKET, Key=key, Body=b"Resources:\n  Anything: {Type: AWS::SNS::Topic}\n")
    arn, domain = world.domain("overwritten", world.role("OverwrittenRole"))
    out = world.onboard(create_domain_event(arn))
    assert out == {"Error": f"domain {domain}: s3://{BUCKET}/{key} is not the template this onboarder publishes (a "
                            "stack update in progress, or an upload over it): no project was created; the next sweep "
                            "tries again"}, out
    assert world.projects() == []


def test_an_opt_in_tag_with_a_bad_parameter_fails_clearly_and_creates_nothing(world):
    arn, domain = world.domain("typo", world.role("TypoRole"), tags={
        "sagemaker-projects-bootstrap:template": "deploy-codepipeline",
        "sagemaker-projects-bootstrap:template-parameters": "SourceModelPackageGroupNam=x"})
    out = world.onboard(create_domain_event(arn), default_template="")
    # worded as `projects create` words it: the same check
    assert out == {"Error": f"domain {domain}: template deploy-codepipeline has no parameter SourceModelPackageGroupNam; "
                            "it takes SourceModelPackageGroupName, CodeConnectionArn, ModelDeployCodeRepositoryFullname, "
                            "ModelDeployCodeRepositoryBranch"}
    assert world.projects() == []


def test_an_event_for_a_domain_deleted_since_is_a_no_op(world):
    arn, domain = world.domain("ephemeral", world.role("EphemeralRole"))
    world.sm.delete_domain(DomainId=domain)
    assert world.onboard(create_domain_event(arn)) == {"Outcome": "Gone", "domain": domain}
    assert world.our_policies("EphemeralRole") == []


def test_create_domain_without_response_elements_finds_the_domain_by_name(world):
    arn, domain = world.domain("by-name", world.role("ByNameRole"))
    out = world.onboard(trail("CreateDomain", request={"domainName": "by-name"}, response=None))
    assert out["Outcome"] == "Onboarded" and out["domain"] == domain


MALFORMED = [
    trail("CreateDomain", request={"domainName": "x"}, response=None, errorCode="ResourceLimitExceeded"),
    {**trail("UpdateDomain", request={"domainId": "d-aaaaaaaaaaaa"}), "account": "999999999999"},
    {**trail("UpdateDomain", request={"domainId": "d-aaaaaaaaaaaa"}), "region": "eu-west-1"},
    trail("UpdateDomain", request={"domainId": "not-a-domain"}),
    trail("UpdateDomain", request=None),
    trail("CreateUserProfile", request={"domainId": "d-aaaaaaaaaaaa"}),
    trail("CreateUserProfile", request={"domainId": "d-aaaaaaaaaaaa", "userProfileName": "bad name!"}),
    trail("CreateDomain", request=None, response=None),
    trail("CreateDomain", response={"domainArn": "arn:aws:sagemaker:us-east-1:123456789012:notadomain"}),
    trail("DeleteDomain", request={"domainId": "d-aaaaaaaaaaaa"}),
    {"source": "aws.sagemaker", "detail-type": "AWS API Call via CloudTrail", "detail": None},
    {"source": "aws.s3", "detail-type": "Object Created", "detail": {}},
    {"Recheck": {"domain_id": "x", "attempt": "one"}},
    {"hello": "world"},
]


@pytest.mark.parametrize("event", MALFORMED, ids=range(len(MALFORMED)))
def test_malformed_and_foreign_events_are_ignored_with_a_reason_and_change_nothing(world, event):
    arn, domain = world.domain("bystander", world.role("BystanderRole"))
    out = world.onboard(event)
    assert set(out) == {"Ignored"} and out["Ignored"], out
    assert world.our_policies("BystanderRole") == [] and world.projects() == []


def test_the_schedule_sweeps_every_domain_and_profile(world):
    shared = world.role("SharedExecutionRole", "/service-role/")
    arns = [world.domain(f"fleet-{i:02d}", shared)[0] for i in range(50)]
    for arn in arns[:5]:
        assert world.onboard(create_domain_event(arn))["Outcome"] == "Onboarded"
    first = arns[7].rsplit("/", 1)[1]
    world.sm.create_user_profile(DomainId=first, UserProfileName="bob", UserSettings={"ExecutionRole": world.role("BobRole")})
    out = world.onboard({"version": "0", "id": "1", "detail-type": "Scheduled Event", "source": "aws.events",
                         "account": ACCOUNT, "time": "2026-11-29T12:00:00Z", "region": "us-east-1", "resources": [], "detail": {}})
    assert (out["Domains"], out["Onboarded"], out["Failed"], out["Profiles"]) == (50, 50, 0, 1), out
    assert all(world.domain_tags(a)[LOCATION_TAG] == f"s3://{BUCKET}/{PREFIX}" for a in arns)
    assert len(world.projects()) == 50
    assert len(world.our_policies("BobRole")) == 3


def test_the_install_sweep_answers_cloudformation_and_its_delete_takes_the_grants_back(world, answer):
    arn, domain = world.domain("existing", world.role("ExistingRole"))
    stack = f"arn:aws:cloudformation:us-east-1:{ACCOUNT}:stack/bootstrap/9"
    ev = cr_event("Custom::ReconcileDomains", {"Trigger": "1", "TemplatesLocation": f"s3://{BUCKET}/{PREFIX}"}, stack=stack, logical="InstallSweep", request_id="r1")
    created = answer(FUNCTION, ev, extra_env=env(world.queue))
    assert created["Status"] == "SUCCESS" and created["Data"]["Onboarded"] == "1", created
    assert len(world.our_policies("ExistingRole")) == 3
    delete = {**ev, "RequestType": "Delete", "RequestId": "r2", "PhysicalResourceId": created["PhysicalResourceId"]}
    assert answer(FUNCTION, delete, extra_env=env(world.queue))["Status"] == "SUCCESS"
    assert world.our_policies("ExistingRole") == [] and LAUNCH_TAG not in world.role_tags("ExistingRole")


# ------------------------------------------------------------------------------------------------------------------
# domain isolation (ProjectIsolation=Domain, README "Security model"): what the onboarder grants, evaluated offline
# ------------------------------------------------------------------------------------------------------------------
def sweep_event():
    return {"version": "0", "id": "1", "detail-type": "Scheduled Event", "source": "aws.events", "account": ACCOUNT,
            "time": "2026-11-29T12:00:00Z", "region": "us-east-1", "resources": [], "detail": {}}


def policy_doc(world, role, name):
    doc = world.iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
    return json.loads(doc) if isinstance(doc, str) else doc


def statements_of(world, role):
    """The role's inline policies as IAM holds them (GetRolePolicy), statement by statement."""
    return [s for name in world.iam.list_role_policies(RoleName=role)["PolicyNames"]
            for s in iam_policy.as_list(policy_doc(world, role, name)["Statement"])]


def project_stack(world, domain):
    """(stack ARN, its tags, the TemplateURL it was created from) of the onboarder's project for `domain`."""
    project = world.sm.describe_project(ProjectName=f"mlops-{domain}")
    stack = world.aws.client("cloudformation").describe_stacks(
        StackName=f"SP-{project['ProjectId']}")["Stacks"][0]
    url = project["TemplateProviderDetails"][0]["CfnTemplateProviderDetail"]["TemplateURL"]
    return stack["StackId"], {t["Key"]: t["Value"] for t in stack["Tags"]}, url


def test_under_domain_isolation_a_domains_roles_change_only_that_domains_project_stacks(world):
    # the project stacks run: the launch role, and the seed-code function's pointer (no function behind it: the
    # stacks fail after they were created with their tags, which is all this test reads)
    make_role(world.iam, "AmazonSageMakerProjectsLaunchRole", trust=LAUNCH_ROLE_TRUST)
    world.aws.client("ssm").put_parameter(
        Name="/sagemaker-projects-bootstrap/seedcode-function-arn", Type="String",
        Value=f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:sagemaker-projects-seedcode")
    arn_a, a = world.domain("isolated-a", world.role("RoleA"))
    arn_b, b = world.domain("isolated-b", world.role("RoleB"))
    for arn in (arn_a, arn_b):
        assert world.onboard(create_domain_event(arn), isolation="Domain")["Outcome"] == "Onboarded"
    assert world.our_policies("RoleA") == sorted([
        "SageMakerProjects-PassLaunchRole-onboarder-test", "SageMakerProjects-ProjectStacks-onboarder-test",
        "SageMakerProjects-TemplateRead-onboarder-test", f"SageMakerProjects-DomainStacks-onboarder-test-{a}"])
    stack_a, tags_a, url_a = project_stack(world, a)
    stack_b, tags_b, url_b = project_stack(world, b)
    # the project's stack carries its domain, the tag the isolation conditions on
    assert (tags_a["sagemaker:domain-arn"], tags_b["sagemaker:domain-arn"]) == (arn_a, arn_b)

    role_a = statements_of(world, "RoleA")

    def may(action, stack, tags, url=None):
        ctx = {f"aws:ResourceTag/{k}": v for k, v in tags.items()}
        if url:
            ctx["cloudformation:TemplateUrl"] = url
        return iam_policy.allows(role_a, action, stack, ctx)

    assert may("cloudformation:UpdateStack", stack_a, tags_a, url_a)
    assert may("cloudformation:DeleteStack", stack_a, tags_a)
    assert not may("cloudformation:UpdateStack", stack_b, tags_b, url_b), "another domain's stack"
    assert not may("cloudformation:DeleteStack", stack_b, tags_b), "another domain's stack"
    assert not may("cloudformation:TagResource", stack_b, tags_b), "retagging another domain's stack"
    # stacks run this stack's templates only: not a template of the caller's choosing, nor a look-alike bucket's
    new_stack = f"arn:aws:cloudformation:us-east-1:{ACCOUNT}:stack/SP-p-new/1"
    assert may("cloudformation:CreateStack", new_stack, {}, url_a)
    for url in (None, "https://attacker-bucket.s3.us-east-1.amazonaws.com/templates/x.yaml",
                f"https://{BUCKET}.s3.us-east-1.amazonaws.com.evil.s3.amazonaws.com/templates/x.yaml",
                f"https://{BUCKET}.s3.us-east-1.amazonaws.com/other-prefix/x.yaml"):
        assert not may("cloudformation:CreateStack", new_stack, {}, url), url
        assert not may("cloudformation:UpdateStack", stack_a, tags_a, url), url


def test_a_role_that_left_a_domain_loses_its_stacks_at_the_next_sweep_and_account_mode_takes_all_back(world):
    shared = "SharedIsolatedRole"
    arn_a, a = world.domain("shared-a", world.role(shared))
    arn_b, b = world.domain("shared-b", f"arn:aws:iam::{ACCOUNT}:role/{shared}")
    out = world.onboard(sweep_event(), isolation="Domain")
    assert out["Failed"] == 0, out
    per_domain = lambda: [n for n in world.our_policies(shared) if "DomainStacks" in n]  # noqa: E731
    assert per_domain() == sorted(f"SageMakerProjects-DomainStacks-onboarder-test-{d}" for d in (a, b))
    world.sm.delete_domain(DomainId=b)
    assert world.onboard(sweep_event(), isolation="Domain")["Failed"] == 0
    assert per_domain() == [f"SageMakerProjects-DomainStacks-onboarder-test-{a}"]
    # back to account-wide: one ProjectStacks policy as upstream's, no per-domain ones left behind
    assert world.onboard(sweep_event(), isolation="Account")["Failed"] == 0
    assert per_domain() == [] and len(world.our_policies(shared)) == 3
    doc = policy_doc(world, shared, "SageMakerProjects-ProjectStacks-onboarder-test")
    assert [s["Sid"] for s in doc["Statement"]] == ["ManageProjectStacks", "TagOnlyProjectTaggedStacks"]
