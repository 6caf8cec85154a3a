"""UpdateStack for custom resources (`Stack.update`, `ResourceMap.update`, `parsing.parse_and_update_resource`, which
has no update for `Custom::` resources).

Update with OldResourceProperties to each custom resource whose resolved properties changed (nothing to the others),
Create to added ones; once all have answered, UPDATE_COMPLETE_CLEANUP_IN_PROGRESS sends Delete to removed ones and to
the old PhysicalResourceId of each replacement (with the old properties). A FAILED answer, or a resource moto fails,
rolls back once what is in progress has answered: UPDATE_ROLLBACK_IN_PROGRESS sends each resource updated in place
an Update back (old and new swapped), then UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS deletes the new ids of
replacements and the resources the update added; a FAILED rollback answer ends UPDATE_ROLLBACK_FAILED. A changed
ServiceToken is refused before either function hears of it ("Modifying service token is not allowed."; the
resource type's ServiceToken: "Update requires: Updates are not supported"), and the update rolls back.
"""

from __future__ import annotations

from harness import cfn_graph
from harness.cloudformation.delete import _MOTO_DELETE_RESOURCE
from harness.cloudformation.state import SERVICE_TOKEN_CHANGE, _Before, _CustomResource, _Request, _Update, _resource_event, _send, _store, _stringify


def _stack_update(stack, template, role_arn=None, parameters=None, tags=None) -> None:
    """Replaces `Stack.update`: moto updates the stack's other resources at once (`ResourceMap.update`); custom
    resources whose resolved properties changed are sent Update, added ones Create, and the stack stays
    UPDATE_IN_PROGRESS until they answer; then cleanup (removed resources and replaced physical ids get Delete) or,
    on a failure, rollback."""
    from moto.cloudformation.exceptions import ValidationError

    if stack.status.endswith("_IN_PROGRESS") or stack.status in ("ROLLBACK_COMPLETE", "UPDATE_ROLLBACK_FAILED"):
        raise ValidationError(message=f"Stack:{stack.stack_id} is in {stack.status} state and can not be updated.")
    if _changes_nothing(stack, template, role_arn, parameters, tags):
        # CloudFormation's answer to an update whose template, parameter values, tags and role are all as they are
        raise ValidationError(message="No updates are to be performed.")
    resource_map = stack.resource_map
    with _store.lock:
        before = {}
        for (stack_id, logical_id), cr in _store.resources.items():
            resource = stack.custom_resources.get(logical_id)
            if stack_id == stack.stack_id and resource is not None and logical_id in resource_map._resource_json_map:
                before[logical_id] = _Before(cr.properties, resource.resource_name, dict(resource.data))
        update = _Update(stack.stack_id, stack.template, stack.parameters, dict(resource_map.input_parameters),
                         stack.role_arn, stack.tags, before,
                         submitted_template=getattr(stack, "submitted_template", stack.template))
        _store.updates[stack.stack_id] = update
        _store.stacks[stack.stack_id] = stack
        stack.status = "UPDATE_IN_PROGRESS"
        stack.status_reason = None
        stack._add_stack_event("UPDATE_IN_PROGRESS", resource_status_reason="User Initiated")
        stack.template = template
        stack._parse_template()
        try:
            resource_map.update(stack.template_dict, parameters)
        except Exception as e:  # noqa: BLE001 - a resource moto failed: the update fails and rolls back
            update.moto_failure = str(e) or type(e).__name__
            # CloudFormation reports the resource first, then the stack's summary of it
            failed = _last_failed_resource.pop(stack.stack_id, None)
            if failed is not None:
                logical, rtype, physical, status = failed
                _resource_event(stack, logical, physical, rtype, status, update.moto_failure)
                # the stack's reason names it among the failed, as for a custom resource
                update.failures.append(("create" if status == "CREATE_FAILED" else "update", logical))
                update.moto_failure = None
        else:
            # moto looks only at resources whose template text changed or that `Ref` a changed parameter;
            # CloudFormation compares every resource's resolved properties (a `!Sub`, a `!GetAtt`, a condition)
            _update_changed_custom_resources(stack, update)
        stack.output_map = stack._create_output_map()
        stack.role_arn = role_arn
        if parameters:
            stack.parameters = parameters
        if tags is not None:
            stack.tags = tags
        _advance(stack, update)


