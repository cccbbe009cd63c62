"""The convex and caddy roles' own checks (tasks/validate.yml), run by Ansible on this machine: a
role given several bad settings stops before anything changes, naming every one of them in one
failure; good settings pass."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

GOOD_CONVEX = {
    "convex_version": "652b828b5129e6cdbcaa3c20efa8d116d09ff3bf",
    "convex_domain": "convex.example.com",
    "convex_instance_secret": "ab" * 32,
    "convex_aws_region": "eu-west-1",
    "convex_s3_buckets": {
        name: f"bucket-{n}"
        for n, name in enumerate(
            [
                "S3_STORAGE_EXPORTS_BUCKET",
                "S3_STORAGE_FILES_BUCKET",
                "S3_STORAGE_MODULES_BUCKET",
                "S3_STORAGE_SEARCH_BUCKET",
                "S3_STORAGE_SNAPSHOT_IMPORTS_BUCKET",
            ]
        )
    },
    "convex_mysql_host": "db.internal",
    "convex_mysql_password": "pw",
    "convex_log_group": "/convex/convex-dev",
}
GOOD_CADDY = {
    "caddy_domain": "convex.example.com",
    "caddy_acme_email": "ops@example.com",
    "caddy_dashboard_allowed_cidrs": ["198.51.100.0/24"],
}


def check(role, variables, tmp_path):
    """The role's validate.yml on localhost: (ok, Ansible's output)."""
    playbook = tmp_path / "check.yml"
    playbook.write_text(
        "- hosts: localhost\n  gather_facts: false\n  tasks:\n"
        f"    - ansible.builtin.include_role:\n        name: {role}\n        tasks_from: validate.yml\n"
    )
    done = subprocess.run(
        [str(Path(sys.executable).with_name("ansible-playbook")), str(playbook), "-e", json.dumps(variables)],
        capture_output=True,
        text=True,
        check=False,
        cwd=REPO,
        env=dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_NOCOLOR="1"),
    )
    return done.returncode == 0, done.stdout + done.stderr


def test_good_convex_settings_pass(tmp_path):
    ok, output = check("convex", GOOD_CONVEX, tmp_path)
    assert ok, output[-2000:]


def test_every_bad_convex_setting_is_named_in_one_failure(tmp_path):
    bad = {
        **GOOD_CONVEX,
        "convex_instance_secret": "not-hex",
        "convex_mysql_host": "db.internal/convex",
        "convex_s3_buckets": {"S3_STORAGE_FILES_BUCKET": "one"},
        "convex_export_schedule": "every day",
        "convex_log_group": "/convex/with space",
        "convex_log_buffer_size": "lots",
    }
    ok, output = check("convex", bad, tmp_path)
    assert not ok
    failure = next(line for line in output.splitlines() if "Not usable:" in line)
    for name in (
        "convex_instance_secret",
        "convex_mysql_host",
        "convex_s3_buckets",
        "convex_export_schedule",
        "convex_log_group",
        "convex_log_buffer_size",
    ):
        assert f"{name}: " in failure, (name, failure)
    assert "not-hex" not in output, "a secret's value is never printed"
    assert "convex_domain" not in failure and "convex_mysql_password" not in failure


def test_good_caddy_settings_pass(tmp_path):
    ok, output = check("caddy", GOOD_CADDY, tmp_path)
    assert ok, output[-2000:]


def test_every_bad_caddy_setting_is_named_in_one_failure(tmp_path):
    bad = {
        **GOOD_CADDY,
        "caddy_acme_email": "nobody",
        "caddy_site_prefix": "api",
        "caddy_dashboard_allowed_cidrs": [],
        "caddy_acme_ca": "http://insecure.example.com/directory",
        "caddy_dashboard_users": [{"name": "ops team", "password_hash": "plain"}],
    }
    ok, output = check("caddy", bad, tmp_path)
    assert not ok
    failure = next(line for line in output.splitlines() if "Not usable:" in line)
    for name in (
        "caddy_acme_email",
        "caddy_dashboard_prefix",
        "caddy_dashboard_allowed_cidrs",
        "caddy_acme_ca",
        "caddy_dashboard_users",
    ):
        assert f"{name}" in failure, (name, failure)
    assert "must be different DNS labels" in failure
    assert "caddy_domain:" not in failure
