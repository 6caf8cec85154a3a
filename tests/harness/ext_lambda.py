"""Lambda code runs for real: moto's invocations are forwarded to the product's binaries through cargo-lambda.

moto 5.2.5 runs Lambda code only in Docker (absent here). This extension (see README: "What the emulator lacks and
how the harness fills it"):

- replaces `moto.awslambda.models.LambdaFunction._invoke_lambda` so an invocation is POSTed to `cargo lambda watch`
  (`harness.functions`): the binary is the function's `Handler`; its environment is the function's own variables
  overlaid with the emulator's `child_env()` and `CFN_RESPONSE_ALLOW_LOOPBACK=true` (one watch per distinct
  environment). A binary that is not built is never compiled on the fly: the invocation fails with
  `Runtime.BinaryNotBuilt` instead;
- makes `InvocationType=Event` asynchronous (202 at once, the function runs afterwards) and `DryRun` a no-op
  (`LambdaFunction.invoke`);
- delivers EventBridge rules' Lambda targets asynchronously (`moto.events.models.Rule.send_to_targets` raised
  NotImplementedError → PutEvents 500), honouring Input / InputPath / InputTransformer, the rule's state and the
  function's resource policy (events.amazonaws.com must be allowed to invoke it, as on AWS); targets moto cannot
  deliver to (CodePipeline, CodeBuild, SNS …) are recorded as dropped instead of failing PutEvents; the event has
  AWS's shape (`account`, ISO-8601 `time`). S3 "Object Created" events that moto already routes to rules when a
  bucket has EventBridge notifications on reach Lambda targets by the same path; S3's direct Lambda notifications
  become asynchronous too (`moto.s3.notifications._invoke_awslambda`);
- runs `Custom::` resources as CloudFormation does (`moto.cloudformation.custom_model.CustomModel`,
  `CloudFormationResponse.process_cfn_response`, `Stack.delete`): a Create event with all property values as
  strings and a ResponseURL on the emulator's loopback endpoint; a FAILED response fails the stack and rolls it
  back; the response's PhysicalResourceId becomes the resource's; deleting the stack (or rolling it back) sends
  Delete events and the stack stays DELETE_IN_PROGRESS (ROLLBACK_IN_PROGRESS) until they are answered; every
  response PUT to the emulator is checked against the protocol (`contract_violations()`); a function that cannot
  be run at all (not built, does not compile, crashed, not a function) fails its resource at once instead of
  leaving the stack waiting for CloudFormation's one-hour timeout;
- resolves `{{resolve:ssm:…}}` dynamic references in templates at CreateStack / UpdateStack
  (`CloudFormationBackend.create_stack` / `update_stack`), as CloudFormation does.

Asynchronous work triggered by a request starts once that request has been handled (as on AWS, where the caller
gets its answer first), so a function never sees a half-finished PutObject.
"""
from __future__ import annotations

import atexit
import copy
import datetime as dt
import fnmatch
import json
import logging
import os
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.functions import ROOT, Functions

log = logging.getLogger("harness.ext_lambda")

#: EventBridge delivers to a function only if its resource policy lets events.amazonaws.com invoke it.
ENFORCE_INVOKE_PERMISSION = True
#: Seconds to wait for one forwarded invocation (the first one of a watch may wait for cargo's build lock).
INVOKE_TIMEOUT_SECONDS = 300.0

_emulator = None
_functions: Functions | None = None
_functions_lock = threading.Lock()
_watch_lock = threading.Lock()  # Functions.watch is not thread-safe: two first calls would start two watches
_local = threading.local()


# ---------------------------------------------------------------------------------------------------------------
# What the tests can observe


@dataclass
class Invocation:
    function_name: str
    binary: str
    event: Any
    source: str  # "invoke", "event" (InvocationType=Event), "events-rule", "s3", "custom-resource"
    result: Any = None
    errored: bool = False
    done: threading.Event = field(default_factory=threading.Event)


@dataclass
class Dropped:
    rule_arn: str
    target_arn: str
    reason: str


_records_lock = threading.Lock()
_invocations: list[Invocation] = []
_violations: list[str] = []
_dropped: list[Dropped] = []


def invocations(function_name: str | None = None) -> list[Invocation]:
    """Every invocation forwarded since the last reset (optionally of one function), oldest first."""
    with _records_lock:
        return [i for i in _invocations if function_name in (None, i.function_name)]


