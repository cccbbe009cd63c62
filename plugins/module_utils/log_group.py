# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The deployment's CloudWatch Logs group, where Docker's awslogs driver sends the backend's and
the dashboard's logs. The group is made here, with its retention and tags, and never by the
driver: the host's role may only write streams into it (host_policy.py)."""

from __future__ import annotations

from ansible_collections.convex_selfhost.aws.plugins.module_utils import rules
from ansible_collections.convex_selfhost.aws.plugins.module_utils import tags as tag_helpers
from ansible_collections.convex_selfhost.aws.plugins.module_utils.actions import Actions

ARGUMENT_SPEC = {
    "name": {"type": "str", "required": True},
    "retention_days": {"type": "int", "default": 30},
    **tag_helpers.ARGUMENT_SPEC,
}
MISSING = ("ResourceNotFoundException",)


def input_problems(params):
    problems = []
    problem = rules.log_retention_problem(params["retention_days"])
    if problem:
        problems.append(f"retention_days {problem}")
    if params["tags"] and rules.tags_problem(params["tags"]):
        problems.append(f"tags {rules.tags_problem(params['tags'])}")
    return problems


class LogGroup:
    def __init__(self, module, params, actions=None):
        self.module = module
        self.params = params
        self.name = params["name"]
        self.actions = actions or Actions(module, params)

    @property
    def logs(self):
        return self.module.aws_client("logs")

    def find(self):
        """The group as DescribeLogGroups has it, or None. A prefix lists every group that starts
        with the name: only the exact one is taken."""
        listed = self.actions.call(
            self.logs, f"read the log group {self.name}", "describe_log_groups", logGroupNamePrefix=self.name
        )
        return next((g for g in listed.get("logGroups", []) if g["logGroupName"] == self.name), None)

    @staticmethod
    def arn_of(group):
        # DescribeLogGroups gives the ARN with a trailing ":*"; the tagging calls take it without.
        return group.get("logGroupArn") or group["arn"].removesuffix(":*")

    def ensure(self):
        """The group, made or repaired: its retention and its tags. One read when nothing is
        wrong, and one more for the tags."""
        wanted_tags = self.actions.wanted_tags()
        group = self.find()
        if group is None:
            self.actions.act(
                self.logs,
                f"create the log group {self.name}",
                "create_log_group",
                find=self.find,
                logGroupName=self.name,
                tags=wanted_tags,
            )
            group = {"logGroupName": self.name} if self.module.check_mode else (self.find() or {})
            current_tags = wanted_tags
        else:
            listed = self.actions.call(
                self.logs, f"read the tags of {self.name}", "list_tags_for_resource", resourceArn=self.arn_of(group)
            )
            current_tags = listed.get("tags", {})
        self.repair_retention(group.get("retentionInDays") or 0)
        if "arn" in group or "logGroupArn" in group:
            arn = self.arn_of(group)
            self.actions.repair_tags(
                f"the log group {self.name}",
                current_tags,
                wanted_tags,
                lambda add: self.actions.call(self.logs, "tag", "tag_resource", resourceArn=arn, tags=add),
                lambda keys: self.actions.call(self.logs, "untag", "untag_resource", resourceArn=arn, tagKeys=keys),
            )
        return {"name": self.name, "retention_days": self.params["retention_days"]}

    def repair_retention(self, current):
        wanted = self.params["retention_days"]
        if current == wanted:
            return
        if wanted == 0:
            self.actions.act(
                self.logs, f"keep the logs of {self.name} forever", "delete_retention_policy", logGroupName=self.name
            )
        else:
            self.actions.act(
                self.logs,
                f"keep the logs of {self.name} for {wanted} days",
                "put_retention_policy",
                logGroupName=self.name,
                retentionInDays=wanted,
            )

    def remove(self):
        """The group and every log in it, when it exists."""
        if self.find() is not None:
            self.actions.act(
                self.logs,
                f"remove the log group {self.name}",
                "delete_log_group",
                missing=MISSING,
                logGroupName=self.name,
            )
        return {"name": self.name, "removed": True}
