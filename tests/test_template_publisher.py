"""Custom::ProjectTemplates through cargo-lambda against the emulator: one tagged PutObject per template,
unchanged ones skipped, earlier ones that left the set removed, foreign objects never touched."""
from pathlib import Path

import pytest

from harness.buckets import create_template_bucket, object_tags
from harness.fixtures import cr_event

FUNCTION = "template-publisher"
BUCKET = "sagemaker-projects-templates-123456789012"
PREFIX = "templates/"
STACK = "arn:aws:cloudformation:us-east-1:123456789012:stack/bootstrap/77"
NAMES = sorted(p.name for p in (Path(__file__).resolve().parents[1] / "templates").glob("*.yaml"))
FOREIGN_KEY = f"{PREFIX}team-template.yaml"
FOREIGN_BODY = b"Resources: {}\n"


def event(request_type, physical_id=None, request_id="r1", old=None, **props):
    return cr_event("Custom::ProjectTemplates", {"Bucket": BUCKET, "Prefix": PREFIX, "Digest": "d1", **props},
                    request_type, stack=STACK, logical="Templates", request_id=request_id, old=old,
                    physical_id=physical_id or None)


@pytest.fixture
def s3(aws):
    client = aws.client("s3")
    create_template_bucket(client, BUCKET)
    client.put_object(Bucket=BUCKET, Key=FOREIGN_KEY, Body=FOREIGN_BODY, Tagging="owner=data-science")
    return client


@pytest.fixture
def run(aws, answer):
    return lambda ev: answer(FUNCTION, ev)


def keys(s3):
    return sorted(o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET).get("Contents", []))


def assert_foreign_untouched(s3):
    assert s3.get_object(Bucket=BUCKET, Key=FOREIGN_KEY)["Body"].read() == FOREIGN_BODY
    assert object_tags(s3, BUCKET, FOREIGN_KEY) == {"owner": "data-science"}


def test_create_publishes_every_template_tagged_visible_in_one_request_each(s3, run):
    r = run(event("Create"))
    assert r["Status"] == "SUCCESS", r
    assert keys(s3) == sorted([FOREIGN_KEY] + [PREFIX + n for n in NAMES])
    assert r["Data"]["TemplateCount"] == "5" and r["Data"]["Written"] == "5"
    assert r["Data"]["TemplatesLocation"] == f"s3://{BUCKET}/{PREFIX}"
    assert r["Data"]["BuildTrainCodepipelineUrl"] == f"https://{BUCKET}.s3.us-east-1.amazonaws.com/{PREFIX}build-train-codepipeline.yaml"
    root = Path(__file__).resolve().parents[1] / "templates"
    for n in NAMES:
        obj = s3.get_object(Bucket=BUCKET, Key=PREFIX + n)
        assert obj["Body"].read() == (root / n).read_bytes()
        tags = object_tags(s3, BUCKET, PREFIX + n)
        assert tags["sagemaker:studio-visibility"] == "true"
        assert len(tags["sagemaker-projects-bootstrap:published-by"]) == 10
        # one PutObject each: a single version, created with its tags
        assert len(s3.list_object_versions(Bucket=BUCKET, Prefix=PREFIX + n)["Versions"]) == 1
    assert_foreign_untouched(s3)


def test_a_replay_writes_nothing_and_answers_the_same(s3, run):
    first = run(event("Create"))
    for _ in range(3):
        again = run(event("Create"))
        assert again["PhysicalResourceId"] == first["PhysicalResourceId"]
        assert again["Data"]["Written"] == "0"
    for n in NAMES:
        assert len(s3.list_object_versions(Bucket=BUCKET, Prefix=PREFIX + n)["Versions"]) == 1


