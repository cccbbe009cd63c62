"""instance against the emulator: the host, its least-privilege role, IMDSv2 and its address."""

import json

import pytest
from fault_proxy import FaultProxy, LostAnswers
from module_runner import run_module

NAME = "convex-test"
BUCKETS = [f"arn:aws:s3:::convex-test-{s}" for s in ("exports", "snapshot-imports", "modules", "files", "search")]


@pytest.fixture
def network(aws):
    result = run_module("network", {**aws.connection_args(), "name": NAME})
    assert not result.failed, result
    return result


def host_args(aws, network, **extra):
    return {
        **aws.connection_args(),
        "name": NAME,
        "subnet_id": network["public_subnet_ids"][0],
        "security_group_ids": [network["host_security_group_id"]],
        "bucket_arns": BUCKETS,
        "tags": {"stage": "test"},
        **extra,
    }


def described(aws, instance_id):
    return aws.client("ec2").describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]


def live_instances(aws):
    reservations = aws.client("ec2").describe_instances(
        Filters=[{"Name": "instance-state-name", "Values": ["pending", "running", "stopping", "stopped"]}]
    )["Reservations"]
    return [i for r in reservations for i in r["Instances"]]


def test_create_starts_a_locked_down_host(aws, network):
    result = run_module("instance", host_args(aws, network))
    assert not result.failed, result
    assert result.changed
    host = described(aws, result["instance_id"])
    assert host["ImageId"] == "ami-0d13a2b3c4d5e6f02", "the newest Debian 13 arm64 image"
    assert host["InstanceType"] == "t4g.small"
    assert host["MetadataOptions"]["HttpTokens"] == "required"
    assert host["MetadataOptions"]["HttpPutResponseHopLimit"] == 2
    assert host["IamInstanceProfile"]["Arn"].endswith(f"instance-profile/{NAME}-host")
    volume_id = host["BlockDeviceMappings"][0]["Ebs"]["VolumeId"]
    volume = aws.client("ec2").describe_volumes(VolumeIds=[volume_id])["Volumes"][0]
    assert volume["Encrypted"] is True
    assert volume["VolumeType"] == "gp3"
    address = aws.client("ec2").describe_addresses(AllocationIds=[result["allocation_id"]])["Addresses"][0]
    assert address["InstanceId"] == result["instance_id"]
    assert result["public_ip"] == address["PublicIp"]
    assert result["private_ip"] == host["PrivateIpAddress"]


def test_role_reaches_only_its_buckets_and_no_ssm(aws, network):
    run_module("instance", host_args(aws, network))
    iam = aws.client("iam")
    policies = iam.list_role_policies(RoleName=f"{NAME}-host")["PolicyNames"]
    assert iam.list_attached_role_policies(RoleName=f"{NAME}-host")["AttachedPolicies"] == []
    (name,) = policies
    document = iam.get_role_policy(RoleName=f"{NAME}-host", PolicyName=name)["PolicyDocument"]
    text = json.dumps(document)
    assert '"s3:*"' not in text and '"*"' not in text
    resources = {r for s in document["Statement"] for r in s["Resource"]}
    assert resources == set(BUCKETS) | {f"{b}/*" for b in BUCKETS}
    actions = {a for s in document["Statement"] for a in s["Action"]}
    # Every secret is read on the controller: any container on the host can take the role's keys.
    assert all(a.startswith("s3:") for a in actions), actions
    assert not [a for a in actions if a.startswith("s3:Put") and a != "s3:PutObject"]


def test_second_run_reports_no_change(aws, network):
    first = run_module("instance", host_args(aws, network))
    again = run_module("instance", host_args(aws, network))
    assert not again.failed, again
    assert again.changed is False, again["changes"]
    assert again["instance_id"] == first["instance_id"]
    assert again["public_ip"] == first["public_ip"]
    assert len(live_instances(aws)) == 1


def test_check_mode_reports_changes_and_makes_none(aws, network):
    missing = run_module("instance", host_args(aws, network), check_mode=True)
    assert missing.changed
    assert live_instances(aws) == []
    assert aws.client("iam").list_roles()["Roles"] == []

    created = run_module("instance", host_args(aws, network))
    retag = run_module("instance", host_args(aws, network, tags={"stage": "other"}), check_mode=True)
    assert retag.changed
    tags = {t["Key"]: t["Value"] for t in described(aws, created["instance_id"])["Tags"]}
    assert tags["stage"] == "test"


