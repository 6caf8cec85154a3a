"""Service-managed StackSets over an emulated AWS Organization, as moto 5.2.5 lacks them (see README: "What the
emulator lacks and how the harness fills it").

moto has Organizations and a StackSet API, but:
- `AWS::CloudFormation::StackSet` has no CloudFormation model (skipped silently). Here it is one: the StackSet is
  created in the stack's account and region from its `TemplateURL` (read from the emulator's S3, as CloudFormation
  reads it with the administrator's credentials) or `TemplateBody`, with its Parameters, Tags, PermissionModel and
  AutoDeployment, then its `StackInstancesGroup` (DeploymentTargets.OrganizationalUnitIds x Regions) is deployed.
  `Ref` gives the StackSetId (`name:uuid`), as on AWS; deleting the resource deletes its instances and the StackSet.
- A SERVICE_MANAGED stack instance becomes a hidden stack that runs no custom resource, and every instance reports
  CURRENT/SUCCEEDED whatever happened. Here each instance is a real stack `StackSet-<name>-<uuid>` created in the
  target account and region (so ext_cloudformation runs its custom resources, answered by the functions acting in
  that account: ext_lambda gives a function of another account its role's credentials), and the instance's status
  follows that stack: RUNNING while it is in progress, SUCCEEDED (CURRENT) once complete, FAILED (OUTDATED) with
  the stack's reason otherwise.
- The management account is never a target of a service-managed StackSet (AWS: "does not deploy to the
  management account"), even when its OU (the root) is targeted.
- AutoDeployment: an account that MoveAccount puts into a targeted OU gets every such StackSet's instances, in the
  order the StackSets were created (a StackSet whose AutoDeployment.DependsOn names another comes after it).

Still unlike AWS: instances are created at once, not MaxConcurrentPercentage at a time; failure tolerance is not
applied (an instance's failure does not stop the others); the stack that holds the StackSet resource completes
without waiting for its instances (read their status with ListStackInstances).
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

#: Extensions installed before this one: instances' custom resources go through ext_cloudformation's lifecycle.
REQUIRES = ("ext_cloudformation", "ext_lambda")


@dataclass
class _Store:
    #: StackSet id -> (AutoDeployment, OU ids targeted, regions), in creation order
    auto: dict[str, tuple[dict, list[str], list[str]]] = field(default_factory=dict)

    def reset(self) -> None:
        self.auto.clear()


_store = _Store()


def _read_template_url(url: str, account_id: str) -> str:
    """The object an S3 https URL names (virtual-hosted or path style), from the emulator's S3."""
    from urllib.parse import urlparse

    from moto.s3.models import s3_backends

    parsed = urlparse(url)
    host, path = parsed.netloc, parsed.path.lstrip("/")
    if ".s3." in host or ".s3-" in host:
        bucket, key = host.split(".s3", 1)[0], path
    else:
        bucket, _, key = path.partition("/")
    return s3_backends[account_id]["aws"].get_object(bucket, key).value.decode()


def _instance_status(instance) -> dict[str, Any]:
    """StackInstance fields from the instance's real stack."""
    stack = getattr(instance, "stack", None)
    status = getattr(stack, "status", "CREATE_COMPLETE")
    if status in ("CREATE_COMPLETE", "UPDATE_COMPLETE"):
        return {"Status": "CURRENT", "StackInstanceStatus": {"DetailedStatus": "SUCCEEDED"}}
    if status.endswith("_IN_PROGRESS"):
        return {"Status": "OUTDATED", "StackInstanceStatus": {"DetailedStatus": "RUNNING"}}
    reason = getattr(stack, "status_reason", None) or status
    return {"Status": "OUTDATED", "StackInstanceStatus": {"DetailedStatus": "FAILED"},
            "StatusReason": f"{status}: {reason}"}


def _patch_instances() -> None:
    from moto.cloudformation import models

    original_init = models.StackInstance.__init__
    original_to_dict = models.StackInstance.to_dict

    def __init__(self, account_id, region_name, stackset_id, stack_name, name, template, parameters,
                 permission_model):
        if permission_model != "SERVICE_MANAGED":
            return original_init(self, account_id, region_name, stackset_id, stack_name, name, template,
                                 parameters, permission_model)
        self.account_id, self.region_name, self.stackset_id = account_id, region_name, stackset_id
        self.name, self.template, self.permission_model = name, template, permission_model
        self.parameters = parameters or []
        params = (dict(parameters) if isinstance(parameters, dict)
                  else {p["ParameterKey"]: p["ParameterValue"] for p in parameters or []})
        # the instance's own stack in the target account, named as AWS names it
        self.stack_name = f"StackSet-{name}-{uuid.uuid4()}"
        backend = models.cloudformation_backends[account_id][region_name]
        self.stack = backend.create_stack(name=self.stack_name, template=template, parameters=params)

    def to_dict(self) -> dict[str, Any]:
        out = original_to_dict(self)
        if self.permission_model == "SERVICE_MANAGED":
            out["StackId"] = self.stack.stack_id
            out.update(_instance_status(self))
        return out

    def delete(self) -> None:
        backend = models.cloudformation_backends[self.account_id][self.region_name]
        backend.delete_stack(self.stack.stack_id)

    original_create_instances = models.StackInstances.create_instances

    def create_instances(self, accounts, regions, parameters, deployment_targets, permission_model):
        if permission_model == "SERVICE_MANAGED":
            # never the management account; only accounts of the OUs (and their child OUs)
            master = self.org_backend.org.master_account_id if self.org_backend.org else None
            saved = self.org_backend.accounts
            self.org_backend.accounts = [a for a in saved if a.id != master]
            try:
                return original_create_instances(self, accounts, regions, parameters, deployment_targets,
                                                 permission_model)
            finally:
                self.org_backend.accounts = saved
        return original_create_instances(self, accounts, regions, parameters, deployment_targets, permission_model)

    models.StackInstance.__init__ = __init__
    models.StackInstance.to_dict = to_dict
    original_delete = models.StackInstance.delete
    models.StackInstance.delete = lambda self: (delete(self) if self.permission_model == "SERVICE_MANAGED"
                                                else original_delete(self))
    models.StackInstances.create_instances = create_instances