#: stack id -> (logical id, type, physical id, CREATE_FAILED or UPDATE_FAILED) of the resource moto last failed on
_last_failed_resource: dict[str, tuple[str, str, str, str]] = {}


def install_failure_events() -> None:
    """Remembers which resource moto failed on (its exception names none), so the failure is reported on that
    resource as CloudFormation does (CREATE_FAILED/UPDATE_FAILED with the reason, before the stack's summary); a
    create is first judged against the stack's role where a test asks (cloudformation/permissions.py).

    Source: CloudFormation API reference, DescribeStackEvents (each resource's own status and
    ResourceStatusReason), and the User Guide's "Troubleshooting" (the stack's reason is the summary "The following
    resource(s) failed to create: [...]", the cause is on the resource's event)."""
    from moto.cloudformation import parsing

    from harness.cloudformation import permissions

    def remembering(original, status: str):
        def parse(logical_id, resource_json, resources_map, account_id, region_name):
            try:
                if status == "CREATE_FAILED":
                    permissions.check(resources_map, logical_id, resource_json)
                return original(logical_id, resource_json, resources_map, account_id, region_name)
            except Exception:
                existing = resources_map._parsed_resources.get(logical_id)
                physical = str(getattr(existing, "physical_resource_id", "") or "")
                _last_failed_resource[resources_map.stack_id] = (
                    logical_id, str(resource_json.get("Type", "")), physical, status)
                raise
        return parse

    # a resource an update adds is created (CREATE_FAILED), one it changes updated (UPDATE_FAILED)
    parsing.parse_and_update_resource = remembering(parsing.parse_and_update_resource, "UPDATE_FAILED")
    parsing.parse_and_create_resource = remembering(parsing.parse_and_create_resource, "CREATE_FAILED")


def _effective_parameters(template: dict, given: dict | None) -> dict[str, str]:
    """Each parameter's value: the one given, else its Default (lists as CloudFormation joins them)."""
    values = {k: v["Default"] for k, v in (template.get("Parameters") or {}).items()
              if isinstance(v, dict) and "Default" in v}
    values.update(given or {})
    return {k: ",".join(map(str, v)) if isinstance(v, list) else str(v) for k, v in values.items()}


def _changes_nothing(stack, template, role_arn, parameters, tags) -> bool:
    from moto.cloudformation.models import Stack

    new = Stack.parse_template(template) if isinstance(template, str) else template
    return (new == stack.template_dict
            and _effective_parameters(new, parameters) == _effective_parameters(stack.template_dict, stack.parameters)
            and (tags is None or tags == stack.tags)
            and (role_arn is None or role_arn == stack.role_arn))


