"""CloudFormation additions to moto 5.2.5 (see README: "What the emulator lacks and how the harness fills it").

1. The custom-resource lifecycle. `Custom::` resources run as CloudFormation runs them
   (`moto.cloudformation.custom_model.CustomModel`, `CloudFormationResponse.process_cfn_response`,
   `ResourceMap.delete` / `_delete_resource`, `Stack.delete`): a Create event with all property values as strings
   and a ResponseURL on the emulator's loopback endpoint, sent to the function through ext_lambda — held back until
   the custom resources it depends on have answered theirs, its properties then resolved again, so a `Ref`/`GetAtt`
   to one reads its answered id and Data; a FAILED response fails the stack and rolls it back (custom resources
   first; ROLLBACK_IN_PROGRESS until their Deletes are answered); the response's PhysicalResourceId becomes the
   resource's. DeleteStack (`CloudFormationBackend.delete_stack`) deletes dependents first, one wave at a time
   (harness.cfn_graph), each wave's custom resources answered before the next begins; a FAILED Delete ends
   DELETE_FAILED with the resources not yet reached in place; a DeleteStack of a DELETE_FAILED stack asks again,
   skipping what its RetainResources names (refused in any other state); DeletionPolicy Retain skips. UpdateStack (`Stack.update`, `ResourceMap.update`,
   `parsing.parse_and_update_resource`, which has no update for `Custom::` resources) sends Update with
   OldResourceProperties to each custom resource whose resolved properties changed (nothing to the others), Create
   to added ones; once all have answered, UPDATE_COMPLETE_CLEANUP_IN_PROGRESS sends Delete to removed ones and to
   the old PhysicalResourceId of each replacement (with the old properties). A FAILED answer, or a resource moto
   fails, rolls back once what is in progress has answered: UPDATE_ROLLBACK_IN_PROGRESS sends each resource updated
   in place an Update back (old and new swapped), then UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS deletes the new
   ids of replacements and the resources the update added; a FAILED rollback answer ends UPDATE_ROLLBACK_FAILED.
   A resource's `ServiceTimeout` (sent to the function among its properties, as CloudFormation does) fails a
   request left unanswered that long, with CloudFormation's reason. Every response PUT to the emulator is checked against the
   protocol (`contract_violations()`). A function that cannot be run at all (not built, does not compile, crashed,
   not a function) fails its resource at once instead of leaving the stack waiting for CloudFormation's one-hour
   timeout. This section is where every request CloudFormation sends a custom resource is made and answered.
2. `{{resolve:ssm:…}}` dynamic references in templates are resolved at CreateStack / UpdateStack
   (`CloudFormationBackend.create_stack` / `update_stack`), as CloudFormation does; moto leaves them as text.
3. `AWS::CodeBuild::Project`, which moto's CloudFormation skips (the project templates' seed-code build): created in
   moto's CodeBuild backend — whose builds report SUCCEEDED — so `!Ref` gives the project name and `!GetAtt .Arn`
   its ARN. With it and (2), a project's stack `SP-<id>` can complete in the emulator: its Custom::SeedCode is
   answered by the real seedcode-checkin binary after a build of the project's seed-code CodeBuild project.
4. `!Ref AWS::NoValue` as a list element (e.g. `- !If [Cond, X, !Ref AWS::NoValue]` in ManagedPolicyArns or a
   policy's Statement list): CloudFormation removes the element; moto's `parsing.clean_json` drops such keys from
   mappings but keeps `None` in lists. Here lists lose it too.
5. Generated queue names: moto builds `<stack>-<logical id>-<suffix>` and SQS cuts it at 80 characters, so two
   queues of a long-named stack (a StackSet instance's `StackSet-<name>-<uuid>`) get the same name and the second
   fails. CloudFormation shortens the stack and logical-id parts to keep the unique suffix; so does
   `parsing.generate_resource_name` here, for queues (other types keep moto's names, which no test outgrows).

The lifecycle's state (requests awaiting a response and their ServiceTimeout timers, each custom resource's current
properties, Deletes still unanswered, updates in progress with what they would roll back to, contract violations) is kept here, per (stack id, logical id), and cleared with moto's.
"""
from __future__ import annotations

import json
import re
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any

from moto.core.common_models import CloudFormationModel

