# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What watches a deployment: its SNS topic (and the e-mail address subscribed to it), its alarms
and its CloudWatch dashboard.

The host publishes its own metrics (the metrics role) into the deployment's namespace, each once
a minute; the alarms here read them, and two of AWS's own (the instance's status check, RDS's free
storage). Every alarm notifies the deployment's topic and any topic the stage adds.

A no-op run reads four times: the topic's subscriptions (which also say whether it exists) and its
tags, the alarms by their common prefix, and the dashboard. The alarms are found by name and carry
no tags: PutMetricAlarm takes tags only when it creates an alarm, so keeping them right would cost
one more read per alarm on every run, and a tag that could not be kept right is not given.
"""

from __future__ import annotations

import json

from ansible_collections.convex_selfhost.aws.plugins.module_utils import rules
from ansible_collections.convex_selfhost.aws.plugins.module_utils import tags as tag_helpers
from ansible_collections.convex_selfhost.aws.plugins.module_utils.actions import Actions, aws_tags

ARGUMENT_SPEC = {
    # The deployment's resource name: the topic is <name>-alarms, each alarm <name>-<kind>, and
    # the dashboard <name>.
    "name": {"type": "str", "required": True},
    # Where the host puts its metrics (the metrics role): one namespace per deployment, so that
    # the host's role can be allowed that one namespace and no other.
    "namespace": {"type": "str", "required": True},
    "account_id": {"type": "str", "required": True},
    "email": {"type": "str", "default": ""},
    "topic_arns": {"type": "list", "elements": "str", "default": []},
    # Filled in by the deployment module once the host and database are known.
    "instance_id": {"type": "str", "default": ""},
    "database_instance": {"type": "str", "default": ""},
    "database_storage_gb": {"type": "int", "default": 20},
    # Whether the host's timer exports the data (an alarm on the export's age only then).
    "export_timer": {"type": "bool", "default": True},
    "memory_percent": {"type": "int", "default": 90},
    "disk_percent": {"type": "int", "default": 85},
    "backend_down_minutes": {"type": "int", "default": 3},
    "silent_minutes": {"type": "int", "default": 5},
    "status_check_minutes": {"type": "int", "default": 3},
    "export_hours": {"type": "int", "default": 26},
    "database_free_percent": {"type": "int", "default": 10},
    **tag_helpers.ARGUMENT_SPEC,
}
# The host's metrics, as the metrics role's convex-metrics publishes them.
MEMORY = "MemoryUsedPercent"
SWAP = "SwapUsedPercent"
DISK = "RootDiskUsedPercent"
BACKEND = "BackendUp"
EXPORT_AGE = "HoursSinceExport"
HEARTBEAT = "Heartbeat"
# Every alarm kind this module may make: a kind no longer wanted (the export timer turned off) is
# deleted by its name, and only these names are ever deleted.
KINDS = ("memory", "disk", "backend", "silent", "export", "status", "database-storage")
GIB = 1024**3


def topic_name(name):
    """The deployment's topic, from its resource name."""
    return f"{name}-alarms"


def input_problems(params):
    problems = []
    for name, rule in (
        ("email", rules.optional_email_problem),
        ("topic_arns", rules.topic_arns_problem),
        ("memory_percent", rules.percent_problem),
        ("disk_percent", rules.percent_problem),
        ("database_free_percent", rules.percent_problem),
        ("backend_down_minutes", lambda v: rules.integer_problem(v, 1, 1440)),
        ("silent_minutes", lambda v: rules.integer_problem(v, 1, 1440)),
        ("status_check_minutes", lambda v: rules.integer_problem(v, 1, 1440)),
        ("export_hours", lambda v: rules.integer_problem(v, 1, 8760)),
    ):
        problem = rule(params[name])
        if problem:
            problems.append(f"{name}: {problem}")
    if params["tags"] and rules.tags_problem(params["tags"]):
        problems.append(f"tags {rules.tags_problem(params['tags'])}")
    return problems


