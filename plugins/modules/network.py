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
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.tags
  - amazon.aws.boto3
  - convex_selfhost.aws.common
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

from ansible_collections.convex_selfhost.aws.plugins.module_utils.module import ConvexAWSModule
from ansible_collections.convex_selfhost.aws.plugins.module_utils.network import (
    ARGUMENT_SPEC,
    Network,
    input_problems,
    with_default_subnets,
)


def main():
    module = ConvexAWSModule(argument_spec=ARGUMENT_SPEC)
    params = with_default_subnets(module.params)
    module.refuse_bad_input(input_problems(params))
    network = Network(module, params)
    result = network.remove() if params["state"] == "absent" else network.ensure()
    module.exit_json(**network.actions.outcome(), **(result or {}))


if __name__ == "__main__":
    main()
