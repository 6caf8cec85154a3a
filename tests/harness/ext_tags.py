"""Resource tags that moto 5.2.5's CloudFormation drops or mangles (see README: "What the emulator lacks and how the
harness fills it"): a stack's `Tags` on `AWS::Lambda::Function` are ignored, and on `AWS::Lambda::EventSourceMapping`
kept as CloudFormation's Key/Value list (ListTags then answers a list where Lambda answers a map). Here both carry
the tags Lambda's API reports. (Roles, buckets, queues, log groups and rules keep theirs in moto already.)

SageMaker's AddTags / ListTags / DeleteTags: moto keeps `tags = None` on a resource created without tags (and
answers 500), knows no project ARNs, and duplicates a key AddTags sets again; here each works as SageMaker's API
reference says, on projects (ext_sagemaker) too, at most 50 tags a resource.
"""
from __future__ import annotations

from harness.ext_sagemaker import Project, ValidationException, live_project

REQUIRES = ("ext_sagemaker",)


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



def _tagged_resource(backend, arn: str):
    """The resource object behind `arn` with a list in `.tags`, or ValidationException."""
    resource_part = arn.split(":", 5)[-1] if arn.count(":") >= 5 else ""
    kind, _, name = resource_part.partition("/")
    if kind == "project":
        project = live_project(backend.account_id, backend.region_name, name)
        if project is None:
            raise ValidationException(f"Project {name} does not exist.")
        return project
    try:
        resource = backend._get_resource_from_arn(arn)
    except (AttributeError, ValueError):
        resource = None
    if resource is None:
        raise ValidationException(f"Could not find resource {arn}")
    if getattr(resource, "tags", None) is None:
        resource.tags = []
    return resource


def _add_tags(self, arn: str, tags: list[dict[str, str]]) -> list[dict[str, str]]:
    resource = _tagged_resource(self, arn)
    merged = {t["Key"]: t["Value"] for t in resource.tags}
    merged.update({t["Key"]: t["Value"] for t in tags or []})
    if len(merged) > 50:
        raise ValidationException("Cannot have more than 50 tags on a resource")
    resource.tags = [{"Key": k, "Value": v} for k, v in merged.items()]
    return resource.tags


def _delete_tags(self, arn: str, tag_keys: list[str]) -> None:
    resource = _tagged_resource(self, arn)
    resource.tags = [t for t in resource.tags if t["Key"] not in (tag_keys or [])]


def _make_list_tags(original):
    def list_tags(self, arn: str, **kwargs):
        resource = _tagged_resource(self, arn)
        if isinstance(resource, Project):
            # moto's paginator works on the backend method; page a project's tags here instead
            max_results = int(kwargs.get("MaxResults") or 50)
            start = int(kwargs.get("NextToken") or 0)
            page = resource.tags[start : start + max_results]
            token = str(start + max_results) if start + max_results < len(resource.tags) else None
            return page, token
        return original(self, arn, **kwargs)

    return list_tags


def _patch_sagemaker_tags() -> None:
    from moto.sagemaker import models as sm_models

    backend_cls = sm_models.SageMakerModelBackend
    backend_cls.add_tags = _add_tags
    backend_cls.delete_tags = _delete_tags
    backend_cls.list_tags = _make_list_tags(backend_cls.list_tags)


def install(emulator) -> None:
    _patch_lambda_tags()
    _patch_sagemaker_tags()
