# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Tag helpers shared by every module: AWS's list form, Ansible's dict form, and the difference."""

from __future__ import annotations

# Every resource the collection creates carries this tag, so that teardown and the tests can
# find exactly what it made and nothing else.
MANAGED_BY_KEY = "convex_selfhost:managed-by"
MANAGED_BY_VALUE = "convex_selfhost.aws"

# The tags and purge_tags options, as the doc fragment convex_selfhost.aws.tags documents them.
ARGUMENT_SPEC = {
    "tags": {"type": "dict", "default": {}},
    "purge_tags": {"type": "bool", "default": True},
}

# AWS reserves this prefix; such tags can be neither set nor removed by callers.
_RESERVED_PREFIX = "aws:"


def to_aws(tags, key_name="Key", value_name="Value"):
    """{'a': 'b'} -> [{'Key': 'a', 'Value': 'b'}], sorted so requests are stable."""
    return [{key_name: key, value_name: str(value)} for key, value in sorted((tags or {}).items())]


def from_aws(tag_list, key_name="Key", value_name="Value"):
    """[{'Key': 'a', 'Value': 'b'}] -> {'a': 'b'}; AWS-reserved tags are left out."""
    return {
        item[key_name]: item.get(value_name, "")
        for item in (tag_list or [])
        if not item[key_name].startswith(_RESERVED_PREFIX)
    }


def with_managed_by(tags):
    """The caller's tags plus the collection's ownership tag."""
    merged = dict(tags or {})
    merged[MANAGED_BY_KEY] = MANAGED_BY_VALUE
    return merged


def difference(current, desired, purge=True):
    """What to set and what to remove to turn current tags into desired ones.

    Returns (to_set: dict, to_remove: sorted list of keys). With purge=False, tags that are
    present but not desired are kept.
    """
    current = {key: str(value) for key, value in (current or {}).items()}
    desired = {key: str(value) for key, value in (desired or {}).items()}
    to_set = {key: value for key, value in desired.items() if current.get(key) != value}
    to_remove = sorted(key for key in current if key not in desired) if purge else []
    return to_set, to_remove


def owned_filters(name):
    """EC2 describe filters for what this collection made under a Name tag."""
    return [
        {"Name": "tag:Name", "Values": [name]},
        {"Name": f"tag:{MANAGED_BY_KEY}", "Values": [MANAGED_BY_VALUE]},
    ]
