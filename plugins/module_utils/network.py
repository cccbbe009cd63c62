# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The network of a Convex deployment: VPC, internet gateway, public and private subnets in two
zones, their route tables and the host and database security groups. Used by the network module
and by the deployment module."""

from __future__ import annotations

import ipaddress
import re
import uuid

from ansible_collections.convex_selfhost.aws.plugins.module_utils import rules, security_groups
from ansible_collections.convex_selfhost.aws.plugins.module_utils import tags as tag_helpers
from ansible_collections.convex_selfhost.aws.plugins.module_utils.ec2 import EC2Resources, role_of

ARGUMENT_SPEC = {
    "name": {"type": "str", "required": True},
    "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
    "cidr": {"type": "str", "default": "10.40.0.0/16"},
    "public_subnet_cidrs": {"type": "list", "elements": "str"},
    "private_subnet_cidrs": {"type": "list", "elements": "str"},
    "availability_zones": {"type": "list", "elements": "str"},
    "admin_cidrs": {"type": "list", "elements": "str", "default": []},
    **tag_helpers.ARGUMENT_SPEC,
}
_NAME = re.compile(r"[A-Za-z0-9-]{1,48}")
ANYWHERE = "0.0.0.0/0"
TIERS = ("public", "private")
# The VPC's DNS attributes, set after CreateVpc (which takes none) and repaired on every run: a run
# killed between the two would otherwise leave them off for good. The host needs both to resolve
# the database's endpoint.
DNS_ATTRIBUTES = {"EnableDnsSupport": "enableDnsSupport", "EnableDnsHostnames": "enableDnsHostnames"}


def input_problems(params):
    """Every problem with the input, each naming its option; empty when all is well."""
    problems = []
    if not _NAME.fullmatch(params["name"]):
        problems.append(f"name '{params['name']}' is not usable: use 1 to 48 letters, digits and hyphens")
    problem = rules.cidr_problem(params["cidr"], version=4)
    if problem:
        return [*problems, f"cidr {problem}; use a range such as 10.40.0.0/16"]
    vpc = ipaddress.ip_network(params["cidr"])
    if not 16 <= vpc.prefixlen <= 24:
        return [*problems, f"cidr '{params['cidr']}' must be from /16 to /24 (AWS allows no larger VPC)"]
    seen = []
    for option in (f"{tier}_subnet_cidrs" for tier in TIERS):
        if len(params[option]) != 2:
            problems.append(f"{option} must list exactly two ranges, one for each availability zone")
        for value in params[option] if len(params[option]) == 2 else ():
            problem = rules.cidr_problem(value, version=4)
            if problem:
                problems.append(f"{option} entry {problem}")
                continue
            subnet = ipaddress.ip_network(value)
            if not subnet.subnet_of(vpc):
                problems.append(f"{option} entry '{value}' is not inside cidr {vpc}")
            if subnet.prefixlen > 28:
                problems.append(f"{option} entry '{value}' is smaller than /28, the least AWS allows")
            problems.extend(f"{option} entry '{value}' overlaps {o} entry '{n}'" for o, n in seen if subnet.overlaps(n))
            seen.append((option, subnet))
    problems.extend(
        f"admin_cidrs entry {rules.cidr_problem(v, version=4)}"
        for v in params["admin_cidrs"]
        if rules.cidr_problem(v, 4)
    )
    zones = params["availability_zones"]
    if zones is not None and (len(zones) != 2 or len(set(zones)) != 2):
        problems.append("availability_zones must list exactly two different zones")
    if params["tags"] and rules.tags_problem(params["tags"]):
        problems.append(f"tags {rules.tags_problem(params['tags'])}")
    return problems


def default_subnets(cidr):
    """(public, private) ranges: sixteenths 0-1 and 8-9 of the VPC, leaving room to grow."""
    slices = list(ipaddress.IPv4Network(cidr).subnets(prefixlen_diff=4))
    return [str(slices[0]), str(slices[1])], [str(slices[8]), str(slices[9])]


def with_default_subnets(params):
    """The default subnets follow from cidr, so they are filled in before the input is checked."""
    try:
        public, private = default_subnets(params["cidr"])
    except ValueError:
        public = private = []
    return {
        **params,
        "public_subnet_cidrs": params["public_subnet_cidrs"] or public,
        "private_subnet_cidrs": params["private_subnet_cidrs"] or private,
    }


def host_rules(admin_cidrs):
    wanted = {
        security_groups.rule("tcp", 80, ANYWHERE, "HTTP, redirected to HTTPS by Caddy"),
        security_groups.rule("tcp", 443, ANYWHERE, "HTTPS to Caddy"),
    }
    wanted.update(security_groups.rule("tcp", 22, cidr, "SSH from an admin range") for cidr in admin_cidrs)
    return wanted


class Network(EC2Resources):
    """Reads the network as it is, and makes the changes one by one (or only notes them)."""

    # --- read ----------------------------------------------------------------------------
    def find_vpc(self):
        vpcs = self.owned("look up the VPC", "describe_vpcs", "Vpcs")
        if len(vpcs) > 1:
            ids = ", ".join(v["VpcId"] for v in vpcs)
            self.module.fail_json(msg=f"several VPCs are named {self.name} ({ids}); remove the extra ones by hand")
        return vpcs[0] if vpcs else None

    def find_gateways(self, vpc_id):
        """The internet gateway, by its tags, so that one made and not yet attached (a run killed
        in between, a lost answer) is found and attached; by its attachment when its tags were
        lost, for a VPC takes one gateway only."""
        gateways = self.owned("look up the internet gateway", "describe_internet_gateways", "InternetGateways", "igw")
        if gateways or vpc_id is None:
            return gateways
        return self.call(
            "look up the internet gateway",
            "describe_internet_gateways",
            Filters=[{"Name": "attachment.vpc-id", "Values": [vpc_id]}],
        )["InternetGateways"]

    def read_children(self, vpc_id):
        by_vpc = [{"Name": "vpc-id", "Values": [vpc_id]}]
        gateways = self.find_gateways(vpc_id)
        subnets = self.call("look up the subnets", "describe_subnets", Filters=by_vpc)["Subnets"]
        tables = self.call("look up the route tables", "describe_route_tables", Filters=by_vpc)["RouteTables"]
        groups = self.call("look up the security groups", "describe_security_groups", Filters=by_vpc)["SecurityGroups"]
        return gateways, subnets, tables, groups

    def zones(self, subnets):
        if self.params["availability_zones"]:
            return list(self.params["availability_zones"])
        existing = {role_of(s): s["AvailabilityZone"] for s in subnets if role_of(s).startswith("public-")}
        if len(existing) == 2:
            return [existing["public-1"], existing["public-2"]]
        listed = self.call(
            "list the availability zones",
            "describe_availability_zones",
            Filters=[
                {"Name": "state", "Values": ["available"]},
                {"Name": "zone-type", "Values": ["availability-zone"]},
            ],
        )["AvailabilityZones"]
        names = sorted(zone["ZoneName"] for zone in listed)
        if len(names) < 2:
            self.module.fail_json(msg=f"region {self.module.region} has fewer than two available zones")
        return names[:2]

    # --- present -------------------------------------------------------------------------
    def ensure(self):
        params = self.params
        vpc = self.find_vpc()
        if vpc is None:
            created = self.act(
                f"create the VPC {params['cidr']}",
                "create_vpc",
                find=lambda: self.found_as("Vpc", self.find_vpc()),
                CidrBlock=params["cidr"],
                TagSpecifications=self.tag_spec("vpc"),
            )
            if created is None:
                return {"vpc_cidr": params["cidr"]}
            vpc = created["Vpc"]
            self.ec2.wait("vpc_available", VpcIds=[vpc["VpcId"]])
            # What CreateVpc gives every new VPC (Amazon VPC User Guide, "DNS attributes for your
            # VPC"): DNS support on, DNS host names off.
            self.ensure_dns(vpc["VpcId"], {"EnableDnsSupport": True, "EnableDnsHostnames": False})
            # A gateway made by an earlier run killed before this VPC existed is used, not orphaned.
            gateways, subnets, tables, groups = self.find_gateways(None), [], [], []
        else:
            if vpc["CidrBlock"] != params["cidr"]:
                self.module.fail_json(
                    msg=f"the VPC {vpc['VpcId']} of {self.name} has cidr {vpc['CidrBlock']}, not {params['cidr']}: "
                    "a VPC's range cannot change; set cidr back or remove the network first"
                )
            self.repair_tags(vpc["VpcId"], vpc.get("Tags"))
            self.ensure_dns(vpc["VpcId"], self.dns_attributes(vpc["VpcId"]))
            gateways, subnets, tables, groups = self.read_children(vpc["VpcId"])
        vpc_id = vpc["VpcId"]

        zones = self.zones(subnets)
        gateway_id = self.ensure_gateway(vpc_id, gateways)
        subnet_ids = {
            tier: self.ensure_subnets(vpc_id, subnets, tier, params[f"{tier}_subnet_cidrs"], zones) for tier in TIERS
        }
        # Only the public subnets route to the internet; the private ones (the database) never do.
        routes_to = {"public": gateway_id, "private": None}
        tables_ids = {
            tier: self.ensure_route_table(vpc_id, tables, tier, subnet_ids[tier], routes_to[tier]) for tier in TIERS
        }
        host_group = self.ensure_group(
            vpc_id, groups, "host", "Convex host: HTTP(S) in, SSH from admins", host_rules(params["admin_cidrs"])
        )
        database_rule = security_groups.rule("tcp", 3306, host_group or "sg-pending", "MySQL from the Convex host")
        database_group = self.ensure_group(
            vpc_id, groups, "database", "Convex database: MySQL from the host only", {database_rule}, egress=False
        )
        return {
            "vpc_id": vpc_id,
            "vpc_cidr": params["cidr"],
            "internet_gateway_id": gateway_id,
            "public_subnet_ids": subnet_ids["public"],
            "private_subnet_ids": subnet_ids["private"],
            "availability_zones": zones,
            "public_route_table_id": tables_ids["public"],
            "private_route_table_id": tables_ids["private"],
            "host_security_group_id": host_group,
            "database_security_group_id": database_group,
        }

    @staticmethod
    def found_as(key, resource):
        """What a create call would have answered, for a resource found instead (or None)."""
        return {key: resource} if resource else None

    def dns_attributes(self, vpc_id):
        """The VPC's DNS attributes as they are: two reads, one attribute each (DescribeVpcs
        gives neither)."""
        found = {}
        for attribute, name in DNS_ATTRIBUTES.items():
            answer = self.call("read the VPC's DNS attributes", "describe_vpc_attribute", VpcId=vpc_id, Attribute=name)
            found[attribute] = answer[attribute]["Value"]
        return found

    def ensure_dns(self, vpc_id, current):
        for attribute, name in DNS_ATTRIBUTES.items():
            if not current.get(attribute):
                self.act(
                    f"turn on {name} in the VPC {vpc_id}",
                    "modify_vpc_attribute",
                    VpcId=vpc_id,
                    **{attribute: {"Value": True}},
                )

    def ensure_gateway(self, vpc_id, gateways):
        if gateways:
            gateway = gateways[0]
            self.repair_tags(gateway["InternetGatewayId"], gateway.get("Tags"), "igw")
        else:
            created = self.act(
                "create the internet gateway",
                "create_internet_gateway",
                find=lambda: self.found_as("InternetGateway", next(iter(self.find_gateways(None)), None)),
                TagSpecifications=self.tag_spec("internet-gateway", "igw"),
            )
            if created is None:
                return None
            gateway = created["InternetGateway"]
        gateway_id = gateway["InternetGatewayId"]
        if vpc_id not in {a.get("VpcId") for a in gateway.get("Attachments", [])}:
            self.act(
                f"attach the internet gateway {gateway_id} to the VPC",
                "attach_internet_gateway",
                InternetGatewayId=gateway_id,
                VpcId=vpc_id,
            )
        return gateway_id

    def ensure_subnets(self, vpc_id, subnets, tier, cidrs, zones):
        by_cidr = {subnet["CidrBlock"]: subnet for subnet in subnets}
        ids = []
        for index, (cidr, zone) in enumerate(zip(cidrs, zones), start=1):
            role = f"{tier}-{index}"
            subnet = by_cidr.get(cidr)
            if subnet is None:
                created = self.act(
                    f"create the {tier} subnet {cidr} in {zone}",
                    "create_subnet",
                    find=lambda cidr=cidr: self.found_as("Subnet", self.find_subnet(vpc_id, cidr)),
                    VpcId=vpc_id,
                    CidrBlock=cidr,
                    AvailabilityZone=zone,
                    TagSpecifications=self.tag_spec("subnet", role, role),
                )
                if created is None:
                    ids.append(None)
                    continue
                subnet = {"MapPublicIpOnLaunch": False, **created["Subnet"]}
            else:
                self.repair_tags(subnet["SubnetId"], subnet.get("Tags"), role, role)
            # Public subnets give the host a public address; private ones never do.
            if subnet["MapPublicIpOnLaunch"] != (tier == "public"):
                self.act(
                    f"set public addressing of {subnet['SubnetId']} to {tier == 'public'}",
                    "modify_subnet_attribute",
                    SubnetId=subnet["SubnetId"],
                    MapPublicIpOnLaunch={"Value": tier == "public"},
                )
            ids.append(subnet["SubnetId"])
        return ids

    def ensure_route_table(self, vpc_id, tables, tier, subnet_ids, gateway_id):
        role = f"{tier}-routes"
        table = next((t for t in tables if role_of(t) == role), None)
        if table is None:
            # A client token makes a repeat after a lost answer return the first table (writes.py).
            created = self.act(
                f"create the {tier} route table",
                "create_route_table",
                ClientToken=str(uuid.uuid4()),
                VpcId=vpc_id,
                TagSpecifications=self.tag_spec("route-table", role, role),
            )
            if created is None:
                return None
            table = created["RouteTable"]
        else:
            self.repair_tags(table["RouteTableId"], table.get("Tags"), role, role)
        table_id = table["RouteTableId"]
        default = next((r for r in table.get("Routes", []) if r.get("DestinationCidrBlock") == ANYWHERE), None)
        if gateway_id and (default or {}).get("GatewayId") != gateway_id:
            self.act(
                f"route {ANYWHERE} of {table_id} to the internet gateway",
                "replace_route" if default else "create_route",
                RouteTableId=table_id,
                DestinationCidrBlock=ANYWHERE,
                GatewayId=gateway_id,
            )
        associated = {a.get("SubnetId") for a in table.get("Associations", []) if a.get("SubnetId")}
        for subnet_id in subnet_ids:
            if subnet_id and subnet_id not in associated:
                self.act(
                    f"associate {subnet_id} with the {tier} route table",
                    "associate_route_table",
                    RouteTableId=table_id,
                    SubnetId=subnet_id,
                )
        return table_id

    def ensure_group(self, vpc_id, groups, role, description, wanted_rules, egress=True):
        """egress False: the group may send nothing out (the database answers, it never calls)."""
        group_name = f"{self.name}-{role}"
        group = next((g for g in groups if g["GroupName"] == group_name), None)
        if group is None:
            created = self.act(
                f"create the security group {group_name}",
                "create_security_group",
                find=lambda: self.find_group(vpc_id, group_name),
                GroupName=group_name,
                Description=description,
                VpcId=vpc_id,
                TagSpecifications=self.tag_spec("security-group", role, role),
            )
            # In check mode there is no group yet; its rules are still listed, as a real run lists them.
            group = {
                "GroupId": created["GroupId"] if created else None,
                "IpPermissions": [],
                "IpPermissionsEgress": security_groups.DEFAULT_EGRESS,
            }
        else:
            self.repair_tags(group["GroupId"], group.get("Tags"), role, role)
        security_groups.ensure_rules(self, group["GroupId"], group_name, group.get("IpPermissions"), wanted_rules)
        if not egress:
            security_groups.ensure_no_egress(self, group["GroupId"], group_name, group.get("IpPermissionsEgress"))
        return group["GroupId"]

    def find_subnet(self, vpc_id, cidr):
        filters = [{"Name": "vpc-id", "Values": [vpc_id]}, {"Name": "cidr-block", "Values": [cidr]}]
        return next(iter(self.call("look up the subnet", "describe_subnets", Filters=filters)["Subnets"]), None)

    def find_group(self, vpc_id, group_name):
        """A group of this name in the VPC, as CreateSecurityGroup answers (its GroupId); the name
        is unique in a VPC, and this collection's own."""
        filters = [{"Name": "vpc-id", "Values": [vpc_id]}, {"Name": "group-name", "Values": [group_name]}]
        listed = self.call("look up the security group", "describe_security_groups", Filters=filters)
        return next(({"GroupId": g["GroupId"]} for g in listed["SecurityGroups"]), None)

    # --- absent --------------------------------------------------------------------------
    def remove(self):
        vpc = self.find_vpc()
        if vpc is None:
            return
        vpc_id = vpc["VpcId"]
        gateways, subnets, tables, groups = self.read_children(vpc_id)
        # The database group's rule names the host group, so it goes first.
        order = {"database": 0, "host": 1}
        for group in sorted((g for g in groups if g["GroupName"] != "default"), key=lambda g: order.get(role_of(g), 2)):
            self.act(
                f"delete the security group {group['GroupName']}", "delete_security_group", GroupId=group["GroupId"]
            )
        for table in tables:
            if any(a.get("Main") for a in table.get("Associations", [])):
                continue
            for association in table.get("Associations", []):
                self.act(
                    f"detach {association.get('SubnetId')} from {table['RouteTableId']}",
                    "disassociate_route_table",
                    AssociationId=association["RouteTableAssociationId"],
                )
            self.act(
                f"delete the route table {table['RouteTableId']}",
                "delete_route_table",
                RouteTableId=table["RouteTableId"],
            )
        for subnet in subnets:
            self.act(f"delete the subnet {subnet['CidrBlock']}", "delete_subnet", SubnetId=subnet["SubnetId"])
        for gateway in gateways:
            gateway_id = gateway["InternetGatewayId"]
            for attachment in gateway.get("Attachments", []):
                self.act(
                    "detach the internet gateway",
                    "detach_internet_gateway",
                    InternetGatewayId=gateway_id,
                    VpcId=attachment["VpcId"],
                )
            self.act("delete the internet gateway", "delete_internet_gateway", InternetGatewayId=gateway_id)
        self.act(f"delete the VPC {vpc_id}", "delete_vpc", VpcId=vpc_id)
