"""network against the emulator: one call makes, keeps and removes the whole network."""

import pytest
from module_runner import run_module

NAME = "convex-test"


def network_args(aws, **extra):
    return {**aws.connection_args(), "name": NAME, "tags": {"stage": "test"}, **extra}


def our_vpcs(aws):
    return aws.client("ec2").describe_vpcs(Filters=[{"Name": "tag:Name", "Values": [NAME]}])["Vpcs"]


def ingress(aws, group_id):
    group = aws.client("ec2").describe_security_groups(GroupIds=[group_id])["SecurityGroups"][0]
    rules = set()
    for permission in group["IpPermissions"]:
        for item in permission.get("IpRanges", []):
            rules.add((permission["FromPort"], item["CidrIp"]))
        for item in permission.get("UserIdGroupPairs", []):
            rules.add((permission["FromPort"], item["GroupId"]))
    return rules


def counts(aws, vpc_id):
    ec2 = aws.client("ec2")
    by_vpc = [{"Name": "vpc-id", "Values": [vpc_id]}]
    return {
        "subnets": len(ec2.describe_subnets(Filters=by_vpc)["Subnets"]),
        "route_tables": len(ec2.describe_route_tables(Filters=by_vpc)["RouteTables"]),
        "groups": len(ec2.describe_security_groups(Filters=by_vpc)["SecurityGroups"]),
        "gateways": len(
            ec2.describe_internet_gateways(Filters=[{"Name": "attachment.vpc-id", "Values": [vpc_id]}])[
                "InternetGateways"
            ]
        ),
    }


def test_create_builds_the_whole_network(aws):
    result = run_module("network", network_args(aws, admin_cidrs=["203.0.113.10/32"]))
    assert not result.failed, result
    assert result.changed
    (vpc,) = our_vpcs(aws)
    assert vpc["CidrBlock"] == "10.40.0.0/16" == result["vpc_cidr"]
    assert result["vpc_id"] == vpc["VpcId"]
    # 4 subnets; main + public + private route tables; default + host + database groups.
    assert counts(aws, vpc["VpcId"]) == {"subnets": 4, "route_tables": 3, "groups": 3, "gateways": 1}
    ec2 = aws.client("ec2")
    subnets = {
        s["SubnetId"]: s
        for s in ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc["VpcId"]]}])["Subnets"]
    }
    public = [subnets[i] for i in result["public_subnet_ids"]]
    private = [subnets[i] for i in result["private_subnet_ids"]]
    assert [s["CidrBlock"] for s in public] == ["10.40.0.0/20", "10.40.16.0/20"]
    assert [s["CidrBlock"] for s in private] == ["10.40.128.0/20", "10.40.144.0/20"]
    assert {s["AvailabilityZone"] for s in public} == set(result["availability_zones"])
    assert len(set(result["availability_zones"])) == 2
    assert all(s["MapPublicIpOnLaunch"] for s in public)
    assert not any(s["MapPublicIpOnLaunch"] for s in private)
    public_table = ec2.describe_route_tables(RouteTableIds=[result["public_route_table_id"]])["RouteTables"][0]
    assert {"DestinationCidrBlock": "0.0.0.0/0", "GatewayId": result["internet_gateway_id"]}.items() <= next(
        r for r in public_table["Routes"] if r.get("DestinationCidrBlock") == "0.0.0.0/0"
    ).items()
    private_table = ec2.describe_route_tables(RouteTableIds=[result["private_route_table_id"]])["RouteTables"][0]
    assert not [r for r in private_table["Routes"] if r.get("DestinationCidrBlock") == "0.0.0.0/0"]
    assert ingress(aws, result["host_security_group_id"]) == {
        (80, "0.0.0.0/0"),
        (443, "0.0.0.0/0"),
        (22, "203.0.113.10/32"),
    }
    assert ingress(aws, result["database_security_group_id"]) == {(3306, result["host_security_group_id"])}


def test_no_ssh_rule_without_admin_cidrs(aws):
    result = run_module("network", network_args(aws))
    assert ingress(aws, result["host_security_group_id"]) == {(80, "0.0.0.0/0"), (443, "0.0.0.0/0")}


