"""dns against the emulator: a deployment's A records, and the names it no longer serves (an app
turned off), which go only while they still point at the deployment alone."""

from __future__ import annotations

import pytest
from module_runner import run_module

HOST = "203.0.113.20"
NAMES = ["api.dev.convex.example.com", "site.dev.convex.example.com", "dashboard.dev.convex.example.com"]
APP = "app.dev.convex.example.com"


@pytest.fixture
def zone(aws):
    created = aws.client("route53").create_hosted_zone(Name="example.com.", CallerReference="dns-test")
    return created["HostedZone"]["Id"].split("/")[-1]


def a_records(aws, zone):
    listed = aws.client("route53").list_resource_record_sets(HostedZoneId=zone)["ResourceRecordSets"]
    return {r["Name"].rstrip("."): [v["Value"] for v in r["ResourceRecords"]] for r in listed if r["Type"] == "A"}


def dns(aws, zone, check_mode=False, **extra):
    args = {**aws.connection_args(), "zone_id": zone, "records": dict.fromkeys(NAMES, HOST), **extra}
    result = run_module("dns", args, check_mode=check_mode)
    assert not result.failed, result
    return result


def test_check_then_real_then_no_change(aws, zone):
    assert dns(aws, zone, check_mode=True).changed and a_records(aws, zone) == {}
    assert dns(aws, zone).changed
    assert a_records(aws, zone) == dict.fromkeys(NAMES, [HOST])
    assert not dns(aws, zone, check_mode=True).changed
    assert not dns(aws, zone).changed


def test_a_retired_name_goes_only_while_it_points_at_the_deployment(aws, zone):
    dns(aws, zone, records={**dict.fromkeys(NAMES, HOST), APP: HOST})
    retired = {"retired": {APP: HOST}}
    assert dns(aws, zone, check_mode=True, **retired)["changes"] == [
        f"remove {APP}, which this deployment no longer serves"
    ]
    assert APP in a_records(aws, zone)
    assert dns(aws, zone, **retired).changed
    assert APP not in a_records(aws, zone)
    assert not dns(aws, zone, **retired).changed
    # Someone else's record under the same name is theirs: it stays.
    dns(aws, zone, records={APP: "198.51.100.9"})
    assert not dns(aws, zone, **retired).changed
    assert a_records(aws, zone)[APP] == ["198.51.100.9"]
