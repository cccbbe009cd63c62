"""Run one of the collection's modules for real, in its own Python process, the way Ansible
runs it on a host: arguments in a JSON file, the result as JSON on stdout. No mocks: the module
talks to whatever endpoint its arguments or environment name (in tests, the moto server).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
COLLECTIONS = REPO / ".cache" / "collections"


class ModuleResult(dict):
    @property
    def failed(self):
        return bool(self.get("failed"))

    @property
    def changed(self):
        return bool(self.get("changed"))


def run_module(name, args, check_mode=False, diff=False, env=None, timeout=300):
    """Run convex_selfhost.aws.<name> with args and return its result dict."""
    payload = dict(args)
    payload["_ansible_check_mode"] = check_mode
    payload["_ansible_diff"] = diff
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump({"ANSIBLE_MODULE_ARGS": payload}, handle)
        args_path = handle.name
    process_env = dict(os.environ if env is None else env)
    process_env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(COLLECTIONS), process_env.get("PYTHONPATH")]))
    try:
        completed = subprocess.run(
            [sys.executable, "-m", f"ansible_collections.convex_selfhost.aws.plugins.modules.{name}", args_path],
            capture_output=True,
            text=True,
            env=process_env,
            timeout=timeout,
            check=False,
        )
    finally:
        os.unlink(args_path)
    try:
        result = json.loads(completed.stdout)
    except json.JSONDecodeError as error:
        raise AssertionError(
            f"module {name} printed no JSON (exit {completed.returncode}):\n"
            f"stdout: {completed.stdout}\nstderr: {completed.stderr}"
        ) from error
    return ModuleResult(result)
