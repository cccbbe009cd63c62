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

    def client(self, service):
        return boto3.client(
            service,
            region_name=self.region,
            endpoint_url=self.endpoint,
            aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        )

    def request_count(self):
        return self.server.request_count()

    def assert_refused_before_any_call(self, module, args, names):
        """Run module with bad args: it must fail, say `names`, and send AWS nothing."""
        before = self.request_count()
        result = run_module(module, args)
        assert result.failed, result
        assert names in result["msg"], result["msg"]
        assert self.request_count() == before, "a refused input must not reach AWS"


@pytest.fixture(scope="session")
def moto_server(tmp_path_factory):
    """A moto server on a free 127.0.0.1 port for the whole test session."""
    log = REPO / "tests" / "output" / f"moto-{os.getpid()}.log"
    server = MotoServer(log_path=log).start()
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
