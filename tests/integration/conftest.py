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


class DevStage:
    """ansible-playbook on inventories/dev against the emulator (or, with endpoint, whatever stands
    in front of it), with the SSH settings the inventory leaves to its user. run() waits for the
    run; start() returns the running process, in a session of its own, so a test can kill it whole."""

    def __init__(self, aws, registry):
        self.aws = aws
        self.registry = registry

    def command(self, playbook, flags=(), endpoint=None, **settings):
        environment = self.aws.env(endpoint)
        extra = {
            "stage_aws_environment": {k: v for k, v in environment.items() if k.startswith("AWS_")},
            "convex_image_registry": f"{self.registry.host}/get-convex",
            "docker_insecure_registries": [self.registry.host],
            "stage_ssh_key_name": "ops",
            "stage_ssh_cidrs": ["198.51.100.0/24"],
            **settings,
        }
        argv = ["ansible-playbook", f"playbooks/{playbook}", "-i", "inventories/dev", "-e", json.dumps(extra), *flags]
        env = {**environment, "PATH": f"{REPO / '.venv' / 'bin'}:{os.environ['PATH']}", "ANSIBLE_NOCOLOR": "1"}
        return argv, env

    def __call__(self, playbook, timeout=600, flags=(), endpoint=None, **settings):
        argv, env = self.command(playbook, flags, endpoint, **settings)
        return subprocess.run(argv, cwd=REPO, capture_output=True, text=True, env=env, timeout=timeout, check=False)

    def start(self, playbook, flags=(), endpoint=None, **settings):
        argv, env = self.command(playbook, flags, endpoint, **settings)
        return subprocess.Popen(
            argv, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, start_new_session=True
        )


@pytest.fixture
def dev_stage(aws, registry):
    """run(playbook, timeout=600, flags=(), endpoint=None, **settings), with the hosted zone and the
    key pair the inventory's user would have made."""
    aws.client("route53").create_hosted_zone(Name="example.com.", CallerReference="dev-stage")
    aws.client("ec2", region_name=DEV_REGION).create_key_pair(KeyName="ops")
    return DevStage(aws, registry)
