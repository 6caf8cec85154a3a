"""Requests refused as AWS refuses them (see README: "What the emulator lacks and how the harness fills it").

moto accepts what AWS refuses: a SageMaker tag value with `(`, a 269-character one, a project description with a
newline. Here every request is read with moto's own parser for its protocol (JSON, query, REST-JSON: the botocore
service model's input shape) and checked against that model's constraints — required members, string lengths,
list and map sizes, numeric ranges, enums, and patterns (with the `regex` module: botocore's patterns use Java's
`\\p{…}` classes, which Python's `re` lacks; botocore itself checks none of this but required members and minimums).
A request that breaks one is answered as the service answers it — 400, `ValidationException` (JSON and REST-JSON
services) or `ValidationError` (query services: IAM, STS, CloudFormation), "N validation error(s) detected: Value
… at '…' failed to satisfy constraint: Member must …" — before moto acts. S3 (REST-XML) has almost no constraints
in its model; its documented limits are checked in its backend instead: an object key of at most 1,024 bytes
(`KeyTooLongError`); at most 10 tags, keys of 1–128 and values of at most 256 characters of S3's tag set
(letters, digits, spaces, `+ - = . _ : / @`), checked before an object is stored (`BadRequest`, `InvalidTag`).

`EMULATOR_STRICT_REQUESTS=off` turns the checks off (to see what moto alone would do); they are on in every test
and the demo.
"""
from __future__ import annotations

import json
import os
import uuid
from functools import lru_cache
from typing import Any

#: services whose validation error is `ValidationError` (query protocol)
_QUERY_CODE = "ValidationError"
_JSON_CODE = "ValidationException"
#: S3's tag characters: letters, digits, spaces and + - = . _ : / @
_S3_TAG = r"[\p{L}\p{Z}\p{N}_.:/=+\-@]*"


@lru_cache(maxsize=4096)
def _pattern(text: str):
    import regex

    try:
        return regex.compile(text)
    except regex.error:
        return None  # a pattern only Java reads: not checked rather than checked wrongly


def _camel(name: str) -> str:
    return name[:1].lower() + name[1:]


