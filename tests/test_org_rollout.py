"""Organisation rollout (issue 18, item 6): infra/stackset.yaml deployed by `make deploy-org` itself (the real AWS
CLI, harness/aws_cli.py: packages to every region's bucket, the templates to S3, the StackSets through a change set) into an
emulated AWS Organization of 3 member accounts in 2 OUs, for 2 regions — and a 4th account that joins an OU later.

What is shown, per account and region: the StackSet instance's status, the bootstrap stack it made in that account
completing (its custom resources answered by the real functions running with that account's credentials), the
roles stack once per account in the home region, and a SageMaker domain created in that account before the rollout
onboarded by that stack's install sweep (the templates-location tag on the domain, the policies and launch-access
tag on its execution role — all in that account). The management account gets nothing (service-managed StackSets
never deploy there).

The emulator: moto's Organizations, and its StackSets extended by harness/ext_stacksets.py (the StackSet resource
type, instances as real stacks in the target accounts with their real status, auto-deployment on MoveAccount);
functions of another account run with their role's credentials (ext_lambda). See those modules for what differs
from AWS (instances are created all at once; failure tolerance is not applied).
"""
from __future__ import annotations

import json
import time
from types import SimpleNamespace

import pytest

from harness import aws_cli, stack
from harness.aws_cli import AwsCli

REGIONS = ("us-east-1", "eu-west-1")
HOME = "us-east-1"
ARTIFACTS = "sagemaker-projects-artifacts-org"
TEMPLATES = "sagemaker-projects-org-templates"
ORG_STACK = "sagemaker-projects-org"
ALARM_EMAIL = "ml-platform-alarms@example.com"
BOOTSTRAP_SET, IAM_SET = "sagemaker-projects-bootstrap", "sagemaker-projects-iam"
LOCATION_TAG = "sagemaker:projectS3TemplatesLocation"
LAUNCH_TAG = "sagemaker-projects-launch-access"
TRUST = ('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": '
         '"sagemaker.amazonaws.com"}, "Action": "sts:AssumeRole"}]}')


pytestmark = pytest.mark.skipif(not aws_cli.installed(),
                                reason="the AWS CLI venv is missing (make tools installs .venv-awscli)")


def client_in(emulator, service: str, account: str, region: str = HOME):
    """A client acting in `account` (moto's x-moto-account-id header)."""
    c = emulator.client(service, region_name=region, fresh=True)
    c.meta.events.register("before-sign", lambda request, **_: request.headers.__setitem__("x-moto-account-id",
                                                                                         account))
    return c


def new_member(orgs, name: str, root: str, ou: str | None) -> str:
    account = orgs.create_account(AccountName=name, Email=f"{name}@example.com")["CreateAccountStatus"]["AccountId"]
    if ou:
        orgs.move_account(AccountId=account, SourceParentId=root, DestinationParentId=ou)
    return account


def domain_in(emulator, account: str, region: str, name: str) -> tuple[str, str]:
    """A SageMaker domain (and its execution role) created in `account`/`region`; returns (domain ARN, role name)."""
    role = f"ExecutionRole-{region}"
    client_in(emulator, "iam", account).create_role(RoleName=role, Path="/service-role/", AssumeRolePolicyDocument=TRUST)
    arn = client_in(emulator, "sagemaker", account, region).create_domain(
        DomainName=name, AuthMode="IAM", SubnetIds=["subnet-1"], VpcId="vpc-1",
        DefaultUserSettings={"ExecutionRole": f"arn:aws:iam::{account}:role/service-role/{role}"})["DomainArn"]
    return arn, role


def instances(cfn, stack_set: str) -> dict[tuple[str, str], dict]:
    return {(i["Account"], i["Region"]): i for i in cfn.list_stack_instances(StackSetName=stack_set)["Summaries"]}


def settled(cfn, stack_set: str, expected: int, timeout: float = 420.0) -> dict[tuple[str, str], dict]:
    """The instances once `expected` of them exist and none is RUNNING any more."""
    deadline = time.time() + timeout
    while True:
        found = instances(cfn, stack_set)
        running = [k for k, i in found.items() if i["StackInstanceStatus"]["DetailedStatus"] == "RUNNING"]
        if len(found) >= expected and not running:
            return found
        if time.time() > deadline:
            raise AssertionError(f"{stack_set}: {len(found)}/{expected} instances, still running: {running}")
        time.sleep(1)


