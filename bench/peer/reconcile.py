"""PEER — Custom::ReconcileDomains (the onboarder's install sweep) the conventional way (crhelper + boto3).
Benchmark only; see common.py.

Same requests as ours for the same event: list the domains; per domain (8 at a time) describe it, read its
tags, grant its execution roles once per invocation (grants.py), tag it with the template location when
InService and untagged, make sure its project exists (DescribeProject, then CreateProject), then its user
profiles (list, describe, tags, grant). One difference, in the peer's favour: ours also checks the project's
parameters against the template (a YAML parse per domain); the peer does not."""
from __future__ import annotations

import json
import logging
import os
import threading
from concurrent.futures import ThreadPoolExecutor

from botocore.exceptions import ClientError

import common
from grants import grant, render

logger = logging.getLogger(__name__)
helper = common.helper()
sm = common.client("sagemaker")

LOCATION_TAG = "sagemaker:projectS3TemplatesLocation"
DOMAIN_TAG = "sagemaker-projects-bootstrap:domain"


class Settings:
    def __init__(self):
        env = os.environ.get
        self.launch_role = env("LAUNCH_ROLE_ARN")
        self.bucket, self.prefix = env("TEMPLATE_BUCKET"), env("TEMPLATE_PREFIX", "")
        self.region = env("AWS_REGION", "us-east-1")
        self.default_template = (env("DEFAULT_TEMPLATE") or "").removesuffix(".yaml") or None
        self.default_parameters = json.loads(env("DEFAULT_TEMPLATE_PARAMETERS") or "{}")
        self.opt_in = env("OPT_IN_TAG", "sagemaker-projects-bootstrap:template")
        self.params_tag = env("PARAMETERS_TAG", "sagemaker-projects-bootstrap:template-parameters")
        self.opt_out = env("OPT_OUT_TAG", "sagemaker-projects-bootstrap:opt-out")
        self.owner = env("POLICY_OWNER", "onboarder")
        self.concurrency = int(env("SWEEP_CONCURRENCY", "8"))
        self.location = f"s3://{self.bucket}/{self.prefix}" if self.prefix else f"s3://{self.bucket}"
        self.policies = render(self.launch_role, self.bucket, self.prefix, self.owner)


S = Settings()


def _missing(e: ClientError) -> bool:
    err = e.response.get("Error", {})
    msg = (err.get("Message") or "").lower()
    return err.get("Code") == "ResourceNotFound" or (
        err.get("Code") == "ValidationException" and ("does not exist" in msg or "not found" in msg))


class Sweep:
    def __init__(self):
        self.granted: set[str] = set()
        self.lock = threading.Lock()

    def grant_role(self, arn: str) -> str:
        role = arn.rsplit("/", 1)[-1]
        with self.lock:
            first = role not in self.granted
            self.granted.add(role)
        if first:
            try:
                grant(role, S.policies)
            except Exception:
                with self.lock:
                    self.granted.discard(role)
                raise
        return role

    @staticmethod
    def tags(arn: str) -> list[dict]:
        return [t for page in sm.get_paginator("list_tags").paginate(ResourceArn=arn) for t in page.get("Tags", [])]

    @staticmethod
    def opted_out(tags) -> bool:
        return any(t["Key"] == S.opt_out and t.get("Value") != "false" for t in tags)

    def ensure_project(self, domain: str, tags) -> str | None:
        tag = {t["Key"]: t.get("Value") for t in tags}
        if S.opt_in in tag:
            template = tag[S.opt_in].removesuffix(".yaml")
            params = dict(p.split("=", 1) for p in (tag.get(S.params_tag) or "").split())
        elif S.default_template:
            template, params = S.default_template, S.default_parameters
        else:
            return None
        name = f"mlops-{domain}"[:32]
        try:
            if sm.describe_project(ProjectName=name).get("ProjectStatus") != "DeleteCompleted":
                return name
        except ClientError as e:
            if not _missing(e):
                raise
        label = template.removesuffix("-codepipeline")[:32].rstrip("-")
        provider = {"TemplateName": label, "RoleARN": S.launch_role,
                    "TemplateURL": f"https://{S.bucket}.s3.{S.region}.amazonaws.com/{S.prefix}{template}.yaml",
                    "Parameters": [{"Key": k, "Value": v} for k, v in sorted(params.items())]}
        try:
            sm.create_project(ProjectName=name, TemplateProviders=[{"CfnTemplateProvider": provider}],
                              ProjectDescription=f"MLOps project for SageMaker domain {domain}, created by the peer",
                              Tags=[{"Key": DOMAIN_TAG, "Value": domain}])
        except ClientError as e:
            if e.response["Error"].get("Code") != "ConflictException":
                raise
        return name

    def domain(self, domain: str) -> str:
        try:
            d = sm.describe_domain(DomainId=domain)
        except ClientError as e:
            if _missing(e):
                return "Gone"
            raise
        status = d.get("Status", "Pending")
        if status in ("Failed", "Deleting", "Delete_Failed"):
            return "Abandoned"
        tags = self.tags(d["DomainArn"]) if d.get("DomainArn") else []
        if self.opted_out(tags):
            return "OptedOut"
        for arn in {(d.get("DefaultUserSettings") or {}).get("ExecutionRole"),
                    (d.get("DefaultSpaceSettings") or {}).get("ExecutionRole")} - {None}:
            self.grant_role(arn)
        if status != "InService":
            return "Waiting"
        if not any(t["Key"] == LOCATION_TAG and t.get("Value") == S.location for t in tags):
            sm.add_tags(ResourceArn=d["DomainArn"], Tags=[{"Key": LOCATION_TAG, "Value": S.location}])
        self.ensure_project(domain, tags)
        return "Onboarded"

    def profiles(self, domain: str) -> None:
        pages = sm.get_paginator("list_user_profiles").paginate(DomainIdEquals=domain)
        for name in [p["UserProfileName"] for page in pages for p in page.get("UserProfiles", [])]:
            try:
                u = sm.describe_user_profile(DomainId=domain, UserProfileName=name)
            except ClientError as e:
                if _missing(e):
                    continue
                raise
            if u.get("UserProfileArn") and self.opted_out(self.tags(u["UserProfileArn"])):
                continue
            role = (u.get("UserSettings") or {}).get("ExecutionRole")
            if role:
                self.grant_role(role)

    def one(self, domain: str) -> str:
        outcome = self.domain(domain)
        if outcome in ("Onboarded", "Waiting"):
            self.profiles(domain)
        return outcome

    def run(self) -> dict[str, int]:
        ids = [d["DomainId"] for page in sm.get_paginator("list_domains").paginate() for d in page.get("Domains", [])]
        report = {"Domains": len(ids), "Onboarded": 0, "Waiting": 0, "Failed": 0}

        def safe(domain):
            try:
                return self.one(domain)
            except Exception:  # noqa: BLE001 - one domain's failure does not stop the others
                logger.warning("sweep: domain %s not onboarded", domain, exc_info=True)
                return "Failed"

        with ThreadPoolExecutor(S.concurrency) as pool:
            for outcome in pool.map(safe, ids):
                if outcome in report:
                    report[outcome] += 1
        return report


@helper.create
@helper.update
def create_or_update(event, _context):
    helper.Data.update({k: str(v) for k, v in Sweep().run().items()})
    return event.get("PhysicalResourceId") or common.physical_id(event)


@helper.delete
def delete(_event, _context):
    return None


def handler(event, context):
    helper(event, context)