def dropped_deliveries() -> list[Dropped]:
    """EventBridge deliveries that were dropped: a function whose policy does not allow EventBridge, a function
    that does not exist, or a target service moto cannot deliver to (e.g. CodePipeline)."""
    with _records_lock:
        return list(_dropped)


def contract_violations() -> list[str]:
    """Custom-resource responses PUT to the emulator that break the protocol (harness.sink.check_contract)."""
    with _records_lock:
        return list(_violations)


def wait_for_invocations(count: int, function_name: str | None = None, timeout: float = 30.0) -> list[Invocation]:
    """Waits until `count` invocations (of `function_name`) have finished; returns them."""
    deadline = time.time() + timeout
    while True:
        found = invocations(function_name)
        if len(found) >= count and all(i.done.is_set() for i in found[:count]):
            return found
        if time.time() > deadline:
            raise TimeoutError(f"{len(found)} invocation(s) of {function_name or 'any function'} after {timeout}s")
        time.sleep(0.05)


def _clear_records() -> None:
    with _records_lock:
        _invocations.clear()
        _dropped.clear()
        _violations.clear()
    with _cr_lock:
        _cr_requests.clear()


# ---------------------------------------------------------------------------------------------------------------
# Forwarding to cargo-lambda


def _base_env() -> dict[str, str]:
    return {**_emulator.child_env(), "CFN_RESPONSE_ALLOW_LOOPBACK": "true"}


def functions() -> Functions:
    """The extension's cargo-lambda watches (created on first use, stopped by `shutdown()` or at exit)."""
    global _functions
    with _functions_lock:
        if _functions is None:
            _functions = Functions(_base_env())
        return _functions


def shutdown() -> None:
    """Stops every cargo-lambda watch this extension started."""
    global _functions
    with _functions_lock:
        if _functions is not None:
            _functions.stop()
            _functions = None


atexit.register(shutdown)


def binary_path(binary: str) -> Path:
    target = Path(os.environ.get("CARGO_TARGET_DIR") or ROOT / "target")
    return target / "debug" / binary


_CFN_RESPONSE_URL = re.compile(r"^https?://[^/]+(?=/cloudformation_[^/?]+/cfnresponse)")


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


def _prepare(event: Any) -> Any:
    if isinstance(event, (bytes, str)):
        try:
            event = json.loads(event or "{}")
        except ValueError:
            return event
    if isinstance(event, dict) and isinstance(event.get("ResponseURL"), str):
        event = dict(event)
        url = event["ResponseURL"].replace("http://host.docker.internal:", "http://127.0.0.1:")
        event["ResponseURL"] = _CFN_RESPONSE_URL.sub(_emulator.endpoint, url)
    return event


def _forward(fn, event: Any, source: str) -> Invocation:
    """Runs `fn` (a moto LambdaFunction) on `event` through cargo-lambda; records and returns the invocation."""
    event = _prepare(event)
    binary = fn.handler or fn.function_name
    record = Invocation(fn.function_name, binary, event, source)
    with _records_lock:
        _invocations.append(record)
    try:
        if not binary_path(binary).exists():
            record.result = {
                "errorType": "Runtime.BinaryNotBuilt",
                "errorMessage": f"{binary_path(binary)} does not exist: run `cargo build --workspace --bins`",
            }
            record.errored = True
            return record
        env = {**{k: str(v) for k, v in (fn.environment_vars or {}).items()}, **_base_env()}
        try:
            with _watch_lock:
                watch = functions().watch(env, name="emulator-lambda", function=binary)
            result = _invoke_watching_for_exit(watch, binary, event)
        except Exception as e:  # noqa: BLE001 - the runtime is unreachable: an invocation error
            result = {"errorType": "Runtime.ForwardingFailed", "errorMessage": f"{type(e).__name__}: {e}"}
        record.result = result
        record.errored = isinstance(result, dict) and {"errorType", "errorMessage"} <= set(result)
        return record
    finally:
        record.done.set()


