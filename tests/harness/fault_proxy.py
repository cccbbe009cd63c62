"""An HTTP proxy in front of the AWS emulator that fails some calls on purpose.

It can:
- answer a chosen share of requests (or the first N) with the errors AWS gives under load:
  throttling in the protocol of the service asked (so botocore parses a real error code), or a
  bare 503, without forwarding them;
- lose answers (LostAnswers): forward a write, so AWS acts on it, then answer 500 or drop the
  connection, as AWS does when a response is lost after the write;
- hold the answer to a chosen write (HoldAfter) until the test has killed the run that sent it;
- report a new RDS instance as "creating" for a while (SlowDatabase), as RDS does for the minutes it
  builds one and moto does not (its instances are available at once);
- answer a repeated client token as EC2 does, which the emulator does not: moto makes a second
  instance for a RunInstances repeated with the same ClientToken. The EC2 API Reference
  ("Ensuring idempotency in Amazon EC2 API requests") says a repeat with the same token and the same
  parameters gets the original request's result, and one with other parameters the error
  IdempotentParameterMismatch; the proxy does exactly that for every request carrying ClientToken.
Everything else is forwarded untouched.
"""

from __future__ import annotations

import collections
import hashlib
import http.client
import json
import random
import re
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from moto_server import call_of

_SERVICE_IN_SCOPE = re.compile(r"Credential=[^/]+/\d{8}/[^/]+/([^/]+)/aws4_request")
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "upgrade", "proxy-connection"}

# Throttling code, HTTP status and body shape that each service really uses.
_THROTTLE = {
    "ec2": ("RequestLimitExceeded", 503, "ec2"),
    "s3": ("SlowDown", 503, "s3"),
    "ssm": ("ThrottlingException", 400, "json"),
    "logs": ("ThrottlingException", 400, "json"),
    # CloudWatch (signed as "monitoring") answers in the protocol it was asked in (query, JSON 1.0
    # or Smithy RPC v2 CBOR: botocore picks by version), and keeps its query-protocol error codes
    # in the x-amzn-query-error header (its awsQueryCompatible trait), so every client sees
    # "Throttling".
    "monitoring": ("Throttling", 400, "query"),
}
_DEFAULT_THROTTLE = ("Throttling", 400, "query")


def _cbor_text(text):
    data = text.encode()
    size = len(data)
    # CBOR (RFC 8949) major type 3, a text string: its length in the first byte below 24, else
    # in the one or two bytes after.
    if size < 24:
        return bytes([0x60 + size]) + data
    if size < 256:
        return bytes([0x78, size]) + data
    return bytes([0x79]) + size.to_bytes(2, "big") + data


def _cbor_error(code, message):
    """An RPC v2 CBOR error body: a map (major type 5) of __type and message."""
    return bytes([0xA2]) + _cbor_text("__type") + _cbor_text(code) + _cbor_text("message") + _cbor_text(message)


def _error_body(shape, code, request_id, message="Rate exceeded (injected by the test fault proxy)"):
    """The content type and the bytes of an error answer in a service's protocol."""
    content_type, text = _error_text(shape, code, request_id, message)
    return content_type, text if isinstance(text, bytes) else text.encode()


def _shape_asked(shape, content_type):
    """The error shape of the protocol a request came in: a service that speaks several answers in
    the one it was asked in."""
    if "cbor" in content_type:
        return "cbor"
    if "x-amz-json" in content_type:
        return "json"
    return shape


# Services whose JSON and CBOR errors carry their query-protocol code (awsQueryCompatible).
_QUERY_COMPATIBLE = {"monitoring"}


def _error_headers(service, shape, code):
    """Headers that a protocol's errors carry besides the body."""
    headers = [("smithy-protocol", "rpc-v2-cbor")] if shape == "cbor" else []
    if service in _QUERY_COMPATIBLE and shape in ("cbor", "json"):
        headers.append(("x-amzn-query-error", f"{code};Sender"))
    return headers


def _error_text(shape, code, request_id, message):
    if shape == "cbor":
        return "application/cbor", _cbor_error(code, message)
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


