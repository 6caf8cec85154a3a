"""The custom-resource lifecycle's state, and the one place a request is sent to a function.

Per (stack id, logical id): each custom resource's current properties and service token; the requests awaiting a
response, with their `ServiceTimeout` timers (sent to the function among its properties, as CloudFormation does; a
request left unanswered that long fails with CloudFormation's reason); Deletes still unanswered; updates in progress
with what they would roll back to; and every contract violation found in a response PUT to the emulator
(`contract_violations()`). Cleared with moto's state. A request is sent through ext_lambda with all property values
as strings and a ResponseURL on the emulator's loopback endpoint; a function that cannot be run at all (not built,
does not compile, crashed, not a function) fails its resource at once instead of leaving the stack waiting for
CloudFormation's one-hour timeout.
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable

from harness.ext_lambda import Invocation, invoke_async, run_later


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
    #: resources of moto's whose Condition turned false: deleted at cleanup, once the custom resources' Deletes
    #: were answered (logical id → (resource, its template json))
    conditioned_out: dict[str, tuple[Any, dict]] = field(default_factory=dict)
    #: (verb, logical id) of the resources that failed in the update phase (verb: create | update)
    failures: list[tuple[str, str]] = field(default_factory=list)
    moto_failure: str | None = None  # a resource moto itself failed to update
    #: the template as submitted before this update (GetTemplate's answer again after a rollback)
    submitted_template: Any = None
    rollback_failures: list[str] = field(default_factory=list)
    rolled_back: list[str] = field(default_factory=list)  # sent their Update back
    #: custom resources whose properties changed, and those depending on one: each is sent its Update (or nothing,
    #: if its properties turn out unchanged) once the custom resources it depends on have answered theirs
    waiting: set[str] = field(default_factory=set)
    #: the properties each resource was rolled back from (the failed update's), for a ContinueUpdateRollback
    rollback_from: dict[str, dict] = field(default_factory=dict)


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
    #: updates whose rollback failed (UPDATE_ROLLBACK_FAILED), for ContinueUpdateRollback
    failed_rollbacks: dict[str, _Update] = field(default_factory=dict)
    #: stack id → its DeleteStack in progress
    deletions: dict[str, _Deletion] = field(default_factory=dict)
    #: request id → the timer failing it after its resource's ServiceTimeout
    timers: dict[str, threading.Timer] = field(default_factory=dict)
    violations: list[str] = field(default_factory=list)
    #: where a response goes (lifecycle._on_response, set by _install_lifecycle)
    on_response: Callable[..., None] | None = None

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
            self.failed_rollbacks.clear()
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
    _answer(request_id, "FAILED", reason)


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
        run_later(lambda: _answer(request_id, "FAILED", reason, never_ran=True), "custom-resource-failure")
        return request_id

    def after(record: Invocation) -> None:
        # the function could not be run at all: fail now rather than wait an hour as CloudFormation would
        if record.errored and str(record.result.get("errorType", "")).startswith("Runtime."):
            reason = f"{record.result['errorType']}: {record.result['errorMessage']}"
            _answer(request_id, "FAILED", reason, never_ran=True)

    invoke_async(fn, event, "custom-resource", after)
    return request_id


def _answer(*args, **kwargs):
    """Hands a response to the operation waiting for it, through the dispatcher lifecycle.py registers when it
    installs (lifecycle.py imports this module; this one does not import it back)."""
    return _store.on_response(*args, **kwargs)
