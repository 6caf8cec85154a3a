"""SageMaker additions to moto 5.2.5 (see README: "What the emulator lacks and how the harness fills it").

1. Projects from S3 CloudFormation templates (CreateProject / DescribeProject / ListProjects / UpdateProject /
   DeleteProject, the `TemplateProviders` form of the API). moto answers these with HTTP 500. Here they are
   methods added to `moto.sagemaker.responses.SageMakerResponse` (moto dispatches a JSON-protocol action
   `SageMaker.CreateProject` to the snake_case method `create_project`); the project's template becomes a
   stack `SP-<ProjectId>` in moto's own CloudFormation backend, and the project's status is read from it.
Tags on SageMaker resources (project ARNs included) are ext_tags.py's; domains' knobs ext_sagemaker_domains.py's;
user profiles ext_sagemaker_profiles.py's.

State lives per account and region and is cleared with moto's (`emulator.on_reset`).
"""
from __future__ import annotations

import base64
import datetime as dt
import json
import re
import secrets
import string
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

import yaml

from moto.core.exceptions import JsonRESTError
from moto.core.responses import ActionResult, EmptyResult
from moto.sagemaker.exceptions import SagemakerClientError

from harness import cfn_yaml

# ---------------------------------------------------------------------------------------------------------------
# Settings the tests may change (restored to these defaults on every emulator reset)

#: How long a deleted project still answers DescribeProject/ListProjects with DeleteCompleted before it is gone.
DELETED_PROJECT_TTL_SECONDS: float = 1.0

_DEFAULTS = {"DELETED_PROJECT_TTL_SECONDS": 1.0}

# names SageMaker fills in itself; a caller may not pass them
RESERVED_PARAMETERS = ("SageMakerProjectName", "SageMakerProjectId")
VISIBILITY_TAG = "sagemaker:studio-visibility"

# API constraints, from the botocore model of sagemaker 2017-07-24 (patterns are whole-value matches)
PROJECT_NAME_PATTERN = r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,31}"
TEMPLATE_NAME_PATTERN = r"(?=.{1,32}$)[a-zA-Z0-9](-*[a-zA-Z0-9])*"
TEMPLATE_URL_PATTERN = r"(?=.{1,1024}$)(https)://([^/]+)/(.+)"
ROLE_ARN_PATTERN = r"arn:aws[a-z\-]*:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+"


# ---------------------------------------------------------------------------------------------------------------
# Errors (codes are the shapes of the sagemaker model; moto serializes them as AWS does)


class ValidationException(SagemakerClientError):
    code = "ValidationException"


class ResourceInUse(SagemakerClientError):
    code = "ResourceInUse"


class ResourceNotFound(SagemakerClientError):
    code = "ResourceNotFound"


class ConflictException(SagemakerClientError):
    code = "ConflictException"


class ServiceUnavailable(JsonRESTError):
    """The common error every AWS API may answer (503): the service is down for a while, the same call may pass
    later. Not in SageMaker's own error shapes, hence the HTTP status set here."""

    code = 503

    def __init__(self, message: str = "Service is unable to handle request."):
        super().__init__("ServiceUnavailable", message)


class _Constraints:
    """Collects field-constraint violations and raises them the way AWS's front end words them."""

    def __init__(self):
        self.problems: list[str] = []

    def add(self, value: Any, path: str, rule: str) -> None:
        shown = value if isinstance(value, str) else json.dumps(value, default=str)
        if len(shown) > 200:
            shown = shown[:200] + "..."
        self.problems.append(f"Value '{shown}' at '{path}' failed to satisfy constraint: Member must {rule}")

    def length(self, value: Any, path: str, lo: int | None, hi: int | None) -> None:
        if value is None:
            return
        n = len(value)
        if lo is not None and n < lo:
            self.add(value, path, f"have length greater than or equal to {lo}")
        if hi is not None and n > hi:
            self.add(value, path, f"have length less than or equal to {hi}")

    def pattern(self, value: str | None, path: str, pattern: str) -> None:
        if value is not None and not re.fullmatch(pattern, value):
            self.add(value, path, f"satisfy regular expression pattern: {pattern}")

    def required(self, value: Any, path: str) -> bool:
        if value is None:
            self.problems.append(f"Value null at '{path}' failed to satisfy constraint: Member must not be null")
            return False
        return True

    def raise_if_any(self) -> None:
        if self.problems:
            n = len(self.problems)
            noun = "error" if n == 1 else "errors"
            raise ValidationException(f"{n} validation {noun} detected: " + "; ".join(self.problems))


