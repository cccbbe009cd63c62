"""The AWS side of replace.yml (the host_replace module), on a real stage's inventory pointed at the
emulator: a new host launched beside the old one, the Elastic IP moved to it, the old one
terminated; each step taken again after a run cut short, and the settings only a new host can
take refused by name on a run that would ignore them."""

from __future__ import annotations

import json

import pytest

REGION = "eu-west-1"
NAME = "convex-dev"
OLDER_IMAGE = "ami-0d13a2b3c4d5e6f01"  # debian-13-arm64-20261020 (tests/data/emulator-amis.json)
NEWEST_IMAGE = "ami-0d13a2b3c4d5e6f02"  # debian-13-arm64-20261110
NEXT_TAG = "convex_selfhost:replacement"
STEP = "../tests/integration/playbooks/replace_step.yml"


@pytest.fixture
def provisioned(aws, dev_stage):
    run = dev_stage("provision.yml")
    assert run.returncode == 0, run.stdout[-3000:]
    return aws


def step(dev_stage, tmp_path, name, **settings):
    """One host_replace step, through the stage model; its result, or the run's output on failure."""
    out = tmp_path / f"{name}.json"
    out.unlink(missing_ok=True)
    run = dev_stage(STEP, replace_step=name, replace_result_file=str(out), **settings)
    if run.returncode != 0:
        return None, run.stdout + run.stderr
    return json.loads(out.read_text()), run.stdout


def instances(aws):
    """The deployment's live instances, by id."""
    reservations = (
        aws.client("ec2", region_name=REGION)
        .describe_instances(
            Filters=[
                {"Name": "tag:Name", "Values": [NAME]},
                {"Name": "instance-state-name", "Values": ["pending", "running", "stopping", "stopped"]},
            ]
        )
        .get("Reservations", [])
    )
    return {i["InstanceId"]: i for r in reservations for i in r["Instances"]}


def address_holder(aws):
    (address,) = aws.client("ec2", region_name=REGION).describe_addresses(
        Filters=[{"Name": "tag:Name", "Values": [f"{NAME}-ip"]}]
    )["Addresses"]
    return address.get("InstanceId")


def tags(instance):
    return {t["Key"]: t["Value"] for t in instance.get("Tags", [])}


def run_instances(aws, since):
    return [c for c in aws.calls()[since:] if c.action == "RunInstances"]


def test_a_host_is_replaced_beside_the_old_one_and_each_step_resumes(provisioned, dev_stage, tmp_path):
    aws = provisioned
    (old_id,) = instances(aws)
    old = instances(aws)[old_id]
    assert old["ImageId"] == NEWEST_IMAGE
    assert tags(old)["convex_selfhost:os"] == "debian13"

    # Launch: beside the old host, from the pinned image, in its subnet, groups and role.
    launched, output = step(dev_stage, tmp_path, "launch", stage_image_id=OLDER_IMAGE)
    assert launched is not None, output[-3000:]
    assert launched["changed"] and launched["host"]["instance_id"] == old_id
    assert launched["why"] == f"it runs the image {NEWEST_IMAGE}, not {OLDER_IMAGE}"
    new_id = launched["next"]["instance_id"]
    new = instances(aws)[new_id]
    assert new["ImageId"] == OLDER_IMAGE and tags(new)[NEXT_TAG] == "next"
    assert new["SubnetId"] == old["SubnetId"]
    assert {g["GroupId"] for g in new["SecurityGroups"]} == {g["GroupId"] for g in old["SecurityGroups"]}
    assert new["IamInstanceProfile"]["Arn"] == old["IamInstanceProfile"]["Arn"]
    assert new["MetadataOptions"]["HttpTokens"] == "required"
    assert address_holder(aws) == old_id, "the old host serves until the switch"

    # A run cut short after the launch: the next one takes the same new host.
    since = len(aws.calls())
    again, output = step(dev_stage, tmp_path, "launch", stage_image_id=OLDER_IMAGE)
    assert again is not None, output[-3000:]
    assert not again["changed"] and again["next"]["instance_id"] == new_id
    assert run_instances(aws, since) == []

    # The deployment's other runs go on with the old host meanwhile, and change nothing.
    run = dev_stage("provision.yml")
    assert run.returncode == 0 and "changed=0" in run.stdout, run.stdout[-3000:]
    assert set(instances(aws)) == {old_id, new_id} and address_holder(aws) == old_id
    # Ansible wraps a warning's lines.
    warned = " ".join((run.stdout + run.stderr).split())
    assert f"has an instance beside its host ({new_id}): a replacement cut short" in warned, warned[-3000:]

    # The switch: the Elastic IP moves in one call; a second switch does nothing.
    switched, output = step(dev_stage, tmp_path, "switch", stage_image_id=OLDER_IMAGE, replace_instance=new_id)
    assert switched is not None and switched["changed"], output[-3000:]
    assert address_holder(aws) == new_id
    assert NEXT_TAG not in tags(instances(aws)[new_id])
    again, output = step(dev_stage, tmp_path, "switch", stage_image_id=OLDER_IMAGE, replace_instance=new_id)
    assert again is not None and not again["changed"], output[-3000:]

    # Cut short after the switch: a launch finds nothing to launch, and names the old host to retire.
    finishing, output = step(dev_stage, tmp_path, "launch", stage_image_id=OLDER_IMAGE)
    assert finishing is not None, output[-3000:]
    assert finishing["next"] is None and finishing["spares"] == [old_id]
    assert finishing["host"]["instance_id"] == new_id

    retired, output = step(dev_stage, tmp_path, "retire", stage_image_id=OLDER_IMAGE)
    assert retired is not None and retired["retired"] == [old_id], output[-3000:]
    assert set(instances(aws)) == {new_id}
    again, output = step(dev_stage, tmp_path, "retire", stage_image_id=OLDER_IMAGE)
    assert again is not None and not again["changed"] and again["retired"] == [], output[-3000:]

    # With the pin, the stage now converges on the new host.
    run = dev_stage("provision.yml", stage_image_id=OLDER_IMAGE)
    assert run.returncode == 0, run.stdout[-3000:]
    run = dev_stage("provision.yml", stage_image_id=OLDER_IMAGE)
    assert run.returncode == 0 and "changed=0" in run.stdout, run.stdout[-3000:]