def _show(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= 200 else text[:200] + "…"


def problems(shape, value: Any, path: str = "") -> list[str]:
    """Every constraint of `shape` (a botocore shape) that `value` breaks, in AWS's words."""
    found: list[str] = []
    meta = shape.metadata
    where = f"Value {_show(value)!r} at '{path}' failed to satisfy constraint: Member must"
    kind = shape.type_name
    if kind == "structure":
        if not isinstance(value, dict):
            return found
        for name in shape.required_members:
            if value.get(name) is None:
                found.append(f"Value null at '{(path + '.' if path else '') + _camel(name)}' failed to satisfy "
                             "constraint: Member must not be null")
        for name, member in shape.members.items():
            if value.get(name) is not None:
                found += problems(member, value[name], (path + "." if path else "") + _camel(name))
    elif kind == "list":
        if not isinstance(value, list):
            return found
        if "min" in meta and len(value) < meta["min"]:
            found.append(f"{where} have length greater than or equal to {meta['min']}")
        if "max" in meta and len(value) > meta["max"]:
            found.append(f"{where} have length less than or equal to {meta['max']}")
        for i, item in enumerate(value, 1):
            found += problems(shape.member, item, f"{path}.{i}.member")
    elif kind == "map":
        if not isinstance(value, dict):
            return found
        if "max" in meta and len(value) > meta["max"]:
            found.append(f"{where} have length less than or equal to {meta['max']}")
        for k, v in value.items():
            found += problems(shape.key, k, f"{path}.key") + problems(shape.value, v, f"{path}.{k}")
    elif kind == "string" and isinstance(value, str):
        if "min" in meta and len(value) < meta["min"]:
            found.append(f"{where} have length greater than or equal to {meta['min']}")
        if "max" in meta and len(value) > meta["max"]:
            found.append(f"{where} have length less than or equal to {meta['max']}")
        if shape.enum and value not in shape.enum:
            found.append(f"{where} satisfy enum value set: [{', '.join(shape.enum)}]")
        compiled = _pattern(meta["pattern"]) if "pattern" in meta else None
        if compiled is not None and compiled.fullmatch(value) is None:
            found.append(f"{where} satisfy regular expression pattern: {meta['pattern']}")
    elif kind in ("integer", "long") and isinstance(value, int) and not isinstance(value, bool):
        if "min" in meta and value < meta["min"]:
            found.append(f"{where} have value greater than or equal to {meta['min']}")
        if "max" in meta and value > meta["max"]:
            found.append(f"{where} have value less than or equal to {meta['max']}")
    return found


def _message(found: list[str]) -> str:
    n = len(found)
    return f"{n} validation error{'s' if n > 1 else ''} detected: " + "; ".join(found)


def _error(protocol: str, code: str, message: str, status: int = 400):
    request_id = str(uuid.uuid4())
    if protocol in ("json", "rest-json"):
        headers = {"Content-Type": "application/x-amz-json-1.1", "x-amzn-RequestId": request_id,
                   "x-amzn-ErrorType": code}
        return status, headers, json.dumps({"__type": code, "message": message})
    body = (f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{_xml(message)}</Message>"
            f"</Error><RequestId>{request_id}</RequestId></ErrorResponse>")
    return status, {"Content-Type": "text/xml", "x-amzn-RequestId": request_id}, body


def _xml(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _check(response, request) -> Any:
    """The error response for a request AWS would refuse, or None."""
    from moto.core.parse import PROTOCOL_PARSERS
    from moto.core.request import determine_request_protocol
    from moto.core.utils import get_service_model

    name = getattr(response, "boto3_service_name", None) or getattr(response, "service_name", None)
    if not name:
        return None
    if name == "s3":
        return None  # its limits are checked in its backend (_install_s3_limits)
    try:
        action = response._get_action()
        if not action:
            return None
        service_model = get_service_model(name)
        operation = service_model.operation_model(action)
    except Exception:  # noqa: BLE001 - moto's own endpoints, an action the model does not know
        return None
    if operation.input_shape is None:
        return None
    protocol = determine_request_protocol(service_model, request.content_type)
    try:
        parser = PROTOCOL_PARSERS[protocol](operation)
        params = parser.parse({"method": request.method, "values": request.values, "headers": request.headers,
                               "body": request.data, "url_path": request.path,
                               "url_params": getattr(response, "uri_match", None) or {}})
    except Exception:  # noqa: BLE001 - what moto's parser cannot read, moto answers itself
        return None
    found = problems(operation.input_shape, params)
    if not found:
        return None
    code = _QUERY_CODE if protocol in ("query", "ec2") else _JSON_CODE
    return _error("json" if protocol == "json" else protocol, code, _message(found))


def _install_s3_limits() -> None:
    import regex
    from moto.s3.exceptions import BadRequest, InvalidTagError, S3ClientError
    from moto.s3.models import S3Backend
    from moto.s3.responses import S3Response

    class KeyTooLongError(S3ClientError):
        def __init__(self) -> None:
            super().__init__("KeyTooLongError", "Your key is too long")

    put_object = S3Backend.put_object

    def put_object_limited(self, bucket_name, key_name, *args, **kwargs):
        if len(key_name.encode()) > 1024:
            raise KeyTooLongError()
        return put_object(self, bucket_name, key_name, *args, **kwargs)

    def checked(tags: dict[str, str]) -> dict[str, str]:
        # read before anything is stored: a PutObject with tags S3 refuses stores no object either
        if len(tags) > 10:
            raise BadRequest("Object tags cannot be greater than 10")
        for k, v in tags.items():
            if not 1 <= len(k) <= 128 or regex.fullmatch(_S3_TAG, k) is None:
                raise InvalidTagError("The TagKey you have provided is invalid")
            if len(v or "") > 256 or regex.fullmatch(_S3_TAG, v or "") is None:
                raise InvalidTagError("The TagValue you have provided is invalid")
        return tags

    from_headers, from_xml = S3Response._tagging_from_headers, S3Response._tagging_from_xml
    S3Response._tagging_from_headers = lambda self, headers: checked(from_headers(self, headers))
    S3Response._tagging_from_xml = lambda self, *a, **kw: checked(from_xml(self, *a, **kw))
    S3Backend.put_object = put_object_limited


def install(emulator) -> None:
    if os.environ.get("EMULATOR_STRICT_REQUESTS", "").lower() == "off":
        return
    from moto.core.responses import BaseResponse

    dispatch = BaseResponse._dispatch

    def strict_dispatch(self, request, full_url=None, headers=None):
        self.setup_class(request, full_url, headers)
        refused = _check(self, request)
        if refused is not None:
            return refused
        return self.call_action()

    if dispatch.__name__ != "strict_dispatch":
        BaseResponse._dispatch = strict_dispatch
        _install_s3_limits()
