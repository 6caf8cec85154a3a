"""Where moto is patched for the custom-resource lifecycle, and where every response is handed to the operation
that waits for it (`CloudFormationResponse.process_cfn_response`): create.py, delete.py or update.py.
"""

from __future__ import annotations

import json
import re

from harness.cloudformation.create import _create_answered, _create_custom_resource
from harness.cloudformation.delete import _MOTO_DELETE_RESOURCE, _delete_answered, _delete_custom_resource, _delete_stack
from harness.cloudformation.state import _store
from harness.cloudformation.update import (
    _effective_parameters,
    _remove_during_update,
    _stack_update,
    _update_answered,
    _update_custom_resource,
    continue_update_rollback,
)


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
        timer = _store.timers.pop(request_id, None)
        if timer is not None:
            timer.cancel()
        stack = _store.stacks[request.stack_id]
        cr = _store.resources[(request.stack_id, request.logical_id)]
        if request.update is not None:
            _update_answered(stack, request.update, request_id, request, cr, status, reason, physical_id, data,
                             never_ran)
        elif request.kind == "Create":
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


_SUB_NAME = re.compile(r"\$\{(?!!)([A-Za-z0-9:]+)\}")


def _parameters_read(resource_json: dict, template: dict) -> set[str]:
    """Every name a resource reads through `Ref`, a `Fn::Sub` `${Name}`, or its Condition (and the conditions that one
    reads): a superset of the parameters its resolved properties depend on."""
    names: set[str] = set()
    conditions = template.get("Conditions") or {}
    seen: set[str] = set()

    def walk(value) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                if key == "Ref" and isinstance(inner, str):
                    names.add(inner)
                elif key == "Fn::Sub":
                    text = inner[0] if isinstance(inner, list) else inner
                    if isinstance(text, str):
                        names.update(_SUB_NAME.findall(text))
                    walk(inner[1] if isinstance(inner, list) and len(inner) > 1 else None)
                elif key == "Condition" and isinstance(inner, str) and inner not in seen:
                    seen.add(inner)
                    walk(conditions.get(inner))
                else:
                    walk(inner)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(resource_json)
    return names


def _install_lifecycle() -> None:
    from moto.cloudformation.custom_model import CustomModel
    from moto.cloudformation.models import Stack
    from moto.cloudformation.parsing import ResourceMap
    from moto.cloudformation.responses import CloudFormationResponse

    _store.on_response = _on_response
    CustomModel.create_from_cloudformation_json = classmethod(_create_custom_resource)
    CloudFormationResponse.process_cfn_response = _process_cfn_response

    # a custom resource leaving its stack (deletion, rollback) is sent Delete
    delete_resource = ResourceMap._delete_resource

    def _delete_resource(self, parsed_resource, resource_json) -> None:
        if isinstance(parsed_resource, CustomModel):
            if _remove_during_update(self.stack_id, parsed_resource.logical_id):
                return
            _delete_custom_resource(self.stack_id, parsed_resource.logical_id, parsed_resource.resource_name)
        else:
            delete_resource(self, parsed_resource, resource_json)

    _MOTO_DELETE_RESOURCE.append(delete_resource)
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

    Stack.delete = delete  # a stack set's hidden stacks are deleted this way

    # outputs are read when the stack completes, with every custom resource's answer (moto caches the first read,
    # which a DescribeStacks while the stack was still in progress could make with moto's own names)
    mark_creation_complete = Stack.mark_creation_complete

    def mark_complete_with_outputs(self) -> None:
        self.output_map = self._create_output_map()
        mark_creation_complete(self)

    Stack.mark_creation_complete = mark_complete_with_outputs

    # DeleteStack: dependents first, waiting on custom resources, DELETE_FAILED retried with RetainResources
    from moto.cloudformation.models import CloudFormationBackend
    from moto.core.responses import EmptyResult

    CloudFormationBackend.delete_stack = _delete_stack

    def delete_stack_response(self):
        self.cloudformation_backend.delete_stack(self._get_param("StackName"),
                                                 self._get_param("RetainResources", []))
        return EmptyResult()

    CloudFormationResponse.delete_stack = delete_stack_response

    # UpdateStack: Update, replacement, cleanup and rollback for custom resources
    from moto.cloudformation import parsing

    update_resource = parsing.parse_and_update_resource

    def parse_and_update_resource(logical_id, resource_json, resources_map, account_id, region_name):
        if str(resource_json.get("Type", "")).startswith("Custom::"):
            return _update_custom_resource(logical_id, resource_json, resources_map, account_id, region_name)
        # moto updates a resource whatever its Condition says; CloudFormation deletes one whose condition turned
        # false, creates one whose condition turned true, and leaves alone one that still does not exist
        condition = resource_json.get("Condition")
        existing = resources_map._parsed_resources.get(logical_id)
        if condition and not resources_map.lazy_condition_map[condition]:
            if existing is not None and not isinstance(existing, str):
                with _store.lock:
                    update = _store.updates.get(resources_map.stack_id)
                    if update is not None and update.phase == "update":
                        # deleted at cleanup, after what depends on it (a custom resource it serves)
                        update.conditioned_out[logical_id] = (existing, resource_json)
                        return existing
                delete_resource(resources_map, existing, resource_json)
            return None
        if existing is None:
            resources_map._parsed_resources.pop(logical_id, None)
            return resources_map[logical_id]
        # marked changed only because its Condition reads a changed parameter, the condition still true: nothing
        # of its own changed (moto's update would create it again)
        before = getattr(resources_map, "_harness_old_resources", {}).get(logical_id)
        changed = getattr(resources_map, "_harness_changed_parameters", set())
        if before == resource_json and not changed & _parameters_read(resource_json, {}):
            return existing
        return update_resource(logical_id, resource_json, resources_map, account_id, region_name)

    parsing.parse_and_update_resource = parse_and_update_resource

    # ContinueUpdateRollback (moto has none)
    def continue_update_rollback_response(self):
        from moto.core.responses import EmptyResult

        continue_update_rollback(self.cloudformation_backend, self._get_param("StackName"),
                                 self._get_param("ResourcesToSkip", []))
        return EmptyResult()

    CloudFormationResponse.continue_update_rollback = continue_update_rollback_response

    # which resources an update changes: moto compares a parameter's value only when both requests named it, and
    # sees a parameter through `Ref` only; CloudFormation compares every resolved property, so a parameter that
    # goes back to its Default (a rollback to a stack created without it), or that a `Fn::Sub` or a resource's
    # Condition reads, changes the resource too
    build_resource_diff = ResourceMap.build_resource_diff

    def build_resource_diff_with_defaults(self, other_template, parameters=None):
        diff = build_resource_diff(self, other_template, parameters)
        if parameters is None:
            return diff
        before = _effective_parameters(self._template, self.input_parameters)
        after = _effective_parameters(other_template, parameters)
        changed = {p for p in set(before) | set(after) if before.get(p) != after.get(p)}
        # for replacement.py: what each resource was, and which parameters changed, as this update began
        self._harness_old_resources, self._harness_changed_parameters = dict(self._resource_json_map), changed
        for name, resource_json in other_template.get("Resources", {}).items():
            if name in self._resource_json_map and name not in diff["Modify"] \
                    and changed & _parameters_read(resource_json, other_template):
                diff["Modify"].append(name)
        return diff

    ResourceMap.build_resource_diff = build_resource_diff_with_defaults
    Stack.update = _stack_update
