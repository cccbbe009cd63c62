"""Shared fixtures: an AWS emulator (moto server) for the whole session, fresh state per test."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import boto3
import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "harness"))
sys.path.insert(0, str(REPO / ".cache" / "collections"))

from module_runner import run_module  # noqa: E402
from moto_server import MotoServer  # noqa: E402

REGION = "us-east-1"
# moto accepts any credentials; fixed fake ones keep a developer's real ones out of tests.
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",  # noqa: S105 - a fake value for the emulator
}
# The tests' own look-ups use another key, so that counting what the code under test asked
# leaves them out.
INSPECTOR_KEY = "inspector"


class AwsEmulator:
    """What a test needs to talk to the emulator: endpoint, environment, boto3 clients."""

    def __init__(self, server):
        self.server = server
        self.endpoint = server.endpoint
        self.region = REGION

    def env(self, endpoint=None):
        """Environment for a subprocess: the one documented way (AWS_ENDPOINT_URL) to point
        every module, role and SDK client at an emulator, plus region and fake credentials."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(FAKE_CREDENTIALS)
        env["AWS_REGION"] = self.region
        # Stock modules without a region option (amazon.aws.route53) fall back to the SDK's.
        env["AWS_DEFAULT_REGION"] = self.region
        env["AWS_ENDPOINT_URL"] = endpoint or self.endpoint
        return env

    def connection_args(self, endpoint=None):
        """The shared connection options, passed as module parameters."""
        return {
            "region": self.region,
            "endpoint_url": endpoint or self.endpoint,
            "access_key": FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            "secret_key": FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        }

    def client(self, service, region_name=None):
        """A boto3 client for the test's own look-ups (not counted as the code's calls)."""
        return boto3.client(
            service,
            region_name=region_name or self.region,
            endpoint_url=self.endpoint,
            aws_access_key_id=INSPECTOR_KEY,
            aws_secret_access_key=INSPECTOR_KEY,
        )

    def calls(self):
        """Every AWS call the code under test made so far (the tests' own look-ups aside)."""
        return [c for c in self.server.calls() if c.access_key != INSPECTOR_KEY]

    def request_count(self):
        return len(self.calls())

    def assert_refused_before_any_call(self, run, names, writes_only=False):
        """run() -> (failed, message) must fail, name `names`, and ask AWS nothing (with
        writes_only: change nothing, though it may have read)."""
        before = len(self.calls())
        failed, message = run()
        assert failed, message
        assert names in message, message
        made = self.calls()[before:]
        if writes_only:
            made = [c for c in made if c.writes]
        assert made == [], f"a refused input must not reach AWS{' with a write' if writes_only else ''}: {made}"

    def assert_module_refuses(self, module, args, names):
        """Run module with bad args: it must fail, say `names`, and send AWS nothing."""

        def run():
            result = run_module(module, args)
            return result.failed, result.get("msg", "")

        self.assert_refused_before_any_call(run, names)

    def holdings(self):
        """Everything any module could have made, by kind; empty lists on a new account."""
        ec2 = self.client("ec2")
        rds = self.client("rds")
        reservations = ec2.describe_instances()["Reservations"]
        return {
            "vpcs": [v["VpcId"] for v in ec2.describe_vpcs()["Vpcs"] if not v["IsDefault"]],
            "instances": [i["InstanceId"] for r in reservations for i in r["Instances"]],
            "addresses": ec2.describe_addresses()["Addresses"],
            "buckets": self.client("s3").list_buckets()["Buckets"],
            "parameters": self.client("ssm").describe_parameters()["Parameters"],
            "databases": rds.describe_db_instances()["DBInstances"],
            "db_subnet_groups": rds.describe_db_subnet_groups()["DBSubnetGroups"],
            "roles": self.client("iam").list_roles()["Roles"],
            "instance_profiles": self.client("iam").list_instance_profiles()["InstanceProfiles"],
        }


@pytest.fixture(scope="session")
def moto_server(tmp_path_factory):
    """A moto server on a free 127.0.0.1 port for the whole test session."""
    server = MotoServer(REPO / "tests" / "output" / f"emulator-{os.getpid()}").start()
    yield server
    server.stop()


@pytest.fixture
def aws(moto_server):
    """The emulator with no resources in it, as a new account would be."""
    moto_server.reset()
    return AwsEmulator(moto_server)


@pytest.fixture(scope="session")
def moto_endpoint(moto_server):
    """The emulator's endpoint URL, for tests that need nothing else."""
    return moto_server.endpoint