# ---------------------------------------------------------------------------------------------------------------
# CloudFormation templates


def parse_template(body: str) -> dict:
    """A CloudFormation template (JSON, or YAML with short-form tags) as a dict; ValueError if it is not one."""
    try:
        doc = json.loads(body)
    except ValueError:
        try:
            doc = cfn_yaml.load(body)
        except yaml.YAMLError as e:
            raise ValueError(f"Template format error: {e}") from None
    if not isinstance(doc, dict):
        raise ValueError("Template format error: the template is not a JSON or YAML object")
    if not isinstance(doc.get("Resources"), dict) or not doc["Resources"]:
        raise ValueError("Template format error: At least one Resources member must be defined.")
    return doc


def _optional_by_metadata(template: dict, name: str) -> bool:
    rules = ((template.get("Metadata") or {}).get("SagemakerTemplateParameterRules") or {}).get(name) or {}
    return str(rules.get("Optional", "")).lower() == "true"


def check_parameters(template: dict, given: dict[str, str]) -> None:
    """The caller's parameters against the template's declarations (ValidationException naming the parameter)."""
    declared = template.get("Parameters") or {}
    for reserved in RESERVED_PARAMETERS:
        if reserved not in declared:
            raise ValidationException(f"The template must declare the parameter {reserved} (SageMaker fills it in).")
    passed_reserved = [k for k in given if k in RESERVED_PARAMETERS]
    if passed_reserved:
        raise ValidationException(
            f"Parameters: [{', '.join(passed_reserved)}] are set by SageMaker and must not be passed"
        )
    undeclared = [k for k in given if k not in declared]
    if undeclared:
        raise ValidationException(f"Parameters: [{', '.join(undeclared)}] do not exist in the template")
    missing = [
        name
        for name, decl in declared.items()
        if name not in RESERVED_PARAMETERS
        and name not in given
        and "Default" not in (decl or {})
        and not _optional_by_metadata(template, name)
    ]
    if missing:
        raise ValidationException(f"Parameters: [{', '.join(missing)}] must have values")


def parameter_value_problem(template: dict, values: dict[str, str]) -> str | None:
    """What CloudFormation would say about a value that breaks its declaration (it then fails the stack)."""
    for name, decl in (template.get("Parameters") or {}).items():
        decl = decl or {}
        if name not in values:
            continue
        value = str(values[name])
        allowed = decl.get("AllowedValues")
        if allowed is not None and value not in [str(a) for a in allowed]:
            return f"Parameter '{name}' must be one of AllowedValues"
        pattern = decl.get("AllowedPattern")
        if pattern is not None and not re.fullmatch(str(pattern), value):
            return f"Parameter '{name}' must match pattern {pattern}"
        if decl.get("MinLength") is not None and len(value) < int(decl["MinLength"]):
            return f"Parameter '{name}' must contain at least {decl['MinLength']} characters"
        if decl.get("MaxLength") is not None and len(value) > int(decl["MaxLength"]):
            return f"Parameter '{name}' must contain at most {decl['MaxLength']} characters"
    return None


# ---------------------------------------------------------------------------------------------------------------
# S3 template URLs

_VIRTUAL_HOST = re.compile(r"^(?P<bucket>.+)\.s3(?:[.-](?P<region>[a-z0-9-]+))?\.amazonaws\.com(?:\.cn)?$")
_PATH_HOST = re.compile(r"^s3(?:[.-](?P<region>[a-z0-9-]+))?\.amazonaws\.com(?:\.cn)?$")


def url_version_id(url: str) -> str | None:
    """The `versionId` an S3 object URL is pinned to (`…/x.yaml?versionId=…`), as S3 reads it; None if unpinned."""
    values = parse_qs(urlparse(url).query).get("versionId")
    return values[0] if values else None


def split_s3_url(url: str) -> tuple[str, str]:
    """(bucket, key) of an https S3 object URL in virtual-hosted or path style; ValidationException otherwise."""
    parsed = urlparse(url)
    host = (parsed.hostname or "").lower()
    path = parsed.path
    m = _VIRTUAL_HOST.match(host)
    if m and not _PATH_HOST.match(host):
        bucket, key = m.group("bucket"), path.lstrip("/")
    elif _PATH_HOST.match(host):
        bucket, _, key = path.lstrip("/").partition("/")
    else:
        raise ValidationException(f"TemplateURL {url} is not an Amazon S3 object URL")
    key = unquote(key)
    if not bucket or not key:
        raise ValidationException(f"TemplateURL {url} does not name an S3 object")
    return bucket, key


