"""The upload tagger through cargo-lambda against the emulator: every template uploaded later is checked and
tagged visible in Studio — or not, with a reason — keeping the object's other tags, idempotent under
duplicate and out-of-order events. Events are built in AWS's documented shape."""
import uuid

import pytest

from harness.buckets import create_template_bucket, object_tags

FUNCTION = "template-tagger"
BUCKET = "sagemaker-projects-templates-123456789012"
PREFIX = "templates/"
ENV = {"TEMPLATE_BUCKET": BUCKET, "TEMPLATE_PREFIX": PREFIX}
VISIBLE = "sagemaker:studio-visibility"
REJECTED = "sagemaker-projects-bootstrap:rejected"
VALID = b"""Parameters:
  SageMakerProjectName: {Type: String}
  SageMakerProjectId: {Type: String}
Resources:
  Topic:
    Type: AWS::SNS::Topic
    Properties:
      TopicName: !Sub 'sagemaker-${SageMakerProjectName}-${SageMakerProjectId}'
"""


def s3_event(key, put, bucket=BUCKET, documented=True):
    """An EventBridge "Object Created" event as AWS documents it (etag, reason PutObject)."""
    obj = {"key": key, "size": 1, "sequencer": "00", "version-id": put.get("VersionId")}
    obj["etag" if documented else "eTag"] = put["ETag"].strip('"')
    return {
        "version": "0", "id": str(uuid.uuid4()), "detail-type": "Object Created", "source": "aws.s3",
        "account": "123456789012", "time": "2026-11-29T12:00:00Z", "region": "us-east-1",
        "resources": [f"arn:aws:s3:::{bucket}"],
        "detail": {"version": "0", "bucket": {"name": bucket}, "object": obj,
                   "request-id": "R", "requester": "123456789012", "reason": "PutObject" if documented else "ObjectCreated"},
    }


@pytest.fixture
def s3(aws):
    client = aws.client("s3")
    create_template_bucket(client, BUCKET)
    return client


@pytest.fixture
def tag(functions):
    return lambda event: functions.invoke(FUNCTION, event, extra_env=ENV)


def upload(s3, key, body, tagging=None):
    kwargs = {"Tagging": tagging} if tagging else {}
    return s3.put_object(Bucket=BUCKET, Key=key, Body=body, **kwargs)


@pytest.mark.parametrize("documented", [True, False], ids=["aws-shape", "moto-shape"])
def test_a_valid_template_becomes_visible(s3, tag, documented):
    put = upload(s3, f"{PREFIX}mine.yaml", VALID, "team=ml")
    out = tag(s3_event(f"{PREFIX}mine.yaml", put, documented=documented))
    assert out["Visible"] is True, out
    assert object_tags(s3, BUCKET, f"{PREFIX}mine.yaml") == {"team": "ml", VISIBLE: "true"}


INVALID = [
    (b"Resources: [unclosed", "not CloudFormation YAML or JSON"),
    (b"- a list\n", "top level is not a mapping"),
    (b"Parameters: {SageMakerProjectName: {Type: String}, SageMakerProjectId: {Type: String}}\n", "no Resources section"),
    (b"Resources: {}\n", "Resources is empty or not a mapping"),
    (b"Resources: {T: {Type: AWS::SNS::Topic}}\n", "parameter SageMakerProjectName is not declared"),
    (b"Parameters: {SageMakerProjectName: {Type: String}}\nResources: {T: {Type: AWS::SNS::Topic}}\n", "parameter SageMakerProjectId is not declared"),
    (b"Parameters: {SageMakerProjectName: {Type: Number}, SageMakerProjectId: {Type: String}}\nResources: {T: {Type: X}}\n", "parameter SageMakerProjectName must be of Type String"),
    (b"\xff\xfe\x00", "not UTF-8 text"),
    (b"#" * (1024 * 1024 + 10), "template is 1048577 bytes"),
    # hostile and odd input (issue 29): refused at once, before or without the YAML parser's super-linear work
    (b"Resources: " + b"[" * 200_000 + b"]" * 200_000, "nested deeper than 64 levels at line 1"),
    (b"Description: !!python/object/apply:os.system ['true']\n" + VALID,
     "YAML tag   python/object/apply:os.system  line 1  is not a CloudFormation function"),
    (VALID + b"Metadata:\n  A: &a [" + b"x," * 1000 + b"]\n  B: [" + b"*a," * 50_000 + b"]\n",
     "YAML aliases are not allowed in CloudFormation templates"),
    (VALID.replace(b"Resources:", b"Resources:\n  Extra: !Reff x\n  Other:", 1), "YAML tag  Reff is not a CloudFormation function"),
    (VALID + b"Outputs:\n" + b"".join(b"  O%d: {Value: x}\n" % i for i in range(201)), "201 Outputs  CloudFormation takes at most 200"),
    (VALID.replace(b"Parameters:", b"Parameters:\n  Size: {Type: Integer}", 1), "parameter Size has Type Integer  which CloudFormation does not know"),
]


