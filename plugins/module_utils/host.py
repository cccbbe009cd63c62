# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The EC2 host of a Convex deployment, its least-privilege role and its Elastic IP. Used by the
instance module and by the deployment module."""

from __future__ import annotations

import json
import re

from ansible_collections.amazon.aws.plugins.module_utils.policy import compare_policies

from ansible_collections.convex_selfhost.aws.plugins.module_utils import host_policy, rules
from ansible_collections.convex_selfhost.aws.plugins.module_utils import tags as tag_helpers
from ansible_collections.convex_selfhost.aws.plugins.module_utils.actions import Actions, aws_tags, dict_tags
from ansible_collections.convex_selfhost.aws.plugins.module_utils.images import find_image

ARGUMENT_SPEC = {
    "name": {"type": "str", "required": True},
    "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
    "os": {"type": "str", "choices": ["debian13", "ubuntu2404"], "default": "debian13"},
    "architecture": {"type": "str", "choices": ["arm64", "x86_64"], "default": "arm64"},
    "instance_type": {"type": "str", "default": "t4g.small"},
    "image_id": {"type": "str"},
    "subnet_id": {"type": "str"},
    "security_group_ids": {"type": "list", "elements": "str", "default": []},
    "bucket_arns": {"type": "list", "elements": "str", "default": []},
    "parameter_path": {"type": "str"},
    "kms_key_arns": {"type": "list", "elements": "str", "default": [], "no_log": False},
    "root_volume_size": {"type": "int", "default": 30},
    "kms_key_id": {"type": "str"},
    "key_name": {"type": "str", "no_log": False},
    "user_data": {"type": "str"},
    "elastic_ip": {"type": "bool", "default": True},
    **tag_helpers.ARGUMENT_SPEC,
}


METADATA_OPTIONS = {"HttpTokens": "required", "HttpPutResponseHopLimit": 2, "HttpEndpoint": "enabled"}
POLICY_NAME = "convex-storage-and-parameters"
_NAME = re.compile(r"[A-Za-z0-9-]{1,48}")
_BUCKET_ARN = re.compile(r"arn:aws[a-z-]*:s3:::[a-z0-9.\-]{3,63}")
LIVE_STATES = ["pending", "running", "stopping", "stopped"]
MISSING = ("NoSuchEntity",)
# EC2 may not know a new instance profile for some seconds: "not yet", retried with backoff.
PROFILE_NOT_YET = {"InvalidParameterValue": "iamInstanceProfile"}


def input_problems(params):
    problems = []
    if not _NAME.fullmatch(params["name"]):
        problems.append(f"name '{params['name']}' is not usable: use 1 to 48 letters, digits and hyphens")
    problem = rules.instance_type_problem(params["instance_type"], params["architecture"])
    if problem:
        problems.append(f"instance_type {problem}")
    if params["parameter_path"] is not None and rules.parameter_path_problem(params["parameter_path"]):
        problems.append(f"parameter_path {rules.parameter_path_problem(params['parameter_path'])}")
    problems.extend(
        f"bucket_arns entry '{arn}' is not an S3 bucket ARN such as arn:aws:s3:::convex-dev-files"
        for arn in params["bucket_arns"]
        if not _BUCKET_ARN.fullmatch(arn)
    )
    if not 8 <= params["root_volume_size"] <= 16384:
        problems.append(f"root_volume_size {params['root_volume_size']} must be from 8 to 16384 GiB")
    if params["tags"] and rules.tags_problem(params["tags"]):
        problems.append(f"tags {rules.tags_problem(params['tags'])}")
    return problems


class Host:
    """params is the host's options (the module's, or what the deployment module gives)."""

    def __init__(self, module, params, actions=None):
        self.module = module
        self.params = params
        self.name = params["name"]
        self.role_name = f"{self.name}-host"
        self.ec2 = module.aws_client("ec2")
        self.iam = module.aws_client("iam")
        self.actions = actions or Actions(module, params)

    def call(self, client, action, method, missing=(), **kwargs):
        return self.actions.call(client, action, method, missing=missing, **kwargs)

    def act(self, client, description, method, **kwargs):
        return self.actions.act(client, description, method, **kwargs)

    def wanted_tags(self, suffix=None):
        return self.actions.wanted_tags(f"{self.name}-{suffix}" if suffix else self.name)

    # --- IAM -----------------------------------------------------------------------------
    def ensure_role(self):
        role = self.call(self.iam, "look up the host role", "get_role", missing=MISSING, RoleName=self.role_name)
        current_policy = None
        if role is None:
            created = self.act(
                self.iam,
                f"create the IAM role {self.role_name}",
                "create_role",
                RoleName=self.role_name,
                AssumeRolePolicyDocument=json.dumps(host_policy.TRUST_EC2),
                Description=f"Convex host {self.name}: its buckets and its stage's parameters only",
                Tags=aws_tags(self.wanted_tags()),
            )
            arn = created["Role"]["Arn"] if created else None
        else:
            arn = role["Role"]["Arn"]
            found = self.call(
                self.iam,
                "read the host role's policy",
                "get_role_policy",
                missing=MISSING,
                RoleName=self.role_name,
                PolicyName=POLICY_NAME,
            )
            current_policy = found["PolicyDocument"] if found else None

        # In check mode a new role has no ARN yet; only the policy's shape matters then.
        partition, account_id = (arn.split(":")[1], arn.split(":")[4]) if arn else ("aws", "123456789012")
        if self.params["bucket_arns"] or self.params["parameter_path"]:
            parameters = host_policy.parameter_arns(
                partition, self.module.region, account_id, self.params["parameter_path"] or f"/convex/{self.name}"
            )
            wanted = host_policy.host_policy(self.params["bucket_arns"], parameters, self.params["kms_key_arns"])
            if current_policy is None or compare_policies(current_policy, wanted):
                self.act(
                    self.iam,
                    f"set the policy {POLICY_NAME} of {self.role_name}",
                    "put_role_policy",
                    RoleName=self.role_name,
                    PolicyName=POLICY_NAME,
                    PolicyDocument=json.dumps(wanted),
                )

        profile = self.call(
            self.iam,
            "look up the instance profile",
            "get_instance_profile",
            missing=MISSING,
            InstanceProfileName=self.role_name,
        )
        if profile is None:
            self.act(
                self.iam,
                f"create the instance profile {self.role_name}",
                "create_instance_profile",
                InstanceProfileName=self.role_name,
                Tags=aws_tags(self.wanted_tags()),
            )
        if self.role_name not in [r["RoleName"] for r in (profile or {}).get("InstanceProfile", {}).get("Roles", [])]:
            self.act(
                self.iam,
                f"put {self.role_name} into its instance profile",
                "add_role_to_instance_profile",
                InstanceProfileName=self.role_name,
                RoleName=self.role_name,
            )

    # --- EC2 -----------------------------------------------------------------------------
    def find_instance(self):
        filters = [*tag_helpers.owned_filters(self.name), {"Name": "instance-state-name", "Values": LIVE_STATES}]
        reservations = self.call(self.ec2, "look up the host", "describe_instances", Filters=filters)["Reservations"]
        instances = [i for r in reservations for i in r["Instances"]]
        if len(instances) > 1:
            ids = ", ".join(i["InstanceId"] for i in instances)
            self.module.fail_json(msg=f"several instances are named {self.name} ({ids}); terminate the extra ones")
        return instances[0] if instances else None

    def find_address(self):
        filters = tag_helpers.owned_filters(f"{self.name}-ip")
        listed = self.call(self.ec2, "look up the Elastic IP", "describe_addresses", Filters=filters)["Addresses"]
        return listed[0] if listed else None

    def image(self):
        def describe(**kwargs):
            return self.call(self.ec2, "look up the image", "describe_images", **kwargs)

        if self.params["image_id"]:
            image = next(iter(describe(ImageIds=[self.params["image_id"]])["Images"]), None)
        else:
            image = find_image(describe, self.params["os"], self.params["architecture"])
        if image is None:
            self.module.fail_json(
                msg=f"no {self.params['os']} {self.params['architecture']} image was found in {self.module.region}; "
                "set image_id to an image you trust"
            )
        return image

    def launch(self):
        params = self.params
        image = self.image()
        volume = {"VolumeSize": params["root_volume_size"], "VolumeType": "gp3", "Encrypted": True}
        volume["DeleteOnTermination"] = True
        if params["kms_key_id"]:
            volume["KmsKeyId"] = params["kms_key_id"]
        request = {
            "ImageId": image["ImageId"],
            "InstanceType": params["instance_type"],
            "MinCount": 1,
            "MaxCount": 1,
            "SubnetId": params["subnet_id"],
            "SecurityGroupIds": params["security_group_ids"],
            "IamInstanceProfile": {"Name": self.role_name},
            "MetadataOptions": METADATA_OPTIONS,
            "BlockDeviceMappings": [{"DeviceName": image.get("RootDeviceName", "/dev/xvda"), "Ebs": volume}],
            "TagSpecifications": [
                {"ResourceType": "instance", "Tags": aws_tags(self.wanted_tags())},
                {"ResourceType": "volume", "Tags": aws_tags(self.wanted_tags("root"))},
            ],
        }
        if params["key_name"]:
            request["KeyName"] = params["key_name"]
        if params["user_data"]:
            request["UserData"] = params["user_data"]
        launched = self.act(
            self.ec2,
            f"start a {params['instance_type']} host from {image['ImageId']} ({image.get('Name', '')})",
            "run_instances",
            retry_codes=PROFILE_NOT_YET,
            **request,
        )
        if launched is None:
            return None
        self.ec2.wait("instance_running", InstanceIds=[launched["Instances"][0]["InstanceId"]])
        return self.find_instance()

    def repair(self, instance):
        params = self.params
        instance_id = instance["InstanceId"]
        if instance["InstanceType"] != params["instance_type"]:
            self.module.fail_json(
                msg=f"the host {instance_id} is a {instance['InstanceType']}, not {params['instance_type']}: "
                "changing the type needs a stop; set instance_type back, or stop, resize and start it yourself"
            )
        options = instance.get("MetadataOptions", {})
        if any(options.get(key) != value for key, value in METADATA_OPTIONS.items()):
            self.act(
                self.ec2,
                "require IMDSv2 with hop limit 2",
                "modify_instance_metadata_options",
                InstanceId=instance_id,
                **METADATA_OPTIONS,
            )
        groups = sorted(g["GroupId"] for g in instance.get("SecurityGroups", []))
        if params["security_group_ids"] and groups != sorted(params["security_group_ids"]):
            self.act(
                self.ec2,
                f"set the host's security groups to {', '.join(sorted(params['security_group_ids']))}",
                "modify_instance_attribute",
                InstanceId=instance_id,
                Groups=params["security_group_ids"],
            )
        self.actions.repair_tags(
            "the host",
            dict_tags(instance.get("Tags")),
            self.wanted_tags(),
            add=lambda tags: self.call(
                self.ec2, "tag the host", "create_tags", Resources=[instance_id], Tags=aws_tags(tags)
            ),
            remove=lambda keys: self.call(
                self.ec2, "untag the host", "delete_tags", Resources=[instance_id], Tags=[{"Key": k} for k in keys]
            ),
        )

    def ensure_address(self, instance):
        address = self.find_address()
        if address is None:
            created = self.act(
                self.ec2,
                "allocate an Elastic IP",
                "allocate_address",
                Domain="vpc",
                TagSpecifications=[{"ResourceType": "elastic-ip", "Tags": aws_tags(self.wanted_tags("ip"))}],
            )
            address = {"AllocationId": created["AllocationId"], "PublicIp": created["PublicIp"]} if created else None
        if address is not None and instance is not None and address.get("InstanceId") != instance["InstanceId"]:
            self.act(
                self.ec2,
                f"attach the Elastic IP {address['PublicIp']} to the host",
                "associate_address",
                AllocationId=address["AllocationId"],
                InstanceId=instance["InstanceId"],
            )
        return address

    def ensure(self):
        instance = self.find_instance()
        if instance is None:
            # Checked before the role is made, so a refused run leaves nothing behind.
            missing = [o for o in ("subnet_id", "bucket_arns", "parameter_path") if not self.params[o]]
            if missing:
                self.module.fail_json(
                    msg=f"{', '.join(missing)} must be set to create the host: pass the network's public subnet, "
                    "the buckets' ARNs and the stage's SSM path; nothing was changed"
                )
        self.ensure_role()
        if instance is None:
            instance = self.launch()
        else:
            self.repair(instance)
        address = self.ensure_address(instance) if self.params["elastic_ip"] else None
        result = {"role_name": self.role_name}
        if instance is not None:
            result.update(
                instance_id=instance["InstanceId"],
                private_ip=instance.get("PrivateIpAddress"),
                image_id=instance["ImageId"],
                state=instance["State"]["Name"],
                public_ip=(address or {}).get("PublicIp") or instance.get("PublicIpAddress"),
            )
        if address:
            result["allocation_id"] = address["AllocationId"]
        return result

    # --- absent --------------------------------------------------------------------------
    def remove(self):
        instance = self.find_instance()
        if instance is not None:
            instance_id = instance["InstanceId"]
            self.act(self.ec2, f"terminate {instance_id}", "terminate_instances", InstanceIds=[instance_id])
            if not self.module.check_mode:
                self.ec2.wait("instance_terminated", InstanceIds=[instance_id])
        address = self.find_address()
        if address is not None:
            if address.get("AssociationId"):
                self.act(
                    self.ec2, "detach the Elastic IP", "disassociate_address", AssociationId=address["AssociationId"]
                )
            self.act(
                self.ec2,
                f"release the Elastic IP {address['PublicIp']}",
                "release_address",
                AllocationId=address["AllocationId"],
            )
        profile = self.call(
            self.iam,
            "look up the instance profile",
            "get_instance_profile",
            missing=MISSING,
            InstanceProfileName=self.role_name,
        )
        if profile is not None:
            for role in profile["InstanceProfile"].get("Roles", []):
                self.act(
                    self.iam,
                    f"take {role['RoleName']} out of the instance profile",
                    "remove_role_from_instance_profile",
                    InstanceProfileName=self.role_name,
                    RoleName=role["RoleName"],
                )
            self.act(
                self.iam, "delete the instance profile", "delete_instance_profile", InstanceProfileName=self.role_name
            )
        if self.call(self.iam, "look up the host role", "get_role", missing=MISSING, RoleName=self.role_name):
            listed = self.call(self.iam, "list the role's policies", "list_role_policies", RoleName=self.role_name)
            for policy in listed["PolicyNames"]:
                self.act(
                    self.iam,
                    f"delete the policy {policy}",
                    "delete_role_policy",
                    RoleName=self.role_name,
                    PolicyName=policy,
                )
            self.act(self.iam, f"delete the IAM role {self.role_name}", "delete_role", RoleName=self.role_name)
        return {"role_name": self.role_name}
