"""Throttling and 5xx answers are retried with jittered backoff; other errors are not."""

import boto3
import botocore.config
import pytest
from botocore.exceptions import ClientError, WaiterError
from fault_proxy import FaultPolicy, FaultProxy
from module_runner import run_module

from ansible_collections.convex_selfhost.aws.plugins.module_utils.retry import Backoff, RetryingClient


def fast_backoff(attempts=8):
    return Backoff(attempts=attempts, base=0.001, cap=0.01)


def client_through(aws, proxy, service):
    raw = boto3.client(
        service,
        region_name=aws.region,
        endpoint_url=proxy.endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",  # noqa: S106 - a fake value for the emulator
        config=botocore.config.Config(retries={"total_max_attempts": 1}),
    )
    return RetryingClient(raw, fast_backoff())


@pytest.mark.parametrize("kind", ["throttle", "503"])
def test_module_succeeds_when_the_first_calls_fail(aws, kind):
    policy = FaultPolicy(fail_first=3, kinds=(kind,))
    with FaultProxy(aws.endpoint, policy) as proxy:
        result = run_module("account_info", aws.connection_args(endpoint=proxy.endpoint))
    assert not result.failed, result
    assert result["account_id"] == "123456789012"
    assert policy.failed == 3
    assert policy.seen == 4, "three failed attempts and one that got through"


@pytest.mark.parametrize(
    ("service", "call"),
    [
        ("ec2", lambda c: c.describe_vpcs()),
        ("s3", lambda c: c.list_buckets()),
        ("ssm", lambda c: c.describe_parameters()),
        ("iam", lambda c: c.list_roles()),
        ("rds", lambda c: c.describe_db_instances()),
    ],
)
def test_each_protocols_throttling_error_is_retried(aws, service, call):
    policy = FaultPolicy(fail_first=2, kinds=("throttle",))
    with FaultProxy(aws.endpoint, policy) as proxy:
        call(client_through(aws, proxy, service))
    assert (policy.seen, policy.failed) == (3, 2)


def test_paginated_listing_is_retried_as_a_whole(aws):
    ec2 = aws.client("ec2")
    for index in range(3):
        ec2.create_vpc(CidrBlock=f"10.{index}.0.0/16")
    policy = FaultPolicy(fail_first=1, kinds=("throttle",))
    with FaultProxy(aws.endpoint, policy) as proxy:
        listing = client_through(aws, proxy, "ec2").paginate("describe_vpcs")
    assert len(listing["Vpcs"]) == 4, "three VPCs plus the default one"
    assert policy.failed == 1


def test_waiter_rides_out_throttling_and_bare_503s(aws):
    # A bare botocore waiter ends at the first throttled poll; a stage run under throttling
    # found that (database wait=true), so waits go through the retrying client.
    vpc = aws.client("ec2").create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    policy = FaultPolicy(fail_first=4, kinds=("throttle", "503"))
    with FaultProxy(aws.endpoint, policy) as proxy:
        client_through(aws, proxy, "ec2").wait("vpc_available", delay=1, max_attempts=10, VpcIds=[vpc])
    assert (policy.seen, policy.failed) == (5, 4)
    assert set(policy.answered) == {"RequestLimitExceeded", "503"}


def test_waiter_still_stops_at_a_real_error(aws):
    policy = FaultPolicy()
    with FaultProxy(aws.endpoint, policy) as proxy, pytest.raises(WaiterError):
        client_through(aws, proxy, "ec2").wait(
            "vpc_available", delay=1, max_attempts=3, VpcIds=["vpc-0123456789abcdef0"]
        )
    assert policy.seen == 1


def test_gives_up_after_the_last_attempt(aws):
    policy = FaultPolicy(fail_first=100, kinds=("throttle",))
    with FaultProxy(aws.endpoint, policy) as proxy:
        client = client_through(aws, proxy, "sts")
        client._backoff = fast_backoff(attempts=3)
        with pytest.raises(ClientError) as raised:
            client.get_caller_identity()
    assert raised.value.response["Error"]["Code"] == "Throttling"
    assert policy.seen == 3


def test_real_errors_are_not_retried(aws):
    policy = FaultPolicy()
    with FaultProxy(aws.endpoint, policy) as proxy, pytest.raises(ClientError) as raised:
        client_through(aws, proxy, "ec2").describe_vpcs(VpcIds=["vpc-00000000"])
    assert raised.value.response["Error"]["Code"] == "InvalidVpcID.NotFound"
    assert policy.seen == 1


def test_backoff_grows_with_jitter_and_stops_at_the_cap():
    low = Backoff(base=1.0, cap=8.0, rand=lambda a, b: a)
    high = Backoff(base=1.0, cap=8.0, rand=lambda a, b: b)
    assert [low.delay(n) for n in range(5)] == [0.5, 1.0, 2.0, 4.0, 4.0]
    assert [high.delay(n) for n in range(5)] == [1.0, 2.0, 4.0, 8.0, 8.0]
    waits = []
    Backoff(base=1.0, cap=8.0, sleep=waits.append).wait(2)
    assert 2.0 <= waits[0] <= 4.0


def test_backoff_needs_one_attempt():
    with pytest.raises(ValueError, match="attempts"):
        Backoff(attempts=0)
