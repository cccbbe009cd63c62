"""Start and stop a moto server: a real HTTP endpoint that stands in for AWS in tests.

Every request moto answers is written to its log, one line each; request_count() reads that
log, so API-call budgets are measured from what the emulator saw, not estimated.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

# werkzeug's access-log line: 127.0.0.1 - - [date] "POST / HTTP/1.1" 200 -
_REQUEST_LINE = re.compile(r'"(GET|POST|PUT|DELETE|HEAD|PATCH) (\S+) HTTP/[\d.]+" (\d{3})')
# Public images as AWS lists them for Debian 13 and Ubuntu 24.04 (their real owner accounts and
# name patterns), which moto does not ship.
DEFAULT_AMIS = Path(__file__).resolve().parents[1] / "data" / "emulator-amis.json"
# moto's own control API (reset, state) is not AWS traffic.
_CONTROL_PATH = "/moto-api/"


def free_port(host="127.0.0.1"):
    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def moto_server_command():
    beside_python = Path(sys.executable).with_name("moto_server")
    if beside_python.exists():
        return str(beside_python)
    found = shutil.which("moto_server")
    if not found:
        raise RuntimeError("moto_server is not installed: run `make venv` first")
    return found


class MotoServer:
    """One moto server on 127.0.0.1; use as a context manager or call start() and stop()."""

    def __init__(self, log_path, port=None, host="127.0.0.1", amis_path=DEFAULT_AMIS):
        self.amis_path = amis_path
        self.host = host
        self.port = port or free_port(host)
        self.log_path = Path(log_path)
        self._process = None
        self._log = None

    @property
    def endpoint(self):
        return f"http://{self.host}:{self.port}"

    def start(self, timeout=30):
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        if self.amis_path:
            env["MOTO_AMIS_PATH"] = str(self.amis_path)
        self._process = subprocess.Popen(
            [moto_server_command(), "-H", self.host, "-p", str(self.port)],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=env,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"moto_server exited early; see {self.log_path}")
            try:
                # A plain API call (S3 ListBuckets); /moto-api/data.json fails once an RDS
                # instance with a subnet group exists.
                urllib.request.urlopen(f"{self.endpoint}/", timeout=1).close()
                return self
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"moto_server did not answer within {timeout} s; see {self.log_path}")

    def stop(self):
        if self._process and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        if self._log:
            self._log.close()
            self._log = None

    def reset(self):
        """Forget every resource, as if AWS were a new account."""
        request = urllib.request.Request(f"{self.endpoint}/moto-api/reset", method="POST")
        urllib.request.urlopen(request, timeout=10).close()

    def requests(self):
        """(method, path, status) of every AWS request answered so far."""
        if not self.log_path.exists():
            return []
        seen = []
        for line in self.log_path.read_text(errors="replace").splitlines():
            match = _REQUEST_LINE.search(line)
            if match and not match.group(2).startswith(_CONTROL_PATH):
                seen.append((match.group(1), match.group(2), int(match.group(3))))
        return seen

    def request_count(self):
        return len(self.requests())

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