def _invoke_watching_for_exit(watch, binary: str, event: Any) -> Any:
    """watch.invoke, but a function process that exits (it does not compile, or it crashed) ends the invocation
    with Runtime.ExitError at once; cargo-lambda itself would leave the request hanging until the timeout."""
    log_path = watch.log_path
    offset = log_path.stat().st_size if log_path.exists() else 0
    box: dict[str, Any] = {}

    def call():
        try:
            box["result"] = watch.invoke(binary, event, timeout=INVOKE_TIMEOUT_SECONDS)
        except Exception as e:  # noqa: BLE001
            box["error"] = e

    thread = threading.Thread(target=call, name=f"forward-{binary}", daemon=True)
    thread.start()
    exited_at = None
    while thread.is_alive():
        thread.join(0.25)
        if exited_at is None:
            with open(log_path, "rb") as f:
                f.seek(offset)
                if b"command exited code=" in f.read():
                    exited_at = time.time()
        elif time.time() - exited_at > 1.0:
            with open(log_path, "rb") as f:
                f.seek(offset)
                tail = f.read().decode(errors="replace")[-1500:]
            return {"errorType": "Runtime.ExitError",
                    "errorMessage": f"the process of {binary} exited (it does not build, or it crashed): {tail}"}
    if "error" in box:
        raise box["error"]
    return box["result"]


def _payload(record: Invocation) -> str:
    result = record.result
    if isinstance(result, dict) and set(result) == {"raw"}:
        return result["raw"]
    return json.dumps(result)


# ---------------------------------------------------------------------------------------------------------------
# Asynchronous work, started once the request that caused it has been answered


def _run_later(job, name: str) -> None:
    def guarded():
        try:
            job()
        except Exception:  # noqa: BLE001
            log.exception("asynchronous %s failed", name)

    thread = threading.Thread(target=guarded, name=f"emulator-{name}", daemon=True)
    deferred = getattr(_local, "deferred", None)
    if deferred is not None:
        deferred.append(thread)
    else:
        thread.start()


def _invoke_async(fn, event: Any, source: str, after=None) -> None:
    """Invokes `fn` later, in its own thread, through `LambdaFunction.invoke` (as moto itself does, so a test
    that stands in for `invoke` sees these invocations too); `after(record)` runs once it is forwarded."""
    body = event if isinstance(event, (str, bytes)) else json.dumps(event)

    def job():
        _local.context = (source, after)
        try:
            fn.invoke(body, {}, {})
        finally:
            _local.context = None

    _run_later(job, f"invoke-{fn.function_name}")


def _invoke_lambda(self, event=None):
    """Replaces moto's Docker runner: (payload, errored, logs) of the forwarded invocation."""
    source, after = getattr(_local, "context", None) or ("invoke", None)
    record = _forward(self, event, source)
    if after is not None:
        after(record)
    return _payload(record), record.errored, ""


# ---------------------------------------------------------------------------------------------------------------
# EventBridge → Lambda


def _iso_time(value: Any) -> str:
    if isinstance(value, (int, float)):
        return dt.datetime.fromtimestamp(value, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.timezone.utc)
        return value.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return str(value)


def _aws_event(event: dict) -> dict:
    """The event as EventBridge hands it to a target (moto keeps `time` as epoch seconds and extra fields)."""
    return {
        "version": event.get("version", "0"),
        "id": event.get("id") or str(uuid.uuid4()),
        "detail-type": event.get("detail-type"),
        "source": event.get("source"),
        "account": event.get("account"),
        "time": _iso_time(event.get("time", time.time())),
        "region": event.get("region"),
        "resources": event.get("resources", []),
        "detail": event.get("detail", {}),
    }


def _target_input(target: dict, event: dict) -> Any:
    if target.get("Input") is not None:
        return json.loads(target["Input"])
    if target.get("InputPath"):
        from jsonpath_ng.ext import parse

        matches = parse(target["InputPath"]).find(event)
        return matches[0].value if matches else None
    transformer = target.get("InputTransformer")
    if transformer:
        from moto.events.utils import EventTemplateParser

        return EventTemplateParser.parse(
            input_template=transformer.get("InputTemplate"),
            input_paths_map=transformer.get("InputPathsMap", {}),
            event={**event, "ingestion-time": time.time()},
        )
    return event


def _permission_problem(fn, rule_arn: str) -> str | None:
    for st in fn.policy.statements:
        if st.get("Effect", "Allow") != "Allow":
            continue
        principal = st.get("Principal")
        service = principal.get("Service") if isinstance(principal, dict) else principal
        services = service if isinstance(service, list) else [service]
        if not ({"events.amazonaws.com", "*"} & set(services)) and principal != {"AWS": "*"}:
            continue
        actions = st.get("Action")
        actions = actions if isinstance(actions, list) else [actions]
        if not {"lambda:InvokeFunction", "lambda:*", "*"} & set(actions):
            continue
        source_arns = []
        for operator in ("ArnLike", "ArnEquals", "StringLike", "StringEquals"):
            cond = (st.get("Condition") or {}).get(operator, {})
            for key, value in cond.items():
                if key.lower() == "aws:sourcearn":
                    source_arns += value if isinstance(value, list) else [value]
        if not source_arns or any(fnmatch.fnmatchcase(rule_arn, pattern) for pattern in source_arns):
            return None
    return f"the resource policy of {fn.function_arn} does not allow events.amazonaws.com from {rule_arn}"