from harness import cfn_graph
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
    #: its Create was answered SUCCESS
    created: bool = False
    #: custom resources of its stack it depends on whose Create is not answered yet: its own waits for them
    waiting_for: set[str] = field(default_factory=set)


@dataclass
class _Request:
    """A request sent to a custom resource's function, awaiting its response."""

    kind: str  # Create | Update | Delete
    stack_id: str
    logical_id: str
    event: dict
    #: the UpdateStack this request is part of (None: CreateStack, DeleteStack or a create's rollback)
    update: "_Update | None" = None


@dataclass
class _Before:
    """A custom resource as it was when an UpdateStack began: what a rollback restores."""

    properties: dict
    physical_id: str
    data: dict


@dataclass
class _Update:
    """One UpdateStack, from UPDATE_IN_PROGRESS to UPDATE_COMPLETE, UPDATE_ROLLBACK_COMPLETE or
    UPDATE_ROLLBACK_FAILED. Phases: update → cleanup, or update → rollback → rollback_cleanup."""

    stack_id: str
    #: the stack before the update: template, parameters (stack's and resource map's), role, tags
    template: Any
    parameters: Any
    input_parameters: dict
    role_arn: Any
    tags: Any
    before: dict[str, _Before]
    phase: str = "update"
    #: request ids of this phase still unanswered
    pending: set[str] = field(default_factory=set)
    updated: list[str] = field(default_factory=list)  # sent Update (the template or a parameter changed them)
    replaced: list[str] = field(default_factory=list)  # answered their Update with a new PhysicalResourceId
    added: list[str] = field(default_factory=list)  # new in the template: sent Create
    removed: list[str] = field(default_factory=list)  # gone from the template: Delete at cleanup
    #: (verb, logical id) of the resources that failed in the update phase (verb: create | update)
    failures: list[tuple[str, str]] = field(default_factory=list)
    moto_failure: str | None = None  # a resource moto itself failed to update
    rollback_failures: list[str] = field(default_factory=list)
    rolled_back: list[str] = field(default_factory=list)  # sent their Update back


@dataclass
class _Deletion:
    """One DeleteStack, from DELETE_IN_PROGRESS to DELETE_COMPLETE or DELETE_FAILED."""

    #: logical id → the logical ids it depends on (harness.cfn_graph)
    graph: dict[str, set[str]]
    #: resources not yet deleted nor being deleted
    remaining: set[str]
    #: resources skipped when their turn comes: DeletionPolicy Retain, or named by RetainResources
    kept: set[str]
    #: the stack's export names, read before anything is deleted (moto computes them from live resources)
    exports: list[str] = field(default_factory=list)
    #: custom resources whose Delete was answered FAILED in the current wave
    failed: list[str] = field(default_factory=list)


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
    #: stack id → its UpdateStack in progress
    updates: dict[str, _Update] = field(default_factory=dict)
    #: stack id → its DeleteStack in progress
    deletions: dict[str, _Deletion] = field(default_factory=dict)
    #: request id → the timer failing it after its resource's ServiceTimeout
    timers: dict[str, threading.Timer] = field(default_factory=dict)
    violations: list[str] = field(default_factory=list)

    def reset(self) -> None:
        with self.lock:
            for timer in self.timers.values():
                timer.cancel()
            self.timers.clear()
            self.stacks.clear()
            self.resources.clear()
            self.requests.clear()
            self.pending_deletes.clear()
            self.updates.clear()
            self.deletions.clear()
            self.violations.clear()


_store = _Store()


#: CloudFormation's reason for an update that changes a custom resource's ServiceToken
SERVICE_TOKEN_CHANGE = "Modifying service token is not allowed."


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


#: ServiceTimeout when a custom resource sets none (seconds): CloudFormation's hour; no timer is started for it
DEFAULT_SERVICE_TIMEOUT = 3600


def _service_timeout(properties: dict) -> int | None:
    """The resource's `ServiceTimeout` in seconds (CloudFormation sends it to the function in ResourceProperties,
    as a string like every property), or None when it sets none."""
    value = properties.get("ServiceTimeout")
    if value is None:
        return None
    try:
        return max(1, min(int(float(value)), DEFAULT_SERVICE_TIMEOUT))
    except (TypeError, ValueError):
        return None


