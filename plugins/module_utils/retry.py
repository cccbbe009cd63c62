# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Jittered exponential backoff for AWS calls that fail for passing reasons.

botocore's own retries are switched off on clients made by this collection (see client.py), so
every retry happens here: one policy, one place to read, and a count the tests can observe.
"""

from __future__ import annotations

import random
import time

try:
    from botocore.exceptions import ClientError, ConnectionClosedError, ReadTimeoutError, WaiterError
    from botocore.parsers import ResponseParserError
except ImportError:  # AnsibleAWSModule reports a missing botocore itself.
    ClientError = ConnectionClosedError = ReadTimeoutError = ResponseParserError = WaiterError = None

# Error codes that mean "too fast" or "not now" rather than "wrong".
RETRYABLE_CODES = frozenset(
    (
        "BandwidthLimitExceeded",
        "EC2ThrottledException",
        "InternalError",
        "InternalFailure",
        "InternalServerError",
        "PriorRequestNotComplete",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "RequestThrottled",
        "RequestThrottledException",
        "RequestTimeout",
        "RequestTimeoutException",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "SlowDown",
        "Throttled",
        "ThrottledException",
        "Throttling",
        "ThrottlingException",
        "TooManyRequestsException",
        "TransactionInProgressException",
        "Unavailable",
    )
)

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


def _is_passing_answer(response, extra_codes=None):
    error = response.get("Error", {})
    code = error.get("Code", "")
    if extra_codes and code in extra_codes and extra_codes[code] in (error.get("Message") or ""):
        return True
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
    return code in RETRYABLE_CODES or status == 429 or status >= 500


def is_retryable(error, extra_codes=None):
    """True when an exception from botocore is worth another attempt. extra_codes maps further
    error codes to a word their message must carry, for answers that mean "not yet" for one
    call only (AWS has not spread a new IAM instance profile to EC2 yet)."""
    if ClientError is not None and isinstance(error, ClientError):
        return _is_passing_answer(getattr(error, "response", None) or {}, extra_codes)
    # A waiter gives up on the first answer none of its acceptors knows, throttling included.
    if WaiterError is not None and isinstance(error, WaiterError):
        return _is_passing_answer(getattr(error, "last_response", None) or {})
    # A connection dropped or timed out mid-call is passing, and so is a body botocore cannot
    # parse (a load balancer's bare "503 Service Unavailable" page). A refused connection (wrong
    # endpoint, nothing listening) is not: retrying it would only delay the real message.
    if ConnectionClosedError is not None:
        return isinstance(error, (ConnectionClosedError, ReadTimeoutError, ResponseParserError))
    return False


def call_with_retries(function, backoff, *args, extra_codes=None, **kwargs):
    """Call function until it succeeds, fails for good, or runs out of attempts."""
    for attempt in range(backoff.attempts):
        try:
            return function(*args, **kwargs)
        except Exception as error:  # pylint: disable=broad-except
            if attempt + 1 >= backoff.attempts or not is_retryable(error, extra_codes):
                raise
            backoff.wait(attempt)
    raise AssertionError("unreachable: the loop either returns or raises")


class RetryingClient:
    """A boto3 client whose API calls all retry with backoff."""

    def __init__(self, client, backoff=None, extra_codes=None):
        self._client = client
        self._backoff = backoff or Backoff()
        self._extra_codes = extra_codes

    def with_extra_codes(self, extra_codes):
        """The same client, retrying also the answers extra_codes names (see is_retryable)."""
        return RetryingClient(self._client, self._backoff, {**(self._extra_codes or {}), **extra_codes})

    def __getattr__(self, name):
        attribute = getattr(self._client, name)
        if name in _NOT_CALLS or name.startswith("_") or not callable(attribute):
            return attribute

        def retrying(*args, **kwargs):
            return call_with_retries(attribute, self._backoff, *args, extra_codes=self._extra_codes, **kwargs)

        retrying.__name__ = name
        return retrying

    def wait(self, waiter_name, delay=None, max_attempts=None, **kwargs):
        """Run a botocore waiter that rides out throttling and 5xx answers.

        A bare waiter ends a wait of many minutes at the first throttled poll. Here such an
        answer costs a backoff, and the wait goes on within the same overall time: delay times
        max_attempts seconds (the waiter model's own values by default).
        """
        waiter = self._client.get_waiter(waiter_name)
        delay = delay or waiter.config.delay
        deadline = time.monotonic() + delay * (max_attempts or waiter.config.max_attempts)
        passing = 0
        while True:
            attempts_left = max(1, int((deadline - time.monotonic()) // delay))
            try:
                return waiter.wait(WaiterConfig={"Delay": delay, "MaxAttempts": attempts_left}, **kwargs)
            except Exception as error:  # pylint: disable=broad-except
                if not is_retryable(error) or time.monotonic() >= deadline:
                    raise
            self._backoff.wait(min(passing, self._backoff.attempts))
            passing += 1

    def paginate(self, operation, **kwargs):
        """All pages of a paginated call merged into one dict.

        A transient failure restarts the whole listing: these are reads, and a botocore page
        iterator cannot be resumed once it has raised.
        """
        paginator = self._client.get_paginator(operation)

        def every_page():
            return paginator.paginate(**kwargs).build_full_result()

        return call_with_retries(every_page, self._backoff)
