"""The product's CloudFormation stacks, deployed into the emulator as `make deploy` deploys them on AWS.

    from harness import stack
    stack.deploy_iam_roles(aws)                                  # iam/roles.yaml (the launch role …)
    outputs = stack.deploy_bootstrap(aws, parameters={"DefaultTemplate": "deploy-codepipeline"})
    outputs["DeployCodepipelineTemplateUrl"], outputs["LaunchRoleArn"], …
    stack.delete_stack(aws, stack.BOOTSTRAP_STACK)

`deploy_bootstrap` uploads the function "artifacts" first unless `ArtifactBucket` is given: moto's Lambda needs
each `Code` object to exist, but never runs it — `ext_lambda` runs the real binary named by the function's
`Handler` (target/debug/<binary>, built beforehand by `cargo build --workspace --bins`), so the zip objects are
placeholders. Custom resources are answered by those binaries, so a stack completes only when they did.

What moto 5.2.5 does not do that the bootstrap stack relies on, and how this module fills it (installed once, on
the first stack created through it; they belong with the other emulator extensions, `ext_*.py`):
- `AWS::S3::Bucket`: moto applies only BucketEncryption and Tags. Its bucket model is taught the other properties
  the bootstrap bucket declares — VersioningConfiguration, PublicAccessBlockConfiguration, CorsConfiguration and
  NotificationConfiguration.EventBridgeConfiguration — read from the template as CloudFormation reads them, so the
  emulated bucket is the one the template describes (and S3 sends "Object Created" to EventBridge for the tagger).
- SQS event source mappings: moto invokes the function *inside* SendMessage (so inside the PutEvents that fed the
  queue: a function that creates an EventBridge rule meanwhile breaks moto's rule loop with "OrderedDict mutated
  during iteration") and never delivers a message sent with DelaySeconds. Here a poller thread does what Lambda's
  does: it receives batches from every queue with an enabled mapping, invokes the function once per batch
  (BatchSize) with the SQS event, and deletes what succeeded — all but the `batchItemFailures` when the mapping
  has FunctionResponseTypes [ReportBatchItemFailures]; nothing on a function error (the messages come back after
  the visibility timeout, as on AWS).
- A rule with only a ScheduleExpression: moto (and ext_events) hand it every event put on its bus, as if it had
  an empty pattern; on AWS it only fires on its schedule. Here such a rule receives no events (the onboarder would
  otherwise get every CloudTrail event twice: through its queue and straight from the schedule rule).
- Stack deletion: moto deletes resources in no particular order, so a Lambda function can go before the custom
  resource it serves, whose Delete then cannot be sent. CloudFormation deletes dependents first; here the
  `Custom::` resources are deleted before the rest.
- Never DescribeStacks / DescribeStackResources a stack whose resources are being or were deleted: moto computes
  outputs by re-creating the resources they reference (a custom resource's function then gets a new Create).
  `wait_for_stack` reads the status from ListStacks for that reason.
- Silently skipped (no model in moto): AWS::S3::BucketPolicy, AWS::SQS::QueuePolicy, AWS::Lambda::EventInvokeConfig,
  AWS::CloudTrail::Trail. moto enforces no resource policy anyway; tests read those from the template.
"""
from __future__ import annotations

import io
import json
import logging
import threading
import time
import zipfile
from pathlib import Path
from typing import Any

from harness.functions import ROOT

log = logging.getLogger("harness.stack")

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
    install_emulator_fill_ins()
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


# ---------------------------------------------------------------------------------------------------------------
# Emulator fill-ins (see the module docstring)


_install_lock = threading.Lock()
_installed = False


def install_emulator_fill_ins() -> None:
    """Installs the fill-ins once per process (the emulator runs in-process)."""
    global _installed
    with _install_lock:
        if _installed:
            return
        _install_bucket_properties()
        _install_sqs_poller()
        _install_schedule_rules_take_no_events()
        _install_custom_resources_deleted_first()
        _installed = True


def _cors_rules(cors: dict) -> list[dict]:
    """CloudFormation's CorsRules in the shape moto's bucket keeps (the S3 XML element names)."""
    rules = []
    for r in cors.get("CorsRules") or []:
        rule = {"AllowedMethod": list(r["AllowedMethods"]), "AllowedOrigin": list(r["AllowedOrigins"])}
        if r.get("AllowedHeaders"):
            rule["AllowedHeader"] = list(r["AllowedHeaders"])
        if r.get("ExposedHeaders"):
            rule["ExposeHeader"] = list(r["ExposedHeaders"])
        if r.get("MaxAge") is not None:
            rule["MaxAgeSeconds"] = str(r["MaxAge"])
        if r.get("Id"):
            rule["ID"] = r["Id"]
        rules.append(rule)
    return rules


def _is_true(value: Any) -> bool:
    return value is True or str(value).lower() == "true"