def test_a_replacement_that_failed_before_the_switch_is_abandoned_and_teardown_takes_a_left_one(
    provisioned, dev_stage, tmp_path
):
    aws = provisioned
    (old_id,) = instances(aws)
    launched, output = step(dev_stage, tmp_path, "launch", replace_always=True)
    assert launched is not None, output[-3000:]
    assert launched["why"] == "a replacement was asked for (replace_always)"
    new_id = launched["next"]["instance_id"]

    # The host holding the Elastic IP is never abandoned.
    kept, output = step(dev_stage, tmp_path, "abandon", replace_instance=old_id)
    assert kept is not None and kept["switched"] and kept["abandoned"] == [], output[-3000:]
    abandoned, output = step(dev_stage, tmp_path, "abandon", replace_instance=new_id)
    assert abandoned is not None and abandoned["abandoned"] == [new_id] and not abandoned["switched"], output
    assert set(instances(aws)) == {old_id} and address_holder(aws) == old_id

    # A replacement left behind (a run killed before the switch) goes with the deployment.
    launched, output = step(dev_stage, tmp_path, "launch", replace_always=True)
    assert launched is not None, output[-3000:]
    assert len(instances(aws)) == 2
    run = dev_stage("teardown.yml", timeout=300)
    assert run.returncode == 0, run.stdout[-3000:]
    assert instances(aws) == {}


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        ({"stage_os": "ubuntu2404"}, "stage_os: the host"),
        ({"stage_image_id": OLDER_IMAGE}, "stage_image_id: the host"),
    ],
    ids=["another OS", "another image"],
)
def test_a_setting_only_a_new_host_takes_is_refused_by_name_on_a_running_one(provisioned, dev_stage, settings, named):
    aws = provisioned
    since = len(aws.calls())
    run = dev_stage("provision.yml", **settings)
    output = run.stdout + run.stderr
    assert run.returncode != 0, output[-3000:]
    assert named in output and "playbooks/replace.yml" in output, output[-3000:]
    assert [c for c in aws.calls()[since:] if c.writes] == []


def test_replacing_a_protected_host_needs_its_name(aws, dev_stage, tmp_path):
    run = dev_stage("provision.yml", stage_protected=True)
    assert run.returncode == 0, run.stdout[-3000:]
    since = len(aws.calls())
    refused, output = step(dev_stage, tmp_path, "launch", stage_protected=True, replace_always=True)
    assert refused is None and "replace_confirm=dev" in output and "its host was not touched" in output, output
    assert [c for c in aws.calls()[since:] if c.writes] == []
    (old_id,) = instances(aws)
    launched, output = step(
        dev_stage, tmp_path, "launch", stage_protected=True, replace_always=True, replace_confirm="dev"
    )
    assert launched is not None, output[-3000:]
    new_id = launched["next"]["instance_id"]
    switched, output = step(
        dev_stage, tmp_path, "switch", stage_protected=True, replace_confirm="dev", replace_instance=new_id
    )
    assert switched is not None, output[-3000:]
    # The old host had termination protection: the confirmed replacement lifts it to retire it.
    retired, output = step(dev_stage, tmp_path, "retire", stage_protected=True, replace_confirm="dev")
    assert retired is not None and retired["retired"] == [old_id], output[-3000:]
    ec2 = aws.client("ec2", region_name=REGION)
    protection = ec2.describe_instance_attribute(InstanceId=new_id, Attribute="disableApiTermination")
    assert protection["DisableApiTermination"]["Value"] is True, "the new host is protected as the old one was"


def test_check_mode_says_which_host_would_be_launched_and_writes_nothing(provisioned, dev_stage):
    aws = provisioned
    since = len(aws.calls())
    run = dev_stage("replace.yml", flags=("--check", "--diff"), stage_image_id=OLDER_IMAGE)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert f"start a t4g.small host from {OLDER_IMAGE}" in run.stdout, run.stdout[-3000:]
    assert [c for c in aws.calls()[since:] if c.writes] == []
    assert len(instances(aws)) == 1


@pytest.mark.parametrize(
    ("setting", "value"), [("stage_os", "windows2022"), ("stage_architecture", "sparc")], ids=["OS", "architecture"]
)
def test_replace_refuses_an_os_or_architecture_it_does_not_know_before_any_call(aws, dev_stage, setting, value):
    since = len(aws.calls())
    run = dev_stage("replace.yml", **{setting: value})
    output = run.stdout + run.stderr
    assert run.returncode != 0 and setting in output and f"'{value}' is not one of" in output, output[-3000:]
    assert aws.calls()[since:] == []
