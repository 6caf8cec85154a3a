"""The product's real binaries behind cargo-lambda's Lambda runtime API, invoked over its HTTP invoke API.

Build once (`cargo build --workspace --bins --examples`, done by `make test` before pytest). Each function with
its own environment gets its own `cargo lambda watch --only-lambda-apis` (the runtime and invoke APIs, as Lambda
serves them) and its own function process, which the harness starts from `target/debug` exactly as cargo-lambda
would (the same `AWS_LAMBDA_*` environment), and starts again after it exited. Letting cargo-lambda start it
instead runs `cargo run` each time: 1.3 s of CPU per start against 0.16 s, on hundreds of starts per test run."""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

from harness.emulator import free_port

ROOT = Path(__file__).resolve().parents[2]
LOG_DIR = ROOT / ".run" / "logs"


def binary_path(binary: str, example: bool = False) -> Path:
    """Where `make build` put a binary (or an example) of the workspace."""
    target = Path(os.environ.get("CARGO_TARGET_DIR") or ROOT / "target")
    return target / "debug" / ("examples" if example else "") / binary


def cargo_lambda() -> list[str]:
    venv = ROOT / ".venv" / "bin" / "cargo-lambda"
    if venv.exists():
        return [str(venv), "lambda"]
    found = shutil.which("cargo-lambda")
    if found:
        return [found, "lambda"]
    return ["cargo", "lambda"]


