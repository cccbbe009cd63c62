# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one way this collection's modules call AWS.

Reads go through call(): an error code the caller expects (a missing resource) gives None, any
other error fails the module with a message that says what to fix. Writes go through act(): the
change is recorded, made unless in check mode (so check mode records the very changes a real run
makes), and retried with the client's backoff - with extra error codes for waits on IAM or other
propagation, and, when AWS's answer is lost, only as writes.py allows, with the caller's find()
looking for what the lost attempt may have made. Tags are compared with amazon.aws's helper and
repaired through act() too. A module's result carries outcome(): changed, the list of changes,
and the diff, in one shape for every module.

Work done side by side (parallel()) records its changes in lanes, so the list of changes has the
same order on every run: first what came before, then each lane's in the order of the calls.
"""

from __future__ import annotations

import contextlib
import itertools
import threading

from ansible_collections.amazon.aws.plugins.module_utils.tagging import (
    ansible_dict_to_boto3_tag_list,
    boto3_tag_list_to_ansible_dict,
    compare_aws_tags,
)

from ansible_collections.convex_selfhost.aws.plugins.module_utils import parallel as parallel_work
from ansible_collections.convex_selfhost.aws.plugins.module_utils.errors import error_code
from ansible_collections.convex_selfhost.aws.plugins.module_utils.tags import MANAGED_BY_KEY, MANAGED_BY_VALUE

try:
    from botocore.exceptions import BotoCoreError, ClientError
except ImportError:
    pass  # AnsibleAWSModule reports a missing botocore itself.


def aws_tags(tags):
    """{'a': 'b'} -> [{'Key': 'a', 'Value': 'b'}], sorted so requests are stable."""
    return sorted(ansible_dict_to_boto3_tag_list({k: str(v) for k, v in (tags or {}).items()}), key=lambda t: t["Key"])


def dict_tags(tag_list):
    """AWS's tag list as a dict, without the tags AWS itself keeps (aws:*)."""
    return {k: v for k, v in boto3_tag_list_to_ansible_dict(tag_list or []).items() if not k.startswith("aws:")}


class Actions:
    """One run's AWS calls. params holds the tags and purge_tags the writes apply: the module's
    own, or those a module that composes several resources gives."""

    def __init__(self, module, params=None):
        self.module = module
        self.params = module.params if params is None else params
        # (phase, lane, sequence, description): phases count the parallel() calls, lanes their
        # workers; the main thread's lane is 0.
        self._recorded = []
        self._phase = 0
        self._lane = threading.local()
        self._sequence = itertools.count()
        self._lock = threading.Lock()

    @property
    def changes(self):
        return [entry[-1] for entry in sorted(self._recorded)]

    def record(self, description):
        with self._lock:
            self._recorded.append((self._phase, getattr(self._lane, "index", 0), next(self._sequence), description))

    @contextlib.contextmanager
    def _in_lane(self, index):
        self._lane.index = index + 1
        try:
            yield
        finally:
            self._lane.index = 0

    def parallel(self, *calls):
        """Run the calls side by side; their results in order. Every failure among them is
        reported once, together (parallel.py); their changes keep the order of the calls."""
        self._phase += 1
        try:
            return parallel_work.run_all(self.module, list(calls), lane=self._in_lane)
        finally:
            self._phase += 1

    def call(self, client, action, method, missing=(), **kwargs):
        """Call AWS; None when the error code is one of missing, a clear failure on any other."""
        try:
            return getattr(client, method)(**kwargs)
        except ClientError as error:
            if error_code(error) in missing:
                return None
            self.module.fail_aws(error, action)
        except BotoCoreError as error:
            self.module.fail_aws(error, action)

    def act(self, client, description, method, retry_codes=None, find=None, missing=(), **kwargs):
        """Record a change, and make it unless in check mode (then None is returned).

        retry_codes maps error codes that mean "not yet" for this call (a new instance profile
        EC2 does not know yet) to a word their message carries; such answers are retried with
        backoff, like throttling. find() returns what the write makes when it exists already (as
        writes.py describes); it stands in for an answer AWS lost.
        """
        self.record(description)
        if self.module.check_mode:
            return None
        if retry_codes:
            client = client.with_extra_codes(retry_codes)
        try:
            return client.write(method, find=find, **kwargs)
        except ClientError as error:
            if error_code(error) in missing:
                return None
            self.module.fail_aws(error, description)
        except BotoCoreError as error:
            self.module.fail_aws(error, description)

    def wanted_tags(self, name=None, **extra):
        """The caller's tags, the collection's ownership tag, a Name when given, and extra ones."""
        wanted = {str(k): str(v) for k, v in (self.params.get("tags") or {}).items()}
        wanted[MANAGED_BY_KEY] = MANAGED_BY_VALUE
        if name:
            wanted["Name"] = name
        wanted.update(extra)
        return wanted

    def repair_tags(self, label, current, wanted, add, remove=None):
        """Put wanted tags back on a resource: add(dict) sets tags, remove(keys) drops the ones not
        wanted when purge_tags is on and tags is given (amazon.aws's rule: without tags, no tag is
        removed). Without remove the service replaces the whole set: add(all)."""
        purge = self.params.get("purge_tags", True) and self.params.get("tags") is not None
        to_set, to_remove = compare_aws_tags(current or {}, wanted, purge_tags=purge)
        if remove is None:
            if to_set or to_remove:
                whole = {k: v for k, v in {**(current or {}), **to_set}.items() if k not in to_remove}
                self.record(f"tag {label}")
                if not self.module.check_mode:
                    add(whole)
            return
        if to_set:
            self.record(f"tag {label}")
            if not self.module.check_mode:
                add(to_set)
        if to_remove:
            self.record(f"remove tags {', '.join(sorted(to_remove))} from {label}")
            if not self.module.check_mode:
                remove(sorted(to_remove))

    def outcome(self):
        """changed, a diff listing the changes, and the changes themselves, for exit_json."""
        changes = self.changes
        diff = {"before": "", "after": "".join(f"{change}\n" for change in changes)} if changes else None
        return {"changed": bool(changes), "diff": diff, "changes": changes}
