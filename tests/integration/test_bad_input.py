"""Bad input, one row each, over a deployment's settings (through site.yml) and module parameters.

Every row must fail before anything changes, and its message must name the setting to fix.
Stage rows run the real entry point, `ansible-playbook playbooks/site.yml -i inventories/dev`,
pointed at the test emulator and at a real registry that holds the pinned release, so a check
that let bad input through would show up as an AWS write in the emulator's recording. Rows the
stage model can refuse from the settings alone make no AWS call at all; rows only AWS can judge
(an instance type not offered, a zone or key pair that does not exist) make reads, no write.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

# A folder of this repository with an index.html at the top, so that only the prefix is wrong.
APP_SOURCE = str(REPO / "examples" / "chat")

# (deployment settings given with -e, the setting the message must name, AWS consulted)
STAGE_ROWS = [
    ({"stage_name": "Prod_1"}, "stage_name", False),
    ({"stage_name": "dev\n"}, "stage_name", False),
    ({"stage_name": ""}, "stage_name", False),
    ({"stage_region": "mars-north-1"}, "stage_region", False),
    ({"stage_region": "xx-north-9"}, "stage_region", False),
    ({"stage_protected": "maybe"}, "stage_protected", False),
    ({"convex_domain": "Not_A_Domain"}, "convex_domain", False),
    ({"convex_domain": "https://convex.example.com"}, "convex_domain", False),
    ({"convex_domain": "dev.convex.example.com\n"}, "convex_domain", False),
    ({"convex_version": "latest"}, "convex_version", False),
    ({"convex_version": "94a42c3db8d7ba6d9fe36f2698f9d9d9daaac731"}, "convex_version", False),
    ({"convex_instance_name": "Convex_Self"}, "convex_instance_name", False),
    ({"stage_os": "windows2022"}, "stage_os", False),
    ({"stage_architecture": "sparc"}, "stage_architecture", False),
    ({"stage_instance_type": "t3.small"}, "stage_instance_type", False),
    ({"stage_instance_type": "nonsense"}, "stage_instance_type", False),
    ({"stage_instance_type": "t4g.gigantic"}, "stage_instance_type", True),
    ({"stage_vpc_cidr": "10.40.0.0/33"}, "stage_vpc_cidr", False),
    ({"stage_vpc_cidr": "172.18.0.0/16"}, "stage_vpc_cidr", False),
    ({"stage_vpc_cidr": "10.0.0.0/8"}, "stage_vpc_cidr", False),
    ({"stage_ssh_cidrs": ["my-laptop"]}, "stage_ssh_cidrs", False),
    ({"stage_dashboard_cidrs": []}, "stage_dashboard_cidrs", False),
    ({"stage_db_engine_version": "5.7"}, "stage_db_engine_version", False),
    ({"stage_db_instance_class": "db.huge.enormous"}, "stage_db_instance_class", False),
    ({"stage_db_instance_class": "m5.large"}, "stage_db_instance_class", False),
    ({"stage_db_storage_gb": 10}, "stage_db_storage_gb", False),
    ({"stage_db_storage_gb": "twenty"}, "stage_db_storage_gb", False),
    ({"stage_db_backup_days": 40}, "stage_db_backup_days", False),
    ({"stage_export_retention_days": "two weeks"}, "stage_export_retention_days", False),
    ({"stage_bucket_versioning": "sometimes"}, "stage_bucket_versioning", False),
    ({"stage_extra_tags": {"aws:owner": "me"}}, "stage_extra_tags", False),
    ({"stage_extra_tags": {"k" * 129: "v"}}, "stage_extra_tags", False),
    ({"stage_extra_tags": {"cost-centre": "a{b}"}}, "stage_extra_tags", False),
    ({"stage_dns_zone": "other.org"}, "stage_dns_zone", False),
    ({"stage_dns_zone": "convex.example.com"}, "stage_dns_zone", True),
    ({"stage_ssh_key_name": "no-such-key"}, "stage_ssh_key_name", True),
    ({"stage_aws_environment": "AWS_PROFILE=admin"}, "stage_aws_environment", False),
    ({"stage_instnace_type": "t4g.small"}, "stage_instnace_type", False),
    ({"caddy_site_prefix": "api"}, "caddy_site_prefix", False),
    ({"caddy_tls": "letsencrypt"}, "caddy_tls", False),
    ({"caddy_tls": "acme", "caddy_acme_email": ""}, "caddy_acme_email", False),
    ({"convex_public_port": 70000}, "convex_public_port", False),
    ({"stage_ssh_cidrs": ["0.0.0.0/0"]}, "stage_ssh_cidrs", False),
    ({"stage_dashboard_cidrs": ["::/0"]}, "stage_dashboard_cidrs", False),
    ({"stage_ssh_key_name": ""}, "stage_ssh_key_name", False),
    ({"stage_ssh_cidrs": []}, "stage_ssh_cidrs", False),
    ({"stage_bucket_tls_only": "sometimes"}, "stage_bucket_tls_only", False),
    ({"stage_db_max_storage_gb": 10}, "stage_db_max_storage_gb", False),
    ({"stage_aws_environment": {"AWS_PROFILE": 3}}, "stage_aws_environment", False),
    ({"stage_frontend_dir": "examples/chat/dist"}, "stage_frontend_dir", False),
    ({"stage_frontend_dir": str(REPO / "roles")}, "stage_frontend_dir", False),
    ({"stage_frontend_dir": APP_SOURCE, "caddy_app_prefix": "api"}, "caddy_app_prefix", False),
    ({"caddy_app_prefix": "App_1"}, "caddy_app_prefix", False),
    # Tables that were incomplete or wrong: Graviton's a1, Mac types, the sizes of a class family.
    ({"stage_instance_type": "a1.large", "stage_architecture": "x86_64"}, "stage_instance_type", False),
    ({"stage_instance_type": "mac2.metal"}, "stage_instance_type", False),
    ({"stage_instance_type": "c99z.large"}, "stage_instance_type", True),
    ({"stage_db_instance_class": "db.t4g.8xlarge"}, "stage_db_instance_class", False),
    ({"stage_db_instance_class": "db.m5.micro"}, "stage_db_instance_class", False),
    ({"stage_db_instance_class": "db.z1d.large"}, "stage_db_instance_class", False),
    # Rules between settings that AWS enforces.
    ({"stage_db_max_storage_gb": 21}, "stage_db_max_storage_gb", False),
    ({"stage_db_storage_gb": 100, "stage_db_max_storage_gb": 105}, "stage_db_max_storage_gb", False),
    ({"convex_instance_name": "1convex"}, "convex_instance_name", False),
    ({"stage_swap_mb": 4096, "stage_root_volume_gb": 8}, "stage_swap_mb", False),
    ({"stage_root_volume_gb": 4}, "stage_root_volume_gb", False),
    ({"stage_swap_mb": -1}, "stage_swap_mb", False),
    # CloudWatch Logs takes only its own list of retention periods.
    ({"stage_log_retention_days": 45}, "stage_log_retention_days", False),
    ({"stage_log_retention_days": "forever"}, "stage_log_retention_days", False),
    # Who hears of the alarms, and when.
    ({"stage_alarm_email": "ops at example.com"}, "stage_alarm_email", False),
    ({"stage_alarm_topic_arns": ["arn:aws:sns:eu-west-1:123456789012:pager.fifo"]}, "stage_alarm_topic_arns", False),
    ({"stage_alarm_topic_arns": ["arn:aws:sns:us-west-2:123456789012:pager"]}, "stage_alarm_topic_arns", False),
    (
        {"stage_alarm_topic_arns": [f"arn:aws:sns:eu-west-1:123456789012:pager-{n}" for n in range(4)]},
        "stage_alarm_topic_arns",
        False,
    ),
    # The deployment's own topic, which every alarm notifies anyway.
    (
        {"stage_alarm_topic_arns": ["arn:aws:sns:eu-west-1:123456789012:convex-dev-alarms"]},
        "stage_alarm_topic_arns",
        False,
    ),
    ({"stage_alarm_disk_percent": 100}, "stage_alarm_disk_percent", False),
    # Tag text IAM, S3 or EC2 refuse, and the collection's own keys.
    ({"stage_extra_tags": {"team": "core\tplatform"}}, "stage_extra_tags", False),
    ({"stage_extra_tags": {"team": "core\n"}}, "stage_extra_tags", False),
    ({"stage_extra_tags": {"convex_selfhost:stage": "production"}}, "stage_extra_tags", False),
    ({"stage_extra_tags": {"convex_selfhost:protected": "false"}}, "stage_extra_tags", False),
    # Everyone, however it is written.
    ({"stage_dashboard_cidrs": ["0::/0"]}, "stage_dashboard_cidrs", False),
    ({"stage_dashboard_cidrs": ["::0/0"]}, "stage_dashboard_cidrs", False),
    ({"stage_ssh_cidrs": ["0.0.0.0/00"]}, "stage_ssh_cidrs", False),
    ({"stage_ssh_cidrs": ["0.0.0.0/1", "128.0.0.0/1"]}, "stage_ssh_cidrs", False),
    # The roles' settings, judged on the controller before provisioning.
    ({"convex_export_schedule": "every day"}, "convex_export_schedule", False),
    ({"convex_export_schedule": "03:00 daily"}, "convex_export_schedule", False),
    ({"caddy_dashboard_access": "basic_auth"}, "caddy_dashboard_users", False),
    (
        {"caddy_dashboard_access": "both", "caddy_dashboard_users": [{"name": "ops", "password_hash": "hunter2"}]},
        "caddy_dashboard_users",
        False,
    ),
    ({"convex_backend_env": {"AWS_SECRET_ACCESS_KEY": "x"}}, "convex_backend_env", False),
    ({"convex_backend_env": {"INSTANCE_SECRET": "0" * 64}}, "convex_backend_env", False),
    ({"convex_backend_env": {"LOG_LEVEL": "info\nINSTANCE_SECRET=x"}}, "convex_backend_env", False),
]


# (module, parameters besides the connection, the words the message must carry)
MODULE_ROWS = [
    ("buckets", {"prefix": "Convex_Dev"}, "prefix 'Convex_Dev'"),
    (
        "network",
        {
            "name": "convex-dev",
            "cidr": "10.40.0.0/16",
            "public_subnet_cidrs": ["10.40.0.0/20", "10.40.16.0/20"],
            "private_subnet_cidrs": ["10.40.16.0/20", "10.40.32.0/20"],
        },
        "private_subnet_cidrs entry '10.40.16.0/20' overlaps public_subnet_cidrs",
    ),
    ("network", {"name": "convex-dev", "cidr": "10.0.0.0/8"}, "cidr '10.0.0.0/8'"),
    (
        "instance",
        {"name": "convex-dev", "instance_type": "t3.small", "architecture": "arm64"},
        "instance_type 't3.small' is x86_64, but the architecture is arm64",
    ),
    ("secret", {"name": "/convex/dev/instance_secret", "length": 4}, "length 4"),
    (
        "database",
        {
            "name": "convex-dev",
            "subnet_ids": ["subnet-1", "subnet-2"],
            "security_group_ids": ["sg-1"],
            "allocated_storage": 10,
        },
        "allocated_storage 10",
    ),
    ("account_info", {"region": "xx-north-9"}, "region 'xx-north-9'"),
]


def test_the_tables_are_long_enough():
    assert len(STAGE_ROWS) >= 70
    assert len(STAGE_ROWS) + len(MODULE_ROWS) >= 77


@pytest.mark.parametrize(("settings", "named", "asks_aws"), STAGE_ROWS, ids=[json.dumps(row[0]) for row in STAGE_ROWS])
def test_stage_setting_is_refused_before_any_write(settings, named, asks_aws, aws, dev_stage):
    def run():
        done = dev_stage("site.yml", timeout=120, **settings)
        output = done.stdout + done.stderr
        return done.returncode != 0 and "fatal:" in output, output[output.find("fatal:") :]

    before = len(aws.calls())
    aws.assert_refused_before_any_call(run, named, writes_only=True)
    asked = aws.calls()[before:]
    # The stage model asks AWS only once the settings alone are usable.
    assert bool(asked) is asks_aws, asked


def test_frontend_playbook_without_an_app_is_refused_before_any_call(aws, dev_stage):
    def run():
        done = dev_stage("frontend.yml", timeout=120)
        output = done.stdout + done.stderr
        return done.returncode != 0 and "fatal:" in output, output[output.find("fatal:") :]

    aws.assert_refused_before_any_call(run, "stage_frontend_dir is not set for dev")


def test_a_missing_build_stops_only_the_runs_that_copy_it(aws, dev_stage):
    """A stage with an app, on a machine without its build (a fresh clone): site.yml, which
    copies it, is refused; a teardown, which needs no build, is not."""
    missing = {"stage_frontend_dir": "/nonexistent/examples/chat/dist"}
    refused = dev_stage("site.yml", timeout=120, **missing)
    assert refused.returncode != 0 and "stage_frontend_dir: /nonexistent/examples/chat/dist holds no index.html" in (
        refused.stdout
    ), refused.stdout[-2000:]
    teardown = dev_stage("teardown.yml", timeout=300, **missing)
    assert teardown.returncode == 0, teardown.stdout[-3000:]


@pytest.mark.parametrize(
    ("module", "params", "named"), MODULE_ROWS, ids=[f"{row[0]}:{sorted(row[1])[-1]}" for row in MODULE_ROWS]
)
def test_module_parameter_is_refused_before_any_call(module, params, named, aws):
    aws.assert_module_refuses(module, {**aws.connection_args(), **params}, named)