def _update_custom_resource(logical_id, resource_json, resources_map, account_id, region_name):
    """For `parsing.parse_and_update_resource` (a resource moto found changed, in the template or through a
    parameter), for `Custom::` resources: moto has no update for them. Sends Update when the resolved properties
    differ (nothing otherwise); in a rollback, sends the Update back to the old properties."""
    from moto.cloudformation.parsing import parse_resource_and_generate_name

    resource = resources_map._parsed_resources.get(logical_id)
    with _store.lock:
        update = _store.updates.get(resources_map.stack_id)
        cr = _store.resources.get((resources_map.stack_id, logical_id))
        if update is None or cr is None or resource is None or isinstance(resource, str):
            return resource
        stack = _store.stacks[update.stack_id]
        condition = resource_json.get("Condition")
        if update.phase == "update" and condition and not resources_map.lazy_condition_map[condition]:
            # its Condition turned false: it leaves the stack, sent Delete at cleanup as a removed one is
            if logical_id not in update.removed:
                update.removed.append(logical_id)
            return resource
        if update.phase == "update":
            parsed = parse_resource_and_generate_name(logical_id, resource_json, resources_map)
            properties = _stringify(parsed[1].get("Properties", {}))
            if properties == cr.properties:
                return resource  # CloudFormation sends nothing to a resource whose properties did not change
            if ("update", logical_id) in update.failures:
                return resource  # seen already in this update (moto's pass and ours both look)
            if properties.get("ServiceToken") != cr.properties.get("ServiceToken"):
                # refused before either function hears of it (AWS::CloudFormation::CustomResource, ServiceToken:
                # "Update requires: Updates are not supported"); the update fails and rolls back
                _resource_event(stack, logical_id, resource.resource_name, cr.resource_type, "UPDATE_FAILED",
                                SERVICE_TOKEN_CHANGE)
                update.failures.append(("update", logical_id))
                return resource
            # sent in dependency order, with what the custom resources it depends on answered (_send_ready_updates)
            if logical_id not in update.updated:
                update.waiting.add(logical_id)
            return resource
        elif update.phase == "rollback" and logical_id in update.updated and logical_id not in update.replaced \
                and logical_id not in update.rolled_back:
            update.waiting.add(logical_id)  # sent back in dependency order too (_send_ready_updates)
        return resource


def _update_changed_custom_resources(stack, update: _Update) -> None:
    resource_map = stack.resource_map
    for logical_id in list(update.before):
        resource_json = resource_map._resource_json_map.get(logical_id)
        if resource_json is not None and str(resource_json.get("Type", "")).startswith("Custom::"):
            _update_custom_resource(logical_id, resource_json, resource_map, stack.account_id, stack.region_name)
    # what depends on a changed custom resource may change with its answer: it waits for it too
    resources = resource_map._resource_json_map
    graph = cfn_graph.dependencies(resources)
    for logical_id in update.before:
        if logical_id in resources and logical_id not in update.waiting and logical_id not in update.removed \
                and cfn_graph.transitive(graph, logical_id) & update.waiting:
            update.waiting.add(logical_id)
    _send_ready_updates(stack, update)


def _send_ready_updates(stack, update: _Update) -> None:
    """Sends Update to each waiting custom resource none of whose custom dependencies is still waiting or
    unanswered, its properties resolved now (CloudFormation updates a resource after what it depends on); one whose
    properties are unchanged after all is sent nothing."""
    from moto.cloudformation.parsing import parse_resource_and_generate_name

    resource_map = stack.resource_map
    graph = cfn_graph.dependencies(resource_map._resource_json_map)
    unanswered = {_store.requests[r].logical_id for r in update.pending if r in _store.requests}
    for logical_id in sorted(update.waiting):
        if cfn_graph.transitive(graph, logical_id) & (update.waiting | unanswered):
            continue
        update.waiting.discard(logical_id)
        cr = _store.resources[(stack.stack_id, logical_id)]
        resource = resource_map._parsed_resources.get(logical_id)
        if update.phase == "rollback":  # back to the properties before the update
            update.rolled_back.append(logical_id)
            old, cr.properties = cr.properties, update.before[logical_id].properties
            update.rollback_from[logical_id] = old
        else:
            parsed = parse_resource_and_generate_name(logical_id, resource_map._resource_json_map[logical_id],
                                                      resource_map)
            properties = _stringify(parsed[1].get("Properties", {}))
            if properties == cr.properties:
                continue
            old, cr.properties = cr.properties, properties
            update.updated.append(logical_id)
        cr.service_token = cr.properties.get("ServiceToken", cr.service_token)
        unanswered.add(logical_id)  # what depends on it waits for its answer
        _resource_event(stack, logical_id, resource.resource_name, cr.resource_type, "UPDATE_IN_PROGRESS", None)
        _send(cr, "Update", resource.resource_name, old_properties=old, update=update)


