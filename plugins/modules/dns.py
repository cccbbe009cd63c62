#!/usr/bin/python
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: dns
short_description: A deployment's A records in a Route 53 hosted zone, read and written at once
version_added: 0.1.0
description:
  - Makes the records O(records) names point at their addresses in the public hosted zone
    O(zone_id) (or O(zone)), or removes them.
  - The records of one deployment (its api, site and dashboard names) lie side by side in Route 53's
    order, so they are read with one C(ListResourceRecordSets) call, and all changes are sent as one
    batch. A record changed by hand is put back.
author:
  - Convex self-host maintainers (@convex-selfhost)
options:
  zone_id:
    description:
      - Id of the hosted zone. One of O(zone_id) and O(zone) is required.
    type: str
  zone:
    description:
      - Name of the public hosted zone, looked up when O(zone_id) is not given.
    type: str
  records:
    description:
      - The A records, as a mapping of fully qualified names to IPv4 addresses. With O(state=absent)
        only the names matter.
    type: dict
    required: true
  ttl:
    description:
      - Time to live of the records, in seconds.
    type: int
    default: 300
  retired:
    description:
      - Names the deployment no longer serves, each with the address it had them point at. A record
        is removed only while it points at that address alone, so a name someone else uses stays.
    type: dict
    default: {}
  state:
    description:
      - V(present) makes the records; V(absent) removes them.
    type: str
    choices: [present, absent]
    default: present
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
  - convex_selfhost.aws.common
attributes:
  diff_mode:
    support: full
    description: Lists the records that would be made, changed or removed.
"""

EXAMPLES = r"""
- name: The api, site and dashboard names at the host's address
  convex_selfhost.aws.dns:
    zone_id: Z0123456789ABCDEFGHIJ
    records:
      api.dev.convex.example.com: 203.0.113.20
      site.dev.convex.example.com: 203.0.113.20
      dashboard.dev.convex.example.com: 203.0.113.20

- name: Remove them
  convex_selfhost.aws.dns:
    zone: example.com
    records:
      api.dev.convex.example.com:
      site.dev.convex.example.com:
      dashboard.dev.convex.example.com:
    state: absent
"""

RETURN = r"""
zone_id:
  description: Id of the hosted zone.
  returned: when the zone exists
  type: str
changes:
  description: What the run changed (or, in check mode, would change), one line each.
  returned: always
  type: list
  elements: str
"""

from ansible_collections.convex_selfhost.aws.plugins.module_utils.module import ConvexAWSModule
from ansible_collections.convex_selfhost.aws.plugins.module_utils.records import ARGUMENT_SPEC, Records, input_problems


def main():
    module = ConvexAWSModule(argument_spec=ARGUMENT_SPEC, required_one_of=[("zone_id", "zone")])
    module.refuse_bad_input(input_problems(module.params))
    records = Records(module, module.params)
    result = records.ensure() if module.params["records"] else {}
    module.exit_json(**records.actions.outcome(), **result)


if __name__ == "__main__":
    main()
