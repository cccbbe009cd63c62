"""What watches a deployment (provision.yml on inventories/dev, against the emulator): its SNS
topic with the stage's address subscribed, its alarms with their thresholds and actions, and a
dashboard that shows every alarm; each repaired after drift (check mode first, telling the truth),
the host's role allowed to put metrics in its own namespace only, and all of it removed by
teardown.yml."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from conftest import DEV_REGION

NAME = "convex-dev"
NAMESPACE = f"ConvexSelfhost/{NAME}"
ROLE = "convex-dev-host"
EMAIL = "ops@example.com"


def ok(run):
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    return run.stdout


def arn(aws, service, resource):
    account = aws.client("sts").get_caller_identity()["Account"]
    return f"arn:aws:{service}:{DEV_REGION}:{account}:{resource}"


def alarms(aws):
    found = aws.client("cloudwatch", region_name=DEV_REGION).describe_alarms(AlarmNamePrefix=f"{NAME}-")
    return {a["AlarmName"]: a for a in found["MetricAlarms"]}


def subscriptions(aws):
    topic = arn(aws, "sns", f"{NAME}-alarms")
    return aws.client("sns", region_name=DEV_REGION).list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]


def dashboard(aws):
    body = aws.client("cloudwatch", region_name=DEV_REGION).get_dashboard(DashboardName=NAME)["DashboardBody"]
    return json.loads(body)


def other_topic(aws):
    return aws.client("sns", region_name=DEV_REGION).create_topic(Name="pager")["TopicArn"]


def test_provisioning_makes_the_topic_the_alarms_and_a_dashboard_that_names_them(aws, dev_stage):
    pager = other_topic(aws)
    ok(dev_stage("provision.yml", stage_alarm_email=EMAIL, stage_alarm_topic_arns=[pager]))
    topic = arn(aws, "sns", f"{NAME}-alarms")
    assert [(s["Protocol"], s["Endpoint"]) for s in subscriptions(aws)] == [("email", EMAIL)]
    tags = aws.client("sns", region_name=DEV_REGION).list_tags_for_resource(ResourceArn=topic)["Tags"]
    assert {"Key": "convex_selfhost:stage", "Value": "dev"} in tags

    made = alarms(aws)
    kinds = {"memory", "disk", "backend", "silent", "export", "status", "database-storage"}
    assert set(made) >= {f"{NAME}-{kind}" for kind in kinds}
    memory, disk, silent = made[f"{NAME}-memory"], made[f"{NAME}-disk"], made[f"{NAME}-silent"]
    assert (memory["Namespace"], memory["MetricName"], memory["Threshold"]) == (NAMESPACE, "MemoryUsedPercent", 90.0)
    assert (memory["Period"] * memory["EvaluationPeriods"], memory["ComparisonOperator"]) == (
        300,
        "GreaterThanThreshold",
    )
    assert disk["Threshold"] == 85.0
    assert made[f"{NAME}-backend"]["EvaluationPeriods"] == 3
    assert made[f"{NAME}-export"]["Threshold"] == 26.0
    # A host that sends nothing at all is the one to hear about.
    assert (silent["MetricName"], silent["TreatMissingData"]) == ("Heartbeat", "breaching")
    status = made[f"{NAME}-status"]
    assert status["MetricName"] == "StatusCheckFailed_Instance"
    assert status["AlarmActions"] == [f"arn:aws:automate:{DEV_REGION}:ec2:reboot", topic, pager]
    assert status["Dimensions"][0]["Value"].startswith("i-")
    storage = made[f"{NAME}-database-storage"]
    assert (storage["Namespace"], storage["Threshold"]) == ("AWS/RDS", 20 * 1024**3 // 10)
    for alarm in made.values():
        assert topic in alarm["AlarmActions"] and pager in alarm["AlarmActions"], alarm["AlarmName"]

    shown = [w for w in dashboard(aws)["widgets"] if w["type"] == "alarm"][0]["properties"]["alarms"]
    assert sorted(shown) == sorted(arn(aws, "cloudwatch", f"alarm:{NAME}-{kind}") for kind in kinds)


def test_drift_is_reported_by_check_mode_then_repaired(aws, dev_stage):
    settings = {"stage_alarm_email": EMAIL, "stage_alarm_disk_percent": 80}
    ok(dev_stage("provision.yml", **settings))
    cloudwatch = aws.client("cloudwatch", region_name=DEV_REGION)
    disk = {k: v for k, v in alarms(aws)[f"{NAME}-disk"].items() if k in ("Namespace", "MetricName", "Statistic")}
    cloudwatch.put_metric_alarm(
        AlarmName=f"{NAME}-disk",
        Period=60,
        EvaluationPeriods=1,
        Threshold=99.0,
        ComparisonOperator="GreaterThanThreshold",
        **disk,
    )
    cloudwatch.delete_dashboards(DashboardNames=[NAME])
    cloudwatch.delete_alarms(AlarmNames=[f"{NAME}-silent"])

    before = len(aws.calls())
    checked = ok(dev_stage("provision.yml", flags=["--check", "--diff"], **settings))
    assert f"set the alarm {NAME}-disk" in checked
    assert f"set the alarm {NAME}-silent" in checked
    assert f"create the dashboard {NAME}" in checked
    assert [c for c in aws.calls()[before:] if c.writes] == [], "check mode wrote"
    assert alarms(aws)[f"{NAME}-disk"]["Threshold"] == 99.0

    ok(dev_stage("provision.yml", **settings))
    assert alarms(aws)[f"{NAME}-disk"]["Threshold"] == 80.0
    assert alarms(aws)[f"{NAME}-disk"]["AlarmActions"] == [arn(aws, "sns", f"{NAME}-alarms")]
    assert f"{NAME}-silent" in alarms(aws)
    assert dashboard(aws)["widgets"]
    assert "changed=0" in ok(dev_stage("provision.yml", **settings))

    # Another address replaces the first; no address leaves no e-mail subscription. Without an
    # export timer there is no export alarm.
    ok(dev_stage("provision.yml", stage_alarm_email="oncall@example.com"))
    assert [s["Endpoint"] for s in subscriptions(aws)] == ["oncall@example.com"]
    ok(dev_stage("provision.yml", convex_export_schedule=""))
    assert subscriptions(aws) == []
    assert f"{NAME}-export" not in alarms(aws)
    assert "changed=0" in ok(dev_stage("provision.yml", convex_export_schedule=""))


def test_the_host_may_put_metrics_in_its_own_namespace_only(aws, dev_stage):
    ok(dev_stage("provision.yml"))
    document = aws.client("iam").get_role_policy(RoleName=ROLE, PolicyName="convex-storage")["PolicyDocument"]
    if isinstance(document, str):
        document = json.loads(document)
    statements = {s["Sid"]: s for s in document["Statement"]}
    assert statements["ConvexMetrics"] == {
        "Sid": "ConvexMetrics",
        "Effect": "Allow",
        "Action": ["cloudwatch:PutMetricData"],
        "Resource": "*",
        "Condition": {"StringEquals": {"cloudwatch:namespace": NAMESPACE}},
    }
    # No other statement names CloudWatch: no alarm, dashboard or read is the host's.
    others = [a for s in document["Statement"] if s["Sid"] != "ConvexMetrics" for a in s["Action"]]
    assert not [a for a in others if a.startswith("cloudwatch:")]


def test_teardown_removes_the_alarms_the_topic_and_the_dashboard(aws, dev_stage):
    ok(dev_stage("provision.yml", stage_alarm_email=EMAIL))
    ok(dev_stage("teardown.yml", timeout=300))
    assert alarms(aws) == {}
    sns = aws.client("sns", region_name=DEV_REGION)
    assert arn(aws, "sns", f"{NAME}-alarms") not in [t["TopicArn"] for t in sns.list_topics()["Topics"]]
    assert NAME not in [
        d["DashboardName"]
        for d in aws.client("cloudwatch", region_name=DEV_REGION).list_dashboards()["DashboardEntries"]
    ]
    assert "changed=0" in ok(dev_stage("teardown.yml", timeout=300))


PUBLISHER = Path(__file__).parents[2] / "roles" / "metrics" / "files" / "convex_metrics.py"


def test_the_publisher_puts_every_metric_in_one_call_and_says_what_it_sent(aws, tmp_path):
    """convex-metrics as its timer runs it, with boto3 against the emulator: the backend's port
    answers nothing here, so it is reported down."""
    environment = {
        **aws.env(),
        "CONVEX_METRICS_NAMESPACE": NAMESPACE,
        "CONVEX_METRICS_REGION": DEV_REGION,
        "CONVEX_METRICS_ENDPOINT": aws.endpoint,
        "CONVEX_BACKEND_URL": "http://127.0.0.1:9/version",
        "CONVEX_BACKEND_PROJECT": str(PUBLISHER),
        "CONVEX_EXPORT_TIMER": "true",
    }
    before = len(aws.calls())
    run = subprocess.run([sys.executable, str(PUBLISHER)], env=environment, capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stderr
    sent = json.loads(run.stdout)
    assert set(sent) == {
        "MemoryUsedPercent",
        "SwapUsedPercent",
        "RootDiskUsedPercent",
        "BackendUp",
        "HoursSinceExport",
        "Heartbeat",
    }
    assert sent["BackendUp"] == 0.0 and sent["Heartbeat"] == 1.0
    assert 0 < sent["MemoryUsedPercent"] < 100 and 0 < sent["RootDiskUsedPercent"] < 100
    assert [str(c) for c in aws.calls()[before:]] == ["monitoring:PutMetricData"]
    cloudwatch = aws.client("cloudwatch", region_name=DEV_REGION)
    listed = {m["MetricName"] for m in cloudwatch.list_metrics(Namespace=NAMESPACE)["Metrics"]}
    assert listed == set(sent)

    # Before the backend is set up (a new host waiting for its database) it is not reported down.
    environment.update(CONVEX_BACKEND_PROJECT=str(tmp_path / "docker-compose.yml"))
    run = subprocess.run([sys.executable, str(PUBLISHER)], env=environment, capture_output=True, text=True, check=False)
    assert "BackendUp" not in json.loads(run.stdout) and "Heartbeat" in json.loads(run.stdout)

    # Without the export timer there is no export age; CloudWatch out of reach is a failure.
    environment.update(CONVEX_EXPORT_TIMER="false", CONVEX_METRICS_ENDPOINT="http://127.0.0.1:9")
    run = subprocess.run([sys.executable, str(PUBLISHER)], env=environment, capture_output=True, text=True, check=False)
    assert run.returncode == 1
    assert "convex-metrics: FAILED to put" in run.stderr and "HoursSinceExport" not in run.stderr
