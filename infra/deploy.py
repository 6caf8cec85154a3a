#!/usr/bin/env python3
"""`aws cloudformation deploy` for `make deploy-iam`, `make deploy` and `make deploy-org`: parameters from a
CloudFormation-style file (a list of ParameterKey/ParameterValue, see infra/parameters.example.json) merged with
KEY=VALUE overrides from make, each passed as its own argument so values with spaces or JSON survive.

A template over CloudFormation's 51,200-byte TemplateBody limit (iam/roles.yaml, infra/bootstrap.yaml) goes through
S3: the CLI uploads it to `--s3-bucket BUCKET --s3-prefix PREFIX` (the artifact bucket, under the content-hashed
prefix of the packages) and passes its URL; the CLI itself refuses such a template otherwise.

A new stack of infra/bootstrap.yaml (or infra/stackset.yaml) gets NamePrefix=projects-bootstrap unless the file or make names one: names
SageMaker's managed policies do not match (README "Security model"). An existing stack keeps the value it has
(`aws cloudformation deploy` reuses a parameter's previous value), "" for a stack created before the parameter.

usage: deploy.py TEMPLATE STACK PARAMETERS_FILE CAPABILITY [--s3-bucket B --s3-prefix P] [--region R] [KEY=VALUE ...]
"""
import json
import subprocess
import sys
from pathlib import Path

NEW_STACK_NAME_PREFIX = "projects-bootstrap"
#: CloudFormation's TemplateBody quota (bytes); larger templates must be given as a TemplateURL
TEMPLATE_BODY_LIMIT = 51_200


def stack_exists(stack: str, region: list[str]) -> bool:
    found = subprocess.run(["aws", "cloudformation", "describe-stacks", "--stack-name", stack, *region],
                           capture_output=True, text=True)
    if found.returncode != 0:
        return False
    # a stack a failed first change set left in REVIEW_IN_PROGRESS is created again, as the CLI does
    return json.loads(found.stdout)["Stacks"][0]["StackStatus"] != "REVIEW_IN_PROGRESS"


def main(template: str, stack: str, parameters_file: str, capability: str, *rest: str) -> int:
    options: dict[str, str] = {}
    overrides = []
    args = list(rest)
    while args:
        arg = args.pop(0)
        if arg in ("--s3-bucket", "--s3-prefix", "--region"):
            options[arg] = args.pop(0)
        else:
            overrides.append(arg)
    region = ["--region", options["--region"]] if options.get("--region") else []

    values: dict[str, str] = {}
    path = Path(parameters_file)
    if path.is_file():
        values.update({p["ParameterKey"]: p["ParameterValue"] for p in json.loads(path.read_text())})
    values.update(dict(o.split("=", 1) for o in overrides))
    # (stackset.yaml passes it on to every bootstrap stack it deploys)
    if Path(template).name in ("bootstrap.yaml", "stackset.yaml") and "NamePrefix" not in values \
            and not stack_exists(stack, region):
        values["NamePrefix"] = NEW_STACK_NAME_PREFIX

    size = Path(template).stat().st_size
    if size > TEMPLATE_BODY_LIMIT and not options.get("--s3-bucket"):
        print(f"{template} is {size:,} bytes, over CloudFormation's {TEMPLATE_BODY_LIMIT:,}-byte TemplateBody limit: "
              "give ARTIFACT_BUCKET=<a bucket in the target region>, through which it is deployed", file=sys.stderr)
        return 2
    cmd = ["aws", "cloudformation", "deploy", "--template-file", template, "--stack-name", stack,
           "--no-fail-on-empty-changeset", *region]
    if options.get("--s3-bucket"):
        cmd += ["--s3-bucket", options["--s3-bucket"]]
        if options.get("--s3-prefix"):
            cmd += ["--s3-prefix", options["--s3-prefix"].rstrip("/")]
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
