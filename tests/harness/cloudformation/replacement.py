"""In-place update or replacement, decided per property as CloudFormation decides it: from the resource provider
schema's `createOnlyProperties` (the schemas cfn-lint ships, `cfnlint/data/schemas/resources/`).

moto gives a resource whose name CloudFormation generated a new generated name on every update, so an
`AWS::Events::Rule` whose EventPattern changed came back under another name and ARN (and a Lambda permission naming
the old ARN no longer matched). Here a resource keeps the name it was created with unless one of its createOnly
properties changed — in the template, or through a parameter it reads — which is a replacement: a new name, as
CloudFormation gives one.
"""
from __future__ import annotations

import json
import threading
from functools import lru_cache
from pathlib import Path

_lock = threading.Lock()
#: (stack id, logical id) → the name moto generated for the resource when it was created (or last replaced)
_names: dict[tuple[str, str], str] = {}


def reset() -> None:
    with _lock:
        _names.clear()


@lru_cache(maxsize=None)
def create_only(resource_type: str) -> frozenset[str]:
    """The top-level properties of `resource_type` whose change means a replacement (empty if no schema)."""
    import cfnlint

    schemas = Path(cfnlint.__file__).parent / "data" / "schemas"
    index = json.loads((schemas / "providers" / "us-east-1.json").read_text())
    if resource_type not in index:
        return frozenset()
    schema = json.loads((schemas / "resources" / f"{index[resource_type]}.json").read_text())
    return frozenset(p.split("/")[2] for p in schema.get("createOnlyProperties", []) if p.startswith("/properties/"))


def _changed_properties(resources_map, logical_id: str, resource_json: dict) -> set[str]:
    """Top-level properties that differ from the resource's previous ones, or read a parameter whose value changed
    (what `build_resource_diff` noted when this update began)."""
    from harness.cloudformation.lifecycle import _parameters_read

    before = (getattr(resources_map, "_harness_old_resources", {}).get(logical_id) or {}).get("Properties") or {}
    after = resource_json.get("Properties") or {}
    changed_parameters = getattr(resources_map, "_harness_changed_parameters", set())
    return {k for k in set(before) | set(after)
            if before.get(k) != after.get(k) or changed_parameters & _parameters_read(after.get(k), {})}


def install() -> None:
    from moto.cloudformation import parsing

    original = parsing.parse_resource_and_generate_name

    def parse_resource_and_generate_name(logical_id, resource_json, resources_map):
        parsed = original(logical_id, resource_json, resources_map)
        resource_type = str(resource_json.get("Type", ""))
        if not parsed or resource_type.startswith("Custom::"):
            return parsed
        resource_class, resolved, name = parsed
        key = (resources_map.stack_id, logical_id)
        name_property = parsing.resource_name_property_from_type(resource_type)
        with _lock:
            if name_property and name_property in (resolved.get("Properties") or {}):
                _names[key] = name  # the template names it: nothing generated to keep
            elif key in _names and not (create_only(resource_type)
                                        & _changed_properties(resources_map, logical_id, resource_json)):
                return resource_class, resolved, _names[key]  # an in-place update keeps name and ARN
            else:
                _names[key] = name  # created, or replaced: the new generated name
        return parsed

    parsing.parse_resource_and_generate_name = parse_resource_and_generate_name
