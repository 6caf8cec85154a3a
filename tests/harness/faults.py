"""Faults on purpose: a proxy in front of the emulator that fails AWS requests the way AWS does, and a response
sink stand-in that refuses, fails or hangs — both on loopback only, both replayable.

`FaultProxy(upstream)` forwards every request to the emulator. For each request it names the AWS operation
(`X-Amz-Target` for JSON services, `Action=` for query services such as IAM, method + path + query for S3) and
decides, at a configurable rate, to answer instead with:

- `http500` / `http503`: a server error in the service's own shape (IAM: `ServiceFailure` / `ServiceUnavailable`
  query XML; JSON services: `InternalFailure` / `ServiceUnavailable`; S3: `InternalError` / `ServiceUnavailable`);
- `throttle`: IAM `Throttling` (400, query XML), JSON `ThrottlingException` (400), S3 `SlowDown` (503, XML);
- `drop`: the connection closed without an answer;
- `http500-after` / `drop-after`: the request reaches the emulator and takes effect, then the caller gets a 500
  or a dropped connection — the case that tests idempotency, as the caller retries something already done;

and, independently, adds latency to some requests. Decisions are seeded and replayable: each is a hash of the
seed, the request's content (service, operation, method, path, body — never headers, which carry dates and
signatures — with the ids the emulator makes up each run masked) and how many times that same request was seen
before. The same seed and the same requests give the same faults whatever the interleaving of concurrent
requests, so a failing run replays with `FAULT_SEED`.

`Listener` records any connection made to it.

Deterministic rules (`proxy.rule(...)`) fail chosen requests every time, for tests that need one exact fault;
they may also answer `denied` (AccessDenied in the service's shape: a failure no retry changes).

`FaultySink(sink)` stands where CloudFormation's S3 response URL is: per invocation, a plan says what each PUT
attempt gets (`500`, `503`, `403`, `hang`, `drop`, `pass`); `pass` forwards the PUT unchanged to the real
`ResponseSink`, which records it and checks the protocol as always.
"""
from __future__ import annotations

import hashlib
import http.client
import json
import random
import re
import socket
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from harness.sink import ResponseSink

FAILING_KINDS = ("http500", "http503", "throttle", "drop", "http500-after", "drop-after", "denied")
#: how often each failing kind is chosen when a request is to fail (relative weights)
DEFAULT_MIX = {"http500": 2, "http503": 2, "throttle": 3, "drop": 1, "http500-after": 1, "drop-after": 1}
HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade",
              "expect"}


# --------------------------------------------------------------------------------------------- naming requests


def service_of(headers) -> str:
    """The signing name from SigV4's credential scope: `Credential=AKID/date/region/<service>/aws4_request`."""
    auth = headers.get("Authorization") or ""
    marker = "Credential="
    if marker in auth:
        scope = auth.split(marker, 1)[1].split(",", 1)[0].split("/")
        if len(scope) >= 5:
            return scope[3]
    if headers.get("X-Amz-Target"):
        return headers["X-Amz-Target"].split(".", 1)[0].split("_", 1)[0].lower()
    return "s3"


def protocol_of(service: str, headers) -> str:
    if service == "s3":
        return "rest-xml"
    if headers.get("X-Amz-Target"):
        return "json"
    return "query"


_S3_SUBRESOURCES = {
    "tagging": "Tagging", "versioning": "Versioning", "encryption": "Encryption", "cors": "Cors",
    "notification": "NotificationConfiguration", "publicAccessBlock": "PublicAccessBlock", "policy": "Policy",
    "acl": "Acl", "lifecycle": "LifecycleConfiguration", "location": "Location",
}


def s3_operation(method: str, path: str, query: dict[str, list[str]], headers) -> str:
    """The S3 operation a REST request is (path-style addressing, as the functions use against an emulator)."""
    if "x-id" in query:  # the Rust SDK names many operations itself
        return query["x-id"][0]
    parts = path.lstrip("/").split("/", 1)
    on_object = len(parts) == 2 and parts[1] != ""
    if not parts[0]:
        return "ListBuckets"
    if method == "POST" and "delete" in query:
        return "DeleteObjects"
    if "uploads" in query:
        return "CreateMultipartUpload" if method == "POST" else "ListMultipartUploads"
    if "uploadId" in query:
        return {"PUT": "UploadPart", "POST": "CompleteMultipartUpload", "DELETE": "AbortMultipartUpload"}.get(
            method, "ListParts")
    for sub, name in _S3_SUBRESOURCES.items():
        if sub in query:
            verb = {"GET": "Get", "PUT": "Put", "DELETE": "Delete"}.get(method, method.title())
            return f"{verb}{'Object' if on_object else 'Bucket'}{name}"
    if on_object:
        if method == "PUT":
            return "CopyObject" if headers.get("x-amz-copy-source") else "PutObject"
        return {"GET": "GetObject", "HEAD": "HeadObject", "DELETE": "DeleteObject"}.get(method, method)
    if method == "GET":
        if "versions" in query:
            return "ListObjectVersions"
        return "ListObjectsV2" if query.get("list-type") == ["2"] else "ListObjects"
    return {"PUT": "CreateBucket", "HEAD": "HeadBucket", "DELETE": "DeleteBucket"}.get(method, method)