# named by the reason: a 1 MiB body as the test id went into PYTEST_CURRENT_TEST, past what one environment
# variable may hold, and the next function process could not be started (E2BIG)
@pytest.mark.parametrize("body, reason", INVALID, ids=[reason for _, reason in INVALID])
def test_an_invalid_template_is_hidden_with_a_reason(s3, tag, body, reason):
    put = upload(s3, f"{PREFIX}broken.yaml", body)
    out = tag(s3_event(f"{PREFIX}broken.yaml", put))
    assert out["Visible"] is False, out
    tags = object_tags(s3, BUCKET, f"{PREFIX}broken.yaml")
    assert tags[VISIBLE] == "false"
    assert tags[REJECTED].startswith(reason), tags


def test_nine_foreign_tags_are_kept_and_the_verdict_still_fits(s3, tag):
    foreign = "&".join(f"k{i}=v{i}" for i in range(9))
    put = upload(s3, f"{PREFIX}crowded.yaml", VALID, foreign)
    tag(s3_event(f"{PREFIX}crowded.yaml", put))
    tags = object_tags(s3, BUCKET, f"{PREFIX}crowded.yaml")
    assert len(tags) == 10 and tags[VISIBLE] == "true"
    assert all(tags[f"k{i}"] == f"v{i}" for i in range(9))
    put = upload(s3, f"{PREFIX}crowded-bad.yaml", b"Resources: {}\n", foreign)
    tag(s3_event(f"{PREFIX}crowded-bad.yaml", put))
    tags = object_tags(s3, BUCKET, f"{PREFIX}crowded-bad.yaml")
    assert len(tags) == 10 and tags[VISIBLE] == "false" and REJECTED not in tags


def test_a_duplicate_event_changes_nothing(s3, tag):
    put = upload(s3, f"{PREFIX}dup.yaml", VALID)
    ev = s3_event(f"{PREFIX}dup.yaml", put)
    assert tag(ev)["Unchanged"] is False
    assert tag(ev)["Unchanged"] is True
    assert object_tags(s3, BUCKET, f"{PREFIX}dup.yaml") == {VISIBLE: "true"}


def test_an_older_event_never_overrides_the_verdict_for_a_newer_version(s3, tag):
    key = f"{PREFIX}evolving.yaml"
    old = upload(s3, key, b"Resources: {}\n")
    new = upload(s3, key, VALID)
    tag(s3_event(key, new))
    tag(s3_event(key, old))  # arrives late
    assert object_tags(s3, BUCKET, key) == {VISIBLE: "true"}, "the current version keeps its own verdict"
    assert object_tags(s3, BUCKET, key, old["VersionId"])[VISIBLE] == "false"


def test_an_event_for_a_deleted_object_is_ignored(s3, tag):
    put = upload(s3, f"{PREFIX}gone.yaml", VALID)
    s3.delete_object(Bucket=BUCKET, Key=f"{PREFIX}gone.yaml", VersionId=put["VersionId"])
    assert tag(s3_event(f"{PREFIX}gone.yaml", put)) == {"Ignored": "the object is gone"}


def test_objects_the_publisher_wrote_are_left_alone(s3, tag):
    put = upload(s3, f"{PREFIX}ours.yaml", b"Resources: {}\n",
                 "sagemaker%3Astudio-visibility=true&sagemaker-projects-bootstrap%3Apublished-by=abc")
    assert tag(s3_event(f"{PREFIX}ours.yaml", put))["Ignored"].startswith("published by this product")
    assert object_tags(s3, BUCKET, f"{PREFIX}ours.yaml")[VISIBLE] == "true"


@pytest.mark.parametrize("key, bucket, why", [
    (f"{PREFIX}readme.md", BUCKET, "not a YAML file"),
    ("elsewhere/t.yaml", BUCKET, "outside the template prefix"),
    (f"{PREFIX}t.yaml", "some-other-bucket", "another bucket"),
])
def test_events_outside_its_scope_are_ignored(s3, tag, key, bucket, why):
    if bucket == BUCKET:
        put = upload(s3, key, VALID)
    else:
        s3.create_bucket(Bucket=bucket)
        put = s3.put_object(Bucket=bucket, Key=key, Body=VALID)
    assert tag(s3_event(key, put, bucket=bucket)) == {"Ignored": why}


@pytest.mark.parametrize("event", [
    {"detail-type": "Object Deleted", "source": "aws.s3", "detail": {}},
    {"source": "aws.s3"},
    {"detail-type": "Object Created", "source": "aws.s3", "detail": {"bucket": {"name": BUCKET}}},
    [1, 2, 3],
    "just a string",
])
def test_malformed_events_are_rejected_without_a_retry(s3, tag, event):
    out = tag(event)
    assert "Ignored" in out, out
