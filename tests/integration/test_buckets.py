"""buckets against the emulator: five private, encrypted buckets, kept that way."""

import json

import pytest
from botocore.exceptions import ClientError
from module_runner import run_module

PREFIX = "convex-test-123456789012"
NAMES = [f"{PREFIX}-{s}" for s in ("exports", "snapshot-imports", "modules", "files", "search")]


def bucket_args(aws, **extra):
    return {**aws.connection_args(), "prefix": PREFIX, "tags": {"stage": "test"}, **extra}


def existing(aws):
    return {b["Name"] for b in aws.client("s3").list_buckets()["Buckets"]}


def encryption(aws, name):
    rules = aws.client("s3").get_bucket_encryption(Bucket=name)["ServerSideEncryptionConfiguration"]["Rules"]
    return rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"]


def test_create_makes_five_private_encrypted_buckets(aws):
    result = run_module("buckets", bucket_args(aws))
    assert not result.failed, result
    assert result.changed
    assert existing(aws) == set(NAMES)
    s3 = aws.client("s3")
    for name in NAMES:
        assert encryption(aws, name) == "AES256"
        block = s3.get_public_access_block(Bucket=name)["PublicAccessBlockConfiguration"]
        assert all(block.values()) and len(block) == 4
        rules = s3.get_bucket_ownership_controls(Bucket=name)["OwnershipControls"]["Rules"]
        assert rules == [{"ObjectOwnership": "BucketOwnerEnforced"}]
        tags = {t["Key"]: t["Value"] for t in s3.get_bucket_tagging(Bucket=name)["TagSet"]}
        assert tags["stage"] == "test"
    lifecycle = s3.get_bucket_lifecycle_configuration(Bucket=NAMES[0])["Rules"]
    assert lifecycle[0]["Expiration"]["Days"] == 14
    assert result["env"] == {
        "S3_STORAGE_EXPORTS_BUCKET": NAMES[0],
        "S3_STORAGE_SNAPSHOT_IMPORTS_BUCKET": NAMES[1],
        "S3_STORAGE_MODULES_BUCKET": NAMES[2],
        "S3_STORAGE_FILES_BUCKET": NAMES[3],
        "S3_STORAGE_SEARCH_BUCKET": NAMES[4],
    }
    assert result["arns"] == [f"arn:aws:s3:::{n}" for n in NAMES]


def test_second_run_reports_no_change(aws):
    run_module("buckets", bucket_args(aws))
    again = run_module("buckets", bucket_args(aws))
    assert not again.failed, again
    assert again.changed is False


def test_check_mode_reports_changes_and_makes_none(aws):
    missing = run_module("buckets", bucket_args(aws), check_mode=True)
    assert missing.changed
    assert existing(aws) == set()

    run_module("buckets", bucket_args(aws))
    versioned = run_module("buckets", bucket_args(aws, versioning=True), check_mode=True, diff=True)
    assert versioned.changed
    assert f"set the versioning of {NAMES[0]} to Enabled" in versioned["changes"]
    assert versioned["diff"]["after"] == "".join(f"{change}\n" for change in versioned["changes"])
    assert "Status" not in aws.client("s3").get_bucket_versioning(Bucket=NAMES[0])


def test_versioning_and_retention_follow_the_input(aws):
    run_module("buckets", bucket_args(aws, versioning=True, export_retention_days=30))
    s3 = aws.client("s3")
    assert {s3.get_bucket_versioning(Bucket=n)["Status"] for n in NAMES} == {"Enabled"}
    assert s3.get_bucket_lifecycle_configuration(Bucket=NAMES[0])["Rules"][0]["Expiration"]["Days"] == 30
    off = run_module("buckets", bucket_args(aws, versioning=False, export_retention_days=30))
    assert off.changed
    assert {s3.get_bucket_versioning(Bucket=n)["Status"] for n in NAMES} == {"Suspended"}
    assert run_module("buckets", bucket_args(aws, export_retention_days=30)).changed is False


def test_drift_made_by_hand_is_repaired(aws):
    run_module("buckets", bucket_args(aws))
    s3 = aws.client("s3")
    s3.delete_public_access_block(Bucket=NAMES[2])
    s3.delete_bucket_encryption(Bucket=NAMES[3])
    s3.put_bucket_tagging(Bucket=NAMES[4], Tagging={"TagSet": [{"Key": "stage", "Value": "hand-made"}]})
    s3.delete_bucket_lifecycle(Bucket=NAMES[0])
    repaired = run_module("buckets", bucket_args(aws), diff=True)
    assert repaired.changed
    assert {name for name in NAMES if any(name in change for change in repaired["changes"])} == {
        NAMES[0],
        NAMES[2],
        NAMES[3],
        NAMES[4],
    }
    assert all(s3.get_public_access_block(Bucket=NAMES[2])["PublicAccessBlockConfiguration"].values())
    assert encryption(aws, NAMES[3]) == "AES256"
    tags = {t["Key"]: t["Value"] for t in s3.get_bucket_tagging(Bucket=NAMES[4])["TagSet"]}
    assert tags["stage"] == "test"
    assert s3.get_bucket_lifecycle_configuration(Bucket=NAMES[0])["Rules"][0]["Expiration"]["Days"] == 14
    assert run_module("buckets", bucket_args(aws)).changed is False