def operation_of(service: str, method: str, target: str, headers, body: bytes) -> str:
    url = urlsplit(target)
    if headers.get("X-Amz-Target"):
        return headers["X-Amz-Target"].rsplit(".", 1)[-1]
    if service == "s3":
        return s3_operation(method, url.path, parse_qs(url.query, keep_blank_values=True), headers)
    form = parse_qs(body.decode(errors="replace")) if body else {}
    action = form.get("Action") or parse_qs(url.query).get("Action")
    return action[0] if action else f"{method} {url.path}"


# --------------------------------------------------------------------------------------------- error shapes


def _xml_error(code: str, message: str, query_service: bool) -> bytes:
    rid = uuid.uuid4().hex
    if query_service:
        kind = "Sender" if code == "Throttling" else "Receiver"
        return (f'<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><Error><Type>{kind}</Type>'
                f"<Code>{code}</Code><Message>{message}</Message></Error><RequestId>{rid}</RequestId>"
                "</ErrorResponse>").encode()
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code><Message>{message}</Message>'
            f"<RequestId>{rid[:16].upper()}</RequestId><HostId>{rid}</HostId></Error>").encode()


def error_response(kind: str, protocol: str) -> tuple[int, dict[str, str], bytes]:
    """(status, headers, body) of a `http500`, `http503`, `throttle` or `denied` answer in the protocol's shape."""
    code, status, message = {
        ("http500", "query"): ("ServiceFailure", 500, "Internal failure (injected)"),
        ("http503", "query"): ("ServiceUnavailable", 503, "Service unavailable (injected)"),
        ("throttle", "query"): ("Throttling", 400, "Rate exceeded (injected)"),
        ("http500", "json"): ("InternalFailure", 500, "Internal failure (injected)"),
        ("http503", "json"): ("ServiceUnavailable", 503, "Service unavailable (injected)"),
        ("throttle", "json"): ("ThrottlingException", 400, "Rate exceeded (injected)"),
        ("http500", "rest-xml"): ("InternalError", 500, "We encountered an internal error (injected)"),
        ("http503", "rest-xml"): ("ServiceUnavailable", 503, "Service unavailable (injected)"),
        ("throttle", "rest-xml"): ("SlowDown", 503, "Please reduce your request rate (injected)"),
        ("denied", "query"): ("AccessDenied", 403, "not authorized (injected)"),
        ("denied", "json"): ("AccessDeniedException", 400, "not authorized (injected)"),
        ("denied", "rest-xml"): ("AccessDenied", 403, "Access Denied (injected)"),
    }[(kind, protocol)]
    rid = str(uuid.uuid4())
    if protocol == "json":
        body = json.dumps({"__type": code, "message": message}).encode()
        return status, {"Content-Type": "application/x-amz-json-1.1", "x-amzn-RequestId": rid,
                        "x-amzn-ErrorType": code}, body
    headers = {"Content-Type": "text/xml" if protocol == "query" else "application/xml",
               "x-amz-request-id" if protocol == "rest-xml" else "x-amzn-RequestId": rid}
    return status, headers, _xml_error(code, message, protocol == "query")


# --------------------------------------------------------------------------------------------- the proxy


#: ids the emulator makes up anew on every run (UUIDs, object version ids, domain ids): masked in a request's
#: identity, so that the same test with the same seed meets the same faults
_EMULATOR_IDS = re.compile(rb"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
                           rb"|(?<=versionId=)[^&\s]+|\bd-[a-z0-9]{12}\b")


@dataclass
class Rule:
    """Fails every request that matches, `times` times (None: always)."""
    kind: str
    service: str | None = None
    operation: str | None = None
    contains: bytes | None = None  # in the path or the body
    times: int | None = None
    hits: int = 0

    def matches(self, service: str, operation: str, target: str, body: bytes) -> bool:
        if self.times is not None and self.hits >= self.times:
            return False
        if self.service and self.service != service:
            return False
        if self.operation and self.operation != operation:
            return False
        if self.contains and self.contains not in target.encode() and self.contains not in body:
            return False
        return True


@dataclass
class Seen:
    service: str
    operation: str
    fault: str | None
    latency: float


