#!/usr/bin/python
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: secret_info
short_description: Read SSM parameters the secret module keeps, without ever making one
version_added: 0.2.0
description:
  - Reads SSM Parameter Store parameters (such as the admin key that M(convex_selfhost.aws.secret)
    stores) with one call, and says which exist.
  - A module rather than a lookup, so that it runs with the task's C(environment), the way every
    other AWS call of a stage does (C(stage_aws_environment)); a lookup runs inside the controller's
    own process, where that environment never reaches.
  - Makes no AWS writes.
author:
  - Convex self-host maintainers (@convex-selfhost)
options:
  names:
    description:
      - Full names of the parameters, paths such as C(/convex/dev/admin_key); at most ten are read
        with each call.
    type: list
    elements: str
    required: true
  return_value:
    description:
      - Return the stored values (decrypted) in RV(values). Tasks that use this should set C(no_log).
    type: bool
    default: false
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
  - convex_selfhost.aws.common
attributes:
  diff_mode:
    support: none
    description: Nothing changes, so there is nothing to show.
"""

EXAMPLES = r"""
- name: Is an admin key stored?
  convex_selfhost.aws.secret_info:
    names: [/convex/dev/admin_key]
    region: eu-west-1
  register: stored_keys

- name: Say so
  ansible.builtin.debug:
    msg: "{{ '/convex/dev/admin_key' in stored_keys.existing }}"
"""

RETURN = r"""
existing:
  description: The names among O(names) that exist.
  returned: always
  type: list
  elements: str
values:
  description: The stored value of each existing parameter, by name.
  returned: when O(return_value=true)
  type: dict
"""

from ansible_collections.convex_selfhost.aws.plugins.module_utils import rules
from ansible_collections.convex_selfhost.aws.plugins.module_utils.module import ConvexAWSModule
from ansible_collections.convex_selfhost.aws.plugins.module_utils.parameters import Parameters


def main():
    module = ConvexAWSModule(
        argument_spec={
            "names": {"type": "list", "elements": "str", "required": True},
            "return_value": {"type": "bool", "default": False},
        }
    )
    names = module.params["names"]
    module.refuse_bad_input(
        [f"names entry {rules.parameter_path_problem(n)}" for n in names if rules.parameter_path_problem(n)]
    )
    found = Parameters(module, {"tags": None, "purge_tags": False}).read(
        names, with_value=module.params["return_value"]
    )
    result = {"changed": False, "existing": sorted(found)}
    if module.params["return_value"]:
        result["values"] = {name: parameter.get("Value") for name, parameter in found.items()}
    module.exit_json(**result)


if __name__ == "__main__":
    main()
