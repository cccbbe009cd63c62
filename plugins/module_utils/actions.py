# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one way this collection's modules call AWS.

Reads go through call(): an error code the caller expects (a missing resource) gives None, any
other error fails the module with a message that says what to fix. Writes go through act(): the
change is recorded, made unless in check mode (so check mode records the very changes a real run
makes), and retried with the client's backoff - with extra error codes for waits on IAM or other
propagation. Tags are compared with amazon.aws's helper and repaired through act() too. A
module's result carries outcome(): changed, the list of changes, and the diff, in one shape for
every module.
"""

from __future__ import annotations

from ansible_collections.amazon.aws.plugins.module_utils.tagging import (
    ansible_dict_to_boto3_tag_list,
    boto3_tag_list_to_ansible_dict,
    compare_aws_tags,
)

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
        self.changes = []

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

    def act(self, client, description, method, retry_codes=None, **kwargs):
        """Record a change, and make it unless in check mode (then None is returned).

        retry_codes maps error codes that mean "not yet" for this call (a new instance profile
        EC2 does not know yet) to a word their message carries; such answers are retried with
        backoff, like throttling.
        """
        self.changes.append(description)
        if self.module.check_mode:
            return None
        if retry_codes:
            client = client.with_extra_codes(retry_codes)
        return self.call(client, description, method, **kwargs)

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
                self.changes.append(f"tag {label}")
                if not self.module.check_mode:
                    add(whole)
            return
        if to_set:
            self.changes.append(f"tag {label}")
            if not self.module.check_mode:
                add(to_set)
        if to_remove:
            self.changes.append(f"remove tags {', '.join(sorted(to_remove))} from {label}")
            if not self.module.check_mode:
                remove(sorted(to_remove))

    def outcome(self):
        """changed, a diff listing the changes, and the changes themselves, for exit_json."""
        changed = bool(self.changes)
        diff = {"before": "", "after": "".join(f"{change}\n" for change in self.changes)} if changed else None
        return {"changed": changed, "diff": diff, "changes": self.changes}
