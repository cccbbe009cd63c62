"""The deployment module works side by side in threads; what they do is reported as one result:
every failure at once, and the changes in the same order on every run."""

from __future__ import annotations

import json
import re

from fault_proxy import FaultPolicy, FaultProxy


def fatal_result(output):
    """The JSON result of the run's failed task."""
    line = next(line for line in output.splitlines() if line.startswith("fatal:"))
    return json.loads(line.split("=> ", 1)[1])


def test_two_workers_failing_at_once_give_one_failure_listing_both(aws, dev_stage):
    # The database and the host are made side by side; AWS refuses one call of each.
    policy = FaultPolicy(refuse={"CreateDBSubnetGroup": "AccessDenied", "CreateRole": "AccessDenied"})
    with FaultProxy(aws.endpoint, policy) as proxy:
        run = dev_stage("provision.yml", endpoint=proxy.endpoint)
    output = run.stdout + run.stderr
    assert run.returncode != 0, output[-3000:]
    assert "MODULE FAILURE" not in output, output[-3000:]
    result = fatal_result(output)
    assert result["msg"].startswith("2 things failed: "), result["msg"]
    assert sorted(f["error_code"] for f in result["failures"]) == ["AccessDenied", "AccessDenied"]
    assert any("DB subnet group" in f["msg"] for f in result["failures"]), result["failures"]
    assert any("IAM role" in f["msg"] for f in result["failures"]), result["failures"]


def planned_changes(dev_stage):
    run = dev_stage("provision.yml", flags=("--check", "--diff"))
    assert run.returncode == 0, run.stdout[-3000:]
    # The diff of the deployment task: every change, one a line, in the module's order.
    section = run.stdout.split("TASK [steps : Network, buckets, database, host and DNS]", 1)[1].split("TASK [", 1)[0]
    return [line[1:] for line in section.splitlines() if re.match(r"^\+\S", line)]


def test_changes_come_in_the_same_order_on_every_run(aws, dev_stage):
    runs = [planned_changes(dev_stage) for _run in range(3)]
    assert len(runs[0]) > 40, runs[0]
    assert runs[0] == runs[1] == runs[2]
    # What comes before the rest: the network and the buckets (side by side), then the database
    # and the host (whose first change is its IAM role), then DNS.
    kinds = ("VPC", "bucket", "DB", "IAM role")
    first_of = {kind: next(i for i, c in enumerate(runs[0]) if kind in c) for kind in kinds}
    assert first_of["VPC"] < first_of["bucket"] < first_of["DB"] < first_of["IAM role"], first_of
