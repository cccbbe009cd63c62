"""database against the emulator: RDS MySQL 8 with TLS required, encrypted and private."""

import json

import pytest
from module_runner import run_module

NAME = "convex-test"
PASSWORD = "Sup3rSecretPassw0rd"  # noqa: S105 - a fake value for the emulator


@pytest.fixture
def network(aws):
    result = run_module("network", {**aws.connection_args(), "name": NAME})
    assert not result.failed, result
    return result


def db_args(aws, network, **extra):
    return {
        **aws.connection_args(),
        "name": NAME,
        "subnet_ids": network["private_subnet_ids"],
        "security_group_ids": [network["database_security_group_id"]],
        "master_password": PASSWORD,
        "tags": {"stage": "test"},
        **extra,
    }


def instance(aws):
    return aws.client("rds").describe_db_instances(DBInstanceIdentifier=NAME)["DBInstances"][0]


def test_create_starts_an_encrypted_private_instance_with_tls_required(aws, network):
    result = run_module("database", db_args(aws, network))
    assert not result.failed, result
    assert result.changed
    db = instance(aws)
    assert db["Engine"] == "mysql"
    assert db["EngineVersion"].startswith("8.4")
    assert db["StorageEncrypted"] is True
    assert db["PubliclyAccessible"] is False
    assert db["BackupRetentionPeriod"] == 7
    assert db["DBName"] == "convex_self_hosted" == result["database_name"]
    assert [g["VpcSecurityGroupId"] for g in db["VpcSecurityGroups"]] == [network["database_security_group_id"]]
    rds = aws.client("rds")
    group = db["DBParameterGroups"][0]["DBParameterGroupName"]
    parameters = rds.describe_db_parameters(DBParameterGroupName=group, Source="user")["Parameters"]
    assert {p["ParameterName"]: p["ParameterValue"] for p in parameters}["require_secure_transport"] == "1"
    subnets = rds.describe_db_subnet_groups(DBSubnetGroupName=NAME)["DBSubnetGroups"][0]["Subnets"]
    assert sorted(s["SubnetIdentifier"] for s in subnets) == sorted(network["private_subnet_ids"])
    assert PASSWORD not in json.dumps(result)


def test_wait_returns_endpoint_port_and_ca(aws, network):
    run_module("database", db_args(aws, network))
    waited = run_module("database", db_args(aws, network, wait=True))
    assert not waited.failed, waited
    assert waited.changed is False
    assert waited["status"] == "available"
    assert waited["endpoint_address"]
    assert waited["port"] == 3306
    assert waited["ca_certificate_identifier"]


def test_second_run_reports_no_change(aws, network):
    run_module("database", db_args(aws, network))
    again = run_module("database", db_args(aws, network))
    assert not again.failed, again
    assert again.changed is False, again["changes"]


def test_check_mode_reports_changes_and_makes_none(aws, network):
    missing = run_module("database", db_args(aws, network), check_mode=True)
    assert missing.changed
    assert aws.client("rds").describe_db_instances()["DBInstances"] == []

    run_module("database", db_args(aws, network))
    protected = run_module("database", db_args(aws, network, deletion_protection=True), check_mode=True)
    assert protected.changed
    assert instance(aws)["DeletionProtection"] is False


def test_drift_made_by_hand_is_repaired(aws, network):
    run_module("database", db_args(aws, network))
    rds = aws.client("rds")
    rds.modify_db_instance(DBInstanceIdentifier=NAME, BackupRetentionPeriod=1, ApplyImmediately=True)
    group = instance(aws)["DBParameterGroups"][0]["DBParameterGroupName"]
    rds.modify_db_parameter_group(
        DBParameterGroupName=group,
        Parameters=[{"ParameterName": "require_secure_transport", "ParameterValue": "0", "ApplyMethod": "immediate"}],
    )
    rds.remove_tags_from_resource(ResourceName=instance(aws)["DBInstanceArn"], TagKeys=["stage"])
    repaired = run_module("database", db_args(aws, network))
    assert repaired.changed
    assert len(repaired["changes"]) == 3, repaired["changes"]
    assert instance(aws)["BackupRetentionPeriod"] == 7
    parameters = rds.describe_db_parameters(DBParameterGroupName=group, Source="user")["Parameters"]
    assert {p["ParameterName"]: p["ParameterValue"] for p in parameters}["require_secure_transport"] == "1"
    assert run_module("database", db_args(aws, network)).changed is False


