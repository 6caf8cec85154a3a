"""CloudFormation templates in YAML: the short-form intrinsic functions (!Ref, !Sub, !GetAtt, !If, !Condition …)
read as the long form CloudFormation itself sees ({"Ref": …}, {"Fn::Sub": …}, {"Fn::GetAtt": [resource,
attribute]}, {"Condition": …})."""
from __future__ import annotations

from typing import Any

import yaml


# libyaml's parser where PyYAML has it (its wheels do): the same document, several times faster than the Python one
_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class Loader(_SafeLoader):  # type: ignore[misc, valid-type]
    """A SafeLoader that understands CloudFormation's short-form tags."""


def _construct_intrinsic(loader: Loader, suffix: str, node: yaml.Node) -> dict:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if suffix in ("Ref", "Condition"):
        return {suffix: value}
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{suffix}": value}


Loader.add_multi_constructor("!", _construct_intrinsic)


def load(text: str) -> Any:
    """The YAML document `text` (a template), short-form tags in their long form."""
    return yaml.load(text, Loader=Loader)  # noqa: S506 - a SafeLoader subclass
