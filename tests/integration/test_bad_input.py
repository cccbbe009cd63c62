"""Bad input, one row each, over stage variables (through site.yml) and module parameters.

Every row must fail before anything changes: the emulator sees no request, and the message
names the input to fix. Stage rows run the real entry point, `ansible-playbook
playbooks/site.yml`, pointed at the test emulator, so a check that let bad input through would
show up here as AWS calls.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from module_runner import run_module

REPO = Path(__file__).resolve().parents[2]

# (stage variables given with -e, the name the message must carry)
STAGE_ROWS = [
    ({"convex_domain": "Not_A_Domain"}, "convex_domain"),
    ({"convex_domain": "https://convex.example.com"}, "convex_domain"),
    ({"stage_name": "Prod_1"}, "stage_name"),
    ({"stage_region": "mars-north-1"}, "stage_region"),
    ({"stage_region": "xx-north-9"}, "stage_region"),
    ({"stage_vpc_cidr": "10.40.0.0/33"}, "stage_vpc_cidr"),
    ({"stage_vpc_cidr": "172.18.0.0/16"}, "stage_vpc_cidr"),
    ({"stage_ssh_cidrs": ["my-laptop"]}, "stage_ssh_cidrs"),
    ({"stage_instance_type": "t3.small"}, "stage_instance_type"),
    ({"convex_version": "latest"}, "convex_version"),
    ({"stage_dashboard_cidrs": []}, "stage_dashboard_cidrs"),
    ({"caddy_site_prefix": "api"}, "caddy_site_prefix"),
    ({"stage_db_storage_gb": 10}, "stage_db_storage_gb"),
    ({"stage_db_engine_version": "5.7"}, "stage_db_engine_version"),
    ({"caddy_tls": "acme", "caddy_acme_email": ""}, "caddy_acme_email"),
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


def test_the_table_has_at_least_fifteen_rows():
    assert len(STAGE_ROWS) + len(MODULE_ROWS) >= 15


@pytest.mark.parametrize(("settings", "named"), STAGE_ROWS, ids=[json.dumps(row[0]) for row in STAGE_ROWS])
def test_stage_variable_is_refused_before_any_change(settings, named, aws):
    environment = aws.env()
    stage_environment = {k: environment[k] for k in environment if k.startswith("AWS_")}
    extra = {"stage_aws_environment": stage_environment, **settings}
    before = aws.request_count()
    run = subprocess.run(
        ["ansible-playbook", "playbooks/site.yml", "-i", "inventories/dev", "-e", json.dumps(extra)],
        cwd=REPO,
        capture_output=True,
        text=True,
        env={**environment, "PATH": f"{REPO / '.venv' / 'bin'}:{os.environ['PATH']}", "ANSIBLE_NOCOLOR": "1"},
        timeout=120,
        check=False,
    )
    output = run.stdout + run.stderr
    assert run.returncode != 0, output[-3000:]
    assert "fatal:" in output, output[-3000:]
    assert named in output[output.index("fatal:") :], output[-3000:]
    assert aws.request_count() == before, "no AWS call may happen before the stage's settings pass"


@pytest.mark.parametrize(
    ("module", "params", "named"), MODULE_ROWS, ids=[f"{row[0]}:{sorted(row[1])[-1]}" for row in MODULE_ROWS]
)
def test_module_parameter_is_refused_before_any_call(module, params, named, aws):
    args = {**aws.connection_args(), **params}
    before = aws.request_count()
    result = run_module(module, args)
    assert result.failed, result
    assert named in result["msg"], result["msg"]
    assert aws.request_count() == before, "a refused input must not reach AWS"
