"""CloudFormation additions to moto 5.2.5 (see README: "What the emulator lacks and how the harness fills it").

1. The custom-resource lifecycle. `Custom::` resources run as CloudFormation runs them
   (`moto.cloudformation.custom_model.CustomModel`, `CloudFormationResponse.process_cfn_response`,
   `ResourceMap.delete` / `_delete_resource`, `Stack.delete`): a Create event with all property values as strings
   and a ResponseURL on the emulator's loopback endpoint, sent to the function through ext_lambda; a FAILED response
   fails the stack and rolls it back; the response's PhysicalResourceId becomes the resource's; deleting the stack (or
   rolling it back) deletes the `Custom::` resources first — moto deletes in no particular order, so a function
   could go before the resource it serves — and sends them Delete events; the stack stays DELETE_IN_PROGRESS
   (ROLLBACK_IN_PROGRESS) until they are answered. Every response PUT to the emulator is checked against the
   protocol (`contract_violations()`). A function that cannot be run at all (not built, does not compile, crashed,
   not a function) fails its resource at once instead of leaving the stack waiting for CloudFormation's one-hour
   timeout. This section is where every request CloudFormation sends a custom resource is made and answered.
2. `{{resolve:ssm:…}}` dynamic references in templates are resolved at CreateStack / UpdateStack
   (`CloudFormationBackend.create_stack` / `update_stack`), as CloudFormation does; moto leaves them as text.
3. `AWS::CodeBuild::Project`, which moto's CloudFormation skips (the project templates' seed-code build): created in
   moto's CodeBuild backend — whose builds report SUCCEEDED — so `!Ref` gives the project name and `!GetAtt .Arn`
   its ARN. With it and (2), a project's stack `SP-<id>` can complete in the emulator: its Custom::SeedCode is
   answered by the real seedcode-checkin binary after a build of the project's seed-code CodeBuild project.

The lifecycle's state (requests awaiting a response, what each custom resource was created with, Deletes still
unanswered, contract violations) is kept here, per (stack id, logical id), and cleared with moto's.
"""
from __future__ import annotations

import json
import re
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any

from moto.core.common_models import CloudFormationModel

from harness.ext_lambda import Invocation, invoke_async, run_later

#: Extensions installed before this one (emulator.start installs in that order): custom resources run through
#: ext_lambda.
REQUIRES = ("ext_lambda",)


# ---------------------------------------------------------------------------------------------------------------
# 1. The custom-resource lifecycle


@dataclass
class _CustomResource:
    """What CloudFormation knows of one `Custom::` resource of a stack."""

    account_id: str
    region: str
    stack_id: str
    logical_id: str
    resource_type: str
    service_token: str
    properties: dict  # as the function is sent them: every scalar a string
    #: its function was sent a Create it may have acted on, and no Delete yet: deleting the stack sends it one
    attempted: bool = True


@dataclass
class _Request:
    """A request sent to a custom resource's function, awaiting its response."""

    kind: str  # Create | Delete
    stack_id: str
    logical_id: str
    event: dict


@dataclass
class _Store:
    emulator: Any = None
    lock: threading.RLock = field(default_factory=threading.RLock)
    #: stack id → moto's Stack (held: during DeleteStack moto has it in neither of its stack maps)
    stacks: dict[str, Any] = field(default_factory=dict)
    resources: dict[tuple[str, str], _CustomResource] = field(default_factory=dict)
    #: request id → the request
    requests: dict[str, _Request] = field(default_factory=dict)
    #: stack id → logical ids of the custom resources whose Delete is not answered yet
    pending_deletes: dict[str, set[str]] = field(default_factory=dict)
    violations: list[str] = field(default_factory=list)

    def reset(self) -> None:
        with self.lock:
            self.stacks.clear()
            self.resources.clear()
            self.requests.clear()
            self.pending_deletes.clear()
            self.violations.clear()


_store = _Store()


