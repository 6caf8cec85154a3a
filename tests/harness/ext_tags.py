"""Resource tags that moto 5.2.5's CloudFormation drops or mangles (see README: "What the emulator lacks and how the
harness fills it"): a stack's `Tags` on `AWS::Lambda::Function` are ignored, and on `AWS::Lambda::EventSourceMapping`
kept as CloudFormation's Key/Value list (ListTags then answers a list where Lambda answers a map). Here both carry
the tags Lambda's API reports. (Roles, buckets, queues, log groups and rules keep theirs in moto already.)
"""
from __future__ import annotations


def _as_map(tags) -> dict[str, str]:
    if isinstance(tags, dict):
        return dict(tags)
    return {t["Key"]: t["Value"] for t in tags or []}


def _patch_lambda_tags() -> None:
    from moto.awslambda.models import EventSourceMapping, LambdaFunction

    function_create = LambdaFunction.create_from_cloudformation_json.__func__
    mapping_create = EventSourceMapping.create_from_cloudformation_json.__func__

    def create_function(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        fn = function_create(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)
        fn.tags.update(_as_map((cloudformation_json.get("Properties") or {}).get("Tags")))
        return fn

    def create_mapping(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        esm = mapping_create(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)
        esm.tags = _as_map(esm.tags)
        return esm

    LambdaFunction.create_from_cloudformation_json = classmethod(create_function)
    EventSourceMapping.create_from_cloudformation_json = classmethod(create_mapping)


def install(emulator) -> None:
    _patch_lambda_tags()
