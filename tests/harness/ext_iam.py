"""IAM additions to moto 5.2.5 (see README: "What the emulator lacks and how the harness fills it").

- `AWS::IAM::Role`: moto stores the documents of inline `Policies` as Python reprs (GetRolePolicy then answers
  something that is not JSON); here they are stored as the JSON CloudFormation sends.
- `AWS::IAM::Role`: moto creates the role, its inline Policies, Path, PermissionsBoundary and Tags, but ignores
  `ManagedPolicyArns`. Here each listed managed policy is attached to the role as CloudFormation attaches it (the
  customer managed policy must exist: an unknown ARN fails the resource, as on AWS). AWS managed policies
  (`arn:<partition>:iam::aws:policy/…`) exist on AWS but moto loads them only on request
  (MOTO_IAM_LOAD_MANAGED_POLICIES), so one it does not know is left unattached rather than failing the stack.
  Deleting such a role detaches its managed policies first, as CloudFormation does (moto's DeleteRole refuses a
  role with attached policies).
- `load_aws_managed_policy(account, name)`: makes one AWS managed policy exist in an account, with the document
  AWS publishes (moto's copy of it), so a test can attach it as on AWS without loading all ~1,400.
"""
from __future__ import annotations

import copy
import json


def _patch_role_managed_policies() -> None:
    from moto.iam.models import Role, iam_backends
    from moto.utilities.utils import get_partition

    original = Role.create_from_cloudformation_json.__func__

    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        cloudformation_json = copy.deepcopy(cloudformation_json)
        for policy in (cloudformation_json.get("Properties") or {}).get("Policies") or []:
            if not isinstance(policy.get("PolicyDocument"), str):
                policy["PolicyDocument"] = json.dumps(policy["PolicyDocument"])
        role = original(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)
        backend = iam_backends[account_id][get_partition(region_name)]
        for arn in (cloudformation_json.get("Properties") or {}).get("ManagedPolicyArns") or []:
            if ":iam::aws:policy/" in arn and arn not in backend.managed_policies:
                continue
            backend.attach_role_policy(arn, role.name)
        return role

    Role.create_from_cloudformation_json = classmethod(create_from_cloudformation_json)

    original_delete = Role.delete_from_cloudformation_json.__func__

    def delete_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name):
        backend = iam_backends[account_id][get_partition(region_name)]
        for role in list(backend.roles.values()):
            if role.name == resource_name:
                for arn in list(role.managed_policies):
                    backend.detach_role_policy(arn, role.name)
        return original_delete(cls, resource_name, cloudformation_json, account_id, region_name)

    Role.delete_from_cloudformation_json = classmethod(delete_from_cloudformation_json)


def load_aws_managed_policy(account_id: str, name: str, partition: str = "aws") -> str:
    """Makes AWS's managed policy `name` attachable in `account_id` (IAM: every account sees them); its ARN."""
    from moto.iam.aws_managed_policies import aws_managed_policies_data
    from moto.iam.models import AWSManagedPolicy, iam_backends

    backend = iam_backends[account_id][partition]
    policy = AWSManagedPolicy.from_data(name, account_id, backend.region_name,
                                        json.loads(aws_managed_policies_data)[name])
    backend.managed_policies.setdefault(policy.arn, policy)
    return policy.arn


def install(emulator) -> None:
    _patch_role_managed_policies()
