"""cfn-guard rules (iam/guard/*.guard) hold for every template of the project, and bite on deliberately bad ones.

Rule files named `infra_*.guard` apply to infra/ only; every other rule file applies to iam/, infra/ and templates/.
cfn-guard 3.x lives in .tools/bin (installed with `cargo install cfn-guard --locked --root .tools`); CFN_GUARD
overrides the path.
"""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RULES_DIR = ROOT / "iam" / "guard"
FIXTURES = ROOT / "tests" / "fixtures" / "guard"
CFN_GUARD = Path(os.environ.get("CFN_GUARD", ROOT / ".tools" / "bin" / "cfn-guard"))

ALL_RULE_FILES = sorted(RULES_DIR.glob("*.guard"))
COMMON_RULE_FILES = [p for p in ALL_RULE_FILES if not p.name.startswith("infra_")]


def rule_files_for(template: Path) -> list[Path]:
    return ALL_RULE_FILES if (ROOT / "infra") in template.parents else COMMON_RULE_FILES


def project_templates() -> list[Path]:
    found = []
    for d in ("iam", "infra", "templates"):
        if (ROOT / d).is_dir():
            found += sorted((ROOT / d).glob("*.yaml"))
    return found


def guard(template: Path, rules: list[Path]) -> dict[str, str]:
    """Run cfn-guard; return {rule name: PASS | FAIL | SKIP} over the given rule files."""
    if not CFN_GUARD.exists():
        pytest.fail(f"cfn-guard not found at {CFN_GUARD}: cargo install cfn-guard --version '^3' --locked "
                    f"--root {ROOT / '.tools'}")
    cmd = [str(CFN_GUARD), "validate", "--output-format", "json", "--show-summary", "none", "--data", str(template)]
    for r in rules:
        cmd += ["--rules", str(r)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert "Error" not in proc.stderr, proc.stderr  # a rule file that does not parse
    results: dict[str, str] = {}
    decoder, text, i = json.JSONDecoder(), proc.stdout, 0
    while True:  # one JSON document per rule file
        while i < len(text) and text[i].isspace():
            i += 1
        if i >= len(text):
            break
        doc, i = decoder.raw_decode(text, i)
        for item in doc["not_compliant"]:
            results[item["Rule"]["name"]] = "FAIL"
        for name in doc["compliant"]:
            results[name] = "PASS"
        for name in doc["not_applicable"]:
            results[name] = "SKIP"
    failed = any(v == "FAIL" for v in results.values())
    assert proc.returncode == (19 if failed else 0), (proc.returncode, proc.stderr)
    return results


def failure_report(template: Path, rules: list[Path]) -> str:
    cmd = [str(CFN_GUARD), "validate", "--show-summary", "fail", "--data", str(template)]
    for r in rules:
        cmd += ["--rules", str(r)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120).stdout[-6000:]


def rule_names(rules: list[Path]) -> set[str]:
    names = set()
    for r in rules:
        for line in r.read_text().splitlines():
            if line.startswith("rule "):
                names.add(line.split()[1])
    return names


def test_cfn_guard_is_version_3():
    if not CFN_GUARD.exists():
        pytest.fail(f"cfn-guard not found at {CFN_GUARD}")
    out = subprocess.run([str(CFN_GUARD), "--version"], capture_output=True, text=True, check=True).stdout
    assert out.split()[-1].startswith("3."), out


def test_rule_files_exist_for_each_promise():
    assert {p.name for p in ALL_RULE_FILES} >= {
        "iam_policies.guard", "s3_buckets.guard", "infra_s3_tls.guard", "lambda_roles.guard", "guardrails.guard",
        "infra_alarms.guard", "infra_names.guard"}


@pytest.mark.parametrize("template", project_templates(), ids=lambda p: str(p.relative_to(ROOT)))
def test_project_template_keeps_every_promise(template):
    rules = rule_files_for(template)
    results = guard(template, rules)
    assert set(results) == rule_names(rules), "every rule was evaluated"
    failed = sorted(n for n, v in results.items() if v == "FAIL")
    assert not failed, f"{template.relative_to(ROOT)} breaks {failed}\n{failure_report(template, rules)}"


def test_good_fixture_passes_every_rule_for_real():
    """Not merely skipped: the compliant fixture exercises every rule, so a PASS elsewhere means something."""
    results = guard(FIXTURES / "good.yaml", ALL_RULE_FILES)
    assert results == {name: "PASS" for name in rule_names(ALL_RULE_FILES)}


# fixture -> the rules that must fail on it (all others must not fail)
BAD_CASES = {
    "bad_action_star.yaml": {"iam_no_wildcard_actions"},
    "bad_iam_star.yaml": {"iam_no_wildcard_actions"},
    "bad_iam_wildcard_action.yaml": {"iam_no_wildcard_actions"},
    "bad_not_action.yaml": {"iam_no_wildcard_actions"},
    "bad_passrole_star.yaml": {"iam_passrole_named_roles"},
    "bad_passrole_all_roles.yaml": {"iam_passrole_named_roles"},
    "bad_passrole_no_service.yaml": {"iam_passrole_passed_to_service"},
    "bad_s3_public.yaml": {"s3_block_public_access", "s3_bucket_policy_denies_insecure_transport"},
    "bad_s3_no_public_access_block.yaml": {"s3_block_public_access", "s3_bucket_policy_denies_insecure_transport"},
    "bad_s3_unencrypted.yaml": {"s3_default_encryption", "s3_bucket_policy_denies_insecure_transport"},
    "bad_s3_no_tls_policy.yaml": {"s3_bucket_policy_denies_insecure_transport"},
    "bad_s3_tls_policy_without_deny.yaml": {"s3_bucket_policy_denies_insecure_transport"},
    "bad_lambda_admin_trusted.yaml": {"lambda_role_not_admin_trusted"},
    "bad_lambda_admin_referenced.yaml": {"lambda_role_not_admin_referenced"},
    "bad_lambda_admin_referenced_long.yaml": {"lambda_role_not_admin_referenced"},
    "bad_role_without_boundary.yaml": {"iam_roles_take_the_permissions_boundary"},
    "bad_role_path_fixed.yaml": {"iam_roles_follow_the_role_path"},
    "bad_function_outside_vpc.yaml": {"lambda_functions_in_the_vpc"},
    "bad_sns_no_tls_policy.yaml": {"sns_topic_policy_denies_insecure_transport"},
    "bad_sns_aws_managed_key.yaml": {"sns_topic_not_under_the_aws_managed_key"},
    "bad_alarm_no_actions.yaml": {"cloudwatch_alarms_notify"},
    "bad_lambda_function_administration.yaml": {"iam_no_lambda_function_administration"},
    "bad_function_name_from_the_stack.yaml": {"infra_functions_named_out_of_sagemaker_reach"},
}


@pytest.mark.parametrize("fixture", sorted(BAD_CASES))
def test_rule_bites_on_its_bad_fixture(fixture):
    results = guard(FIXTURES / fixture, ALL_RULE_FILES)
    failed = {n for n, v in results.items() if v == "FAIL"}
    assert failed == BAD_CASES[fixture]


def test_every_rule_has_a_bad_fixture():
    covered = set().union(*BAD_CASES.values())
    assert covered == rule_names(ALL_RULE_FILES)


def test_every_bad_fixture_is_listed():
    assert {p.name for p in FIXTURES.glob("bad_*.yaml")} == set(BAD_CASES)


def test_transport_rule_is_for_infra_only():
    """Project templates are held to the common rules; the TLS bucket-policy rule applies to infra/ only."""
    assert rule_files_for(ROOT / "templates" / "x.yaml") == COMMON_RULE_FILES
    assert rule_files_for(ROOT / "infra" / "x.yaml") == ALL_RULE_FILES
    assert "s3_bucket_policy_denies_insecure_transport" not in rule_names(COMMON_RULE_FILES)
    # an uncovered bucket is fine for the common rules, not for infra's
    assert guard(FIXTURES / "bad_s3_no_tls_policy.yaml", COMMON_RULE_FILES)["s3_block_public_access"] == "PASS"


def test_fixtures_are_valid_cloudformation():
    """The bad fixtures are bad only in the promise they break: cfn-lint finds nothing else wrong with them."""
    proc = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "cfn-lint"), "--format", "parseable", "--",
         *map(str, sorted(FIXTURES.glob("*.yaml")))],
        capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0 and proc.stdout.strip() == "", proc.stdout + proc.stderr
