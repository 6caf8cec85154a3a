"""SageMaker user profiles, which moto 5.2.5 does not implement (CreateUserProfile answers HTTP 500):
CreateUserProfile / DescribeUserProfile / ListUserProfiles / DeleteUserProfile, shaped as the API reference
(botocore's sagemaker service model) says, kept per account and region and cleared with moto's state.
Tags given at creation are listed by ListTags on the profile's ARN (ext_sagemaker's tag patch)."""
from __future__ import annotations

import datetime as dt
import re
import threading
from dataclasses import dataclass, field
from types import SimpleNamespace

from moto.core.responses import ActionResult, EmptyResult

from harness.ext_sagemaker import ResourceInUse, ResourceNotFound, ValidationException

PROFILE_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")


@dataclass
class _Store:
    lock: threading.Lock = field(default_factory=threading.Lock)
    #: (account, region) → {(domain_id, name): profile dict}
    profiles: dict[tuple[str, str], dict[tuple[str, str], dict]] = field(default_factory=dict)
    #: profile ARN → an object whose .tags moto's tag methods read and write
    tag_holders: dict[str, SimpleNamespace] = field(default_factory=dict)

    def reset(self) -> None:
        with self.lock:
            self.profiles.clear()
            self.tag_holders.clear()


_store = _Store()


def _domain_exists(account: str, region: str, domain_id: str) -> bool:
    from moto.sagemaker.models import sagemaker_backends

    return domain_id in sagemaker_backends[account][region].domains


def _scope(resp) -> dict[tuple[str, str], dict]:
    return _store.profiles.setdefault((resp.current_account, resp.region), {})


def create_user_profile(resp) -> ActionResult:
    domain_id = resp._get_param("DomainId")
    name = resp._get_param("UserProfileName")
    if not isinstance(name, str) or not PROFILE_NAME.match(name):
        raise ValidationException(
            f"1 validation error detected: Value '{name}' at 'userProfileName' failed to satisfy constraint: "
            "Member must satisfy regular expression pattern: [a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}")
    if not _domain_exists(resp.current_account, resp.region, domain_id):
        raise ResourceNotFound(f"Domain {domain_id} not found.")
    arn = f"arn:aws:sagemaker:{resp.region}:{resp.current_account}:user-profile/{domain_id}/{name}"
    now = dt.datetime.now(dt.timezone.utc).isoformat()
    with _store.lock:
        scope = _scope(resp)
        if (domain_id, name) in scope:
            raise ResourceInUse(f"Resource Already Exists: UserProfile with name {name} already exists. Choose a different name.")
        scope[(domain_id, name)] = {
            "DomainId": domain_id, "UserProfileArn": arn, "UserProfileName": name, "Status": "InService",
            "CreationTime": now, "LastModifiedTime": now,
            "UserSettings": resp._get_param("UserSettings") or {},
        }
        _store.tag_holders[arn] = SimpleNamespace(tags=[dict(t) for t in resp._get_param("Tags") or []])
    return ActionResult({"UserProfileArn": arn})


def _get(resp) -> dict:
    domain_id, name = resp._get_param("DomainId"), resp._get_param("UserProfileName")
    profile = _scope(resp).get((domain_id, name))
    if profile is None:
        raise ResourceNotFound(f"User profile {name} in domain {domain_id} not found.")
    return profile


def describe_user_profile(resp) -> ActionResult:
    return ActionResult(dict(_get(resp)))


def list_user_profiles(resp) -> ActionResult:
    domain = resp._get_param("DomainIdEquals")
    contains = resp._get_param("UserProfileNameContains") or ""
    max_results = int(resp._get_param("MaxResults") or 100)
    start = int(resp._get_param("NextToken") or 0)
    rows = sorted(
        (p for (d, n), p in _scope(resp).items() if (domain is None or d == domain) and contains in n),
        key=lambda p: p["CreationTime"],
    )
    page = rows[start:start + max_results]
    result = {"UserProfiles": [{k: p[k] for k in ("DomainId", "UserProfileName", "Status", "CreationTime", "LastModifiedTime")}
                               for p in page]}
    if start + max_results < len(rows):
        result["NextToken"] = str(start + max_results)
    return ActionResult(result)


def delete_user_profile(resp) -> EmptyResult:
    profile = _get(resp)
    with _store.lock:
        _scope(resp).pop((profile["DomainId"], profile["UserProfileName"]), None)
        _store.tag_holders.pop(profile["UserProfileArn"], None)
    return EmptyResult()


def install(emulator) -> None:
    from moto.sagemaker.models import SageMakerModelBackend
    from moto.sagemaker.responses import SageMakerResponse

    resource_from_arn = SageMakerModelBackend._get_resource_from_arn

    def resource_or_profile(self, arn):
        holder = _store.tag_holders.get(arn)
        return holder if holder is not None else resource_from_arn(self, arn)

    SageMakerModelBackend._get_resource_from_arn = resource_or_profile

    SageMakerResponse.create_user_profile = create_user_profile
    SageMakerResponse.describe_user_profile = describe_user_profile
    SageMakerResponse.list_user_profiles = list_user_profiles
    SageMakerResponse.delete_user_profile = delete_user_profile
    from harness.emulator import on_reset

    on_reset(_store.reset)
