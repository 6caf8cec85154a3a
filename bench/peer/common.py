"""PEER — not part of the product. A conventional Python implementation (crhelper + boto3), written only so
`make bench` can compare our Rust functions with what the same work costs the usual way. See bench/README.md.

Shared by the peer handlers: boto3 clients configured like ours (the endpoint from AWS_ENDPOINT_URL, path-style
S3 when an endpoint is set, standard retries), the owner scope and PhysicalResourceId computed as ours are,
and one adaptation of crhelper: it PUTs the response over HTTPS only, while the benchmark's response sink is
plain HTTP on loopback — the same request is sent over `http.client.HTTPConnection` instead.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
from http.client import HTTPConnection
from urllib.parse import urlsplit, urlunsplit

import boto3
from botocore.config import Config
from crhelper import CfnResource
from crhelper import resource_helper

logger = logging.getLogger(__name__)

_config = Config(
    retries={"mode": "standard", "max_attempts": 6},
    s3={"addressing_style": "path"} if os.environ.get("AWS_ENDPOINT_URL") else {},
    max_pool_connections=16,
)
_session = boto3.session.Session()


def client(service: str):
    return _session.client(service, config=_config)


def _send_response_http(response_url, response_body, ssl_verify=None):
    """crhelper's `_send_response` (PUT, empty Content-Type, exact length), for an http:// ResponseURL."""
    body = json.dumps(response_body)
    parts = urlsplit(response_url)
    if parts.scheme == "https":
        return resource_helper._send_response(response_url, response_body, ssl_verify)
    conn = HTTPConnection(parts.netloc, timeout=30)
    conn.request("PUT", urlunsplit(("", "", *parts[2:])), body=body,
                 headers={"content-type": "", "content-length": str(len(body))})
    logger.info("CloudFormation returned status code: %s", conn.getresponse().reason)
    conn.close()


# crhelper binds its sender as a default argument of CfnResource._send
CfnResource._send.__defaults__ = (None, "", _send_response_http)


def helper() -> CfnResource:
    return CfnResource(json_logging=False, log_level="INFO", boto_level="CRITICAL", sleep_on_delete=0)


def owner_scope(event) -> str:
    """As ours: the first 5 bytes of sha256("<StackId>|<LogicalResourceId>"), in hex."""
    return hashlib.sha256(f"{event['StackId']}|{event['LogicalResourceId']}".encode()).hexdigest()[:10]


def physical_id(event) -> str:
    """As ours on Create: `<LogicalId>-g0-<check>`."""
    logical = event["LogicalResourceId"] or "Resource"
    check = hashlib.sha256(f"sppb/v1|{event['StackId']}|{event['LogicalResourceId']}|g0".encode()).hexdigest()[:12]
    return f"{logical}-g0-{check}"
