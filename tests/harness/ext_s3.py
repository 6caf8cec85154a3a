"""S3 additions to moto 5.2.5 (see README: "What the emulator lacks and how the harness fills it").

- `AWS::S3::Bucket`: moto applies only BucketEncryption and Tags. Its bucket model is taught the other properties
  the bootstrap bucket declares — BucketEncryption's BucketKeyEnabled, VersioningConfiguration, PublicAccessBlockConfiguration, CorsConfiguration and
  NotificationConfiguration.EventBridgeConfiguration — read from the template as CloudFormation reads them, so the
  emulated bucket is the one the template describes (and S3 sends "Object Created" to EventBridge for the tagger,
  which ext_events delivers to Lambda targets).
- SSE-KMS ETags: moto gives every single-part object the MD5 of its content as ETag. S3 does so only for SSE-S3 and
  unencrypted objects; an SSE-KMS (or DSSE-KMS) object's ETag is not the MD5 of its data. Such objects get an
  opaque ETag here (the MD5 of a random salt and the content: different on every write, as the encrypted bytes
  are), so code that reads an ETag as a content digest fails here as it would on AWS.
- S3's direct Lambda notifications (`moto.s3.notifications._invoke_awslambda`) become asynchronous, as on AWS: the
  function runs (through ext_lambda) once the PutObject that caused it has been answered.
"""
from __future__ import annotations

from typing import Any

from harness.ext_lambda import invoke_async

#: Extensions installed before this one (emulator.start installs in that order): notifications go through ext_lambda.
REQUIRES = ("ext_lambda",)


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


def _patch_bucket_properties() -> None:
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
        rules = (props.get("BucketEncryption") or {}).get("ServerSideEncryptionConfiguration") or []
        if rules and _is_true(rules[0].get("BucketKeyEnabled")) and bucket.encryption:
            bucket.encryption["Rule"]["BucketKeyEnabled"] = "true"
        cors = props.get("CorsConfiguration")
        if cors:
            bucket.set_cors(_cors_rules(cors))
        events = (props.get("NotificationConfiguration") or {}).get("EventBridgeConfiguration") or {}
        if _is_true(events.get("EventBridgeEnabled")):
            bucket.set_notification_configuration({"EventBridgeConfiguration": {}})
        return bucket

    FakeBucket.create_from_cloudformation_json = classmethod(create_from_cloudformation_json)


KMS_ALGORITHMS = ("aws:kms", "aws:kms:dsse")


def _patch_kms_etags() -> None:
    """An SSE-KMS object's ETag is not the MD5 of its content (see the module docstring)."""
    import hashlib
    import os

    from moto.s3.models import FakeKey

    content_etag = FakeKey.etag.fget

    def etag(self) -> str:
        if self.encryption not in KMS_ALGORITHMS or self.multipart is not None:
            return content_etag(self)
        if getattr(self, "_kms_etag", None) is None:
            salted = hashlib.md5(os.urandom(16))  # noqa: S324 - an opaque token, as S3's is
            salted.update(content_etag(self).encode())
            self._kms_etag = f'"{salted.hexdigest()}"'
        return self._kms_etag

    FakeKey.etag = property(etag)


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

    _patch_bucket_properties()
    _patch_kms_etags()
    s3_notifications._invoke_awslambda = _invoke_awslambda
