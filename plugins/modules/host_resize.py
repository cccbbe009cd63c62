#!/usr/bin/python
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: host_resize
short_description: Give a deployment's EC2 host another instance type, in place
version_added: 0.2.0
description:
  - Stops the host, changes its instance type and starts it again, as EC2 requires (a type changes
    only while the instance is stopped). The instance, its Elastic IP and its root volume stay.
  - The host is down from the stop until it has booted again. playbooks/resize.yml stops Convex
    first, after an export, and runs the health gate after; it resizes one deployment at a time.
  - A host that an earlier run left stopped is changed if need be and started.
  - A type of another architecture than the host's image is refused before any change; that needs
    a new host.
  - Check mode reports the stop, the change and the start, and makes none of them.
author:
  - Convex self-host maintainers (@convex-selfhost)
options:
  name:
    description:
      - Name of the host, as M(convex_selfhost.aws.instance) made it (C(convex-<stage>)).
    type: str
    required: true
  instance_type:
    description:
      - The EC2 instance type the host should be, such as C(t4g.medium).
    type: str
    required: true
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
  - convex_selfhost.aws.common
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
    description: The changes are listed in RV(changes).
"""

EXAMPLES = r"""
- name: The dev host as a t4g.medium
  convex_selfhost.aws.host_resize:
    name: convex-dev
    instance_type: t4g.medium
    region: eu-west-1
"""

RETURN = r"""
instance_id:
  description: The host's instance, the same before and after.
  returned: when the host exists
  type: str
instance_type:
  description: The host's type after the run (in check mode, as it was).
  returned: when the host exists
  type: str
stopped:
  description: Whether the host was (or, in check mode, would be) stopped.
  returned: always
  type: bool
changes:
  description: What was (or, in check mode, would be) changed.
  returned: always
  type: list
  elements: str
"""

from ansible_collections.convex_selfhost.aws.plugins.module_utils import host, rules
from ansible_collections.convex_selfhost.aws.plugins.module_utils.module import ConvexAWSModule


def main():
    module = ConvexAWSModule(
        argument_spec={
            "name": {"type": "str", "required": True},
            "instance_type": {"type": "str", "required": True},
        },
    )
    wanted = module.params["instance_type"]
    problem = rules.instance_type_problem(wanted, None)
    module.refuse_bad_input([f"instance_type {problem}"] if problem else [])
    params = {
        **{name: option.get("default") for name, option in host.ARGUMENT_SPEC.items()},
        "name": module.params["name"],
        "instance_type": wanted,
    }
    machine = host.Host(module, params)
    instance = machine.find_instance()
    if instance is None:
        module.fail_json(msg=f"{module.params['name']} has no host to resize; site.yml makes one")
    problem = rules.instance_type_problem(wanted, instance.get("Architecture"))
    module.refuse_bad_input(
        [f"instance_type {problem}; the host {instance['InstanceId']} cannot change architecture in place"]
        if problem
        else []
    )
    stopped = machine.resize(instance, wanted)
    after = wanted if stopped and not module.check_mode else instance["InstanceType"]
    module.exit_json(
        **machine.actions.outcome(), instance_id=instance["InstanceId"], instance_type=after, stopped=stopped
    )


if __name__ == "__main__":
    main()
