# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The collection's setting rules as Jinja filters, so that stage checks and roles apply the very
rules the modules apply (plugins/module_utils/rules.py). Each filter returns an empty string when
the value is usable, else a sentence that says what is wrong with it."""

from __future__ import annotations

from ansible_collections.convex_selfhost.aws.plugins.module_utils import rules


def _text(problem):
    return problem or ""


class FilterModule:
    def filters(self):
        return {"region_problem": lambda region: _text(rules.region_problem(region))}
