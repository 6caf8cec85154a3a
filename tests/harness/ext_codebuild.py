"""CodeBuild builds that end as the seed-code check-in's would, with their log in CloudWatch Logs.

moto 5.2.5 starts builds that never run: StartBuild drops the request's environment-variable overrides, every build
reads SUCCEEDED from its first BatchGetBuilds, and its log points at group "null". Here:
- a build logs where CodeBuild logs (group `/aws/codebuild/<project>`, stream the build id's UUID; the build's `logs`
  name them, with their deep link and ARN), one line per phase in CodeBuild's `[Container]` form;
- a check-in build (its overrides name a repository: `GIT_REPOSITORY_URL`, v1.1, or `GIT_REPOSITORY_FULL_NAME`,
  v1.0) whose repository is missing on its connection (`repositories_missing({"acme/models"})`) fails as the clone
  fails: phase BUILD FAILED with CodeBuild's COMMAND_EXECUTION_ERROR context (exit status 128), and the log ends with
  git's "remote: Repository not found." and "fatal: repository '<url>/' not found". The lines are modelled on
  CodeBuild's and git's formats; the check-in buildspec's own commands are not reproduced.
- every other build succeeds through every phase, as moto has it: kinder than AWS, where a build fails for many
  more reasons; only the missing repository is modelled.

Sources: CodeBuild User Guide, "View build details" / "Amazon CloudWatch Logs" (a project's default log group is
`/aws/codebuild/<project-name>`, its stream the build id's UUID, `Build.logs` naming both with a deep link); API
reference `BuildPhase` and `PhaseContext` (a failed phase carries `statusCode` and `message`,
COMMAND_EXECUTION_ERROR for a command that exited non-zero). git's own messages for a repository the remote does
not have ("remote: Repository not found.", "fatal: repository '<url>/' not found", exit status 128).
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone

#: Builds are read through moto's backends, in the emulator's process.
REQUIRES: tuple[str, ...] = ()


@dataclass
class _Store:
    lock: threading.Lock = field(default_factory=threading.Lock)
    #: build id -> its environment-variable overrides (name -> value), as StartBuild was asked
    overrides: dict[str, dict[str, str]] = field(default_factory=dict)
    #: build id -> whether it failed, decided when it was first read (a build ends once)
    ended: dict[str, bool] = field(default_factory=dict)
    missing: set[str] = field(default_factory=set)
    request: threading.local = field(default_factory=threading.local)


_store = _Store()


class repositories_missing:
    """Within it, these repositories (`owner/name`, as the templates' *RepositoryFullname) are missing on every
    connection: a check-in build of one fails in phase BUILD."""

    def __init__(self, names: set[str]):
        self.names = set(names)

    def __enter__(self):
        with _store.lock:
            _store.missing |= self.names
        return self

    def __exit__(self, *exc):
        with _store.lock:
            _store.missing -= self.names


def _repository(overrides: dict[str, str]) -> str | None:
    """`owner/name` of the repository a check-in build clones, from its overrides."""
    if "GIT_REPOSITORY_FULL_NAME" in overrides:
        return overrides["GIT_REPOSITORY_FULL_NAME"]
    url = overrides.get("GIT_REPOSITORY_URL", "")
    # https://<codeconnections|codestar-connections>.<region>.amazonaws.com/git-http/<account>/<region>/<id>/<owner/repo>.git
    parts = url.split("/git-http/", 1)
    if len(parts) != 2:
        return None
    path = parts[1].split("/", 3)
    return path[3].removesuffix(".git") if len(path) == 4 else None


def _clock() -> str:
    return datetime.now(timezone.utc).strftime("%Y/%m/%d %H:%M:%S.%f")


def _lines(build: dict, failing_repo: str | None, url: str) -> list[str]:
    project = build["projectName"]
    out = [f"[Container] {_clock()} Waiting for agent ping",
           f"[Container] {_clock()} Phase is DOWNLOAD_SOURCE",
           f"[Container] {_clock()} Processing environment variables",
           f"[Container] {_clock()} Entering phase INSTALL",
           f"[Container] {_clock()} Phase complete: INSTALL State: SUCCEEDED",
           f"[Container] {_clock()} Entering phase PRE_BUILD",
           f"[Container] {_clock()} Phase complete: PRE_BUILD State: SUCCEEDED",
           f"[Container] {_clock()} Entering phase BUILD"]
    if failing_repo is None:
        return [*out, f"[Container] {_clock()} Phase complete: BUILD State: SUCCEEDED",
                f"[Container] {_clock()} Phase complete: POST_BUILD State: SUCCEEDED"]
    command = f"git clone {url} {project}"
    return [*out,
            f"[Container] {_clock()} Running command {command}",
            f"Cloning into '{project}'...",
            "remote: Repository not found.",
            f"fatal: repository '{url}/' not found",
            "",
            f"[Container] {_clock()} Command did not exit successfully {command} exit status 128",
            f"[Container] {_clock()} Phase complete: BUILD State: FAILED",
            f"[Container] {_clock()} Phase context status code: COMMAND_EXECUTION_ERROR Message: Error while "
            f"executing command: {command}. Reason: exit status 128"]


def _write_log(account: str, region: str, group: str, stream: str, lines: list[str]) -> None:
    from moto.logs.models import logs_backends

    backend = logs_backends[account][region]
    if group not in backend.groups:
        backend.create_log_group(group, tags={})
    backend.ensure_log_stream(group, stream)
    now = int(time.time() * 1000)
    backend.put_log_events(group, stream, [{"timestamp": now + i, "message": line} for i, line in enumerate(lines)])


def _failed_phases(build: dict, context: str) -> list[dict]:
    """moto's phases, from BUILD on: BUILD FAILED with its context, POST_BUILD and after as CodeBuild still runs
    them (FINALIZING, COMPLETED)."""
    phases, seen = [], set()
    for p in build["phases"]:
        kind = p["phaseType"]
        # moto appends every phase again at each BatchGetBuilds: one of each, as CodeBuild lists them
        if kind in ("POST_BUILD", "UPLOAD_ARTIFACTS") or kind in seen:
            continue
        seen.add(kind)
        if kind == "BUILD":
            p = {**p, "phaseStatus": "FAILED",
                 "contexts": [{"statusCode": "COMMAND_EXECUTION_ERROR", "message": context}]}
        phases.append(p)
    return phases


def install(emulator) -> None:
    from moto.codebuild.models import CodeBuildBackend
    from moto.codebuild.responses import CodeBuildResponse

    original_response, original_start = CodeBuildResponse.start_build, CodeBuildBackend.start_build
    original_get = CodeBuildBackend.batch_get_builds

    def start_build(self):
        _store.request.overrides = {v["name"]: v["value"] for v in self._get_param("environmentVariablesOverride") or []}
        try:
            return original_response(self)
        finally:
            _store.request.overrides = None

    def backend_start(self, project_name, *args, **kwargs):
        build = original_start(self, project_name, *args, **kwargs)
        group, stream = f"/aws/codebuild/{project_name}", build["id"].split(":", 1)[1]
        region = self.region_name
        build["logs"] = {
            **build["logs"], "groupName": group, "streamName": stream,
            "deepLink": f"https://console.aws.amazon.com/cloudwatch/home?region={region}#logEvent:group={group};stream={stream}",
            "cloudWatchLogsArn": f"arn:aws:logs:{region}:{self.account_id}:log-group:{group}:log-stream:{stream}"}
        with _store.lock:
            _store.overrides[build["id"]] = getattr(_store.request, "overrides", None) or {}
        return build

    def batch_get_builds(self, ids):
        builds = original_get(self, ids)  # every phase SUCCEEDED, as moto has it
        for build in builds:
            with _store.lock:
                overrides = _store.overrides.get(build["id"], {})
                first = build["id"] not in _store.ended
                if first:
                    _store.ended[build["id"]] = _repository(overrides) in _store.missing
                missing = _store.ended[build["id"]] and _repository(overrides)
            url = overrides.get("GIT_REPOSITORY_URL") or overrides.get("GIT_REPOSITORY_FULL_NAME", "")
            if missing:
                command = f"git clone {url} {build['projectName']}"
                build["phases"] = _failed_phases(
                    build, f"Error while executing command: {command}. Reason: exit status 128")
                build["buildStatus"] = "FAILED"
            if first:
                _write_log(self.account_id, self.region_name, build["logs"]["groupName"], build["logs"]["streamName"],
                           _lines(build, missing or None, url))
        return builds

    CodeBuildResponse.start_build = start_build
    CodeBuildBackend.start_build = backend_start
    CodeBuildBackend.batch_get_builds = batch_get_builds

    from harness.emulator import on_reset

    def reset():
        with _store.lock:
            _store.overrides.clear()
            _store.ended.clear()
            _store.missing.clear()

    on_reset(reset)