def _define_resource() -> None:
    from moto.cloudformation import models, parsing
    from moto.core.common_models import CloudFormationModel

    from harness.cfn_model import NamedModel

    class StackSetResource(NamedModel, CloudFormationModel):
        TYPE, NAME_PROPERTY, ATTRIBUTE = "AWS::CloudFormation::StackSet", "StackSetName", "StackSetId"

        def __init__(self, account_id: str, region: str, stack_set):
            super().__init__(account_id, region, stack_set.name)
            self.stack_set = stack_set

        @property
        def physical_resource_id(self) -> str:
            return self.stack_set.id

        def attribute(self) -> str:
            return self.stack_set.id

        @classmethod
        def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name,
                                            **kwargs):
            props = cloudformation_json["Properties"]
            template = (_read_template_url(props["TemplateURL"], account_id) if props.get("TemplateURL")
                        else props["TemplateBody"])
            backend = models.cloudformation_backends[account_id][region_name]
            parameters = {p["ParameterKey"]: p["ParameterValue"] for p in props.get("Parameters") or []}
            stack_set = backend.create_stack_set(
                name=props.get("StackSetName") or resource_name, template=template, parameters=parameters,
                tags={t["Key"]: t["Value"] for t in props.get("Tags") or []},
                permission_model=props.get("PermissionModel", "SELF_MANAGED"),
                admin_role=props.get("AdministrationRoleARN"), exec_role=props.get("ExecutionRoleName"),
                description=props.get("Description"))
            groups = props.get("StackInstancesGroup") or []
            auto = props.get("AutoDeployment") or {}
            ous = [ou for g in groups for ou in (g.get("DeploymentTargets") or {}).get("OrganizationalUnitIds") or []]
            regions = sorted({r for g in groups for r in g.get("Regions") or []})
            _store.auto[stack_set.id] = (auto, ous, regions)
            for g in groups:
                stack_set.create_stack_instances(
                    accounts=(g.get("DeploymentTargets") or {}).get("Accounts") or [],
                    regions=g.get("Regions") or [], deployment_targets=g.get("DeploymentTargets") or {},
                    parameters=[])
            return cls(account_id, region_name, stack_set)

        @classmethod
        def delete_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name):
            backend = models.cloudformation_backends[account_id][region_name]
            for stack_set in list(backend.stacksets.values()):
                if resource_name in (stack_set.id, stack_set.name):
                    instances = stack_set.instances.stack_instances
                    stack_set.instances.delete([i.account_id for i in instances],
                                               [i.region_name for i in instances])
                    stack_set.delete()
                    _store.auto.pop(stack_set.id, None)

        def delete(self, account_id: str, region_name: str) -> None:
            self.delete_from_cloudformation_json(self.stack_set.id, {}, account_id, region_name)

    for cached in (parsing.get_model_list, parsing.get_model_map, parsing.get_name_type_map):
        cached.cache_clear()
    assert "AWS::CloudFormation::StackSet" in parsing.get_model_map()


def _patch_auto_deployment() -> None:
    from moto.cloudformation import models
    from moto.organizations.models import OrganizationsBackend

    original_move = OrganizationsBackend.move_account

    def move_account(self, **kwargs: Any) -> None:
        original_move(self, **kwargs)
        destination = kwargs["DestinationParentId"]
        for stack_set_id, (auto, ous, regions) in list(_store.auto.items()):
            if not str(auto.get("Enabled")).lower() == "true" or destination not in ous:
                continue
            for by_region in models.cloudformation_backends[self.account_id].values():
                for stack_set in list(by_region.stacksets.values()):
                    if stack_set.id == stack_set_id and stack_set.status == "ACTIVE":
                        stack_set.create_stack_instances(
                            accounts=[], regions=regions,
                            deployment_targets={"OrganizationalUnitIds": [destination]}, parameters=[])

    OrganizationsBackend.move_account = move_account


def install(emulator) -> None:
    from harness.emulator import on_reset

    _patch_instances()
    _define_resource()
    _patch_auto_deployment()
    on_reset(_store.reset)