def read_visible_template(url: str, account_id: str, region: str) -> str:
    """The body of the template object at `url` — the version it is pinned to (`?versionId=`), else the latest —
    which must exist and carry sagemaker:studio-visibility=true (tags are per version, as on S3)."""
    from moto.s3.exceptions import MissingBucket
    from moto.s3.models import s3_backends
    from moto.utilities.utils import get_partition

    bucket_name, key_name = split_s3_url(url)
    partition = get_partition(region)
    try:
        owner_partition, owner_account = s3_backends.bucket_accounts.get(bucket_name, (partition, account_id))
        backend = s3_backends[owner_account][owner_partition]
        key = backend.get_object(bucket_name, key_name, version_id=url_version_id(url))
    except MissingBucket:
        key = None
    if key is None:
        raise ValidationException(f"The template {url} does not exist or SageMaker cannot read it.")
    tags = {t["Key"]: t["Value"] for t in backend.get_object_tagging(key).get("Tags", [])}
    if tags.get(VISIBILITY_TAG) != "true":
        raise ValidationException(
            f"The template {url} is not visible to SageMaker: the object needs the tag {VISIBILITY_TAG}=true."
        )
    return key.value.decode("utf-8")


def _role_problem(role_arn: str | None, account_id: str, region: str) -> str | None:
    if not role_arn:
        return None
    from moto.iam.models import iam_backends
    from moto.utilities.utils import get_partition

    role_account = role_arn.split(":")[4]
    name = role_arn.rsplit("/", 1)[-1]
    try:
        iam_backends[role_account][get_partition(region)].get_role(name)
    except Exception:  # noqa: BLE001 - any lookup failure means CloudFormation could not assume it
        return f"Role {role_arn} is invalid or cannot be assumed"
    return None


# ---------------------------------------------------------------------------------------------------------------
# Projects

_STACK_TO_PROJECT = {
    "CREATE_PENDING": "CreateInProgress",
    "CREATE_IN_PROGRESS": "CreateInProgress",
    "REVIEW_IN_PROGRESS": "CreateInProgress",
    "CREATE_COMPLETE": "CreateCompleted",
    "CREATE_FAILED": "CreateFailed",
    "ROLLBACK_IN_PROGRESS": "CreateFailed",
    "ROLLBACK_COMPLETE": "CreateFailed",
    "ROLLBACK_FAILED": "CreateFailed",
    "UPDATE_IN_PROGRESS": "UpdateInProgress",
    "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS": "UpdateInProgress",
    "UPDATE_COMPLETE": "UpdateCompleted",
    "UPDATE_FAILED": "UpdateFailed",
    "UPDATE_ROLLBACK_IN_PROGRESS": "UpdateFailed",
    "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS": "UpdateFailed",
    "UPDATE_ROLLBACK_COMPLETE": "UpdateFailed",
    "UPDATE_ROLLBACK_FAILED": "UpdateFailed",
    "DELETE_IN_PROGRESS": "DeleteInProgress",
    "DELETE_COMPLETE": "DeleteCompleted",
    "DELETE_FAILED": "DeleteFailed",
}