def test_drift_made_by_hand_is_repaired(aws, network):
    created = run_module("instance", host_args(aws, network))
    ec2 = aws.client("ec2")
    ec2.modify_instance_metadata_options(
        InstanceId=created["instance_id"], HttpTokens="optional", HttpPutResponseHopLimit=1
    )
    ec2.delete_tags(Resources=[created["instance_id"]], Tags=[{"Key": "stage"}])
    aws.client("iam").put_role_policy(
        RoleName=f"{NAME}-host",
        PolicyName="convex-storage",
        PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
        ),
    )
    repaired = run_module("instance", host_args(aws, network))
    assert repaired.changed
    assert len(repaired["changes"]) == 3, repaired["changes"]
    options = described(aws, created["instance_id"])["MetadataOptions"]
    assert (options["HttpTokens"], options["HttpPutResponseHopLimit"]) == ("required", 2)
    document = aws.client("iam").get_role_policy(RoleName=f"{NAME}-host", PolicyName="convex-storage")
    assert '"s3:*"' not in json.dumps(document["PolicyDocument"])
    assert run_module("instance", host_args(aws, network)).changed is False


def test_ubuntu_on_x86_64_is_looked_up_too(aws, network):
    result = run_module(
        "instance", host_args(aws, network, os="ubuntu2404", architecture="x86_64", instance_type="t3.small")
    )
    assert not result.failed, result
    assert described(aws, result["instance_id"])["ImageId"] == "ami-0b24a2b3c4d5e6f06"


def test_absent_removes_host_role_and_address(aws, network):
    run_module("instance", host_args(aws, network))
    removed = run_module("instance", host_args(aws, network, state="absent"))
    assert not removed.failed, removed
    assert removed.changed
    assert live_instances(aws) == []
    assert aws.client("ec2").describe_addresses()["Addresses"] == []
    iam = aws.client("iam")
    assert iam.list_roles()["Roles"] == []
    assert iam.list_instance_profiles()["InstanceProfiles"] == []
    assert run_module("instance", host_args(aws, network, state="absent")).changed is False


@pytest.mark.parametrize(
    ("bad", "names"),
    [
        ({"instance_type": "t3.small"}, "instance_type 't3.small' is x86_64, but the architecture is arm64"),
        ({"architecture": "x86_64"}, "instance_type 't4g.small' is arm64, but the architecture is x86_64"),
        ({"instance_type": "huge"}, "instance_type 'huge'"),
        ({"kms_key_arns": ["*"]}, "kms_key_arns entry '*'"),
        ({"kms_key_arns": ["arn:aws:kms:us-east-1:123456789012:alias/convex"]}, "kms_key_arns entry"),
        ({"bucket_arns": ["arn:aws:s3:::*"]}, "bucket_arns entry 'arn:aws:s3:::*'"),
        ({"root_volume_size": 2}, "root_volume_size 2"),
    ],
)
def test_bad_input_fails_before_any_call(aws, network, bad, names):
    aws.assert_module_refuses("instance", host_args(aws, network, **bad), names)


def test_a_noop_run_costs_four_api_calls(aws, network):
    run_module("instance", host_args(aws, network))
    before = aws.request_count()
    run_module("instance", host_args(aws, network))
    # The instance profile (which lists its role), the role's policy, the instance, the address.
    assert aws.request_count() - before == 4


def test_a_role_of_an_earlier_version_loses_its_ssm_policy(aws, network):
    run_module("instance", host_args(aws, network))
    iam = aws.client("iam")
    iam.delete_role_policy(RoleName=f"{NAME}-host", PolicyName="convex-storage")
    ssm = {"Effect": "Allow", "Action": ["ssm:GetParameter"], "Resource": "*"}
    iam.put_role_policy(
        RoleName=f"{NAME}-host",
        PolicyName="convex-storage-and-parameters",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [ssm]}),
    )
    repaired = run_module("instance", host_args(aws, network))
    assert any("former policy" in c for c in repaired["changes"]), repaired["changes"]
    assert iam.list_role_policies(RoleName=f"{NAME}-host")["PolicyNames"] == ["convex-storage"]


