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
  - convex_selfhost.aws.connection
  - convex_selfhost.aws.tags
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

import re
import secrets
import string

from ansible_collections.convex_selfhost.aws.plugins.module_utils import tags as tag_helpers
from ansible_collections.convex_selfhost.aws.plugins.module_utils.module import ConvexAWSModule

try:
    from botocore.exceptions import BotoCoreError, ClientError
except ImportError:
    pass  # ConvexAWSModule reports a missing botocore itself.

NAMED_ALPHABETS = {
    "hex": "0123456789abcdef",
    "alphanumeric": string.ascii_letters + string.digits,
    "lowercase_alphanumeric": string.ascii_lowercase + string.digits,
}
_NAME = re.compile(r"^(/[A-Za-z0-9_.\-]+)+$")
# SSM's own limits: names up to 1011 characters, standard-tier values up to 4 KB.
_MAX_NAME = 1011
_MAX_LENGTH = 4096


def alphabet_of(spec):
    return NAMED_ALPHABETS.get(spec, spec)


def input_problems(params):
    problems = []
    name = params["name"]
    if not _NAME.match(name) or len(name) > _MAX_NAME:
        problems.append(
            f"name '{name}' is not a parameter path: use slash-separated parts of letters, digits, '_', '.' "
            "and '-', starting with '/', such as /convex/dev/instance_secret"
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

    def read(self, with_value):
        try:
            parameter = self.ssm.get_parameter(Name=self.name, WithDecryption=with_value)["Parameter"]
        except ClientError as error:
            if error.response["Error"]["Code"] == "ParameterNotFound":
                return None
            self.module.fail_aws(error, f"read the parameter {self.name}")
        except BotoCoreError as error:
            self.module.fail_aws(error, f"read the parameter {self.name}")
        try:
            listed = self.ssm.list_tags_for_resource(ResourceType="Parameter", ResourceId=self.name)
        except (BotoCoreError, ClientError) as error:
            self.module.fail_aws(error, f"read the tags of {self.name}")
        parameter["Tags"] = tag_helpers.from_aws(listed.get("TagList"))
        return parameter

    def put(self, value, overwrite, tags=None):
        request = {"Name": self.name, "Value": value, "Type": "SecureString", "Overwrite": overwrite}
        if self.params["kms_key_id"]:
            request["KeyId"] = self.params["kms_key_id"]
        if not overwrite:
            # SSM takes tags and a description only when it creates a parameter.
            request["Tags"] = tag_helpers.to_aws(tags)
            if self.params["description"]:
                request["Description"] = self.params["description"]
        try:
            return self.ssm.put_parameter(**request)["Version"]
        except (BotoCoreError, ClientError) as error:
            self.module.fail_aws(error, f"store the parameter {self.name}")

    def retag(self, to_set, to_remove):
        try:
            if to_set:
                self.ssm.add_tags_to_resource(
                    ResourceType="Parameter", ResourceId=self.name, Tags=tag_helpers.to_aws(to_set)
                )
            if to_remove:
                self.ssm.remove_tags_from_resource(ResourceType="Parameter", ResourceId=self.name, TagKeys=to_remove)
        except (BotoCoreError, ClientError) as error:
            self.module.fail_aws(error, f"update the tags of {self.name}")

    def delete(self):
        try:
            self.ssm.delete_parameter(Name=self.name)
        except (BotoCoreError, ClientError) as error:
            self.module.fail_aws(error, f"delete the parameter {self.name}")


def ensure_absent(module, store):
    current = store.read(with_value=False)
    if current is None:
        module.exit_json(changed=False, name=store.name)
    if not module.check_mode:
        store.delete()
    module.exit_json(changed=True, name=store.name, diff={"before": {"exists": True}, "after": {"exists": False}})


def ensure_present(module, store):
    params = module.params
    wanted_tags = tag_helpers.with_managed_by(params["tags"])
    given = params["value"]
    current = store.read(with_value=given is not None or params["return_value"])

    if current is None:
        value = given if given is not None else generate(params)
        version = None if module.check_mode else store.put(value, overwrite=False, tags=wanted_tags)
        result = {"changed": True, "name": store.name, "tags": wanted_tags}
        result["diff"] = {"before": {"exists": False}, "after": {"exists": True, "value": "(new, hidden)"}}
        if version is not None:
            result["version"] = version
        if params["return_value"] and not module.check_mode:
            result["value"] = value
        module.exit_json(**result)

    value, version, changed = current.get("Value"), current["Version"], False
    before = {"tags": current["Tags"], "value": "(stored, hidden)"}
    after = {"tags": current["Tags"], "value": "(stored, hidden)"}
    new_value = None
    if params["regenerate"]:
        new_value = generate(params)
    elif given is not None and given != value:
        new_value = given
    if new_value is not None:
        changed = True
        after["value"] = "(replaced, hidden)"
        if not module.check_mode:
            version = store.put(new_value, overwrite=True)
        value = new_value

    to_set, to_remove = tag_helpers.difference(current["Tags"], wanted_tags, params["purge_tags"])
    if to_set or to_remove:
        changed = True
        after["tags"] = {k: v for k, v in {**current["Tags"], **to_set}.items() if k not in to_remove}
        if not module.check_mode:
            store.retag(to_set, to_remove)

    result = {"changed": changed, "name": store.name, "version": version, "tags": after["tags"]}
    if changed:
        result["diff"] = {"before": before, "after": after}
    if params["return_value"] and not (module.check_mode and new_value is not None):
        result["value"] = value
    module.exit_json(**result)


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
    store = SecretParameter(module)
    if module.params["state"] == "absent":
        ensure_absent(module, store)
    ensure_present(module, store)


if __name__ == "__main__":
    main()
