#!/usr/bin/python
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: secret
short_description: Keep a generated secret in SSM Parameter Store as a SecureString
version_added: 0.1.0
description:
  - Generates a random value once and stores it as an SSM Parameter Store C(SecureString). Later
    runs keep the stored value, so INSTANCE_SECRET and the database password survive a replaced
    host and admin keys made from them stay valid.
  - Can also store a value it is given (the admin key), or replace the value on request
    (rotation).
  - The value is returned only when O(return_value=true). Tasks that use this module should set
    C(no_log) all the same.
author:
  - Convex self-host maintainers (@convex-selfhost)
options:
  name:
    description:
      - Full name of the parameter, a path such as C(/convex/dev/instance_secret).
    type: str
    required: true
  state:
    description:
      - V(present) creates the parameter when it is missing; V(absent) deletes it.
    type: str
    choices: [present, absent]
    default: present
  length:
    description:
      - Number of characters of a generated value.
    type: int
    default: 64
  alphabet:
    description:
      - Characters a generated value is drawn from.
      - V(hex) is C(0-9a-f) (INSTANCE_SECRET wants 64 of these), V(alphanumeric) is letters and
        digits, V(lowercase_alphanumeric) is lower-case letters and digits. Any other string of
        at least two distinct characters is used as the alphabet itself.
    type: str
    default: alphanumeric
  value:
    description:
      - Store this value instead of generating one. A stored value that differs is replaced.
    type: str
  regenerate:
    description:
      - Replace the stored value with a newly generated one. Anything derived from the old value
        (admin keys from INSTANCE_SECRET) stops working.
    type: bool
    default: false
  return_value:
    description:
      - Return the stored value as RV(value).
    type: bool
    default: false
  description:
    description:
      - Description set when the parameter is created.
    type: str
  kms_key_id:
    description:
      - KMS key to encrypt the value with. The account's C(aws/ssm) key when unset.
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
    description: Shows tag changes and whether the value would change, never the value itself.
notes:
  - The value is never written to the diff, the log or the result unless O(return_value=true).
"""

EXAMPLES = r"""
- name: INSTANCE_SECRET, generated once and kept
  convex_selfhost.aws.secret:
    name: /convex/dev/instance_secret
    alphabet: hex
    length: 64
    tags:
      stage: dev
  no_log: true

- name: Read the database password for the next task
  convex_selfhost.aws.secret:
    name: /convex/dev/db_password
    length: 32
    return_value: true
  register: db_password
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
  description: Name of the parameter.
  returned: always
  type: str
  sample: /convex/dev/instance_secret
version:
  description: Version of the stored value; it grows each time the value is replaced.
  returned: when the parameter exists
  type: int
  sample: 1
value:
  description: The stored value.
  returned: when O(return_value=true) and the parameter exists
  type: str
tags:
  description: Tags of the parameter after the run.
  returned: when the parameter exists
  type: dict
  sample: {stage: dev}