class Watch:
    """One `cargo lambda watch` process with a fixed environment for its functions."""

    def __init__(self, env: dict[str, str], name: str = "functions", timeout: int = 3600, extra_args: tuple[str, ...] = ()):
        self.port = free_port()
        LOG_DIR.mkdir(parents=True, exist_ok=True)
        self.log_path = LOG_DIR / f"{name}-{self.port}.log"
        self._log = open(self.log_path, "wb")
        full_env = {**os.environ, **env}
        full_env.setdefault("AWS_LAMBDA_LOG_LEVEL", "info")
        full_env["PATH"] = f"{ROOT / '.venv' / 'bin'}:{full_env.get('PATH', '')}"
        self.proc = subprocess.Popen(
            [*cargo_lambda(), "watch", "--ignore-changes", "-q", "-A", "127.0.0.1", "-P", str(self.port),
             # how long an invoke request waits, and how long an idle function may wait for its next event:
             # past it cargo-lambda answers that wait without a request id and the function process dies.
             # (functions always see a 600 s deadline under cargo-lambda)
             "--timeout", str(timeout), *extra_args],
            cwd=ROOT,
            env=full_env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # so stop() ends the functions it started too
        )
        self._wait_up()

    def _wait_up(self, timeout: float = 60) -> None:
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"cargo lambda watch exited: {self.log_path.read_text()[-2000:]}")
            try:
                # a bare connect: an HTTP request would start a function
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("cargo lambda watch did not come up")

    def invoke(self, function: str, event, timeout: float = 120) -> dict:
        """Invokes `function` (a binary name) with `event` (JSON-able, or bytes sent as they are)."""
        data = event if isinstance(event, bytes) else json.dumps(event).encode()
        req = urllib.request.Request(
            f"http://127.0.0.1:{self.port}/2015-03-31/functions/{function}/invocations",
            data=data,
            method="POST",
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                body = resp.read()
        except urllib.error.HTTPError as e:
            body = e.read()
        try:
            return json.loads(body) if body else {}
        except ValueError:
            return {"raw": body.decode(errors="replace")}

    def logs(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        stop_group(self.proc)
        self._log.close()


class Served(Watch):
    """One function: cargo-lambda serves the Lambda APIs (`--only-lambda-apis`) and this starts the built binary
    (or example) with the environment cargo-lambda gives the processes it starts — `instances` of them, each started
    again before the next invocation once it exited."""

    def __init__(self, env: dict[str, str], function: str, name: str = "functions", timeout: int = 3600,
                 command: list[str] | None = None, instances: int = 1):
        super().__init__(env, name, timeout, ("--only-lambda-apis",))
        self.function = function
        self.command = command or [str(binary_path(function))]
        # `_` is cargo-lambda's default function, served at the root of its runtime API
        runtime_api = f"http://127.0.0.1:{self.port}/.rt" + ("" if function == "_" else f"/{function}")
        self._env = {**os.environ, "AWS_LAMBDA_LOG_LEVEL": "info", "_HANDLER": function, **env,
                     "AWS_LAMBDA_RUNTIME_API": runtime_api,
                     "AWS_LAMBDA_FUNCTION_NAME": function, "AWS_LAMBDA_FUNCTION_VERSION": "1",
                     "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "4096", "AWS_LAMBDA_MAX_CONCURRENCY": "1"}
        self._procs: list[subprocess.Popen | None] = [None] * instances
        self._procs_lock = threading.Lock()
        self.ready()

    def ready(self) -> list[subprocess.Popen]:
        """Starts every instance that is not running; returns them all."""
        with self._procs_lock:
            for i, proc in enumerate(self._procs):
                if proc is not None and proc.poll() is not None:
                    self._log.write(f"{self.function} exited with code {proc.returncode}; starting it "
                                    "again\n".encode())
                    self._log.flush()
                if proc is None or proc.poll() is not None:
                    self._procs[i] = subprocess.Popen(
                        self.command, cwd=ROOT, env={**self._env, "AWS_LAMBDA_INSTANCE_ID": str(uuid.uuid4())},
                        stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)
            return list(self._procs)

    def invoke(self, function: str, event, timeout: float = 120) -> dict:
        if function != self.function:
            raise ValueError(f"this watch serves {self.function}, not {function}")
        self.ready()
        return super().invoke(function, event, timeout=timeout)

    def mark(self) -> tuple[int, list[subprocess.Popen]]:
        """Where an invocation starts (the log's end, the running instances), for `exited` and `tail`."""
        return (self.log_path.stat().st_size if self.log_path.exists() else 0), self.ready()

    def exited(self, mark) -> bool:
        """Whether an instance that ran at `mark` has exited (it does not start, or it crashed)."""
        return any(p.poll() is not None for p in mark[1])

    def tail(self, mark, limit: int = 1500) -> str:
        """What the log gained since `mark`, its last `limit` characters."""
        with open(self.log_path, "rb") as f:
            f.seek(mark[0])
            return f.read().decode(errors="replace")[-limit:]

    def pids(self) -> list[int]:
        """The running instances."""
        with self._procs_lock:
            return [p.pid for p in self._procs if p is not None and p.poll() is None]

    def stop(self) -> None:
        with self._procs_lock:
            for proc in self._procs:
                if proc is not None:
                    stop_group(proc)
        super().stop()


class Example(Served):
    """A crate's example, built by `make build` (`--examples`), as cargo-lambda's default function `_` (it serves
    only the workspace's binaries by name)."""

    def __init__(self, env: dict[str, str], example: str, name: str = "example"):
        super().__init__({"_HANDLER": example, **env}, "_", f"{name}-{example}",
                         command=[str(binary_path(example, example=True))])

    def invoke(self, event, timeout: float = 120) -> dict:  # type: ignore[override]
        return super().invoke(self.function, event, timeout=timeout)


def stop_group(proc: subprocess.Popen) -> None:
    """Ends `proc`, started in a session of its own, and every process it started: SIGTERM, then SIGKILL after 10 s."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


class Router:
    """`Functions.watch(env)` without a function: invokes any function, each through its own `Served`."""

    def __init__(self, functions: "Functions", extra_env: dict[str, str] | None, name: str | None):
        self._functions, self._env, self._name = functions, extra_env, name

    def invoke(self, function: str, event, timeout: float = 120) -> dict:
        return self._functions.watch(self._env, self._name, function).invoke(function, event, timeout=timeout)


class Functions:
    """Function servers started on first use and all stopped together: one per (environment, function), as
    each Lambda function has its own environment and its own processes — a function whose process misbehaves
    cannot hold up the others."""

    def __init__(self, base_env: dict[str, str], name: str = "functions", instances: int = 1):
        self.base_env = base_env
        self.name = name
        self.instances = instances  # function processes per server (Lambda's concurrency)
        self._watches: dict[tuple, Served] = {}
        self._lock = threading.Lock()

    def watch(self, extra_env: dict[str, str] | None = None, name: str | None = None,
              function: str | None = None) -> Served | Router:
        """The server of `function` with this environment; without a function, a `Router` to any of them."""
        if function is None:
            return Router(self, extra_env, name)
        env = {**self.base_env, **(extra_env or {})}
        key = (function, tuple(sorted(env.items())))
        label = name or self.name
        with self._lock:  # two first calls must not start two servers
            if key not in self._watches:
                self._watches[key] = Served(env, function, f"{label}-{function}", instances=self.instances)
            return self._watches[key]

    def invoke(self, function: str, event, extra_env: dict[str, str] | None = None, timeout: float = 120) -> dict:
        return self.watch(extra_env, function=function).invoke(function, event, timeout=timeout)

    def logs(self) -> str:
        return "\n".join(w.logs() for w in self._watches.values())

    def log_paths(self) -> list[Path]:
        """The log file of each server started so far."""
        with self._lock:
            return [w.log_path for w in self._watches.values()]

    def stop(self) -> None:
        for w in self._watches.values():
            w.stop()
        self._watches.clear()

    def processes(self) -> dict[str, list[int]]:
        """Function binary name → pids of its running instances, under every server."""
        found: dict[str, list[int]] = {}
        for w in self._watches.values():
            found.setdefault(w.function, []).extend(w.pids())
        return found


def peak_rss_kib(pid: int) -> int:
    """VmHWM: the most resident memory the process ever had."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0
