"""The product's real binaries, served by `cargo lambda watch` and invoked over its HTTP invoke API.

Build once (`cargo build --workspace --bins`, done by `make test` before pytest); watch runs them with
`cargo run`, which finds them up to date (it would rebuild after a source change). One watch process per
distinct environment, as each Lambda function has its own."""
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
from pathlib import Path

from harness.emulator import free_port

ROOT = Path(__file__).resolve().parents[2]
LOG_DIR = ROOT / ".run" / "logs"


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


class Example(Watch):
    """A crate's example (`cargo run --example NAME`) behind cargo-lambda's runtime API. `cargo lambda watch` starts
    only the workspace's binaries, by name; for an example it serves the APIs alone (`--only-lambda-apis`) and this
    starts the function, which takes every invocation of the default function `_`."""

    def __init__(self, env: dict[str, str], example: str, name: str = "example"):
        super().__init__(env, f"{name}-{example}", extra_args=("--only-lambda-apis",))
        function_env = {**os.environ, **env, "AWS_LAMBDA_RUNTIME_API": f"http://127.0.0.1:{self.port}/.rt",
                        "AWS_LAMBDA_FUNCTION_NAME": "_", "AWS_LAMBDA_FUNCTION_VERSION": "1",
                        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128"}
        self.function = subprocess.Popen(["cargo", "run", "--quiet", "--locked", "--example", example], cwd=ROOT,
                                         env=function_env, stdout=self._log, stderr=subprocess.STDOUT,
                                         start_new_session=True)

    def invoke(self, event, timeout: float = 120) -> dict:  # type: ignore[override]
        return super().invoke("_", event, timeout=timeout)

    def stop(self) -> None:
        stop_group(self.function)
        super().stop()


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


class Functions:
    """Watch processes started on first use and all stopped together: one per (environment, function), as
    each Lambda function has its own environment and its own processes — a function whose process misbehaves
    (cargo-lambda's scheduler stalls while it restarts a crashed one) cannot hold up the others."""

    def __init__(self, base_env: dict[str, str], name: str = "functions", extra_args: tuple[str, ...] = ()):
        self.base_env = base_env
        self.name = name
        self.extra_args = extra_args  # more `cargo lambda watch` arguments, e.g. ("--concurrency", "2")
        self._watches: dict[tuple, Watch] = {}
        self._lock = threading.Lock()

    def watch(self, extra_env: dict[str, str] | None = None, name: str | None = None, function: str | None = None) -> Watch:
        env = {**self.base_env, **(extra_env or {})}
        key = (function, tuple(sorted(env.items())))
        label = name or self.name
        with self._lock:  # two first calls must not start two servers
            if key not in self._watches:
                self._watches[key] = Watch(env, f"{label}-{function}" if function else label, extra_args=self.extra_args)
            return self._watches[key]

    def invoke(self, function: str, event, extra_env: dict[str, str] | None = None, timeout: float = 120) -> dict:
        return self.watch(extra_env, function=function).invoke(function, event, timeout=timeout)

    def logs(self) -> str:
        return "\n".join(w.logs() for w in self._watches.values())

    def log_paths(self) -> list[Path]:
        """The log file of each watch started so far."""
        with self._lock:
            return [w.log_path for w in self._watches.values()]

    def stop(self) -> None:
        for w in self._watches.values():
            w.stop()
        self._watches.clear()