@dataclass
class Project:
    account_id: str
    region: str
    name: str
    project_id: str
    description: str | None
    tags: list[dict[str, str]]
    template_name: str
    template_url: str
    role_arn: str | None
    parameters: list[dict[str, str]]
    creation_time: dt.datetime
    last_modified_time: dt.datetime
    stack_id: str | None = None
    failure: str | None = None  # why the stack could not even be created
    update_failure: str | None = None  # why UpdateStack refused the last update (the stack is unchanged)
    deleting: bool = False  # DeleteProject was called
    #: its stack's deletion failed: SageMaker reports DeleteFailed until DeleteProject is called again
    delete_failed: bool = False
    deleted_at: float | None = None  # when its stack was found deleted (the project lingers a while after)

    @property
    def arn(self) -> str:
        return f"arn:aws:sagemaker:{self.region}:{self.account_id}:project/{self.name}"

    @property
    def stack_name(self) -> str:
        return f"SP-{self.project_id}"

    def _stack(self):
        if self.stack_id is None:
            return None
        from moto.cloudformation.models import cloudformation_backends

        backend = cloudformation_backends[self.account_id][self.region]
        return backend.stacks.get(self.stack_id) or backend.deleted_stacks.get(self.stack_id)

    def status(self) -> str:
        if self.deleting:
            stack = self._stack()
            stack_status = stack.status if stack is not None else "DELETE_COMPLETE"
            if stack_status == "DELETE_FAILED" or self.delete_failed:
                self.delete_failed = True
                return "DeleteFailed"
            if stack_status == "DELETE_COMPLETE":
                if self.deleted_at is None:
                    self.deleted_at = time.time()
                return "DeleteCompleted"
            return "DeleteInProgress"
        if self.failure is not None:
            return "CreateFailed"
        if self.update_failure is not None:
            return "UpdateFailed"
        stack = self._stack()
        if stack is None:
            return "Pending"
        return _STACK_TO_PROJECT.get(stack.status, "CreateInProgress")

    def stack_detail(self) -> dict[str, str]:
        detail = {"Name": self.stack_name}
        stack = self._stack()
        if stack is None:
            detail["StatusMessage"] = self.failure or "Stack not created"
            return detail
        detail["Id"] = stack.stack_id
        if self.update_failure is not None:
            detail["StatusMessage"] = f"{stack.status}: {self.update_failure}"
            return detail
        reason = getattr(stack, "status_reason", None)
        if not reason:
            # the latest stack-level event that says why
            for event in reversed(stack.events):
                if event.logical_resource_id == stack.name and event.resource_status_reason:
                    if event.resource_status_reason != "User Initiated":
                        reason = event.resource_status_reason
                    break
        detail["StatusMessage"] = f"{stack.status}: {reason}" if reason else stack.status
        return detail

    def describe(self) -> dict[str, Any]:
        cfn = {
            "TemplateName": self.template_name,
            "TemplateURL": self.template_url,
            "Parameters": [dict(p) for p in self.parameters],
            "StackDetail": self.stack_detail(),
        }
        if self.role_arn:
            cfn["RoleARN"] = self.role_arn
        out = {
            "ProjectArn": self.arn,
            "ProjectName": self.name,
            "ProjectId": self.project_id,
            "ProjectStatus": self.status(),
            "TemplateProviderDetails": [{"CfnTemplateProviderDetail": cfn}],
            "CreationTime": self.creation_time,
            "LastModifiedTime": self.last_modified_time,
        }
        if self.description is not None:
            out["ProjectDescription"] = self.description
        return out

    def summary(self) -> dict[str, Any]:
        out = {
            "ProjectName": self.name,
            "ProjectArn": self.arn,
            "ProjectId": self.project_id,
            "CreationTime": self.creation_time,
            "ProjectStatus": self.status(),
        }
        if self.description is not None:
            out["ProjectDescription"] = self.description
        return out


@dataclass
class _Store:
    projects: dict[tuple[str, str], dict[str, Project]] = field(default_factory=dict)
    lock: threading.RLock = field(default_factory=threading.RLock)

    def scope(self, account_id: str, region: str) -> dict[str, Project]:
        scope = self.projects.setdefault((account_id, region), {})
        now = time.time()
        for name in [n for n, p in scope.items() if p.deleting]:
            scope[name].status()  # notes when the stack is gone
            deleted_at = scope[name].deleted_at
            if deleted_at is not None and now - deleted_at >= DELETED_PROJECT_TTL_SECONDS:
                del scope[name]
        return scope


_store = _Store()


def live_project(account_id: str, region: str, name: str) -> Project | None:
    """The project `name` unless it does not exist or is being deleted (for ext_tags: a project ARN's tags)."""
    with _store.lock:
        project = _store.scope(account_id, region).get(name)
    return None if project is None or project.deleting else project


def _new_project_id() -> str:
    alphabet = string.ascii_lowercase + string.digits
    return "p-" + "".join(secrets.choice(alphabet) for _ in range(12))


def _not_found(name: str) -> ValidationException:
    return ValidationException(f"Project {name} does not exist.")


