"""S3 additions to moto 5.2.5 (see README: "What the emulator lacks and how the harness fills it").

- S3's direct Lambda notifications (`moto.s3.notifications._invoke_awslambda`) become asynchronous, as on AWS: the
  function runs (through ext_lambda) once the PutObject that caused it has been answered.
"""
from __future__ import annotations

from harness.ext_lambda import invoke_async

#: Extensions installed before this one (emulator.start installs in that order): notifications go through ext_lambda.
REQUIRES = ("ext_lambda",)


def _invoke_awslambda(account_id, event_body, fn_arn, region_name):
    """S3's direct Lambda notification: asynchronous, as on AWS."""
    from moto.awslambda.utils import get_backend

    try:
        fn = get_backend(account_id, region_name).get_function(fn_arn)
    except Exception:  # noqa: BLE001 - S3 drops it, as moto does
        return
    invoke_async(fn, event_body, "s3")


def install(emulator) -> None:
    from moto.s3 import notifications as s3_notifications

    s3_notifications._invoke_awslambda = _invoke_awslambda
