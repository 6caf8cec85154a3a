"""CloudWatch pieces moto 5.2.5 lacks:

1. `AWS::CloudWatch::Alarm` in CloudFormation (moto has alarms in its API only; its stacks skip the type), created
   through moto's own `put_metric_alarm`, so `DescribeAlarms` shows what the template declares.
2. Embedded Metric Format extraction, as CloudWatch Logs does it: the output of the functions this emulator runs
   (the logs of ext_lambda's `cargo lambda watch` processes, not other pytest workers') is read as it grows; each EMF document is checked against the specification
   (harness/emf.py), kept for the tests (`documents()`) and put into moto's CloudWatch as metric data, so
   `GetMetricStatistics` answers what an alarm on a product metric would see.
3. The metrics AWS services publish on their own, which the stack's alarms watch: `AWS/SQS`
   ApproximateNumberOfMessagesVisible / NotVisible / Delayed of every queue (AWS: each minute; here every
   `SQS_METRIC_SECONDS`), and `AWS/Lambda` Invocations and Errors of every function invocation ext_lambda runs.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from moto.core.common_models import CloudFormationModel

from harness import emf, ext_lambda
from harness.cfn_model import NamedModel

#: Seconds between two reads of the function logs in the background (`documents()` reads at once).
TAIL_SECONDS = 0.5
#: Seconds between two samples of every queue's AWS/SQS metrics (AWS samples each minute).
SQS_METRIC_SECONDS = 1.0


@dataclass
class _Store:
    emulator: Any = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    #: every EMF document read since the last reset, and the problems of those that break the specification
    documents: list[dict] = field(default_factory=list)
    invalid: list[tuple[dict, list[str]]] = field(default_factory=list)
    #: how far each log was read (logs that existed before this process are read from their end)
    offsets: dict[Path, int] = field(default_factory=dict)
    tailer: threading.Thread | None = None

    def reset(self) -> None:
        with self.lock:
            self.documents.clear()
            self.invalid.clear()
            # what earlier tests' functions logged and the tailer has not read yet is theirs, not the next test's
            for path in ext_lambda.log_paths():
                self.offsets[path] = path.stat().st_size if path.exists() else 0


_store = _Store()


def documents(function: str | None = None) -> list[dict]:
    """The EMF documents the functions wrote since the last reset (optionally those of one `Function`)."""
    _read_logs()
    with _store.lock:
        return [d for d in _store.documents if function in (None, d.get("Function"))]


def invalid_documents() -> list[tuple[dict, list[str]]]:
    _read_logs()
    with _store.lock:
        return list(_store.invalid)


# ---------------------------------------------------------------------------------------------------------------
# 1. AWS::CloudWatch::Alarm


class MetricAlarm(NamedModel, CloudFormationModel):
    """`AWS::CloudWatch::Alarm` (a single-metric alarm), backed by moto's CloudWatch backend."""

    TYPE, NAME_PROPERTY = "AWS::CloudWatch::Alarm", "AlarmName"

    def attribute(self) -> str:
        return f"arn:aws:cloudwatch:{self.region}:{self.account_id}:alarm:{self.name}"

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        from moto.cloudwatch.models import cloudwatch_backends

        p = cloudformation_json.get("Properties", {})
        name = p.get("AlarmName") or resource_name
        cloudwatch_backends[account_id][region_name].put_metric_alarm(
            name=name,
            namespace=p.get("Namespace"),
            metric_name=p.get("MetricName"),
            comparison_operator=p["ComparisonOperator"],
            evaluation_periods=int(p["EvaluationPeriods"]),
            period=int(p["Period"]) if p.get("Period") is not None else None,
            threshold=float(p["Threshold"]) if p.get("Threshold") is not None else None,
            statistic=p.get("Statistic"),
            description=p.get("AlarmDescription"),
            dimensions=[{"Name": d["Name"], "Value": d["Value"]} for d in p.get("Dimensions", [])],
            alarm_actions=list(p.get("AlarmActions", [])),
            ok_actions=list(p.get("OKActions", [])),
            insufficient_data_actions=list(p.get("InsufficientDataActions", [])),
            datapoints_to_alarm=p.get("DatapointsToAlarm"),
            unit=p.get("Unit"),
            actions_enabled=p.get("ActionsEnabled", True) in (True, "true"),
            treat_missing_data=p.get("TreatMissingData"),
        )
        return cls(account_id, region_name, name)

    @classmethod
    def update_from_cloudformation_json(cls, original_resource, new_resource_name, cloudformation_json, account_id,
                                        region_name):
        original_resource.delete(account_id, region_name)
        return cls.create_from_cloudformation_json(new_resource_name, cloudformation_json, account_id, region_name)

    @classmethod
    def delete_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name):
        cls(account_id, region_name, resource_name).delete(account_id, region_name)

    def delete(self, account_id: str, region_name: str) -> None:
        from moto.cloudwatch.models import cloudwatch_backends

        cloudwatch_backends[account_id][region_name].delete_alarms([self.name])

    def is_created(self) -> bool:
        return True


