# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the EC2 modules (network, instance) share: EC2 calls through the write gate, and each
resource's tags - its Name, its role in the stack, the caller's - repaired with one helper."""

from __future__ import annotations

from ansible_collections.convex_selfhost.aws.plugins.module_utils import tags as tag_helpers
from ansible_collections.convex_selfhost.aws.plugins.module_utils.actions import Actions, aws_tags, dict_tags

# Tag that says which part of the stack a subnet, route table or group is.
ROLE_KEY = "convex_selfhost:role"


class EC2Resources:
    """params is the resource's options (its module's, or what a composing module gives);
    actions the write log it shares, a new one by default."""

    def __init__(self, module, params, actions=None):
        self.module = module
        self.params = params
        self.name = params["name"]
        self.ec2 = module.aws_client("ec2")
        self.actions = actions or Actions(module, params)

    def call(self, action, method, **kwargs):
        return self.actions.call(self.ec2, action, method, **kwargs)

    def act(self, description, method, **kwargs):
        return self.actions.act(self.ec2, description, method, **kwargs)

    def wanted_tags(self, suffix=None, role=None):
        extra = {ROLE_KEY: role} if role else {}
        return self.actions.wanted_tags(f"{self.name}-{suffix}" if suffix else self.name, **extra)

    def tag_spec(self, resource_type, suffix=None, role=None):
        return [{"ResourceType": resource_type, "Tags": aws_tags(self.wanted_tags(suffix, role))}]

    def repair_tags(self, resource_id, current_list, suffix=None, role=None):
        self.actions.repair_tags(
            resource_id,
            dict_tags(current_list),
            self.wanted_tags(suffix, role),
            add=lambda tags: self.call(
                f"tag {resource_id}", "create_tags", Resources=[resource_id], Tags=aws_tags(tags)
            ),
            remove=lambda keys: self.call(
                f"untag {resource_id}", "delete_tags", Resources=[resource_id], Tags=[{"Key": k} for k in keys]
            ),
        )

    def owned(self, action, method, key, suffix=None, filters=()):
        """What this collection made under the Name name(-suffix), as EC2 describes it."""
        name = f"{self.name}-{suffix}" if suffix else self.name
        return self.call(action, method, Filters=[*tag_helpers.owned_filters(name), *filters])[key]


def role_of(resource):
    return dict_tags(resource.get("Tags")).get(ROLE_KEY, "")
