"""What moto's CloudFormation reads differently from CloudFormation, fixed before or while a template is parsed.

1. `{{resolve:ssm:…}}` dynamic references are resolved at CreateStack / UpdateStack
   (`CloudFormationBackend.create_stack` / `update_stack`), as CloudFormation does; moto leaves them as text.
   GetTemplate answers the template as submitted, its references unresolved, as CloudFormation does.
2. `AWS::CodeBuild::Project`, which moto's CloudFormation skips (the project templates' seed-code build): created in
   moto's CodeBuild backend — whose builds report SUCCEEDED — so `!Ref` gives the project name and `!GetAtt .Arn`
   its ARN. With it and (1), a project's stack `SP-<id>` can complete in the emulator: its Custom::SeedCode is
   answered by the real seedcode-checkin binary after a build of the project's seed-code CodeBuild project.
3. `!Ref AWS::NoValue` as a list element (e.g. `- !If [Cond, X, !Ref AWS::NoValue]` in ManagedPolicyArns or a
   policy's Statement list): CloudFormation removes the element; moto's `parsing.clean_json` drops such keys from
   mappings but keeps `None` in lists. Here lists lose it too.
4. Generated names: moto builds `<stack>-<logical id>-<suffix>` whatever its length, so a role of the stack
   `sagemaker-projects-bootstrap` gets a 67-character name IAM would refuse (64 at most), and SQS cuts a queue's at
   80 characters, so two queues of a long-named stack (a StackSet instance's `StackSet-<name>-<uuid>`) get the same
   name. CloudFormation shortens the stack and logical-id parts to keep the unique suffix within the service's
   limit; so does `parsing.generate_resource_name` here (NAME_LIMITS).
5. A function's environment: moto keeps a Number parameter's value as a number (GetFunction then answers
   `"RECHECK_DELAY_SECONDS": 10`); Lambda's variables are strings, and CloudFormation passes them so.
"""

from __future__ import annotations

import re
from typing import Any

from moto.core.common_models import CloudFormationModel

from harness.cfn_model import NamedModel


_SSM_REFERENCE = re.compile(r"\{\{resolve:ssm:([^}]+)\}\}")


def _resolve_ssm_references(backend, template: Any) -> Any:
    """CloudFormation resolves `{{resolve:ssm:name[:version]}}` before it creates anything; moto does not."""
    if not isinstance(template, str) or "{{resolve:ssm:" not in template:
        return template
    from moto.cloudformation.exceptions import ValidationError
    from moto.ssm.models import ssm_backends

    ssm = ssm_backends[backend.account_id][backend.region_name]

    def value(match: re.Match) -> str:
        try:
            parameter = ssm.get_parameter(match.group(1))
        except Exception:  # noqa: BLE001 - a wrong version or label
            parameter = None
        if parameter is None:
            raise ValidationError(message=f"Parameters: [ssm:{match.group(1)}] cannot be found.")
        return parameter.value

    return _SSM_REFERENCE.sub(value, template)


def _install_dynamic_references() -> None:
    from moto.cloudformation.models import CloudFormationBackend

    create_stack, update_stack = CloudFormationBackend.create_stack, CloudFormationBackend.update_stack

    def create_stack_resolving(self, name, template, *args, **kwargs):
        stack = create_stack(self, name, _resolve_ssm_references(self, template), *args, **kwargs)
        stack.submitted_template = template
        return stack

    def update_stack_resolving(self, name, template, *args, **kwargs):
        stack = update_stack(self, name, _resolve_ssm_references(self, template), *args, **kwargs)
        if not stack.status.startswith("UPDATE_ROLLBACK"):  # a rollback put the previous one back
            stack.submitted_template = template
        return stack

    def get_template(self, name_or_stack_id: str):
        # the template as it was submitted, its dynamic references unresolved (CloudFormation's GetTemplate)
        stack = self.get_stack(name_or_stack_id)
        return getattr(stack, "submitted_template", stack.template)

    CloudFormationBackend.create_stack = create_stack_resolving
    CloudFormationBackend.update_stack = update_stack_resolving
    CloudFormationBackend.get_template = get_template


class CodeBuildProject(NamedModel, CloudFormationModel):
    """`AWS::CodeBuild::Project`, backed by moto's CodeBuild backend."""

    TYPE, NAME_PROPERTY = "AWS::CodeBuild::Project", "Name"

    @property
    def arn(self) -> str:
        return f"arn:aws:codebuild:{self.region}:{self.account_id}:project/{self.name}"

    def attribute(self) -> str:
        return self.arn

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


def _install_codebuild_project() -> None:
    from moto.cloudformation import parsing

    # CloudFormationModel.__subclasses__() is cached on first use: let the new model be found
    parsing.get_model_list.cache_clear()
    parsing.get_model_map.cache_clear()
    parsing.get_name_type_map.cache_clear()


def _install_no_value_in_lists() -> None:
    from moto.cloudformation import parsing

    original = parsing.clean_json

    def clean_json(resource_json, resources_map):
        cleaned = original(resource_json, resources_map)
        if isinstance(resource_json, list) and isinstance(cleaned, list):
            return [v for v in cleaned if v is not None]
        return cleaned

    parsing.clean_json = clean_json


#: resource type -> the longest name its service takes
#: the longest name each service takes, which CloudFormation's generated names respect (IAM: role names 64, managed
#: policy names 128; Lambda function names 64; EventBridge rule names 64; SQS queue names 80; SNS topics 256)
NAME_LIMITS = {"AWS::SQS::Queue": 80, "AWS::IAM::Role": 64, "AWS::IAM::ManagedPolicy": 128,
               "AWS::Lambda::Function": 64, "AWS::Events::Rule": 64, "AWS::SNS::Topic": 256}


def _install_generated_names() -> None:
    from moto.cloudformation import parsing

    original = parsing.generate_resource_name

    def generate_resource_name(resource_type: str, stack_name: str, logical_id: str) -> str:
        limit = NAME_LIMITS.get(resource_type)
        name = original(resource_type, stack_name, logical_id)
        if limit is None or len(name) <= limit:
            return name
        suffix = name.rsplit("-", 1)[1]
        room = limit - len(suffix) - 2  # two dashes
        # the whole stack name while the logical id keeps a few characters, else half and half
        logical = logical_id[: room - len(stack_name)] if len(stack_name) <= room - 8 else logical_id[: room // 2]
        return f"{stack_name[: room - len(logical)]}-{logical}-{suffix}"

    parsing.generate_resource_name = generate_resource_name


def _install_string_environment() -> None:
    import copy

    from moto.awslambda.models import LambdaFunction

    def stringified(cloudformation_json: dict) -> dict:
        variables = ((cloudformation_json.get("Properties") or {}).get("Environment") or {}).get("Variables")
        if not variables:
            return cloudformation_json
        fixed = copy.deepcopy(cloudformation_json)
        fixed["Properties"]["Environment"]["Variables"] = {k: v if isinstance(v, str) else str(v)
                                                           for k, v in variables.items()}
        return fixed

    create = LambdaFunction.create_from_cloudformation_json.__func__
    update = LambdaFunction.update_from_cloudformation_json.__func__

    def create_function(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        return create(cls, resource_name, stringified(cloudformation_json), account_id, region_name, **kwargs)

    def update_function(cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name):
        return update(cls, original_resource, new_resource_name, stringified(cloudformation_json), account_id,
                      region_name)

    LambdaFunction.create_from_cloudformation_json = classmethod(create_function)
    LambdaFunction.update_from_cloudformation_json = classmethod(update_function)
