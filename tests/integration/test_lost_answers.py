"""A first provisioning whose writes AWS makes but whose answers are lost, and runs killed right after
a create: the next run completes what the first left, and the account ends exactly as an
undisturbed run leaves it, attribute for attribute. playbooks/provision.yml on inventories/dev,
against the emulator behind the fault proxy (which also answers client tokens as EC2 does)."""

from __future__ import annotations

import signal

import pytest
from account import counts, holdings
from conftest import DEV_REGION
from fault_proxy import FaultProxy, HoldAfter, LostAnswers
from process_tree import kill_tree
from recap import recap, unchanged

# What an undisturbed first provisioning leaves, computed once per session.
_REFERENCE = {}


def account(aws):
    return holdings(lambda service, region: aws.client(service, region_name=region), DEV_REGION)


def reference_account(aws, dev_stage):
    """The account after one undisturbed provisioning; the emulator is emptied again after, with
    the zone and key pair the stage needs."""
    if not _REFERENCE:
        run = dev_stage("provision.yml")
        assert run.returncode == 0, run.stdout[-4000:]
        _REFERENCE["held"] = account(aws)
        aws.server.reset()
        aws.client("route53").create_hosted_zone(Name="example.com.", CallerReference="dev-stage")
        aws.client("ec2", region_name=DEV_REGION).create_key_pair(KeyName="ops")
    return _REFERENCE["held"]


def converges(aws, dev_stage, expected):
    """A run without faults ends in the account an undisturbed run leaves; a run after it changes
    nothing."""
    rerun = dev_stage("provision.yml")
    assert rerun.returncode == 0, rerun.stdout[-4000:]
    assert account(aws) == expected
    again = dev_stage("provision.yml")
    assert unchanged(again.stdout, "dev"), again.stdout[-3000:]


def test_the_reference_account_holds_one_stack(aws, dev_stage):
    held = reference_account(aws, dev_stage)
    assert counts(held) == {
        "vpcs": 1,
        "internet_gateways": 1,
        "subnets": 4,
        "route_tables": 3,
        "security_groups": 3,
        "instances": 1,
        "elastic_ips": 1,
        "db_instances": 1,
        "db_snapshots": 0,
        "db_subnet_groups": 1,
        "db_parameter_groups": 1,
        "roles": 1,
        "instance_profiles": 1,
        "buckets": 5,
        "parameters": 2,
        "records": 3,
        # What watches it: memory, disk, backend, silent, export, status and database storage.
        "alarms": 7,
        "dashboards": 1,
        "topics": 1,
        "log_groups": 1,
        # The copy of Caddy's storage, which only the host fills.
        "secrets": 1,
    }
    (vpc,) = held["vpcs"]
    assert vpc["enableDnsSupport"] and vpc["enableDnsHostnames"]


@pytest.mark.parametrize("mode", ["500", "drop"])
def test_every_write_whose_first_answer_is_lost_is_made_once(aws, dev_stage, mode):
    expected = reference_account(aws, dev_stage)
    lost = LostAnswers(mode)
    with FaultProxy(aws.endpoint, lost=lost) as proxy:
        run = dev_stage("provision.yml", endpoint=proxy.endpoint)
    creates = sorted({c for c in lost.lost if c.split(":")[1].startswith(("Create", "Run", "Allocate", "Put"))})
    print(
        f"lost ({mode}): {len(lost.lost)} answers, {len(set(lost.lost))} kinds of write, of which "
        f"{len(creates)} create: {creates}; replayed client tokens: {proxy.tokens.replayed}"
    )
    assert run.returncode == 0, run.stdout[-4000:]
    assert {"ec2:CreateVpc", "ec2:RunInstances", "ec2:AllocateAddress", "ec2:CreateInternetGateway"} <= set(lost.lost)
    assert proxy.tokens.replayed >= 2, "RunInstances and CreateRouteTable were repeated with their tokens"
    assert account(aws) == expected, "nothing twice, nothing orphaned"
    converges(aws, dev_stage, expected)


@pytest.mark.parametrize(
    "action", ["CreateVpc", "CreateInternetGateway", "CreateDBInstance", "RunInstances", "AllocateAddress"]
)
def test_a_run_killed_right_after_a_create_is_completed_by_the_next(aws, dev_stage, action):
    expected = reference_account(aws, dev_stage)
    hold = HoldAfter(action)
    with FaultProxy(aws.endpoint, hold=hold) as proxy:
        running = dev_stage.start("provision.yml", endpoint=proxy.endpoint)
        try:
            assert hold.held.wait(120), f"the run never sent {action}"
            killed = kill_tree(running.pid)
            output = running.communicate(timeout=60)[0]
        finally:
            hold.release.set()
    assert running.returncode == -signal.SIGKILL, output[-3000:]
    assert len(killed) >= 3, "ansible-playbook, its worker and the module process"
    with pytest.raises(AssertionError):
        recap(output, "dev")  # killed: it never got to its recap
    assert account(aws) != expected, f"the kill after {action} left the stack unfinished"
    converges(aws, dev_stage, expected)
