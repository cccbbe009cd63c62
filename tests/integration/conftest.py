"""What the tests that run a real playbook on inventories/dev share: a real registry holding the
pinned release (as ghcr.io does), and the playbook run itself, pointed at the emulator."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from oci_registry import OciRegistry

REPO = Path(__file__).resolve().parents[2]
PINNED = "652b828b5129e6cdbcaa3c20efa8d116d09ff3bf"
DEV_REGION = "eu-west-1"


@pytest.fixture(scope="session")
def registry(tmp_path_factory):
    with OciRegistry(tmp_path_factory.mktemp("registry")) as running:
        for name in ("convex-backend", "convex-dashboard"):
            running.push(f"get-convex/{name}", PINNED, multi_arch=True)
        yield running


@pytest.fixture
def dev_stage(aws, registry):
    """run(playbook, timeout=600, flags=(), **settings): ansible-playbook on inventories/dev against the
    emulator, with the hosted zone and the key pair the inventory's user would have made, and the
    SSH settings the inventory leaves to them."""
    aws.client("route53").create_hosted_zone(Name="example.com.", CallerReference="dev-stage")
    aws.client("ec2", region_name=DEV_REGION).create_key_pair(KeyName="ops")
    environment = aws.env()

    def run(playbook, timeout=600, flags=(), **settings):
        extra = {
            "stage_aws_environment": {k: v for k, v in environment.items() if k.startswith("AWS_")},
            "convex_image_registry": f"{registry.host}/get-convex",
            "docker_insecure_registries": [registry.host],
            "stage_ssh_key_name": "ops",
            "stage_ssh_cidrs": ["198.51.100.0/24"],
            **settings,
        }
        return subprocess.run(
            ["ansible-playbook", f"playbooks/{playbook}", "-i", "inventories/dev", "-e", json.dumps(extra), *flags],
            cwd=REPO,
            capture_output=True,
            text=True,
            env={**environment, "PATH": f"{REPO / '.venv' / 'bin'}:{os.environ['PATH']}", "ANSIBLE_NOCOLOR": "1"},
            timeout=timeout,
            check=False,
        )

    return run
