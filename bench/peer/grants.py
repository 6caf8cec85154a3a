"""PEER — the execution-role grant shared by the peer handlers (benchmark only; see common.py): per role, list
its inline policies, read each one's document for IAM's quota check, put the policies that differ, read the
role's tags and tag it if the launch-access tag is missing — the same requests as ours."""
from __future__ import annotations

import json
import os
from pathlib import Path
from urllib.parse import unquote

import common

LAUNCH_TAG, POLICY_PREFIX, QUOTA, CONCURRENCY = "sagemaker-projects-launch-access", "SageMakerProjects-", 10240, 4
DOC_DIR = Path(os.environ.get("PEER_POLICY_DIR", Path(__file__).resolve().parents[2] / "iam" / "execution-role"))
DOCUMENTS = {"PassLaunchRole": (DOC_DIR / "pass-launch-role.json").read_text(),
             "ProjectStacks": (DOC_DIR / "project-stacks.json").read_text(),
             "TemplateRead": (DOC_DIR / "template-read.json").read_text()}

iam = common.client("iam")


def _size(doc: str) -> int:
    return sum(1 for c in doc if not c.isspace())


def render(launch_arn: str, bucket: str, prefix: str, owner: str) -> dict[str, str]:
    _, partition, _, _, account, _ = launch_arn.split(":", 5)
    subs = {"${LaunchRoleArn}": launch_arn, "${Partition}": partition, "${AccountId}": account,
            "${TemplateBucket}": bucket, "${TemplatePrefix}": prefix}
    out = {}
    for purpose, template in DOCUMENTS.items():
        for k, v in subs.items():
            template = template.replace(k, v)
        out[f"{POLICY_PREFIX}{purpose}-{owner}"] = json.dumps(json.loads(template), separators=(",", ":"))
    return out


def grant(role: str, policies: dict[str, str]) -> None:
    names = [n for page in iam.get_paginator("list_role_policies").paginate(RoleName=role) for n in page["PolicyNames"]]
    current, foreign = {}, 0
    for name in names:
        doc = iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
        parsed = doc if isinstance(doc, dict) else json.loads(unquote(doc))  # boto3 usually decodes it already
        if name in policies:
            current[name] = parsed
        else:
            foreign += _size(json.dumps(parsed))
    if foreign + sum(_size(d) for d in policies.values()) > QUOTA:
        raise ValueError(f"execution role {role}: inline policies over IAM's {QUOTA}-character quota")
    for name, doc in policies.items():
        if current.get(name) != json.loads(doc):
            iam.put_role_policy(RoleName=role, PolicyName=name, PolicyDocument=doc)
    tags = iam.list_role_tags(RoleName=role)["Tags"]
    if not any(t["Key"] == LAUNCH_TAG and t["Value"] == "true" for t in tags):
        iam.tag_role(RoleName=role, Tags=[{"Key": LAUNCH_TAG, "Value": "true"}])
