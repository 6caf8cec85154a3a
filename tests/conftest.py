"""Shared fixtures: one emulator, one response sink and one set of cargo-lambda servers per test session.

`aws` resets the emulator before each test. Every custom-resource response any test causes is checked by
the sink against the protocol; a session with any violation fails (see `pytest_sessionfinish`).

Under pytest-xdist (`make integration` runs `pytest -n …`) each worker is a session of its own: its own emulator
on its own port, its own sink and cargo-lambda servers. Its session-end checks (the sink's, test_security's log scan)
run in the worker; `_WorkerVerdict` hands their verdict and output to the controller, which prints them and fails
the run (see `pytest_sessionfinish`)."""
import contextlib
import io

import pytest

from harness import emulator as emu
from harness.fixtures import runtime_env
from harness.functions import Functions
from harness.sink import ResponseSink

_sink: ResponseSink | None = None
#: what each xdist worker reported at its end (in the controller)
_worker_verdicts: dict[str, dict] = {}


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
    for worker, verdict in sorted(_worker_verdicts.items()):  # the controller of an xdist run
        print()
        for line in filter(str.strip, verdict["output"].splitlines()):
            print(f"[{worker}] {line}")
        if verdict["failed"]:
            session.exitstatus = 1
    if _sink is None:
        return
    print(f"\nresponse sink: {_sink.checked()} responses checked, {len(_sink.violations)} contract violations")
    if _sink.violations:
        for v in _sink.violations:
            print(f"  contract violation: {v}")
        session.exitstatus = 1


class _WorkerVerdict:
    """In an xdist worker, around every other session-end hook: their output, and whether one of them failed the
    session, go to the controller in `workeroutput` (a worker's own exit status and output are not shown)."""

    @pytest.hookimpl(wrapper=True, trylast=True)
    def pytest_sessionfinish(self, session, exitstatus):
        before = session.exitstatus
        output = io.StringIO()
        with contextlib.redirect_stdout(output):
            result = yield
        session.config.workeroutput["sppb_session_end"] = {
            "output": output.getvalue(), "failed": session.exitstatus != before or bool(_sink and _sink.violations)}
        return result


def pytest_configure(config):
    if hasattr(config, "workerinput"):
        config.pluginmanager.register(_WorkerVerdict(), "sppb-worker-verdict")


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    verdict = getattr(node, "workeroutput", {}).get("sppb_session_end")
    if verdict is not None:
        _worker_verdicts[node.gateway.id] = verdict


#: Under pytest-xdist (`--dist loadgroup`): these modules deploy stacks or start many functions in module-scoped
#: fixtures, so each runs whole on one worker (its setup paid once, not once per worker that takes one of its
#: tests); every other test is dealt out on its own. Listed longest first, and run before the rest, so the short
#: tests fill in around them and no long one starts last.
WHOLE_ON_ONE_WORKER = ("test_bad_inputs", "test_bootstrap_stack", "test_deploy_path", "test_org_rollout",
                       "test_stack_lifecycle", "test_domain_onboarder", "test_projects_cli", "test_guardrails")
#: dealt out test by test, but started right after those: their tests take 5–20 s each
LONG_TESTS_FIRST = ("test_convergence", "test_seed_code", "test_template_fidelity")


@pytest.hookimpl(tryfirst=True)  # before xdist's own, which reads the xdist_group marks
def pytest_collection_modifyitems(config, items):
    first = {name: rank for rank, name in enumerate(WHOLE_ON_ONE_WORKER + LONG_TESTS_FIRST)}
    for item in items:
        if item.module.__name__ in WHOLE_ON_ONE_WORKER:
            item.add_marker(pytest.mark.xdist_group(item.module.__name__))
    items.sort(key=lambda item: first.get(item.module.__name__, len(first)))  # stable: file order within each
