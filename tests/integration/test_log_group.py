"""The deployment's CloudWatch Logs group (provision.yml on inventories/dev, against the emulator):
made with its retention and tags, repaired after drift (check mode first, telling the truth),
the host's role allowed to write its streams only, and removed by teardown.yml unless kept."""

from __future__ import annotations

import json
import time

from conftest import DEV_REGION

GROUP = "/convex/convex-dev"
ROLE = "convex-dev-host"


def ok(run):
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    return run.stdout


def group(aws):
    found = aws.client("logs", region_name=DEV_REGION).describe_log_groups(logGroupNamePrefix=GROUP)["logGroups"]
    return next((g for g in found if g["logGroupName"] == GROUP), None)


def tags(aws):
    arn = group(aws)["arn"].removesuffix(":*")
    return aws.client("logs", region_name=DEV_REGION).list_tags_for_resource(resourceArn=arn)["tags"]


def test_provisioning_makes_the_group_and_repairs_its_retention_and_tags(aws, dev_stage):
    ok(dev_stage("provision.yml", stage_log_retention_days=90))
    made = group(aws)
    assert made["retentionInDays"] == 90
    assert tags(aws)["convex_selfhost:stage"] == "dev"
    assert tags(aws)["convex_selfhost:managed-by"] == "convex_selfhost.aws"

    logs = aws.client("logs", region_name=DEV_REGION)
    logs.put_retention_policy(logGroupName=GROUP, retentionInDays=1)
    logs.untag_resource(resourceArn=made["arn"].removesuffix(":*"), tagKeys=["convex_selfhost:stage"])
    before = len(aws.calls())
    checked = ok(dev_stage("provision.yml", flags=["--check", "--diff"], stage_log_retention_days=90))
    assert f"keep the logs of {GROUP} for 90 days" in checked
    assert f"tag the log group {GROUP}" in checked
    assert [c for c in aws.calls()[before:] if c.writes] == [], "check mode wrote"
    assert group(aws)["retentionInDays"] == 1

    ok(dev_stage("provision.yml", stage_log_retention_days=90))
    assert group(aws)["retentionInDays"] == 90
    assert tags(aws)["convex_selfhost:stage"] == "dev"
    assert "changed=0" in ok(dev_stage("provision.yml", stage_log_retention_days=90))

    # 0 keeps the logs for good: the retention policy goes.
    ok(dev_stage("provision.yml", stage_log_retention_days=0))
    assert "retentionInDays" not in group(aws)


def test_the_host_may_write_the_streams_of_its_own_group_and_nothing_else(aws, dev_stage):
    ok(dev_stage("provision.yml"))
    iam = aws.client("iam")
    document = iam.get_role_policy(RoleName=ROLE, PolicyName="convex-storage")["PolicyDocument"]
    if isinstance(document, str):
        document = json.loads(document)
    statements = {s["Sid"]: s for s in document["Statement"]}
    account = aws.client("sts").get_caller_identity()["Account"]
    assert statements["ConvexLogs"] == {
        "Sid": "ConvexLogs",
        "Effect": "Allow",
        "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
        "Resource": [f"arn:aws:logs:{DEV_REGION}:{account}:log-group:{GROUP}:log-stream:*"],
    }
    # Every other statement is the buckets', the metrics' or the copy of Caddy's storage's: no other
    # logs action, and no other service.
    actions = {a for s in document["Statement"] for a in s["Action"]}
    assert {a.split(":")[0] for a in actions} == {"s3", "logs", "cloudwatch", "secretsmanager"}
    assert {a for a in actions if a.startswith("logs:")} == {"logs:CreateLogStream", "logs:PutLogEvents"}


def test_teardown_removes_the_group_unless_kept(aws, dev_stage):
    ok(dev_stage("provision.yml"))
    kept = ok(dev_stage("teardown.yml", timeout=300, teardown_logs=False))
    assert group(aws) is not None
    assert f"The log group {GROUP} was kept" in kept
    # A later teardown (the rest is gone already) takes the kept group.
    ok(dev_stage("teardown.yml", timeout=300))
    assert group(aws) is None
    assert "changed=0" in ok(dev_stage("teardown.yml", timeout=300))


def test_teardown_can_copy_the_logs_into_the_kept_exports_bucket_first(aws, dev_stage):
    ok(dev_stage("provision.yml"))
    logs = aws.client("logs", region_name=DEV_REGION)
    # What dockerd's awslogs driver writes on the host.
    logs.create_log_stream(logGroupName=GROUP, logStreamName="backend")
    logs.put_log_events(
        logGroupName=GROUP,
        logStreamName="backend",
        logEvents=[{"timestamp": int(time.time() * 1000), "message": "serving the API on 3210"}],
    )
    account = aws.client("sts").get_caller_identity()["Account"]
    bucket = f"convex-dev-{account}-exports"

    # The copy would go with the buckets: refused before anything is removed.
    before = len(aws.calls())
    refused = dev_stage("teardown.yml", timeout=300, teardown_logs_export=True, teardown_buckets=True)
    assert refused.returncode != 0
    assert "export_logs with remove_buckets" in refused.stdout
    assert [c for c in aws.calls()[before:] if c.writes] == []

    told = ok(dev_stage("teardown.yml", timeout=300, teardown_logs_export=True))
    assert group(aws) is None
    s3 = aws.client("s3", region_name=DEV_REGION)
    listed = s3.list_objects_v2(Bucket=bucket, Prefix="cloudwatch-logs/convex-dev/").get("Contents", [])
    # The stream's events, gzipped (the stage's TLS-only policy keeps the emulator from serving
    # the object itself: it refuses object reads under any Deny statement).
    (copied,) = [o for o in listed if o["Key"].endswith("/backend/000000.gz")]
    assert copied["Size"] > 0
    prefix = copied["Key"].split("/")[:3]
    assert f"copied to s3://{bucket}/{'/'.join(prefix)}/ and removed" in told
    # The emulator lets anyone write; AWS lets CloudWatch Logs write only what the bucket's policy
    # allows it, as the CloudWatch Logs user guide gives the statements.
    policy = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
    statements = {s["Sid"]: s for s in policy["Statement"]}
    service = {"Service": f"logs.{DEV_REGION}.amazonaws.com"}
    source = f"arn:aws:logs:{DEV_REGION}:{account}:log-group:*"
    assert statements["ConvexLogsExportAcl"] == {
        "Sid": "ConvexLogsExportAcl",
        "Effect": "Allow",
        "Principal": service,
        "Action": "s3:GetBucketAcl",
        "Resource": f"arn:aws:s3:::{bucket}",
        "Condition": {"StringEquals": {"aws:SourceAccount": account}, "ArnLike": {"aws:SourceArn": source}},
    }
    write = statements["ConvexLogsExportWrite"]
    assert (write["Action"], write["Resource"]) == ("s3:PutObject", f"arn:aws:s3:::{bucket}/{'/'.join(prefix)}/*")
    assert write["Condition"]["StringEquals"]["s3:x-amz-acl"] == "bucket-owner-full-control"
