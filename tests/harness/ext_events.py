"""EventBridge delivers to Lambda targets; a rule with only a schedule receives no events.

moto 5.2.5's `moto.events.models.Rule.send_to_targets` raises NotImplementedError for a Lambda target (PutEvents
answers 500), and hands a rule that has only a ScheduleExpression every event put on its bus, as if it had an empty
pattern. This extension (see README: "What the emulator lacks and how the harness fills it") replaces it:

- Lambda targets are invoked asynchronously (through ext_lambda), honouring Input / InputPath / InputTransformer, the
  rule's state and the function's resource policy (events.amazonaws.com must be allowed to invoke it, as on AWS);
  the event has AWS's shape (`account`, ISO-8601 `time`). S3 "Object Created" events, which moto already routes to
  rules when a bucket has EventBridge notifications on, reach Lambda targets by the same path;
- targets moto cannot deliver to (CodePipeline, CodeBuild, SNS …) are recorded as dropped instead of failing
  PutEvents (`dropped_deliveries()`), as are deliveries to a function that is gone or does not allow EventBridge;
- a rule with only a ScheduleExpression receives no events: on AWS it fires only on its schedule (the onboarder would
  otherwise get every CloudTrail event twice: through its queue and straight from its schedule rule).

What was dropped is cleared with moto's state.
"""
from __future__ import annotations

import copy
import datetime as dt
import fnmatch
import json
import logging
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from harness.ext_lambda import invoke_async

log = logging.getLogger("harness.ext_events")

#: Extensions installed before this one (emulator.start installs in that order): deliveries go through ext_lambda.
REQUIRES = ("ext_lambda",)

#: EventBridge delivers to a function only if its resource policy lets events.amazonaws.com invoke it.
ENFORCE_INVOKE_PERMISSION = True


@dataclass
class Dropped:
    rule_arn: str
    target_arn: str
    reason: str


@dataclass
class _Store:
    dropped: list[Dropped] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def drop(self, rule_arn: str, target_arn: str, reason: str) -> None:
        with self.lock:
            self.dropped.append(Dropped(rule_arn, target_arn, reason))

    def reset(self) -> None:
        with self.lock:
            self.dropped.clear()


_store = _Store()


def dropped_deliveries() -> list[Dropped]:
    """EventBridge deliveries that were dropped since the last reset: a function whose policy does not allow
    EventBridge, a function that does not exist, or a target service moto cannot deliver to (e.g. CodePipeline)."""
    with _store.lock:
        return list(_store.dropped)


def _iso_time(value: Any) -> str:
    if isinstance(value, (int, float)):
        return dt.datetime.fromtimestamp(value, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.timezone.utc)
        return value.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return str(value)


def _aws_event(event: dict) -> dict:
    """The event as EventBridge hands it to a target (moto keeps `time` as epoch seconds and extra fields)."""
    return {
        "version": event.get("version", "0"),
        "id": event.get("id") or str(uuid.uuid4()),
        "detail-type": event.get("detail-type"),
        "source": event.get("source"),
        "account": event.get("account"),
        "time": _iso_time(event.get("time", time.time())),
        "region": event.get("region"),
        "resources": event.get("resources", []),
        "detail": event.get("detail", {}),
    }


def _target_input(target: dict, event: dict) -> Any:
    if target.get("Input") is not None:
        return json.loads(target["Input"])
    if target.get("InputPath"):
        from jsonpath_ng.ext import parse

        matches = parse(target["InputPath"]).find(event)
        return matches[0].value if matches else None
    transformer = target.get("InputTransformer")
    if transformer:
        from moto.events.utils import EventTemplateParser

        return EventTemplateParser.parse(
            input_template=transformer.get("InputTemplate"),
            input_paths_map=transformer.get("InputPathsMap", {}),
            event={**event, "ingestion-time": time.time()},
        )
    return event


def _permission_problem(fn, rule_arn: str) -> str | None:
    for st in fn.policy.statements:
        if st.get("Effect", "Allow") != "Allow":
            continue
        principal = st.get("Principal")
        service = principal.get("Service") if isinstance(principal, dict) else principal
        services = service if isinstance(service, list) else [service]
        if not ({"events.amazonaws.com", "*"} & set(services)) and principal != {"AWS": "*"}:
            continue
        actions = st.get("Action")
        actions = actions if isinstance(actions, list) else [actions]
        if not {"lambda:InvokeFunction", "lambda:*", "*"} & set(actions):
            continue
        source_arns = []
        for operator in ("ArnLike", "ArnEquals", "StringLike", "StringEquals"):
            cond = (st.get("Condition") or {}).get(operator, {})
            for key, value in cond.items():
                if key.lower() == "aws:sourcearn":
                    source_arns += value if isinstance(value, list) else [value]
        if not source_arns or any(fnmatch.fnmatchcase(rule_arn, pattern) for pattern in source_arns):
            return None
    return f"the resource policy of {fn.function_arn} does not allow events.amazonaws.com from {rule_arn}"


def _deliver_to_function(rule, target: dict, event: dict) -> None:
    from moto.awslambda.utils import get_backend
    from moto.utilities.arns import parse_arn

    arn = parse_arn(target["Arn"])
    name = arn.resource_id
    qualifier = None
    if ":" in name:
        name, qualifier = name.split(":", 1)
    try:
        fn = get_backend(arn.account, arn.region).get_function(name, qualifier)
    except Exception as e:  # noqa: BLE001 - EventBridge drops what it cannot deliver
        _store.drop(rule.arn, target["Arn"], f"no such function: {e}")
        return
    if ENFORCE_INVOKE_PERMISSION:
        problem = _permission_problem(fn, rule.arn)
        if problem:
            log.warning("EventBridge rule %s cannot invoke %s: %s", rule.arn, target["Arn"], problem)
            _store.drop(rule.arn, target["Arn"], problem)
            return
    invoke_async(fn, _target_input(target, _aws_event(event)), "events-rule")


def _target_service(target: dict) -> str:
    parts = target["Arn"].split(":")
    return parts[2] if len(parts) > 2 else ""


def _schedule_only(rule) -> bool:
    return bool(rule.scheduled_expression) and not rule.event_pattern.get_pattern()


def _make_send_to_targets(original):
    moto_delivers = {"logs", "sqs", "events"}

    def send_to_targets(self, original_event, transform_input: bool = True) -> None:
        if _schedule_only(self):
            return None  # on AWS such a rule fires on its schedule only
        ours = [t for t in self.targets if _target_service(t) not in moto_delivers]
        if not ours:
            return original(self, original_event, transform_input)
        if not self.event_pattern.matches_event(original_event):
            return None
        if getattr(self, "state", "ENABLED") != "ENABLED":
            return None
        for target in ours:
            service = _target_service(target)
            if service == "lambda":
                _deliver_to_function(self, target, original_event)
            else:
                # moto raises NotImplementedError here (PutEvents 500); AWS would deliver
                _store.drop(self.arn, target["Arn"], f"the emulator cannot deliver to {service}")
        others = copy.copy(self)
        others.targets = [t for t in self.targets if t not in ours]
        if others.targets:
            original(others, original_event, transform_input)
        return None

    return send_to_targets


def install(emulator) -> None:
    from moto.events.models import Rule

    # EventBridge rules with Lambda targets (and S3 → EventBridge, which moto routes through the same method)
    Rule.send_to_targets = _make_send_to_targets(Rule.send_to_targets)

    from harness.emulator import on_reset

    on_reset(_store.reset)
