"""PEER — Custom::ExecutionRolePolicies the conventional way (crhelper + boto3). Benchmark only; see common.py.

Same requests as ours for the same event: the roles are granted 4 at a time (grants.py)."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import common
from grants import CONCURRENCY, grant, render

helper = common.helper()


def role_names(value) -> list[str]:
    items = value if isinstance(value, list) else [v.strip() for v in value.split(",") if v.strip()]
    return sorted({i.rsplit("/", 1)[-1] for i in items})


@helper.create
@helper.update
def create_or_update(event, _context):
    p = event["ResourceProperties"]
    roles = role_names(p["ExecutionRoles"])
    policies = render(p["LaunchRoleArn"], p["TemplateBucket"], p.get("TemplatePrefix", ""), common.owner_scope(event))
    with ThreadPoolExecutor(CONCURRENCY) as pool:
        list(pool.map(lambda r: grant(r, policies), roles))
    helper.Data.update({"Roles": ",".join(roles), "PolicyNames": ",".join(policies)})
    return event.get("PhysicalResourceId") or common.physical_id(event)


@helper.delete
def delete(_event, _context):
    return None


def handler(event, context):
    helper(event, context)
