"""Two deployments in one inventory (inventories/local-fleet), each with its own container host,
on one emulator: provisioned and configured side by side, upgraded one after the other, the
rollout stopped by the first failure, and one torn down while the other keeps serving. Tests run
in file order and share the fleet."""

from __future__ import annotations

import json
import re
import subprocess

import pytest
from conftest import FLEET
from fault_proxy import FaultPolicy, FaultProxy
from local_stage_tools import (
    DEPLOYMENTS_OF_THE_FLEET,
    ENDPOINT,
    PollingClient,
    aws,
    backend_function,
    documents,
    host_of,
    instance_of,
    local_stage,
    recap,
    upgrade_under_a_polling_client,
)

pytestmark = pytest.mark.usefixtures("fresh_local_fleet")
DEPLOYMENTS = DEPLOYMENTS_OF_THE_FLEET


def fleet(*args, **kwargs):
    return local_stage(*args, inventory=FLEET, **kwargs)


def version_of(deployment):
    name = DEPLOYMENTS[deployment]
    answer = subprocess.run(
        [
            "docker",
            "exec",
            host_of(deployment),
            "curl",
            "-sS",
            "-k",
            "--resolve",
            f"{name}:443:127.0.0.1",
            f"https://{name}/version",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    return answer.stdout.strip()


def snapshots():
    return sorted(
        s["DBSnapshotIdentifier"] for s in aws("rds").describe_db_snapshots(SnapshotType="manual")["DBSnapshots"]
    )


def test_site_makes_both_deployments_side_by_side():
    run = fleet("site")
    hosts = recap(run.stdout, *DEPLOYMENTS)
    assert set(hosts) == set(DEPLOYMENTS), run.stdout[-3000:]
    assert all(r["failed"] == 0 and r["changed"] > 0 for r in hosts.values()), hosts
    assert {d: version_of(d) for d in DEPLOYMENTS} == dict.fromkeys(DEPLOYMENTS, "standin-1")
    names = {
        tag["Value"]
        for vpc in aws("ec2").describe_vpcs()["Vpcs"]
        for tag in vpc.get("Tags", [])
        if tag["Key"] == "Name"
    }
    assert {"convex-local-a", "convex-local-b"} <= names
    print(f"first site.yml of two deployments: {run.seconds:.0f} s")


def test_second_run_changes_nothing_on_either():
    run = fleet("site")
    assert {host: r["changed"] for host, r in recap(run.stdout, *DEPLOYMENTS).items()} == dict.fromkeys(DEPLOYMENTS, 0)
    print(f"no-op site.yml of two deployments: {run.seconds:.0f} s")


def test_copy_data_replaces_the_targets_data_with_the_sources():
    source, target = "local-a", "local-b"
    backend_function("mutation", "_system/frontend/addDocument", {"table": "notes", "documents": [{"n": 1}]}, source)
    backend_function("mutation", "_system/frontend/addDocument", {"table": "drafts", "documents": [{"n": 2}]}, target)
    run = fleet("site", "-e", "from=local-a", "-e", "to=local-b", playbook="copy_data.yml")
    print(f"copy_data.yml local-a to local-b: {run.seconds:.1f} s")
    assert "Copied local-a into local-b: 1 documents written." in run.stdout
    assert documents("notes", target) == documents("notes", source)
    assert documents("drafts", target) == [], "the target's other tables are emptied (replace-all)"
    same = fleet("site", "-e", "from=local-a", "-e", "to=local-a", playbook="copy_data.yml", check=False)
    assert same.returncode != 0 and "from and to must name two different deployments" in same.stdout


def test_upgrade_rolls_one_deployment_after_the_other_with_every_request_answered():
    clients = [PollingClient(deployment, name) for deployment, name in DEPLOYMENTS.items()]
    run, seen = upgrade_under_a_polling_client("standin-2", clients=clients, inventory=FLEET)
    print(f"fleet upgrade: {run.seconds:.0f} s, clients saw {json.dumps(seen)}")
    assert [client["failed"] for client in seen] == [0, 0], seen
    assert all(set(client["versions"]) == {"standin-1", "standin-2"} for client in seen), seen
    # One deployment at a time, in inventory order: two batches of the upgrade play, a first.
    batches = [line for line in run.stdout.splitlines() if line.startswith("TASK [Snapshot the database")]
    assert len(batches) == 2
    assert run.stdout.index("ok: [local-a]", run.stdout.index(batches[0])) < run.stdout.rindex(batches[1])
    assert [re.sub(r"-\d{14}$", "", name) for name in snapshots()] == [
        "convex-local-a-before-standin-2",
        "convex-local-b-before-standin-2",
    ]


def test_a_failing_deployment_stops_the_rollout_before_the_next_one():
    run = fleet("site", playbook="upgrade.yml", version="standin-broken", check=False)
    output = run.stdout + run.stderr
    assert run.returncode != 0
    assert "Upgrade of local-a to standin-broken failed; the rollout stopped here." in output
    assert "--limit local-a -e convex_version=standin-2" in output
    assert version_of("local-b") == "standin-2", "the next deployment must not be touched"
    assert not [name for name in snapshots() if name.startswith("convex-local-b-before-standin-broken")]
    fleet("site", "--limit", "local-a", version="standin-2")
    assert version_of("local-a") == "standin-2"


def started_at(deployment):
    shown = subprocess.run(
        ["docker", "inspect", "--format", "{{.State.StartedAt}}", host_of(deployment)],
        capture_output=True,
        text=True,
        check=True,
    )
    return shown.stdout.strip()


def test_a_resize_goes_one_deployment_at_a_time_and_stops_at_the_first_failure():
    before = {d: (instance_of(d)["InstanceId"], started_at(d)) for d in DEPLOYMENTS}
    medium = ("-e", "stage_instance_type=t4g.medium")
    # What EC2 answers when the new type has no capacity where the host is: the start fails,
    # after the stop and the change.
    policy = FaultPolicy(refuse={"StartInstances": "InsufficientInstanceCapacity"})
    with FaultProxy(ENDPOINT, policy) as proxy:
        run = fleet(
            "site", *medium, version="standin-2", check=False, extra_env={"LOCAL_STAGE_AWS_ENDPOINT": proxy.endpoint}
        )
    assert run.returncode != 0
    assert "Resize of local-a to a t4g.medium failed; the rollout stopped here" in run.stdout, run.stdout[-3000:]
    assert instance_of("local-b")["InstanceType"] == "t4g.small"
    assert started_at("local-b") == before["local-b"][1], "the next deployment must not be touched"
    assert instance_of("local-a")["State"]["Name"] == "stopped"

    run = fleet("site", *medium, version="standin-2")
    said = re.findall(r'"msg": "(local-[ab]): the host \S+ (stops to change|was left stopped)', run.stdout)
    assert said == [("local-a", "was left stopped"), ("local-b", "stops to change")], run.stdout[-3000:]
    # One at a time: local-b's resize starts after local-a's health gate.
    gates = [
        m.start() for m in re.finditer(r"TASK \[Health gate - the backend answers through Caddy again", run.stdout)
    ]
    assert len(gates) == 2 and run.stdout.index("local-b: the host") > gates[0]
    for deployment in DEPLOYMENTS:
        instance = instance_of(deployment)
        assert (instance["InstanceId"], instance["InstanceType"]) == (before[deployment][0], "t4g.medium")
        assert started_at(deployment) != before[deployment][1]
        assert version_of(deployment) == "standin-2"
    again = fleet("site", *medium, version="standin-2")
    assert {h: r["changed"] for h, r in recap(again.stdout, *DEPLOYMENTS).items()} == dict.fromkeys(DEPLOYMENTS, 0)


def test_a_replacement_goes_one_deployment_at_a_time_and_a_failure_leaves_the_old_host_serving():
    before = {d: (instance_of(d)["InstanceId"], started_at(d)) for d in DEPLOYMENTS}
    older = ("-e", "stage_image_id=ami-0d13a2b3c4d5e6f01", "-e", "stage_instance_type=t4g.medium")
    # EC2 refuses to move the Elastic IP (as it does to an instance not in a state to take it): the
    # first deployment's replacement fails at its switch, after its old backend has stopped.
    policy = FaultPolicy(refuse={"AssociateAddress": "IncorrectInstanceState"})
    with FaultProxy(ENDPOINT, policy) as proxy:
        run = fleet(
            "site",
            *older,
            playbook="replace.yml",
            version="standin-2",
            check=False,
            extra_env={"LOCAL_STAGE_AWS_ENDPOINT": proxy.endpoint},
        )
    assert run.returncode != 0
    assert "Replacement of the host of local-a failed; the rollout stopped here" in run.stdout, run.stdout[-3000:]
    assert f"the old host {before['local-a'][0]} holds the Elastic IP and serves, its backend started again" in (
        run.stdout
    ), run.stdout[-3000:]
    assert "local-b: the host" not in run.stdout, "the next deployment must not be touched"
    for deployment in DEPLOYMENTS:
        # One live instance each (instance_of asserts it): the new host of local-a was terminated.
        assert instance_of(deployment)["InstanceId"] == before[deployment][0]
        assert version_of(deployment) == "standin-2"
    assert started_at("local-b") == before["local-b"][1]

    run = fleet("site", *older, playbook="replace.yml", version="standin-2")
    said = [m.start() for m in re.finditer(r'"msg": "local-[ab]: the host \S+ is replaced by', run.stdout)]
    gates = [m.start() for m in re.finditer(r"TASK \[Health gate - the backend answers through Caddy\]", run.stdout)]
    # One at a time: local-b's replacement starts after local-a's health gate.
    assert len(said) == 2 and len(gates) == 2 and said[0] < gates[0] < said[1] < gates[1], run.stdout[-3000:]
    for deployment in DEPLOYMENTS:
        instance = instance_of(deployment)
        assert instance["InstanceId"] != before[deployment][0]
        assert (instance["ImageId"], instance["InstanceType"]) == ("ami-0d13a2b3c4d5e6f01", "t4g.medium")
        assert version_of(deployment) == "standin-2"
    again = fleet("site", *older, playbook="replace.yml", version="standin-2")
    assert {h: r["changed"] for h, r in recap(again.stdout, *DEPLOYMENTS).items()} == dict.fromkeys(DEPLOYMENTS, 0)


def test_teardown_of_one_deployment_leaves_the_other_serving():
    fleet(
        "site",
        "--limit",
        "local-b",
        "-e",
        "teardown_buckets=true",
        "-e",
        "teardown_final_snapshot=false",
        playbook="teardown.yml",
        version="standin-2",
    )
    names = {
        tag["Value"]
        for vpc in aws("ec2").describe_vpcs()["Vpcs"]
        for tag in vpc.get("Tags", [])
        if tag["Key"] == "Name"
    }
    assert "convex-local-b" not in names and "convex-local-a" in names
    assert not [b for b in aws("s3").list_buckets()["Buckets"] if b["Name"].startswith("convex-local-b-")]
    assert version_of("local-a") == "standin-2"
    assert fleet("site", "--limit", "local-a", version="standin-2").returncode == 0