def _deliver_to_function(rule, target: dict, event: dict) -> None:
    from moto.awslambda.utils import get_backend
    from moto.utilities.arns import parse_arn

    arn = parse_arn(target["Arn"])
    name = arn.resource_id
    qualifier = None
    if ":" in name:
        name, qualifier = name.split(":", 1)
    try:
        fn = get_backend(arn.account, arn.region).get_function(name, qualifier)
    except Exception as e:  # noqa: BLE001 - EventBridge drops what it cannot deliver
        with _records_lock:
            _dropped.append(Dropped(rule.arn, target["Arn"], f"no such function: {e}"))
        return
    if ENFORCE_INVOKE_PERMISSION:
        problem = _permission_problem(fn, rule.arn)
        if problem:
            log.warning("EventBridge rule %s cannot invoke %s: %s", rule.arn, target["Arn"], problem)
            with _records_lock:
                _dropped.append(Dropped(rule.arn, target["Arn"], problem))
            return
    _invoke_async(fn, _target_input(target, _aws_event(event)), "events-rule")


def _target_service(target: dict) -> str:
    parts = target["Arn"].split(":")
    return parts[2] if len(parts) > 2 else ""


def _make_send_to_targets(original):
    moto_delivers = {"logs", "sqs", "events"}

    def send_to_targets(self, original_event, transform_input: bool = True) -> None:
        ours = [t for t in self.targets if _target_service(t) not in moto_delivers]
        if not ours:
            return original(self, original_event, transform_input)
        if not self.event_pattern.matches_event(original_event):
            return None
        if getattr(self, "state", "ENABLED") != "ENABLED":
            return None
        for target in ours:
            service = _target_service(target)
            if service == "lambda":
                _deliver_to_function(self, target, original_event)
            else:
                # moto raises NotImplementedError here (PutEvents 500); AWS would deliver
                with _records_lock:
                    _dropped.append(Dropped(self.arn, target["Arn"], f"the emulator cannot deliver to {service}"))
        others = copy.copy(self)
        others.targets = [t for t in self.targets if t not in ours]
        if others.targets:
            original(others, original_event, transform_input)
        return None

    return send_to_targets


# ---------------------------------------------------------------------------------------------------------------
# Custom resources


@dataclass
class _CrRequest:
    kind: str  # Create | Delete
    stack: Any  # moto Stack (held: during DeleteStack moto has it in neither of its stack maps)
    logical_id: str
    event: dict


_cr_lock = threading.RLock()
_cr_requests: dict[str, _CrRequest] = {}


def _cfn_backend(stack_id: str):
    from moto.cloudformation.models import cloudformation_backends

    _, _, _, region, account, _ = stack_id.split(":", 5)
    return cloudformation_backends[account][region]


def _stack_of(stack_id: str):
    return _cfn_backend(stack_id).get_stack(stack_id)


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


def _send_custom_resource(resource, request_type: str) -> None:
    """Invokes the resource's function with a `request_type` event (asynchronously, as CloudFormation does)."""
    from moto.awslambda.utils import get_backend

    ctx = resource._cr
    request_id = str(uuid.uuid4())
    event = {
        "RequestType": request_type,
        "ServiceToken": ctx["service_token"],
        "ResponseURL": f"{_emulator.endpoint}/cloudformation_{ctx['region']}/cfnresponse?stack={ctx['stack_id']}",
        "StackId": ctx["stack_id"],
        "RequestId": request_id,
        "LogicalResourceId": resource.logical_id,
        "ResourceType": ctx["resource_type"],
        "ResourceProperties": ctx["properties"],
    }
    if request_type != "Create":
        event["PhysicalResourceId"] = resource.resource_name
    with _cr_lock:
        _cr_requests[request_id] = _CrRequest(request_type, resource._stack, resource.logical_id, event)
    try:
        fn = get_backend(ctx["account_id"], ctx["region"]).get_function(ctx["service_token"])
    except Exception:  # noqa: BLE001 - not a function of this emulator (or an SNS topic): the resource fails
        reason = f"Invalid service token: {ctx['service_token']} is not a Lambda function of this emulator"
        _run_later(lambda: _on_response(request_id, "FAILED", reason, never_ran=True), "custom-resource-failure")
        return

    def after(record: Invocation) -> None:
        # the function could not be run at all: fail now rather than wait an hour as CloudFormation would
        if record.errored and str(record.result.get("errorType", "")).startswith("Runtime."):
            reason = f"{record.result['errorType']}: {record.result['errorMessage']}"
            _on_response(request_id, "FAILED", reason, never_ran=True)

    _invoke_async(fn, event, "custom-resource", after)


