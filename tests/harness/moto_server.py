"""Start and stop a moto server, a real HTTP endpoint that stands in for AWS, and read what it
was asked.

The server is started by scripts/emulator, the one way every user of the emulator starts it, with
moto's own request recording on: every request, its headers and its body. calls() turns that
recording into API calls (service, action, read or write), so budgets and "refused before any
write" are measured from what the emulator saw, not estimated, and nothing is missed the way a
pattern over the server's coloured access log missed non-2xx lines.
"""

from __future__ import annotations

import base64
import json
import re
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

REPO = Path(__file__).resolve().parents[2]
EMULATOR = REPO / "scripts" / "emulator"
_CREDENTIAL = re.compile(r"Credential=([^/]+)/[^/]+/[^/]+/([^/]+)/")
_READS = ("Describe", "Get", "List", "Head", "Lookup")


def free_port(host="127.0.0.1"):
    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


@dataclass(frozen=True)
class Call:
    service: str
    action: str
    access_key: str

    @property
    def writes(self):
        return not self.action.startswith(_READS)

    def __str__(self):
        return f"{self.service}:{self.action}"


def call_of(entry):
    """One recorded request as the API call it was."""
    headers = {k.lower(): v for k, v in entry.get("headers", {}).items()}
    found = _CREDENTIAL.search(headers.get("authorization", ""))
    access_key, service = found.groups() if found else ("", "unknown")
    body = entry.get("body") or ""
    if entry.get("body_encoded"):
        body = base64.b64decode(body).decode("utf-8", "replace")
    if "x-amz-target" in headers:
        action = headers["x-amz-target"].rsplit(".", 1)[-1]
    elif "Action=" in body:
        action = parse_qs(body).get("Action", ["?"])[0]
    else:
        # REST services (S3, Route 53): the method says whether it reads.
        method = entry["method"]
        verb = {"GET": "Get", "HEAD": "Head", "PUT": "Put", "POST": "Post", "DELETE": "Delete"}.get(method, method)
        path = urlsplit(entry["url"]).path
        action = f"{verb} {path}"
    return Call(service, action, access_key)


class MotoServer:
    """One moto server; use as a context manager or call start() and stop()."""

    def __init__(self, state_dir, port=None, host="127.0.0.1"):
        self.state_dir = Path(state_dir)
        self.host = host
        self.port = port or free_port(host)
        self.recording = self.state_dir / "requests.jsonl"

    @property
    def endpoint(self):
        return f"http://{self.host}:{self.port}"

    def start(self):
        subprocess.run([str(EMULATOR), "up", str(self.state_dir), self.host, str(self.port)], check=True)
        return self

    def stop(self):
        subprocess.run([str(EMULATOR), "down", str(self.state_dir)], check=True)

    def reset(self):
        """Forget every resource, as if AWS were a new account."""
        import urllib.request  # noqa: PLC0415

        request = urllib.request.Request(f"{self.endpoint}/moto-api/reset", method="POST")
        urllib.request.urlopen(request, timeout=10).close()

    def calls(self):
        """Every AWS call the emulator answered so far, in order (its own control API aside)."""
        if not self.recording.exists():
            return []
        entries = [json.loads(line) for line in self.recording.read_text().splitlines() if line.strip()]
        return [call_of(e) for e in entries if not urlsplit(e["url"]).path.startswith("/moto-api/")]

    def request_count(self):
        return len(self.calls())

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
