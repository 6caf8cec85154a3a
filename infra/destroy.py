#!/usr/bin/env python3
"""`make destroy`: deletes the bootstrap stack with the aws CLI and says what happened.

- Refused (DELETE_FAILED): prints the reason of the resource that failed, not the stack's summary ("The following
  resource(s) failed to delete: […]"): while projects still use the seed-code function, the guard's own message,
  which names them and the two ways out. Exit 1.
- Deleted: prints what was kept on purpose (the template bucket, the trail's bucket, the IAM roles stack, the
  projects) and how to remove the template bucket.
- `--purge` (make destroy PURGE=1), once the stack is gone: empties the template bucket — every object version and
  delete marker, which `aws s3 rb --force` leaves in a versioned bucket — and removes it. The bucket's policy lets
  only the principals of TemplateAdministratorArns delete versions: run it as one of them.
- `--force` (FORCE=1) retains the guard (README "Updating and removing").

usage: destroy.py STACK [--region R] [--force] [--purge]
"""
import json
import subprocess
import sys
import time

POLL_SECONDS = 5
GUARD = "SeedCodeInUseGuard"


class Aws:
    def __init__(self, region: str | None):
        self.region = ["--region", region] if region else []

    def call(self, *args: str, check: bool = True) -> dict:
        out = subprocess.run(["aws", *args, *self.region, "--output", "json"], capture_output=True, text=True)
        if out.returncode != 0:
            if check:
                raise RuntimeError(f"aws {' '.join(args[:2])}: {out.stderr.strip()}")
            return {}
        return json.loads(out.stdout) if out.stdout.strip() else {}


def stack_of(aws: Aws, name: str) -> dict | None:
    stacks = aws.call("cloudformation", "describe-stacks", "--stack-name", name, check=False).get("Stacks", [])
    return stacks[0] if stacks and stacks[0]["StackStatus"] != "DELETE_COMPLETE" else None


def wait_deleted(aws: Aws, stack_id: str, timeout: float = 3600) -> str:
    deadline = time.monotonic() + timeout
    while True:
        stacks = aws.call("cloudformation", "describe-stacks", "--stack-name", stack_id, check=False).get("Stacks", [])
        status = stacks[0]["StackStatus"] if stacks else "DELETE_COMPLETE"
        if not status.endswith("_IN_PROGRESS") or time.monotonic() > deadline:
            return status
        time.sleep(POLL_SECONDS)


def failure_reason(aws: Aws, stack_id: str) -> str:
    """The newest DELETE_FAILED of a resource (the stack's own event only repeats the list of failed ones)."""
    events = aws.call("cloudformation", "describe-stack-events", "--stack-name", stack_id)["StackEvents"]
    for e in events:
        if e["ResourceStatus"] == "DELETE_FAILED" and e["ResourceType"] != "AWS::CloudFormation::Stack":
            return f"{e['LogicalResourceId']} could not be deleted: {e.get('ResourceStatusReason', '(no reason given)')}"
    return next((e.get("ResourceStatusReason", "") for e in events if e["ResourceStatus"] == "DELETE_FAILED"), "")


def template_bucket(aws: Aws, stack: dict | None) -> str:
    outputs = {o["OutputKey"]: o["OutputValue"] for o in (stack or {}).get("Outputs") or []}
    if "TemplateBucket" in outputs:
        return outputs["TemplateBucket"]
    account = aws.call("sts", "get-caller-identity")["Account"]
    region = aws.region[1] if aws.region else subprocess.run(
        ["aws", "configure", "get", "region"], capture_output=True, text=True).stdout.strip()
    return f"sagemaker-projects-templates-{account}-{region}"


def purge(aws: Aws, bucket: str) -> int | None:
    """Deletes every version and delete marker of `bucket`, then the bucket; how many entries went (None: there
    was no such bucket)."""
    head = subprocess.run(["aws", "s3api", "head-bucket", "--bucket", bucket, *aws.region], capture_output=True)
    if head.returncode != 0:
        return None
    removed = 0
    while True:
        listed = aws.call("s3api", "list-object-versions", "--bucket", bucket, "--max-items", "1000")
        entries = [{"Key": v["Key"], "VersionId": v["VersionId"]}
                   for v in (listed.get("Versions") or []) + (listed.get("DeleteMarkers") or [])]
        if not entries:
            break
        answer = aws.call("s3api", "delete-objects", "--bucket", bucket,
                          "--delete", json.dumps({"Objects": entries, "Quiet": True}))
        if answer.get("Errors"):
            first = answer["Errors"][0]
            raise RuntimeError(f"S3 kept {len(answer['Errors'])} of them, e.g. {first['Key']}: {first['Code']}: "
                               f"{first['Message']} (the bucket policy lets only TemplateAdministratorArns delete)")
        removed += len(entries)
    aws.call("s3api", "delete-bucket", "--bucket", bucket)
    return removed


def main(name: str, *flags: str) -> int:
    args = list(flags)
    region = args[args.index("--region") + 1] if "--region" in args else None
    aws = Aws(region)
    stack = stack_of(aws, name)
    bucket = template_bucket(aws, stack)
    if stack is not None:
        stack_id = stack["StackId"]
        listed = aws.call("cloudformation", "describe-stack-resources", "--stack-name", stack_id)
        resources = {r.get("LogicalResourceId"): r.get("PhysicalResourceId", "") for r in listed.get("StackResources", [])}
        delete = ["cloudformation", "delete-stack", "--stack-name", stack_id]
        if "--force" in args:
            delete += ["--retain-resources", GUARD]
        aws.call(*delete)
        print(f"make destroy: deleting {name}…", flush=True)
        status = wait_deleted(aws, stack_id)
        if status != "DELETE_COMPLETE":
            print(f"make destroy: {name} is {status}. {failure_reason(aws, stack_id)}", file=sys.stderr)
            return 1
        print(f"make destroy: {name} deleted. Kept on purpose:")
        print(f"  - the template bucket {bucket} (projects' TemplateURLs point into it): "
              "remove it, every version with it, with `make destroy PURGE=1`")
        if resources.get("TrailBucket"):
            print(f"  - the trail's log bucket {resources['TrailBucket']}")
        print("  - the IAM roles stack (make deploy-iam) and every SageMaker project, which are their users'")
    elif "--purge" not in args:
        print(f"make destroy: no stack {name}")
    if "--purge" in args:
        removed = purge(aws, bucket)
        if removed is None:
            print(f"make destroy: there is no template bucket {bucket}: nothing to purge")
        else:
            print(f"make destroy: removed the template bucket {bucket} ({removed} object versions and delete markers)")
    return 0


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    try:
        sys.exit(main(*sys.argv[1:]))
    except RuntimeError as e:
        sys.exit(f"make destroy: {e}")