def _validate_common(c: _Constraints, name: Any, description: Any, tags: Any) -> None:
    if c.required(name, "projectName"):
        c.length(name, "projectName", 1, 32)
        c.pattern(name, "projectName", PROJECT_NAME_PATTERN)
    c.length(description, "projectDescription", 0, 1024)
    if tags is not None:
        c.length(tags, "tags", 0, 50)
        for i, tag in enumerate(tags, 1):
            c.length(tag.get("Key"), f"tags.{i}.member.key", 1, 128)
            c.length(tag.get("Value"), f"tags.{i}.member.value", 0, 256)


def _validate_provider(c: _Constraints, providers: Any, path: str, allow_role: bool) -> dict | None:
    if providers is None:
        return None
    c.length(providers, path, 1, 1)
    if len(providers) != 1:
        return None
    cfn = providers[0].get("CfnTemplateProvider")
    base = f"{path}.1.member.cfnTemplateProvider"
    if not c.required(cfn, base):
        return None
    if c.required(cfn.get("TemplateName"), f"{base}.templateName"):
        c.length(cfn["TemplateName"], f"{base}.templateName", 1, 32)
        c.pattern(cfn["TemplateName"], f"{base}.templateName", TEMPLATE_NAME_PATTERN)
    if c.required(cfn.get("TemplateURL"), f"{base}.templateURL"):
        c.length(cfn["TemplateURL"], f"{base}.templateURL", 1, 1024)
        c.pattern(cfn["TemplateURL"], f"{base}.templateURL", TEMPLATE_URL_PATTERN)
    if allow_role and cfn.get("RoleARN") is not None:
        c.length(cfn["RoleARN"], f"{base}.roleARN", 20, 2048)
        c.pattern(cfn["RoleARN"], f"{base}.roleARN", ROLE_ARN_PATTERN)
    params = cfn.get("Parameters") or []
    c.length(params, f"{base}.parameters", 0, 180)
    for i, p in enumerate(params, 1):
        if c.required(p.get("Key"), f"{base}.parameters.{i}.member.key"):
            c.length(p["Key"], f"{base}.parameters.{i}.member.key", 1, 255)
        c.length(p.get("Value"), f"{base}.parameters.{i}.member.value", 0, 4096)
    return cfn


def _stack_parameters(project: Project, template: dict) -> dict[str, str]:
    values = {p["Key"]: p.get("Value", "") for p in project.parameters}
    # an Optional parameter without a Default still needs a value for CloudFormation: the empty string
    for name, decl in (template.get("Parameters") or {}).items():
        if name not in values and "Default" not in (decl or {}) and _optional_by_metadata(template, name):
            values[name] = ""
    values["SageMakerProjectName"] = project.name
    values["SageMakerProjectId"] = project.project_id
    return values


def _start_stack(project: Project, template_body: str, template: dict) -> None:
    """Creates the project's stack in moto's CloudFormation; a failure that CloudFormation would report on the
    stack makes the project CreateFailed (the CreateProject call itself still succeeds)."""
    from moto.cloudformation.models import cloudformation_backends

    values = _stack_parameters(project, template)
    problem = parameter_value_problem(template, values) or _role_problem(
        project.role_arn, project.account_id, project.region
    )
    if problem:
        project.failure = problem
        return
    backend = cloudformation_backends[project.account_id][project.region]
    # the project's own tags go to its stack as well (inferred, README "The emulator": AWS's sample policy lets
    # execution roles tag SP-* stacks that carry sagemaker:project-name, which SageMaker sets)
    tags = {**{t["Key"]: t["Value"] for t in project.tags},
            "sagemaker:project-name": project.name, "sagemaker:project-id": project.project_id}
    try:
        stack = backend.create_stack(
            name=project.stack_name,
            template=template_body,
            parameters=values,
            tags=tags,
            role_arn=project.role_arn,
        )
        project.stack_id = stack.stack_id
    except Exception as e:  # noqa: BLE001 - whatever moto raises, CloudFormation would have failed the stack
        from harness.cloudformation.state import _resource_event
        from harness.cloudformation.update import _last_failed_resource

        for stack in backend.stacks.values():
            if stack.name == project.stack_name:
                project.stack_id = stack.stack_id
                failed = _last_failed_resource.pop(stack.stack_id, None)
                if failed is None:  # the template itself (a parameter, a reference): no resource to blame
                    stack.status = "ROLLBACK_COMPLETE"
                    stack.status_reason = f"Stack creation failed: {e}"
                    stack._add_stack_event("ROLLBACK_COMPLETE", resource_status_reason=str(e))
                    break
                # the resource first, then the stack's summary of it, as CloudFormation reports them
                logical, rtype, physical, _ = failed
                _resource_event(stack, logical, physical, rtype, "CREATE_FAILED", str(e))
                summary = f"The following resource(s) failed to create: [{logical}]. "
                stack.status = "ROLLBACK_COMPLETE"
                stack.status_reason = summary + "Rollback requested by user."
                stack._add_stack_event("ROLLBACK_IN_PROGRESS", resource_status_reason=stack.status_reason)
                stack._add_stack_event("ROLLBACK_COMPLETE")
                break
        else:
            project.failure = f"Stack creation failed: {e}"


