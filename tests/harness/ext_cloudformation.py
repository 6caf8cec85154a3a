"""`AWS::CodeBuild::Project`, which moto 5.2.5's CloudFormation skips (the project templates' seed-code build):
created in moto's CodeBuild backend — whose builds report SUCCEEDED — so `!Ref` gives the project name and
`!GetAtt .Arn` its ARN. With it (and ext_lambda's resolution of `{{resolve:ssm:…}}`), a project's stack
`SP-<id>` can complete in the emulator: its Custom::SeedCode is answered by the real seedcode-checkin binary
after a build of the project's seed-code CodeBuild project.
"""
from __future__ import annotations

from typing import Any

from moto.core.common_models import CloudFormationModel

class CodeBuildProject(CloudFormationModel):
    """`AWS::CodeBuild::Project`, backed by moto's CodeBuild backend."""

    def __init__(self, account_id: str, region: str, name: str):
        self.account_id, self.region, self.name = account_id, region, name

    @property
    def physical_resource_id(self) -> str:
        return self.name

    @property
    def arn(self) -> str:
        return f"arn:aws:codebuild:{self.region}:{self.account_id}:project/{self.name}"

    @staticmethod
    def cloudformation_name_type() -> str:
        return "Name"

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::CodeBuild::Project"

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr == "Arn"

    def get_cfn_attribute(self, attribute_name: str) -> Any:
        if attribute_name == "Arn":
            return self.arn
        from moto.cloudformation.exceptions import UnformattedGetAttTemplateException

        raise UnformattedGetAttTemplateException()

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        from moto.codebuild.models import codebuild_backends

        props = cloudformation_json.get("Properties", {})
        name = props.get("Name") or resource_name
        codebuild_backends[account_id][region_name].create_project(
            project_name=name,
            description=props.get("Description"),
            project_source=props.get("Source") or {"type": "NO_SOURCE"},
            artifacts=props.get("Artifacts") or {"type": "NO_ARTIFACTS"},
            environment=props.get("Environment") or {},
            service_role=props.get("ServiceRole", ""),
            tags=props.get("Tags"),
            cache=props.get("Cache"),
            timeout=props.get("TimeoutInMinutes"),
            queued_timeout=props.get("QueuedTimeoutInMinutes"),
            source_version=props.get("SourceVersion"),
            logs_config=props.get("LogsConfig"),
            vpc_config=props.get("VpcConfig"),
        )
        return cls(account_id, region_name, name)

    @classmethod
    def delete_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name):
        cls(account_id, region_name, resource_name).delete(account_id, region_name)

    def delete(self, account_id: str, region_name: str) -> None:
        from moto.codebuild.models import codebuild_backends

        backend = codebuild_backends[account_id][region_name]
        backend.codebuild_projects.pop(self.name, None)
        backend.build_history.pop(self.name, None)

    def is_created(self) -> bool:
        return True


def install(emulator) -> None:
    from moto.cloudformation import parsing

    # CloudFormationModel.__subclasses__() is cached on first use: let the new model be found
    parsing.get_model_list.cache_clear()
    parsing.get_model_map.cache_clear()
    parsing.get_name_type_map.cache_clear()
