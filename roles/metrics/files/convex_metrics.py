# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""convex-metrics: this minute's health of a Convex host, put into CloudWatch in one call.

Run by convex-metrics.timer once a minute; its settings come from /etc/default/convex-metrics:
  CONVEX_METRICS_NAMESPACE  the deployment's namespace (the only one its role may write)
  CONVEX_METRICS_REGION     the AWS region
  CONVEX_METRICS_ENDPOINT   an emulator's endpoint; empty on AWS
  CONVEX_BACKEND_URL        where the backend answers /version on this host
  CONVEX_BACKEND_PROJECT    the backend's compose file: until it exists (a new host waiting for
                            its database), the backend is not yet meant to answer, and no
                            BackendUp is sent
  CONVEX_EXPORT_TIMER       "true" when the export timer runs: the age of the last export is sent
                            only then
and, on AWS, the instance role's credentials (boto3 reads them from the instance metadata).

Prints what it sent as one JSON line (the journal keeps it), and exits 1 when CloudWatch refused
or could not be reached. The metrics, each without dimensions, as the alarms read them
(plugins/module_utils/watch.py):
  MemoryUsedPercent     memory not available to new work (MemTotal - MemAvailable, /proc/meminfo)
  SwapUsedPercent       swap in use (0 without swap)
  RootDiskUsedPercent   the root file system, as df counts it (blocks used / blocks usable by users)
  BackendUp             1 when /version answered 200 within 5 s, else 0; not sent before the
                        backend is set up
  HoursSinceExport      since the last successful export (convex-data touches its stamp); before
                        the first this host has seen, since these metrics' settings were written
  Heartbeat             always 1: the alarm on a silent host counts these
"""

from __future__ import annotations

import datetime
import json
import os
import sys
import urllib.request

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

EXPORT_STAMP = "/var/lib/convex-export/last-success"
# Before any export: a host upgraded to a collection with metrics, or a new one, starts its count
# when the metrics role wrote its settings, not when the host was first set up.
SETTINGS_FILE = "/etc/default/convex-metrics"


def meminfo(path="/proc/meminfo"):
    """The fields of /proc/meminfo, in kB."""
    fields = {}
    with open(path, encoding="ascii") as source:
        for line in source:
            name, rest = line.split(":", 1)
            fields[name] = int(rest.split()[0])
    return fields


def memory_percents(fields):
    total, available = fields["MemTotal"], fields.get("MemAvailable", fields.get("MemFree", 0))
    swap_total = fields.get("SwapTotal", 0)
    swap_used = swap_total - fields.get("SwapFree", 0)
    return (
        100.0 * (total - available) / total,
        100.0 * swap_used / swap_total if swap_total else 0.0,
    )


def disk_percent(path="/"):
    # df's Use%: the blocks in use against those in use plus those free to ordinary users (the
    # blocks reserved for root count as neither).
    stats = os.statvfs(path)
    used = (stats.f_blocks - stats.f_bfree) * stats.f_frsize
    usable = used + stats.f_bavail * stats.f_frsize
    return 100.0 * used / usable if usable else 0.0


def backend_up(url):
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:  # noqa: S310 - a fixed local URL
            return 1.0 if answer.status == 200 else 0.0
    except OSError as error:
        # Why, in the journal beside the 0 sent: refused (down), timed out (stalled), or an error.
        print(f"convex-metrics: the backend did not answer {url}: {error}", file=sys.stderr)
        return 0.0


def hours_since_export(now):
    for path in (EXPORT_STAMP, SETTINGS_FILE):
        try:
            return max(0.0, (now - os.stat(path).st_mtime) / 3600)
        except FileNotFoundError:
            continue
    return 0.0


def measure(env, now):
    memory, swap = memory_percents(meminfo())
    values = {
        "MemoryUsedPercent": (memory, "Percent"),
        "SwapUsedPercent": (swap, "Percent"),
        "RootDiskUsedPercent": (disk_percent(), "Percent"),
        "Heartbeat": (1.0, "Count"),
    }
    if os.path.exists(env["CONVEX_BACKEND_PROJECT"]):
        values["BackendUp"] = (backend_up(env["CONVEX_BACKEND_URL"]), "Count")
    if env.get("CONVEX_EXPORT_TIMER") == "true":
        values["HoursSinceExport"] = (hours_since_export(now), "None")
    return values


def main():
    env = os.environ
    now = datetime.datetime.now(datetime.timezone.utc)
    values = measure(env, now.timestamp())
    # The timer starts the next run a minute later: a try must end well before that.
    config = Config(connect_timeout=5, read_timeout=10, retries={"mode": "standard", "max_attempts": 3})
    client = boto3.client(
        "cloudwatch",
        region_name=env["CONVEX_METRICS_REGION"],
        endpoint_url=env.get("CONVEX_METRICS_ENDPOINT") or None,
        config=config,
    )
    sent = {name: round(value, 3) for name, (value, _unit) in values.items()}
    try:
        client.put_metric_data(
            Namespace=env["CONVEX_METRICS_NAMESPACE"],
            MetricData=[
                {"MetricName": name, "Value": value, "Unit": unit, "Timestamp": now}
                for name, (value, unit) in values.items()
            ],
        )
    except (BotoCoreError, ClientError) as error:
        print(f"convex-metrics: FAILED to put {json.dumps(sent)}: {error}", file=sys.stderr)
        return 1
    print(json.dumps(sent))
    return 0


if __name__ == "__main__":
    sys.exit(main())
