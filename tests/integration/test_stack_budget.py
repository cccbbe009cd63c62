"""A real stage's no-op provisioning (playbooks/provision.yml on inventories/dev, pointed at the
emulator and at a real registry holding the pinned release) changes nothing within its budget of
AWS calls, counted from the emulator's own recording."""

from __future__ import annotations

import json

# 50 for the network, buckets, database, host, DNS and secrets; the containers' log group adds two
# reads (DescribeLogGroups, which carries its retention, and ListTagsForResource for its tags); what
# watches the deployment four: the topic's subscriptions (which also say it exists) and its tags,
# the alarms (one DescribeAlarms by their common prefix) and the dashboard; the secret with the copy
# of Caddy's storage two: DescribeSecret (which carries its tags) and its resource policy.
NOOP_BUDGET = 58


def provision(dev_stage):
    run = dev_stage("provision.yml")
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    return run.stdout


def test_noop_provisioning_of_a_real_stage_changes_nothing_within_budget(aws, dev_stage):
    first_from = len(aws.calls())
    provision(dev_stage)
    noop_from = len(aws.calls())
    recap = provision(dev_stage)
    first, noop = aws.calls()[first_from:noop_from], aws.calls()[noop_from:]
    by_action = {str(c): [str(x) for x in noop].count(str(c)) for c in noop}
    print(f"AWS calls: first provisioning {len(first)}, no-op {len(noop)}: {json.dumps(by_action)}")
    assert "changed=0" in recap and "failed=0" in recap
    assert [c for c in noop if c.writes] == []
    assert len(noop) <= NOOP_BUDGET
    assert len(first) > len(noop), "a first run that made nothing would mean it never ran"
