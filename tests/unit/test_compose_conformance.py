"""The compose file the convex role renders is upstream's, with only the deliberate differences:
pinned images, loopback-only ports, the MySQL CA bundle mounted and MYSQL_CA_FILE passed."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
REFERENCE = REPO.parent / "shared" / "reference" / "convex-self-hosted-docker-compose.yml"
VERSION = "a1b2c3d4e5f6"
CA_FILE = "/convex/mysql-ca-bundle.pem"


@pytest.fixture(scope="module")
def upstream():
    assert REFERENCE.exists(), f"{REFERENCE} is missing: the shared/ folder must sit beside the repository"
    return yaml.safe_load(REFERENCE.read_text())


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    out = tmp_path_factory.mktemp("compose") / "docker-compose.yml"
    variables = {
        "convex_backend_image": "ghcr.io/get-convex/convex-backend",
        "convex_dashboard_image": "ghcr.io/get-convex/convex-dashboard",
        "convex_version": VERSION,
        "convex_mysql_ca_file": CA_FILE,
    }
    subprocess.run(
        [
            str(Path(sys.executable).with_name("ansible")),
            "localhost",
            "-m",
            "ansible.builtin.template",
            "-a",
            f"src={REPO}/roles/convex/templates/docker-compose.yml.j2 dest={out}",
            "-e",
            json.dumps(variables),
        ],
        check=True,
        capture_output=True,
        env=dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg")),
    )
    return yaml.safe_load(out.read_text())


def names(environment):
    return [entry.split("=", 1)[0] for entry in environment]


def test_same_services_volumes_and_keys(upstream, rendered):
    assert rendered.keys() == upstream.keys()
    assert rendered["volumes"] == upstream["volumes"]
    assert rendered["services"].keys() == upstream["services"].keys()
    for service, spec in upstream["services"].items():
        assert rendered["services"][service].keys() == spec.keys(), service


def test_healthcheck_stop_signal_and_dependencies_are_kept(upstream, rendered):
    for service, spec in upstream["services"].items():
        mine = rendered["services"][service]
        for key in ("stop_grace_period", "stop_signal", "healthcheck", "depends_on"):
            assert mine.get(key) == spec.get(key), f"{service}.{key}"


def test_every_upstream_variable_is_passed_through_unchanged(upstream, rendered):
    for service, spec in upstream["services"].items():
        mine = rendered["services"][service]["environment"]
        assert [e for e in spec["environment"] if e not in mine] == [], service
        extra = [e for e in mine if e not in spec["environment"]]
        assert extra == (["MYSQL_CA_FILE"] if service == "backend" else []), service


def test_images_are_pinned_to_one_version(upstream, rendered):
    for service, spec in upstream["services"].items():
        repository = spec["image"].rsplit(":", 1)[0]
        assert rendered["services"][service]["image"] == f"{repository}:{VERSION}"


def test_ports_are_bound_to_loopback_only(upstream, rendered):
    for service, spec in upstream["services"].items():
        assert rendered["services"][service]["ports"] == [f"127.0.0.1:{port}" for port in spec["ports"]]


def test_only_the_ca_bundle_is_mounted_besides_the_data_volume(upstream, rendered):
    mounts = rendered["services"]["backend"]["volumes"]
    assert mounts[: len(upstream["services"]["backend"]["volumes"])] == upstream["services"]["backend"]["volumes"]
    assert mounts[len(upstream["services"]["backend"]["volumes"]) :] == [f"./mysql-ca-bundle.pem:{CA_FILE}:ro"]
