# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The collection's setting rules as one Jinja filter, so that the roles' own checks apply the very
rules the modules and the stage model apply (plugins/module_utils/rules.py)."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.convex_selfhost.aws.plugins.module_utils import rules

RULES = {
    "region": rules.region_problem,
    "domain": rules.domain_problem,
    "dns_label": rules.dns_label_problem,
    "email": rules.email_problem,
    "cidr": rules.cidr_problem,
    "address": rules.address_problem,
    "version": rules.version_problem,
    "instance_name": rules.instance_name_problem,
    "registry": rules.registry_problem,
    "stage_name": rules.stage_name_problem,
    "integer": rules.integer_problem,
    "absolute_path": rules.absolute_path_problem,
    "origin": rules.origin_problem,
    "release": rules.release_problem,
    "calendar": rules.calendar_problem,
    "backend_env": rules.backend_env_problem,
    "dashboard_users": rules.dashboard_users_problem,
}


def problem(value, rule, *args):
    """An empty string when value passes the rule, else the reason it does not."""
    if rule not in RULES:
        raise AnsibleFilterError(f"convex_selfhost.aws.problem: no rule {rule!r}; the rules are {', '.join(RULES)}")
    return RULES[rule](value, *args) or ""


class FilterModule:
    def filters(self):
        return {"problem": problem}
