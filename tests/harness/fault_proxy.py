"""An HTTP proxy in front of the AWS emulator that fails some calls on purpose.

It answers a chosen share of requests (or the first N) with the errors AWS gives under load:
throttling in the protocol of the service asked (so botocore parses a real error code), or a
bare 503. Everything else is forwarded untouched. Used to show that modules retry with
backoff and that a run under faults converges without duplicates.
"""

from __future__ import annotations

import collections
import http.client
import json
import random
import re
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

_SERVICE_IN_SCOPE = re.compile(r"Credential=[^/]+/\d{8}/[^/]+/([^/]+)/aws4_request")
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "upgrade", "proxy-connection"}

# Throttling code, HTTP status and body shape that each service really uses.
_THROTTLE = {
    "ec2": ("RequestLimitExceeded", 503, "ec2"),
    "s3": ("SlowDown", 503, "s3"),
    "ssm": ("ThrottlingException", 400, "json"),
}
_DEFAULT_THROTTLE = ("Throttling", 400, "query")


def _error_body(shape, code, request_id, message="Rate exceeded (injected by the test fault proxy)"):
    if shape == "json":
        return "application/x-amz-json-1.1", json.dumps({"__type": code, "message": message})
    if shape == "ec2":
        body = (
            f"<Response><Errors><Error><Code>{code}</Code><Message>{message}</Message></Error>"
            f"</Errors><RequestID>{request_id}</RequestID></Response>"
        )
        return "text/xml", body
    if shape == "s3":
        body = f"<Error><Code>{code}</Code><Message>{message}</Message><RequestId>{request_id}</RequestId></Error>"
        return "application/xml", body
    body = (
        f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message>"
        f"</Error><RequestId>{request_id}</RequestId></ErrorResponse>"
    )
    return "text/xml", body


class FaultPolicy:
    """Decides which requests fail and how.

    fail_first: the first N requests fail.
    fail_ratio: after those, each request fails with this probability (seeded, so repeatable).
    kinds: errors to cycle through: "throttle" (the service's own throttling error) or "503".
    refuse: query-protocol actions (RDS, EC2, IAM) always answered with an error AWS gives and
    nobody retries, {action: code}, such as {"CreateDBSnapshot": "SnapshotQuotaExceeded"}.
    """

    def __init__(self, fail_first=0, fail_ratio=0.0, kinds=("throttle", "503"), seed=1, refuse=None):
        self.refuse = dict(refuse or {})
        self.fail_first = fail_first
        self.fail_ratio = fail_ratio
        self.kinds = tuple(kinds)
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self.seen = 0
        self.failed = 0
        # How often each error was answered, by AWS error code (or "503").
        self.answered = collections.Counter()

    def refusal(self, body):
        """The error code for a request whose action is refused, or None."""
        action = parse_qs(body.decode("utf-8", "replace")).get("Action", [""])[0]
        return self.refuse.get(action)

    def next_fault(self):
        """The kind of error for the next request, or None to forward it."""
        with self._lock:
            self.seen += 1
            fail = self.seen <= self.fail_first or self._random.random() < self.fail_ratio
            if not fail:
                return None
            kind = self.kinds[self.failed % len(self.kinds)]
            self.failed += 1
            return kind


class FaultProxy:
    """A threaded proxy on 127.0.0.1 in front of upstream (an http:// endpoint)."""

    def __init__(self, upstream, policy=None, port=0):
        self.upstream = urlsplit(upstream)
        self.policy = policy or FaultPolicy()
        self._server = ThreadingHTTPServer(("127.0.0.1", port), self._handler_class())
        self._thread = None

    @property
    def endpoint(self):
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def _handler_class(self):
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                refused = proxy.policy.refusal(body)
                if refused:
                    self._answer_refusal(refused)
                    return
                fault = proxy.policy.next_fault()
                if fault:
                    self._answer_fault(fault)
                    return
                try:
                    self._forward(body)
                except OSError:
                    # The emulator is gone (a test killed it): drop the client's connection, as
                    # a dead endpoint would, without a traceback in the test output.
                    self.close_connection = True

            def _answer_refusal(self, code):
                proxy.policy.answered[code] += 1
                message = f"{code} (injected by the test fault proxy)"
                content_type, text = _error_body("query", code, str(uuid.uuid4()), message)
                self._send(400, content_type, text.encode())

            def _send(self, status, content_type, data):
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            def _answer_fault(self, kind):
                request_id = str(uuid.uuid4())
                if kind == "503":
                    code, status, content_type, text = "503", 503, "text/plain", "Service Unavailable"
                else:
                    match = _SERVICE_IN_SCOPE.search(self.headers.get("Authorization", ""))
                    service = match.group(1) if match else ""
                    code, status, shape = _THROTTLE.get(service, _DEFAULT_THROTTLE)
                    content_type, text = _error_body(shape, code, request_id)
                proxy.policy.answered[code] += 1
                data = text.encode()
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.send_header("x-amzn-RequestId", request_id)
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            def _forward(self, body):
                upstream = http.client.HTTPConnection(proxy.upstream.hostname, proxy.upstream.port, timeout=60)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
                upstream.request(self.command, self.path, body=body, headers=headers)
                response = upstream.getresponse()
                data = response.read()
                self.send_response(response.status)
                for key, value in response.getheaders():
                    if key.lower() not in _HOP_BY_HOP and key.lower() != "content-length":
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)
                upstream.close()

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = _handle

        return Handler

    def start(self):
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self):
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
