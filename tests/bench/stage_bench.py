"""make bench: the stage's cost and speed, measured in one run on this machine.

1. Provisioning (playbooks/provision.yml) of one deployment on a fresh AWS emulator: a first run,
   then no-op runs (the median of three), timed, their AWS calls counted in the emulator's own
   recording. The same for the collection as it was at REFERENCE, the commit before the stage
   model, so "faster than before" is measured here, now, not remembered.
2. The same no-op provisioning for the two deployments of inventories/local-fleet.
3. On the local stage (emulator, container host, TEST STAND-IN images): a first site.yml, no-op
   runs (median of three), and upgrade.yml to another version while a client on the host polls
   https://api.<domain>/version through Caddy.
   Then the example app (examples/chat): make example, site.yml with it and again, and
   frontend.yml with the same build again; the app is turned off before the upgrade.
   Then a resize (t4g.small to t4g.medium), a lost host (its instance terminated, then site.yml)
   and a replacement (replace.yml, to another image), each under a client polling through the
   Elastic IP's address on this machine.
4. On the local fleet: site.yml and a re-run of both deployments, then upgrade.yml rolling over
   them while a client polls each.
The figures go to bench/results.json and a table, each budget marked met or not; the exit status
is 1 when one is not met.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(REPO / "tests" / "harness"), str(REPO / "tests" / "e2e")]

import boto3  # noqa: E402
from local_stage_tools import (  # noqa: E402
    BACKEND_KEY,
    DEPLOYMENTS_OF_THE_FLEET,
    PollingClient,
    PollingClientHere,
    aws,
    host_of,
    instance_of,
    local_stage,
    make,
    recap,
    upgrade_under_a_polling_client,
)
from moto_server import MotoServer  # noqa: E402

RESULTS = REPO / "bench" / "results.json"
FLEET = "inventories/local-fleet"
# The collection before the stage model and the one-process deployment module (issue "One
# deployment, one inventory host"): the reference the provisioning time is held against.
REFERENCE = "7e34298"
REPEATS = 3
BUDGETS = {
    # 50 for the network, buckets, database, host, DNS and secrets; the containers' log group adds
    # two reads (DescribeLogGroups with its retention, ListTagsForResource for its tags), what
    # watches the deployment four (the topic's subscriptions and its tags, the alarms, the
    # dashboard), and the secret with the copy of Caddy's storage two (DescribeSecret, its policy).
    "noop_provisioning_calls": ("no-op provisioning of one deployment: AWS API calls", 58),
    "noop_provisioning_vs_reference": ("no-op provisioning time / the reference's", 0.7),
    "noop_site_seconds": ("full site.yml no-op of one deployment: seconds", 15),
    "fleet_noop_provisioning_vs_one": ("no-op provisioning of two deployments / of one", 1.3),
    "fleet_noop_site_changed": ("tasks changed by a re-run of site.yml on the fleet", 0),
    "noop_app_changed": ("tasks changed by site.yml and frontend.yml again with the same app build", 0),
    "upgrade_failed_requests": ("client requests failed during upgrade.yml, one deployment", 0),
    "upgrade_gap_over_backend_start": (
        "upgrade.yml's longest gap between two good answers, less the backend's own start: seconds",
        2.0,
    ),
    "fleet_upgrade_failed_requests": ("client requests failed during the fleet's rolling upgrade", 0),
    # The bound: a polling client's downtime at most the backend's start plus 5 s.
    "replacement_gap_over_backend_start": (
        "replace.yml's longest gap between two good answers, less the backend's own start: seconds",
        5.0,
    ),
}


def fresh_emulator(folder):
    server = MotoServer(folder).start()
    boto3.client(
        "route53",
        endpoint_url=server.endpoint,
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",  # noqa: S106 - the emulator takes any key
    ).create_hosted_zone(Name="convex.localhost.", CallerReference="bench")
    return server


def provisioning(server, script, inventory=None, repeats=REPEATS):
    """A first provisioning run, then no-op runs: seconds and AWS calls of each."""

    def once():
        before = len([c for c in server.calls() if c.access_key != BACKEND_KEY])
        env = dict(
            os.environ,
            CONVEX_IMAGES="standin",
            PLAYBOOK="provision.yml",
            LOCAL_STAGE_AWS_ENDPOINT=server.endpoint,
            ANSIBLE_NOCOLOR="1",
        )
        if inventory:
            env["LOCAL_INVENTORY"] = inventory
        started = datetime.now()
        done = subprocess.run([str(script), "site"], capture_output=True, text=True, env=env, check=False)
        seconds = (datetime.now() - started).total_seconds()
        if done.returncode != 0:
            raise RuntimeError(f"{script} PLAYBOOK=provision.yml failed:\n{done.stdout[-3000:]}\n{done.stderr[-2000:]}")
        calls = [c for c in server.calls() if c.access_key != BACKEND_KEY][before:]
        changed = sum(r["changed"] for r in recap(done.stdout).values())
        return {
            "seconds": round(seconds, 1),
            "aws_calls": len(calls),
            "changed": changed,
            "by_call": sorted(map(str, calls)),
        }

    first = once()
    noops = [once() for repeat in range(repeats)]
    return {
        "first": {k: first[k] for k in ("seconds", "aws_calls", "changed")},
        "noop_seconds": [n["seconds"] for n in noops],
        "noop_median_seconds": statistics.median(n["seconds"] for n in noops),
        "noop_aws_calls": noops[-1]["aws_calls"],
        "noop_changed": sum(n["changed"] for n in noops),
        "noop_calls_by_action": {c: noops[-1]["by_call"].count(c) for c in sorted(set(noops[-1]["by_call"]))},
    }


def reference_checkout(scratch):
    """The collection at REFERENCE, beside this checkout, using this checkout's .venv."""
    tree = Path(scratch) / "reference"
    subprocess.run(
        ["git", "-C", str(REPO), "worktree", "add", "--detach", str(tree), REFERENCE], check=True, capture_output=True
    )
    (tree / ".venv").symlink_to(REPO / ".venv")
    link = tree / ".cache" / "collections" / "ansible_collections" / "convex_selfhost" / "aws"
    link.parent.mkdir(parents=True)
    link.symlink_to(tree)
    return tree


