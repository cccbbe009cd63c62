"""Testinfra: the state docker, caddy and convex leave on the host."""

import json


def test_services_are_enabled_and_running(host):
    for name in ("docker", "caddy"):
        service = host.service(name)
        assert service.is_enabled and service.is_running, name


def test_env_file_is_root_only_and_no_aws_key_comes_from_a_shell(host):
    env = host.file("/opt/convex/.env")
    assert (env.user, env.group, env.mode) == ("root", "root", 0o600)
    content = env.content_string
    # This scenario gives the role an emulator's endpoint and keys (convex_s3_endpoint). The keys
    # are written into the root-only compose file as values, where no shell's AWS_* can replace
    # them; without an endpoint (AWS) there are none at all: see tests/unit/test_compose_conformance.py.
    assert [line for line in content.splitlines() if line.startswith("AWS_") and "KEY" in line] == []
    compose = host.file("/opt/convex/docker-compose.yml")
    assert (compose.user, compose.mode) == ("root", 0o600)
    assert "AWS_ACCESS_KEY_ID=testing" in compose.content_string
    assert "- AWS_SESSION_TOKEN" not in compose.content_string
    assert "S3_ENDPOINT_URL=http://" in content and "AWS_S3_FORCE_PATH_STYLE=true" in content
    assert "REDACT_LOGS_TO_CLIENT=true" in content
    assert "CONVEX_CLOUD_ORIGIN=https://api.convex.test" in content
    assert "CONVEX_SITE_ORIGIN=https://site.convex.test" in content
    assert "NEXT_PUBLIC_DEPLOYMENT_URL=https://api.convex.test" in content
    mysql_url = next(line for line in content.splitlines() if line.startswith("MYSQL_URL="))
    assert mysql_url.count("/") == 2, "no database name in MYSQL_URL"


def test_compose_images_are_pinned(host):
    compose = host.file("/opt/convex/docker-compose.yml").content_string
    assert ":latest" not in compose
    assert "/convex-test-standin/convex-backend:standin-" in compose
    assert "restart: unless-stopped" in compose


def test_containers_are_up_and_healthy(host):
    listed = host.check_output("docker compose -f /opt/convex/docker-compose.yml ps --format json")
    rows = [json.loads(line) for line in listed.splitlines() if line.strip()]
    states = {row["Service"]: (row["State"], row.get("Health", "")) for row in rows}
    assert states["backend"] == ("running", "healthy")
    assert states["dashboard"][0] == "running"


def test_container_ports_listen_on_loopback_only(host):
    for port in (3210, 3211, 6791):
        assert host.socket(f"tcp://127.0.0.1:{port}").is_listening
        assert not host.socket(f"tcp://0.0.0.0:{port}").is_listening
    assert host.socket("tcp://0.0.0.0:443").is_listening or host.socket("tcp://:::443").is_listening


def test_the_backend_cannot_gain_privileges(host):
    # docker's no-new-privileges (daemon.json) applies to every container the engine starts.
    status = host.check_output("docker compose -f /opt/convex/docker-compose.yml exec -T backend cat /proc/1/status")
    assert "NoNewPrivs:\t1" in status


def test_caddy_writes_a_json_access_log(host):
    host.check_output("curl -sk --resolve api.convex.test:443:127.0.0.1 https://api.convex.test/version")
    log = host.file("/var/log/caddy/access.log")
    assert log.exists and log.user == "caddy"
    last = json.loads(log.content_string.strip().splitlines()[-1])
    assert last["request"]["host"] == "api.convex.test" and last["status"] == 200
