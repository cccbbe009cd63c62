# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Jittered exponential backoff for AWS calls that fail for passing reasons.

botocore's own retries are switched off on clients made by this collection (module.py), so every
retry happens here: one policy, one place to read, and a count the tests can observe.

A passing failure is one of two kinds, and the difference decides whether a write may be sent
again:
- refused: AWS turned the request away before acting on it (throttling). Sending it again is
  always safe.
- unknown: AWS may or may not have acted (an internal error, a 5xx, a dropped connection, a time
  out). A read may be sent again; a write only as writes.py says it may, or a create would be
  made twice.
"""

from __future__ import annotations

import random
import time

from ansible_collections.convex_selfhost.aws.plugins.module_utils import writes
from ansible_collections.convex_selfhost.aws.plugins.module_utils.errors import error_code

try:
    from botocore.exceptions import ClientError, ConnectionClosedError, ReadTimeoutError, WaiterError
    from botocore.parsers import ResponseParserError
except ImportError:  # AnsibleAWSModule reports a missing botocore itself.
    ClientError = ConnectionClosedError = ReadTimeoutError = ResponseParserError = WaiterError = None

REFUSED = "refused"
UNKNOWN = "unknown"

# Error codes that mean "too fast" or "not now": AWS did not act on the request.
REFUSED_CODES = frozenset(
    (
        "BandwidthLimitExceeded",
        "EC2ThrottledException",
        "PriorRequestNotComplete",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "RequestThrottled",
        "RequestThrottledException",
        "SlowDown",
        "Throttled",
        "ThrottledException",
        "Throttling",
        "ThrottlingException",
        "TooManyRequestsException",
        "TransactionInProgressException",
    )
)
# Error codes after which nobody can tell whether AWS acted on the request.
UNKNOWN_CODES = frozenset(
    (
        "InternalError",
        "InternalFailure",
        "InternalServerError",
        "RequestTimeout",
        "RequestTimeoutException",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "Unavailable",
    )
)
# Kept for callers that only ask "worth another attempt?" (reads, waiters).
RETRYABLE_CODES = REFUSED_CODES | UNKNOWN_CODES

# Client attributes that must not be wrapped: they build objects rather than call AWS.
_NOT_CALLS = frozenset(("get_paginator", "can_paginate", "get_waiter", "generate_presigned_url"))


class Backoff:
    """How often and how long to wait between attempts.

    The wait before retry n is half of min(cap, base * 2**n) plus a random share of the other half
    ("equal jitter"): it always backs off, and many hosts retrying at once spread out.
    """

    def __init__(self, attempts=8, base=0.5, cap=16.0, sleep=time.sleep, rand=random.uniform):
        if attempts < 1:
            raise ValueError("attempts must be at least 1")
        self.attempts = attempts
        self.base = base
        self.cap = cap
        self._sleep = sleep
        self._rand = rand

    def delay(self, retry_number):
        ceiling = min(self.cap, self.base * (2**retry_number))
        return ceiling / 2 + self._rand(0, ceiling / 2)

    def wait(self, retry_number):
        self._sleep(self.delay(retry_number))


def _kind_of_answer(response, extra_codes=None):
    error = response.get("Error", {})
    code = error.get("Code", "")
    if extra_codes and code in extra_codes and extra_codes[code] in (error.get("Message") or ""):
        return REFUSED
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
    if code in REFUSED_CODES or status == 429:
        return REFUSED
    if code in UNKNOWN_CODES or status >= 500:
        return UNKNOWN
    return None


def passing(error, extra_codes=None):
    """REFUSED or UNKNOWN for a passing failure (see the module's docstring), None for one that
    another attempt would not change. extra_codes maps further error codes to a word their message
    must carry, for answers that mean "not yet" for one call only (AWS has not spread a new IAM
    instance profile to EC2 yet): such a call was refused, not made."""
    if ClientError is not None and isinstance(error, ClientError):
        return _kind_of_answer(getattr(error, "response", None) or {}, extra_codes)
    # A waiter gives up on the first answer none of its acceptors knows, throttling included.
    if WaiterError is not None and isinstance(error, WaiterError):
        return _kind_of_answer(getattr(error, "last_response", None) or {})
    # A connection dropped or timed out mid-call, and a body botocore cannot parse (a load
    # balancer's bare "503 Service Unavailable" page): the request may have been acted on. A
    # refused connection (wrong endpoint, nothing listening) is not passing: retrying it would
    # only delay the real message.
    if ConnectionClosedError is not None and isinstance(
        error, (ConnectionClosedError, ReadTimeoutError, ResponseParserError)
    ):
        return UNKNOWN
    return None


def is_retryable(error, extra_codes=None):
    """True when another attempt of a read is worth it."""
    return passing(error, extra_codes) is not None


def call_with_retries(function, backoff, *args, extra_codes=None, **kwargs):
    """Call function (a read, or a write that may be repeated) until it succeeds, fails for good,
    or runs out of attempts."""
    for attempt in range(backoff.attempts):
        try:
            return function(*args, **kwargs)
        except Exception as error:  # pylint: disable=broad-except
            if attempt + 1 >= backoff.attempts or not is_retryable(error, extra_codes):
                raise
            backoff.wait(attempt)
    raise AssertionError("unreachable: the loop either returns or raises")


def write_with_retries(function, backoff, repeat, find=None, extra_codes=None, **kwargs):
    """Make a write, retrying what is passing without ever making it twice.

    repeat (from writes.py) says how the write may be sent again after an unknown outcome. find()
    returns what the write makes if it exists already (and is the caller's own), else None: it is
    asked before every attempt that follows an unknown outcome, and when AWS answers that the thing
    exists already. Without a way to repeat safely, an unknown outcome is reported, not retried:
    the next run looks before it makes anything.
    """
    uncertain = False
    for attempt in range(backoff.attempts):
        try:
            return function(**kwargs)
        except Exception as error:  # pylint: disable=broad-except
            if error_code(error) in repeat.done_codes and (uncertain or repeat.ours or find is not None):
                # The thing exists: made by the attempt whose answer was lost, or found as ours.
                found = find() if find is not None else {}
                if found is not None:
                    return found
                raise
            kind = passing(error, extra_codes)
            if kind is None or attempt + 1 >= backoff.attempts:
                raise
            if kind == UNKNOWN:
                if not (repeat.safe or repeat.done_codes or find is not None):
                    raise
                uncertain = True
        backoff.wait(attempt)
        if uncertain and find is not None:
            found = find()
            if found is not None:
                return found
    raise AssertionError("unreachable: the loop either returns or raises")


class RetryingClient:
    """A boto3 client whose API calls retry with backoff: reads on any passing failure, writes as
    writes.py allows for each operation."""

    def __init__(self, client, backoff=None, extra_codes=None):
        self._client = client
        self._backoff = backoff or Backoff()
        self._extra_codes = extra_codes

    @property
    def service(self):
        return self._client.meta.service_model.service_name

    def with_extra_codes(self, extra_codes):
        """The same client, retrying also the answers extra_codes names (see passing)."""
        return RetryingClient(self._client, self._backoff, {**(self._extra_codes or {}), **extra_codes})

    def __getattr__(self, name):
        attribute = getattr(self._client, name)
        if name in _NOT_CALLS or name.startswith("_") or not callable(attribute):
            return attribute

        def retrying(*args, **kwargs):
            if writes.is_read(name):
                return call_with_retries(attribute, self._backoff, *args, extra_codes=self._extra_codes, **kwargs)
            return self.write(name, **kwargs)

        retrying.__name__ = name
        return retrying

    def write(self, operation, find=None, **kwargs):
        """Make the write operation (botocore's method name) with kwargs; find as in
        write_with_retries."""
        repeat = writes.repeat_of(self.service, operation, kwargs)
        return write_with_retries(
            getattr(self._client, operation), self._backoff, repeat, find, self._extra_codes, **kwargs
        )

    def wait(self, waiter_name, delay=None, max_attempts=None, **kwargs):
        """Run a botocore waiter that rides out throttling and 5xx answers.

        A bare waiter ends a wait of many minutes at the first throttled poll. Here such an
        answer costs a backoff, and the wait goes on within the same overall time: delay times
        max_attempts seconds (the waiter model's own values by default).
        """
        waiter = self._client.get_waiter(waiter_name)
        delay = delay or waiter.config.delay
        deadline = time.monotonic() + delay * (max_attempts or waiter.config.max_attempts)
        passing_answers = 0
        while True:
            attempts_left = max(1, int((deadline - time.monotonic()) // delay))
            try:
                return waiter.wait(WaiterConfig={"Delay": delay, "MaxAttempts": attempts_left}, **kwargs)
            except Exception as error:  # pylint: disable=broad-except
                if not is_retryable(error) or time.monotonic() >= deadline:
                    raise
            self._backoff.wait(min(passing_answers, self._backoff.attempts))
            passing_answers += 1

    def paginate(self, operation, **kwargs):
        """All pages of a paginated call merged into one dict.

        A transient failure restarts the whole listing: these are reads, and a botocore page
        iterator cannot be resumed once it has raised.
        """
        paginator = self._client.get_paginator(operation)

        def every_page():
            return paginator.paginate(**kwargs).build_full_result()

        return call_with_retries(every_page, self._backoff)