def test_update_rewrites_changed_adds_missing_and_removes_what_left_the_set(s3, run):
    created = run(event("Create"))
    owner = object_tags(s3, BUCKET, PREFIX + NAMES[0])["sagemaker-projects-bootstrap:published-by"]
    ours = f"sagemaker%3Astudio-visibility=true&sagemaker-projects-bootstrap%3Apublished-by={owner}"
    # as if an earlier version of the set had published these:
    s3.put_object(Bucket=BUCKET, Key=PREFIX + NAMES[0], Body=b"old content", Tagging=ours)   # changed since
    s3.put_object(Bucket=BUCKET, Key=f"{PREFIX}retired.yaml", Body=b"x", Tagging=ours)       # left the set
    s3.delete_object(Bucket=BUCKET, Key=PREFIX + NAMES[1])                                    # missing
    r = run(event("Update", physical_id=created["PhysicalResourceId"], request_id="r2", old=event("Create")["ResourceProperties"], Digest="d2"))
    assert r["Status"] == "SUCCESS", r
    assert r["PhysicalResourceId"] == created["PhysicalResourceId"]
    assert (r["Data"]["Written"], r["Data"]["Removed"]) == ("2", "1")
    assert keys(s3) == sorted([FOREIGN_KEY] + [PREFIX + n for n in NAMES])
    assert s3.get_object(Bucket=BUCKET, Key=PREFIX + NAMES[0])["Body"].read() != b"old content"
    assert_foreign_untouched(s3)


def test_a_foreign_object_in_the_way_fails_the_publish_before_any_write(s3, run):
    s3.put_object(Bucket=BUCKET, Key=PREFIX + NAMES[2], Body=b"someone else's", Tagging="owner=other")
    r = run(event("Create"))
    assert r["Status"] == "FAILED"
    assert r["Reason"] == (f"s3://{BUCKET}/{PREFIX}{NAMES[2]} exists and was not published by this stack; "
                           "refusing to overwrite it (move it, or publish under another Prefix)")
    assert keys(s3) == sorted([FOREIGN_KEY, PREFIX + NAMES[2]])
    assert s3.get_object(Bucket=BUCKET, Key=PREFIX + NAMES[2])["Body"].read() == b"someone else's"


def test_delete_removes_only_what_it_published(s3, run):
    created = run(event("Create"))
    r = run(event("Delete", physical_id=created["PhysicalResourceId"], request_id="r3"))
    assert r["Status"] == "SUCCESS"
    assert keys(s3) == [FOREIGN_KEY]
    assert_foreign_untouched(s3)
    # a second Delete (Lambda retry) finds nothing to do
    assert run(event("Delete", physical_id=created["PhysicalResourceId"], request_id="r3"))["Status"] == "SUCCESS"


def test_retain_keeps_the_templates_on_delete(s3, run):
    created = run(event("Create", Retain="true"))
    r = run(event("Delete", physical_id=created["PhysicalResourceId"], request_id="r4", Retain="true"))
    assert r["Status"] == "SUCCESS"
    assert len(keys(s3)) == 6


def test_moving_the_templates_is_a_replacement(s3, run):
    created = run(event("Create"))
    r = run(event("Update", physical_id=created["PhysicalResourceId"], request_id="r5",
                  old=event("Create")["ResourceProperties"], Prefix="v2/"))
    assert r["Status"] == "SUCCESS"
    assert r["PhysicalResourceId"] != created["PhysicalResourceId"], "CloudFormation then deletes the old location"
    assert len([k for k in keys(s3) if k.startswith("v2/")]) == 5


@pytest.mark.parametrize("props, reason", [
    ({"Bucket": "Bad_Bucket"}, "Bucket: \"Bad_Bucket\" is not an S3 bucket name"),
    ({"Prefix": "../up"}, "Prefix: \"../up\" is not a key prefix"),
    ({"Retain": "maybe"}, "ResourceProperties.Retain: expected \"true\" or \"false\", got \"maybe\""),
])
def test_bad_properties_fail_naming_the_field(s3, run, props, reason):
    r = run(event("Create", **props))
    assert r["Status"] == "FAILED"
    assert r["Reason"].startswith(reason), r["Reason"]
    assert keys(s3) == [FOREIGN_KEY]
