"""The README's make targets for AWS (`deploy-iam`, `deploy`, `deploy-org`, `destroy`) as a user runs them: the real
AWS CLI v1 (.venv-awscli, pinned in tests/requirements-awscli.txt) first on the PATH, pointed at the emulator.

The CLI talks to the emulator on `localhost` (moto reads a TemplateURL on that host path-style) with path-style S3
(one host serves every bucket), credentials and region from the environment. Packaging is the one step left out:
`PACKAGED=1` deploys placeholder zips (the emulator runs target/debug/<Handler> whatever the package holds).

    cli = AwsCli(emulator, tmp_path)
    out = cli.make("deploy", "ARTIFACT_BUCKET=…")     # a CompletedProcess; its output is printed
"""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

from harness.emulator import REGION
from harness.functions import ROOT
from harness.stack import BINARIES, placeholder_zip

BIN = ROOT / ".venv-awscli" / "bin"


def installed() -> bool:
    return (BIN / "aws").exists()


class AwsCli:
    def __init__(self, emulator, home: Path, region: str = REGION):
        config = home / "aws-config"
        config.write_text(f"[default]\nregion = {region}\ns3 =\n    addressing_style = path\n")
        self.env = {**os.environ, **emulator.child_env(), "AWS_CONFIG_FILE": str(config), "AWS_DEFAULT_REGION": region,
                    "AWS_ENDPOINT_URL": emulator.endpoint.replace("127.0.0.1", "localhost"),
                    "AWS_SHARED_CREDENTIALS_FILE": str(home / "no-credentials"),
                    "PATH": f"{BIN}:{os.environ['PATH']}"}
        self.dist = home / "dist"
        self.dist.mkdir(exist_ok=True)
        for binary in BINARIES:
            (self.dist / f"{binary}.zip").write_bytes(placeholder_zip(binary))
        self.emulator = emulator

    def make(self, *args: str, timeout: float = 900) -> subprocess.CompletedProcess:
        """`make <args> DIST=<placeholders> PACKAGED=1`, from the repository root; prints what it said."""
        out = subprocess.run(["make", "--no-print-directory", *args, f"DIST={self.dist}", "PACKAGED=1"],
                             cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=timeout)
        print(f"$ make {' '.join(args)}\n{out.stdout}{out.stderr}")
        return out

    def failure_events(self, *stacks: str) -> None:
        """Prints the last events of `stacks` (what the CLI's failure message points to)."""
        cfn = self.emulator.client("cloudformation")
        for name in stacks:
            try:
                events = cfn.describe_stack_events(StackName=name)["StackEvents"]
            except Exception:  # noqa: BLE001 - no such stack
                continue
            for e in events[:15]:
                print(f"  {name}: {e['LogicalResourceId']} {e['ResourceStatus']} {e.get('ResourceStatusReason', '')}")