def _remove_during_update(stack_id: str, logical_id: str) -> bool:
    """A `Custom::` resource that moto removes while the stack is updated: one gone from the template is deleted at
    cleanup (after everything else succeeded), one added by a failed update at the rollback's cleanup. True when
    an update is in progress (nothing to do now)."""
    with _store.lock:
        update = _store.updates.get(stack_id)
        if update is None:
            return False
        if update.phase == "update" and logical_id not in update.removed:
            update.removed.append(logical_id)
        return True


def _update_answered(stack, update: _Update, request_id: str, request: _Request, cr: _CustomResource, status: str,
                     reason: str | None, physical_id: str | None, data, never_ran: bool) -> None:
    update.pending.discard(request_id)
    logical = cr.logical_id
    resource = stack.custom_resources.get(logical)
    reason = reason or "See the details in CloudWatch Log Stream"
    if request.kind == "Delete":
        done = "DELETE_COMPLETE" if status == "SUCCESS" else "DELETE_FAILED"
        # a failed Delete at cleanup leaves the resource behind; the stack still completes, as in CloudFormation
        _resource_event(stack, logical, request.event["PhysicalResourceId"], cr.resource_type, done,
                        None if status == "SUCCESS" else reason)
    elif request.kind == "Create":
        if physical_id:
            resource.resource_name = physical_id
        if status == "SUCCESS":
            resource.set_data(data or {})
            _resource_event(stack, logical, resource.resource_name, cr.resource_type, "CREATE_COMPLETE", None)
        else:
            if never_ran:
                cr.attempted = False  # nothing was created: the rollback sends it no Delete
            _resource_event(stack, logical, resource.resource_name, cr.resource_type, "CREATE_FAILED", reason)
            update.failures.append(("create", logical))
    else:  # Update
        rolling_back = update.phase == "rollback"
        if status == "SUCCESS":
            if not rolling_back:
                if physical_id and physical_id != resource.resource_name:
                    update.replaced.append(logical)  # a replacement: the old id is deleted at cleanup
                    resource.resource_name = physical_id
                resource.set_data(data or {})
            else:
                resource.set_data(update.before[logical].data)
            _resource_event(stack, logical, resource.resource_name, cr.resource_type, "UPDATE_COMPLETE", None)
            _send_ready_updates(stack, update)  # what waited for this one
        else:
            _resource_event(stack, logical, resource.resource_name, cr.resource_type, "UPDATE_FAILED", reason)
            if rolling_back:
                update.rollback_failures.append(logical)
            else:
                update.failures.append(("update", logical))
    _advance(stack, update)


def _failure_summary(update: _Update) -> str:
    parts = []
    for verb in ("create", "update"):
        ids = [logical for v, logical in update.failures if v == verb]
        if ids:
            parts.append(f"The following resource(s) failed to {verb}: [{', '.join(ids)}]. ")
    if update.moto_failure:
        parts.append(update.moto_failure)
    return "".join(parts)


def _advance(stack, update: _Update) -> None:
    """Moves an update on once every request of its phase is answered."""
    if update.pending:
        return
    if update.phase == "update":
        if update.failures or update.moto_failure:
            _start_rollback(stack, update)
        else:
            _start_cleanup(stack, update)
    elif update.phase == "rollback":
        if update.rollback_failures:
            stack.status = "UPDATE_ROLLBACK_FAILED"
            stack.status_reason = f"The following resource(s) failed to update: [{', '.join(update.rollback_failures)}]. "
            stack._add_stack_event("UPDATE_ROLLBACK_FAILED", resource_status_reason=stack.status_reason)
            _store.failed_rollbacks[stack.stack_id] = _store.updates.pop(stack.stack_id)
        else:
            _start_cleanup(stack, update)
    else:
        _finish_update(stack, update)


