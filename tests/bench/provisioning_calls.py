"""Count the AWS API calls of a first and a no-op provisioning run of the whole stack.

Runs tests/bench/provision_stack.yml twice against a fresh moto server and counts the
requests in the emulator's own log. Prints a short table; used by a test that holds the
no-op run to its budget.

    .venv/bin/python tests/bench/provisioning_calls.py
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "harness"))

import boto3  # noqa: E402
from moto_server import MotoServer  # noqa: E402

NOOP_BUDGET = 60
REGION = "us-east-1"


def run_playbook(env, zone_id):
    started = time.monotonic()
    completed = subprocess.run(
        [
            str(Path(sys.executable).with_name("ansible-playbook")),
            str(REPO / "tests" / "bench" / "provision_stack.yml"),
            "-e",
            json.dumps({"bench_region": REGION, "bench_zone_id": zone_id}),
        ],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"provision_stack.yml failed:\n{completed.stdout}\n{completed.stderr}")
    recap = [line for line in completed.stdout.splitlines() if line.startswith("localhost")]
    return time.monotonic() - started, recap[-1] if recap else ""


def measure():
    with tempfile.TemporaryDirectory() as scratch, MotoServer(Path(scratch) / "emulator") as server:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(
            AWS_ACCESS_KEY_ID="testing",
            AWS_SECRET_ACCESS_KEY="testing",  # noqa: S106 - a fake value for the emulator
            AWS_REGION=REGION,
            # amazon.aws.route53 takes no region option of its own; against an emulator endpoint
            # botocore then wants the SDK's default region.
            AWS_DEFAULT_REGION=REGION,
            AWS_ENDPOINT_URL=server.endpoint,
            ANSIBLE_CONFIG=str(REPO / "ansible.cfg"),
            ANSIBLE_NOCOLOR="1",
        )
        route53 = boto3.client(
            "route53",
            region_name=REGION,
            endpoint_url=server.endpoint,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",  # noqa: S106 - a fake value for the emulator
        )
        zone_id = route53.create_hosted_zone(Name="bench.example.test.", CallerReference="bench")["HostedZone"]["Id"]
        zone_id = zone_id.split("/")[-1]

        before = server.request_count()
        first_seconds, first_recap = run_playbook(env, zone_id)
        first_calls = server.request_count() - before
        before = server.request_count()
        noop_seconds, noop_recap = run_playbook(env, zone_id)
        noop_calls = server.request_count() - before
    return {
        "first": {"calls": first_calls, "seconds": round(first_seconds, 1), "recap": first_recap},
        "noop": {"calls": noop_calls, "seconds": round(noop_seconds, 1), "recap": noop_recap},
        "noop_budget": NOOP_BUDGET,
    }


def main():
    figures = measure()
    met = "met" if figures["noop"]["calls"] <= NOOP_BUDGET else "NOT met"
    print(f"{'run':<24}{'AWS API calls':>14}{'seconds':>10}")
    print(f"{'first provisioning':<24}{figures['first']['calls']:>14}{figures['first']['seconds']:>10}")
    print(f"{'no-op re-run':<24}{figures['noop']['calls']:>14}{figures['noop']['seconds']:>10}")
    print(f"no-op budget: <= {NOOP_BUDGET} calls: {met}")
    print(f"no-op recap: {figures['noop']['recap']}")


if __name__ == "__main__":
    main()
