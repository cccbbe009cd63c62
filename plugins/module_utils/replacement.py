# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A deployment's host replaced by a new instance beside it (playbooks/replace.yml), in three steps
the playbook runs around its work on the hosts:
- launch: the new instance, in the host's subnet, groups and role, tagged as the replacement;
- switch: the Elastic IP moved to it, in one AssociateAddress, which makes it the host;
- retire: every other instance of the deployment terminated.
Each step finds what an earlier run cut short left, and goes on from there: the instance holding
the Elastic IP is the host (host.Host.current_of), and a replacement already launched from the
wanted image is used, not launched again."""

from __future__ import annotations

from ansible_collections.convex_selfhost.aws.plugins.module_utils.actions import dict_tags
from ansible_collections.convex_selfhost.aws.plugins.module_utils.host import LIVE_STATES, NEXT_TAG


def summary(instance):
    """What the playbook needs of an instance, or None."""
    if instance is None:
        return None
    return {
        "instance_id": instance["InstanceId"],
        "image_id": instance["ImageId"],
        "instance_type": instance["InstanceType"],
        "architecture": instance.get("Architecture", ""),
        "public_ip": instance.get("PublicIpAddress", ""),
        "private_ip": instance.get("PrivateIpAddress", ""),
        "state": instance["State"]["Name"],
    }


def needed(current, image_id, instance_type):
    """Why the host must be replaced to run image_id as instance_type; "" when it does already."""
    reasons = []
    if current["ImageId"] != image_id:
        reasons.append(f"it runs the image {current['ImageId']}, not {image_id}")
    if current["InstanceType"] != instance_type:
        reasons.append(f"it is a {current['InstanceType']}, not a {instance_type}")
    return "; ".join(reasons)


class Replacement:
    """machine: the deployment's host.Host, with the options a new host gets."""

    def __init__(self, machine):
        self.machine = machine
        self.module = machine.module
        self.params = machine.params

    def host(self):
        current = self.machine.find_instance()
        if current is None:
            self.module.fail_json(msg=f"{self.machine.name} has no host to replace; site.yml makes one")
        return current

    def prepared(self, spare, image_id):
        """A replacement an earlier run launched and left, usable as this run's."""
        return (
            NEXT_TAG in dict_tags(spare.get("Tags"))
            and spare["ImageId"] == image_id
            and spare["InstanceType"] == self.params["instance_type"]
            and spare["State"]["Name"] in ("pending", "running")
        )

    def launch(self, always=False):
        """The new instance beside the host, when the host does not run the wanted image as the
        wanted type (or always). A replacement left by an earlier run is taken when it is what this
        run would launch; one that is not is terminated first."""
        current = self.host()
        image = self.machine.image()
        why = needed(current, image["ImageId"], self.params["instance_type"]) or (
            "a replacement was asked for (replace_always)" if always else ""
        )
        result = {"host": summary(current), "image_id": image["ImageId"], "why": why, "next": None}
        # What an earlier run left beside the host: retired at the end of this one.
        result["spares"] = [s["InstanceId"] for s in self.machine.spares]
        if not why:
            return result
        # The deployment's network, as its host has it (the deployment module keeps it so).
        self.params["subnet_id"] = current["SubnetId"]
        self.params["security_group_ids"] = sorted(g["GroupId"] for g in current.get("SecurityGroups", []))
        taken = next((s for s in self.machine.spares if self.prepared(s, image["ImageId"])), None)
        stale = [
            s["InstanceId"]
            for s in self.machine.spares
            if s is not taken and NEXT_TAG in dict_tags(s.get("Tags")) and s["State"]["Name"] in LIVE_STATES
        ]
        if stale:
            self.terminate(stale, "an earlier replacement that this run would not launch")
        result["next"] = summary(taken or self.machine.launch(replacement=True))
        kept = {*stale, (result["next"] or {}).get("instance_id")}
        result["spares"] = [s for s in result["spares"] if s not in kept]
        return result

    def switch(self, instance_id):
        """The Elastic IP moved to instance_id (AllowReassociation takes it off the old host in the
        same call), then its replacement tag removed: from the move on it is the host."""
        current = self.host()
        instance = next((i for i in (current, *self.machine.spares) if i["InstanceId"] == instance_id), None)
        if instance is None:
            self.module.fail_json(msg=f"{instance_id} is not a live instance of {self.machine.name}; nothing was moved")
        address = self.machine.find_address()
        if address is None:
            self.module.fail_json(msg=f"{self.machine.name} has no Elastic IP to move; site.yml makes one")
        if address.get("InstanceId") != instance_id:
            self.machine.act(
                self.machine.ec2,
                f"move the Elastic IP {address['PublicIp']} to the new host {instance_id}",
                "associate_address",
                AllocationId=address["AllocationId"],
                InstanceId=instance_id,
                AllowReassociation=True,
            )
        if NEXT_TAG in dict_tags(instance.get("Tags")):
            self.machine.act(
                self.machine.ec2,
                f"untag {instance_id}: it is the host now",
                "delete_tags",
                Resources=[instance_id],
                Tags=[{"Key": NEXT_TAG}],
            )
        return {"address": address["PublicIp"], "allocation_id": address["AllocationId"]}

    def retire(self):
        """Every instance of the deployment but the host terminated (their protection lifted: the
        replacement was confirmed)."""
        current = self.machine.find_instance(fresh=True)
        others = [s["InstanceId"] for s in self.machine.spares]
        if others:
            self.terminate(others, "the host it replaced" if current is not None else "an instance")
        return {"host": summary(current), "retired": others}

    def abandon(self, instance_id):
        """The replacement instance_id terminated after a failure: the old host serves on. One that
        holds the Elastic IP already (the switch went through) is the host, and is kept: switched
        says so, with the address to move back."""
        current = self.host()
        address = self.machine.find_address() or {}
        result = {
            "abandoned": [],
            "switched": current["InstanceId"] == instance_id,
            "address": address.get("PublicIp", ""),
            "allocation_id": address.get("AllocationId", ""),
        }
        if any(s["InstanceId"] == instance_id for s in self.machine.spares):
            self.terminate([instance_id], "the replacement that did not take over")
            result["abandoned"] = [instance_id]
        return result

    def terminate(self, ids, what):
        for instance_id in ids:
            if self.machine.termination_protected({"InstanceId": instance_id}):
                self.machine.set_termination_protection(instance_id, False)
        self.machine.act(
            self.machine.ec2, f"terminate {', '.join(ids)}: {what}", "terminate_instances", InstanceIds=ids
        )
        if not self.module.check_mode:
            self.machine.ec2.wait("instance_terminated", InstanceIds=ids)
