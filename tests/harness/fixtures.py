"""What many tests share: a SageMaker execution role's trust policy and a factory for such roles, the projects'
launch role, CloudFormation's custom-resource request as a function receives it, the environment the
functions run with under test, and `eventually`, a poll that fails naming what it waited for.

    from harness.fixtures import LAUNCH_ROLE_ARN, TRUST, cr_event, make_role
    role = make_role(aws.client("iam"), "TeamRole", path="/service-role/")
    event = cr_event("Custom::ExecutionRolePolicies", {"ExecutionRoles": [role], "LaunchRoleArn": LAUNCH_ROLE_ARN})
    answer = answer_of(sink.address(event))   # the sink gives the event its ResponseURL
"""
from __future__ import annotations

import json
import time
import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError

from harness.emulator import ACCOUNT_ID, REGION
from harness.stack import placeholder_zip

#: The trust policy of a SageMaker execution role: the roles the product grants launch access to.
TRUST = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "sagemaker.amazonaws.com"}, "Action": "sts:AssumeRole"}]})

LAUNCH_ROLE_NAME = "AmazonSageMakerProjectsLaunchRole"
#: The launch role iam/roles.yaml creates, in the emulator's account.
LAUNCH_ROLE_ARN = f"arn:aws:iam::{ACCOUNT_ID}:role/{LAUNCH_ROLE_NAME}"
#: A trust policy that lets CloudFormation assume a role: enough for a stand-in launch role.
LAUNCH_ROLE_TRUST = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "cloudformation.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
#: The trust policy of a Lambda function's role.
LAMBDA_TRUST = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]})

#: The stack and function a custom-resource request comes from unless a test names its own.
STACK_ID = f"arn:aws:cloudformation:{REGION}:{ACCOUNT_ID}:stack/tests/1"
SERVICE_TOKEN = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:f"


#: parameters of the deploy-codepipeline template that every test project of it uses
DEPLOY_PARAMS = {
    "SourceModelPackageGroupName": "models",
    "CodeConnectionArn": f"arn:aws:codeconnections:{REGION}:{ACCOUNT_ID}:connection/0a1b2c3d-1111-2222-3333-444455556666",
    "ModelDeployCodeRepositoryFullname": "acme/model-deploy",
}

#: What the functions run with under test besides the emulator's endpoint and credentials: the sink's plain-http
#: loopback ResponseURL is allowed, a response is due 3 s before the invocation's deadline, and the custom
#: resources' bounds (resources/bounds.rs) are off, so a test drives a handler with any properties. Functions the
#: emulator's CloudFormation deploys (the bootstrap stack's) run with their template's environment: bounds on.
#: tests/test_no_confused_deputy.py turns them on for direct invocations (BOUNDS_ON).
RUNTIME_ENV = {"CFN_RESPONSE_ALLOW_LOOPBACK": "true", "CFN_DEADLINE_HEADROOM_MS": "3000", "CUSTOM_RESOURCE_BOUNDS": "off"}
#: Overrides RUNTIME_ENV's switch: the bounds as the bootstrap stack deploys them.
BOUNDS_ON = {"CUSTOM_RESOURCE_BOUNDS": "on"}


def runtime_env(emulator, **extra: str) -> dict[str, str]:
    """The environment of the functions run under test against `emulator` (the SDK pointed at it), with `extra`."""
    return {**emulator.child_env(), **RUNTIME_ENV, **extra}


def make_role(iam, name: str, path: str = "/", trust: str = TRUST) -> str:
    """Creates the IAM role `name` (a SageMaker execution role unless `trust` says otherwise); returns its ARN."""
    return iam.create_role(RoleName=name, Path=path, AssumeRolePolicyDocument=trust)["Role"]["Arn"]


def make_function(aws, name: str, handler: str, role_name: str = "fn-role", **settings: Any) -> str:
    """A Lambda function in the emulator with a placeholder package (the emulator runs target/debug/<handler>, or a
    test stands in for it) and its execution role, made on first use; returns the function's ARN. `settings` are
    further CreateFunction arguments (Environment, Timeout…)."""
    iam = aws.client("iam")
    try:
        role = iam.get_role(RoleName=role_name)["Role"]["Arn"]
    except ClientError:
        role = make_role(iam, role_name, trust=LAMBDA_TRUST)
    return aws.client("lambda").create_function(
        FunctionName=name, Runtime="provided.al2023", Role=role, Handler=handler,
        Code={"ZipFile": placeholder_zip(handler)}, **settings)["FunctionArn"]


def cr_event(
    resource_type: str,
    props: Any,
    request_type: Any = "Create",
    *,
    stack: str = STACK_ID,
    logical: str = "Resource",
    request_id: str | None = None,
    service_token: str = SERVICE_TOKEN,
    old: Any = None,
    physical_id: str | None = None,
    **extra: Any,
) -> dict:
    """A custom-resource request as CloudFormation sends it, without its ResponseURL (the sink gives it one).

    `props` become ResourceProperties after the ServiceToken, as CloudFormation sends them (anything but a dict is
    sent as it is: a malformed event); `old` becomes OldResourceProperties as given; `physical_id` the
    PhysicalResourceId; RequestId is fresh unless given. `extra` fields are set last (a top-level ServiceToken, a
    ResponseURL, or a field to break); a `request_type` of None leaves RequestType out."""
    event = {
        "RequestType": request_type,
        "StackId": stack,
        "RequestId": request_id or str(uuid.uuid4()),
        "LogicalResourceId": logical,
        "ResourceType": resource_type,
        "ResourceProperties": {"ServiceToken": service_token, **props} if isinstance(props, dict) else props,
    }
    if old is not None:
        event["OldResourceProperties"] = old
    if physical_id is not None:
        event["PhysicalResourceId"] = physical_id
    event.update(extra)
    if request_type is None:
        del event["RequestType"]
    return event


class RecordingFunction:
    """Stands in for `LambdaFunction.invoke` (monkeypatched by a test): records every event it is sent and answers
    nothing, as a slow function would; the test answers custom resources itself."""

    def __init__(self):
        self.events: list[dict] = []

    def invoke(self, fn, body, *args, **kwargs):
        self.events.append(json.loads(body))
        return b"null"

    def wait_for(self, count: int, timeout: float = 10.0) -> list[dict]:
        """Every event so far, once there are at least `count` (fails after `timeout` seconds)."""
        deadline = time.time() + timeout
        while len(self.events) < count and time.time() < deadline:
            time.sleep(0.05)
        assert len(self.events) >= count, f"{len(self.events)} request(s), expected {count}: {self.events}"
        return list(self.events)


def eventually(check, what: str, timeout: float = 30.0):
    """Polls `check` until it returns something truthy; fails naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"after {timeout:.0f}s: {what}")
        time.sleep(0.1)