@dataclass
class FaultProxy:
    """An HTTP proxy on 127.0.0.1 in front of `upstream` (the emulator's endpoint) that injects faults."""
    upstream: str
    seed: int = 0
    rate: float = 0.0
    mix: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_MIX))
    latency_rate: float = 0.0
    latency: tuple[float, float] = (0.05, 0.4)
    #: only these services get random faults (None: all)
    services: tuple[str, ...] | None = None

    def __post_init__(self):
        up = urlsplit(self.upstream)
        if up.hostname not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError("the fault proxy forwards to loopback only")
        self._up = (up.hostname, up.port)
        self._lock = threading.Lock()
        self._occurrences: Counter[str] = Counter()
        self.seen: list[Seen] = []
        self.rules: list[Rule] = []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):  # noqa: N802
                try:
                    proxy._handle(self)
                except (BrokenPipeError, ConnectionResetError):  # the caller gave up on this request
                    self.close_connection = True

            do_PUT = do_POST = do_DELETE = do_HEAD = do_PATCH = do_GET  # noqa: N815

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self.endpoint = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self._server.serve_forever, daemon=True, name="fault-proxy").start()

    # ---- configuration and results

    def rule(self, kind: str, **match) -> Rule:
        if kind not in FAILING_KINDS:
            raise ValueError(kind)
        r = Rule(kind, **match)
        with self._lock:
            self.rules.append(r)
        return r

    def clear(self) -> None:
        """Forget rules, counters and what was seen (the seed and rate stay)."""
        with self._lock:
            self.rules.clear()
            self._occurrences.clear()
            self.seen.clear()

    def faults(self) -> Counter:
        """Injected failures by kind."""
        with self._lock:
            return Counter(s.fault for s in self.seen if s.fault)

    def faults_by_operation(self) -> Counter:
        with self._lock:
            return Counter(f"{s.service}:{s.operation}" for s in self.seen if s.fault)

    def requests(self) -> int:
        with self._lock:
            return len(self.seen)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    # ---- deciding

    def _decide(self, service: str, operation: str, method: str, target: str, body: bytes) -> tuple[str | None, float]:
        content = b"\0".join([service.encode(), operation.encode(), method.encode(), target.encode(), body])
        identity = hashlib.sha256(_EMULATOR_IDS.sub(b"<id>", content)).hexdigest()
        with self._lock:
            for r in self.rules:
                if r.matches(service, operation, target, body):
                    r.hits += 1
                    return r.kind, 0.0
            n = self._occurrences[identity]
            self._occurrences[identity] += 1
        rng = random.Random(f"{self.seed}|{identity}|{n}")
        fault = None
        if (self.services is None or service in self.services) and rng.random() < self.rate:
            kinds = sorted(self.mix)
            fault = rng.choices(kinds, weights=[self.mix[k] for k in kinds])[0]
        delay = rng.uniform(*self.latency) if rng.random() < self.latency_rate else 0.0
        return fault, delay

    # ---- serving

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        body = _read_body(h)
        service = service_of(h.headers)
        operation = operation_of(service, h.command, h.path, h.headers, body)
        fault, delay = self._decide(service, operation, h.command, h.path, body)
        with self._lock:
            self.seen.append(Seen(service, operation, fault, delay))
        if delay:
            time.sleep(delay)
        if fault == "drop":
            return _drop(h)
        if fault in ("http500", "http503", "throttle", "denied"):
            return _answer(h, *error_response(fault, protocol_of(service, h.headers)))
        try:
            status, reason, headers, data = self._forward(h, body)
        except OSError as e:
            return _answer(h, 502, {"Content-Type": "text/plain"}, f"upstream: {e}".encode())
        if fault == "drop-after":
            return _drop(h)
        if fault == "http500-after":
            return _answer(h, *error_response("http500", protocol_of(service, h.headers)))
        _answer(h, status, headers, data, reason=reason)

    def _forward(self, h: BaseHTTPRequestHandler, body: bytes):
        conn = http.client.HTTPConnection(*self._up, timeout=120)
        try:
            headers = {k: v for k, v in h.headers.items() if k.lower() not in HOP_BY_HOP}
            if body or h.command in ("PUT", "POST"):
                headers = {k: v for k, v in headers.items() if k.lower() != "content-length"}
                headers["Content-Length"] = str(len(body))
            conn.request(h.command, h.path, body=body if body else None, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
            out = [(k, v) for k, v in resp.getheaders() if k.lower() not in HOP_BY_HOP]
            return resp.status, resp.reason, out, data
        finally:
            conn.close()


def _read_body(h: BaseHTTPRequestHandler) -> bytes:
    length = h.headers.get("Content-Length")
    if length is not None:
        return h.rfile.read(int(length))
    if "chunked" in (h.headers.get("Transfer-Encoding") or "").lower():
        chunks = []
        while True:
            size = int(h.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while h.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass
                return b"".join(chunks)
            chunks.append(h.rfile.read(size))
            h.rfile.readline()
    return b""


def _answer(h: BaseHTTPRequestHandler, status: int, headers, data: bytes, reason: str | None = None) -> None:
    items = headers.items() if isinstance(headers, dict) else headers
    h.send_response(status, reason)
    has_length = False
    for k, v in items:
        if k.lower() == "content-length":
            if h.command == "HEAD":  # a HEAD answer states the length of the body it does not carry
                h.send_header(k, v)
                has_length = True
            continue
        if k.lower() in ("date", "server"):
            continue
        h.send_header(k, v)
    if not has_length:
        h.send_header("Content-Length", str(len(data)))
    h.end_headers()
    if h.command != "HEAD":
        h.wfile.write(data)


def _drop(h: BaseHTTPRequestHandler) -> None:
    h.close_connection = True
    try:
        h.connection.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


# --------------------------------------------------------------------------------------------- the faulty sink


@dataclass
class Attempt:
    at: float
    behaviour: str
    status: int | None


class FaultySink:
    """A response URL that misbehaves on purpose, in front of the real `ResponseSink`.

    `address(event, plan)` gives the event a ResponseURL here; PUT attempt i gets `plan[i]` (the last entry
    repeats): `500`, `503`, `403` (answered so), `hang` (never answered: the connection is held open for
    `hang_seconds`), `drop` (closed without an answer) or `pass` (forwarded to the real sink, whose answer is
    returned)."""

    BEHAVIOURS = ("500", "503", "403", "hang", "drop", "pass")

    def __init__(self, sink: ResponseSink, hang_seconds: float = 90.0):
        self.sink = sink
        self.hang_seconds = hang_seconds
        self._lock = threading.Lock()
        self._plans: dict[str, list[str]] = {}
        self._attempts: dict[str, list[Attempt]] = {}
        self._stopping = threading.Event()
        faulty = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_PUT(self):  # noqa: N802
                try:
                    faulty._handle(self)
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True

            do_POST = do_GET = do_PUT  # noqa: N815

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True, name="faulty-sink").start()

    def address(self, event: dict, plan: list[str]) -> tuple[dict, str]:
        if not plan or any(b not in self.BEHAVIOURS for b in plan):
            raise ValueError(plan)
        addressed, token = self.sink.address(event)
        addressed["ResponseURL"] = addressed["ResponseURL"].replace(
            f"127.0.0.1:{self.sink.port}/", f"127.0.0.1:{self.port}/", 1)
        with self._lock:
            self._plans[token] = list(plan)
            self._attempts[token] = []
        return addressed, token

    def attempts(self, token: str) -> list[Attempt]:
        with self._lock:
            return list(self._attempts[token])

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        body = _read_body(h)
        token = h.path.split("?")[0].rsplit("/", 1)[-1]
        with self._lock:
            plan = self._plans.get(token, ["403"])
            attempts = self._attempts.setdefault(token, [])
            behaviour = plan[min(len(attempts), len(plan) - 1)]
            attempt = Attempt(time.monotonic(), behaviour, None)
            attempts.append(attempt)
        if behaviour == "hang":
            self._stopping.wait(self.hang_seconds)
            return _drop(h)
        if behaviour == "drop":
            return _drop(h)
        if behaviour == "pass":
            status, data = self._forward(h, body)
        else:
            status, data = int(behaviour), _xml_error(
                "AccessDenied" if behaviour == "403" else "InternalError", "injected", False)
        attempt.status = status
        _answer(h, status, {"Content-Type": "application/xml"}, data)

    def _forward(self, h: BaseHTTPRequestHandler, body: bytes) -> tuple[int, bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.sink.port, timeout=30)
        try:
            conn.putrequest(h.command, h.path, skip_accept_encoding=True)
            for k, v in h.headers.items():
                if k.lower() not in HOP_BY_HOP and k.lower() != "host":
                    conn.putheader(k, v)
            conn.endheaders(body)
            resp = conn.getresponse()
            return resp.status, resp.read()
        finally:
            conn.close()

    def stop(self) -> None:
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()


class Listener:
    """A loopback TCP listener that records every connection made to it (and answers nothing): proof that a
    refused ResponseURL was never contacted."""

    def __init__(self):
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(64)
        self._sock.settimeout(0.2)
        self.port = self._sock.getsockname()[1]
        self.connections: list[bytes] = []
        self._stop = threading.Event()
        threading.Thread(target=self._serve, daemon=True, name="listener").start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except (TimeoutError, socket.timeout, OSError):
                continue
            conn.settimeout(1)
            try:
                first = conn.recv(4096)
            except OSError:
                first = b""
            self.connections.append(first)
            conn.close()

    def stop(self) -> None:
        self._stop.set()
        self._sock.close()