def test_second_run_reports_no_change_and_the_same_ids(aws):
    first = run_module("network", network_args(aws))
    again = run_module("network", network_args(aws))
    assert not again.failed, again
    assert again.changed is False, again["changes"]
    for key in ("vpc_id", "public_subnet_ids", "private_subnet_ids", "host_security_group_id"):
        assert again[key] == first[key]


def test_check_mode_reports_changes_and_makes_none(aws):
    missing = run_module("network", network_args(aws), check_mode=True)
    assert missing.changed
    assert our_vpcs(aws) == []

    created = run_module("network", network_args(aws))
    with_ssh = run_module("network", network_args(aws, admin_cidrs=["198.51.100.0/24"]), check_mode=True, diff=True)
    assert with_ssh.changed
    assert "198.51.100.0/24" in with_ssh["diff"]["after"]
    assert (22, "198.51.100.0/24") not in ingress(aws, created["host_security_group_id"])


def test_drift_made_by_hand_is_repaired(aws):
    created = run_module("network", network_args(aws))
    ec2 = aws.client("ec2")
    ec2.revoke_security_group_ingress(
        GroupId=created["host_security_group_id"],
        IpPermissions=[{"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}],
    )
    ec2.authorize_security_group_ingress(
        GroupId=created["database_security_group_id"],
        IpPermissions=[{"IpProtocol": "tcp", "FromPort": 3306, "ToPort": 3306, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}],
    )
    ec2.delete_route(RouteTableId=created["public_route_table_id"], DestinationCidrBlock="0.0.0.0/0")
    ec2.delete_tags(Resources=[created["vpc_id"]], Tags=[{"Key": "stage"}])
    repaired = run_module("network", network_args(aws))
    assert repaired.changed
    assert len(repaired["changes"]) == 4, repaired["changes"]
    assert (443, "0.0.0.0/0") in ingress(aws, created["host_security_group_id"])
    assert ingress(aws, created["database_security_group_id"]) == {(3306, created["host_security_group_id"])}
    assert run_module("network", network_args(aws)).changed is False


def test_absent_removes_everything_it_made(aws):
    created = run_module("network", network_args(aws, admin_cidrs=["203.0.113.10/32"]))
    removed = run_module("network", network_args(aws, state="absent"))
    assert not removed.failed, removed
    assert removed.changed
    assert our_vpcs(aws) == []
    ec2 = aws.client("ec2")
    assert ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [created["vpc_id"]]}])["Subnets"] == []
    assert ec2.describe_internet_gateways(InternetGatewayIds=[])["InternetGateways"] == [] or created[
        "internet_gateway_id"
    ] not in {g["InternetGatewayId"] for g in ec2.describe_internet_gateways()["InternetGateways"]}
    assert run_module("network", network_args(aws, state="absent")).changed is False


@pytest.mark.parametrize(
    ("bad", "names"),
    [
        ({"cidr": "10.40.0.0/33"}, "cidr '10.40.0.0/33'"),
        ({"cidr": "10.40.0.1/16"}, "cidr '10.40.0.1/16'"),
        ({"cidr": "10.0.0.0/8"}, "must be from /16 to /24"),
        (
            {"public_subnet_cidrs": ["10.40.0.0/20", "10.40.8.0/21"]},
            "public_subnet_cidrs entry '10.40.8.0/21' overlaps public_subnet_cidrs entry '10.40.0.0/20'",
        ),
        (
            {"private_subnet_cidrs": ["10.40.0.0/24", "10.40.200.0/24"]},
            "private_subnet_cidrs entry '10.40.0.0/24' overlaps public_subnet_cidrs entry '10.40.0.0/20'",
        ),
        ({"public_subnet_cidrs": ["10.99.0.0/20", "10.40.16.0/20"]}, "'10.99.0.0/20' is not inside cidr"),
        ({"admin_cidrs": ["not-a-range"]}, "admin_cidrs entry 'not-a-range'"),
        ({"availability_zones": ["us-east-1a"]}, "availability_zones must list exactly two"),
        ({"name": "bad name!"}, "name 'bad name!'"),
    ],
)
def test_bad_input_fails_before_any_call(aws, bad, names):
    aws.assert_module_refuses("network", network_args(aws, **bad), names)