def timed(*args, **kwargs):
    run = local_stage(*args, **kwargs)
    hosts = recap(run.stdout)
    return {"seconds": round(run.seconds, 1), "changed": sum(r["changed"] for r in hosts.values())}


def app():
    """The example app beside the backend: its build, then site.yml with it, and both playbooks
    again with the same build; then site.yml without it, as the stage was."""
    built = make("example")
    with_app = ("-e", f"stage_frontend_dir={REPO / 'examples' / 'chat' / 'dist'}")
    figures = {"make_example_seconds": round(built.seconds, 1), "first_site": timed("site", *with_app)}
    figures["noop_site"] = timed("site", *with_app)
    figures["noop_frontend"] = timed("site", *with_app, playbook="frontend.yml")
    figures["site_without_app"] = timed("site")
    return figures


# On the host: the backend stopped, then started, timed until its /version answers, as Caddy's next
# try would find it (every 50 ms here; Caddy tries every 250 ms).
BACKEND_START = """
cd /opt/convex && docker compose stop backend >/dev/null 2>&1
began=$(date +%s.%N)
docker compose start backend >/dev/null 2>&1
until curl -sf -o /dev/null http://127.0.0.1:3210/version; do sleep 0.05; done
echo "$began $(date +%s.%N)"
"""


def backend_start():
    """The backend's own start time, the floor of an upgrade's gap: the median of three."""
    times = []
    for _attempt in range(REPEATS):
        done = subprocess.run(
            ["docker", "exec", host_of(), "sh", "-c", BACKEND_START], capture_output=True, text=True, check=True
        )
        began, answered = map(float, done.stdout.split())
        times.append(round(answered - began, 2))
    return {"seconds": times, "median_seconds": statistics.median(times)}


def resize():
    """t4g.small -> t4g.medium with site.yml, under a client on this machine polling through the
    Elastic IP's address: its failed requests and its longest gap between two good answers."""
    client = PollingClientHere().start()
    time.sleep(2)
    run = local_stage("site", "-e", "stage_instance_type=t4g.medium", version="standin-2")
    time.sleep(2)
    return {"seconds": round(run.seconds, 1), **client.stop()}