def _timed_out(request_id: str) -> None:
    reason = (f"CloudFormation did not receive a response from your Custom Resource. Please check your logs for "
              f"requestId [{request_id}]. If you are using the Python cfn-response module, you may need to update "
              f"your Lambda function code so that CloudFormation can attach the updated version.")
    _on_response(request_id, "FAILED", reason)


def _send(cr: _CustomResource, request_type: str, physical_id: str | None = None, *,
          properties: dict | None = None, old_properties: dict | None = None,
          update: "_Update | None" = None) -> str:
    """Invokes the resource's function with a `request_type` event (asynchronously, as CloudFormation does); every
    request but Create names the resource's `physical_id`; an Update carries `old_properties`. `properties`
    default to the resource's own. A request unanswered after the resource's ServiceTimeout fails it. Returns the
    request id."""
    from moto.awslambda.utils import get_backend

    request_id = str(uuid.uuid4())
    properties = cr.properties if properties is None else properties
    event = {
        "RequestType": request_type,
        "ServiceToken": cr.service_token,
        "ResponseURL": f"{_store.emulator.endpoint}/cloudformation_{cr.region}/cfnresponse?stack={cr.stack_id}",
        "StackId": cr.stack_id,
        "RequestId": request_id,
        "LogicalResourceId": cr.logical_id,
        "ResourceType": cr.resource_type,
        "ResourceProperties": properties,
    }
    if request_type != "Create":
        event["PhysicalResourceId"] = physical_id
    if request_type == "Update":
        event["OldResourceProperties"] = old_properties
    with _store.lock:
        _store.requests[request_id] = _Request(request_type, cr.stack_id, cr.logical_id, event, update)
        if update is not None:
            update.pending.add(request_id)
        timeout = _service_timeout(properties)
        if timeout is not None:
            timer = threading.Timer(timeout, _timed_out, args=(request_id,))
            timer.daemon = True
            timer.name = f"emulator-service-timeout-{cr.logical_id}"
            _store.timers[request_id] = timer
            timer.start()
    try:
        fn = get_backend(cr.account_id, cr.region).get_function(cr.service_token)
    except Exception:  # noqa: BLE001 - not a function of this emulator (or an SNS topic): the resource fails
        reason = f"Invalid service token: {cr.service_token} is not a Lambda function of this emulator"
        run_later(lambda: _on_response(request_id, "FAILED", reason, never_ran=True), "custom-resource-failure")
        return request_id

    def after(record: Invocation) -> None:
        # the function could not be run at all: fail now rather than wait an hour as CloudFormation would
        if record.errored and str(record.result.get("errorType", "")).startswith("Runtime."):
            reason = f"{record.result['errorType']}: {record.result['errorMessage']}"
            _on_response(request_id, "FAILED", reason, never_ran=True)

    invoke_async(fn, event, "custom-resource", after)
    return request_id


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
        cr.created = True
        _resource_event(stack, cr.logical_id, resource.resource_name, cr.resource_type, "CREATE_COMPLETE", None)
        _send_waiting_creates(stack, cr.logical_id)
        stack.verify_readiness()
    else:
        _fail_create(stack, cr, resource.resource_name, reason or "See the details in CloudWatch Log Stream")


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


