"""Counts every request the emulator serves, by service and operation, and the time moto spent on them.

Installed by wrapping moto's WSGI entry (`DomainDispatcherApplication.__call__`) after the harness extensions
have wrapped it: what is counted is what reached the emulator, whoever sent it (our binaries, the Python peer,
the AWS CLI, the raw-HTTP floor). Requests to moto's own `/moto-api` (reset) are not counted.
"""
from __future__ import annotations

import threading
import time
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from urllib.parse import parse_qs

_lock = threading.Lock()
_window: "Window | None" = None
_installed = False


@dataclass
class Window:
    ops: Counter = field(default_factory=Counter)
    busy_s: float = 0.0  # time with at least one request inside moto (overlapping requests counted once)
    errors: Counter = field(default_factory=Counter)
    intervals: list = field(default_factory=list)

    def spent(self, start: float, end: float) -> None:
        """The time of a request already counted."""
        self.intervals.append((start, end))

    def close(self) -> None:
        busy, reach = 0.0, float("-inf")
        for start, end in sorted(self.intervals):
            if end > reach:
                busy += end - max(start, reach)
                reach = end
        self.busy_s = busy

    @property
    def total(self) -> int:
        return sum(self.ops.values())

    def by_service(self) -> dict[str, int]:
        out: Counter = Counter()
        for op, n in self.ops.items():
            out[op.split(":", 1)[0]] += n
        return dict(out)

    def as_dict(self) -> dict:
        return {"total": self.total, "operations": dict(sorted(self.ops.items())),
                "emulator_busy_ms": round(self.busy_s * 1e3, 1),
                **({"errors": dict(self.errors)} if self.errors else {})}


# S3's REST operations, told apart by method, subresource and whether a key is present
_S3_SUBRESOURCES = ("tagging", "versioning", "encryption", "cors", "notification", "publicAccessBlock",
                    "delete", "uploads", "uploadId", "acl", "policy", "location", "versions", "lifecycle")


def _s3_operation(environ) -> str:
    method = environ.get("REQUEST_METHOD", "GET")
    path = environ.get("PATH_INFO", "/").lstrip("/")
    query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
    has_key = "/" in path and path.split("/", 1)[1] != ""
    sub = next((s for s in _S3_SUBRESOURCES if s in query), None)
    noun = "Object" if has_key else "Bucket"
    if sub == "delete" and method == "POST":
        return "DeleteObjects"
    if sub == "versions":
        return "ListObjectVersions"
    if sub == "tagging":
        return {"GET": f"Get{noun}Tagging", "PUT": f"Put{noun}Tagging", "DELETE": f"Delete{noun}Tagging"}.get(method, method)
    if sub:
        prefix = {"GET": "Get", "PUT": "Put", "DELETE": "Delete", "POST": "Post"}.get(method, method)
        return f"{prefix}{noun}{sub[0].upper()}{sub[1:]}"
    if not has_key:
        if method == "GET":
            return "ListObjectsV2" if query.get("list-type") == ["2"] else ("ListBuckets" if not path else "ListObjects")
        return {"PUT": "CreateBucket", "DELETE": "DeleteBucket", "HEAD": "HeadBucket"}.get(method, method)
    if method == "PUT":
        return "CopyObject" if environ.get("HTTP_X_AMZ_COPY_SOURCE") else "PutObject"
    return {"GET": "GetObject", "HEAD": "HeadObject", "DELETE": "DeleteObject"}.get(method, method)


def _service(environ) -> str:
    auth = environ.get("HTTP_AUTHORIZATION", "")
    try:
        scope = auth.split("Credential=", 1)[1].split(",", 1)[0]
        return scope.split("/")[3]
    except IndexError:
        return "s3"  # unsigned: moto's default service, which is where the raw-HTTP floor goes


def classify(environ) -> str:
    service = _service(environ)
    target = environ.get("HTTP_X_AMZ_TARGET")
    if target:
        return f"{service}:{target.rsplit('.', 1)[-1]}"
    if service == "s3":
        return f"s3:{_s3_operation(environ)}"
    # query protocol (IAM, STS…): Action in the form body; read it and put it back for moto
    if environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded"):
        import io

        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
        action = parse_qs(body.decode("utf-8", "replace")).get("Action", ["?"])[0]
        return f"{service}:{action}"
    action = parse_qs(environ.get("QUERY_STRING", "")).get("Action")
    return f"{service}:{action[0] if action else environ.get('REQUEST_METHOD')}"


_local = threading.local()


def install() -> None:
    """Wraps moto's HTTP request handler and dispatcher (call after `emulator.start()`, which installs the
    harness extensions). A request's time runs from its parsed headers to its last response byte written:
    moto's own work and its HTTP layer, not the client's."""
    global _installed
    if _installed:
        return
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler

    inner_call = DomainDispatcherApplication.__call__

    def __call__(self, environ, start_response):
        if _window is None or environ.get("PATH_INFO", "").startswith("/moto-api"):
            return inner_call(self, environ, start_response)
        _local.op = classify(environ)
        # counted as it arrives, not when its last byte is written: the client may have its answer (and the window
        # be closed) before this thread gets back to record it, and the request would be missed
        with _lock:
            _local.window = _window
            if _window is not None:
                _window.ops[_local.op] += 1

        def recording_start_response(status, headers, *exc):
            _local.status = status
            return start_response(status, headers, *exc)

        return inner_call(self, environ, recording_start_response)

    inner_run = MotoRequestHandler.run_wsgi

    def run_wsgi(self):
        _local.op, _local.status, _local.window = None, None, None
        t = time.perf_counter()
        try:
            return inner_run(self)
        finally:
            end = time.perf_counter()
            op, status, w = _local.op, _local.status, _local.window
            if op is not None and w is not None:
                with _lock:
                    w.spent(t, end)
                    if status and not status.startswith(("2", "3")):
                        w.errors[f"{op} {status.split()[0]}"] += 1

    DomainDispatcherApplication.__call__ = __call__
    MotoRequestHandler.run_wsgi = run_wsgi
    _installed = True


@contextmanager
def counting():
    """Counts the requests served while the block runs (one window at a time)."""
    global _window
    w = Window()
    with _lock:
        _window = w
    try:
        yield w
    finally:
        with _lock:
            _window = None
        w.close()