def test_a_noop_run_costs_seven_api_calls(aws):
    run_module("network", network_args(aws))
    before = aws.request_count()
    run_module("network", network_args(aws))
    # VPC, its two DNS attributes, gateway, subnets, route tables, security groups: the zones come
    # from the subnets.
    assert aws.request_count() - before == 7


def dns_attributes(aws, vpc_id):
    ec2 = aws.client("ec2")
    return {
        name: ec2.describe_vpc_attribute(VpcId=vpc_id, Attribute=name)[name[0].upper() + name[1:]]["Value"]
        for name in ("enableDnsSupport", "enableDnsHostnames")
    }


def test_dns_attributes_set_at_creation_are_repaired_on_later_runs(aws):
    made = run_module("network", network_args(aws))
    assert dns_attributes(aws, made["vpc_id"]) == {"enableDnsSupport": True, "enableDnsHostnames": True}
    aws.client("ec2").modify_vpc_attribute(VpcId=made["vpc_id"], EnableDnsHostnames={"Value": False})
    planned = run_module("network", network_args(aws), check_mode=True)
    assert planned["changes"] == [f"turn on enableDnsHostnames in the VPC {made['vpc_id']}"]
    repaired = run_module("network", network_args(aws))
    assert repaired["changes"] == planned["changes"]
    assert dns_attributes(aws, made["vpc_id"]) == {"enableDnsSupport": True, "enableDnsHostnames": True}
    assert run_module("network", network_args(aws)).changed is False


def test_a_gateway_made_but_never_attached_is_found_by_its_tags_and_attached(aws):
    """A run killed between CreateInternetGateway and AttachInternetGateway."""
    made = run_module("network", network_args(aws))
    ec2 = aws.client("ec2")
    ec2.detach_internet_gateway(InternetGatewayId=made["internet_gateway_id"], VpcId=made["vpc_id"])
    repaired = run_module("network", network_args(aws))
    assert repaired["changes"] == [f"attach the internet gateway {made['internet_gateway_id']} to the VPC"]
    gateways = ec2.describe_internet_gateways()["InternetGateways"]
    assert [g["InternetGatewayId"] for g in gateways] == [made["internet_gateway_id"]], "no second gateway"
    assert gateways[0]["Attachments"][0]["VpcId"] == made["vpc_id"]
    assert run_module("network", network_args(aws)).changed is False


def test_removal_also_takes_a_gateway_that_was_never_attached(aws):
    made = run_module("network", network_args(aws))
    ec2 = aws.client("ec2")
    ec2.detach_internet_gateway(InternetGatewayId=made["internet_gateway_id"], VpcId=made["vpc_id"])
    removed = run_module("network", network_args(aws, state="absent"))
    assert not removed.failed, removed
    assert ec2.describe_internet_gateways()["InternetGateways"] == []
    assert our_vpcs(aws) == []


def egress(aws, group_id):
    return aws.client("ec2").describe_security_groups(GroupIds=[group_id])["SecurityGroups"][0]["IpPermissionsEgress"]


def test_the_database_group_sends_nothing_out_and_the_host_group_may(aws):
    made = run_module("network", network_args(aws))
    assert f"revoke every outbound rule of {NAME}-database" in made["changes"]
    assert egress(aws, made["database_security_group_id"]) == []
    assert egress(aws, made["host_security_group_id"]) != []
    aws.client("ec2").authorize_security_group_egress(
        GroupId=made["database_security_group_id"],
        IpPermissions=[{"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}],
    )
    planned = run_module("network", network_args(aws), check_mode=True)
    assert planned["changes"] == [f"revoke every outbound rule of {NAME}-database"]
    assert egress(aws, made["database_security_group_id"]) != [], "check mode changes nothing"
    repaired = run_module("network", network_args(aws))
    assert repaired["changes"] == planned["changes"]
    assert egress(aws, made["database_security_group_id"]) == []
    assert run_module("network", network_args(aws)).changed is False
