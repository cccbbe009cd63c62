#!/usr/bin/python
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: network
short_description: The whole network of a self-hosted Convex stage in one call
version_added: 0.1.0
description:
  - Creates, repairs or removes a VPC with an internet gateway, two public subnets for the
    host and two private subnets for the database in two availability zones, their route
    tables, and two security groups.
  - The host group lets in 80 and 443 from anywhere and 22 only from O(admin_cidrs). The
    database group lets in 3306 only from the host group.
  - Rules, routes, associations and tags changed by hand are put back on the next run.
  - Resources are found by their tags, so the module needs no ids from earlier runs.
author:
  - Convex self-host maintainers (@convex-selfhost)
options:
  name:
    description:
      - Name of the network; the C(Name) tag of every resource starts with it.
      - 1 to 48 letters, digits and hyphens.
    type: str
    required: true
  state:
    description:
      - V(present) creates or repairs the network; V(absent) removes everything it made.
    type: str
    choices: [present, absent]
    default: present
  cidr:
    description:
      - IPv4 range of the VPC, from C(/16) to C(/24).
    type: str
    default: 10.40.0.0/16
  public_subnet_cidrs:
    description:
      - Two ranges inside O(cidr) for the public subnets. By default the first two sixteenths of
        O(cidr).
    type: list
    elements: str
  private_subnet_cidrs:
    description:
      - Two ranges inside O(cidr) for the private subnets. By default the ninth and tenth
        sixteenths of O(cidr).
    type: list
    elements: str
  availability_zones:
    description:
      - The two availability zones to spread the subnets over. By default the region's first
        two available zones, or, once the network exists, the zones its subnets are in.
    type: list
    elements: str
  admin_cidrs:
    description:
      - IPv4 ranges that may reach SSH (22) on the host. Empty means no SSH from anywhere.
    type: list
    elements: str
    default: []
extends_documentation_fragment:
  - convex_selfhost.aws.connection
  - convex_selfhost.aws.tags
attributes:
  diff_mode:
    support: full
    description: Lists what would be created, repaired or removed.
"""

EXAMPLES = r"""
- name: Network of the dev stage
  convex_selfhost.aws.network:
    name: convex-dev
    admin_cidrs: [203.0.113.10/32]
    tags:
      stage: dev
  register: convex_network

- name: Remove it
  convex_selfhost.aws.network:
    name: convex-dev
    state: absent
"""

RETURN = r"""
vpc_id:
  description: Id of the VPC.
  returned: when the network exists
  type: str
  sample: vpc-0123456789abcdef0
vpc_cidr:
  description: IPv4 range of the VPC.
  returned: always
  type: str
  sample: 10.40.0.0/16
internet_gateway_id:
  description: Id of the internet gateway.
  returned: when the network exists
  type: str
public_subnet_ids:
  description: Ids of the public subnets, in the order of RV(availability_zones).
  returned: when the network exists
  type: list
  elements: str
private_subnet_ids:
  description: Ids of the private subnets, in the order of RV(availability_zones).
  returned: when the network exists
  type: list
  elements: str
availability_zones:
  description: The two availability zones used.
  returned: when the network exists
  type: list
  elements: str
public_route_table_id:
  description: Id of the route table of the public subnets.
  returned: when the network exists
  type: str
private_route_table_id:
  description: Id of the route table of the private subnets.
  returned: when the network exists
  type: str
host_security_group_id:
  description: Id of the host's security group.
  returned: when the network exists
  type: str
database_security_group_id:
  description: Id of the database's security group.
  returned: when the network exists
  type: str
changes:
  description: What the run changed (or, in check mode, would change), one line each.
  returned: always
  type: list
  elements: str
  sample: [create the VPC 10.40.0.0/16, create the internet gateway]
