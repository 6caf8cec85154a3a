"""What depends on what in a CloudFormation template: the edges CloudFormation orders creation and deletion by —
`Ref`, `Fn::GetAtt`, the `${Name}` / `${Name.Attribute}` of `Fn::Sub`, and `DependsOn`. Parameters, pseudo
parameters and a `Fn::Sub`'s own variables are not resources and give no edge."""
from __future__ import annotations

import re
from graphlib import CycleError, TopologicalSorter
from typing import Any

_SUB_NAME = re.compile(r"\$\{(?!!)([A-Za-z0-9]+)(?:\.[^}]*)?\}")


def _references(value: Any, out: set[str]) -> None:
    if isinstance(value, list):
        for item in value:
            _references(item, out)
    elif isinstance(value, dict):
        for key, inner in value.items():
            if key == "Ref" and isinstance(inner, str):
                out.add(inner)
            elif key == "Fn::GetAtt":
                target = inner[0] if isinstance(inner, list) else str(inner).split(".", 1)[0]
                out.add(target)
            elif key == "Fn::Sub":
                text, variables = (inner[0], inner[1]) if isinstance(inner, list) else (inner, {})
                out.update(n for n in _SUB_NAME.findall(text) if n not in variables)
                _references(variables, out)
            else:
                _references(inner, out)


def dependencies(resources: dict[str, dict]) -> dict[str, set[str]]:
    """Logical id → the logical ids of the resources it depends on directly (within `resources`)."""
    graph: dict[str, set[str]] = {}
    for name, resource in resources.items():
        found: set[str] = set()
        _references({k: v for k, v in resource.items() if k != "DependsOn"}, found)
        depends_on = resource.get("DependsOn", [])
        found.update([depends_on] if isinstance(depends_on, str) else depends_on)
        graph[name] = {d for d in found if d in resources and d != name}
    return graph


def transitive(graph: dict[str, set[str]], start: str) -> set[str]:
    """Everything `start` depends on, directly or through others."""
    seen: set[str] = set()
    todo = list(graph.get(start, ()))
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo.extend(graph.get(name, ()))
    return seen


def deletion_waves(graph: dict[str, set[str]], names: set[str]) -> list[set[str]]:
    """`names` in the order CloudFormation deletes them: each wave holds the resources no remaining one depends
    on (dependents first). A cycle, which CloudFormation refuses at creation, gives one wave of them all."""
    # the standard library's topological sort, on the reversed edges: a resource is ready once its dependents went
    dependents: dict[str, set[str]] = {n: set() for n in names}
    for n in names:
        for d in graph.get(n, ()):
            if d in names and d != n:
                dependents[d].add(n)
    sorter = TopologicalSorter(dependents)
    try:
        sorter.prepare()
    except CycleError:
        return [set(names)] if names else []
    waves = []
    while sorter.is_active():
        wave = set(sorter.get_ready())
        waves.append(wave)
        sorter.done(*wave)
    return waves