def _project_request(resp, providers_param: str, path: str, allow_role: bool) -> tuple[Any, Any, Any, dict | None]:
    """CreateProject's / UpdateProject's common parameters, checked against the API's constraints: (name,
    description, tags, the CfnTemplateProvider or None)."""
    name = resp._get_param("ProjectName")
    description = resp._get_param("ProjectDescription")
    tags = resp._get_param("Tags")
    c = _Constraints()
    _validate_common(c, name, description, tags)
    cfn = _validate_provider(c, resp._get_param(providers_param), path, allow_role=allow_role)
    c.raise_if_any()
    return name, description, tags, cfn


def _provider_template(cfn: dict, account: str, region: str) -> tuple[str, dict, dict[str, str]]:
    """The provider's template — (body, parsed) — and its parameters (key → value), checked against it."""
    given = {p["Key"]: p.get("Value", "") for p in (cfn.get("Parameters") or [])}
    body = read_visible_template(cfn["TemplateURL"], account, region)
    try:
        template = parse_template(body)
    except ValueError as e:
        raise ValidationException(f"The template {cfn['TemplateURL']} is not valid: {e}") from None
    check_parameters(template, given)
    return body, template, given


def create_project(resp) -> ActionResult:
    account, region = resp.current_account, resp.region
    name, description, tags, cfn = _project_request(resp, "TemplateProviders", "templateProviders", allow_role=True)
    if cfn is None:
        if resp._get_param("ServiceCatalogProvisioningDetails") is not None:
            raise ValidationException("Projects from Service Catalog products are not supported by this emulator.")
        raise ValidationException("Either TemplateProviders or ServiceCatalogProvisioningDetails must be provided.")

    with _store.lock:
        scope = _store.scope(account, region)
        existing = scope.get(name)
        if existing is not None and existing.status() != "DeleteCompleted":
            raise ResourceInUse(f"Project already exists: {existing.arn}")
        body, template, _ = _provider_template(cfn, account, region)
        now = dt.datetime.now(dt.timezone.utc)
        project = Project(
            account_id=account,
            region=region,
            name=name,
            project_id=_new_project_id(),
            description=description,
            tags=[dict(t) for t in (tags or [])],
            template_name=cfn["TemplateName"],
            template_url=cfn["TemplateURL"],
            role_arn=cfn.get("RoleARN"),
            parameters=[{"Key": p["Key"], "Value": p.get("Value", "")} for p in (cfn.get("Parameters") or [])],
            creation_time=now,
            last_modified_time=now,
        )
        scope[name] = project
    _start_stack(project, body, template)
    return ActionResult({"ProjectArn": project.arn, "ProjectId": project.project_id})


def _get_live(account: str, region: str, name: str) -> Project:
    project = _store.scope(account, region).get(name)
    if project is None:
        raise _not_found(name)
    return project


def describe_project(resp) -> ActionResult:
    name = resp._get_param("ProjectName")
    c = _Constraints()
    _validate_common(c, name, None, None)
    c.raise_if_any()
    with _store.lock:
        return ActionResult(_get_live(resp.current_account, resp.region, name).describe())