def contract_violations() -> list[str]:
    """Custom-resource responses PUT to the emulator since the last reset that break the protocol
    (harness.sink.check_contract)."""
    with _store.lock:
        return list(_store.violations)


def _stringify(value: Any) -> Any:
    """CloudFormation passes every scalar property value to a custom resource as a string."""
    if isinstance(value, dict):
        return {k: _stringify(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_stringify(v) for v in value]
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return value


def _stack_of(stack_id: str):
    from moto.cloudformation.models import cloudformation_backends

    _, _, _, region, account, _ = stack_id.split(":", 5)
    return cloudformation_backends[account][region].get_stack(stack_id)


def _resource_event(stack, logical_id: str, physical_id: str, rtype: str, status: str, reason: str | None):
    from moto.cloudformation.models import Event

    stack.events.append(
        Event(
            stack_id=stack.stack_id,
            stack_name=stack.name,
            logical_resource_id=logical_id,
            physical_resource_id=physical_id,
            resource_type=rtype,
            resource_status=status,
            resource_status_reason=reason,
            resource_properties=None,
        )
    )


def _send(cr: _CustomResource, request_type: str, physical_id: str | None = None) -> None:
    """Invokes the resource's function with a `request_type` event (asynchronously, as CloudFormation does); every
    request but Create names the resource's `physical_id`."""
    from moto.awslambda.utils import get_backend

    request_id = str(uuid.uuid4())
    event = {
        "RequestType": request_type,
        "ServiceToken": cr.service_token,
        "ResponseURL": f"{_store.emulator.endpoint}/cloudformation_{cr.region}/cfnresponse?stack={cr.stack_id}",
        "StackId": cr.stack_id,
        "RequestId": request_id,
        "LogicalResourceId": cr.logical_id,
        "ResourceType": cr.resource_type,
        "ResourceProperties": cr.properties,
    }
    if request_type != "Create":
        event["PhysicalResourceId"] = physical_id
    with _store.lock:
        _store.requests[request_id] = _Request(request_type, cr.stack_id, cr.logical_id, event)
    try:
        fn = get_backend(cr.account_id, cr.region).get_function(cr.service_token)
    except Exception:  # noqa: BLE001 - not a function of this emulator (or an SNS topic): the resource fails
        reason = f"Invalid service token: {cr.service_token} is not a Lambda function of this emulator"
        run_later(lambda: _on_response(request_id, "FAILED", reason, never_ran=True), "custom-resource-failure")
        return

    def after(record: Invocation) -> None:
        # the function could not be run at all: fail now rather than wait an hour as CloudFormation would
        if record.errored and str(record.result.get("errorType", "")).startswith("Runtime."):
            reason = f"{record.result['errorType']}: {record.result['errorMessage']}"
            _on_response(request_id, "FAILED", reason, never_ran=True)

    invoke_async(fn, event, "custom-resource", after)


def _create_custom_resource(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
    """Replaces `CustomModel.create_from_cloudformation_json`: the resource, and a Create sent to its function."""
    properties = cloudformation_json["Properties"]
    stack_id, logical_id = kwargs["StackId"], kwargs["LogicalId"]
    resource = cls(region_name, str(uuid.uuid4()), logical_id, resource_name)
    cr = _CustomResource(account_id, region_name, stack_id, logical_id, kwargs["ResourceType"],
                         properties["ServiceToken"], _stringify(properties))
    stack = _stack_of(stack_id)
    with _store.lock:
        _store.stacks[stack_id] = stack
        _store.resources[(stack_id, logical_id)] = cr
    stack.add_custom_resource(resource)
    _send(cr, "Create")
    return resource


def _delete_custom_resource(stack_id: str, logical_id: str, physical_id: str) -> None:
    """A custom resource leaves its stack (deletion or rollback): CloudFormation sends Delete, unless the resource's
    Create never reached its function."""
    with _store.lock:
        cr = _store.resources.get((stack_id, logical_id))
        if cr is None or not cr.attempted:
            return
        cr.attempted = False
        stack = _store.stacks[stack_id]
        _store.pending_deletes.setdefault(stack_id, set()).add(logical_id)
    _resource_event(stack, logical_id, physical_id, cr.resource_type, "DELETE_IN_PROGRESS", None)
    _send(cr, "Delete", physical_id)


def _finish_deletes_if_done(stack) -> None:
    if _store.pending_deletes.get(stack.stack_id):
        return
    if stack.status == "DELETE_IN_PROGRESS":
        stack.status = "DELETE_COMPLETE"
        stack._add_stack_event("DELETE_COMPLETE")
    elif stack.status == "ROLLBACK_IN_PROGRESS":
        stack.status = "ROLLBACK_COMPLETE"
        stack._add_stack_event("ROLLBACK_COMPLETE")


def _fail_create(stack, cr: _CustomResource, physical_id: str, reason: str) -> None:
    logical = cr.logical_id
    _resource_event(stack, logical, physical_id, cr.resource_type, "CREATE_FAILED", reason)
    summary = f"The following resource(s) failed to create: [{logical}]. "
    if stack.disable_rollback:
        stack.status = "CREATE_FAILED"
        stack.status_reason = summary
        stack._add_stack_event("CREATE_FAILED", resource_status_reason=summary)
        return
    stack.status = "ROLLBACK_IN_PROGRESS"
    stack.status_reason = summary + "Rollback requested by user."
    stack._add_stack_event("ROLLBACK_IN_PROGRESS", resource_status_reason=stack.status_reason)
    try:
        stack.resource_map.delete()
    except Exception as e:  # noqa: BLE001
        stack.status = "ROLLBACK_FAILED"
        stack._add_stack_event("ROLLBACK_FAILED", resource_status_reason=str(e))
        return
    _finish_deletes_if_done(stack)


def _create_answered(stack, cr: _CustomResource, status: str, reason: str | None, physical_id: str | None,
                     data, never_ran: bool) -> None:
    resource = stack.get_custom_resource(cr.logical_id)
    if physical_id:
        resource.resource_name = physical_id
    if stack.status != "CREATE_IN_PROGRESS":
        return
    if never_ran:
        cr.attempted = False  # nothing was created, so rollback sends it no Delete
    if status == "SUCCESS":
        resource.set_data(data or {})
        _resource_event(stack, cr.logical_id, resource.resource_name, cr.resource_type, "CREATE_COMPLETE", None)
        stack.verify_readiness()
    else:
        _fail_create(stack, cr, resource.resource_name, reason or "See the details in CloudWatch Log Stream")


def _delete_answered(stack, cr: _CustomResource, status: str, reason: str | None, physical_id: str | None) -> None:
    _store.pending_deletes.setdefault(stack.stack_id, set()).discard(cr.logical_id)
    if status == "SUCCESS":
        _resource_event(stack, cr.logical_id, physical_id or "", cr.resource_type, "DELETE_COMPLETE", None)
        _finish_deletes_if_done(stack)
    else:
        _resource_event(stack, cr.logical_id, physical_id or "", cr.resource_type, "DELETE_FAILED", reason)
        failed = "DELETE_FAILED" if stack.status == "DELETE_IN_PROGRESS" else "ROLLBACK_FAILED"
        stack.status = failed
        stack.status_reason = f"The following resource(s) failed to delete: [{cr.logical_id}]. "
        stack._add_stack_event(failed, resource_status_reason=stack.status_reason)


def _on_response(
    request_id: str,
    status: str,
    reason: str | None,
    physical_id: str | None = None,
    data=None,
    never_ran: bool = False,
) -> None:
    with _store.lock:
        request = _store.requests.pop(request_id, None)
        if request is None:
            return  # unknown or already answered: CloudFormation ignores it
        stack = _store.stacks[request.stack_id]
        cr = _store.resources[(request.stack_id, request.logical_id)]
        if request.kind == "Create":
            _create_answered(stack, cr, status, reason, physical_id, data, never_ran)
        else:
            _delete_answered(stack, cr, status, reason, physical_id)


def _process_cfn_response(self):
    """Replaces `CloudFormationResponse.process_cfn_response`: a response PUT to a ResponseURL of the emulator."""
    from harness.sink import ContractError, Put, check_contract

    raw = self.body if isinstance(self.body, bytes) else (self.body or "").encode()
    try:
        body = json.loads(raw or b"{}")
    except ValueError:
        body = {}
    with _store.lock:
        request = _store.requests.get(body.get("RequestId", "")) if isinstance(body, dict) else None
    if request is not None:
        length = self.headers.get("Content-Length")
        put = Put(self.method, self.headers.get("Content-Type"), int(length) if length else None, raw)
        try:
            check_contract(put, request.event)
        except ContractError as e:
            with _store.lock:
                _store.violations.append(f"{request.kind} of {request.logical_id}: {e}")
    if not isinstance(body, dict):
        return 200, {"status": 200}, ""
    _on_response(
        body.get("RequestId", ""),
        body.get("Status", ""),
        body.get("Reason"),
        body.get("PhysicalResourceId"),
        body.get("Data"),
    )
    return 200, {"status": 200}, ""


def _install_lifecycle() -> None:
    from moto.cloudformation.custom_model import CustomModel
    from moto.cloudformation.models import Stack
    from moto.cloudformation.parsing import ResourceMap
    from moto.cloudformation.responses import CloudFormationResponse

    CustomModel.create_from_cloudformation_json = classmethod(_create_custom_resource)
    CloudFormationResponse.process_cfn_response = _process_cfn_response

    # a custom resource leaving its stack (deletion, rollback) is sent Delete
    delete_resource = ResourceMap._delete_resource

    def _delete_resource(self, parsed_resource, resource_json) -> None:
        if isinstance(parsed_resource, CustomModel):
            _delete_custom_resource(self.stack_id, parsed_resource.logical_id, parsed_resource.resource_name)
        else:
            delete_resource(self, parsed_resource, resource_json)

    ResourceMap._delete_resource = _delete_resource

    # CloudFormation deletes dependents first: the custom resources go before the functions that serve them
    delete_resources = ResourceMap.delete

    def delete_custom_resources_first(self) -> None:
        for logical_id, resource_json in list(self._resource_json_map.items()):
            if not str(resource_json.get("Type", "")).startswith("Custom::"):
                continue
            if resource_json.get("DeletionPolicy") == "Retain":
                continue
            resource = self._parsed_resources.get(logical_id)
            if resource is None or isinstance(resource, str):
                continue
            self._delete_resource(resource, resource_json)
            self._parsed_resources.pop(logical_id, None)
        delete_resources(self)

    ResourceMap.delete = delete_custom_resources_first

    # moto finishes DeleteStack synchronously; CloudFormation waits for the custom resources' answers
    delete_stack = Stack.delete

    def delete(self) -> None:
        delete_stack(self)
        with _store.lock:
            if _store.pending_deletes.get(self.stack_id):
                if self.events and self.events[-1].resource_status == "DELETE_COMPLETE":
                    self.events.pop()
                self.status = "DELETE_IN_PROGRESS"

    Stack.delete = delete


# ---------------------------------------------------------------------------------------------------------------
# 2. Dynamic references


_SSM_REFERENCE = re.compile(r"\{\{resolve:ssm:([^}]+)\}\}")


def _resolve_ssm_references(backend, template: Any) -> Any:
    """CloudFormation resolves `{{resolve:ssm:name[:version]}}` before it creates anything; moto does not."""
    if not isinstance(template, str) or "{{resolve:ssm:" not in template:
        return template
    from moto.cloudformation.exceptions import ValidationError
    from moto.ssm.models import ssm_backends

    ssm = ssm_backends[backend.account_id][backend.region_name]

    def value(match: re.Match) -> str:
        try:
            parameter = ssm.get_parameter(match.group(1))
        except Exception:  # noqa: BLE001 - a wrong version or label
            parameter = None
        if parameter is None:
            raise ValidationError(message=f"Parameters: [ssm:{match.group(1)}] cannot be found.")
        return parameter.value

    return _SSM_REFERENCE.sub(value, template)


def _install_dynamic_references() -> None:
    from moto.cloudformation.models import CloudFormationBackend

    create_stack, update_stack = CloudFormationBackend.create_stack, CloudFormationBackend.update_stack

    def create_stack_resolving(self, name, template, *args, **kwargs):
        return create_stack(self, name, _resolve_ssm_references(self, template), *args, **kwargs)

    def update_stack_resolving(self, name, template, *args, **kwargs):
        return update_stack(self, name, _resolve_ssm_references(self, template), *args, **kwargs)

    CloudFormationBackend.create_stack = create_stack_resolving
    CloudFormationBackend.update_stack = update_stack_resolving


# ---------------------------------------------------------------------------------------------------------------
# 3. AWS::CodeBuild::Project


class CodeBuildProject(CloudFormationModel):
    """`AWS::CodeBuild::Project`, backed by moto's CodeBuild backend."""

    def __init__(self, account_id: str, region: str, name: str):
        self.account_id, self.region, self.name = account_id, region, name

    @property
    def physical_resource_id(self) -> str:
        return self.name

    @property
    def arn(self) -> str:
        return f"arn:aws:codebuild:{self.region}:{self.account_id}:project/{self.name}"

    @staticmethod
    def cloudformation_name_type() -> str:
        return "Name"

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::CodeBuild::Project"

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr == "Arn"

    def get_cfn_attribute(self, attribute_name: str) -> Any:
        if attribute_name == "Arn":
            return self.arn
        from moto.cloudformation.exceptions import UnformattedGetAttTemplateException

        raise UnformattedGetAttTemplateException()

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        from moto.codebuild.models import codebuild_backends

        props = cloudformation_json.get("Properties", {})
        name = props.get("Name") or resource_name
        codebuild_backends[account_id][region_name].create_project(
            project_name=name,
            description=props.get("Description"),
            project_source=props.get("Source") or {"type": "NO_SOURCE"},
            artifacts=props.get("Artifacts") or {"type": "NO_ARTIFACTS"},
            environment=props.get("Environment") or {},
            service_role=props.get("ServiceRole", ""),
            tags=props.get("Tags"),
            cache=props.get("Cache"),
            timeout=props.get("TimeoutInMinutes"),
            queued_timeout=props.get("QueuedTimeoutInMinutes"),
            source_version=props.get("SourceVersion"),
            logs_config=props.get("LogsConfig"),
            vpc_config=props.get("VpcConfig"),
        )
        return cls(account_id, region_name, name)

    @classmethod
    def delete_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name):
        cls(account_id, region_name, resource_name).delete(account_id, region_name)

    def delete(self, account_id: str, region_name: str) -> None:
        from moto.codebuild.models import codebuild_backends

        backend = codebuild_backends[account_id][region_name]
        backend.codebuild_projects.pop(self.name, None)
        backend.build_history.pop(self.name, None)

    def is_created(self) -> bool:
        return True


def _install_codebuild_project() -> None:
    from moto.cloudformation import parsing

    # CloudFormationModel.__subclasses__() is cached on first use: let the new model be found
    parsing.get_model_list.cache_clear()
    parsing.get_model_map.cache_clear()
    parsing.get_name_type_map.cache_clear()


# ---------------------------------------------------------------------------------------------------------------


def install(emulator) -> None:
    _store.emulator = emulator
    _install_lifecycle()
    _install_dynamic_references()
    _install_codebuild_project()

    from harness.emulator import on_reset

    on_reset(_store.reset)