# What AWS answers when it fails inside, by the service's protocol: code, body shape.
_INTERNAL = {
    "ec2": ("InternalError", "ec2"),
    "s3": ("InternalError", "s3"),
    "ssm": ("InternalServerError", "json"),
    "logs": ("ServiceUnavailableException", "json"),
    "monitoring": ("InternalServiceError", "cbor"),
}
_DEFAULT_INTERNAL = ("InternalFailure", "query")


class LostAnswers:
    """Lose the answer to the first attempt of every write (each distinct request once): the
    write is forwarded and made, then the client gets a 500 (mode "500") or a closed connection
    (mode "drop"). only: a set of actions to limit it to (all writes by default)."""

    def __init__(self, mode="500", only=None):
        if mode not in ("500", "drop"):
            raise ValueError("mode is 500 or drop")
        self.mode = mode
        self.only = only
        self.seen = set()
        self.lost = []
        self._lock = threading.Lock()

    def loses(self, call, body):
        if not call.writes or (self.only is not None and call.action not in self.only):
            return False
        key = (str(call), hashlib.sha256(body).hexdigest())
        with self._lock:
            if key in self.seen:
                return False
            self.seen.add(key)
            self.lost.append(str(call))
            return True


class HoldAfter:
    """Hold the answer to the first request of action (once AWS has made it) until released:
    the test kills the run meanwhile, as a kill right after the call would."""

    def __init__(self, action):
        self.action = action
        self.held = threading.Event()
        self.release = threading.Event()
        self._taken = False
        self._lock = threading.Lock()

    def holds(self, call):
        with self._lock:
            if self._taken or call.action != self.action:
                return False
            self._taken = True
            return True


class SlowDatabase:
    """For seconds after CreateDBInstance, DescribeDBInstances answers that the instance is still
    being made, as RDS does: status "creating" and no endpoint yet (Amazon RDS User Guide, "Viewing
    Amazon RDS DB instance status": creating, "the DB instance is being created. The DB instance is
    inaccessible while it is being created")."""

    def __init__(self, seconds):
        self.seconds = seconds
        self.created_at = None
        self.answered_creating = 0

    def rewrite(self, action, answer):
        status, headers, data = answer
        if action == "CreateDBInstance" and 200 <= status < 300:
            self.created_at = time.monotonic()
        if action != "DescribeDBInstances" or self.created_at is None:
            return answer
        if time.monotonic() - self.created_at > self.seconds:
            return answer
        text = data.decode()
        text = re.sub(
            r"<DBInstanceStatus>available</DBInstanceStatus>", "<DBInstanceStatus>creating</DBInstanceStatus>", text
        )
        text = re.sub(r"<Endpoint>.*?</Endpoint>", "", text, flags=re.S)
        self.answered_creating += 1
        return status, headers, text.encode()


def client_token(body):
    """The ClientToken of a query-protocol request (EC2), or None."""
    return parse_qs(body.decode("utf-8", "replace")).get("ClientToken", [None])[0]


class ClientTokens:
    """The first answer to each (action, ClientToken), replayed for a repeat (see the module's
    docstring)."""

    def __init__(self):
        self.answers = {}
        self.replayed = 0
        self._lock = threading.Lock()

    def replay(self, action, token, body):
        """The stored answer (status, headers, data) for a repeat, or None for a first request."""
        with self._lock:
            found = self.answers.get((action, token))
        if found is None:
            return None
        params, answer = found
        if params != _params_without_signature(body):
            message = (
                "Arguments on this idempotent request are inconsistent with arguments used in previous request(s)."
            )
            content_type, data = _error_body("ec2", "IdempotentParameterMismatch", str(uuid.uuid4()), message)
            return 400, [("Content-Type", content_type)], data
        with self._lock:
            self.replayed += 1
        return answer

    def keep(self, action, token, body, answer):
        with self._lock:
            self.answers.setdefault((action, token), (_params_without_signature(body), answer))


def _params_without_signature(body):
    return sorted((k, v) for k, v in parse_qs(body.decode("utf-8", "replace")).items())


