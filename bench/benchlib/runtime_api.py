"""A fake Lambda Runtime API (the 2018-06-01 interface a custom runtime polls) and a driver for one function
process behind it — the same for our Rust binaries and for the Python peer under `python -m awslambdaric`.

Each process gets its own server, so a killed process's pending long-poll can never take the next process's
event. The event may be queued before the process starts (a cold start: Lambda has the event waiting when the
runtime first polls), or while the process waits in `/next` (a warm invocation).
"""
from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

PREFIX = "/2018-06-01/runtime"


@dataclass
class Invocation:
    request_id: str
    event: dict
    deadline_ms: int
    t_queued: float
    t_taken: float | None = None      # the process fetched it from /next
    t_result: float | None = None     # POST …/response or …/error
    outcome: str | None = None        # "response" | "error"
    body: bytes = b""
    done: threading.Event = field(default_factory=threading.Event)

    def json(self):
        try:
            return json.loads(self.body) if self.body else None
        except ValueError:
            return {"raw": self.body.decode(errors="replace")}


class RuntimeApi:
    def __init__(self, function_arn: str):
        self.function_arn = function_arn
        self._pending: queue.Queue[Invocation] = queue.Queue()
        self._by_id: dict[str, Invocation] = {}
        self._closed = False
        self.polls: list[float] = []        # when /next was called (perf_counter)
        self.idle = threading.Event()        # set while the process waits in /next
        self.init_errors: list[bytes] = []
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # one write per response, and no Nagle: headers and body written apart stall ~40 ms on a
            # long-lived connection (delayed ACK), which Lambda's own runtime API does not do
            wbufsize = 1 << 16
            disable_nagle_algorithm = True

            def _reply(self, code: int, body: bytes = b"", headers: dict | None = None):
                self.send_response(code)
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                try:
                    self.end_headers()
                    if body:
                        self.wfile.write(body)
                    self.wfile.flush()
                except OSError:
                    pass  # the process is gone (stopped while it waited in /next)

            def _body(self) -> bytes:
                n = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(n) if n else b""

            def do_GET(self):  # noqa: N802
                if self.path != f"{PREFIX}/invocation/next":
                    return self._reply(404)
                api.polls.append(time.perf_counter())
                api.idle.set()
                while True:
                    try:
                        inv = api._pending.get(timeout=0.2)
                        break
                    except queue.Empty:
                        if api._closed:
                            return self._reply(500, b'{"errorType":"ShuttingDown"}')
                api.idle.clear()
                inv.t_taken = time.perf_counter()
                self._reply(200, json.dumps(inv.event).encode(), {
                    "Content-Type": "application/json",
                    "Lambda-Runtime-Aws-Request-Id": inv.request_id,
                    "Lambda-Runtime-Deadline-Ms": str(inv.deadline_ms),
                    "Lambda-Runtime-Invoked-Function-Arn": api.function_arn,
                    "Lambda-Runtime-Trace-Id": f"Root=1-{uuid.uuid4().hex[:8]}-{uuid.uuid4().hex[:24]};Sampled=0",
                })

            def do_POST(self):  # noqa: N802
                body = self._body()
                parts = self.path[len(PREFIX):].strip("/").split("/")
                if parts == ["init", "error"]:
                    api.init_errors.append(body)
                    return self._reply(202, b'{"status":"OK"}')
                if len(parts) == 3 and parts[0] == "invocation" and parts[2] in ("response", "error"):
                    inv = api._by_id.get(parts[1])
                    if inv is None:
                        return self._reply(400, b'{"errorType":"InvalidRequestID"}')
                    inv.t_result, inv.outcome, inv.body = time.perf_counter(), parts[2], body
                    inv.done.set()
                    return self._reply(202, b'{"status":"OK"}')
                return self._reply(404)

            def log_message(self, *args):
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request, client_address):
                pass  # a process killed mid-request; nothing to report

        self._server = Server(("127.0.0.1", 0), Handler)
        self.address = f"127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def enqueue(self, event: dict, timeout_s: float = 900) -> Invocation:
        inv = Invocation(str(uuid.uuid4()), event, int((time.time() + timeout_s) * 1000), time.perf_counter())
        self._by_id[inv.request_id] = inv
        self._pending.put(inv)
        return inv

    def close(self) -> None:
        self._closed = True
        self._server.shutdown()
        self._server.server_close()


def lambda_env(name: str) -> dict[str, str]:
    """What Lambda's environment always holds for a function (runtimes read some of it at start)."""
    return {
        "AWS_LAMBDA_FUNCTION_NAME": name,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{name}",
        "AWS_LAMBDA_LOG_STREAM_NAME": "2026/01/01/[$LATEST]bench",
        "AWS_LAMBDA_LOG_LEVEL": "info",
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
    }


def plain_env(home: Path) -> dict[str, str]:
    """A Lambda-like base environment, not this machine's (which sets SSL_CERT_DIR — making rustls read every
    file of /etc/ssl/certs —, PYTHONDONTWRITEBYTECODE, RUST_BACKTRACE…). HOME is an empty folder: no ~/.aws."""
    home.mkdir(parents=True, exist_ok=True)
    return {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "TZ": ":UTC", "HOME": str(home)}


def proc_status(pid: int) -> dict[str, int]:
    """VmHWM (peak resident set) and VmRSS of a live process, in kB."""
    out = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmHWM", "VmRSS"):
                out[key] = int(value.split()[0])
    except (OSError, ValueError, IndexError):
        pass
    return out


class FunctionProcess:
    """One function process behind its own runtime API. `event` (if given) is queued before the process
    starts: its invocation is the cold start."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log_path: Path, cwd: str | None = None,
                 event: dict | None = None):
        self.name = name
        self.api = RuntimeApi(f"arn:aws:lambda:us-east-1:123456789012:function:{name}")
        self.cold: Invocation | None = self.api.enqueue(event) if event is not None else None
        full_env = plain_env(log_path.parent.parent / "home")
        full_env.update(lambda_env(name))
        full_env.update(env)
        full_env["AWS_LAMBDA_RUNTIME_API"] = self.api.address
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(log_path, "ab")
        self.t_start = time.perf_counter()
        self.proc = subprocess.Popen(argv, env=full_env, cwd=cwd, stdout=self._log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)

    def wait_idle(self, timeout: float = 60) -> None:
        """Until the process waits in /next (its init is done, or its last invocation is answered)."""
        deadline = time.time() + timeout
        while not self.api.idle.wait(0.05):
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode} (see its log)")
            if time.time() > deadline:
                raise TimeoutError(f"{self.name} did not reach /next within {timeout}s")

    def invoke(self, event: dict, timeout: float = 600) -> Invocation:
        self.wait_idle()
        inv = self.api.enqueue(event)
        self.wait(inv, timeout)
        return inv

    def wait(self, inv: Invocation, timeout: float = 600) -> Invocation:
        deadline = time.time() + timeout
        while not inv.done.wait(0.05):
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode} during an invocation")
            if time.time() > deadline:
                raise TimeoutError(f"{self.name}: no result within {timeout}s")
        return inv

    def memory(self) -> dict[str, int]:
        """Peak and current RSS, read while the process is still alive (waiting in /next)."""
        self.wait_idle()
        return proc_status(self.proc.pid)

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(timeout=10)
        self.api.close()
        self._log.close()
