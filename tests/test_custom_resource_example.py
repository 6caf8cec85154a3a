"""cloudformation-custom-resource's example (`functions/cloudformation-custom-resource/examples/greeting.rs`, `Custom::Greeting`) behind
cargo-lambda's runtime API (`harness.functions.Example`): the crate works for a resource that is not the product's,
each response contract-checked by the sink."""
import pytest

from harness.fixtures import RUNTIME_ENV, cr_event
from harness.functions import Example


@pytest.fixture(scope="module")
def example():
    f = Example(dict(RUNTIME_ENV), "greeting")
    yield f
    f.stop()


@pytest.fixture
def greet(example, sink):
    """`greet(request_type, props, **fields)`: the example's one answer to that request."""

    def invoke(request_type, props, **fields):
        addressed, token = sink.address(cr_event("Custom::Greeting", props, request_type, logical="Greeting", **fields))
        example.invoke(addressed)
        return sink.response(token)

    return invoke


def test_create_answers_the_greeting_with_a_deterministic_id(greet):
    first = greet("Create", {"Name": "World"})
    assert first["Status"] == "SUCCESS", first
    assert first["Data"] == {"Text": "Hello, World!"}
    assert first["PhysicalResourceId"].startswith("Greeting-g0-")
    assert greet("Create", {"Name": "World"})["PhysicalResourceId"] == first["PhysicalResourceId"]


def test_update_keeps_the_id_in_place_and_replaces_on_a_new_name(greet):
    pid = greet("Create", {"Name": "World"})["PhysicalResourceId"]
    shout = greet("Update", {"Name": "World", "Shout": "true"}, old={"Name": "World"}, physical_id=pid)
    assert shout["Status"] == "SUCCESS" and shout["Data"] == {"Text": "HELLO, WORLD!"}
    assert shout["PhysicalResourceId"] == pid
    renamed = greet("Update", {"Name": "Moon"}, old={"Name": "World"}, physical_id=pid)
    assert renamed["Status"] == "SUCCESS" and renamed["Data"] == {"Text": "Hello, Moon!"}
    assert renamed["PhysicalResourceId"] not in (pid, "") and renamed["PhysicalResourceId"].startswith("Greeting-g")


def test_errors_are_answered_failed_naming_the_problem(greet):
    empty = greet("Create", {"Name": " "})
    assert empty["Status"] == "FAILED" and empty["Reason"] == "Name must not be empty"
    assert empty["PhysicalResourceId"].startswith("create-failed:Greeting:")
    typo = greet("Create", {"Name": "World", "Shout": "loud"})
    assert typo["Status"] == "FAILED"
    assert typo["Reason"] == 'ResourceProperties.Shout: expected "true" or "false", got "loud"'


def test_delete_answers_with_the_same_id_and_a_failed_creates_delete_touches_nothing(greet):
    pid = greet("Create", {"Name": "World"})["PhysicalResourceId"]
    gone = greet("Delete", {"Name": "World"}, physical_id=pid)
    assert gone["Status"] == "SUCCESS" and gone["PhysicalResourceId"] == pid
    sentinel = greet("Create", {"Name": ""})["PhysicalResourceId"]
    # Properties the handler could not even read: the sentinel's Delete never reaches it
    after_failure = greet("Delete", {"Name": 5}, physical_id=sentinel)
    assert after_failure["Status"] == "SUCCESS" and after_failure["PhysicalResourceId"] == sentinel
