"""Creating a stack's custom resources (`moto.cloudformation.custom_model.CustomModel`).

A Create is held back until the custom resources it depends on have answered theirs, its properties then resolved
again, so a `Ref`/`GetAtt` to one reads its answered id and Data; the response's PhysicalResourceId becomes the
resource's; a FAILED response fails the stack and rolls it back (custom resources first; ROLLBACK_IN_PROGRESS until
their Deletes are answered).
"""

from __future__ import annotations

import uuid

from harness import cfn_graph
from harness.cloudformation.delete import _finish_deletes_if_done
from harness.cloudformation.state import _CustomResource, _resource_event, _send, _stack_of, _store, _stringify


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
        update = _store.updates.get(stack_id)
        if update is not None and update.phase != "update":
            update = None
    stack.add_custom_resource(resource)
    if update is not None:  # added by an UpdateStack
        update.added.append(logical_id)
        _resource_event(stack, logical_id, "", cr.resource_type, "CREATE_IN_PROGRESS", None)
    else:
        with _store.lock:
            cr.waiting_for = _uncreated_custom_dependencies(stack, logical_id)
        if cr.waiting_for:
            cr.attempted = False  # nothing sent yet: a rollback sends it no Delete
            return resource
    _send(cr, "Create", update=update)
    return resource


def _uncreated_custom_dependencies(stack, logical_id: str) -> set[str]:
    """The custom resources of the stack that `logical_id` depends on (directly or through other resources) and
    whose Create is not answered yet. CloudFormation creates a resource only after what it depends on, so a
    `Ref` or `Fn::GetAtt` to a custom resource reads its answered PhysicalResourceId and Data; moto creates all
    at once."""
    resources = stack.template_dict.get("Resources") or {}
    conditions = stack.resource_map.lazy_condition_map
    customs = {k for k, v in resources.items() if str(v.get("Type", "")).startswith("Custom::")
               and (not v.get("Condition") or conditions[v["Condition"]])}
    needed = cfn_graph.transitive(cfn_graph.dependencies(resources), logical_id) & customs
    return {d for d in needed
            if not getattr(_store.resources.get((stack.stack_id, d)), "created", False)}


def _send_waiting_creates(stack, created: str) -> None:
    """After `created` answered its Create: each custom resource that waited only for it is sent its Create, its
    properties resolved now (so they see `created`'s PhysicalResourceId and Data)."""
    from moto.cloudformation.parsing import clean_json

    for (stack_id, logical_id), cr in list(_store.resources.items()):
        if stack_id != stack.stack_id or created not in cr.waiting_for:
            continue
        cr.waiting_for.discard(created)
        if cr.waiting_for:
            continue
        raw = stack.template_dict["Resources"][logical_id].get("Properties") or {}
        cr.properties = _stringify(clean_json(raw, stack.resource_map))
        cr.attempted = True
        _send(cr, "Create")


def _fail_create(stack, cr: _CustomResource, physical_id: str, reason: str) -> None:
    logical = cr.logical_id
    _resource_event(stack, logical, physical_id, cr.resource_type, "CREATE_FAILED", reason)
    # CloudFormation stops what it was still creating: each such custom resource reads "Resource creation
    # cancelled" after the failure that caused it (its own answer, when it comes, changes nothing) — the wording
    # of CloudFormation's events (User Guide, "Troubleshooting CloudFormation")
    with _store.lock:
        in_flight = sorted({r.logical_id for r in _store.requests.values()
                            if r.stack_id == stack.stack_id and r.kind == "Create" and r.logical_id != logical})
    for other in in_flight:
        o = _store.resources.get((stack.stack_id, other))
        if o is not None:
            _resource_event(stack, other, stack.get_custom_resource(other).resource_name, o.resource_type,
                            "CREATE_FAILED", "Resource creation cancelled")
    # the stack's summary names every resource that ended CREATE_FAILED, the cancelled ones too (as the events
    # read; the order AWS lists them in is not documented: here the cause first)
    summary = f"The following resource(s) failed to create: [{', '.join([logical, *in_flight])}]. "
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
        cr.created = True
        _resource_event(stack, cr.logical_id, resource.resource_name, cr.resource_type, "CREATE_COMPLETE", None)
        _send_waiting_creates(stack, cr.logical_id)
        stack.verify_readiness()
    else:
        _fail_create(stack, cr, resource.resource_name, reason or "See the details in CloudWatch Log Stream")