def _start_cleanup(stack, update: _Update) -> None:
    """UPDATE_COMPLETE_CLEANUP_IN_PROGRESS: Delete to the old id of each replacement (with the old properties) and
    to each removed resource; UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS: Delete to the new id of each
    replacement and to each resource the update added."""
    rolling_back = update.phase == "rollback"
    update.phase = "rollback_cleanup" if rolling_back else "cleanup"
    stack.status = ("UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS" if rolling_back
                    else "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS")
    stack._add_stack_event(stack.status)
    deletes: list[tuple[_CustomResource, str, dict]] = []
    if rolling_back:
        for logical in update.replaced:
            resource = stack.custom_resources[logical]
            cr = _store.resources[(stack.stack_id, logical)]
            deletes.append((cr, resource.resource_name, cr.properties))  # the new id, with the new properties
            previous = update.before[logical]
            resource.resource_name = previous.physical_id
            resource.set_data(previous.data)
            cr.properties = previous.properties
            cr.service_token = previous.properties.get("ServiceToken", cr.service_token)
        deletes += _live(stack, update.added)
    else:
        for logical in update.replaced:
            cr = _store.resources[(stack.stack_id, logical)]
            previous = update.before[logical]
            deletes.append((cr, previous.physical_id, previous.properties))  # the old id, with the old properties
        deletes += _live(stack, update.removed)
    for cr, physical_id, properties in deletes:
        _resource_event(stack, cr.logical_id, physical_id, cr.resource_type, "DELETE_IN_PROGRESS", None)
        _send(cr, "Delete", physical_id, properties=properties, update=update)
    _advance(stack, update)


def _live(stack, logical_ids) -> list[tuple[_CustomResource, str, dict]]:
    """(resource, its id, its properties) for each of `logical_ids` that was sent a Create and no Delete yet,
    marked as deleted: what a cleanup sends Delete to."""
    live = []
    for logical in logical_ids:
        cr = _store.resources.get((stack.stack_id, logical))
        resource = stack.custom_resources.get(logical)
        if cr is not None and resource is not None and cr.attempted:
            cr.attempted = False
            live.append((cr, resource.resource_name, cr.properties))
    return live


def _forget(stack, logical_ids) -> None:
    """Custom resources no longer in the stack."""
    for logical in logical_ids:
        _store.resources.pop((stack.stack_id, logical), None)
        stack.custom_resources.pop(logical, None)
        stack.resource_map._parsed_resources.pop(logical, None)


def _delete_conditioned_out(stack, update: _Update) -> None:
    """The resources of moto's whose Condition turned false, dependents first (CloudFormation's cleanup)."""
    resource_map = stack.resource_map
    graph = cfn_graph.dependencies({k: v for k, v in resource_map._resource_json_map.items()})
    for wave in cfn_graph.deletion_waves(graph, set(update.conditioned_out)):
        for logical_id in sorted(wave):
            resource, resource_json = update.conditioned_out[logical_id]
            try:
                _MOTO_DELETE_RESOURCE[0](resource_map, resource, resource_json)
            except Exception as e:  # noqa: BLE001 - as a failed cleanup Delete: reported, the stack completes
                _resource_event(stack, logical_id, str(getattr(resource, "physical_resource_id", "")),
                                resource_json.get("Type", ""), "DELETE_FAILED", str(e))
            resource_map._parsed_resources.pop(logical_id, None)


def _finish_update(stack, update: _Update) -> None:
    resource_map = stack.resource_map
    if update.phase == "rollback_cleanup":
        _forget(stack, [logical for logical in update.added if logical not in resource_map._resource_json_map])
        stack.status = "UPDATE_ROLLBACK_COMPLETE"
    else:
        _forget(stack, update.removed)
        _delete_conditioned_out(stack, update)
        stack.status = "UPDATE_COMPLETE"
    # moto leaves what it removed among the parsed resources: a later update adding it back would find it there
    for logical in [k for k, v in resource_map._parsed_resources.items()
                    if k not in resource_map._resource_json_map and hasattr(v, "logical_resource_id")]:
        resource_map._parsed_resources.pop(logical, None)
    stack._add_stack_event(stack.status)
    _store.updates.pop(stack.stack_id, None)