class Watch:
    def __init__(self, module, params, actions=None):
        self.module = module
        self.params = params
        self.name = params["name"]
        self.actions = actions or Actions(module, params)
        region, partition = module.region, module.partition
        self.topic_name = topic_name(self.name)
        self.topic_arn = f"arn:{partition}:sns:{region}:{params['account_id']}:{self.topic_name}"
        self.alarm_arn_prefix = f"arn:{partition}:cloudwatch:{region}:{params['account_id']}:alarm:"
        self.reboot_arn = f"arn:{partition}:automate:{region}:ec2:reboot"

    @property
    def sns(self):
        return self.module.aws_client("sns")

    @property
    def cloudwatch(self):
        return self.module.aws_client("cloudwatch")

    def alarm_name(self, kind):
        return f"{self.name}-{kind}"

    @property
    def notified(self):
        """The topics every alarm notifies: the deployment's own, then the stage's others."""
        return [self.topic_arn, *self.params["topic_arns"]]

    # --- the topic -----------------------------------------------------------------------
    def subscriptions(self):
        """The topic's subscriptions, or None when there is no topic."""
        listed = self.actions.call(
            self.sns,
            f"read the subscriptions of {self.topic_name}",
            "list_subscriptions_by_topic",
            missing=("NotFound",),
            TopicArn=self.topic_arn,
        )
        return None if listed is None else listed.get("Subscriptions", [])

    def ensure_topic(self):
        """The topic, its tags, and the e-mail subscription. No server-side encryption: CloudWatch
        cannot publish to a topic encrypted with SNS's AWS-managed key, and what an alarm sends
        holds no secret."""
        wanted_tags = self.actions.wanted_tags()
        found = self.subscriptions()
        if found is None:
            # CreateTopic is idempotent by name: a repeat (a lost answer) gives the same topic.
            self.actions.act(
                self.sns,
                f"create the topic {self.topic_name}",
                "create_topic",
                Name=self.topic_name,
                Tags=aws_tags(wanted_tags),
            )
            found = []
        else:
            listed = self.actions.call(
                self.sns, f"read the tags of {self.topic_name}", "list_tags_for_resource", ResourceArn=self.topic_arn
            )
            self.actions.repair_tags(
                f"the topic {self.topic_name}",
                {t["Key"]: t["Value"] for t in listed.get("Tags", [])},
                wanted_tags,
                lambda add: self.actions.call(
                    self.sns, "tag", "tag_resource", ResourceArn=self.topic_arn, Tags=aws_tags(add)
                ),
                lambda keys: self.actions.call(
                    self.sns, "untag", "untag_resource", ResourceArn=self.topic_arn, TagKeys=keys
                ),
            )
        return {"topic_arn": self.topic_arn, "email": self.ensure_email(found)}

    def ensure_email(self, subscriptions):
        """The stage's address subscribed, any other e-mail subscription removed (subscriptions of
        other protocols are someone's own, and kept). SNS sends the address a confirmation: until
        it is followed, the subscription is "PendingConfirmation", cannot be removed, and SNS
        drops it after three days (SNS developer guide, "Deleting an Amazon SNS subscription")."""
        wanted = self.params["email"]
        emails = [s for s in subscriptions if s.get("Protocol") == "email"]
        pending = []
        for subscription in emails:
            if subscription["Endpoint"] == wanted:
                continue
            if subscription["SubscriptionArn"] == "PendingConfirmation":
                pending.append(subscription["Endpoint"])
                continue
            self.actions.act(
                self.sns,
                f"unsubscribe {subscription['Endpoint']} from {self.topic_name}",
                "unsubscribe",
                missing=("NotFound",),
                SubscriptionArn=subscription["SubscriptionArn"],
            )
        state = ""
        if wanted:
            mine = next((s for s in emails if s["Endpoint"] == wanted), None)
            if mine is None:
                self.actions.act(
                    self.sns,
                    f"subscribe {wanted} to {self.topic_name} (SNS mails a link to confirm)",
                    "subscribe",
                    TopicArn=self.topic_arn,
                    Protocol="email",
                    Endpoint=wanted,
                )
                state = "pending confirmation"
            else:
                state = "pending confirmation" if mine["SubscriptionArn"] == "PendingConfirmation" else "confirmed"
        return {"address": wanted, "state": state, "unconfirmed_others": pending}

    # --- the alarms ----------------------------------------------------------------------
    def host_alarm(self, kind, description, metric, statistic, comparison, threshold, minutes, missing="missing"):
        """An alarm on one of the host's own metrics, in one-minute periods."""
        return {
            "AlarmName": self.alarm_name(kind),
            "AlarmDescription": description,
            "Namespace": self.params["namespace"],
            "MetricName": metric,
            "Dimensions": [],
            "Statistic": statistic,
            "Period": 60,
            "EvaluationPeriods": minutes,
            "Threshold": float(threshold),
            "ComparisonOperator": comparison,
            "TreatMissingData": missing,
            "AlarmActions": self.notified,
            "OKActions": self.notified,
        }

    def wanted_alarms(self):
        """Each alarm, by name. The status-check alarm waits for the host's id, the storage alarm
        for the database's (check mode on a new deployment has neither)."""
        p = self.params
        alarms = [
            self.host_alarm(
                "memory",
                f"{self.name}: memory above {p['memory_percent']}% for 5 minutes; see the README's Alarms",
                MEMORY,
                "Average",
                "GreaterThanThreshold",
                p["memory_percent"],
                5,
            ),
            self.host_alarm(
                "disk",
                f"{self.name}: root disk above {p['disk_percent']}%; see the README's Alarms",
                DISK,
                "Maximum",
                "GreaterThanThreshold",
                p["disk_percent"],
                1,
            ),
            self.host_alarm(
                "backend",
                f"{self.name}: the backend has not answered /version for {p['backend_down_minutes']} minutes",
                BACKEND,
                "Maximum",
                "LessThanThreshold",
                1,
                p["backend_down_minutes"],
            ),
            # No data at all is what a stopped or hung host sends: here it counts as breaching.
            self.host_alarm(
                "silent",
                f"{self.name}: the host has sent no metrics for {p['silent_minutes']} minutes",
                HEARTBEAT,
                "SampleCount",
                "LessThanThreshold",
                1,
                p["silent_minutes"],
                missing="breaching",
            ),
        ]
        if p["export_timer"]:
            alarms.append(
                self.host_alarm(
                    "export",
                    f"{self.name}: no successful snapshot export for {p['export_hours']} hours",
                    EXPORT_AGE,
                    "Maximum",
                    "GreaterThanThreshold",
                    p["export_hours"],
                    5,
                )
            )
        if p["instance_id"]:
            # The status check of the instance itself (its OS, its network): EC2's reboot action,
            # beside the recovery alarm that handles AWS's own side (host.py).
            alarms.append(
                {
                    **self.host_alarm(
                        "status",
                        f"{self.name}: the instance's status check has failed for {p['status_check_minutes']} "
                        "minutes; EC2 reboots it",
                        "StatusCheckFailed_Instance",
                        "Maximum",
                        "GreaterThanThreshold",
                        0,
                        p["status_check_minutes"],
                    ),
                    "Namespace": "AWS/EC2",
                    "Dimensions": [{"Name": "InstanceId", "Value": p["instance_id"]}],
                    "AlarmActions": [self.reboot_arn, *self.notified],
                }
            )
        if p["database_instance"]:
            free = p["database_storage_gb"] * GIB * p["database_free_percent"] // 100
            alarms.append(
                {
                    **self.host_alarm(
                        "database-storage",
                        f"{self.name}: the database has less than {p['database_free_percent']}% of its "
                        f"{p['database_storage_gb']} GiB free",
                        "FreeStorageSpace",
                        "Minimum",
                        "LessThanThreshold",
                        free,
                        1,
                    ),
                    "Namespace": "AWS/RDS",
                    "Dimensions": [{"Name": "DBInstanceIdentifier", "Value": p["database_instance"]}],
                    "Period": 300,
                }
            )
        return {alarm["AlarmName"]: alarm for alarm in alarms}

    def current_alarms(self):
        """The deployment's alarms as CloudWatch has them, by name. The prefix may also list
        another deployment's (convex-a- is a prefix of convex-a-b-): only this one's names count."""
        ours = {self.alarm_name(kind) for kind in KINDS}
        found = self.actions.call(
            self.cloudwatch,
            f"read the alarms of {self.name}",
            "describe_alarms",
            AlarmNamePrefix=f"{self.name}-",
            AlarmTypes=["MetricAlarm"],
        )
        return {a["AlarmName"]: a for a in found.get("MetricAlarms", []) if a["AlarmName"] in ours}

    @staticmethod
    def comparable(key, value):
        """A field of an alarm as CloudWatch compares it: dimensions and actions are sets to it
        (their order is not kept), and a TreatMissingData it leaves out is its default."""
        if key == "Dimensions":
            return sorted((d["Name"], d["Value"]) for d in value or [])
        if key in ("AlarmActions", "OKActions"):
            return sorted(value or [])
        if key == "TreatMissingData":
            return value or "missing"
        return value

    def differs(self, current, wanted):
        if current is None:
            return True
        return any(self.comparable(k, current.get(k)) != self.comparable(k, v) for k, v in wanted.items())

    def ensure_alarms(self):
        wanted = self.wanted_alarms()
        current = self.current_alarms()
        for name, alarm in wanted.items():
            if self.differs(current.get(name), alarm):
                # PutMetricAlarm replaces an alarm of that name whole; a repeat is the same alarm.
                self.actions.act(self.cloudwatch, f"set the alarm {name}", "put_metric_alarm", **alarm)
        stale = sorted(set(current) - set(wanted))
        if stale:
            self.actions.act(
                self.cloudwatch, f"delete the alarms {', '.join(stale)}", "delete_alarms", AlarmNames=stale
            )
        return sorted(wanted)

    # --- the dashboard -------------------------------------------------------------------
    def wanted_dashboard(self, alarm_names):
        region, namespace = self.module.region, self.params["namespace"]

        def graph(title, metrics, y, x, unit_max=None):
            properties = {"title": title, "region": region, "view": "timeSeries", "period": 60, "metrics": metrics}
            if unit_max:
                properties["yAxis"] = {"left": {"min": 0, "max": unit_max}}
            return {"type": "metric", "x": x, "y": y, "width": 12, "height": 6, "properties": properties}

        widgets = [
            {
                "type": "alarm",
                "x": 0,
                "y": 0,
                "width": 24,
                "height": 3,
                "properties": {
                    "title": f"{self.name}: alarms",
                    "alarms": [f"{self.alarm_arn_prefix}{name}" for name in alarm_names],
                },
            },
            graph("Memory and swap used (%)", [[namespace, MEMORY], [namespace, SWAP]], 3, 0, 100),
            graph("Root disk used (%)", [[namespace, DISK]], 3, 12, 100),
            graph("Backend answering /version (1 = yes)", [[namespace, BACKEND]], 9, 0, 1),
        ]
        if self.params["export_timer"]:
            widgets.append(graph("Hours since the last snapshot export", [[namespace, EXPORT_AGE]], 9, 12))
        if self.params["instance_id"]:
            widgets.append(
                graph("Host CPU (%)", [["AWS/EC2", "CPUUtilization", "InstanceId", self.params["instance_id"]]], 15, 0)
            )
        if self.params["database_instance"]:
            widgets.append(
                graph(
                    "Database free storage (bytes)",
                    [["AWS/RDS", "FreeStorageSpace", "DBInstanceIdentifier", self.params["database_instance"]]],
                    15,
                    12,
                )
            )
        return {"widgets": widgets}

    def ensure_dashboard(self, alarm_names):
        wanted = self.wanted_dashboard(alarm_names)
        found = self.actions.call(
            self.cloudwatch,
            f"read the dashboard {self.name}",
            "get_dashboard",
            missing=("ResourceNotFound",),
            DashboardName=self.name,
        )
        if found is None or json.loads(found.get("DashboardBody") or "{}") != wanted:
            self.actions.act(
                self.cloudwatch,
                f"{'set' if found else 'create'} the dashboard {self.name}",
                "put_dashboard",
                DashboardName=self.name,
                DashboardBody=json.dumps(wanted, sort_keys=True),
            )
        return self.name

    def ensure(self):
        """The alarms and the dashboard (after ensure_topic, which the alarms notify)."""
        alarms = self.ensure_alarms()
        return {"alarms": alarms, "dashboard": self.ensure_dashboard(alarms), "namespace": self.params["namespace"]}

    # --- absent --------------------------------------------------------------------------
    def remove(self):
        """The alarms, the dashboard, and the topic with its subscriptions."""
        current = sorted(self.current_alarms())
        if current:
            self.actions.act(
                self.cloudwatch, f"delete the alarms {', '.join(current)}", "delete_alarms", AlarmNames=current
            )
        found = self.actions.call(
            self.cloudwatch,
            f"read the dashboard {self.name}",
            "get_dashboard",
            missing=("ResourceNotFound",),
            DashboardName=self.name,
        )
        if found is not None:
            self.actions.act(
                self.cloudwatch,
                f"delete the dashboard {self.name}",
                "delete_dashboards",
                missing=("ResourceNotFound",),
                DashboardNames=[self.name],
            )
        if self.subscriptions() is not None:
            self.actions.act(
                self.sns,
                f"delete the topic {self.topic_name} and its subscriptions",
                "delete_topic",
                missing=("NotFound",),
                TopicArn=self.topic_arn,
            )
        return {"alarms": current, "dashboard": self.name, "topic_arn": self.topic_arn, "removed": True}
