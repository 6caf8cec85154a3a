"""The product's CloudFormation stacks, deployed into the emulator as `make deploy` deploys them on AWS.

    from harness import stack
    stack.deploy_iam_roles(aws)                                  # iam/roles.yaml (the launch role …)
    outputs = stack.deploy_bootstrap(aws, parameters={"DefaultTemplate": "deploy-codepipeline"})
    outputs["DeployCodepipelineTemplateUrl"], outputs["LaunchRoleArn"], …
    stack.update_stack(aws, stack.BOOTSTRAP_STACK, stack.BOOTSTRAP_TEMPLATE, {...})  # → UPDATE_COMPLETE, …
    stack.delete_stack(aws, stack.BOOTSTRAP_STACK)

`deploy_bootstrap` uploads the function "artifacts" first unless `ArtifactBucket` is given: moto's Lambda needs
each `Code` object to exist, but never runs it — `ext_lambda` runs the real binary named by the function's
`Handler` (target/debug/<binary>, built beforehand by `cargo build --workspace --bins`), so the zip objects are
placeholders. Custom resources are answered by those binaries, so a stack completes only when they did.

What moto 5.2.5 does not do that the bootstrap stack relies on is filled by the emulator extensions (`ext_*.py`,
installed by `emulator.start`): the bucket's declared properties (ext_s3), Lambda's SQS poller (ext_sqs), schedule
rules that take no events (ext_events), custom resources deleted before the rest of their stack and sent Update,
replacement and rollback requests at UpdateStack (ext_cloudformation). Two things remain to know here:
- Never DescribeStacks / DescribeStackResources a stack whose resources are being or were deleted: moto computes
  outputs by re-creating the resources they reference (a custom resource's function then gets a new Create).
  `wait_for_stack` reads the status from ListStacks for that reason.
- Silently skipped (no model in moto): AWS::S3::BucketPolicy, AWS::SQS::QueuePolicy, AWS::Lambda::EventInvokeConfig,
  AWS::CloudTrail::Trail. moto enforces no resource policy anyway; tests read those from the template.
"""
from __future__ import annotations

import io
import time
import zipfile
from pathlib import Path
from typing import Any

from harness.functions import ROOT

BOOTSTRAP_TEMPLATE = ROOT / "infra" / "bootstrap.yaml"
IAM_TEMPLATE = ROOT / "iam" / "roles.yaml"
BOOTSTRAP_STACK = "sagemaker-projects-bootstrap"
IAM_STACK = "sagemaker-projects-iam"
ARTIFACT_PREFIX = "functions/"

#: The binaries the bootstrap stack deploys, each as <ArtifactPrefix><binary>.zip and Handler <binary>.
BINARIES = ("template-publisher", "execution-role-policies", "template-tagger", "domain-onboarder",
            "seedcode-checkin")


class StackFailed(AssertionError):
    """A stack ended in a status other than the one asked for; the message carries its failure events."""


# ---------------------------------------------------------------------------------------------------------------
# Artifacts


def artifact_bucket(emulator) -> str:
    return f"sagemaker-projects-artifacts-{emulator.account_id}-{emulator.region}"


def missing_binaries() -> list[str]:
    """Binaries the stack needs that are not built (the emulator would fail their invocations)."""
    from harness.ext_lambda import binary_path

    return [b for b in BINARIES if not binary_path(b).exists()]