def test_manual_snapshot_on_request(aws, network):
    run_module("database", db_args(aws, network))
    snap = run_module("database", db_args(aws, network, snapshot_identifier="convex-test-before-upgrade", wait=True))
    assert snap.changed
    found = aws.client("rds").describe_db_snapshots(DBSnapshotIdentifier="convex-test-before-upgrade")["DBSnapshots"]
    assert found[0]["DBInstanceIdentifier"] == NAME
    again = run_module("database", db_args(aws, network, snapshot_identifier="convex-test-before-upgrade"))
    assert again.changed is False


def test_absent_takes_a_final_snapshot_and_removes_everything(aws, network):
    run_module("database", db_args(aws, network))
    removed = run_module(
        "database", db_args(aws, network, state="absent", final_snapshot_identifier="convex-test-last")
    )
    assert not removed.failed, removed
    assert removed.changed
    rds = aws.client("rds")
    assert rds.describe_db_instances()["DBInstances"] == []
    manual = rds.describe_db_snapshots(SnapshotType="manual")["DBSnapshots"]
    assert [s["DBSnapshotIdentifier"] for s in manual] == ["convex-test-last"]
    assert rds.describe_db_subnet_groups()["DBSubnetGroups"] == []
    assert [
        g for g in rds.describe_db_parameter_groups()["DBParameterGroups"] if g["DBParameterGroupName"].startswith(NAME)
    ] == []
    assert run_module("database", db_args(aws, network, state="absent")).changed is False


def test_absent_refuses_a_protected_instance(aws, network):
    run_module("database", db_args(aws, network, deletion_protection=True))
    refused = run_module("database", db_args(aws, network, state="absent", skip_final_snapshot=True))
    assert refused.failed
    assert "deletion protection" in refused["msg"]
    assert instance(aws)["DBInstanceIdentifier"] == NAME


@pytest.mark.parametrize(
    ("bad", "names"),
    [
        ({"engine_version": "5.7"}, "engine_version '5.7' is not a MySQL version RDS runs"),
        ({"engine_version": "8.1"}, "engine_version '8.1'"),
        ({"instance_class": "t4g.micro"}, "instance_class 't4g.micro'"),
        ({"database_name": "convex-self-hosted"}, "database_name 'convex-self-hosted'"),
        ({"master_password": "short"}, "master_password must be"),
        ({"name": "1-starts-with-a-digit"}, "name '1-starts-with-a-digit'"),
        ({"backup_retention_days": 0}, "backup_retention_days 0"),
        ({"allocated_storage": 5}, "allocated_storage 5"),
        ({"max_allocated_storage": 20}, "max_allocated_storage 20 must be at least 10 % above the allocated storage"),
    ],
)
def test_bad_input_fails_before_any_call(aws, network, bad, names):
    aws.assert_module_refuses("database", db_args(aws, network, **bad), names)


def test_a_noop_run_costs_two_api_calls(aws, network):
    run_module("database", db_args(aws, network))
    before = aws.request_count()
    run_module("database", db_args(aws, network))
    # The instance (which describes its subnet group too) and its parameter group's parameters.
    assert [str(c) for c in aws.calls()[before:]] == ["rds:DescribeDBInstances", "rds:DescribeDBParameters"]


def test_absent_without_a_final_snapshot_when_told_to_skip_it(aws, network):
    run_module("database", db_args(aws, network))
    removed = run_module("database", db_args(aws, network, state="absent", skip_final_snapshot=True))
    assert not removed.failed, removed
    assert "snapshot_identifier" not in removed
    rds = aws.client("rds")
    assert rds.describe_db_instances()["DBInstances"] == []
    assert rds.describe_db_snapshots(SnapshotType="manual")["DBSnapshots"] == []


def test_multi_az_and_storage_autoscaling_follow_the_input(aws, network):
    run_module("database", db_args(aws, network, multi_az=True, max_allocated_storage=100))
    made = instance(aws)
    assert made["MultiAZ"] is True
    assert made["MaxAllocatedStorage"] == 100
    again = run_module("database", db_args(aws, network, multi_az=True, max_allocated_storage=100))
    assert again.changed is False, again["changes"]
    off = run_module("database", db_args(aws, network))
    assert off["changes"] == [f"modify {NAME}: MaxAllocatedStorage, MultiAZ"]
    assert instance(aws)["MultiAZ"] is False
