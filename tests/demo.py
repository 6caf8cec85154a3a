"""`make demo`: the product's flow on the embedded emulator, printed step by step.

Starts moto (with the harness extensions) and the real functions through cargo-lambda, then runs the flow
and prints a table of what it did. Exits non-zero if any step fails; stops everything it started."""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import emulator as emu  # noqa: E402
from harness.functions import Functions  # noqa: E402
from harness.sink import ResponseSink  # noqa: E402

LAUNCH_ROLE = "AmazonSageMakerProjectsLaunchRole"
TRUST = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "sagemaker.amazonaws.com"}, "Action": "sts:AssumeRole"}]})


class Demo:
    def __init__(self):
        self.rows: list[tuple[str, str, str]] = []
        self.failed = False

    def step(self, what: str, ok: bool, detail: str) -> None:
        mark = "ok" if ok else "FAILED"
        self.failed |= not ok
        self.rows.append((what, mark, detail))
        print(f"  [{mark:>6}] {what}: {detail}", flush=True)

    def table(self) -> None:
        width = max(len(r[0]) for r in self.rows)
        print("\n" + "-" * (width + 60))
        for what, mark, detail in self.rows:
            print(f"{what:<{width}}  {mark:<6}  {detail}")
        print("-" * (width + 60))


def main() -> int:
    started = time.time()
    demo = Demo()
    print("starting the emulator (moto) and the functions (cargo lambda watch)…", flush=True)
    aws = emu.start()
    sink = ResponseSink()
    functions = Functions({**aws.child_env(), "CFN_RESPONSE_ALLOW_LOOPBACK": "true"})
    try:
        iam = aws.client("iam")
        launch = iam.create_role(RoleName=LAUNCH_ROLE, AssumeRolePolicyDocument=TRUST)["Role"]["Arn"]
        execution = iam.create_role(RoleName="AmazonSageMaker-ExecutionRole-demo", Path="/service-role/",
                                    AssumeRolePolicyDocument=TRUST)["Role"]["Arn"]
        demo.step("execution role", True, execution)
        event = {
            "RequestType": "Create",
            "StackId": f"arn:aws:cloudformation:{aws.region}:{aws.account_id}:stack/sagemaker-projects-demo/1",
            "RequestId": "demo-1",
            "LogicalResourceId": "ExecutionRolePolicies",
            "ResourceType": "Custom::ExecutionRolePolicies",
            "ResourceProperties": {
                "ServiceToken": "demo",
                "ExecutionRoles": [execution],
                "LaunchRoleArn": launch,
                "TemplateBucket": f"sagemaker-projects-templates-{aws.account_id}",
                "TemplatePrefix": "templates/",
            },
        }
        addressed, token = sink.address(event)
        functions.invoke("execution-role-policies", addressed)
        answer = sink.response(token)
        demo.step("Custom::ExecutionRolePolicies", answer["Status"] == "SUCCESS",
                  f"{answer['Status']} id={answer['PhysicalResourceId']}")
        names = iam.list_role_policies(RoleName="AmazonSageMaker-ExecutionRole-demo")["PolicyNames"]
        demo.step("inline policies on the role", len(names) == 3, ", ".join(names))
        tags = {t["Key"]: t["Value"] for t in iam.list_role_tags(RoleName="AmazonSageMaker-ExecutionRole-demo")["Tags"]}
        demo.step("launch-access tag", tags.get("sagemaker-projects-launch-access") == "true", json.dumps(tags))
    except Exception as e:  # noqa: BLE001 — the demo reports, then exits non-zero
        demo.step("demo", False, f"{type(e).__name__}: {e}")
    finally:
        functions.stop()
        sink.stop()
        aws.stop()
    demo.table()
    print(f"demo finished in {time.time() - started:.1f}s: {'FAILED' if demo.failed else 'all steps ok'}")
    return 1 if demo.failed else 0


if __name__ == "__main__":
    sys.exit(main())