def lost_host():
    """A lost host: its instance terminated in the emulator (the hypervisor stand-in removes its
    container and disk), then site.yml, under a client on this machine polling through the Elastic
    IP's address. The longest gap is from the last good answer before the loss to the first after."""
    client = PollingClientHere().start()
    time.sleep(2)
    aws("ec2").terminate_instances(InstanceIds=[instance_of()["InstanceId"]])
    run = local_stage("site", "-e", "stage_instance_type=t4g.medium", version="standin-2")
    time.sleep(2)
    return {"site_seconds": round(run.seconds, 1), **client.stop()}


def replacement():
    """replace.yml to the older of the emulator's two Debian 13 arm64 images (the lost host came
    back on the newest), under a client on this machine polling through the Elastic IP's address:
    the longest gap is from the last good answer of the old host to the first of the new."""
    client = PollingClientHere().start()
    time.sleep(2)
    run = local_stage(
        "site",
        "-e",
        "stage_instance_type=t4g.medium",
        "-e",
        "stage_image_id=ami-0d13a2b3c4d5e6f01",
        playbook="replace.yml",
        version="standin-2",
    )
    time.sleep(2)
    return {"seconds": round(run.seconds, 1), **client.stop()}


def measure():
    local_stage("down")
    local_stage("up")  # the stand-in images' registry, which provisioning's release check asks
    figures = {}
    with tempfile.TemporaryDirectory() as scratch:
        tree = reference_checkout(scratch)
        try:
            with fresh_emulator(Path(scratch) / "reference-emulator") as server:
                figures["reference_provisioning"] = provisioning(server, tree / "scripts" / "local-stage")
        finally:
            subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(tree)], check=False)
        with fresh_emulator(Path(scratch) / "one-emulator") as server:
            figures["provisioning"] = provisioning(server, REPO / "scripts" / "local-stage")
        with fresh_emulator(Path(scratch) / "fleet-emulator") as server:
            figures["fleet_provisioning"] = provisioning(server, REPO / "scripts" / "local-stage", inventory=FLEET)

    try:
        figures["first_site"] = timed("site")
        noop_sites = [timed("site") for repeat in range(REPEATS)]
        figures["noop_site"] = {
            "seconds": [n["seconds"] for n in noop_sites],
            "median_seconds": statistics.median(n["seconds"] for n in noop_sites),
            "changed": sum(n["changed"] for n in noop_sites),
        }
        figures["app"] = app()
        figures["backend_start"] = backend_start()
        run, client = upgrade_under_a_polling_client("standin-2")
        figures["upgrade"] = {"seconds": round(run.seconds, 1), **client}
        figures["resize"] = resize()
        figures["lost_host"] = lost_host()
        figures["replacement"] = replacement()
    finally:
        local_stage("down")

    local_stage("up", inventory=FLEET)
    try:
        figures["fleet_first_site"] = timed("site", inventory=FLEET)
        figures["fleet_noop_site"] = timed("site", inventory=FLEET)
        clients = [PollingClient(deployment, name) for deployment, name in DEPLOYMENTS_OF_THE_FLEET.items()]
        run, seen = upgrade_under_a_polling_client("standin-2", clients=clients, inventory=FLEET)
        figures["fleet_upgrade"] = {"seconds": round(run.seconds, 1), "clients": seen}
    finally:
        local_stage("down", inventory=FLEET)
    return figures