def placeholder_zip(binary: str) -> bytes:
    """A Lambda package stand-in: moto stores it; the emulator runs target/debug/<binary> instead."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("bootstrap", f"#!/bin/sh\n# placeholder: the emulator runs target/debug/{binary}\n")
    return out.getvalue()


def upload_artifacts(emulator, bucket: str | None = None, prefix: str = ARTIFACT_PREFIX) -> dict[str, str]:
    """Creates the artifact bucket (if needed) with one placeholder package per binary; returns the stack
    parameters that point at them (`ArtifactBucket`, `ArtifactPrefix`)."""
    s3 = emulator.client("s3")
    bucket = bucket or artifact_bucket(emulator)
    existing = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
    if bucket not in existing:
        s3.create_bucket(Bucket=bucket)
    for binary in BINARIES:
        s3.put_object(Bucket=bucket, Key=f"{prefix}{binary}.zip", Body=placeholder_zip(binary))
    return {"ArtifactBucket": bucket, "ArtifactPrefix": prefix}


# ---------------------------------------------------------------------------------------------------------------
# Stacks


def _parameters(values: dict[str, Any]) -> list[dict[str, str]]:
    out = []
    for key, value in values.items():
        if isinstance(value, (list, tuple)):
            value = ",".join(value)
        elif isinstance(value, bool):
            value = "true" if value else "false"
        out.append({"ParameterKey": key, "ParameterValue": str(value)})
    return out


def failure_events(cfn, stack: str) -> list[str]:
    events = cfn.describe_stack_events(StackName=stack)["StackEvents"]
    return [f"{e['LogicalResourceId']} {e['ResourceStatus']}: {e.get('ResourceStatusReason', '')}"
            for e in events if "FAILED" in e["ResourceStatus"] or "ROLLBACK" in e["ResourceStatus"]]


def stack_status(cfn, stack_id: str) -> tuple[str, str]:
    """(status, reason) of a stack by id, read from ListStacks. Never DescribeStacks a stack whose resources are
    being (or were) deleted: moto 5.2.5 computes its outputs by re-creating the resources they reference (and a
    custom resource's function is then sent a fresh Create)."""
    for page in cfn.get_paginator("list_stacks").paginate():
        for summary in page["StackSummaries"]:
            if summary["StackId"] == stack_id:
                return summary["StackStatus"], summary.get("StackStatusReason", "")
    raise StackFailed(f"no stack {stack_id}")


def wait_for_stack(cfn, stack_id: str, timeout: float = 180.0) -> str:
    """Polls until the stack (by id) is in no *_IN_PROGRESS status; returns that status."""
    deadline = time.monotonic() + timeout
    while True:
        status, _ = stack_status(cfn, stack_id)
        if not status.endswith("_IN_PROGRESS"):
            return status
        if time.monotonic() > deadline:
            raise StackFailed(f"stack {stack_id} still {status} after {timeout:.0f}s: "
                              f"{failure_events(cfn, stack_id)}")
        time.sleep(0.2)


def outputs_of(description: dict) -> dict[str, str]:
    return {o["OutputKey"]: o["OutputValue"] for o in description.get("Outputs") or []}


def create_stack(emulator, name: str, template: Path, parameters: dict[str, Any] | None = None,
                 capabilities: tuple[str, ...] = ("CAPABILITY_IAM",), timeout: float = 180.0) -> dict:
    """Creates `name` from `template`, waits for CREATE_COMPLETE (StackFailed otherwise); returns its outputs."""
    cfn = emulator.client("cloudformation")
    stack_id = cfn.create_stack(StackName=name, TemplateBody=template.read_text(),
                                Parameters=_parameters(parameters or {}),
                                Capabilities=list(capabilities))["StackId"]
    status = wait_for_stack(cfn, stack_id, timeout)
    if status != "CREATE_COMPLETE":
        raise StackFailed(f"stack {name} is {status}: {failure_events(cfn, stack_id)}")
    return outputs_of(cfn.describe_stacks(StackName=stack_id)["Stacks"][0])


def deploy_iam_roles(emulator, stack_name: str = IAM_STACK, parameters: dict[str, Any] | None = None) -> dict:
    """iam/roles.yaml: the launch role and the service roles (once per account). Returns its outputs."""
    return create_stack(emulator, stack_name, IAM_TEMPLATE, parameters, capabilities=("CAPABILITY_NAMED_IAM",),
                        timeout=60)


def deploy_bootstrap(emulator, parameters: dict[str, Any] | None = None, stack_name: str = BOOTSTRAP_STACK,
                     timeout: float = 300.0) -> dict[str, str]:
    """infra/bootstrap.yaml with `parameters` (lists become CommaDelimitedList values); uploads the placeholder
    artifacts unless `ArtifactBucket` is given. Returns the stack's outputs once CREATE_COMPLETE."""
    missing = missing_binaries()
    if missing:
        raise StackFailed(f"not built: {', '.join(missing)} (run `cargo build --workspace --bins`)")
    values = dict(parameters or {})
    if "ArtifactBucket" not in values:
        values = {**upload_artifacts(emulator), **values}
    return create_stack(emulator, stack_name, BOOTSTRAP_TEMPLATE, values, timeout=timeout)


def update_stack(emulator, name: str, template: Path, parameters: dict[str, Any] | None = None,
                 capabilities: tuple[str, ...] = ("CAPABILITY_IAM",), timeout: float = 300.0) -> str:
    """UpdateStack of `name` with `template` and `parameters` (all of them: one left out takes its default, as on
    AWS); waits until the update and its cleanup or rollback are over (the custom resources answered) and returns
    the final status: UPDATE_COMPLETE, UPDATE_ROLLBACK_COMPLETE or UPDATE_ROLLBACK_FAILED."""
    cfn = emulator.client("cloudformation")
    stack_id = cfn.describe_stacks(StackName=name)["Stacks"][0]["StackId"]
    cfn.update_stack(StackName=stack_id, TemplateBody=template.read_text(), Parameters=_parameters(parameters or {}),
                     Capabilities=list(capabilities))
    return wait_for_stack(cfn, stack_id, timeout)


def stack_resources(emulator, stack_name: str = BOOTSTRAP_STACK) -> dict[str, str]:
    """Logical id → physical id of a live stack's resources (those moto created). Not for a deleted stack (see
    `stack_status`)."""
    cfn = emulator.client("cloudformation")
    found = cfn.describe_stack_resources(StackName=stack_name)["StackResources"]
    # moto lists the resources it has no model for as empty rows
    return {r["LogicalResourceId"]: r.get("PhysicalResourceId", "") for r in found if r.get("LogicalResourceId")}


def delete_stack(emulator, stack_name: str = BOOTSTRAP_STACK, timeout: float = 120.0) -> str:
    """Deletes the stack and waits until the custom resources have answered their Delete; returns the final
    status (DELETE_COMPLETE unless something failed)."""
    cfn = emulator.client("cloudformation")
    stack_id = cfn.describe_stacks(StackName=stack_name)["Stacks"][0]["StackId"]
    cfn.delete_stack(StackName=stack_id)
    return wait_for_stack(cfn, stack_id, timeout)
