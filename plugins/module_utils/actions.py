# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""AWS calls of one module run, with every change recorded, and check mode honoured in one place."""

from __future__ import annotations

from ansible_collections.convex_selfhost.aws.plugins.module_utils.errors import error_code

try:
    from botocore.exceptions import BotoCoreError, ClientError
except ImportError:
    pass  # AnsibleAWSModule reports a missing botocore itself.


class Actions:
    def __init__(self, module):
        self.module = module
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

    def act(self, client, description, method, **kwargs):
        """Record a change, and make it unless in check mode (then None is returned)."""
        self.changes.append(description)
        if self.module.check_mode:
            return None
        return self.call(client, description, method, **kwargs)

    def outcome(self):
        """changed, a diff listing the changes, and the changes themselves, for exit_json."""
        changed = bool(self.changes)
        diff = {"before": "", "after": "".join(f"{change}\n" for change in self.changes)} if changed else None
        return {"changed": changed, "diff": diff, "changes": self.changes}
