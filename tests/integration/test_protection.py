"""Protection that lives in AWS: the security review's teardown scenario, on the emulator, through
the playbooks a user runs. A protected deployment is provisioned; a wrong -e or a wrong inventory
then calls it unprotected, and neither teardown.yml nor provision.yml may remove or lift anything
without the deployment's name as confirmation."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from oci_registry import OciRegistry

REPO = Path(__file__).resolve().parents[2]
PINNED = "652b828b5129e6cdbcaa3c20efa8d116d09ff3bf"
REGION = "eu-west-1"


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    with OciRegistry(tmp_path_factory.mktemp("registry")) as running:
        for name in ("convex-backend", "convex-dashboard"):
            running.push(f"get-convex/{name}", PINNED, multi_arch=True)
        yield running


def playbook(aws, registry, name, **extra):
    environment = aws.env()
    settings = {
        "stage_aws_environment": {k: v for k, v in environment.items() if k.startswith("AWS_")},
        "convex_image_registry": f"{registry.host}/get-convex",
        "docker_insecure_registries": [registry.host],
        "stage_ssh_key_name": "ops",
        "stage_ssh_cidrs": ["198.51.100.0/24"],
        **extra,
    }
    run = subprocess.run(
        ["ansible-playbook", f"playbooks/{name}", "-i", "inventories/dev", "-e", json.dumps(settings)],
        cwd=REPO,
        capture_output=True,
        text=True,
        env={**environment, "PATH": f"{REPO / '.venv' / 'bin'}:{os.environ['PATH']}", "ANSIBLE_NOCOLOR": "1"},
        timeout=600,
        check=False,
    )
    return run.returncode, run.stdout + run.stderr


@pytest.fixture
def production(aws, registry):
    """A protected deployment named production, made from the dev inventory with -e."""
    aws.client("route53").create_hosted_zone(Name="example.com.", CallerReference="protection")
    aws.client("ec2", region_name=REGION).create_key_pair(KeyName="ops")
    # production's own resilience settings too (inventories/production).
    code, output = playbook(
        aws,
        registry,
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
def test_teardown_with_wrong_settings_removes_nothing_and_says_why(production, registry, wrong):
    before = len(production.calls())
    code, output = playbook(production, registry, "teardown.yml", stage_name="production", **wrong)
    assert code != 0
    assert "Deployment production is protected" in output and "teardown_confirm=production" in output, output[-3000:]
    assert [c for c in production.calls()[before:] if c.writes] == []
    assert len(host_of(production)) == 1


def test_settings_that_would_lift_protection_change_nothing_without_confirmation(production, registry):
    before = len(production.calls())
    code, output = playbook(production, registry, "provision.yml", stage_name="production", stage_protected=False)
    assert code != 0
    assert "would lift that protection" in output and "unprotect_confirm=production" in output, output[-3000:]
    assert [c for c in production.calls()[before:] if c.writes] == []


def test_teardown_confirmed_by_name_lifts_each_protection_and_removes_everything(production, registry):
    code, output = playbook(
        production,
        registry,
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
