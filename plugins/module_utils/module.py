# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one base every module of this collection is built on.

It is amazon.aws's AnsibleAWSModule (which brings the connection options documented in
convex_selfhost.aws.connection), plus:
- check mode always on;
- a region required up front, with a message that says how to set it;
- clients whose calls retry with jittered backoff (retry.py), and only there;
- failures that say what to fix (errors.py);
- a failure in a worker thread (module_utils/parallel.py) raised to the main thread, which reports
  every worker's failure in one result.
"""

from __future__ import annotations

import threading

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule

from ansible_collections.convex_selfhost.aws.plugins.module_utils.errors import error_code, explain
from ansible_collections.convex_selfhost.aws.plugins.module_utils.retry import Backoff, RetryingClient
from ansible_collections.convex_selfhost.aws.plugins.module_utils.rules import region_problem

try:
    import botocore.config
    import botocore.session
except ImportError:  # AnsibleAWSModule reports a missing botocore itself.
    botocore = None


class WorkerFailure(Exception):
    """A failure of one worker thread: its message and the rest of its result."""

    def __init__(self, msg, result):
        super().__init__(msg)
        self.msg = msg
        self.result = result


class ConvexAWSModule(AnsibleAWSModule):
    """AnsibleAWSModule with this collection's defaults: check mode, region checks, retries."""

    def __init__(self, argument_spec=None, require_region=True, backoff=None, **kwargs):
        kwargs.setdefault("supports_check_mode", True)
        super().__init__(argument_spec=argument_spec or {}, **kwargs)
        self._backoff = backoff or Backoff()
        self._clients = {}
        self._clients_lock = threading.Lock()
        if require_region:
            problem = region_problem(self.region)
            if problem:
                self.fail_json(msg=problem)

    @property
    def partition(self):
        """The AWS partition of the module's region (aws, aws-cn, aws-us-gov, ...)."""
        return self.partition_of(self.region)

    @staticmethod
    def partition_of(region):
        return botocore.session.get_session().get_partition_for_region(region)

    def refuse_bad_input(self, problems):
        """Stop before any AWS call when the input has problems, naming every one of them."""
        if problems:
            self.fail_json(msg="; ".join(problems))

    def aws_client(self, service, region=None):
        """A client for service (in region, else the module's) whose calls retry throttling, 5xx
        and dropped connections (retry.py).

        botocore's own retries are off, whatever aws_config or AWS_MAX_ATTEMPTS say: botocore
        would repeat a create whose answer was lost behind this collection's back, and make it
        twice. The rest of aws_config still applies.
        """
        # One client per service and region for the module's run: each new one parses the
        # service's model again (EC2's alone is a few megabytes of JSON, a tenth of a second), and
        # botocore's clients are safe to share between the worker threads.
        with self._clients_lock:
            key = (service, region or self.region)
            if key not in self._clients:
                given = self.params.get("aws_config") or {}
                config = botocore.config.Config(**given).merge(
                    botocore.config.Config(retries={"total_max_attempts": 1})
                )
                extra = {"region": region} if region else {}
                self._clients[key] = RetryingClient(self.client(service, aws_config=config, **extra), self._backoff)
            return self._clients[key]

    def fail_json(self, *args, **kwargs):
        """In a worker thread, raise the failure for the main thread to report (with the other
        workers' failures); Ansible reads one JSON document, never two."""
        if threading.current_thread() is not threading.main_thread():
            raise WorkerFailure(kwargs.pop("msg", args[0] if args else "failed"), kwargs)
        super().fail_json(*args, **kwargs)

    def fail_aws(self, error, action, **result):
        """Fail with a message that names the action, AWS's answer and what to fix."""
        self.fail_json(msg=explain(error, action), error_code=error_code(error) or None, **result)
