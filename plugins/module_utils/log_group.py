# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The deployment's CloudWatch Logs group, where Docker's awslogs driver sends the backend's and
the dashboard's logs. The group is made here, with its retention and tags, and never by the
driver: the host's role may only write streams into it (host_policy.py)."""

from __future__ import annotations

import json
import time

from ansible_collections.convex_selfhost.aws.plugins.module_utils import rules
from ansible_collections.convex_selfhost.aws.plugins.module_utils import tags as tag_helpers
from ansible_collections.convex_selfhost.aws.plugins.module_utils.actions import Actions

ARGUMENT_SPEC = {
    "name": {"type": "str", "required": True},
    "retention_days": {"type": "int", "default": 30},
    **tag_helpers.ARGUMENT_SPEC,
}
MISSING = ("ResourceNotFoundException",)
# The bucket policy statements CloudWatch Logs needs to export into a bucket of the same account
# encrypted with SSE-S3 (CloudWatch Logs user guide, "Exporting log data to Amazon S3": GetBucketAcl
# on the bucket, PutObject with the bucket-owner-full-control ACL under the prefix, both limited to
# the account's own log groups by aws:SourceAccount and aws:SourceArn).
EXPORT_SIDS = ("ConvexLogsExportAcl", "ConvexLogsExportWrite")
EXPORT_DONE = "COMPLETED"
EXPORT_FAILED = ("CANCELLED", "FAILED")
# How long a teardown waits for an export (a large group takes minutes) before it gives up,
# leaving the group in place.
EXPORT_WAIT_SECONDS = 1800


def export_statements(bucket_arn, prefix, region, account_id, partition):
    principal = {"Service": f"logs.{region}.amazonaws.com"}
    only_ours = {
        "StringEquals": {"aws:SourceAccount": account_id},
        "ArnLike": {"aws:SourceArn": f"arn:{partition}:logs:{region}:{account_id}:log-group:*"},
    }
    return [
        {
            "Sid": EXPORT_SIDS[0],
            "Effect": "Allow",
            "Principal": principal,
            "Action": "s3:GetBucketAcl",
            "Resource": bucket_arn,
            "Condition": only_ours,
        },
        {
            "Sid": EXPORT_SIDS[1],
            "Effect": "Allow",
            "Principal": principal,
            "Action": "s3:PutObject",
            "Resource": f"{bucket_arn}/{prefix}/*",
            "Condition": {
                **only_ours,
                "StringEquals": {**only_ours["StringEquals"], "s3:x-amz-acl": "bucket-owner-full-control"},
            },
        },
    ]


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

    def export(self, bucket, prefix, account_id):
        """A copy of every event of the group in bucket under prefix, waited for, before the group
        goes: the bucket's policy first lets CloudWatch Logs write there (export_statements).
        Nothing is copied when there is no group. A failed or unfinished export stops the run,
        with the group left in place."""
        group = self.find()
        if group is None:
            return None
        self.allow_export(bucket, prefix, account_id)
        described = f"copy the logs of {self.name} to s3://{bucket}/{prefix}/"

        def started():
            # A repeat after a lost answer finds the task the first attempt made, by its prefix.
            listed = self.actions.call(self.logs, "read the export tasks", "describe_export_tasks")
            return next((t for t in listed.get("exportTasks", []) if t.get("destinationPrefix") == prefix), None)

        task = self.actions.act(
            self.logs,
            described,
            "create_export_task",
            # One export runs at a time in an account (CloudWatch Logs quotas): another is waited for.
            retry_codes={"LimitExceededException": ""},
            find=started,
            taskName=prefix.replace("/", "-"),
            logGroupName=self.name,
            fromTime=0,
            to=int(time.time() * 1000),
            destination=bucket,
            destinationPrefix=prefix,
        )
        if task is not None:
            self.wait_for_export(task["taskId"], described)
        return f"s3://{bucket}/{prefix}/"

    def allow_export(self, bucket, prefix, account_id):
        s3 = self.module.aws_client("s3")
        found = self.actions.call(
            s3, f"read the policy of {bucket}", "get_bucket_policy", missing=("NoSuchBucketPolicy",), Bucket=bucket
        )
        policy = json.loads(found["Policy"]) if found else {"Version": "2012-10-17", "Statement": []}
        kept = [s for s in policy.get("Statement", []) if s.get("Sid") not in EXPORT_SIDS]
        wanted = export_statements(
            f"arn:{self.module.partition}:s3:::{bucket}", prefix, self.module.region, account_id, self.module.partition
        )
        if [s for s in policy.get("Statement", []) if s.get("Sid") in EXPORT_SIDS] != wanted:
            self.actions.act(
                s3,
                f"let CloudWatch Logs write the copy into {bucket}",
                "put_bucket_policy",
                Bucket=bucket,
                Policy=json.dumps({**policy, "Statement": kept + wanted}),
            )

    def wait_for_export(self, task_id, described):
        deadline = time.monotonic() + EXPORT_WAIT_SECONDS
        while True:
            listed = self.actions.call(self.logs, "read the export task", "describe_export_tasks", taskId=task_id)
            status = (next(iter(listed.get("exportTasks", [])), {}) or {}).get("status", {})
            if status.get("code") == EXPORT_DONE:
                return
            if status.get("code") in EXPORT_FAILED or time.monotonic() > deadline:
                self.module.fail_json(
                    msg=f"{described}: the export task {task_id} is {status.get('code') or 'not finished'} "
                    f"({status.get('message') or 'no message'}); the log group was kept",
                    changes=self.actions.changes,
                )
            time.sleep(2)

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