# --- DeleteStack -------------------------------------------------------------------------------------------------


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
    live = {k for k in templates
            if resource_map._parsed_resources.get(k) is not None
            and not isinstance(resource_map._parsed_resources.get(k), str)}
    kept = {k for k in live if templates[k].get("DeletionPolicy") == "Retain" or k in retain}
    with _store.lock:
        _store.stacks[stack.stack_id] = stack
        stack.status, stack.status_reason = "DELETE_IN_PROGRESS", None
        stack._add_stack_event("DELETE_IN_PROGRESS", resource_status_reason="User Initiated")
        _store.deletions[stack.stack_id] = _Deletion(cfn_graph.dependencies(templates), live, kept,
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


# --- UpdateStack -------------------------------------------------------------------------------------------------


def _stack_update(stack, template, role_arn=None, parameters=None, tags=None) -> None:
    """Replaces `Stack.update`: moto updates the stack's other resources at once (`ResourceMap.update`); custom
    resources whose resolved properties changed are sent Update, added ones Create, and the stack stays
    UPDATE_IN_PROGRESS until they answer; then cleanup (removed resources and replaced physical ids get Delete) or,
    on a failure, rollback."""
    from moto.cloudformation.exceptions import ValidationError

    if stack.status.endswith("_IN_PROGRESS"):
        raise ValidationError(message=f"Stack:{stack.stack_id} is in {stack.status} state and can not be updated.")
    resource_map = stack.resource_map
    with _store.lock:
        before = {}
        for (stack_id, logical_id), cr in _store.resources.items():
            resource = stack.custom_resources.get(logical_id)
            if stack_id == stack.stack_id and resource is not None and logical_id in resource_map._resource_json_map:
                before[logical_id] = _Before(cr.properties, resource.resource_name, dict(resource.data))
        update = _Update(stack.stack_id, stack.template, stack.parameters, dict(resource_map.input_parameters),
                         stack.role_arn, stack.tags, before)
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
            old, cr.properties = cr.properties, properties
            cr.service_token = properties.get("ServiceToken", cr.service_token)
            update.updated.append(logical_id)
        elif update.phase == "rollback" and logical_id in update.updated and logical_id not in update.replaced \
                and logical_id not in update.rolled_back:
            update.rolled_back.append(logical_id)
            old, cr.properties = cr.properties, update.before[logical_id].properties
            cr.service_token = cr.properties.get("ServiceToken", cr.service_token)
        else:
            return resource
        _resource_event(stack, logical_id, resource.resource_name, cr.resource_type, "UPDATE_IN_PROGRESS", None)
        _send(cr, "Update", resource.resource_name, old_properties=old, update=update)
    return resource


def _update_changed_custom_resources(stack, update: _Update) -> None:
    resource_map = stack.resource_map
    for logical_id in list(update.before):
        resource_json = resource_map._resource_json_map.get(logical_id)
        if resource_json is not None and str(resource_json.get("Type", "")).startswith("Custom::"):
            _update_custom_resource(logical_id, resource_json, resource_map, stack.account_id, stack.region_name)


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
            _store.updates.pop(stack.stack_id, None)
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


def _finish_update(stack, update: _Update) -> None:
    resource_map = stack.resource_map
    if update.phase == "rollback_cleanup":
        _forget(stack, [logical for logical in update.added if logical not in resource_map._resource_json_map])
        stack.status = "UPDATE_ROLLBACK_COMPLETE"
    else:
        _forget(stack, update.removed)
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
    stack.output_map = stack._create_output_map()
    stack.parameters, stack.role_arn, stack.tags = update.parameters, update.role_arn, update.tags
    _advance(stack, update)


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
        return update_resource(logical_id, resource_json, resources_map, account_id, region_name)

    parsing.parse_and_update_resource = parse_and_update_resource
    Stack.update = _stack_update


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


def _install_no_value_in_lists() -> None:
    from moto.cloudformation import parsing

    original = parsing.clean_json

    def clean_json(resource_json, resources_map):
        cleaned = original(resource_json, resources_map)
        if isinstance(resource_json, list) and isinstance(cleaned, list):
            return [v for v in cleaned if v is not None]
        return cleaned

    parsing.clean_json = clean_json


#: resource type -> the longest name its service takes
NAME_LIMITS = {"AWS::SQS::Queue": 80}


def _install_generated_names() -> None:
    from moto.cloudformation import parsing

    original = parsing.generate_resource_name

    def generate_resource_name(resource_type: str, stack_name: str, logical_id: str) -> str:
        limit = NAME_LIMITS.get(resource_type)
        name = original(resource_type, stack_name, logical_id)
        if limit is None or len(name) <= limit:
            return name
        suffix = name.rsplit("-", 1)[1]
        room = limit - len(suffix) - 2  # two dashes
        # the whole stack name while the logical id keeps a few characters, else half and half
        logical = logical_id[: room - len(stack_name)] if len(stack_name) <= room - 8 else logical_id[: room // 2]
        return f"{stack_name[: room - len(logical)]}-{logical}-{suffix}"

    parsing.generate_resource_name = generate_resource_name


def install(emulator) -> None:
    _store.emulator = emulator
    _install_no_value_in_lists()
    _install_generated_names()
    _install_lifecycle()
    _install_dynamic_references()
    _install_codebuild_project()

    from harness.emulator import on_reset

    on_reset(_store.reset)
