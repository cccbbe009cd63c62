# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Convex host's IAM role and instance profile, holding host_policy's least privilege. Used by
host.py for the instance module and the deployment module."""

from __future__ import annotations

import json

from ansible_collections.amazon.aws.plugins.module_utils.policy import compare_policies

from ansible_collections.convex_selfhost.aws.plugins.module_utils import host_policy
from ansible_collections.convex_selfhost.aws.plugins.module_utils.actions import aws_tags

POLICY_NAME = "convex-storage"
# Policies earlier versions of the collection kept on the role: removed when found.
FORMER_POLICIES = ("convex-storage-and-parameters",)
MISSING = ("NoSuchEntity",)


def role_name(host_name):
    """The host's role and instance profile, named after the host (the stage model's ARNs too)."""
    return f"{host_name}-host"


class HostRole:
    def __init__(self, module, actions, name, tags):
        self.module = module
        self.actions = actions
        self.name = role_name(name)
        self.host_name = name
        self.tags = tags

    @property
    def iam(self):
        """Made when first asked: a run that never touches the role (the stage model) needs no
        IAM client (a tenth of a second each)."""
        return self.module.aws_client("iam")

    def call(self, action, method, **kwargs):
        return self.actions.call(self.iam, action, method, missing=MISSING, **kwargs)

    def act(self, description, method, **kwargs):
        return self.actions.act(self.iam, description, method, **kwargs)

    def profile(self):
        found = self.call("look up the instance profile", "get_instance_profile", InstanceProfileName=self.name)
        return found["InstanceProfile"] if found else None

    def role_in_profile(self):
        roles = (self.profile() or {}).get("Roles", [])
        return {} if any(r["RoleName"] == self.name for r in roles) else None

    def ensure(self, bucket_arns, kms_key_arns, **grants):
        """grants: host_policy's other grants (log_group_arn, metric_namespace, caddy_storage_arn)."""
        # The instance profile lists its role with the role's ARN, so a no-op run needs no GetRole.
        profile = self.profile()
        in_profile = [r for r in (profile or {}).get("Roles", []) if r["RoleName"] == self.name]
        role = (
            in_profile[0]
            if in_profile
            else (self.call("look up the host role", "get_role", RoleName=self.name) or {}).get("Role")
        )
        if role is None:
            self.act(
                f"create the IAM role {self.name}",
                "create_role",
                RoleName=self.name,
                AssumeRolePolicyDocument=json.dumps(host_policy.TRUST_EC2),
                Description=f"Convex host {self.host_name}: the objects of its buckets, nothing else",
                Tags=aws_tags(self.tags),
            )
        elif compare_policies(role.get("AssumeRolePolicyDocument") or {}, host_policy.TRUST_EC2):
            # Set at creation, and repaired: only EC2 may take the role on.
            self.act(
                f"let only EC2 assume {self.name}",
                "update_assume_role_policy",
                RoleName=self.name,
                PolicyDocument=json.dumps(host_policy.TRUST_EC2),
            )
        self.ensure_policy(role is not None, bucket_arns, kms_key_arns, **grants)
        if profile is None:
            self.act(
                f"create the instance profile {self.name}",
                "create_instance_profile",
                InstanceProfileName=self.name,
                Tags=aws_tags(self.tags),
            )
        if not in_profile:
            # A profile holds one role; AWS refuses a second AddRoleToInstanceProfile, so after a lost
            # answer the profile is read to tell "done" from a foreign role (writes.py).
            self.act(
                f"put {self.name} into its instance profile",
                "add_role_to_instance_profile",
                find=self.role_in_profile,
                InstanceProfileName=self.name,
                RoleName=self.name,
            )

    def ensure_policy(self, role_exists, bucket_arns, kms_key_arns, **grants):
        wanted = host_policy.host_policy(bucket_arns, kms_key_arns, **grants)
        current = None
        if role_exists:
            found = self.call(
                "read the host role's policy", "get_role_policy", RoleName=self.name, PolicyName=POLICY_NAME
            )
            current = found["PolicyDocument"] if found else None
            if current is None:
                # A role made by an earlier version: its policy went by another name.
                listed = self.call("list the role's policies", "list_role_policies", RoleName=self.name)
                for former in sorted(set(listed["PolicyNames"]) & set(FORMER_POLICIES)):
                    self.act(
                        f"delete the former policy {former}, which let the host read SSM",
                        "delete_role_policy",
                        RoleName=self.name,
                        PolicyName=former,
                    )
        if current is None or compare_policies(current, wanted):
            self.act(
                f"set the policy {POLICY_NAME} of {self.name}",
                "put_role_policy",
                RoleName=self.name,
                PolicyName=POLICY_NAME,
                PolicyDocument=json.dumps(wanted),
            )

    def remove(self):
        profile = self.profile()
        if profile is not None:
            for role in profile.get("Roles", []):
                self.act(
                    f"take {role['RoleName']} out of the instance profile",
                    "remove_role_from_instance_profile",
                    InstanceProfileName=self.name,
                    RoleName=role["RoleName"],
                )
            self.act("delete the instance profile", "delete_instance_profile", InstanceProfileName=self.name)
        if self.call("look up the host role", "get_role", RoleName=self.name):
            listed = self.call("list the role's policies", "list_role_policies", RoleName=self.name)
            for policy in listed["PolicyNames"]:
                self.act(f"delete the policy {policy}", "delete_role_policy", RoleName=self.name, PolicyName=policy)
            self.act(f"delete the IAM role {self.name}", "delete_role", RoleName=self.name)
