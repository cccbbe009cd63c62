"""Kill a process with everything it started, as a controller that dies would lose them all.

ansible-playbook's workers leave its process group (they call setsid), so a kill of the group
leaves them and their modules running on: the tree is found by parent ids instead, stopped first
(so that nothing forks away meanwhile), then killed."""

from __future__ import annotations

import contextlib
import os
import signal
from pathlib import Path


def _parents():
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                # The command name may hold spaces and parentheses: the fields after the last ')'.
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            parents[int(entry.name)] = int(fields[1])
    return parents


def descendants(pid):
    parents = _parents()
    found, frontier = [], [pid]
    while frontier:
        current = frontier.pop()
        children = [child for child, parent in parents.items() if parent == current]
        found.extend(children)
        frontier.extend(children)
    return found


def kill_tree(pid):
    """SIGKILL pid and every process under it; the pids killed."""
    tree = [pid]
    for _round in range(3):
        for member in tree:
            with contextlib.suppress(ProcessLookupError):
                os.kill(member, signal.SIGSTOP)
        tree = [pid, *descendants(pid)]
    for member in tree:
        with contextlib.suppress(ProcessLookupError):
            os.kill(member, signal.SIGKILL)
    return tree
