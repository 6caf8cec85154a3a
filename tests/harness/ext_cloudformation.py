"""CloudFormation additions to moto 5.2.5 (see README: "What the emulator lacks and how the harness fills it").

One concern a module, in harness/cloudformation/:
- `state.py`: what the custom-resource lifecycle keeps per stack and resource, and the one place a request is sent
  to a function (through ext_lambda), answered or timed out (`ServiceTimeout`);
- `create.py`: CreateStack's custom resources, in dependency order, their answers and the rollback of a failure;
- `delete.py`: DeleteStack, dependents first, waiting for custom resources, DELETE_FAILED and RetainResources;
- `update.py`: UpdateStack, its cleanup and its rollback, for custom resources;
- `lifecycle.py`: where moto is patched for those three, and where each response goes to the operation waiting;
- `replacement.py`: an update in place or a replacement, per property, from the resource provider schemas;
- `change_sets.py`: CreateChangeSet / ExecuteChangeSet (what `aws cloudformation deploy` calls) through the same
  create and update;
- `template_fixes.py`: what moto reads differently from CloudFormation (dynamic references, CodeBuild projects,
  `AWS::NoValue` in lists, generated queue names, functions' environment as strings).
"""
from __future__ import annotations

from harness.cloudformation import change_sets, replacement, update
from harness.cloudformation.lifecycle import _install_lifecycle
from harness.cloudformation.state import SERVICE_TOKEN_CHANGE, _store, contract_violations
from harness.cloudformation.template_fixes import (
    _install_codebuild_project,
    _install_dynamic_references,
    _install_generated_names,
    _install_no_value_in_lists,
    _install_string_environment,
)

#: Extensions installed before this one (emulator.start installs in that order): custom resources run through
#: ext_lambda.
REQUIRES = ("ext_lambda",)

__all__ = ["REQUIRES", "SERVICE_TOKEN_CHANGE", "contract_violations", "install"]


def install(emulator) -> None:
    _store.emulator = emulator
    _install_no_value_in_lists()
    _install_generated_names()
    _install_lifecycle()
    change_sets.install()
    update.install_failure_events()
    replacement.install()
    _install_dynamic_references()
    _install_codebuild_project()
    _install_string_environment()

    from harness.emulator import on_reset

    on_reset(_store.reset)
    on_reset(replacement.reset)
