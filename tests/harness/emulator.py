"""moto, served in-process over HTTP on a free loopback port, with the harness extensions installed.

Extensions are modules `harness/ext_*.py` with an `install(emulator)` function; each patches moto before it
serves, to add what moto 5.2.5 lacks (see README: "What the emulator lacks"). `start` installs every one, once per
process, in name order except that an extension naming others in `REQUIRES` (a tuple of module names) is installed
after them. An extension that keeps state keeps it in one object of its own and registers one `on_reset` hook that
clears it with moto's.
"""
from __future__ import annotations

import importlib
import os
import pkgutil
import socket
import urllib.request

import boto3
from botocore.config import Config

REGION = "us-east-1"
ACCOUNT_ID = "123456789012"  # moto's default account

_installed = False


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Emulator:
    """A running moto server. `client(service)` returns a boto3 client bound to it."""

    def __init__(self, port: int):
        self.port = port
        self.endpoint = f"http://127.0.0.1:{port}"
        self.region = REGION
        self.account_id = ACCOUNT_ID
        self._server = None
        self._clients: dict[tuple[str, str], object] = {}

    # environment for child processes (functions, CLI) so the Rust SDK talks to this emulator
    def child_env(self) -> dict[str, str]:
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_EC2_METADATA_DISABLED": "true",
        }

    def client(self, service: str, region_name: str | None = None, *, fresh: bool = False):
        """A boto3 client bound to this emulator: one per service and region, made once (clients are thread-safe,
        and making one costs ~10 ms of CPU, which the tests paid thousands of times). `fresh=True` makes a new one
        for a caller that changes it (event hooks)."""
        region = region_name or self.region
        if fresh:
            return self._new_client(service, region)
        client = self._clients.get((service, region))
        if client is None:  # two threads may both make one: the first stored serves both
            client = self._clients.setdefault((service, region), self._new_client(service, region))
        return client

    def _new_client(self, service: str, region: str):
        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name=region,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 2}),
        )

    def reset(self) -> None:
        req = urllib.request.Request(f"{self.endpoint}/moto-api/reset", method="POST")
        urllib.request.urlopen(req, timeout=10).read()
        for hook in _reset_hooks:
            hook()

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None


_reset_hooks: list = []


def on_reset(hook) -> None:
    """Extensions that keep their own state register a hook to clear it with moto's."""
    _reset_hooks.append(hook)


def install_order(requires: dict[str, tuple[str, ...]]) -> list[str]:
    """Extension names in the order to install them: by name, but each after those it `REQUIRES`."""
    order: list[str] = []
    visiting: list[str] = []

    def visit(name: str) -> None:
        if name in order:
            return
        if name in visiting:
            raise RuntimeError(f"extensions require each other: {' -> '.join([*visiting, name])}")
        if name not in requires:
            raise RuntimeError(f"{visiting[-1]} requires {name}, which is no harness extension")
        visiting.append(name)
        for required in requires[name]:
            visit(required)
        visiting.pop()
        order.append(name)

    for name in sorted(requires):
        visit(name)
    return order


def _install_extensions(emulator: Emulator) -> None:
    global _installed
    if _installed:
        return
    import harness

    modules = {m.name: importlib.import_module(f"harness.{m.name}")
               for m in pkgutil.iter_modules(harness.__path__) if m.name.startswith("ext_")}
    for name in install_order({name: tuple(getattr(module, "REQUIRES", ())) for name, module in modules.items()}):
        modules[name].install(emulator)
    _installed = True


def start(port: int | None = None) -> Emulator:
    """Start moto on 127.0.0.1 (free port unless given) with every extension installed."""
    port = port or free_port()
    # moto builds custom-resource ResponseURLs and other self-links from these
    os.environ["MOTO_PORT"] = str(port)
    os.environ.setdefault("AWS_DEFAULT_REGION", REGION)
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request drowns everything else

    emulator = Emulator(port)
    _install_extensions(emulator)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    emulator._server = server
    return emulator
