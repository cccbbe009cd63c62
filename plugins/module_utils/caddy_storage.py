# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The copy of Caddy's storage kept off the host: one Secrets Manager secret per deployment, which
the host itself fills (the caddy role's caddy-storage-copy) with Caddy's certificates, its ACME
account and, with caddy_tls internal, its own CA. A new host (a lost one that site.yml makes again)
starts Caddy from it, so Caddy orders nothing it already holds: Let's Encrypt issues at most five
certificates for one set of names in 168 hours, and Caddy's documentation says its data folder is
not a cache.

A secret rather than a bucket: its value is encrypted with KMS (Secrets Manager's own key), it
holds up to 64 KB, and its resource policy makes AWS itself refuse the value to every principal
but the deployment's host role. The secret is made here, empty; only the host writes a value.

Teardown schedules the secret's deletion with a recovery window, and a stage made again within it
gets the secret back (RestoreSecret) with its certificates. A no-op run reads twice: the secret
(with its tags) and its resource policy.
"""

from __future__ import annotations

import json

from ansible_collections.amazon.aws.plugins.module_utils.policy import compare_policies

from ansible_collections.convex_selfhost.aws.plugins.module_utils import host_policy, rules
from ansible_collections.convex_selfhost.aws.plugins.module_utils import tags as tag_helpers
from ansible_collections.convex_selfhost.aws.plugins.module_utils.actions import Actions, aws_tags, dict_tags

ARGUMENT_SPEC = {
    # The secret's name (the stage model's caddy_storage_secret).
    "name": {"type": "str", "required": True},
    # The one principal that may read or write the value: the deployment's host role.
    "role_arn": {"type": "str", "required": True},
    **tag_helpers.ARGUMENT_SPEC,
}
MISSING = ("ResourceNotFoundException",)
# Days a torn-down deployment's copy can still be brought back (DeleteSecret allows 7 to 30).
RECOVERY_DAYS = 7


def arn_pattern(partition, region, account_id, name):
    """The secret's ARN as a policy names it before the secret exists: Secrets Manager ends each
    ARN with a hyphen and six random characters (Secrets Manager user guide, "Permissions policy
    examples": match them with -??????, never with *)."""
    return f"arn:{partition}:secretsmanager:{region}:{account_id}:secret:{name}-??????"


def resource_policy(role_arn):
    """Every principal but the host role is refused what the host's own policy grants it (reading
    and writing the value), by AWS, whatever their IAM policies allow. aws:PrincipalArn is the
    role's ARN for a session of the role (IAM user guide, "AWS global condition context keys")."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "OnlyTheHostRole",
                "Effect": "Deny",
                "Principal": "*",
                "Action": host_policy.SECRET_ACTIONS,
                "Resource": "*",
                "Condition": {"StringNotEquals": {"aws:PrincipalArn": role_arn}},
            }
        ],
    }


def input_problems(params):
    problem = params["tags"] and rules.tags_problem(params["tags"])
    return [f"tags {problem}"] if problem else []


class CaddyStorage:
    def __init__(self, module, params, actions=None):
        self.module = module
        self.params = params
        self.name = params["name"]
        self.actions = actions or Actions(module, params)

    @property
    def secrets(self):
        return self.module.aws_client("secretsmanager")

    def find(self):
        return self.actions.call(
            self.secrets, f"read the secret {self.name}", "describe_secret", missing=MISSING, SecretId=self.name
        )

    def ensure(self):
        wanted_tags = self.actions.wanted_tags(self.name)
        secret = self.find()
        policy = None
        if secret is None:
            made = self.actions.act(
                self.secrets,
                f"create the secret {self.name}, for the copy of Caddy's storage the host keeps",
                "create_secret",
                find=self.find,
                Name=self.name,
                Description="Caddy's certificates, ACME account and CA, copied by the Convex host (caddy-storage-copy)",
                Tags=aws_tags(wanted_tags),
            )
            secret = {"ARN": made["ARN"], "Tags": aws_tags(wanted_tags)} if made else None
        else:
            if secret.get("DeletedDate"):
                # A teardown scheduled its deletion: the stage made again gets its certificates back.
                self.actions.act(
                    self.secrets,
                    f"restore the secret {self.name}, which a teardown scheduled for deletion",
                    "restore_secret",
                    SecretId=secret["ARN"],
                )
                if self.module.check_mode:
                    # Secrets Manager answers nothing else of a secret marked for deletion.
                    return {"secret_name": self.name, "secret_arn": secret["ARN"]}
            found = self.actions.call(
                self.secrets, f"read the policy of {self.name}", "get_resource_policy", SecretId=secret["ARN"]
            )
            policy = json.loads(found["ResourcePolicy"]) if found.get("ResourcePolicy") else None
        wanted_policy = resource_policy(self.params["role_arn"])
        if policy is None or compare_policies(policy, wanted_policy):
            self.actions.act(
                self.secrets,
                f"let only {self.params['role_arn'].rsplit('/', 1)[-1]} read and write {self.name}",
                "put_resource_policy",
                SecretId=(secret or {}).get("ARN", self.name),
                ResourcePolicy=json.dumps(wanted_policy),
                BlockPublicPolicy=True,
            )
        if secret is not None:
            arn = secret["ARN"]
            self.actions.repair_tags(
                f"the secret {self.name}",
                dict_tags(secret.get("Tags")),
                wanted_tags,
                lambda add: self.actions.call(self.secrets, "tag", "tag_resource", SecretId=arn, Tags=aws_tags(add)),
                lambda keys: self.actions.call(self.secrets, "untag", "untag_resource", SecretId=arn, TagKeys=keys),
            )
        return {"secret_name": self.name, "secret_arn": (secret or {}).get("ARN", "")}

    def remove(self):
        """Scheduled for deletion, not deleted: within RECOVERY_DAYS a stage made again restores it."""
        secret = self.find()
        if secret is None or secret.get("DeletedDate"):
            return {"secret_name": self.name, "deletion_date": str((secret or {}).get("DeletedDate") or "")}
        self.actions.act(
            self.secrets,
            f"schedule the secret {self.name} for deletion in {RECOVERY_DAYS} days (a stage made again before "
            "then gets it back)",
            "delete_secret",
            SecretId=secret["ARN"],
            RecoveryWindowInDays=RECOVERY_DAYS,
        )
        return {"secret_name": self.name, "deletion_date": f"in {RECOVERY_DAYS} days"}
