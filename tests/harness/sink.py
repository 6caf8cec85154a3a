"""A stand-in for CloudFormation's S3 response URLs: records every PUT and checks the custom-resource contract
on each one (method, empty Content-Type, exact length, ≤ 4,096 bytes, echoed ids, PhysicalResourceId rules,
Status/Reason). Each invocation gets its own URL, so "exactly one response per invocation" is checkable."""
from __future__ import annotations

import json
import threading
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MAX_BODY = 4096


@dataclass
class Put:
    method: str
    content_type: str | None
    content_length: int | None
    body: bytes

    def json(self) -> dict:
        return json.loads(self.body)


@dataclass
class Expectation:
    event: dict
    puts: list[Put] = field(default_factory=list)


class ContractError(AssertionError):
    pass


def check_contract(put: Put, event: dict) -> dict:
    """Raises ContractError unless `put` is a valid response to `event`; returns the parsed body."""
    problems = []
    if put.method != "PUT":
        problems.append(f"method {put.method}")
    if put.content_type not in (None, ""):
        problems.append(f"Content-Type {put.content_type!r} (must be empty)")
    if put.content_length != len(put.body):
        problems.append(f"Content-Length {put.content_length} for {len(put.body)} bytes")
    if len(put.body) > MAX_BODY:
        problems.append(f"body of {len(put.body)} bytes")
    try:
        body = put.json()
    except ValueError as e:
        raise ContractError(f"body is not JSON: {e}") from e
    for echoed in ("StackId", "RequestId", "LogicalResourceId"):
        if body.get(echoed) != event.get(echoed):
            problems.append(f"{echoed} {body.get(echoed)!r} != {event.get(echoed)!r}")
    pid = body.get("PhysicalResourceId")
    if not isinstance(pid, str) or not pid or len(pid.encode()) > 1024:
        problems.append(f"PhysicalResourceId {pid!r}")
    if event.get("RequestType") in ("Update", "Delete") and event.get("PhysicalResourceId"):
        if body.get("Status") == "FAILED" or event["RequestType"] == "Delete":
            if pid != event["PhysicalResourceId"]:
                problems.append(f"{event['RequestType']} changed the id {event['PhysicalResourceId']} → {pid}")
    status = body.get("Status")
    if status not in ("SUCCESS", "FAILED"):
        problems.append(f"Status {status!r}")
    if status == "FAILED" and not body.get("Reason"):
        problems.append("FAILED without a Reason")
    if problems:
        raise ContractError("; ".join(problems))
    return body


class ResponseSink:
    def __init__(self):
        self._lock = threading.Lock()
        self._expected: dict[str, Expectation] = {}
        self.violations: list[str] = []
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_PUT(self):  # noqa: N802
                length = self.headers.get("Content-Length")
                body = self.rfile.read(int(length)) if length else b""
                put = Put("PUT", self.headers.get("Content-Type"), int(length) if length else None, body)
                sink._record(self.path, put)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_POST(self):  # noqa: N802
                sink.violations.append(f"POST to {self.path}")
                self.send_response(405)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def _record(self, path: str, put: Put) -> None:
        token = path.split("?")[0].rsplit("/", 1)[-1]
        with self._lock:
            exp = self._expected.get(token)
            if exp is None:
                self.violations.append(f"PUT to unknown URL {path}")
                return
            exp.puts.append(put)
            if len(exp.puts) > 1:
                self.violations.append(f"{len(exp.puts)} responses to one invocation ({exp.event.get('RequestType')})")
            try:
                check_contract(put, exp.event)
            except ContractError as e:
                self.violations.append(str(e))

    def address(self, event: dict) -> tuple[dict, str]:
        """Gives `event` its own ResponseURL (with a fake signature, which must never be logged)."""
        token = uuid.uuid4().hex
        event = dict(event)
        event["ResponseURL"] = f"http://127.0.0.1:{self.port}/cfn-response/{token}?X-Amz-Signature=SIGNATURE-{token}"
        with self._lock:
            self._expected[token] = Expectation(event)
        return event, token

    def responses(self, token: str) -> list[Put]:
        with self._lock:
            return list(self._expected[token].puts)

    def response(self, token: str) -> dict:
        """The one response for this invocation, contract-checked."""
        puts = self.responses(token)
        assert len(puts) == 1, f"expected exactly one response, got {len(puts)}"
        return check_contract(puts[0], self._expected[token].event)

    def checked(self) -> int:
        with self._lock:
            return sum(len(e.puts) for e in self._expected.values())

    def stop(self) -> None:
        self._server.shutdown()
