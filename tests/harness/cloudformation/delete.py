"""DeleteStack, as CloudFormation runs it (`CloudFormationBackend.delete_stack`, `ResourceMap.delete` /
`_delete_resource`, `Stack.delete`).

Dependents first, one wave at a time (harness.cfn_graph), each wave's custom resources answered before the next
begins; a FAILED Delete ends DELETE_FAILED with the resources not yet reached in place; a DeleteStack of a
DELETE_FAILED stack asks again, skipping what its RetainResources names (refused in any other state); DeletionPolicy
Retain skips.
"""

from __future__ import annotations

from harness import cfn_graph
from harness.cloudformation.state import _CustomResource, _Deletion, _resource_event, _send, _store


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


def _delete_answered(stack, cr: _CustomResource, status: str, reason: str | None, physical_id: str | None) -> None:
    _store.pending_deletes.setdefault(stack.stack_id, set()).discard(cr.logical_id)
    deletion = _store.deletions.get(stack.stack_id)
    if status == "SUCCESS":
        _resource_event(stack, cr.logical_id, physical_id or "", cr.resource_type, "DELETE_COMPLETE", None)
    else:
        _resource_event(stack, cr.logical_id, physical_id or "", cr.resource_type, "DELETE_FAILED", reason)
    if deletion is not None:
        if status == "SUCCESS":
            stack.resource_map._parsed_resources.pop(cr.logical_id, None)
        else:
            cr.attempted = True  # still there: a DeleteStack retried sends it Delete again
            deletion.failed.append(cr.logical_id)
        if not _store.pending_deletes.get(stack.stack_id):
            _delete_next_wave(stack)
    elif status == "SUCCESS":
        _finish_deletes_if_done(stack)
    else:
        failed = "DELETE_FAILED" if stack.status == "DELETE_IN_PROGRESS" else "ROLLBACK_FAILED"
        stack.status = failed
        stack.status_reason = f"The following resource(s) failed to delete: [{cr.logical_id}]. "
        stack._add_stack_event(failed, resource_status_reason=stack.status_reason)


def _backend_of(stack):
    from moto.cloudformation.models import cloudformation_backends

    return cloudformation_backends[stack.account_id][stack.region_name]


def _delete_stack(backend, name_or_stack_id: str, retain: list[str] | None = None) -> None:
    """Replaces `CloudFormationBackend.delete_stack`: resources are deleted dependents first, a wave at a time, each
    wave's custom resources answered before the next begins; a failed Delete ends the deletion DELETE_FAILED with
    every resource not yet reached still in place, and the stack can be deleted again — with `retain`
    (RetainResources, only then) naming resources to skip. Resources whose DeletionPolicy is Retain are skipped."""
    from moto.cloudformation.exceptions import ValidationError

    stack = backend.stacks.get(name_or_stack_id) or next(
        (s for s in backend.stacks.values() if s.name == name_or_stack_id), None)
    if stack is None:
        return  # CloudFormation answers a DeleteStack of no stack with success
    retain = list(retain or [])
    if retain and stack.status != "DELETE_FAILED":
        raise ValidationError(message=f"Invalid operation on stack [{stack.stack_id}]. RetainResources can only "
                                      f"be specified when the stack is in the DELETE_FAILED state.")
    if stack.status == "DELETE_IN_PROGRESS":
        return
    resource_map = stack.resource_map
    templates = resource_map._resource_json_map
    # every resource the stack has, those moto does not model (policies, invoke configs) included: they order the
    # waves (a queue policy stands between the guard and the rule it names) though moto has nothing to delete
    present = {k for k, v in templates.items()
               if not v.get("Condition") or resource_map.lazy_condition_map[v["Condition"]]}
    kept = {k for k in present if templates[k].get("DeletionPolicy") == "Retain" or k in retain}
    with _store.lock:
        _store.stacks[stack.stack_id] = stack
        stack.status, stack.status_reason = "DELETE_IN_PROGRESS", None
        stack._add_stack_event("DELETE_IN_PROGRESS", resource_status_reason="User Initiated")
        _store.deletions[stack.stack_id] = _Deletion(cfn_graph.dependencies(templates), present, kept,
                                                     [export.name for export in stack.exports])
        _delete_next_wave(stack)


def _delete_next_wave(stack) -> None:
    """Deletes the next waves of a DeleteStack until a custom resource's answer is awaited; ends the deletion when
    a wave failed or nothing remains."""
    from moto.cloudformation.custom_model import CustomModel

    deletion = _store.deletions[stack.stack_id]
    resource_map = stack.resource_map
    while not deletion.failed and deletion.remaining:
        wave = cfn_graph.deletion_waves(deletion.graph, deletion.remaining)[0]
        deletion.remaining -= wave
        for logical_id in sorted(wave):
            resource = resource_map._parsed_resources.get(logical_id)
            resource_json = resource_map._resource_json_map[logical_id]
            if logical_id in deletion.kept:
                physical = (resource.resource_name if isinstance(resource, CustomModel)
                            else getattr(resource, "physical_resource_id", "") or "")
                _resource_event(stack, logical_id, str(physical), resource_json.get("Type", ""), "DELETE_SKIPPED",
                                None)
                resource_map._parsed_resources.pop(logical_id, None)
                continue
            if resource is None or isinstance(resource, str):
                resource_map._parsed_resources.pop(logical_id, None)  # moto has no model of it: nothing to delete
                continue
            if isinstance(resource, CustomModel):
                _delete_custom_resource(stack.stack_id, logical_id, resource.resource_name)
                if logical_id not in _store.pending_deletes.get(stack.stack_id, set()):
                    resource_map._parsed_resources.pop(logical_id, None)  # never created: nothing to ask
                continue
            try:
                _MOTO_DELETE_RESOURCE[0](resource_map, resource, resource_json)
            except Exception as e:  # noqa: BLE001 - moto refused: the resource fails as CloudFormation's would
                _resource_event(stack, logical_id, str(getattr(resource, "physical_resource_id", "")),
                                resource_json.get("Type", ""), "DELETE_FAILED", str(e))
                deletion.failed.append(logical_id)
                continue
            resource_map._parsed_resources.pop(logical_id, None)
        if _store.pending_deletes.get(stack.stack_id):
            return
    del _store.deletions[stack.stack_id]
    backend = _backend_of(stack)
    if deletion.failed:
        stack.status = "DELETE_FAILED"
        stack.status_reason = f"The following resource(s) failed to delete: [{', '.join(deletion.failed)}]. "
        stack._add_stack_event("DELETE_FAILED", resource_status_reason=stack.status_reason)
        return
    stack.status, stack.status_reason = "DELETE_COMPLETE", None
    stack._add_stack_event("DELETE_COMPLETE")
    backend.stacks.pop(stack.stack_id, None)
    backend.deleted_stacks[stack.stack_id] = stack
    for name in deletion.exports:
        backend.exports.pop(name, None)


#: moto's own ResourceMap._delete_resource, before _install_lifecycle wraps it
_MOTO_DELETE_RESOURCE: list = []
