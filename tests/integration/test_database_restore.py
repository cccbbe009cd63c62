"""A database restored into a new RDS instance, on the emulator, through the AWS side of
restore.yml (provisioning with a restore asked; the host side is the local stage's e2e test):
the new instance becomes the deployment's database, the old one is kept until a confirmed run
removes it, and the stage's record of which is current makes every later run keep the new one."""

from __future__ import annotations

import json

import pytest

REGION = "eu-west-1"
RECORD = "/convex/dev/database"


def playbook(dev_stage, *flags, **settings):
    run = dev_stage("provision.yml", flags=flags, **settings)
    return run.returncode, run.stdout + run.stderr


def instances(aws):
    return {
        d["DBInstanceIdentifier"]: d
        for d in aws.client("rds", region_name=REGION).describe_db_instances()["DBInstances"]
    }


def record(aws):
    ssm = aws.client("ssm", region_name=REGION)
    return json.loads(ssm.get_parameter(Name=RECORD)["Parameter"]["Value"])


BAD_RESTORES = [
    ({"provision_restore_snapshot": "no-such-snapshot"}, ["restore_snapshot", "no-such-snapshot"]),
    ({"provision_restore_time": "yesterday"}, ["restore_time", "ISO 8601"]),
    ({"provision_restore_snapshot": "dev-known-good", "provision_restore_time": "2026-11-24T09:30:00Z"}, ["not both"]),
    ({"provision_remove_kept": "convex-dev-old", "unprotect_confirm": "dev"}, ["remove_kept", "not a kept database"]),
]


def refuse_bad_restores(aws, dev_stage):
    for extra, names in BAD_RESTORES:
        before = len(aws.calls())
        code, output = playbook(dev_stage, **extra)
        assert code != 0, extra
        for name in names:
            assert name in output, output[-3000:]
        assert [c for c in aws.calls()[before:] if c.writes] == [], extra


@pytest.fixture
def snapshot(aws, dev_stage):
    """A provisioned dev deployment, and a manual snapshot of its database."""
    code, output = playbook(dev_stage)
    assert code == 0, output[-3000:]
    rds = aws.client("rds", region_name=REGION)
    rds.create_db_snapshot(DBSnapshotIdentifier="dev-known-good", DBInstanceIdentifier="convex-dev")
    return "dev-known-good"


def test_restore_from_a_snapshot_makes_a_new_current_instance_keeps_the_old_and_teardown_removes_both(
    aws, dev_stage, snapshot
):
    before = len(aws.calls())
    code, output = playbook(dev_stage, "--check", "--diff", provision_restore_snapshot=snapshot)
    assert code == 0, output[-3000:]
    assert "restore the snapshot dev-known-good into the new instance convex-dev-r" in output
    assert [c for c in aws.calls()[before:] if c.writes] == []

    code, output = playbook(dev_stage, provision_restore_snapshot=snapshot)
    assert code == 0, output[-3000:]
    (restored,) = [name for name in instances(aws) if name.startswith("convex-dev-r")]
    assert record(aws) == {"current": restored, "kept": ["convex-dev"]}
    new = instances(aws)[restored]
    assert new["DBSubnetGroup"]["DBSubnetGroupName"] == "convex-dev"
    assert [g["DBParameterGroupName"] for g in new["DBParameterGroups"]] == ["convex-dev-mysql84"]
    assert new["StorageEncrypted"] and not new["PubliclyAccessible"]
    assert {t["Key"]: t["Value"] for t in new["TagList"]}["convex_selfhost:stage"] == "dev"

    # Later runs keep the new instance: a no-op run changes nothing, the same restore neither.
    for extra in ({}, {"provision_restore_snapshot": snapshot}):
        code, output = playbook(dev_stage, **extra)
        assert code == 0 and "changed=0" in output, output[-3000:]
    assert sorted(instances(aws)) == sorted(["convex-dev", restored])

    # Teardown removes the current instance and the kept one (each after a final snapshot), the
    # record, and the deployment's tagged snapshots, of whichever instance; another's stay.
    rds = aws.client("rds", region_name=REGION)
    stage_tag = [{"Key": "convex_selfhost:stage", "Value": "dev"}]
    rds.create_db_snapshot(
        DBSnapshotIdentifier="convex-dev-before-x", DBInstanceIdentifier="convex-dev", Tags=stage_tag
    )
    other = [{"Key": "convex_selfhost:stage", "Value": "other"}]
    rds.create_db_snapshot(DBSnapshotIdentifier="other-before-x", DBInstanceIdentifier="convex-dev", Tags=other)
    run = dev_stage("teardown.yml", teardown_snapshots=True)
    assert run.returncode == 0, run.stdout[-3000:]
    assert instances(aws) == {}
    assert "Final snapshots of the databases earlier restores replaced: convex-dev-final-" in run.stdout
    ssm = aws.client("ssm", region_name=REGION)
    assert ssm.get_parameters(Names=[RECORD])["InvalidParameters"] == [RECORD]
    left = {s["DBSnapshotIdentifier"] for s in rds.describe_db_snapshots(SnapshotType="manual")["DBSnapshots"]}
    assert "convex-dev-before-x" not in left and "other-before-x" in left, left
    assert len([s for s in left if "-final-" in s]) == 2, "the final snapshots stay"


def test_bad_restores_are_refused_then_a_point_in_time_restore_and_a_confirmed_removal(aws, dev_stage, snapshot):
    # Each bad restore names its setting and changes nothing.
    refuse_bad_restores(aws, dev_stage)
    code, output = playbook(dev_stage, provision_restore_time="2026-11-24T09:30:00Z")
    assert code == 0, output[-3000:]
    current = record(aws)["current"]
    assert current.startswith("convex-dev-r") and record(aws)["kept"] == ["convex-dev"]

    before = len(aws.calls())
    code, output = playbook(dev_stage, provision_remove_kept="convex-dev")
    assert code != 0 and "-e unprotect_confirm=dev" in output, output[-3000:]
    assert [c for c in aws.calls()[before:] if c.writes] == []

    code, output = playbook(dev_stage, provision_remove_kept="convex-dev", unprotect_confirm="dev")
    assert code == 0, output[-3000:]
    assert sorted(instances(aws)) == [current]
    assert record(aws) == {"current": current, "kept": []}
    finals = aws.client("rds", region_name=REGION).describe_db_snapshots()["DBSnapshots"]
    assert any(s["DBSnapshotIdentifier"].startswith("convex-dev-final-") for s in finals), finals
