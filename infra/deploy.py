#!/usr/bin/env python3
"""`aws cloudformation deploy` for `make deploy` / `make deploy-org`: parameters from a CloudFormation-style
file (a list of ParameterKey/ParameterValue, see infra/parameters.example.json) merged with KEY=VALUE
overrides from make, each passed as its own argument so values with spaces or JSON survive.

A new stack of infra/bootstrap.yaml gets NamePrefix=projects-bootstrap unless the file or make names one: names
SageMaker's managed policies do not match (README "Security model"). An existing stack keeps the value it has
(`aws cloudformation deploy` reuses a parameter's previous value), "" for a stack created before the parameter.

usage: deploy.py TEMPLATE STACK PARAMETERS_FILE CAPABILITY [KEY=VALUE ...]"""
import json
import subprocess
import sys
from pathlib import Path


NEW_STACK_NAME_PREFIX = "projects-bootstrap"


def stack_exists(stack: str) -> bool:
    found = subprocess.run(["aws", "cloudformation", "describe-stacks", "--stack-name", stack],
                           capture_output=True, text=True)
    return found.returncode == 0


def main(template: str, stack: str, parameters_file: str, capability: str, *overrides: str) -> int:
    values: dict[str, str] = {}
    path = Path(parameters_file)
    if path.is_file():
        values.update({p["ParameterKey"]: p["ParameterValue"] for p in json.loads(path.read_text())})
    values.update(dict(o.split("=", 1) for o in overrides))
    if Path(template).name == "bootstrap.yaml" and "NamePrefix" not in values and not stack_exists(stack):
        values["NamePrefix"] = NEW_STACK_NAME_PREFIX
    cmd = ["aws", "cloudformation", "deploy", "--template-file", template, "--stack-name", stack,
           "--no-fail-on-empty-changeset"]
    if capability != "none":
        cmd += ["--capabilities", capability]
    if values:
        cmd += ["--parameter-overrides", *(f"{k}={v}" for k, v in values.items())]
    print(f"+ aws cloudformation deploy {template} → {stack} ({len(values)} parameters)", flush=True)
    return subprocess.call(cmd)


if __name__ == "__main__":
    if len(sys.argv) < 5:
        sys.exit(__doc__)
    sys.exit(main(*sys.argv[1:]))
