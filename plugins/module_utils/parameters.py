# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""SSM Parameter Store SecureStrings, generated once and kept. Used by the secret module."""

from __future__ import annotations

import secrets
import string

from ansible_collections.convex_selfhost.aws.plugins.module_utils import rules
from ansible_collections.convex_selfhost.aws.plugins.module_utils import tags as tag_helpers
from ansible_collections.convex_selfhost.aws.plugins.module_utils.actions import Actions, aws_tags, dict_tags

ARGUMENT_SPEC = {
    "name": {"type": "str"},
    "parameters": {
        "type": "list",
        "elements": "dict",
        "options": {
            "name": {"type": "str", "required": True},
            "alphabet": {"type": "str", "default": "alphanumeric"},
            "length": {"type": "int", "default": 64},
        },
    },
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


NAMED_ALPHABETS = {
    "hex": "0123456789abcdef",
    "alphanumeric": string.ascii_letters + string.digits,
    "lowercase_alphanumeric": string.ascii_lowercase + string.digits,
}
# SSM's own limits: standard-tier values up to 4 KB, and ten names a GetParameters call.
_MAX_LENGTH = 4096
_PER_READ = 10


def alphabet_of(spec):
    return NAMED_ALPHABETS.get(spec, spec)


def wanted(params):
    """The parameters to keep, each with its name, alphabet and length."""
    if params["name"]:
        return [{"name": params["name"], "alphabet": params["alphabet"], "length": params["length"]}]
    return [{"alphabet": "alphanumeric", "length": 64, **p} for p in params["parameters"]]


def input_problems(params):
    problems = []
    for spec in wanted(params):
        if rules.parameter_path_problem(spec["name"]):
            problems.append(
                f"name '{spec['name']}' is not a parameter path: use slash-separated parts of letters, digits, '_', "
                "'.' and '-', starting with '/', such as /convex/dev/instance_secret"
            )
        if not 8 <= spec["length"] <= _MAX_LENGTH:
            problems.append(f"length {spec['length']} is out of range: use 8 to {_MAX_LENGTH} characters")
        if len(set(alphabet_of(spec["alphabet"]))) < 2:
            problems.append(
                f"alphabet '{spec['alphabet']}' has fewer than two distinct characters: use hex, alphanumeric, "
                "lowercase_alphanumeric or a string of allowed characters"
            )
    if params["value"] is not None and params["regenerate"]:
        problems.append("value and regenerate cannot be used together: give a value or ask for a new one")
    if params["value"] is not None and not params["name"]:
        problems.append("value goes with name: a given value is stored in one parameter")
    if params["tags"] and rules.tags_problem(params["tags"]):
        problems.append(f"tags {rules.tags_problem(params['tags'])}")
    return problems


def generate(spec):
    alphabet = alphabet_of(spec["alphabet"])
    return "".join(secrets.choice(alphabet) for position in range(spec["length"]))


class Parameters:
    """params is the parameters' options (the module's, or what a composing module gives)."""

    def __init__(self, module, params, actions=None):
        self.module = module
        self.params = params
        self.ssm = module.aws_client("ssm")
        self.actions = actions or Actions(module, params)

    def read(self, names, with_value, with_tags=True):
        """The stored parameters among names, by name, each with its tags (one more call each)."""
        found = {}
        for start in range(0, len(names), _PER_READ):
            chunk = names[start : start + _PER_READ]
            answer = self.actions.call(
                self.ssm, f"read {', '.join(chunk)}", "get_parameters", Names=chunk, WithDecryption=with_value
            )
            found.update({p["Name"]: p for p in answer["Parameters"]})
        for name, parameter in found.items() if with_tags else ():
            listed = self.actions.call(
                self.ssm,
                f"read the tags of {name}",
                "list_tags_for_resource",
                ResourceType="Parameter",
                ResourceId=name,
            )
            parameter["Tags"] = dict_tags(listed.get("TagList"))
        return found

    def put(self, description, name, value, overwrite):
        """The version stored, and the value stored: a new parameter that exists already (made by
        an attempt whose answer was lost, or by a run beside this one) keeps the value it holds,
        which is read back, so that what this run uses is what SSM has."""
        request = {"Name": name, "Value": value, "Type": "SecureString", "Overwrite": overwrite}
        if self.params["kms_key_id"]:
            request["KeyId"] = self.params["kms_key_id"]
        if not overwrite:
            # SSM takes tags and a description only when it creates a parameter.
            request["Tags"] = aws_tags(self.actions.wanted_tags())
            if self.params["description"]:
                request["Description"] = self.params["description"]

        def stored_already():
            found = self.read([name], with_value=True, with_tags=False).get(name)
            return {"Version": found["Version"], "Value": found.get("Value")} if found else None

        stored = self.actions.act(
            self.ssm, description, "put_parameter", find=None if overwrite else stored_already, **request
        )
        if not stored:
            return None, value
        return stored["Version"], stored.get("Value", value)

    def absent(self):
        for name in self.read([spec["name"] for spec in wanted(self.params)], with_value=False):
            self.actions.act(self.ssm, f"delete the parameter {name}", "delete_parameter", Name=name)
        return {}

    def present(self):
        params = self.params
        given = params["value"]
        specs = wanted(params)
        current = self.read([spec["name"] for spec in specs], with_value=given is not None or params["return_value"])
        values, versions, tags = {}, {}, self.actions.wanted_tags()
        for spec in specs:
            name = spec["name"]
            stored = current.get(name)
            if stored is None:
                wanted_value = given if given is not None else generate(spec)
                versions[name], values[name] = self.put(
                    f"store a new value in {name}", name, wanted_value, overwrite=False
                )
                continue
            values[name], versions[name] = stored.get("Value"), stored["Version"]
            new_value = generate(spec) if params["regenerate"] else given if given not in (None, values[name]) else None
            if new_value is not None:
                versions[name] = (
                    self.put(f"replace the value of {name}", name, new_value, overwrite=True)[0] or versions[name]
                )
                values[name] = None if self.module.check_mode else new_value
            self.repair_tags(name, stored["Tags"])
            purged = params["purge_tags"] and params["tags"] is not None
            tags = tags if purged else {**stored["Tags"], **tags}
        if self.module.check_mode:
            # Nothing was stored, so a value made up for a missing parameter is no stored value.
            values = {name: value for name, value in values.items() if name in current}
        return self.result(values, versions, tags)

    def repair_tags(self, name, current):
        def add(tags):
            self.actions.call(
                self.ssm,
                f"tag {name}",
                "add_tags_to_resource",
                ResourceType="Parameter",
                ResourceId=name,
                Tags=aws_tags(tags),
            )

        def remove(keys):
            self.actions.call(
                self.ssm,
                f"untag {name}",
                "remove_tags_from_resource",
                ResourceType="Parameter",
                ResourceId=name,
                TagKeys=keys,
            )

        self.actions.repair_tags(name, current, self.actions.wanted_tags(), add=add, remove=remove)

    def result(self, values, versions, tags):
        name = self.params["name"]
        returned = {k: v for k, v in values.items() if v is not None} if self.params["return_value"] else {}
        if name:
            result = {"name": name, "tags": tags}
            if versions.get(name) is not None:
                result["version"] = versions[name]
            if name in returned:
                result["value"] = returned[name]
            return result
        result = {"versions": {k: v for k, v in versions.items() if v is not None}, "tags": tags}
        if self.params["return_value"]:
            result["stored"] = returned
        return result