def test_kms_key_switches_encryption_to_sse_kms(aws):
    key = aws.client("kms").create_key()["KeyMetadata"]["Arn"]
    run_module("buckets", bucket_args(aws, kms_key_id=key))
    default = aws.client("s3").get_bucket_encryption(Bucket=NAMES[1])["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert default["ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key}
    assert run_module("buckets", bucket_args(aws, kms_key_id=key)).changed is False


def test_absent_refuses_buckets_that_hold_objects_unless_forced(aws):
    # moto refuses every object call under any Deny statement, whatever its condition: no TLS-only
    # policy here, so the test can put an object in at all.
    run_module("buckets", bucket_args(aws, tls_only=False))
    aws.client("s3").put_object(Bucket=NAMES[3], Key="user-upload.bin", Body=b"keep me")
    refused = run_module("buckets", bucket_args(aws, state="absent"))
    assert refused.failed
    assert NAMES[3] in refused["msg"] and "force: true" in refused["msg"]
    assert existing(aws) == set(NAMES), "nothing may be deleted when one bucket is refused"

    forced = run_module("buckets", bucket_args(aws, state="absent", force=True))
    assert forced.changed
    assert existing(aws) == set()
    assert run_module("buckets", bucket_args(aws, state="absent")).changed is False


def test_absent_removes_empty_buckets_without_force(aws):
    run_module("buckets", bucket_args(aws, versioning=True))
    removed = run_module("buckets", bucket_args(aws, state="absent"))
    assert removed.changed
    assert existing(aws) == set()


@pytest.mark.parametrize(
    "prefix",
    ["Convex-Upper", "ab", "convex_underscore", "-leading", "trailing-", "double--hyphen", "x" * 47],
)
def test_invalid_prefix_fails_before_any_call(aws, prefix):
    aws.assert_module_refuses("buckets", bucket_args(aws, prefix=prefix), f"prefix '{prefix}'")


def test_negative_retention_names_the_option(aws):
    result = run_module("buckets", bucket_args(aws, export_retention_days=-1))
    assert result.failed
    assert "export_retention_days -1" in result["msg"]


def test_a_noop_run_costs_31_api_calls(aws):
    run_module("buckets", bucket_args(aws))
    before = aws.request_count()
    run_module("buckets", bucket_args(aws))
    # 6 reads for each of the 5 buckets (which also tell that they exist, so the account's buckets
    # are not listed) + the exports bucket's lifecycle rules.
    assert aws.request_count() - before == 31


def test_every_bucket_denies_requests_without_tls(aws):
    run_module("buckets", bucket_args(aws))
    for name in NAMES:
        (statement,) = json.loads(aws.client("s3").get_bucket_policy(Bucket=name)["Policy"])["Statement"]
        assert statement["Effect"] == "Deny"
        assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        assert sorted(statement["Resource"]) == [f"arn:aws:s3:::{name}", f"arn:aws:s3:::{name}/*"]


def test_a_policys_other_statements_are_kept_and_tls_only_can_be_turned_off(aws):
    run_module("buckets", bucket_args(aws))
    s3 = aws.client("s3")
    theirs = {
        "Sid": "theirs",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:DeleteBucket",
        "Resource": f"arn:aws:s3:::{NAMES[2]}",
    }
    mine = json.loads(s3.get_bucket_policy(Bucket=NAMES[2])["Policy"])["Statement"]
    s3.put_bucket_policy(Bucket=NAMES[2], Policy=json.dumps({"Version": "2012-10-17", "Statement": [*mine, theirs]}))
    assert run_module("buckets", bucket_args(aws)).changed is False
    off = run_module("buckets", bucket_args(aws, tls_only=False))
    assert len([c for c in off["changes"] if "without TLS" in c]) == 5
    assert json.loads(s3.get_bucket_policy(Bucket=NAMES[2])["Policy"])["Statement"] == [theirs]
    with pytest.raises(ClientError):
        s3.get_bucket_policy(Bucket=NAMES[0])
    assert run_module("buckets", bucket_args(aws, tls_only=False)).changed is False


def test_noncurrent_versions_expire_wherever_versioning_is_on(aws):
    run_module("buckets", bucket_args(aws, versioning=True, noncurrent_version_days=9))
    s3 = aws.client("s3")
    for name in NAMES:
        (rule,) = s3.get_bucket_lifecycle_configuration(Bucket=name)["Rules"]
        assert rule["NoncurrentVersionExpiration"]["NoncurrentDays"] == 9
        assert ("Expiration" in rule) is (name == NAMES[0])
    assert run_module("buckets", bucket_args(aws, versioning=True, noncurrent_version_days=9)).changed is False


def test_result_holds_no_credentials(aws):
    result = run_module("buckets", bucket_args(aws))
    assert "testing" not in json.dumps({k: v for k, v in result.items() if k != "invocation"})