def _install_bucket_properties() -> None:
    """Makes moto's `AWS::S3::Bucket` apply VersioningConfiguration, PublicAccessBlockConfiguration,
    CorsConfiguration and NotificationConfiguration.EventBridgeConfiguration (moto 5.2.5 ignores them)."""
    from moto.s3.models import FakeBucket, s3_backends
    from moto.utilities.utils import get_partition

    original = FakeBucket.create_from_cloudformation_json.__func__

    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        bucket = original(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)
        props = cloudformation_json.get("Properties") or {}
        backend = s3_backends[account_id][get_partition(region_name)]
        status = (props.get("VersioningConfiguration") or {}).get("Status")
        if status:
            backend.put_bucket_versioning(bucket.name, status)
        block = props.get("PublicAccessBlockConfiguration")
        if block:
            backend.put_public_access_block(bucket.name, {k: _is_true(v) for k, v in block.items()})
        cors = props.get("CorsConfiguration")
        if cors:
            bucket.set_cors(_cors_rules(cors))
        events = (props.get("NotificationConfiguration") or {}).get("EventBridgeConfiguration") or {}
        if _is_true(events.get("EventBridgeEnabled")):
            bucket.set_notification_configuration({"EventBridgeConfiguration": {}})
        return bucket

    FakeBucket.create_from_cloudformation_json = classmethod(create_from_cloudformation_json)


#: How often the stand-in for Lambda's SQS poller looks at the queues.
SQS_POLL_SECONDS = 0.2
_adding = threading.local()


class _EventSourceMappings(dict):
    """A queue's event source mappings, seen as none by moto's own delivery loop at the end of `add_message` (the
    poller delivers instead)."""

    def items(self):
        if getattr(_adding, "active", False):
            return {}.items()
        return super().items()


def _install_sqs_poller() -> None:
    from moto.sqs.models import Queue

    original_add = Queue.add_message

    def add_message(self, message):
        if not isinstance(self.lambda_event_source_mappings, _EventSourceMappings):
            self.lambda_event_source_mappings = _EventSourceMappings(self.lambda_event_source_mappings)
        _adding.active = True
        try:
            return original_add(self, message)
        finally:
            _adding.active = False

    Queue.add_message = add_message
    threading.Thread(target=_poll_forever, name="emulator-sqs-poller", daemon=True).start()


def _poll_forever() -> None:
    while True:
        try:
            busy = _poll_once()
        except Exception:  # noqa: BLE001 - a reset under our feet, a queue deleted meanwhile: look again
            log.debug("SQS poll failed", exc_info=True)
            busy = False
        if not busy:
            time.sleep(SQS_POLL_SECONDS)


def _poll_once() -> bool:
    """One pass over every queue with an enabled event source mapping; True if some batch was delivered."""
    from moto.sqs.models import sqs_backends

    delivered = False
    for account_id in list(sqs_backends.keys()):
        for region in list(sqs_backends[account_id].keys()):
            backend = sqs_backends[account_id][region]
            for queue in list(backend.queues.values()):
                for esm in list(queue.lambda_event_source_mappings.values()):
                    if not esm.enabled:
                        continue
                    messages = backend.receive_message(queue.name, esm.batch_size, 0, queue.visibility_timeout)
                    if messages:
                        _deliver_batch(account_id, region, backend, queue, esm, messages)
                        delivered = True
    return delivered


def _deliver_batch(account_id: str, region: str, backend, queue, esm, messages) -> None:
    from moto.awslambda.utils import get_backend

    event = {"Records": [{
        "messageId": m.id,
        "receiptHandle": m.receipt_handle,
        "body": m.body,
        "attributes": {
            "ApproximateReceiveCount": str(m.approximate_receive_count),
            "SentTimestamp": str(m.sent_timestamp),
            "SenderId": m.sender_id,
            "ApproximateFirstReceiveTimestamp": str(m.approximate_first_receive_timestamp),
        },
        "messageAttributes": {},
        "md5OfBody": m.body_md5,
        "eventSource": "aws:sqs",
        "eventSourceARN": queue.queue_arn,
        "awsRegion": region,
    } for m in messages]}
    try:
        fn = get_backend(account_id, region).get_function(esm.function_arn)
    except Exception:  # noqa: BLE001 - the function is gone: Lambda would disable the mapping
        return
    response_headers: dict[str, Any] = {}
    payload = fn.invoke(json.dumps(event), {}, response_headers)
    if response_headers.get("x-amz-function-error"):
        return  # the whole batch comes back after the visibility timeout
    failed: set[str] = set()
    if "ReportBatchItemFailures" in (esm.function_response_types or []):
        try:
            answer = json.loads(payload or b"{}")
            failed = {f["itemIdentifier"] for f in answer.get("batchItemFailures") or []}
        except (ValueError, TypeError, KeyError):
            return  # an unreadable answer fails the whole batch
    for m in messages:
        if m.id not in failed:
            backend.delete_message(queue.name, m.receipt_handle)


def _install_schedule_rules_take_no_events() -> None:
    from moto.events.models import Rule

    send_to_targets = Rule.send_to_targets  # ext_events', which wraps moto's

    def send_unless_schedule_only(self, event, transform_input: bool = True):
        if self.scheduled_expression and not self.event_pattern.get_pattern():
            return None
        return send_to_targets(self, event, transform_input)

    Rule.send_to_targets = send_unless_schedule_only


def _install_custom_resources_deleted_first() -> None:
    from moto.cloudformation.parsing import ResourceMap

    original_delete = ResourceMap.delete

    def delete(self) -> None:
        for logical_id, resource_json in list(self._resource_json_map.items()):
            if not str(resource_json.get("Type", "")).startswith("Custom::"):
                continue
            if resource_json.get("DeletionPolicy") == "Retain":
                continue
            resource = self._parsed_resources.get(logical_id)
            if resource is None or isinstance(resource, str):
                continue
            self._delete_resource(resource, resource_json)
            self._parsed_resources.pop(logical_id, None)
        original_delete(self)

    ResourceMap.delete = delete
