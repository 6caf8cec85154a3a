"""Lambda code runs for real: moto's invocations are forwarded to the product's binaries through cargo-lambda.

moto 5.2.5 runs Lambda code only in Docker (absent here). This extension (see README: "What the emulator lacks and
how the harness fills it"):

- replaces `moto.awslambda.models.LambdaFunction._invoke_lambda` so an invocation is POSTed to `cargo lambda watch`
  (`harness.functions`): the binary is the function's `Handler`; its environment is the function's own variables
  overlaid with the emulator's `child_env()` and `CFN_RESPONSE_ALLOW_LOOPBACK=true`, in the function's own region
  and, for a function of another account (a StackSet instance's), with its execution role's credentials from
  moto's STS, so its calls act in that account (one watch per distinct environment). A binary that is not built is never compiled on the fly: the invocation fails with
  `Runtime.BinaryNotBuilt` instead;
- makes `InvocationType=Event` asynchronous (202 at once, the function runs afterwards) and `DryRun` a no-op
  (`LambdaFunction.invoke`);
- gives the other extensions that invoke functions on a service's behalf (ext_events, ext_s3, ext_sqs,
  ext_cloudformation) `invoke_async` and `run_later`: asynchronous work triggered by a request starts once that
  request has been handled (as on AWS, where the caller gets its answer first), so a function never sees a
  half-finished PutObject.

Every invocation is recorded (`invocations()`, `wait_for_invocations()`); the records are cleared with moto's state.
"""
from __future__ import annotations

import atexit
import json
import logging
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from harness.functions import Functions, binary_path

log = logging.getLogger("harness.ext_lambda")

#: Seconds to wait for one forwarded invocation (the first one of a watch may wait for cargo's build lock).
INVOKE_TIMEOUT_SECONDS = 300.0


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
class _Store:
    """Everything this extension keeps: the emulator it serves, its cargo-lambda watches and what it forwarded."""

    emulator: Any = None
    functions: Functions | None = None
    functions_lock: threading.Lock = field(default_factory=threading.Lock)
    #: Functions.watch is not thread-safe: two first calls would start two watches
    watch_lock: threading.Lock = field(default_factory=threading.Lock)
    invocations: list[Invocation] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    #: per thread: the asynchronous work a request started (run once it is answered), and the (source, after) of
    #: the invocation this thread is making
    local: threading.local = field(default_factory=threading.local)
    #: role ARN -> the credentials a function of another account runs with (moto's reset forgets them: so do we)
    role_credentials: dict[str, dict[str, str]] = field(default_factory=dict)
    #: called with (account, region, invocation) as each invocation ends (ext_cloudwatch: Lambda's own metrics)
    listeners: list = field(default_factory=list)

    def record(self, invocation: Invocation) -> None:
        with self.lock:
            self.invocations.append(invocation)

    def reset(self) -> None:
        with self.lock:
            self.invocations.clear()
            self.role_credentials.clear()


_store = _Store()


def invocations(function_name: str | None = None) -> list[Invocation]:
    """Every invocation forwarded since the last reset (optionally of one function), oldest first."""
    with _store.lock:
        return [i for i in _store.invocations if function_name in (None, i.function_name)]


def on_finished(listener) -> None:
    """`listener(account_id, region, invocation)` is called as every invocation ends (after its result is set)."""
    _store.listeners.append(listener)


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


# ---------------------------------------------------------------------------------------------------------------
# Forwarding to cargo-lambda


def _base_env() -> dict[str, str]:
    return {**_store.emulator.child_env(), "CFN_RESPONSE_ALLOW_LOOPBACK": "true"}


def _identity_env(fn) -> dict[str, str]:
    """Where and as whom the function runs, as Lambda runs it: its own region, and for a function of another
    account than the emulator's default one (a StackSet instance's) its execution role's credentials (assumed
    once per role), so what it calls acts in that account."""
    env = {"AWS_REGION": fn.region, "AWS_DEFAULT_REGION": fn.region}
    if fn.account_id == _store.emulator.account_id:
        return env
    with _store.lock:
        creds = _store.role_credentials.get(fn.role)
        if creds is None:
            from moto.sts.models import sts_backends
            from moto.utilities.utils import get_partition

            assumed = sts_backends[fn.account_id][get_partition(fn.region)].assume_role(
                region_name=fn.region, role_session_name=fn.function_name[:64], role_arn=fn.role, policy="",
                duration=43200, external_id="")
            creds = {"AWS_ACCESS_KEY_ID": assumed.access_key_id, "AWS_SECRET_ACCESS_KEY": assumed.secret_access_key,
                     "AWS_SESSION_TOKEN": assumed.session_token}
            _store.role_credentials[fn.role] = creds
    return {**env, **creds}


def functions() -> Functions:
    """The extension's cargo-lambda watches (created on first use, stopped by `shutdown()` or at exit)."""
    with _store.functions_lock:
        if _store.functions is None:
            _store.functions = Functions(_base_env())
        return _store.functions


def log_paths() -> list:
    """The logs of the functions this emulator runs (and of no other emulator's: pytest workers share .run/logs)."""
    with _store.functions_lock:
        return _store.functions.log_paths() if _store.functions is not None else []


def shutdown() -> None:
    """Stops every cargo-lambda watch this extension started."""
    with _store.functions_lock:
        if _store.functions is not None:
            _store.functions.stop()
            _store.functions = None


atexit.register(shutdown)


_CFN_RESPONSE_URL = re.compile(r"^https?://[^/]+(?=/cloudformation_[^/?]+/cfnresponse)")


