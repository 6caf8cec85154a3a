"""PEER — Custom::ProjectTemplates the conventional way (crhelper + boto3). Benchmark only; see common.py.

Same requests as ours for the same event: list the prefix, read ownership tags only where an object differs,
one tagged PutObject per new or changed template (16 at a time), DeleteObjects for ours that left the set."""
from __future__ import annotations

import hashlib
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import quote

import common

VISIBILITY_TAG = "sagemaker:studio-visibility"
PUBLISHED_BY_TAG = "sagemaker-projects-bootstrap:published-by"
CONCURRENCY = 16
TEMPLATE_DIR = Path(os.environ.get("PEER_TEMPLATE_DIR", Path(__file__).resolve().parents[2] / "templates"))
TEMPLATES = {p.name: p.read_bytes() for p in sorted(TEMPLATE_DIR.glob("*.yaml"))}

helper = common.helper()
s3 = common.client("s3")


class Foreign(Exception):
    pass


def _etag(body: bytes) -> str:
    return f'"{hashlib.md5(body).hexdigest()}"'  # noqa: S324 - S3's ETag of a single-part upload


def _owner(bucket, key):
    tags = s3.get_object_tagging(Bucket=bucket, Key=key)["TagSet"]
    return next((t["Value"] for t in tags if t["Key"] == PUBLISHED_BY_TAG), None)


def publish(bucket: str, prefix: str, owner: str) -> tuple[int, int]:
    existing = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        existing.update({o["Key"]: o["ETag"] for o in page.get("Contents", [])})
    to_write = []
    for name, body in TEMPLATES.items():
        key = prefix + name
        etag = existing.pop(key, None)
        if etag is None:
            to_write.append((key, body))
        elif etag != _etag(body):
            if _owner(bucket, key) != owner:
                raise Foreign(f"s3://{bucket}/{key} exists and was not published by this stack")
            to_write.append((key, body))
    leftovers = [k for k in existing if k.endswith((".yaml", ".yml", ".json", ".template"))]
    to_remove = [k for k in leftovers if _owner(bucket, k) == owner]
    tagging = f"{quote(VISIBILITY_TAG, safe='')}=true&{quote(PUBLISHED_BY_TAG, safe='')}={owner}"

    def put(item):
        key, body = item
        s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/x-yaml", Tagging=tagging)

    if to_write:
        with ThreadPoolExecutor(min(CONCURRENCY, len(to_write))) as pool:
            list(pool.map(put, to_write))
    for i in range(0, len(to_remove), 1000):
        s3.delete_objects(Bucket=bucket, Delete={"Quiet": True, "Objects": [{"Key": k} for k in to_remove[i:i + 1000]]})
    return len(to_write), len(to_remove)


def _attribute(name: str) -> str:
    stem = name.rsplit(".", 1)[0]
    return "".join(w[:1].upper() + w[1:] for w in stem.replace("_", "-").split("-") if w)


@helper.create
@helper.update
def create_or_update(event, _context):
    props = event["ResourceProperties"]
    bucket, prefix = props["Bucket"], props.get("Prefix", "")
    written, removed = publish(bucket, prefix, common.owner_scope(event))
    region = os.environ.get("AWS_REGION", "us-east-1")
    helper.Data.update({"TemplatesLocation": f"s3://{bucket}/{prefix}" if prefix else f"s3://{bucket}",
                        "TemplateCount": str(len(TEMPLATES)), "Written": str(written), "Removed": str(removed)})
    for name in TEMPLATES:
        helper.Data[f"{_attribute(name)}Url"] = f"https://{bucket}.s3.{region}.amazonaws.com/{prefix}{name}"
    return event.get("PhysicalResourceId") or common.physical_id(event)


@helper.delete
def delete(_event, _context):
    return None


def handler(event, context):
    helper(event, context)