def _as_datetime(value: Any) -> dt.datetime | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
    if isinstance(value, (int, float)):
        return dt.datetime.fromtimestamp(value, dt.timezone.utc)
    try:
        return dt.datetime.fromtimestamp(float(value), dt.timezone.utc)
    except ValueError:
        return dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def list_projects(resp) -> ActionResult:
    sort_by = resp._get_param("SortBy") or "CreationTime"
    sort_order = resp._get_param("SortOrder") or "Ascending"
    name_contains = resp._get_param("NameContains")
    max_results = resp._get_param("MaxResults")
    next_token = resp._get_param("NextToken")
    after = _as_datetime(resp._get_param("CreationTimeAfter"))
    before = _as_datetime(resp._get_param("CreationTimeBefore"))
    c = _Constraints()
    if sort_by not in ("Name", "CreationTime"):
        c.add(sort_by, "sortBy", "satisfy enum value set: [Name, CreationTime]")
    if sort_order not in ("Ascending", "Descending"):
        c.add(sort_order, "sortOrder", "satisfy enum value set: [Ascending, Descending]")
    if max_results is not None and not 1 <= int(max_results) <= 100:
        c.add(max_results, "maxResults", "have value between 1 and 100")
    c.raise_if_any()
    with _store.lock:
        projects = list(_store.scope(resp.current_account, resp.region).values())
        if name_contains:
            projects = [p for p in projects if name_contains.lower() in p.name.lower()]
        if after:
            projects = [p for p in projects if p.creation_time > after]
        if before:
            projects = [p for p in projects if p.creation_time < before]
        page, token = _page(projects, sort_by, sort_order, next_token, int(max_results) if max_results else 100)
        out: dict[str, Any] = {"ProjectSummaryList": [p.summary() for p in page]}
        if token:
            out["NextToken"] = token
        return ActionResult(out)


def _page(projects: list[Project], sort_by: str, sort_order: str, next_token: str | None,
          limit: int) -> tuple[list[Project], str | None]:
    """One page of `projects` sorted by Name or CreationTime, and the NextToken of the next (None: the last)."""
    key = (lambda p: p.name) if sort_by == "Name" else (lambda p: (p.creation_time, p.name))
    projects = sorted(projects, key=key, reverse=sort_order == "Descending")
    start = 0
    if next_token:
        try:
            start = int(base64.urlsafe_b64decode(next_token.encode()).decode())
        except ValueError:
            raise ValidationException("Invalid pagination token") from None
    more = start + limit < len(projects)
    return projects[start:start + limit], base64.urlsafe_b64encode(str(start + limit).encode()).decode() if more else None


_SEARCH_OPERATORS = {
    "Equals": lambda actual, value: actual == value,
    "NotEquals": lambda actual, value: actual != value,
    "Contains": lambda actual, value: actual is not None and value in actual,
    "Exists": lambda actual, value: actual is not None,
    "NotExists": lambda actual, value: actual is None,
}


def _search_value(project: Project, name: str) -> str | None:
    if name.startswith("Tags."):
        return {t["Key"]: t["Value"] for t in project.tags}.get(name[len("Tags."):])
    return {"ProjectName": project.name, "ProjectId": project.project_id, "ProjectStatus": project.status(),
            "ProjectArn": project.arn}.get(name)


def _make_search(original):
    def search(resp) -> ActionResult:
        """Search with Resource=Project (moto knows the name but holds no projects): SearchExpression Filters
        on ProjectName/ProjectId/ProjectStatus/ProjectArn/Tags.<key> (AND), MaxResults 1–100 (default 10),
        NextToken, SortBy CreationTime or Name; each record a Project with its tags and template provider."""
        if resp._get_param("Resource") != "Project":
            return original(resp)
        max_results = resp._get_param("MaxResults")
        next_token = resp._get_param("NextToken")
        sort_by = resp._get_param("SortBy") or "CreationTime"
        sort_order = resp._get_param("SortOrder") or "Descending"
        expression = resp._get_param("SearchExpression") or {}
        c = _Constraints()
        if max_results is not None and not 1 <= int(max_results) <= 100:
            c.add(max_results, "maxResults", "have value between 1 and 100")
        if sort_order not in ("Ascending", "Descending"):
            c.add(sort_order, "sortOrder", "satisfy enum value set: [Ascending, Descending]")
        c.raise_if_any()
        if sort_by not in ("CreationTime", "Name"):
            raise ValidationException(f"Cannot sort Project by {sort_by}.")
        if set(expression) - {"Filters"}:
            raise ValidationException("This emulator's Search of projects takes only SearchExpression.Filters.")
        filters = expression.get("Filters") or []
        for f in filters:
            if f.get("Operator", "Equals") not in _SEARCH_OPERATORS:
                raise ValidationException(f"Operator {f.get('Operator')} is not supported for projects.")
        with _store.lock:
            projects = [p for p in _store.scope(resp.current_account, resp.region).values()
                        if all(_SEARCH_OPERATORS[f.get("Operator", "Equals")](_search_value(p, f["Name"]), f.get("Value"))
                               for f in filters)]
            page, token = _page(projects, sort_by, sort_order, next_token, int(max_results) if max_results else 10)
            out: dict[str, Any] = {"Results": [{"Project": {**p.describe(), "Tags": [dict(t) for t in p.tags]}}
                                               for p in page]}
            if token:
                out["NextToken"] = token
            return ActionResult(out)

    return search