"""

import ipaddress
import re

from ansible_collections.convex_selfhost.aws.plugins.module_utils import ec2_rules
from ansible_collections.convex_selfhost.aws.plugins.module_utils import tags as tag_helpers
from ansible_collections.convex_selfhost.aws.plugins.module_utils.actions import Actions
from ansible_collections.convex_selfhost.aws.plugins.module_utils.module import ConvexAWSModule

_NAME = re.compile(r"^[A-Za-z0-9-]{1,48}$")
# Tag that says which part of the network a subnet, route table or group is.
ROLE_KEY = "convex_selfhost:role"
ANYWHERE = "0.0.0.0/0"


def input_problems(params):
    """Every problem with the input, each naming its option; empty when all is well."""
    problems = []
    if not _NAME.match(params["name"]):
        problems.append(f"name '{params['name']}' is not usable: use 1 to 48 letters, digits and hyphens")
    try:
        vpc = ipaddress.IPv4Network(params["cidr"])
    except ValueError as error:
        return problems + [f"cidr '{params['cidr']}' is not an IPv4 network: {error}; use a range such as 10.40.0.0/16"]
    if not 16 <= vpc.prefixlen <= 24:
        return problems + [f"cidr '{params['cidr']}' must be from /16 to /24 (AWS allows no larger VPC)"]
    problems.extend(subnet_problems(params, vpc))
    for value in params["admin_cidrs"]:
        try:
            ipaddress.IPv4Network(value)
        except ValueError as error:
            problems.append(f"admin_cidrs entry '{value}' is not an IPv4 network: {error}")
    zones = params["availability_zones"]
    if zones is not None and (len(zones) != 2 or len(set(zones)) != 2):
        problems.append("availability_zones must list exactly two different zones")
    return problems


def subnet_problems(params, vpc):
    problems = []
    seen = []
    for option in ("public_subnet_cidrs", "private_subnet_cidrs"):
        values = params[option]
        if len(values) != 2:
            problems.append(f"{option} must list exactly two ranges, one for each availability zone")
            continue
        for value in values:
            try:
                subnet = ipaddress.IPv4Network(value)
            except ValueError as error:
                problems.append(f"{option} entry '{value}' is not an IPv4 network: {error}")
                continue
            if not subnet.subnet_of(vpc):
                problems.append(f"{option} entry '{value}' is not inside cidr {vpc}")
            if subnet.prefixlen > 28:
                problems.append(f"{option} entry '{value}' is smaller than /28, the least AWS allows")
            problems.extend(
                f"{option} entry '{value}' overlaps {other_option} entry '{other}'"
                for other_option, other in seen
                if subnet.overlaps(other)
            )
            seen.append((option, subnet))
    return problems


def default_subnets(cidr):
    """(public, private) ranges: sixteenths 0-1 and 8-9 of the VPC, leaving room to grow."""
    slices = list(ipaddress.IPv4Network(cidr).subnets(prefixlen_diff=4))
    return [str(slices[0]), str(slices[1])], [str(slices[8]), str(slices[9])]


def host_rules(admin_cidrs):
    rules = {
        ec2_rules.rule("tcp", 80, ANYWHERE, "HTTP, redirected to HTTPS by Caddy"),
        ec2_rules.rule("tcp", 443, ANYWHERE, "HTTPS to Caddy"),
    }
    rules.update(ec2_rules.rule("tcp", 22, cidr, "SSH from an admin range") for cidr in admin_cidrs)
    return rules


class Network:
    """Reads the network as it is, and makes the changes one by one (or only notes them)."""

    def __init__(self, module):
        self.module = module
        self.params = module.params
        self.name = self.params["name"]
        self.ec2 = module.aws_client("ec2")
        self.actions = Actions(module)

    # --- helpers -------------------------------------------------------------------------
    def call(self, action, method, **kwargs):
        return self.actions.call(self.ec2, action, method, **kwargs)

    def act(self, description, method, **kwargs):
        return self.actions.act(self.ec2, description, method, **kwargs)

    def wanted_tags(self, suffix, role=None):
        wanted = tag_helpers.with_managed_by(self.params["tags"])
        wanted["Name"] = f"{self.name}-{suffix}" if suffix else self.name
        if role:
            wanted[ROLE_KEY] = role
        return wanted

    def tag_spec(self, resource_type, wanted):
        return [{"ResourceType": resource_type, "Tags": tag_helpers.to_aws(wanted)}]

    def repair_tags(self, resource_id, current_list, wanted):
        to_set, to_remove = tag_helpers.difference(
            tag_helpers.from_aws(current_list), wanted, self.params["purge_tags"]
        )
        if to_set:
            self.act(f"tag {resource_id}", "create_tags", Resources=[resource_id], Tags=tag_helpers.to_aws(to_set))
        if to_remove:
            self.act(
                f"remove tags {', '.join(to_remove)} from {resource_id}",
                "delete_tags",
                Resources=[resource_id],
                Tags=[{"Key": key} for key in to_remove],
            )

    # --- read ----------------------------------------------------------------------------
    def find_vpc(self):
        vpcs = self.call(
            "look up the VPC",
            "describe_vpcs",
            Filters=tag_helpers.owned_filters(self.name),
        )["Vpcs"]
        if len(vpcs) > 1:
            ids = ", ".join(v["VpcId"] for v in vpcs)
            self.module.fail_json(msg=f"several VPCs are named {self.name} ({ids}); remove the extra ones by hand")
        return vpcs[0] if vpcs else None

    def read_children(self, vpc_id):
        by_vpc = [{"Name": "vpc-id", "Values": [vpc_id]}]
        gateways = self.call(
            "look up the internet gateway",
            "describe_internet_gateways",
            Filters=[{"Name": "attachment.vpc-id", "Values": [vpc_id]}],
        )["InternetGateways"]
        subnets = self.call("look up the subnets", "describe_subnets", Filters=by_vpc)["Subnets"]
        tables = self.call("look up the route tables", "describe_route_tables", Filters=by_vpc)["RouteTables"]
        groups = self.call("look up the security groups", "describe_security_groups", Filters=by_vpc)["SecurityGroups"]
        return gateways, subnets, tables, groups

    def zones(self, subnets):
        if self.params["availability_zones"]:
            return list(self.params["availability_zones"])
        existing = {}
        for subnet in subnets:
            role = tag_helpers.from_aws(subnet.get("Tags")).get(ROLE_KEY, "")
            if role.startswith("public-"):
                existing[role] = subnet["AvailabilityZone"]
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
        default_public, default_private = default_subnets(params["cidr"])
        public_cidrs = params["public_subnet_cidrs"] or default_public
        private_cidrs = params["private_subnet_cidrs"] or default_private

        vpc = self.find_vpc()
        if vpc is None:
            created = self.act(
                f"create the VPC {params['cidr']}",
                "create_vpc",
                CidrBlock=params["cidr"],
                TagSpecifications=self.tag_spec("vpc", self.wanted_tags(None)),
            )
            if created is None:
                return {"vpc_cidr": params["cidr"]}
            vpc = created["Vpc"]
            self.ec2.wait("vpc_available", VpcIds=[vpc["VpcId"]])
            for attribute in ("EnableDnsSupport", "EnableDnsHostnames"):
                self.call(
                    "turn on DNS in the VPC",
                    "modify_vpc_attribute",
                    VpcId=vpc["VpcId"],
                    **{attribute: {"Value": True}},
                )
            gateways, subnets, tables, groups = [], [], [], []
        else:
            if vpc["CidrBlock"] != params["cidr"]:
                self.module.fail_json(
                    msg=f"the VPC {vpc['VpcId']} of {self.name} has cidr {vpc['CidrBlock']}, not {params['cidr']}: "
                    "a VPC's range cannot change; set cidr back or remove the network first"
                )
            self.repair_tags(vpc["VpcId"], vpc.get("Tags"), self.wanted_tags(None))
            gateways, subnets, tables, groups = self.read_children(vpc["VpcId"])
        vpc_id = vpc["VpcId"]

        zones = self.zones(subnets)
        gateway_id = self.ensure_gateway(vpc_id, gateways)
        public_ids = self.ensure_subnets(vpc_id, subnets, "public", public_cidrs, zones)
        private_ids = self.ensure_subnets(vpc_id, subnets, "private", private_cidrs, zones)
        public_table = self.ensure_route_table(vpc_id, tables, "public", public_ids, gateway_id)
        private_table = self.ensure_route_table(vpc_id, tables, "private", private_ids, None)
        host_group = self.ensure_group(vpc_id, groups, "host", "Convex host: HTTP(S) in, SSH from admins", None)
        database_group = self.ensure_group(
            vpc_id, groups, "database", "Convex database: MySQL from the host only", host_group
        )
        return {
            "vpc_id": vpc_id,
            "vpc_cidr": params["cidr"],
            "internet_gateway_id": gateway_id,
            "public_subnet_ids": public_ids,
            "private_subnet_ids": private_ids,
            "availability_zones": zones,
            "public_route_table_id": public_table,
            "private_route_table_id": private_table,
            "host_security_group_id": host_group,
            "database_security_group_id": database_group,
        }

    def ensure_gateway(self, vpc_id, gateways):
        wanted = self.wanted_tags("igw")
        if gateways:
            self.repair_tags(gateways[0]["InternetGatewayId"], gateways[0].get("Tags"), wanted)
            return gateways[0]["InternetGatewayId"]
        created = self.act(
            "create the internet gateway",
            "create_internet_gateway",
            TagSpecifications=self.tag_spec("internet-gateway", wanted),
        )
        if created is None:
            return None
        gateway_id = created["InternetGateway"]["InternetGatewayId"]
        self.call("attach the internet gateway", "attach_internet_gateway", InternetGatewayId=gateway_id, VpcId=vpc_id)
        return gateway_id

    def ensure_subnets(self, vpc_id, subnets, tier, cidrs, zones):
        by_cidr = {subnet["CidrBlock"]: subnet for subnet in subnets}
        ids = []
        for index, (cidr, zone) in enumerate(zip(cidrs, zones), start=1):
            role = f"{tier}-{index}"
            wanted = self.wanted_tags(role, role)
            subnet = by_cidr.get(cidr)
            if subnet is None:
                created = self.act(
                    f"create the {tier} subnet {cidr} in {zone}",
                    "create_subnet",
                    VpcId=vpc_id,
                    CidrBlock=cidr,
                    AvailabilityZone=zone,
                    TagSpecifications=self.tag_spec("subnet", wanted),
                )
                if created is None:
                    ids.append(None)
                    continue
                subnet = created["Subnet"]
                subnet["MapPublicIpOnLaunch"] = False
            else:
                self.repair_tags(subnet["SubnetId"], subnet.get("Tags"), wanted)
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
        wanted = self.wanted_tags(f"{tier}-routes", f"{tier}-routes")
        table = next(
            (t for t in tables if tag_helpers.from_aws(t.get("Tags")).get(ROLE_KEY) == f"{tier}-routes"),
            None,
        )
        if table is None:
            created = self.act(
                f"create the {tier} route table",
                "create_route_table",
                VpcId=vpc_id,
                TagSpecifications=self.tag_spec("route-table", wanted),
            )
            if created is None:
                return None
            table = created["RouteTable"]
        else:
            self.repair_tags(table["RouteTableId"], table.get("Tags"), wanted)
        table_id = table["RouteTableId"]

        if gateway_id:
            default = next((r for r in table.get("Routes", []) if r.get("DestinationCidrBlock") == ANYWHERE), None)
            if default is None:
                self.act(
                    f"route {ANYWHERE} of {table_id} to the internet gateway",
                    "create_route",
                    RouteTableId=table_id,
                    DestinationCidrBlock=ANYWHERE,
                    GatewayId=gateway_id,
                )
            elif default.get("GatewayId") != gateway_id:
                self.act(
                    f"point {ANYWHERE} of {table_id} back at the internet gateway",
                    "replace_route",
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

    def ensure_group(self, vpc_id, groups, role, description, host_group_id):
        group_name = f"{self.name}-{role}"
        wanted_tags = self.wanted_tags(role, role)
        if role == "host":
            wanted_rules = host_rules(self.params["admin_cidrs"])
        else:
            wanted_rules = {ec2_rules.rule("tcp", 3306, host_group_id or "sg-pending", "MySQL from the Convex host")}
        group = next((g for g in groups if g["GroupName"] == group_name), None)
        if group is None:
            created = self.act(
                f"create the security group {group_name}",
                "create_security_group",
                GroupName=group_name,
                Description=description,
                VpcId=vpc_id,
                TagSpecifications=self.tag_spec("security-group", wanted_tags),
            )
            if created is None:
                return None
            group = {"GroupId": created["GroupId"], "IpPermissions": []}
        else:
            self.repair_tags(group["GroupId"], group.get("Tags"), wanted_tags)
        group_id = group["GroupId"]

        current = ec2_rules.from_permissions(group.get("IpPermissions"))
        missing = {r for r in wanted_rules if r[:4] + ("",) not in current}
        extra = current - ec2_rules.comparable(wanted_rules)
        if missing:
            self.act(
                f"allow {', '.join(f'{r[0]}/{r[1]} from {r[3]}' for r in sorted(missing))} into {group_name}",
                "authorize_security_group_ingress",
                GroupId=group_id,
                IpPermissions=ec2_rules.to_permissions(missing),
            )
        if extra:
            self.act(
                f"revoke {', '.join(f'{r[0]}/{r[1]} from {r[3]}' for r in sorted(extra))} from {group_name}",
                "revoke_security_group_ingress",
                GroupId=group_id,
                IpPermissions=ec2_rules.to_permissions(extra),
            )
        return group_id

    # --- absent --------------------------------------------------------------------------
    def remove(self):
        vpc = self.find_vpc()
        if vpc is None:
            return
        vpc_id = vpc["VpcId"]
        gateways, subnets, tables, groups = self.read_children(vpc_id)
        # The database group's rule names the host group, so it goes first.
        order = {"database": 0, "host": 1}
        ours = [g for g in groups if g["GroupName"] != "default"]
        for group in sorted(ours, key=lambda g: order.get(tag_helpers.from_aws(g.get("Tags")).get(ROLE_KEY), 2)):
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
            self.act(
                "detach the internet gateway", "detach_internet_gateway", InternetGatewayId=gateway_id, VpcId=vpc_id
            )
            self.act("delete the internet gateway", "delete_internet_gateway", InternetGatewayId=gateway_id)
        self.act(f"delete the VPC {vpc_id}", "delete_vpc", VpcId=vpc_id)


def main():
    argument_spec = {
        "name": {"type": "str", "required": True},
        "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
        "cidr": {"type": "str", "default": "10.40.0.0/16"},
        "public_subnet_cidrs": {"type": "list", "elements": "str"},
        "private_subnet_cidrs": {"type": "list", "elements": "str"},
        "availability_zones": {"type": "list", "elements": "str"},
        "admin_cidrs": {"type": "list", "elements": "str", "default": []},
        **tag_helpers.ARGUMENT_SPEC,
    }
    module = ConvexAWSModule(argument_spec=argument_spec)
    params = dict(module.params)
    try:
        public, private = default_subnets(params["cidr"])
    except ValueError:
        public = private = []
    params["public_subnet_cidrs"] = params["public_subnet_cidrs"] or public
    params["private_subnet_cidrs"] = params["private_subnet_cidrs"] or private
    module.refuse_bad_input(input_problems(params))

    network = Network(module)
    if module.params["state"] == "absent":
        network.remove()
        result = {}
    else:
        result = network.ensure()
    module.exit_json(**network.actions.outcome(), **result)


if __name__ == "__main__":
    main()
