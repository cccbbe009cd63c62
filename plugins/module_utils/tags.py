# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What every module's tagging shares. Converting and comparing tags is amazon.aws's
(module_utils.tagging, used through actions.py); the options are its doc fragment's
(amazon.aws.tags)."""

from __future__ import annotations

# Every resource the collection creates carries this tag, so that teardown and the tests can
# find exactly what it made and nothing else.
MANAGED_BY_KEY = "convex_selfhost:managed-by"
MANAGED_BY_VALUE = "convex_selfhost.aws"
# A protected stage's resources carry this tag, so that protection is recorded in AWS itself and
# a run whose inventory says otherwise (a wrong -e, a wrong inventory) can see it.
PROTECTED_KEY = "convex_selfhost:protected"

# The tags and purge_tags options, as the doc fragment amazon.aws.tags documents them.
ARGUMENT_SPEC = {
    "tags": {"type": "dict", "aliases": ["resource_tags"]},
    "purge_tags": {"type": "bool", "default": True},
}


def owned_filters(name):
    """EC2 describe filters for what this collection made under a Name tag."""
    return [
        {"Name": "tag:Name", "Values": [name]},
        {"Name": f"tag:{MANAGED_BY_KEY}", "Values": [MANAGED_BY_VALUE]},
    ]