def report(title: str, found: dict[tuple[str, str], dict]) -> None:
    print(f"\n{title}")
    for (account, region), i in sorted(found.items()):
        print(f"  {account} {region:<10} {i['Status']:<9} {i['StackInstanceStatus']['DetailedStatus']:<10} "
              f"{i['StackId'].split('/')[1]} {i.get('StatusReason', '')}")


@pytest.fixture(scope="module")
def org(emulator, tmp_path_factory):
    emulator.reset()
    missing = stack.missing_binaries()
    assert not missing, f"not built: {missing}"
    orgs = emulator.client("organizations")
    orgs.create_organization(FeatureSet="ALL")
    root = orgs.list_roots()["Roots"][0]["Id"]
    ou_a = orgs.create_organizational_unit(ParentId=root, Name="ml-platform")["OrganizationalUnit"]["Id"]
    ou_b = orgs.create_organizational_unit(ParentId=root, Name="ml-teams")["OrganizationalUnit"]["Id"]
    members = {new_member(orgs, "ml-dev", root, ou_a): ou_a, new_member(orgs, "ml-prod", root, ou_a): ou_a,
               new_member(orgs, "ml-team", root, ou_b): ou_b}
    domains = {(a, r): domain_in(emulator, a, r, f"d-{r}") for a in members for r in REGIONS}

    # what `make deploy-org` needs: a bucket for the two templates, <ArtifactBucket>-<region> for the packages
    s3 = emulator.client("s3")
    s3.create_bucket(Bucket=TEMPLATES)
    for region in REGIONS:
        emulator.client("s3", region_name=region).create_bucket(
            Bucket=f"{ARTIFACTS}-{region}",
            **({} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}))
    # ... then the target itself, as infra/README.md says, with the real AWS CLI
    home = tmp_path_factory.mktemp("org")
    parameters = home / "org-parameters.json"
    parameters.write_text(json.dumps([
        {"ParameterKey": k, "ParameterValue": v} for k, v in {
            "OrganizationalUnitIds": f"{ou_a},{ou_b}", "IamHomeRegion": HOME, "ResourceTagKey": "CostCenter",
            "ResourceTagValue": "ml-42", "AlarmEmail": ALARM_EMAIL}.items()]))
    out = AwsCli(emulator, home).make("deploy-org", f"ORG_PARAMETERS_FILE={parameters}",
                                      f"ORG_TEMPLATE_BUCKET={TEMPLATES}", f"ARTIFACT_BUCKET={ARTIFACTS}",
                                      f"ORG_REGIONS={','.join(REGIONS)}")
    assert out.returncode == 0, out.stderr
    cfn = emulator.client("cloudformation")
    return SimpleNamespace(aws=emulator, orgs=orgs, cfn=cfn, root=root, ou_a=ou_a, ou_b=ou_b, members=members,
                           domains=domains, management=orgs.describe_organization()["Organization"]["MasterAccountId"])


def check_onboarded(org, account: str, region: str, domain: tuple[str, str], instance: dict) -> None:
    """The instance's bootstrap stack completed in `account`/`region` and onboarded the account's domain there."""
    assert (instance["Status"], instance["StackInstanceStatus"]["DetailedStatus"]) == ("CURRENT", "SUCCEEDED"), \
        instance
    cfn = client_in(org.aws, "cloudformation", account, region)
    described, = cfn.describe_stacks(StackName=instance["StackId"])["Stacks"]
    assert described["StackStatus"] == "CREATE_COMPLETE"
    outputs = stack.outputs_of(described)
    bucket = f"sagemaker-projects-templates-{account}-{region}"
    assert outputs["TemplatesLocation"] == f"s3://{bucket}/templates/"
    assert outputs["LaunchRoleArn"] == f"arn:aws:iam::{account}:role/AmazonSageMakerProjectsLaunchRole"
    listed = client_in(org.aws, "s3", account, region).list_objects_v2(Bucket=bucket, Prefix="templates/")
    assert listed["KeyCount"] == 5
    arn, role = domain
    tags = {t["Key"]: t["Value"] for t in client_in(org.aws, "sagemaker", account, region).list_tags(
        ResourceArn=arn)["Tags"]}
    assert tags.get(LOCATION_TAG) == f"s3://{bucket}/templates/", (account, region, tags)
    iam = client_in(org.aws, "iam", account)
    assert {t["Key"]: t["Value"] for t in iam.list_role_tags(RoleName=role)["Tags"]}.get(LAUNCH_TAG) == "true"
    assert any(n.startswith("SageMakerProjects-PassLaunchRole-") for n in iam.list_role_policies(RoleName=role)[
        "PolicyNames"])