"""

import secrets
import string

from ansible_collections.convex_selfhost.aws.plugins.module_utils import rules
from ansible_collections.convex_selfhost.aws.plugins.module_utils import tags as tag_helpers
from ansible_collections.convex_selfhost.aws.plugins.module_utils.actions import Actions, aws_tags, dict_tags
from ansible_collections.convex_selfhost.aws.plugins.module_utils.module import ConvexAWSModule

NAMED_ALPHABETS = {
    "hex": "0123456789abcdef",
    "alphanumeric": string.ascii_letters + string.digits,
    "lowercase_alphanumeric": string.ascii_lowercase + string.digits,
}
# SSM's own limit: standard-tier values up to 4 KB.
_MAX_LENGTH = 4096


def alphabet_of(spec):
    return NAMED_ALPHABETS.get(spec, spec)


def input_problems(params):
    problems = []
    if rules.parameter_path_problem(params["name"]):
        problems.append(
            f"name '{params['name']}' is not a parameter path: use slash-separated parts of letters, digits, '_', "
            "'.' and '-', starting with '/', such as /convex/dev/instance_secret"
        )
    if not 8 <= params["length"] <= _MAX_LENGTH:
        problems.append(f"length {params['length']} is out of range: use 8 to {_MAX_LENGTH} characters")
    if len(set(alphabet_of(params["alphabet"]))) < 2:
        problems.append(
            f"alphabet '{params['alphabet']}' has fewer than two distinct characters: use hex, alphanumeric, "
            "lowercase_alphanumeric or a string of allowed characters"
        )
    if params["value"] is not None and params["regenerate"]:
        problems.append("value and regenerate cannot be used together: give a value or ask for a new one")
    if params["tags"] and rules.tags_problem(params["tags"]):
        problems.append(f"tags {rules.tags_problem(params['tags'])}")
    return problems


def generate(params):
    alphabet = alphabet_of(params["alphabet"])
    return "".join(secrets.choice(alphabet) for position in range(params["length"]))


class SecretParameter:
    def __init__(self, module):
        self.module = module
        self.params = module.params
        self.name = self.params["name"]
        self.ssm = module.aws_client("ssm")
        self.actions = Actions(module)

    def read(self, with_value):
        found = self.actions.call(
            self.ssm,
            f"read the parameter {self.name}",
            "get_parameter",
            missing={"ParameterNotFound"},
            Name=self.name,
            WithDecryption=with_value,
        )
        if found is None:
            return None
        parameter = found["Parameter"]
        listed = self.actions.call(
            self.ssm,
            f"read the tags of {self.name}",
            "list_tags_for_resource",
            ResourceType="Parameter",
            ResourceId=self.name,
        )
        parameter["Tags"] = dict_tags(listed.get("TagList"))
        return parameter

    def put(self, description, value, overwrite):
        request = {"Name": self.name, "Value": value, "Type": "SecureString", "Overwrite": overwrite}
        if self.params["kms_key_id"]:
            request["KeyId"] = self.params["kms_key_id"]
        if not overwrite:
            # SSM takes tags and a description only when it creates a parameter.
            request["Tags"] = aws_tags(self.actions.wanted_tags())
            if self.params["description"]:
                request["Description"] = self.params["description"]
        stored = self.actions.act(self.ssm, description, "put_parameter", **request)
        return stored["Version"] if stored else None

    def absent(self):
        if self.read(with_value=False) is not None:
            self.actions.act(self.ssm, f"delete the parameter {self.name}", "delete_parameter", Name=self.name)
        return {"name": self.name}

    def present(self):
        params = self.params
        given = params["value"]
        current = self.read(with_value=given is not None or params["return_value"])
        if current is None:
            value = given if given is not None else generate(params)
            version = self.put(f"store a new value in {self.name}", value, overwrite=False)
            result = {"name": self.name, "tags": self.actions.wanted_tags()}
            if version is not None:
                result["version"] = version
            if params["return_value"] and not self.module.check_mode:
                result["value"] = value
            return result

        value, version = current.get("Value"), current["Version"]
        new_value = generate(params) if params["regenerate"] else given if given not in (None, value) else None
        if new_value is not None:
            version = self.put(f"replace the value of {self.name}", new_value, overwrite=True) or version
            value = new_value
        wanted = self.actions.wanted_tags()
        self.actions.repair_tags(
            self.name,
            current["Tags"],
            wanted,
            add=lambda tags: self.actions.call(
                self.ssm,
                f"tag {self.name}",
                "add_tags_to_resource",
                ResourceType="Parameter",
                ResourceId=self.name,
                Tags=aws_tags(tags),
            ),
            remove=lambda keys: self.actions.call(
                self.ssm,
                f"untag {self.name}",
                "remove_tags_from_resource",
                ResourceType="Parameter",
                ResourceId=self.name,
                TagKeys=keys,
            ),
        )
        purged = params["purge_tags"] and params["tags"] is not None
        result = {"name": self.name, "version": version, "tags": wanted if purged else {**current["Tags"], **wanted}}
        if params["return_value"] and not (self.module.check_mode and new_value is not None):
            result["value"] = value
        return result


def main():
    argument_spec = {
        "name": {"type": "str", "required": True},
        "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
        "length": {"type": "int", "default": 64},
        "alphabet": {"type": "str", "default": "alphanumeric"},
        "value": {"type": "str", "no_log": True},
        "regenerate": {"type": "bool", "default": False},
        "return_value": {"type": "bool", "default": False},
        "description": {"type": "str"},
        "kms_key_id": {"type": "str"},
        **tag_helpers.ARGUMENT_SPEC,
    }
    module = ConvexAWSModule(argument_spec=argument_spec)
    module.refuse_bad_input(input_problems(module.params))
    parameter = SecretParameter(module)
    result = parameter.absent() if module.params["state"] == "absent" else parameter.present()
    module.exit_json(**parameter.actions.outcome(), **result)


if __name__ == "__main__":
    main()
