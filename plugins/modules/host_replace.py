#!/usr/bin/python
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: host_replace
short_description: Replace a deployment's EC2 host with a new instance beside it
version_added: 0.1.0
description:
  - The AWS side of playbooks/replace.yml, one step per run of the module.
  - V(launch) starts a new instance beside the host, from the stage's image (C(stage_image_id), or
    the newest official image of C(stage_os)) as C(stage_instance_type), in the host's subnet,
    security groups and role, tagged as a replacement. Nothing is launched when the host runs that
    image as that type already, unless O(always) is set.
  - V(switch) moves the deployment's Elastic IP to the new instance, in one call that takes it off
    the old host; from then on the new instance is the deployment's host.
  - V(retire) terminates every other instance of the deployment. V(abandon) terminates the new
    instance after a failure before the switch; the old host serves on.
  - Each step goes on from what a run cut short left. The instance holding the Elastic IP is always
    the host, and a replacement launched by an earlier run from the same image is used again.
  - Check mode reports the launch, the move and the terminations, and makes none of them.
author:
  - Convex self-host maintainers (@convex-selfhost)
options:
  stage:
    description:
      - The deployment's stage model, as M(convex_selfhost.aws.stage_info) returns it with
        C(replacing_host) set (it carries the image to launch).
    type: dict
    required: true
  step:
    description:
      - The step to take.
    type: str
    choices: [launch, switch, retire, abandon]
    required: true
  instance_id:
    description:
      - The new instance, for V(switch) and V(abandon).
    type: str
  always:
    description:
      - Launch a replacement even when the host runs the wanted image as the wanted type already
        (a host that misbehaves).
    type: bool
    default: false
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
- name: A new host beside the old one
  convex_selfhost.aws.host_replace:
    stage: "{{ stage }}"
    step: launch
    region: "{{ stage.region }}"
  register: replacement

- name: The Elastic IP to the new host
  convex_selfhost.aws.host_replace:
    stage: "{{ stage }}"
    step: switch
    instance_id: "{{ replacement.next.instance_id }}"
    region: "{{ stage.region }}"
"""

RETURN = r"""
host:
  description: The deployment's host as the step found it (V(launch)) or left it (V(retire)).
  returned: for launch and retire
  type: dict
next:
  description: The new instance (C(instance_id), C(image_id), C(instance_type), C(public_ip),
    C(private_ip), C(state)); null when none is needed, or in check mode.
  returned: for launch
  type: dict
spares:
  description: Other instances of the deployment an earlier run left (such as the host a switch
    took the Elastic IP from), terminated by V(retire).
  returned: for launch
  type: list
  elements: str
why:
  description: Why the host is replaced; empty when it is not.
  returned: for launch
  type: str
image_id:
  description: The image a new host is launched from.
  returned: for launch
  type: str
address:
  description: The Elastic IP (moved, for V(switch)).
  returned: for switch and abandon
  type: str
allocation_id:
  description: The Elastic IP's allocation.
  returned: for switch and abandon
  type: str
switched:
  description: Whether the instance holds the Elastic IP already, and so was kept as the host.
  returned: for abandon
  type: bool
abandoned:
  description: The instances terminated.
  returned: for abandon
  type: list
  elements: str
retired:
  description: The instances terminated.
  returned: for retire
  type: list
  elements: str
changes:
  description: What was (or, in check mode, would be) changed.
  returned: always
  type: list
  elements: str
"""

from ansible_collections.convex_selfhost.aws.plugins.module_utils import host
from ansible_collections.convex_selfhost.aws.plugins.module_utils.deployment_plan import resources
from ansible_collections.convex_selfhost.aws.plugins.module_utils.module import ConvexAWSModule
from ansible_collections.convex_selfhost.aws.plugins.module_utils.replacement import Replacement


def host_options(stage):
    """The options a new host gets: the deployment's, with the type and image the stage asks for."""
    options = resources(stage, None)["host"]
    options["instance_type"] = stage["settings"]["stage_instance_type"]
    options["image_id"] = stage.get("image_id") or None
    return options


def main():
    module = ConvexAWSModule(
        argument_spec={
            "stage": {"type": "dict", "required": True},
            "step": {"type": "str", "required": True, "choices": ["launch", "switch", "retire", "abandon"]},
            "instance_id": {"type": "str"},
            "always": {"type": "bool", "default": False},
        },
        required_if=[("step", "switch", ["instance_id"]), ("step", "abandon", ["instance_id"])],
    )
    params = host_options(module.params["stage"])
    module.refuse_bad_input(host.input_problems(params))
    replacement = Replacement(host.Host(module, params))
    step = module.params["step"]
    if step == "launch":
        result = replacement.launch(always=module.params["always"])
    elif step == "switch":
        result = replacement.switch(module.params["instance_id"])
    elif step == "retire":
        result = replacement.retire()
    else:
        result = replacement.abandon(module.params["instance_id"])
    module.exit_json(**replacement.machine.actions.outcome(), **result)


if __name__ == "__main__":
    main()
