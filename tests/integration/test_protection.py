"""Protection that lives in AWS: the security review's teardown scenario, on the emulator, through
the playbooks a user runs. A protected deployment is provisioned; a wrong -e or a wrong inventory
then calls it unprotected, and neither teardown.yml nor provision.yml may remove or lift anything
without the deployment's name as confirmation."""

from __future__ import annotations

import pytest

REGION = "eu-west-1"


def playbook(dev_stage, name, **settings):
    run = dev_stage(name, **settings)
    return run.returncode, run.stdout + run.stderr


@pytest.fixture
def production(aws, dev_stage):
    """A protected deployment named production, made from the dev inventory with -e."""
    # production's own resilience settings too (inventories/production).
    code, output = playbook(
        dev_stage,
        "provision.yml",
        stage_name="production",
        stage_protected=True,
        stage_recovery_alarm=True,
        stage_db_multi_az=True,
        stage_db_max_storage_gb=100,
    )
    assert code == 0, output[-3000:]
    return aws


def host_of(aws):
    ec2 = aws.client("ec2", region_name=REGION)
    reservations = ec2.describe_instances(
        Filters=[
            {"Name": "tag:Name", "Values": ["convex-production"]},
            {"Name": "instance-state-name", "Values": ["running"]},
        ]
    )["Reservations"]
    return [i for r in reservations for i in r["Instances"]]


def test_a_protected_deployment_is_protected_by_aws_itself(production):
    (host,) = host_of(production)
    tags = {t["Key"]: t["Value"] for t in host["Tags"]}
    assert tags["convex_selfhost:protected"] == "true"
    ec2 = production.client("ec2", region_name=REGION)
    attribute = ec2.describe_instance_attribute(InstanceId=host["InstanceId"], Attribute="disableApiTermination")
    assert attribute["DisableApiTermination"]["Value"] is True
    (db,) = production.client("rds", region_name=REGION).describe_db_instances()["DBInstances"]
    assert db["DeletionProtection"] is True


def test_a_production_like_run_keeps_a_recovery_alarm_and_a_resilient_database(production):
    (host,) = host_of(production)
    cloudwatch = production.client("cloudwatch", region_name=REGION)
    (alarm,) = cloudwatch.describe_alarms(AlarmNames=["convex-production-recover"])["MetricAlarms"]
    assert alarm["Dimensions"] == [{"Name": "InstanceId", "Value": host["InstanceId"]}]
    assert alarm["AlarmActions"] == [f"arn:aws:automate:{REGION}:ec2:recover"]
    (db,) = production.client("rds", region_name=REGION).describe_db_instances()["DBInstances"]
    assert db["MultiAZ"] is True and db["MaxAllocatedStorage"] == 100


@pytest.mark.parametrize(
    "wrong", [{}, {"stage_protected": False}], ids=["unprotected inventory", "-e stage_protected=false"]
)
def test_teardown_with_wrong_settings_removes_nothing_and_says_why(production, dev_stage, wrong):
    before = len(production.calls())
    code, output = playbook(dev_stage, "teardown.yml", stage_name="production", **wrong)
    assert code != 0
    assert "Deployment production is protected" in output and "teardown_confirm=production" in output, output[-3000:]
    assert [c for c in production.calls()[before:] if c.writes] == []
    assert len(host_of(production)) == 1


def test_settings_that_would_lift_protection_change_nothing_without_confirmation(production, dev_stage):
    before = len(production.calls())
    code, output = playbook(dev_stage, "provision.yml", stage_name="production", stage_protected=False)
    assert code != 0
    assert "would lift that protection" in output and "unprotect_confirm=production" in output, output[-3000:]
    assert [c for c in production.calls()[before:] if c.writes] == []


def test_teardown_confirmed_by_name_lifts_each_protection_and_removes_everything(production, dev_stage):
    code, output = playbook(
        dev_stage,
        "teardown.yml",
        stage_name="production",
        teardown_confirm="production",
        teardown_snapshots=True,
    )
    assert code == 0, output[-3000:]
    assert "Protection lifted (confirmed)" in output
    # teardown_snapshots removes the manual snapshots, but never the final one it has just taken.
    snapshots = production.client("rds", region_name=REGION).describe_db_snapshots()["DBSnapshots"]
    assert [s["DBSnapshotIdentifier"] for s in snapshots if "-final-" in s["DBSnapshotIdentifier"]], snapshots
    assert "Final database snapshot: convex-production-final-" in output
    assert host_of(production) == []
    databases = production.client("rds", region_name=REGION).describe_db_instances()["DBInstances"]
    assert databases == []
