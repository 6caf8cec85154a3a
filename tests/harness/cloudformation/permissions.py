"""The stack's role, enforced where a test asks: `role_permissions_enforced()`.

moto creates every resource whatever the stack's role may do. Within `role_permissions_enforced()`, a resource that
moto creates for a stack with a role (RoleARN, as SageMaker gives a project's stack the launch role) is first judged
against that role's policies as IAM holds them (inline and attached, evaluated offline by harness/iam_policy.py):
a create the role may not make fails the resource with AWS's AccessDenied wording, naming the role's session, the
action and the resource. Judged: S3 buckets (`s3:CreateBucket`) and bucket policies (`s3:PutBucketPolicy`), whose
ARNs follow from their properties; other types are created unjudged (kinder than AWS, which judges every call a
resource handler makes: a test that needs another type judged must add it here).

Sources: IAM User Guide, "Troubleshoot access denied error messages" (`User: <principal> is not authorized to
perform: <action> on resource: <arn> because no identity-based policy allows the <action> action`); CloudFormation
User Guide, "Service role" (the stack's role is assumed with the session name AWSCloudFormation, which the
principal's assumed-role ARN shows); the resource handler wraps the service's message in `Resource handler
returned message: "…" (HandlerErrorCode: AccessDenied)`.
"""
from __future__ import annotations

import json
import threading
from urllib.parse import unquote

_enforced = threading.Event()


class role_permissions_enforced:
    def __enter__(self):
        _enforced.set()
        return self

    def __exit__(self, *exc):
        _enforced.clear()


class AccessDenied(Exception):
    pass


def _statements(account: str, role_arn: str) -> list[dict]:
    from moto.iam.models import iam_backends

    from harness import iam_policy

    role = iam_backends[account]["aws"].get_role(role_arn.rsplit("/", 1)[1])
    docs = list(role.policies.values())
    docs += [p.document for p in role.managed_policies.values()]
    out = []
    for doc in docs:
        parsed = json.loads(unquote(doc)) if isinstance(doc, str) else doc
        out += iam_policy.as_list(parsed.get("Statement"))
    return out


def _judged(resource_type: str, properties: dict) -> tuple[str, str] | None:
    """(action, resource ARN) of a create, for the types judged."""
    if resource_type == "AWS::S3::Bucket" and properties.get("BucketName"):
        return "s3:CreateBucket", f"arn:aws:s3:::{properties['BucketName']}"
    if resource_type == "AWS::S3::BucketPolicy" and properties.get("Bucket"):
        return "s3:PutBucketPolicy", f"arn:aws:s3:::{properties['Bucket']}"
    return None


def check(resources_map, logical_id: str, resource_json: dict) -> None:
    """Raises AccessDenied, in AWS's words, when the stack's role may not create this resource."""
    if not _enforced.is_set():
        return
    from moto.cloudformation.models import cloudformation_backends
    from moto.cloudformation.parsing import clean_json

    from harness import iam_policy

    account, region = resources_map._account_id, resources_map._region_name
    stack = cloudformation_backends[account][region].stacks.get(resources_map.stack_id)
    role_arn = getattr(stack, "role_arn", None)
    if not role_arn:
        return
    # resolved here: moto parses no AWS::S3::BucketPolicy of its own
    properties = clean_json(resource_json.get("Properties") or {}, resources_map)
    judged = _judged(str(resource_json.get("Type", "")), properties)
    if judged is None:
        return
    action, arn = judged
    if iam_policy.allows(_statements(account, role_arn), action, arn, {"aws:SecureTransport": "true"}):
        return
    role = role_arn.rsplit("/", 1)[1]
    raise AccessDenied(
        f'Resource handler returned message: "User: arn:aws:sts::{account}:assumed-role/{role}/AWSCloudFormation '
        f"is not authorized to perform: {action} on resource: \"{arn}\" because no identity-based policy allows "
        f'the {action} action (Service: S3, Status Code: 403, Request ID: 4442587FB7D0A2F9)" '
        "(HandlerErrorCode: AccessDenied)")
