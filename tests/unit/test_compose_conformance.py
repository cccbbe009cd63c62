"""The compose file the convex role renders is upstream's, with only the deliberate differences:
pinned images, loopback-only ports, a restart policy, the MySQL CA bundle mounted and
MYSQL_CA_FILE passed. Upstream's file is vendored under tests/data/upstream, at the release the
role pins."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
UPSTREAM = REPO / "tests" / "data" / "upstream"
VERSION = "a1b2c3d4e5f6"
CA_FILE = "/convex/mysql-ca-bundle.pem"


# The only keys the rendered services add to upstream's, each a deliberate difference.
ADDED_KEYS = {"restart"}


@pytest.fixture(scope="module")
def upstream():
    return yaml.safe_load((UPSTREAM / "docker-compose.yml").read_text())


def test_vendored_file_is_of_the_pinned_release():
    source = yaml.safe_load((UPSTREAM / "SOURCE.yml").read_text())
    pinned = yaml.safe_load((REPO / "roles" / "convex" / "defaults" / "main.yml").read_text())["convex_version"]
    assert source["release"] == pinned, "a new pin needs a fresh copy of upstream's compose file at that release"


def render(template, out, variables):
    """The convex role's template, rendered by Ansible with the role's own defaults and vars."""
    role = REPO / "roles" / "convex"
    subprocess.run(
        [
            str(Path(sys.executable).with_name("ansible")),
            "localhost",
            "-m",
            "ansible.builtin.template",
            "-a",
            f"src={role}/templates/{template} dest={out}",
            "-e",
            f"@{role}/defaults/main.yml",
            "-e",
            f"@{role}/vars/main.yml",
            "-e",
            json.dumps(variables),
        ],
        check=True,
        capture_output=True,
        env=dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg")),
    )
    return out.read_text()


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    out = tmp_path_factory.mktemp("compose") / "docker-compose.yml"
    variables = {"convex_version": VERSION, "convex_mysql_ca_file": CA_FILE}
    return yaml.safe_load(render("docker-compose.yml.j2", out, variables))


ENV_INPUTS = {
    "convex_domain": "convex.example.com",
    "convex_instance_secret": "ab" * 32,
    "convex_mysql_host": "db.internal",
    "convex_mysql_password": "pw",
    "convex_aws_region": "eu-west-1",
}


def test_env_file_holds_no_aws_keys_on_aws(tmp_path):
    env = render("env.j2", tmp_path / ".env", ENV_INPUTS)
    assert "AWS_ACCESS_KEY_ID" not in env and "AWS_SECRET_ACCESS_KEY" not in env and "S3_ENDPOINT_URL" not in env
    assert "CONVEX_CLOUD_ORIGIN=https://api.convex.example.com\n" in env


def test_env_file_gives_keys_only_with_an_s3_compatible_endpoint(tmp_path):
    endpoint = {"url": "http://172.17.0.1:45700", "access_key_id": "k", "secret_access_key": "s"}
    env = render(
        "env.j2", tmp_path / ".env", {**ENV_INPUTS, "convex_s3_endpoint": endpoint, "convex_public_port": 8443}
    )
    assert "S3_ENDPOINT_URL=http://172.17.0.1:45700\nAWS_S3_FORCE_PATH_STYLE=true\n" in env
    assert "AWS_ACCESS_KEY_ID" not in env, "the keys are in the compose file, where no shell can replace them"
    assert "REDACT_LOGS_TO_CLIENT=true\n" in env
    # Clients behind a port forward reach the origins on that port.
    assert "CONVEX_CLOUD_ORIGIN=https://api.convex.example.com:8443\n" in env


def names(environment):
    return [entry.split("=", 1)[0] for entry in environment]


def test_same_services_volumes_and_keys(upstream, rendered):
    assert rendered.keys() == upstream.keys()
    assert rendered["volumes"] == upstream["volumes"]
    assert rendered["services"].keys() == upstream["services"].keys()
    for service, spec in upstream["services"].items():
        assert rendered["services"][service].keys() == spec.keys() | ADDED_KEYS, service


def test_every_service_comes_back_after_a_reboot(rendered):
    # dockerd starts at boot; the restart policy brings each container back with it.
    assert {spec["restart"] for spec in rendered["services"].values()} == {"unless-stopped"}


def test_healthcheck_stop_signal_and_dependencies_are_kept(upstream, rendered):
    for service, spec in upstream["services"].items():
        mine = rendered["services"][service]
        for key in ("stop_grace_period", "stop_signal", "healthcheck", "depends_on"):
            assert mine.get(key) == spec.get(key), f"{service}.{key}"


# Upstream passes these through from the shell that runs compose; the role never does, so static
# keys in the controller's or the host's environment cannot reach the backend.
CREDENTIALS = ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"]


def test_every_upstream_variable_but_aws_keys_is_passed_through_unchanged(upstream, rendered):
    for service, spec in upstream["services"].items():
        mine = rendered["services"][service]["environment"]
        assert [e for e in spec["environment"] if e not in mine] == [e for e in CREDENTIALS if e in spec["environment"]]
        extra = [e for e in mine if e not in spec["environment"]]
        assert extra == (["MYSQL_CA_FILE"] if service == "backend" else []), service


def test_an_s3_compatible_endpoints_keys_are_values_not_shell_lookups(tmp_path):
    endpoint = {"url": "http://172.17.0.1:45700", "access_key_id": "k", "secret_access_key": "s"}
    variables = {"convex_version": VERSION, "convex_mysql_ca_file": CA_FILE, "convex_s3_endpoint": endpoint}
    backend = yaml.safe_load(render("docker-compose.yml.j2", tmp_path / "c.yml", variables))["services"]["backend"]
    assert [e for e in backend["environment"] if e.split("=")[0] in CREDENTIALS] == [
        "AWS_ACCESS_KEY_ID=k",
        "AWS_SECRET_ACCESS_KEY=s",
    ]


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


def test_with_a_log_group_both_services_log_to_cloudwatch_without_ever_blocking(upstream, tmp_path):
    variables = {
        "convex_version": VERSION,
        "convex_mysql_ca_file": CA_FILE,
        "convex_aws_region": "eu-west-1",
        "convex_log_group": "/convex/convex-dev",
    }
    logged = yaml.safe_load(render("docker-compose.yml.j2", tmp_path / "docker-compose.yml", variables))
    for service, spec in upstream["services"].items():
        assert logged["services"][service].keys() == spec.keys() | ADDED_KEYS | {"logging"}, service
        assert logged["services"][service]["logging"] == {
            "driver": "awslogs",
            "options": {
                "awslogs-region": "eu-west-1",
                "awslogs-group": "/convex/convex-dev",
                "awslogs-stream": service,
                # On AWS the driver takes the instance role, at AWS's own endpoint.
                "mode": "non-blocking",
                "max-buffer-size": "4m",
            },
        }