def _create_custom_resource(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
    properties = cloudformation_json["Properties"]
    resource = cls(region_name, str(uuid.uuid4()), kwargs["LogicalId"], resource_name)
    resource._cr = {
        "account_id": account_id,
        "region": region_name,
        "stack_id": kwargs["StackId"],
        "resource_type": kwargs["ResourceType"],
        "service_token": properties["ServiceToken"],
        "properties": _stringify(properties),
    }
    resource._attempted = True
    resource._stack = _stack_of(kwargs["StackId"])
    resource._stack.add_custom_resource(resource)
    _send_custom_resource(resource, "Create")
    return resource


def _delete_custom_resource(self, account_id: str, region_name: str) -> None:
    """Called by moto's ResourceMap.delete (stack deletion or rollback): CloudFormation sends Delete."""
    if getattr(self, "_cr", None) is None or not getattr(self, "_attempted", False):
        return
    self._attempted = False
    stack = self._stack
    with _cr_lock:
        stack.__dict__.setdefault("_pending_cr_deletes", set()).add(self.logical_id)
    _resource_event(stack, self.logical_id, self.resource_name, self._cr["resource_type"], "DELETE_IN_PROGRESS", None)
    _send_custom_resource(self, "Delete")


def _finish_deletes_if_done(stack) -> None:
    pending = stack.__dict__.get("_pending_cr_deletes", set())
    if pending:
        return
    if stack.status == "DELETE_IN_PROGRESS":
        stack.status = "DELETE_COMPLETE"
        stack._add_stack_event("DELETE_COMPLETE")
    elif stack.status == "ROLLBACK_IN_PROGRESS":
        stack.status = "ROLLBACK_COMPLETE"
        stack._add_stack_event("ROLLBACK_COMPLETE")


def _fail_create(stack, resource, reason: str) -> None:
    logical = resource.logical_id
    _resource_event(stack, logical, resource.resource_name, resource._cr["resource_type"], "CREATE_FAILED", reason)
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
    with _cr_lock:
        _finish_deletes_if_done(stack)


def _on_response(
    request_id: str,
    status: str,
    reason: str | None,
    physical_id: str | None = None,
    data=None,
    never_ran: bool = False,
) -> None:
    with _cr_lock:
        request = _cr_requests.pop(request_id, None)
        if request is None:
            return  # unknown or already answered: CloudFormation ignores it
        stack = request.stack
        if request.kind == "Create":
            resource = stack.get_custom_resource(request.logical_id)
            if physical_id:
                resource.resource_name = physical_id
            if stack.status != "CREATE_IN_PROGRESS":
                return
            if never_ran:
                resource._attempted = False  # nothing was created, so rollback sends it no Delete
            if status == "SUCCESS":
                resource.set_data(data or {})
                _resource_event(stack, request.logical_id, resource.resource_name, resource._cr["resource_type"],
                                "CREATE_COMPLETE", None)
                stack.verify_readiness()
            else:
                _fail_create(stack, resource, reason or "See the details in CloudWatch Log Stream")
        else:
            pending = stack.__dict__.setdefault("_pending_cr_deletes", set())
            pending.discard(request.logical_id)
            resource_type = stack.get_custom_resource(request.logical_id)._cr["resource_type"]
            if status == "SUCCESS":
                _resource_event(stack, request.logical_id, physical_id or "", resource_type, "DELETE_COMPLETE", None)
                _finish_deletes_if_done(stack)
            else:
                _resource_event(stack, request.logical_id, physical_id or "", resource_type, "DELETE_FAILED", reason)
                failed = "DELETE_FAILED" if stack.status == "DELETE_IN_PROGRESS" else "ROLLBACK_FAILED"
                stack.status = failed
                stack.status_reason = f"The following resource(s) failed to delete: [{request.logical_id}]. "
                stack._add_stack_event(failed, resource_status_reason=stack.status_reason)


def _process_cfn_response(self):
    from harness.sink import ContractError, Put, check_contract

    raw = self.body if isinstance(self.body, bytes) else (self.body or "").encode()
    try:
        body = json.loads(raw or b"{}")
    except ValueError:
        body = {}
    with _cr_lock:
        request = _cr_requests.get(body.get("RequestId", "")) if isinstance(body, dict) else None
    if request is not None:
        length = self.headers.get("Content-Length")
        put = Put(self.method, self.headers.get("Content-Type"), int(length) if length else None, raw)
        try:
            check_contract(put, request.event)
        except ContractError as e:
            with _records_lock:
                _violations.append(f"{request.kind} of {request.logical_id}: {e}")
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


def _make_stack_delete(original):
    def delete(self) -> None:
        original(self)
        with _cr_lock:
            if self.__dict__.get("_pending_cr_deletes"):
                # moto finished synchronously; CloudFormation waits for the custom resources' answers
                if self.events and self.events[-1].resource_status == "DELETE_COMPLETE":
                    self.events.pop()
                self.status = "DELETE_IN_PROGRESS"

    return delete


# ---------------------------------------------------------------------------------------------------------------


def install(emulator) -> None:
    global _emulator
    _emulator = emulator

    from moto.awslambda.models import LambdaFunction
    from moto.cloudformation.custom_model import CustomModel
    from moto.cloudformation.models import CloudFormationBackend, Stack
    from moto.cloudformation.responses import CloudFormationResponse
    from moto.events.models import Rule
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication
    from moto.s3 import notifications as s3_notifications

    # every invocation ends here (moto's own, and ours from the background)
    LambdaFunction._invoke_lambda = _invoke_lambda

    original_invoke = LambdaFunction.invoke

    def invoke(self, body, request_headers, response_headers):
        headers = request_headers or {}
        inv_type = headers.get("x-amz-invocation-type") or headers.get("X-Amz-Invocation-Type") or "RequestResponse"
        if inv_type == "Event":
            _invoke_async(self, body or "{}", "event")
            return b""
        if inv_type == "DryRun":
            return b""
        payload = original_invoke(self, body, request_headers, response_headers)
        if response_headers.get("x-amz-function-error"):
            # moto says Handled; Lambda reports an error returned by a (custom) runtime as Unhandled
            response_headers["x-amz-function-error"] = "Unhandled"
        return payload

    LambdaFunction.invoke = invoke

    # EventBridge rules with Lambda targets (and S3 → EventBridge, which moto routes through the same method)
    Rule.send_to_targets = _make_send_to_targets(Rule.send_to_targets)

    # S3's direct Lambda notifications: asynchronous, as on AWS
    def _invoke_awslambda(account_id, event_body, fn_arn, region_name):
        from moto.awslambda.utils import get_backend

        try:
            fn = get_backend(account_id, region_name).get_function(fn_arn)
        except Exception:  # noqa: BLE001 - S3 drops it, as moto does
            return
        _invoke_async(fn, event_body, "s3")

    s3_notifications._invoke_awslambda = _invoke_awslambda

    # custom resources
    CustomModel.create_from_cloudformation_json = classmethod(_create_custom_resource)
    CustomModel.delete = _delete_custom_resource
    CloudFormationResponse.process_cfn_response = _process_cfn_response
    Stack.delete = _make_stack_delete(Stack.delete)

    # dynamic references (the project templates name their seed-code function through SSM)
    create_stack, update_stack = CloudFormationBackend.create_stack, CloudFormationBackend.update_stack

    def create_stack_resolving(self, name, template, *args, **kwargs):
        return create_stack(self, name, _resolve_ssm_references(self, template), *args, **kwargs)

    def update_stack_resolving(self, name, template, *args, **kwargs):
        return update_stack(self, name, _resolve_ssm_references(self, template), *args, **kwargs)

    CloudFormationBackend.create_stack = create_stack_resolving
    CloudFormationBackend.update_stack = update_stack_resolving

    # asynchronous work starts after the request that caused it
    original_call = DomainDispatcherApplication.__call__

    def __call__(self, environ, start_response):
        _local.deferred = []
        try:
            return original_call(self, environ, start_response)
        finally:
            deferred, _local.deferred = _local.deferred, None
            for thread in deferred:
                thread.start()

    DomainDispatcherApplication.__call__ = __call__

    from harness.emulator import on_reset

    on_reset(_clear_records)