def _start_rollback(stack, update: _Update) -> None:
    """UPDATE_ROLLBACK_IN_PROGRESS: back to the template and parameters before the update (moto restores its own
    resources); each custom resource updated in place is sent Update back to its old properties."""
    update.waiting.clear()  # never sent: nothing of theirs to roll back
    update.phase = "rollback"
    stack.status = "UPDATE_ROLLBACK_IN_PROGRESS"
    stack.status_reason = _failure_summary(update)
    stack._add_stack_event("UPDATE_ROLLBACK_IN_PROGRESS", resource_status_reason=stack.status_reason)
    resource_map = stack.resource_map
    old_template = stack.parse_template(update.template)
    # resources moto deleted because the new template dropped them are created again (custom resources were not
    # deleted: they are deleted at cleanup only)
    for logical, resource_json in old_template.get("Resources", {}).items():
        if logical not in resource_map._resource_json_map and not str(resource_json.get("Type", "")).startswith(
                "Custom::"):
            resource_map._parsed_resources.pop(logical, None)
    stack.template = update.template
    stack._parse_template()
    try:
        resource_map.update(stack.template_dict, update.input_parameters)
    except Exception as e:  # noqa: BLE001
        stack.status = "UPDATE_ROLLBACK_FAILED"
        stack.status_reason = str(e)
        stack._add_stack_event("UPDATE_ROLLBACK_FAILED", resource_status_reason=stack.status_reason)
        _store.updates.pop(stack.stack_id, None)
        return
    for logical_id in update.updated:  # those moto did not see change back (see _stack_update)
        resource_json = resource_map._resource_json_map.get(logical_id)
        if resource_json is not None:
            _update_custom_resource(logical_id, resource_json, resource_map, stack.account_id, stack.region_name)
    _send_ready_updates(stack, update)
    stack.output_map = stack._create_output_map()
    stack.parameters, stack.role_arn, stack.tags = update.parameters, update.role_arn, update.tags
    stack.submitted_template = update.submitted_template
    _advance(stack, update)


def continue_update_rollback(backend, stack_name: str, skip: list[str]) -> None:
    """ContinueUpdateRollback of a stack in UPDATE_ROLLBACK_FAILED: the resources whose rollback failed are sent
    their Update back again, except those `skip` names (ResourcesToSkip: CloudFormation marks them rolled back
    without a request), then the rollback goes on (cleanup, UPDATE_ROLLBACK_COMPLETE)."""
    from moto.cloudformation.exceptions import ValidationError

    stack = backend.get_stack(stack_name)
    with _store.lock:
        update = _store.failed_rollbacks.get(stack.stack_id)
        if stack.status != "UPDATE_ROLLBACK_FAILED" or update is None:
            raise ValidationError(message=f"Stack:{stack.stack_id} is in {stack.status} state and can not be "
                                          "continued to roll back: only a stack in UPDATE_ROLLBACK_FAILED can")
        unknown = sorted(set(skip) - set(update.rollback_failures))
        if unknown:
            raise ValidationError(message=f"ResourcesToSkip {unknown} are not resources whose rollback failed "
                                          f"({update.rollback_failures})")
        del _store.failed_rollbacks[stack.stack_id]
        _store.updates[stack.stack_id] = update
        update.phase = "rollback"
        stack.status, stack.status_reason = "UPDATE_ROLLBACK_IN_PROGRESS", None
        stack._add_stack_event("UPDATE_ROLLBACK_IN_PROGRESS", resource_status_reason="User Initiated")
        retry, update.rollback_failures = [l for l in update.rollback_failures if l not in skip], []
        for logical_id in skip:
            cr = _store.resources[(stack.stack_id, logical_id)]
            _resource_event(stack, logical_id, stack.custom_resources[logical_id].resource_name, cr.resource_type,
                            "UPDATE_COMPLETE", "Resource skipped during UpdateRollback")
        for logical_id in retry:
            cr = _store.resources[(stack.stack_id, logical_id)]
            physical_id = stack.custom_resources[logical_id].resource_name
            _resource_event(stack, logical_id, physical_id, cr.resource_type, "UPDATE_IN_PROGRESS", None)
            _send(cr, "Update", physical_id, old_properties=update.rollback_from[logical_id], update=update)
        _advance(stack, update)
