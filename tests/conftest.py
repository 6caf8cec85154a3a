"""Shared fixtures: one emulator, one response sink and one set of cargo-lambda servers per test session.

`aws` resets the emulator before each test. Every custom-resource response any test causes is checked by
the sink against the protocol; a session with any violation fails (see `pytest_sessionfinish`)."""
import pytest

from harness import emulator as emu
from harness.fixtures import runtime_env
from harness.functions import Functions
from harness.sink import ResponseSink

_sink: ResponseSink | None = None


@pytest.fixture(scope="session")
def emulator():
    e = emu.start()
    yield e
    e.stop()


@pytest.fixture
def aws(emulator):
    """A clean emulator: every service's state is reset before the test."""
    emulator.reset()
    return emulator


@pytest.fixture(scope="session")
def sink():
    global _sink
    _sink = ResponseSink()
    yield _sink
    _sink.stop()


@pytest.fixture(scope="session")
def functions(emulator):
    """The real binaries through cargo-lambda, talking to the emulator."""
    f = Functions(runtime_env(emulator))
    yield f
    f.stop()


@pytest.fixture
def answer(aws, functions, sink):
    """`answer(function, event, extra_env=None)`: invokes a custom-resource function through cargo-lambda with
    its own ResponseURL and returns its one response, contract-checked."""

    def invoke(function: str, event: dict, extra_env: dict | None = None) -> dict:
        addressed, token = sink.address(event)
        functions.invoke(function, addressed, extra_env=extra_env)
        return sink.response(token)

    return invoke


def pytest_sessionfinish(session, exitstatus):
    if _sink is None:
        return
    print(f"\nresponse sink: {_sink.checked()} responses checked, {len(_sink.violations)} contract violations")
    if _sink.violations:
        for v in _sink.violations:
            print(f"  contract violation: {v}")
        session.exitstatus = 1