# ---------------------------------------------------------------------------------------------------------------
# 2. EMF extraction from the function logs


def _ingest(doc: dict) -> None:
    backend = _cloudwatch(_store.emulator.account_id, _store.emulator.region)
    for directive in doc["_aws"]["CloudWatchMetrics"]:
        for keys in directive["Dimensions"] or [[]]:
            dims = [{"Name": k, "Value": doc[k]} for k in keys]
            data = [{"MetricName": m["Name"], "Value": float(doc[m["Name"]]), "Unit": m.get("Unit"),
                     "Dimensions": dims} for m in directive["Metrics"]]
            if data:
                backend.put_metric_data(directive["Namespace"], data)


def _read_logs() -> None:
    """Reads what the function logs gained since the last read (one reader at a time, each line once)."""
    with _store.lock:
        for path in sorted(ext_lambda.log_paths()):
            offset = _store.offsets.get(path, 0)
            try:
                if path.stat().st_size <= offset:
                    continue  # nothing new: most logs, most of the time
                with open(path, "rb") as f:
                    f.seek(offset)
                    chunk = f.read()
            except OSError:
                continue
            complete = chunk.rfind(b"\n") + 1  # a line still being written waits for the next read
            _store.offsets[path] = offset + complete
            for doc in emf.documents_in(chunk[:complete].decode(errors="replace")):
                found = emf.problems(doc)
                if found:
                    _store.invalid.append((doc, found))
                    continue
                _store.documents.append(doc)
                try:
                    _ingest(doc)
                except Exception as e:  # noqa: BLE001 - moto refused the data: as invalid as a bad document
                    _store.invalid.append((doc, [f"PutMetricData: {e}"]))


# ---------------------------------------------------------------------------------------------------------------
# 3. What SQS and Lambda publish themselves


def _cloudwatch(account_id: str, region: str):
    from moto.cloudwatch.models import cloudwatch_backends

    return cloudwatch_backends[account_id][region]


def _sample_queues() -> None:
    """One sample of each queue's gauges, into the CloudWatch of the queue's account and region."""
    from moto.sqs.models import sqs_backends

    for account_id in list(sqs_backends.keys()):
        for region in list(sqs_backends[account_id].keys()):
            cloudwatch = _cloudwatch(account_id, region)
            for queue in list(sqs_backends[account_id][region].queues.values()):
                dims = [{"Name": "QueueName", "Value": queue.name}]
                cloudwatch.put_metric_data("AWS/SQS", [
                    {"MetricName": name, "Value": float(value), "Unit": "Count", "Dimensions": dims}
                    for name, value in (
                        ("ApproximateNumberOfMessagesVisible", queue.approximate_number_of_messages),
                        ("ApproximateNumberOfMessagesNotVisible", queue.approximate_number_of_messages_not_visible),
                        ("ApproximateNumberOfMessagesDelayed", queue.approximate_number_of_messages_delayed))])


def _invocation_finished(account_id: str, region: str, invocation: ext_lambda.Invocation) -> None:
    dims = [{"Name": "FunctionName", "Value": invocation.function_name}]
    _cloudwatch(account_id, region).put_metric_data("AWS/Lambda", [
        {"MetricName": "Invocations", "Value": 1.0, "Unit": "Count", "Dimensions": dims},
        {"MetricName": "Errors", "Value": 1.0 if invocation.errored else 0.0, "Unit": "Count", "Dimensions": dims}])


def _tail() -> None:
    import time

    next_sample = 0.0
    while True:
        time.sleep(TAIL_SECONDS)
        _read_logs()
        if time.monotonic() >= next_sample:
            next_sample = time.monotonic() + SQS_METRIC_SECONDS
            try:
                _sample_queues()
            except Exception:  # noqa: BLE001 - a queue deleted under our feet: the next sample has it right
                pass


def install(emulator) -> None:
    from harness.emulator import on_reset

    _store.emulator = emulator
    from moto.cloudformation import parsing

    # CloudFormationModel.__subclasses__() is cached on first use: let the new model be found
    parsing.get_model_list.cache_clear()
    parsing.get_model_map.cache_clear()
    parsing.get_name_type_map.cache_clear()
    on_reset(_store.reset)
    ext_lambda.on_finished(_invocation_finished)
    _store.tailer = threading.Thread(target=_tail, name="emulator-emf", daemon=True)
    _store.tailer.start()
