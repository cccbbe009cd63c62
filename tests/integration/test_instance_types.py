"""The stage model's instance family table (module_utils/instance_types.py) against EC2's own
DescribeInstanceTypes, as the AWS emulator answers it from AWS's published data: every family it
knows has the architecture the table gives, and none is missing."""

from __future__ import annotations

import collections

from ansible_collections.convex_selfhost.aws.plugins.module_utils import instance_types


def families_as_ec2_describes_them(aws):
    found = collections.defaultdict(set)
    pages = aws.client("ec2").get_paginator("describe_instance_types").paginate()
    for page in pages:
        for described in page["InstanceTypes"]:
            family = instance_types.family_of(described["InstanceType"])
            found[family].update(described["ProcessorInfo"]["SupportedArchitectures"])
    return found


def test_every_family_ec2_describes_has_the_tables_architecture(aws):
    described = families_as_ec2_describes_them(aws)
    assert len(described) > 150, "the emulator described too few families to compare"
    wrong = {}
    for family, architectures in described.items():
        table = instance_types.architecture_of(f"{family}.large")
        if any("mac" in a for a in architectures):
            expected = "mac"
        else:
            expected = "arm64" if "arm64" in architectures else "x86_64"
        if table != expected:
            wrong[family] = (table, sorted(architectures))
    assert wrong == {}, f"family: (the table's, EC2's): {wrong}"
