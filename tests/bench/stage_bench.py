"""make bench: the stage's cost and speed, measured in one run on the local stage.

On a fresh local stage (the AWS emulator and a container host, with the TEST STAND-IN Convex
images), it runs, in order:
  1. provision.yml on an empty account: the first provisioning, timed, AWS calls counted;
  2. provision.yml again: the no-op provisioning, timed and counted;
  3. site.yml: the first full run (the host is set up), timed;
  4. site.yml again: the full no-op, timed and counted;
  5. upgrade.yml to another version while a client on the host polls
     https://api.<domain>/version through Caddy: requests sent and failed, worst latency.
AWS calls are counted in the emulator's own request log. The figures go to bench/results.json
and a short table, each budget marked met or not met; the exit status is 1 when one is not met.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(REPO / "tests" / "harness"), str(REPO / "tests" / "e2e")]

from local_stage_tools import controller_calls, local_stage, recap, upgrade_under_a_polling_client  # noqa: E402

RESULTS = REPO / "bench" / "results.json"
BUDGETS = {
    "noop_provisioning_calls": ("no-op provisioning: AWS API calls", 60),
    "noop_site_seconds": ("full site.yml no-op: seconds", 60),
    "upgrade_failed_requests": ("client requests failed during upgrade.yml", 0),
}


def measured(playbook="site.yml", version="standin-1"):
    """One local-stage run: seconds, AWS calls in the emulator's log, and the recap."""
    before = len(controller_calls())
    run = local_stage("site", playbook=playbook, version=version)
    hosts = recap(run.stdout)
    return {
        "seconds": round(run.seconds, 1),
        "aws_calls": len(controller_calls()) - before,
        "changed": sum(r["changed"] for r in hosts.values()),
    }


def main():
    print("bench: a fresh local stage (AWS emulator + container host, TEST STAND-IN Convex images)")
    local_stage("down")
    local_stage("up")
    try:
        first_provisioning = measured("provision.yml")
        noop_provisioning = measured("provision.yml")
        first_site = measured("site.yml")
        noop_site = measured("site.yml")
        upgrade_started = time.monotonic()
        _run, client = upgrade_under_a_polling_client("standin-2")
        upgrade_seconds = round(time.monotonic() - upgrade_started, 1)
    finally:
        local_stage("down")

    figures = {
        "first_provisioning": first_provisioning,
        "noop_provisioning": noop_provisioning,
        "first_site": first_site,
        "noop_site": noop_site,
        "upgrade": {
            "seconds": upgrade_seconds,
            "requests_sent": client["sent"],
            "requests_failed": client["failed"],
            "worst_latency_ms": client["worst_latency_ms"],
            "versions_seen": client["versions"],
        },
    }
    values = {
        "noop_provisioning_calls": noop_provisioning["aws_calls"],
        "noop_site_seconds": noop_site["seconds"],
        "upgrade_failed_requests": client["failed"],
    }
    budgets = {
        key: {"what": what, "limit": limit, "value": values[key], "met": values[key] <= limit}
        for key, (what, limit) in BUDGETS.items()
    }
    results = {
        "measured_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
        "images": "TEST STAND-IN (convex-test/convex-*-standin), standin-1 then standin-2",
        "figures": figures,
        "budgets": budgets,
        "no_change_on_noop_runs": noop_provisioning["changed"] == 0 and noop_site["changed"] == 0,
    }
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")

    rows = [
        ("first provisioning (provision.yml)", f"{first_provisioning['seconds']} s", first_provisioning["aws_calls"]),
        ("no-op provisioning (provision.yml)", f"{noop_provisioning['seconds']} s", noop_provisioning["aws_calls"]),
        ("first site.yml (host set up)", f"{first_site['seconds']} s", first_site["aws_calls"]),
        ("no-op site.yml", f"{noop_site['seconds']} s", noop_site["aws_calls"]),
        ("upgrade.yml standin-1 -> standin-2", f"{upgrade_seconds} s", "-"),
    ]
    print(f"\n{'run':<38} {'time':>9} {'AWS calls':>10}")
    for name, seconds, calls in rows:
        print(f"{name:<38} {seconds:>9} {calls!s:>10}")
    print(
        f"\nupgrade client: {client['sent']} requests sent, {client['failed']} failed, "
        f"worst latency {client['worst_latency_ms']:.0f} ms"
    )
    print(f"no-op runs changed nothing: {results['no_change_on_noop_runs']}\n")
    for budget in budgets.values():
        verdict = "met" if budget["met"] else "NOT MET"
        print(f"budget {budget['what']}: {budget['value']} (limit {budget['limit']}): {verdict}")
    print(f"\nwritten to {RESULTS.relative_to(REPO)}")
    return 0 if all(b["met"] for b in budgets.values()) and results["no_change_on_noop_runs"] else 1


if __name__ == "__main__":
    sys.exit(main())
