# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which RDS instance is a deployment's database, kept in AWS so every run agrees.

A deployment starts on the instance named after it (its resource name). A restore from an RDS
snapshot or to a point in time makes a new instance, and the old one is kept until a confirmed
run removes it; so the name of the current instance, and of those kept, cannot be derived from
the settings. They are kept in one SSM String parameter (the stage model's database_record),
read by stage_info on every run and written only by the deployment module. No parameter means
the deployment has never been restored: its instance has the resource name.
"""

from __future__ import annotations

import hashlib
import json

from ansible_collections.convex_selfhost.aws.plugins.module_utils.actions import aws_tags

MISSING = {"ParameterNotFound"}


def fresh(resource_name):
    """The record of a deployment never restored."""
    return {"current": resource_name, "kept": []}


def parse(text, resource_name):
    """The record stored as text, or a clear error for text this collection did not write."""
    try:
        record = json.loads(text)
        current, kept = record["current"], record["kept"]
    except (ValueError, KeyError, TypeError) as error:
        raise ValueError(f"is not a record of this collection ({error})") from error
    if not isinstance(current, str) or not isinstance(kept, list) or not all(isinstance(k, str) for k in kept):
        raise ValueError("is not a record of this collection (current must be text, kept a list of text)")
    if not current.startswith(resource_name):
        raise ValueError(f"names {current}, which is not an instance of {resource_name}")
    return {"current": current, "kept": kept}


def read(ssm, path, resource_name, others=()):
    """The record at path (fresh() when there is none), and which of the other parameter names are
    stored, in one GetParameters call (values of SecureStrings are not decrypted: only their
    presence is asked). Raises botocore's errors, and ValueError."""
    names = [path, *others]
    found = {p["Name"]: p for p in ssm.get_parameters(Names=names)["Parameters"]}
    stored = sorted(name for name in others if name in found)
    if path not in found:
        return fresh(resource_name), stored
    return parse(found[path]["Value"], resource_name), stored


def restored_name(resource_name, source):
    """The new instance a restore from source (a snapshot identifier, or a point in time) makes.
    The same source gives the same name, so a restore that failed half-way is taken up again by
    the next run instead of starting a second copy."""
    digest = hashlib.sha256(source.encode()).hexdigest()[:8]
    return f"{resource_name}-r{digest}"


def write(actions, ssm, path, record):
    """Store the record (a change, so check mode only says it would)."""
    text = json.dumps({"current": record["current"], "kept": record["kept"]}, sort_keys=True)
    exists = actions.call(ssm, "read the database record", "get_parameter", missing=MISSING, Name=path)
    request = {"Name": path, "Value": text, "Type": "String"}
    if exists:
        request["Overwrite"] = True
    else:
        request["Tags"] = aws_tags(actions.wanted_tags())
        request["Description"] = "Which RDS instance is this Convex deployment's database (convex_selfhost.aws)"
    actions.act(ssm, f"record {record['current']} as the database in {path}", "put_parameter", **request)


def remove(actions, ssm, path):
    if actions.call(ssm, "read the database record", "get_parameter", missing=MISSING, Name=path):
        actions.act(ssm, f"remove the database record {path}", "delete_parameter", Name=path)
