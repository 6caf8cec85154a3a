"""Lambda's SQS poller, in place of moto 5.2.5's delivery of SQS event source mappings (see README: "What the
emulator lacks and how the harness fills it").

moto invokes the function *inside* SendMessage (so inside the PutEvents that fed the queue: a function that creates
an EventBridge rule meanwhile breaks moto's rule loop with "OrderedDict mutated during iteration") and never delivers
a message sent with DelaySeconds. Here a poller thread does what Lambda's does: it receives batches from every queue
with an enabled mapping, invokes the function (through ext_lambda) once per batch (BatchSize) with the SQS event, and
deletes what succeeded — all but the `batchItemFailures` when the mapping has FunctionResponseTypes
[ReportBatchItemFailures]; nothing on a function error (the messages come back after the visibility timeout, as on
AWS).
"""
from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger("harness.ext_sqs")

#: Extensions installed before this one (emulator.start installs in that order): batches go through ext_lambda.
REQUIRES = ("ext_lambda",)

#: How often the stand-in for Lambda's SQS poller looks at the queues.
SQS_POLL_SECONDS = 0.2


@dataclass
class _Store:
    """The poller thread, and per thread whether it is inside moto's `Queue.add_message`."""

    poller: threading.Thread | None = None
    adding: threading.local = field(default_factory=threading.local)


_store = _Store()


class _EventSourceMappings(dict):
    """A queue's event source mappings, seen as none by moto's own delivery loop at the end of `add_message` (the
    poller delivers instead)."""

    def items(self):
        if getattr(_store.adding, "active", False):
            return {}.items()
        return super().items()


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



def install(emulator) -> None:
    from moto.sqs.models import Queue

    original_add = Queue.add_message

    def add_message(self, message):
        if not isinstance(self.lambda_event_source_mappings, _EventSourceMappings):
            self.lambda_event_source_mappings = _EventSourceMappings(self.lambda_event_source_mappings)
        _store.adding.active = True
        try:
            return original_add(self, message)
        finally:
            _store.adding.active = False

    Queue.add_message = add_message
    _store.poller = threading.Thread(target=_poll_forever, name="emulator-sqs-poller", daemon=True)
    _store.poller.start()
