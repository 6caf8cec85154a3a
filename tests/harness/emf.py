"""The CloudWatch Embedded Metric Format specification's rules, as a checker (the Rust side has the same rules in
functions/lambda-glue/src/metrics.rs). A document CloudWatch Logs would not turn into metrics fails here.

Specification (AWS CloudWatch User Guide, "Embedded metric format specification"): the root holds `_aws` with
`Timestamp` (epoch milliseconds, a number) and `CloudWatchMetrics`, an array of directives, each with `Namespace`
(1–255 characters), `Dimensions` (an array of dimension sets, each an array of at most 30 keys) and `Metrics` (at
most 100, each with a `Name` and an optional `Unit` from CloudWatch's StandardUnit); every dimension key is a
string member of the root, every metric name a number (or an array of at most 100 numbers) of the root.
"""
from __future__ import annotations

import json
from typing import Any

UNITS = {
    "Seconds", "Microseconds", "Milliseconds", "Bytes", "Kilobytes", "Megabytes", "Gigabytes", "Terabytes",
    "Bits", "Kilobits", "Megabits", "Gigabits", "Terabits", "Percent", "Count", "Bytes/Second", "Kilobytes/Second",
    "Megabytes/Second", "Gigabytes/Second", "Terabytes/Second", "Bits/Second", "Kilobits/Second", "Megabits/Second",
    "Gigabits/Second", "Terabits/Second", "Count/Second", "None",
}


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def problems(doc: Any) -> list[str]:
    """What makes `doc` not a valid EMF document (empty when it is one)."""
    if not isinstance(doc, dict):
        return ["the document is not a JSON object"]
    aws = doc.get("_aws")
    if not isinstance(aws, dict):
        return ["no _aws object"]
    found = []
    if not _number(aws.get("Timestamp")) or aws["Timestamp"] < 0:
        found.append("_aws.Timestamp is not epoch milliseconds")
    directives = aws.get("CloudWatchMetrics")
    if not isinstance(directives, list) or not directives:
        return found + ["_aws.CloudWatchMetrics is not a non-empty array"]
    for i, d in enumerate(directives):
        where = f"CloudWatchMetrics[{i}]"
        ns = d.get("Namespace") if isinstance(d, dict) else None
        if not isinstance(ns, str) or not 1 <= len(ns) <= 255:
            found.append(f"{where}.Namespace is not 1-255 characters")
        sets = d.get("Dimensions") if isinstance(d, dict) else None
        if not isinstance(sets, list):
            found.append(f"{where}.Dimensions is not an array")
            sets = []
        for j, keys in enumerate(sets):
            if not isinstance(keys, list) or len(keys) > 30:
                found.append(f"{where}.Dimensions[{j}] is not an array of at most 30 keys")
                continue
            for k in keys:
                if not isinstance(k, str) or not isinstance(doc.get(k), str) or not doc[k]:
                    found.append(f"dimension {k!r} is not a non-empty string at the top level")
        metrics = d.get("Metrics") if isinstance(d, dict) else None
        if not isinstance(metrics, list) or len(metrics) > 100:
            found.append(f"{where}.Metrics is not an array of at most 100 metrics")
            metrics = []
        for m in metrics:
            name = m.get("Name") if isinstance(m, dict) else None
            if not isinstance(name, str) or not name:
                found.append(f"{where}: a metric without a Name")
                continue
            value = doc.get(name)
            if not (_number(value) or (isinstance(value, list) and 0 < len(value) <= 100
                                       and all(_number(x) for x in value))):
                found.append(f"metric {name!r} has no number at the top level")
            unit = m.get("Unit", "None")
            if unit not in UNITS:
                found.append(f"metric {name!r} has unit {unit!r}, not a CloudWatch StandardUnit")
    return found


def documents_in(text: str) -> list[dict]:
    """Every EMF document among the JSON lines of a log (lines that are JSON objects with an `_aws` member)."""
    docs = []
    for line in text.splitlines():
        start = line.find("{")
        if start < 0 or '"_aws"' not in line:
            continue
        try:
            doc = json.loads(line[start:])
        except ValueError:
            continue
        if isinstance(doc, dict) and "_aws" in doc:
            docs.append(doc)
    return docs
