# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The database's options, checked before any AWS call: used by database.py for the database
module and the deployment module."""

from __future__ import annotations

import re
from datetime import datetime

from ansible_collections.convex_selfhost.aws.plugins.module_utils import rules

_IDENTIFIER = re.compile(r"[A-Za-z](?!.*--)[A-Za-z0-9-]{0,49}(?<!-)")
# RDS's own limit for an instance identifier: the restored instances' names are longer than name.
_INSTANCE = re.compile(r"[A-Za-z](?!.*--)[A-Za-z0-9-]{0,62}(?<!-)")
_DATABASE = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}")
_USERNAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,15}")
_PASSWORD_FORBIDDEN = set('/@" ')


def input_problems(params):
    problems = []
    if not _IDENTIFIER.fullmatch(params["name"]):
        problems.append(
            f"name '{params['name']}' is not an RDS identifier: use 1 to 50 letters, digits and single hyphens, "
            "starting with a letter"
        )
    for option, problem in (
        ("engine_version", rules.db_engine_version_problem(params["engine_version"])),
        ("instance_class", rules.db_class_problem(params["instance_class"])),
        ("allocated_storage", rules.integer_problem(params["allocated_storage"], 20, 65536)),
        ("backup_retention_days", rules.integer_problem(params["backup_retention_days"], 1, 35)),
        ("max_allocated_storage", storage_limit_problem(params)),
        ("tags", rules.tags_problem(params["tags"] or {})),
    ):
        if problem:
            problems.append(f"{option} {problem}")
    if not _DATABASE.fullmatch(params["database_name"]):
        problems.append(
            f"database_name '{params['database_name']}' is not a MySQL database name the backend can use: letters, "
            "digits and '_', starting with a letter (INSTANCE_NAME with '-' replaced by '_')"
        )
    if not _USERNAME.fullmatch(params["master_username"]):
        problems.append(f"master_username '{params['master_username']}' must be 1 to 16 letters, digits or '_'")
    problems.extend(restore_problems(params))
    password = params["master_password"]
    if password is not None and (len(password) < 8 or len(password) > 41 or _PASSWORD_FORBIDDEN & set(password)):
        problems.append("master_password must be 8 to 41 characters without '/', '@', '\"' or spaces")
    return problems


def storage_limit_problem(params):
    if not isinstance(params["max_allocated_storage"], int) or not isinstance(params["allocated_storage"], int):
        return None
    return rules.storage_ceiling_problem(params["max_allocated_storage"], params["allocated_storage"])


def restore_problems(params):
    problems = []
    identifier = params.get("instance_identifier")
    if identifier and not _INSTANCE.fullmatch(identifier):
        problems.append(
            f"instance_identifier '{identifier}' is not an RDS identifier: use 1 to 63 letters, digits and single "
            "hyphens, starting with a letter"
        )
    snapshot, when = params.get("restore_snapshot"), params.get("restore_time")
    if snapshot and when:
        problems.append("restore_snapshot and restore_time: give one source to restore from, not both")
    if (snapshot or when) and not identifier:
        problems.append("instance_identifier must name the new instance a restore makes")
    if when and restore_time_problem(when):
        problems.append(f"restore_time {restore_time_problem(when)}")
    return problems


def moment(when):
    """The point in time ISO 8601 text with its time zone names (2026-11-24T09:30:00Z), or None."""
    try:
        found = datetime.fromisoformat(when.replace("Z", "+00:00"))
    except ValueError:
        return None
    return found if found.tzinfo is not None else None


def restore_time_problem(when):
    if moment(when) is None:
        return f"'{when}' is not an ISO 8601 time with its time zone, such as 2026-11-24T09:30:00Z"
    return None
