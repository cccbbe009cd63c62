#!/usr/bin/python
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: secret
short_description: Keep generated secrets in SSM Parameter Store as SecureStrings
version_added: 0.1.0
description:
  - Generates a random value once and stores it as an SSM Parameter Store C(SecureString). Later
    runs keep the stored value, so INSTANCE_SECRET and the database password survive a replaced
    host and admin keys made from them stay valid.
  - Takes one parameter (O(name)) or several (O(parameters)); several are read with one call.
  - Can also store a value it is given (the admin key), or replace the value on request
    (rotation).
  - The values are returned only when O(return_value=true). Tasks that use this module should set
    C(no_log) all the same.
author:
  - Convex self-host maintainers (@convex-selfhost)
options:
  name:
    description:
      - Full name of one parameter, a path such as C(/convex/dev/instance_secret).
      - One of O(name) and O(parameters) is required.
    type: str
  parameters:
    description:
      - Several parameters, each with its own O(parameters[].name), O(parameters[].alphabet) and
        O(parameters[].length); read with one call.
    type: list
    elements: dict
    suboptions:
      name:
        description: Full name of the parameter.
        type: str
        required: true
      alphabet:
        description: As O(alphabet), for this parameter.
        type: str
        default: alphanumeric
      length:
        description: As O(length), for this parameter.
        type: int
        default: 64
  state:
    description:
      - V(present) creates missing parameters; V(absent) deletes them.
    type: str
    choices: [present, absent]
    default: present
  length:
    description:
      - Number of characters of a value generated for O(name).
    type: int
    default: 64
  alphabet:
    description:
      - Characters a value generated for O(name) is drawn from.
      - V(hex) is C(0-9a-f) (INSTANCE_SECRET wants 64 of these), V(alphanumeric) is letters and
        digits, V(lowercase_alphanumeric) is lower-case letters and digits. Any other string of
        at least two distinct characters is used as the alphabet itself.
    type: str
    default: alphanumeric
  value:
    description:
      - Store this value in O(name) instead of generating one. A stored value that differs is replaced.
    type: str
  regenerate:
    description:
      - Replace the stored values with newly generated ones. Anything derived from an old value
        (admin keys from INSTANCE_SECRET) stops working.
    type: bool
    default: false
  return_value:
    description:
      - Return the stored values, as RV(value) for O(name) and RV(stored) for O(parameters).
    type: bool
    default: false
  description:
    description:
      - Description set when a parameter is created.
    type: str
  kms_key_id:
    description:
      - KMS key to encrypt the values with. The account's C(aws/ssm) key when unset.
    type: str
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.tags
  - amazon.aws.boto3
  - convex_selfhost.aws.common
attributes:
  diff_mode:
    support: partial
    description: Lists the changes, such as a value that would be replaced, never a value itself.
notes:
  - A value is never written to the diff, the log or the result unless O(return_value=true).
  - In check mode the module only reads, so C(check_mode=true) with O(return_value=true) reads a
    stored value without ever making one.
"""

EXAMPLES = r"""
- name: INSTANCE_SECRET and the database password, generated once and kept
  convex_selfhost.aws.secret:
    parameters:
      - name: /convex/dev/instance_secret
        alphabet: hex
        length: 64
      - name: /convex/dev/db_password
        length: 32
    return_value: true
    tags:
      stage: dev
  register: stage_secrets
  no_log: true

- name: Store the admin key the backend made
  convex_selfhost.aws.secret:
    name: /convex/dev/admin_key
    value: "{{ admin_key }}"
  no_log: true

- name: Rotate INSTANCE_SECRET (old admin keys stop working)
  convex_selfhost.aws.secret:
    name: /convex/dev/instance_secret
    alphabet: hex
    regenerate: true
  no_log: true
"""

RETURN = r"""
name:
  description: Name of the parameter, with O(name).
  returned: with O(name)
  type: str
  sample: /convex/dev/instance_secret
version:
  description: Version of the stored value, with O(name); it grows each time the value is replaced.
  returned: with O(name), when the parameter exists
  type: int
  sample: 1
value:
  description: The stored value, with O(name).
  returned: with O(name), when O(return_value=true) and the parameter exists
  type: str
stored:
  description: The stored value of each parameter, by name, with O(parameters).
  returned: with O(parameters), when O(return_value=true)
  type: dict
versions:
  description: The version of each stored parameter, by name, with O(parameters).
  returned: with O(parameters)
  type: dict
tags:
  description: Tags of the parameters after the run.
  returned: when the parameters exist
  type: dict
  sample: {stage: dev}
"""

from ansible_collections.convex_selfhost.aws.plugins.module_utils.module import ConvexAWSModule
from ansible_collections.convex_selfhost.aws.plugins.module_utils.parameters import (
    ARGUMENT_SPEC,
    Parameters,
    input_problems,
)


def main():
    module = ConvexAWSModule(
        argument_spec=ARGUMENT_SPEC,
        mutually_exclusive=[("name", "parameters")],
        required_one_of=[("name", "parameters")],
    )
    module.refuse_bad_input(input_problems(module.params))
    store = Parameters(module, module.params)
    result = store.absent() if module.params["state"] == "absent" else store.present()
    module.exit_json(**store.actions.outcome(), **result)


if __name__ == "__main__":
    main()