def main():
    print("bench: provisioning on fresh emulators, then the local stage and the local fleet")
    print("       (AWS emulator + container hosts, TEST STAND-IN Convex images)")
    figures = measure()
    one, reference, fleet = figures["provisioning"], figures["reference_provisioning"], figures["fleet_provisioning"]
    values = {
        "noop_provisioning_calls": one["noop_aws_calls"],
        "noop_provisioning_vs_reference": round(one["noop_median_seconds"] / reference["noop_median_seconds"], 2),
        "noop_site_seconds": figures["noop_site"]["median_seconds"],
        "fleet_noop_provisioning_vs_one": round(fleet["noop_median_seconds"] / one["noop_median_seconds"], 2),
        "fleet_noop_site_changed": figures["fleet_noop_site"]["changed"],
        "noop_app_changed": figures["app"]["noop_site"]["changed"] + figures["app"]["noop_frontend"]["changed"],
        "upgrade_failed_requests": figures["upgrade"]["failed"],
        "upgrade_gap_over_backend_start": round(
            figures["upgrade"]["longest_gap_ms"] / 1000 - figures["backend_start"]["median_seconds"], 2
        ),
        "fleet_upgrade_failed_requests": sum(c["failed"] for c in figures["fleet_upgrade"]["clients"]),
        "replacement_gap_over_backend_start": round(
            figures["replacement"]["longest_gap_ms"] / 1000 - figures["backend_start"]["median_seconds"], 2
        ),
    }
    budgets = {
        key: {"what": what, "limit": limit, "value": values[key], "met": values[key] <= limit}
        for key, (what, limit) in BUDGETS.items()
    }
    results = {
        "measured_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
        "images": "TEST STAND-IN (convex-test-standin/convex-*), standin-1 then standin-2",
        "reference": REFERENCE,
        "figures": figures,
        "budgets": budgets,
    }
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    report(figures, budgets)
    return 0 if all(b["met"] for b in budgets.values()) else 1


def report(figures, budgets):
    one, reference, fleet = figures["provisioning"], figures["reference_provisioning"], figures["fleet_provisioning"]
    rows = [
        ("reference: first provisioning", reference["first"]["seconds"], reference["first"]["aws_calls"]),
        ("reference: no-op provisioning (median)", reference["noop_median_seconds"], reference["noop_aws_calls"]),
        ("first provisioning", one["first"]["seconds"], one["first"]["aws_calls"]),
        ("no-op provisioning (median)", one["noop_median_seconds"], one["noop_aws_calls"]),
        ("fleet: no-op provisioning of two (median)", fleet["noop_median_seconds"], fleet["noop_aws_calls"]),
        ("first site.yml", figures["first_site"]["seconds"], "-"),
        ("no-op site.yml (median)", figures["noop_site"]["median_seconds"], "-"),
        ("make example (npm ci, vite build)", figures["app"]["make_example_seconds"], "-"),
        ("site.yml with the app, first", figures["app"]["first_site"]["seconds"], "-"),
        ("site.yml with the app, no-op", figures["app"]["noop_site"]["seconds"], "-"),
        ("frontend.yml, no-op", figures["app"]["noop_frontend"]["seconds"], "-"),
        ("upgrade.yml standin-1 -> standin-2", figures["upgrade"]["seconds"], "-"),
        ("resize t4g.small -> t4g.medium (site.yml)", figures["resize"]["seconds"], "-"),
        ("lost host: site.yml making it again", figures["lost_host"]["site_seconds"], "-"),
        ("replace.yml to another image", figures["replacement"]["seconds"], "-"),
        ("fleet: first site.yml of two", figures["fleet_first_site"]["seconds"], "-"),
        ("fleet: no-op site.yml of two", figures["fleet_noop_site"]["seconds"], "-"),
        ("fleet: rolling upgrade of two", figures["fleet_upgrade"]["seconds"], "-"),
    ]
    print(f"\n{'run':<44} {'seconds':>8} {'AWS calls':>10}")
    for name, seconds, calls in rows:
        print(f"{name:<44} {seconds:>8} {calls!s:>10}")
    print(f"\nno-op provisioning's AWS calls: {json.dumps(one['noop_calls_by_action'])}")
    print(f"backend start (stop, start, until /version answers): {json.dumps(figures['backend_start'])}")
    print(f"upgrade client: {json.dumps(figures['upgrade'])}")
    print(f"resize client (on this machine): {json.dumps(figures['resize'])}")
    print(f"lost host client (on this machine; longest gap: loss to serving): {json.dumps(figures['lost_host'])}")
    print(f"replacement client (on this machine): {json.dumps(figures['replacement'])}")
    print(f"fleet upgrade clients: {json.dumps(figures['fleet_upgrade']['clients'])}\n")
    for budget in budgets.values():
        verdict = "met" if budget["met"] else "NOT MET"
        print(f"budget {budget['what']}: {budget['value']} (limit {budget['limit']}): {verdict}")
    print(f"\nwritten to {RESULTS.relative_to(REPO)}")


if __name__ == "__main__":
    sys.exit(main())
