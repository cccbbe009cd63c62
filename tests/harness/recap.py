"""The PLAY RECAP of an ansible-playbook run, read strictly: a host the caller expects and the recap
does not name is an error, never an empty (and so always passing) result."""

from __future__ import annotations

import re


def recap(output, *expected):
    """{host: {'ok': n, 'changed': n, 'failed': n, ...}} from the run's PLAY RECAP. Every host in
    expected must be there (a run that died before its recap has none)."""
    hosts = {}
    for line in output.split("PLAY RECAP", 1)[-1].splitlines() if "PLAY RECAP" in output else ():
        match = re.match(r"^(\S+)\s+:\s+(.*)$", line)
        if match and "changed=" in line:
            hosts[match.group(1)] = {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", match.group(2))}
    missing = [host for host in expected if host not in hosts]
    if missing or not hosts:
        raise AssertionError(f"the run's PLAY RECAP names no {', '.join(missing) or 'host'}:\n{output[-3000:]}")
    return hosts


def unchanged(output, *expected):
    """True when every expected host (and every other host of the recap) changed and failed nothing."""
    hosts = recap(output, *expected)
    return all(r["changed"] == 0 and r["failed"] == 0 and r.get("unreachable", 0) == 0 for r in hosts.values())


def succeeded(output, *expected):
    hosts = recap(output, *expected)
    return all(r["failed"] == 0 and r.get("unreachable", 0) == 0 for r in hosts.values())