def termination_protected(aws, instance_id):
    found = aws.client("ec2").describe_instance_attribute(InstanceId=instance_id, Attribute="disableApiTermination")
    return found["DisableApiTermination"]["Value"]


def test_termination_protection_is_set_after_launch_and_refuses_removal(aws, network):
    created = run_module("instance", host_args(aws, network, termination_protection=True))
    assert termination_protected(aws, created["instance_id"]) is True
    again = run_module("instance", host_args(aws, network, termination_protection=True))
    assert again.changed is False, again["changes"]
    refused = run_module("instance", host_args(aws, network, state="absent"))
    assert refused.failed and "termination protection" in refused["msg"]
    assert len(live_instances(aws)) == 1
    lifted = run_module("instance", host_args(aws, network))
    assert lifted["changes"] == [
        "turn off the host's termination protection",
        "remove tags convex_selfhost:protected from the host",
    ]
    assert termination_protected(aws, created["instance_id"]) is False


def test_the_recovery_alarm_recovers_the_host_and_goes_when_turned_off(aws, network):
    created = run_module("instance", host_args(aws, network, recovery_alarm=True))
    cloudwatch = aws.client("cloudwatch")
    (alarm,) = cloudwatch.describe_alarms(AlarmNames=[f"{NAME}-recover"])["MetricAlarms"]
    assert alarm["MetricName"] == "StatusCheckFailed_System"
    assert alarm["Dimensions"] == [{"Name": "InstanceId", "Value": created["instance_id"]}]
    assert alarm["AlarmActions"] == ["arn:aws:automate:us-east-1:ec2:recover"]
    assert run_module("instance", host_args(aws, network, recovery_alarm=True)).changed is False
    off = run_module("instance", host_args(aws, network))
    assert f"delete the alarm {NAME}-recover" in off["changes"]
    assert cloudwatch.describe_alarms(AlarmNames=[f"{NAME}-recover"])["MetricAlarms"] == []
    assert run_module("instance", host_args(aws, network)).changed is False


def resize_args(aws, instance_type):
    return {**aws.connection_args(), "name": NAME, "instance_type": instance_type}


def test_resize_stops_changes_and_starts_the_same_host_check_mode_first(aws, network):
    made = run_module("instance", host_args(aws, network))
    calls = aws.request_count()
    check = run_module("host_resize", resize_args(aws, "t4g.medium"), check_mode=True)
    assert check.changed and check["stopped"], check
    assert [c.split(" (")[0].split(":")[0] for c in check["changes"]] == [
        f"stop the host {made['instance_id']}",
        f"change the host {made['instance_id']} from a t4g.small to a t4g.medium",
        f"start the host {made['instance_id']} again",
    ]
    assert [c for c in aws.calls()[calls:] if c.writes] == [], "check mode writes nothing"
    assert described(aws, made["instance_id"])["InstanceType"] == "t4g.small"

    done = run_module("host_resize", resize_args(aws, "t4g.medium"))
    assert done.changed and done["changes"] == check["changes"]
    host = described(aws, made["instance_id"])
    assert (host["InstanceType"], host["State"]["Name"]) == ("t4g.medium", "running")
    assert [i["InstanceId"] for i in live_instances(aws)] == [made["instance_id"]]

    for check_mode in (True, False):
        again = run_module("host_resize", resize_args(aws, "t4g.medium"), check_mode=check_mode)
        assert not again.changed and not again["stopped"], again
    # The instance module, given the new type, finds nothing to change.
    assert not run_module("instance", host_args(aws, network, instance_type="t4g.medium")).changed


def test_a_host_left_stopped_is_started_as_the_new_type(aws, network):
    made = run_module("instance", host_args(aws, network))
    aws.client("ec2").stop_instances(InstanceIds=[made["instance_id"]])
    done = run_module("host_resize", resize_args(aws, "t4g.medium"))
    assert done["changes"] == [
        f"change the host {made['instance_id']} from a t4g.small to a t4g.medium",
        f"start the host {made['instance_id']} again",
    ]
    assert described(aws, made["instance_id"])["State"]["Name"] == "running"