def _prepare(event: Any) -> Any:
    if isinstance(event, (bytes, str)):
        try:
            event = json.loads(event or "{}")
        except ValueError:
            return event
    if isinstance(event, dict) and isinstance(event.get("ResponseURL"), str):
        event = dict(event)
        url = event["ResponseURL"].replace("http://host.docker.internal:", "http://127.0.0.1:")
        event["ResponseURL"] = _CFN_RESPONSE_URL.sub(_store.emulator.endpoint, url)
    return event


def _forward(fn, event: Any, source: str) -> Invocation:
    """Runs `fn` (a moto LambdaFunction) on `event` through cargo-lambda; records and returns the invocation."""
    event = _prepare(event)
    binary = fn.handler or fn.function_name
    record = Invocation(fn.function_name, binary, event, source)
    _store.record(record)
    try:
        if not binary_path(binary).exists():
            record.result = {
                "errorType": "Runtime.BinaryNotBuilt",
                "errorMessage": f"{binary_path(binary)} does not exist: run `make build`",
            }
            record.errored = True
            return record
        # Lambda sets _HANDLER to the function's Handler (our binary name): the Function dimension of its metrics
        env = {**{k: str(v) for k, v in (fn.environment_vars or {}).items()}, **_base_env(), **_identity_env(fn),
               "_HANDLER": binary}
        try:
            with _store.watch_lock:
                watch = functions().watch(env, name="emulator-lambda", function=binary)
            result = _invoke_watching_for_exit(watch, binary, event)
        except Exception as e:  # noqa: BLE001 - the runtime is unreachable: an invocation error
            result = {"errorType": "Runtime.ForwardingFailed", "errorMessage": f"{type(e).__name__}: {e}"}
        record.result = result
        record.errored = isinstance(result, dict) and {"errorType", "errorMessage"} <= set(result)
        return record
    finally:
        for listener in list(_store.listeners):
            try:
                listener(fn.account_id, fn.region, record)
            except Exception:  # noqa: BLE001 - a listener's failure is not the invocation's
                pass
        record.done.set()


def _invoke_watching_for_exit(watch, binary: str, event: Any) -> Any:
    """watch.invoke, but a function process that exits (it does not start, or it crashed) ends the invocation
    with Runtime.ExitError at once; cargo-lambda itself would leave the request hanging until the timeout."""
    mark = watch.mark()
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
            if watch.exited(mark):
                exited_at = time.time()
        elif time.time() - exited_at > 1.0:
            return {"errorType": "Runtime.ExitError",
                    "errorMessage": f"the process of {binary} exited (it does not start, or it crashed): "
                                    f"{watch.tail(mark)}"}
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


# ---------------------------------------------------------------------------------------------------------------
# Asynchronous work, started once the request that caused it has been answered


def run_later(job, name: str) -> None:
    """Runs `job()` in its own thread: once the request being handled on this thread has been answered, or now
    when this thread is not handling one."""

    def guarded():
        try:
            job()
        except Exception:  # noqa: BLE001
            log.exception("asynchronous %s failed", name)

    thread = threading.Thread(target=guarded, name=f"emulator-{name}", daemon=True)
    deferred = getattr(_store.local, "deferred", None)
    if deferred is not None:
        deferred.append(thread)
    else:
        thread.start()


def invoke_async(fn, event: Any, source: str, after=None) -> None:
    """Invokes `fn` later, in its own thread, through `LambdaFunction.invoke` (as moto itself does, so a test
    that stands in for `invoke` sees these invocations too); `after(record)` runs once it is forwarded."""
    body = event if isinstance(event, (str, bytes)) else json.dumps(event)

    def job():
        _store.local.context = (source, after)
        try:
            fn.invoke(body, {}, {})
        finally:
            _store.local.context = None

    run_later(job, f"invoke-{fn.function_name}")


def _invoke_lambda(self, event=None):
    """Replaces moto's Docker runner: (payload, errored, logs) of the forwarded invocation."""
    source, after = getattr(_store.local, "context", None) or ("invoke", None)
    record = _forward(self, event, source)
    if after is not None:
        after(record)
    return _payload(record), record.errored, ""


# ---------------------------------------------------------------------------------------------------------------


def install(emulator) -> None:
    _store.emulator = emulator

    from moto.awslambda.models import LambdaFunction
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication

    # every invocation ends here (moto's own, and ours from the background)
    LambdaFunction._invoke_lambda = _invoke_lambda

    original_invoke = LambdaFunction.invoke

    def invoke(self, body, request_headers, response_headers):
        headers = request_headers or {}
        inv_type = headers.get("x-amz-invocation-type") or headers.get("X-Amz-Invocation-Type") or "RequestResponse"
        if inv_type == "Event":
            invoke_async(self, body or "{}", "event")
            return b""
        if inv_type == "DryRun":
            return b""
        payload = original_invoke(self, body, request_headers, response_headers)
        if response_headers.get("x-amz-function-error"):
            # moto says Handled; Lambda reports an error returned by a (custom) runtime as Unhandled
            response_headers["x-amz-function-error"] = "Unhandled"
        return payload

    LambdaFunction.invoke = invoke

    # asynchronous work starts after the request that caused it
    original_call = DomainDispatcherApplication.__call__

    def __call__(self, environ, start_response):
        _store.local.deferred = []
        try:
            return original_call(self, environ, start_response)
        finally:
            deferred, _store.local.deferred = _store.local.deferred, None
            for thread in deferred:
                thread.start()

    DomainDispatcherApplication.__call__ = __call__

    from harness.emulator import on_reset

    on_reset(_store.reset)