class FaultProxy:
    """A threaded proxy on 127.0.0.1 in front of upstream (an http:// endpoint)."""

    def __init__(self, upstream, policy=None, port=0, lost=None, hold=None, slow_database=None):
        self.upstream = urlsplit(upstream)
        self.policy = policy or FaultPolicy()
        self.lost = lost
        self.hold = hold
        self.slow_database = slow_database
        self.tokens = ClientTokens()
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
                call = call_of(
                    {
                        "headers": dict(self.headers.items()),
                        "body": body.decode("utf-8", "replace"),
                        "method": self.command,
                        "url": self.path,
                    }
                )
                token = client_token(body) if call.writes else None
                if token:
                    replayed = proxy.tokens.replay(call.action, token, body)
                    if replayed is not None:
                        self._send_answer(*replayed)
                        return
                refused = proxy.policy.refusal(body)
                if refused:
                    self._answer_refusal(refused)
                    return
                fault = proxy.policy.next_fault()
                if fault:
                    self._answer_fault(fault)
                    return
                try:
                    answer = self._forward(body)
                except OSError:
                    # The emulator is gone (a test killed it): drop the client's connection, as
                    # a dead endpoint would, without a traceback in the test output.
                    self.close_connection = True
                    return
                if token and 200 <= answer[0] < 300:
                    proxy.tokens.keep(call.action, token, body, answer)
                if proxy.slow_database is not None:
                    answer = proxy.slow_database.rewrite(call.action, answer)
                if proxy.hold is not None and proxy.hold.holds(call):
                    proxy.hold.held.set()
                    proxy.hold.release.wait(120)
                if proxy.lost is not None and proxy.lost.loses(call, body):
                    if proxy.lost.mode == "drop":
                        # Nothing is written back: the client sees the connection closed.
                        self.close_connection = True
                        return
                    self._answer_internal_error()
                    return
                self._send_answer(*answer)

            def _service(self):
                match = _SERVICE_IN_SCOPE.search(self.headers.get("Authorization", ""))
                return match.group(1) if match else ""

            def _answer_internal_error(self):
                code, shape = _INTERNAL.get(self._service(), _DEFAULT_INTERNAL)
                shape = _shape_asked(shape, self.headers.get("Content-Type", ""))
                message = "We encountered an internal error (injected by the test fault proxy, after the write)"
                content_type, data = _error_body(shape, code, str(uuid.uuid4()), message)
                self._send(500, content_type, data, _error_headers(self._service(), shape, code))

            def _send_answer(self, status, headers, data):
                self.send_response(status)
                for key, value in headers:
                    if key.lower() not in _HOP_BY_HOP and key.lower() != "content-length":
                        self.send_header(key, value)
                # A HEAD answer has no body, and its Content-Length is the object's (S3's HeadObject).
                length = dict((k.lower(), v) for k, v in headers).get("content-length", "0")
                self.send_header("Content-Length", length if self.command == "HEAD" else str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            def _answer_refusal(self, code):
                proxy.policy.answered[code] += 1
                message = f"{code} (injected by the test fault proxy)"
                content_type, data = _error_body("query", code, str(uuid.uuid4()), message)
                self._send(400, content_type, data)

            def _send(self, status, content_type, data, headers=()):
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                for key, value in headers:
                    self.send_header(key, value)
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            def _answer_fault(self, kind):
                request_id = str(uuid.uuid4())
                extra = []
                if kind == "503":
                    code, status, content_type, data = "503", 503, "text/plain", b"Service Unavailable"
                else:
                    code, status, shape = _THROTTLE.get(self._service(), _DEFAULT_THROTTLE)
                    shape = _shape_asked(shape, self.headers.get("Content-Type", ""))
                    content_type, data = _error_body(shape, code, request_id)
                    extra = _error_headers(self._service(), shape, code)
                proxy.policy.answered[code] += 1
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.send_header("x-amzn-RequestId", request_id)
                for key, value in extra:
                    self.send_header(key, value)
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            def _forward(self, body):
                """AWS's answer to the request: (status, headers, body)."""
                upstream = http.client.HTTPConnection(proxy.upstream.hostname, proxy.upstream.port, timeout=60)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
                try:
                    upstream.request(self.command, self.path, body=body, headers=headers)
                    response = upstream.getresponse()
                    return response.status, response.getheaders(), response.read()
                finally:
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