def update_project(resp) -> ActionResult:
    from moto.cloudformation.models import cloudformation_backends

    account, region = resp.current_account, resp.region
    name, description, tags, cfn = _project_request(
        resp, "TemplateProvidersToUpdate", "templateProvidersToUpdate", allow_role=False)
    with _store.lock:
        project = _get_live(account, region, name)
        status = project.status()
        if status.endswith("InProgress") or status in ("DeleteCompleted", "Pending"):
            raise ConflictException(f"Cannot update Project in {status} status")
        if cfn is not None:
            if project.stack_id is None or status == "CreateFailed":
                raise ConflictException(f"Cannot update Project in {status} status")
            if cfn["TemplateName"] != project.template_name:
                raise ValidationException(
                    f"Template {cfn['TemplateName']} is not a template of project {name} "
                    f"(it has {project.template_name})."
                )
            body, template, given = _provider_template(cfn, account, region)
            project.template_url = cfn["TemplateURL"]
            project.parameters = [{"Key": k, "Value": v} for k, v in given.items()]
            project.update_failure = None
            values = _stack_parameters(project, template)
            # what CloudFormation refuses at UpdateStack leaves the stack as it was and fails the project's
            # update; everything after that — complete, or fail and roll back — is the stack's own outcome
            problem = parameter_value_problem(template, values)
            if problem:
                project.update_failure = problem
            else:
                try:
                    cloudformation_backends[account][region].update_stack(
                        name=project.stack_id,
                        template=body,
                        role_arn=project.role_arn,
                        parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in values.items()],
                        tags=None,
                    )
                except Exception as e:  # noqa: BLE001 - UpdateStack refused: the stack is unchanged
                    project.update_failure = f"Stack update failed: {e}"
        if description is not None:
            project.description = description
        if tags is not None:
            merged = {t["Key"]: t["Value"] for t in project.tags}
            merged.update({t["Key"]: t["Value"] for t in tags})
            project.tags = [{"Key": k, "Value": v} for k, v in merged.items()]
        project.last_modified_time = dt.datetime.now(dt.timezone.utc)
        return ActionResult({"ProjectArn": project.arn})


def delete_project(resp) -> ActionResult:
    from moto.cloudformation.models import cloudformation_backends

    account, region = resp.current_account, resp.region
    name = resp._get_param("ProjectName")
    c = _Constraints()
    _validate_common(c, name, None, None)
    c.raise_if_any()
    with _store.lock:
        project = _get_live(account, region, name)
        status = project.status()
        if status == "DeleteCompleted":
            raise ValidationException(f"Cannot delete Project in {status} status")
        if status in ("CreateInProgress", "UpdateInProgress", "DeleteInProgress"):
            raise ConflictException(f"Cannot delete Project in {status} status")
        if project.stack_id is not None:
            backend = cloudformation_backends[account][region]
            if project.stack_id in backend.stacks:
                backend.delete_stack(project.stack_id)
        project.deleting, project.delete_failed = True, False
        project.last_modified_time = dt.datetime.now(dt.timezone.utc)
    return EmptyResult()


def _reset() -> None:
    """Clears the projects and restores the settings the tests may change."""
    with _store.lock:
        _store.projects.clear()
    g = globals()
    for name, value in _DEFAULTS.items():
        g[name] = value


# ---------------------------------------------------------------------------------------------------------------


def install(emulator) -> None:
    from moto.sagemaker.responses import SageMakerResponse

    # 1. project actions (moto finds them by name: camelcase_to_underscores of the X-Amz-Target action)
    SageMakerResponse.create_project = create_project
    SageMakerResponse.describe_project = describe_project
    SageMakerResponse.list_projects = list_projects
    SageMakerResponse.update_project = update_project
    SageMakerResponse.search = _make_search(SageMakerResponse.search)
    SageMakerResponse.delete_project = delete_project

    from harness.emulator import on_reset

    on_reset(_reset)