def test_every_account_and_region_of_the_ous_gets_a_completed_bootstrap_stack_that_onboards_its_domain(org):
    roles = settled(org.cfn, IAM_SET, expected=len(org.members))
    found = settled(org.cfn, BOOTSTRAP_SET, expected=len(org.members) * len(REGIONS))
    report("roles StackSet (iam/roles.yaml), one home region per account:", roles)
    report("bootstrap StackSet (infra/bootstrap.yaml), every account x region:", found)
    assert set(roles) == {(a, HOME) for a in org.members}
    assert all(i["StackInstanceStatus"]["DetailedStatus"] == "SUCCEEDED" for i in roles.values())
    assert set(found) == {(a, r) for a in org.members for r in REGIONS}
    for (account, region), instance in sorted(found.items()):
        check_onboarded(org, account, region, org.domains[(account, region)], instance)


def test_the_management_account_gets_no_instance(org):
    # settled first: over no instances at all, "the management account has none" would say nothing
    roles = settled(org.cfn, IAM_SET, expected=len(org.members))
    found = settled(org.cfn, BOOTSTRAP_SET, expected=len(org.members) * len(REGIONS))
    targeted = {a for a, _ in found} | {a for a, _ in roles}
    assert set(org.members) <= targeted
    assert org.management not in targeted


def test_an_account_that_joins_an_ou_gets_the_roles_and_every_regions_bootstrap_stack(org):
    late = new_member(org.orgs, "ml-late", org.root, None)
    domains = {r: domain_in(org.aws, late, r, f"late-{r}") for r in REGIONS}
    org.orgs.move_account(AccountId=late, SourceParentId=org.root, DestinationParentId=org.ou_b)
    roles = settled(org.cfn, IAM_SET, expected=len(org.members) + 1)
    found = settled(org.cfn, BOOTSTRAP_SET, expected=(len(org.members) + 1) * len(REGIONS))
    report("after ml-late joined ml-teams (auto-deployment):", {k: v for k, v in found.items() if k[0] == late})
    assert roles[(late, HOME)]["StackInstanceStatus"]["DetailedStatus"] == "SUCCEEDED"
    for region in REGIONS:
        check_onboarded(org, late, region, domains[region], found[(late, region)])


def test_the_stack_instances_carry_the_stacksets_parameters_and_tags(org):
    found = settled(org.cfn, BOOTSTRAP_SET, expected=len(org.members) * len(REGIONS))
    assert {(a, r) for a in org.members for r in REGIONS} <= set(found)
    for (account, region), instance in found.items():
        cfn = client_in(org.aws, "cloudformation", account, region)
        described, = cfn.describe_stacks(StackName=instance["StackId"])["Stacks"]
        params = {p["ParameterKey"]: p["ParameterValue"] for p in described["Parameters"]}
        assert (params["ArtifactBucket"], params["ArtifactBucketIsRegional"]) == (ARTIFACTS, "true")
        assert (params["ResourceTagKey"], params["ResourceTagValue"]) == ("CostCenter", "ml-42")
        # each instance's own alarm topic, in its account and region, with the organisation's address subscribed
        topic = stack.outputs_of(described)["AlarmTopicArn"]
        assert topic.split(":")[3:5] == [region, account]
        subscriptions = client_in(org.aws, "sns", account, region).list_subscriptions_by_topic(
            TopicArn=topic)["Subscriptions"]
        assert [(x["Protocol"], x["Endpoint"]) for x in subscriptions] == [("email", ALARM_EMAIL)]
