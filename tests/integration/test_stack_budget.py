"""A real stage's no-op provisioning (playbooks/provision.yml on inventories/dev, pointed at the
emulator and at a real registry holding the pinned release) changes nothing within its budget of
AWS calls, counted from the emulator's own recording."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from oci_registry import OciRegistry

REPO = Path(__file__).resolve().parents[2]
PINNED = "652b828b5129e6cdbcaa3c20efa8d116d09ff3bf"
NOOP_BUDGET = 50


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    with OciRegistry(tmp_path_factory.mktemp("registry")) as running:
        for name in ("convex-backend", "convex-dashboard"):
            running.push(f"get-convex/{name}", PINNED, multi_arch=True)
        yield running


def provision(aws, registry):
    environment = aws.env()
    extra = {
        "stage_aws_environment": {k: v for k, v in environment.items() if k.startswith("AWS_")},
        "convex_image_registry": f"{registry.host}/get-convex",
        "docker_insecure_registries": [registry.host],
        "stage_ssh_key_name": "ops",
        "stage_ssh_cidrs": ["198.51.100.0/24"],
    }
    run = subprocess.run(
        ["ansible-playbook", "playbooks/provision.yml", "-i", "inventories/dev", "-e", json.dumps(extra)],
        cwd=REPO,
        capture_output=True,
        text=True,
        env={**environment, "PATH": f"{REPO / '.venv' / 'bin'}:{os.environ['PATH']}", "ANSIBLE_NOCOLOR": "1"},
        timeout=600,
        check=False,
    )
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    return run.stdout


def test_noop_provisioning_of_a_real_stage_changes_nothing_within_budget(aws, registry):
    aws.client("route53").create_hosted_zone(Name="example.com.", CallerReference="budget")
    aws.client("ec2", region_name="eu-west-1").create_key_pair(KeyName="ops")
    first_from = len(aws.calls())
    provision(aws, registry)
    noop_from = len(aws.calls())
    recap = provision(aws, registry)
    first, noop = aws.calls()[first_from:noop_from], aws.calls()[noop_from:]
    by_action = {str(c): [str(x) for x in noop].count(str(c)) for c in noop}
    print(f"AWS calls: first provisioning {len(first)}, no-op {len(noop)}: {json.dumps(by_action)}")
    assert "changed=0" in recap and "failed=0" in recap
    assert [c for c in noop if c.writes] == []
    assert len(noop) <= NOOP_BUDGET
    assert len(first) > len(noop), "a first run that made nothing would mean it never ran"