def test_resize_to_another_architecture_is_refused_before_any_write(aws, network):
    made = run_module("instance", host_args(aws, network))
    calls = aws.request_count()
    refused = run_module("host_resize", resize_args(aws, "t3.medium"))
    assert refused.failed and "instance_type" in refused["msg"] and "architecture" in refused["msg"], refused
    assert [c for c in aws.calls()[calls:] if c.writes] == []
    assert described(aws, made["instance_id"])["State"]["Name"] == "running"


def test_the_instance_module_refuses_a_type_change_and_names_the_resize(aws, network):
    run_module("instance", host_args(aws, network))
    refused = run_module("instance", host_args(aws, network, instance_type="t4g.medium"))
    assert refused.failed and "resize.yml" in refused["msg"], refused


def root_volume(aws, instance_id):
    volume_id = described(aws, instance_id)["BlockDeviceMappings"][0]["Ebs"]["VolumeId"]
    return aws.client("ec2").describe_volumes(VolumeIds=[volume_id])["Volumes"][0]


def test_a_bigger_root_volume_grows_online_check_mode_first(aws, network):
    made = run_module("instance", host_args(aws, network))
    assert root_volume(aws, made["instance_id"])["Size"] == 30
    calls = aws.request_count()
    check = run_module("instance", host_args(aws, network, root_volume_size=40), check_mode=True)
    assert check.changed and any("from 30 to 40 GiB" in c for c in check["changes"]), check["changes"]
    assert [c for c in aws.calls()[calls:] if c.writes] == [], "check mode writes nothing"

    grown = run_module("instance", host_args(aws, network, root_volume_size=40))
    assert grown.changed and grown["changes"] == check["changes"], grown["changes"]
    assert root_volume(aws, made["instance_id"])["Size"] == 40
    host = described(aws, made["instance_id"])
    assert host["State"]["Name"] == "running", "the host keeps running"
    assert {t["Key"]: t["Value"] for t in host["Tags"]}["convex_selfhost:root-volume-gb"] == "40"

    before = aws.request_count()
    again = run_module("instance", host_args(aws, network, root_volume_size=40))
    assert not again.changed, again["changes"]
    assert aws.request_count() - before == 4, "a size the host records costs no call"


def test_a_smaller_root_volume_is_refused_before_any_write(aws, network):
    made = run_module("instance", host_args(aws, network, root_volume_size=40))
    calls = aws.request_count()
    refused = run_module("instance", host_args(aws, network, root_volume_size=30))
    assert refused.failed and "root_volume_size 30 GiB is smaller" in refused["msg"], refused
    assert "cannot shrink" in refused["msg"]
    assert [c for c in aws.calls()[calls:] if c.writes] == []
    assert root_volume(aws, made["instance_id"])["Size"] == 40


def test_a_host_without_the_size_tag_reads_its_volume_once_then_records_it(aws, network):
    # A host launched before the collection recorded its root volume size.
    made = run_module("instance", host_args(aws, network))
    aws.client("ec2").delete_tags(Resources=[made["instance_id"]], Tags=[{"Key": "convex_selfhost:root-volume-gb"}])
    repaired = run_module("instance", host_args(aws, network))
    assert repaired["changes"] == ["tag the host"], repaired
    assert root_volume(aws, made["instance_id"])["Size"] == 30
    assert not run_module("instance", host_args(aws, network)).changed


@pytest.mark.parametrize("mode", ["500", "drop"])
def test_a_grow_whose_answer_is_lost_is_found_and_not_sent_again(aws, network, mode):
    made = run_module("instance", host_args(aws, network))
    lost = LostAnswers(mode, only={"ModifyVolume"})
    with FaultProxy(aws.endpoint, lost=lost) as proxy:
        grown = run_module("instance", host_args(aws, network, root_volume_size=40, endpoint_url=proxy.endpoint))
    assert lost.lost == ["ec2:ModifyVolume"], lost.lost
    assert not grown.failed and grown.changed, grown
    volume_id = described(aws, made["instance_id"])["BlockDeviceMappings"][0]["Ebs"]["VolumeId"]
    # The emulator lists every modification of the volume: one, not a repeat.
    changes = aws.client("ec2").describe_volumes_modifications(VolumeIds=[volume_id])["VolumesModifications"]
    assert [c["TargetSize"] for c in changes] == [40]
    assert not run_module("instance", host_args(aws, network, root_volume_size=40)).changed
