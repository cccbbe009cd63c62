# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The EC2 host of a Convex deployment, its least-privilege role and its Elastic IP. Used by the
instance module and by the deployment module."""

from __future__ import annotations

import json
import re
import time
import uuid

from ansible_collections.convex_selfhost.aws.plugins.module_utils import host_policy, host_role, rules
from ansible_collections.convex_selfhost.aws.plugins.module_utils import tags as tag_helpers
from ansible_collections.convex_selfhost.aws.plugins.module_utils.actions import Actions, aws_tags, dict_tags
from ansible_collections.convex_selfhost.aws.plugins.module_utils.host_role import HostRole
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
    "kms_key_arns": {"type": "list", "elements": "str", "default": [], "no_log": False},
    # The log group whose streams the host may write (Docker's awslogs driver); none without it.
    "log_group_arn": {"type": "str"},
    # The CloudWatch namespace the host may put metrics in (the metrics role); none without it.
    "metric_namespace": {"type": "str"},
    # The copy of Caddy's storage the host may read and write (caddy_storage.py); none without it.
    "caddy_storage_arn": {"type": "str"},
    "root_volume_size": {"type": "int", "default": 30},
    "kms_key_id": {"type": "str"},
    "key_name": {"type": "str", "no_log": False},
    "user_data": {"type": "str"},
    "elastic_ip": {"type": "bool", "default": True},
    "termination_protection": {"type": "bool", "default": False},
    "recovery_alarm": {"type": "bool", "default": False},
    **tag_helpers.ARGUMENT_SPEC,
}


# What the host's role may do beyond its buckets and keys, each on one resource (host_policy.py).
GRANTS = ("log_group_arn", "metric_namespace", "caddy_storage_arn")
# One secret, named in full but for the six characters Secrets Manager adds (caddy_storage.py).
_SECRET_ARN = re.compile(r"arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@-]{1,512}-\?{6}")
METADATA_OPTIONS = {"HttpTokens": "required", "HttpPutResponseHopLimit": 2, "HttpEndpoint": "enabled"}
_NAME = re.compile(r"[A-Za-z0-9-]{1,48}")
_BUCKET_ARN = re.compile(r"arn:aws[a-z-]*:s3:::[a-z0-9.\-]{3,63}")
# One group, named in full (CloudWatch Logs group names: letters, digits, _ - / . #).
_LOG_GROUP_ARN = re.compile(r"arn:aws[a-z-]*:logs:[a-z0-9-]+:\d{12}:log-group:[A-Za-z0-9_./#-]{1,512}")
# CloudWatch namespaces: up to 255 of these characters; AWS/ is AWS's own (PutMetricData reference).
_NAMESPACE = re.compile(r"(?!AWS/)[A-Za-z0-9._/#:-]{1,255}")
LIVE_STATES = ["pending", "running", "stopping", "stopped"]
# The instance records that it has a recovery alarm, so a run with the alarm off finds one to
# remove without asking CloudWatch every time.
ALARM_TAG = "convex_selfhost:recovery-alarm"
# The instance records the root volume size the collection last gave it, so a run whose size is
# unchanged asks nothing more, and only a new size reads the volume (DescribeVolumes).
ROOT_SIZE_TAG = "convex_selfhost:root-volume-gb"
# The OS sees a volume's new size once its modification is "optimizing" (Amazon EBS User Guide,
# "Monitor the progress of volume modifications"): the file system can grow from then on.
GROWN_STATES = ("optimizing", "completed")
# A host launched beside the running one by a replacement (replacement.py) carries this tag until
# the Elastic IP has moved to it. Whichever instance holds the Elastic IP is the deployment's host.
NEXT_TAG = "convex_selfhost:replacement"
# The OS the host was launched with, so that a later stage_os is compared with it at no cost
# (stage_info): the image is used only at launch.
OS_TAG = "convex_selfhost:os"
# EC2 may not know a new instance profile for some seconds: "not yet", retried with backoff.
PROFILE_NOT_YET = {"InvalidParameterValue": "iamInstanceProfile"}


def input_problems(params):
    problems = []
    if not _NAME.fullmatch(params["name"]):
        problems.append(f"name '{params['name']}' is not usable: use 1 to 48 letters, digits and hyphens")
    problem = rules.instance_type_problem(params["instance_type"], params["architecture"])
    if problem:
        problems.append(f"instance_type {problem}")
    problems.extend(
        f"kms_key_arns entry {host_policy.kms_key_arn_problem(arn)}"
        for arn in params["kms_key_arns"]
        if host_policy.kms_key_arn_problem(arn)
    )
    problems.extend(
        f"bucket_arns entry '{arn}' is not an S3 bucket ARN such as arn:aws:s3:::convex-dev-files"
        for arn in params["bucket_arns"]
        if not _BUCKET_ARN.fullmatch(arn)
    )
    if params.get("log_group_arn") and not _LOG_GROUP_ARN.fullmatch(params["log_group_arn"]):
        problems.append(
            f"log_group_arn '{params['log_group_arn']}' is not one log group's ARN, such as "
            "arn:aws:logs:us-east-1:123456789012:log-group:/convex/convex-dev (no wildcards)"
        )
    if params.get("metric_namespace") and not _NAMESPACE.fullmatch(params["metric_namespace"]):
        problems.append(
            f"metric_namespace '{params['metric_namespace']}' is not a custom CloudWatch namespace (letters, digits "
            "and . - _ / # :, not starting with AWS/, no wildcards)"
        )
    if params.get("caddy_storage_arn") and not _SECRET_ARN.fullmatch(params["caddy_storage_arn"]):
        problems.append(
            f"caddy_storage_arn '{params['caddy_storage_arn']}' is not one secret's ARN ending in -?????? (such as "
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:convex-dev/caddy-storage-??????)"
        )
    if not 8 <= params["root_volume_size"] <= 16384:
        problems.append(f"root_volume_size {params['root_volume_size']} must be from 8 to 16384 GiB")
    if params["tags"] and rules.tags_problem(params["tags"]):
        problems.append(f"tags {rules.tags_problem(params['tags'])}")
    return problems


class Host:
    """params is the host's options (the module's, or what the deployment module gives)."""

    def __init__(self, module, params, actions=None, seen=None, region=None):
        """seen: what the stage model read of the host earlier in the same run (seen_now()), so
        that a run reads the host once; region: for a module whose own region is not the stage's
        (stage_info)."""
        self.module = module
        self.params = params
        self.name = params["name"]
        self.role_name = host_role.role_name(self.name)
        self.alarm_name = f"{self.name}-recover"
        self.ec2 = module.aws_client("ec2", region=region)
        self.actions = actions or Actions(module, params)
        self.role = HostRole(module, self.actions, self.name, self.wanted_tags())
        self.region = region
        self.found = None  # the instance as last described; None until find_instance asks
        self.spares = []  # the deployment's other live instances (a replacement under way)
        self.owner = None  # the account of the instance's reservation, as last described
        self.termination = {}  # instance id: its termination protection, as read this run
        # Only a host seen is taken: "no host yet" is asked again, so that a later module of the
        # same run never launches a second one on an answer from before the first launch.
        if seen and seen.get("instance"):
            self.found = (seen["instance"],)
            self.spares = list(seen.get("spares") or [])
            self.termination.update(seen.get("termination") or {})

    @property
    def cloudwatch(self):
        """Made when first asked (module.aws_client keeps one per service): the stage model reads
        the host and never its alarm."""
        return self.module.aws_client("cloudwatch", region=self.region)

    def seen_now(self):
        """What this run has read of the host, for a later module of the same run (the stage
        model hands it to the deployment module); JSON-safe."""
        instance = self.found[0] if self.found else None
        seen = {"instance": instance, "spares": self.spares, "termination": self.termination}
        return json.loads(json.dumps(seen, default=str))

    def call(self, client, action, method, missing=(), **kwargs):
        return self.actions.call(client, action, method, missing=missing, **kwargs)

    def act(self, client, description, method, **kwargs):
        return self.actions.act(client, description, method, **kwargs)

    def wanted_tags(self, suffix=None):
        return self.actions.wanted_tags(f"{self.name}-{suffix}" if suffix else self.name)

    # --- EC2 -----------------------------------------------------------------------------
    def find_instance(self, fresh=False):
        """The live instance, described once per run unless fresh is asked."""
        if self.found is not None and not fresh:
            return self.found[0]
        filters = [*tag_helpers.owned_filters(self.name), {"Name": "instance-state-name", "Values": LIVE_STATES}]
        reservations = self.call(self.ec2, "look up the host", "describe_instances", Filters=filters)["Reservations"]
        instances = [i for r in reservations for i in r["Instances"]]
        self.owner = next((r.get("OwnerId") for r in reservations), None)
        current, self.spares = self.current_of(instances)
        self.found = (current,)
        return current

    def current_of(self, instances):
        """The deployment's host among its live instances, and the others. A replacement launches an
        instance beside the host and then moves the Elastic IP to it (one AssociateAddress, so a run
        cut short anywhere leaves one answer): with several, the host is the one holding the Elastic
        IP (read only then), else the one not launched as a replacement."""
        if len(instances) <= 1:
            return (instances[0] if instances else None), []
        holder = (self.find_address() or {}).get("InstanceId")
        current = next((i for i in instances if i["InstanceId"] == holder), None)
        if current is None:
            settled = [i for i in instances if NEXT_TAG not in dict_tags(i.get("Tags"))]
            if len(settled) != 1:
                ids = ", ".join(i["InstanceId"] for i in instances)
                self.module.fail_json(
                    msg=f"several instances are named {self.name} ({ids}) and its Elastic IP is on none of them; "
                    "terminate the extra ones"
                )
            current = settled[0]
        return current, [i for i in instances if i is not current]

    def termination_protected(self, instance):
        """Read once per run: the protection check and the repair ask the same question."""
        if instance["InstanceId"] not in self.termination:
            found = self.call(
                self.ec2,
                "read the host's termination protection",
                "describe_instance_attribute",
                InstanceId=instance["InstanceId"],
                Attribute="disableApiTermination",
            )
            self.termination[instance["InstanceId"]] = found["DisableApiTermination"]["Value"]
        return self.termination[instance["InstanceId"]]

    def set_termination_protection(self, instance_id, value):
        # Set after launch, not with RunInstances: the emulator ignores DisableApiTermination there.
        self.termination[instance_id] = value
        self.act(
            self.ec2,
            f"turn {'on' if value else 'off'} the host's termination protection",
            "modify_instance_attribute",
            InstanceId=instance_id,
            DisableApiTermination={"Value": value},
        )

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

    def launch(self, replacement=False):
        """A new host; with replacement, one beside the running host, tagged as such (NEXT_TAG)
        until the Elastic IP moves to it. Returns the instance as described, None in check mode."""
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
                {
                    "ResourceType": "instance",
                    "Tags": aws_tags({**self.host_tags(), **({NEXT_TAG: "next"} if replacement else {})}),
                },
                {"ResourceType": "volume", "Tags": aws_tags(self.wanted_tags("root"))},
            ],
        }
        if params["key_name"]:
            request["KeyName"] = params["key_name"]
        if params["user_data"]:
            request["UserData"] = params["user_data"]
        # A new token for each launch: a repeat of this request after a lost answer returns the
        # first instance (writes.py), and a later launch (a lost or replaced host) is never
        # answered with an old one.
        request["ClientToken"] = str(uuid.uuid4())
        launched = self.act(
            self.ec2,
            f"start a {params['instance_type']} host from {image['ImageId']} ({image.get('Name', '')})",
            "run_instances",
            retry_codes=PROFILE_NOT_YET,
            **request,
        )
        if launched is None:
            return None
        instance_id = launched["Instances"][0]["InstanceId"]
        self.ec2.wait("instance_running", InstanceIds=[instance_id])
        if params["termination_protection"]:
            self.set_termination_protection(instance_id, True)
        if replacement:
            self.find_instance(fresh=True)
            return next(i for i in self.spares if i["InstanceId"] == instance_id)
        return self.find_instance(fresh=True)

    def resize(self, instance, instance_type):
        """The host as instance_type, the same instance: EC2 changes a type only while the instance
        is stopped ("Change the instance type", EC2 User Guide), so it is stopped, changed and
        started again; its Elastic IP, root volume and id stay. A host left stopped by an earlier
        run cut short is changed if need be and started. Returns whether the host was stopped."""
        instance_id, state = instance["InstanceId"], instance["State"]["Name"]
        if instance["InstanceType"] == instance_type and state == "running":
            return False
        if state in ("pending", "running"):
            self.act(
                self.ec2,
                f"stop the host {instance_id} (a {instance['InstanceType']}): Convex is down until it starts again",
                "stop_instances",
                InstanceIds=[instance_id],
            )
        if not self.module.check_mode:
            self.ec2.wait("instance_stopped", InstanceIds=[instance_id])
        if instance["InstanceType"] != instance_type:
            self.act(
                self.ec2,
                f"change the host {instance_id} from a {instance['InstanceType']} to a {instance_type}",
                "modify_instance_attribute",
                InstanceId=instance_id,
                InstanceType={"Value": instance_type},
            )
        self.act(self.ec2, f"start the host {instance_id} again", "start_instances", InstanceIds=[instance_id])
        if not self.module.check_mode:
            self.ec2.wait("instance_running", InstanceIds=[instance_id])
        return True

    def repair(self, instance):
        params = self.params
        instance_id = instance["InstanceId"]
        if instance["InstanceType"] != params["instance_type"]:
            self.module.fail_json(
                msg=f"the host {instance_id} is a {instance['InstanceType']}, not {params['instance_type']}: "
                "changing the type stops the host, which site.yml and provision.yml do one deployment at a time "
                "before they provision (playbooks/resize.yml); this module does not"
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
        if not instance.get("IamInstanceProfile"):
            self.act(
                self.ec2,
                f"give the host its instance profile {self.role_name}",
                "associate_iam_instance_profile",
                IamInstanceProfile={"Name": self.role_name},
                InstanceId=instance_id,
            )
        root = next(
            (m for m in instance.get("BlockDeviceMappings", []) if m["DeviceName"] == instance.get("RootDeviceName")),
            None,
        )
        if root is not None and not root.get("Ebs", {}).get("DeleteOnTermination", True):
            self.act(
                self.ec2,
                "delete the root volume with the host",
                "modify_instance_attribute",
                InstanceId=instance_id,
                BlockDeviceMappings=[{"DeviceName": root["DeviceName"], "Ebs": {"DeleteOnTermination": True}}],
            )
        self.grow_root_volume(instance, tags=dict_tags(instance.get("Tags")))
        groups = sorted(g["GroupId"] for g in instance.get("SecurityGroups", []))
        if params["security_group_ids"] and groups != sorted(params["security_group_ids"]):
            self.act(
                self.ec2,
                f"set the host's security groups to {', '.join(sorted(params['security_group_ids']))}",
                "modify_instance_attribute",
                InstanceId=instance_id,
                Groups=params["security_group_ids"],
            )
        # Read only where protection matters: a protected stage, or a host that says it was one.
        tags = dict_tags(instance.get("Tags"))
        wanted = params["termination_protection"]
        if (wanted or tag_helpers.PROTECTED_KEY in tags) and self.termination_protected(instance) != wanted:
            self.set_termination_protection(instance_id, wanted)
        self.actions.repair_tags(
            "the host",
            tags,
            self.host_tags(tags),
            add=lambda tags: self.call(
                self.ec2, "tag the host", "create_tags", Resources=[instance_id], Tags=aws_tags(tags)
            ),
            remove=lambda keys: self.call(
                self.ec2, "untag the host", "delete_tags", Resources=[instance_id], Tags=[{"Key": k} for k in keys]
            ),
        )

    def root_volume(self, instance):
        """The id and size of the host's root volume (one DescribeVolumes); None if it has none."""
        root = next(
            (m for m in instance.get("BlockDeviceMappings", []) if m["DeviceName"] == instance.get("RootDeviceName")),
            None,
        )
        volume_id = (root or {}).get("Ebs", {}).get("VolumeId")
        if volume_id is None:
            return None
        described = self.call(self.ec2, "read the root volume", "describe_volumes", VolumeIds=[volume_id])["Volumes"]
        return {"VolumeId": volume_id, "Size": described[0]["Size"]}

    def grow_root_volume(self, instance, tags):
        """The root volume at root_volume_size: EBS grows it online, the host running; the host's
        role grows its partition and file system after. A size the instance's tag already records
        costs no call. A smaller size is refused, as EBS would refuse it."""
        wanted = self.params["root_volume_size"]
        if tags.get(ROOT_SIZE_TAG) == str(wanted):
            return
        volume = self.root_volume(instance)
        if volume is None:
            return
        problem = rules.root_volume_problem(wanted, volume["Size"])
        if problem:
            self.module.fail_json(msg=f"root_volume_size {problem}; nothing was changed")
        if volume["Size"] == wanted:
            return
        self.act(
            self.ec2,
            f"grow the host's root volume {volume['VolumeId']} from {volume['Size']} to {wanted} GiB, online",
            "modify_volume",
            find=lambda: self.went_through(volume["VolumeId"], wanted),
            VolumeId=volume["VolumeId"],
            Size=wanted,
        )
        if not self.module.check_mode:
            self.wait_grown(volume["VolumeId"], wanted)

    def modification(self, volume_id, size):
        """The volume's latest modification when it is one to size, else None
        (DescribeVolumesModifications describes the most recent one)."""
        found = self.call(
            self.ec2, "follow the root volume's modification", "describe_volumes_modifications", VolumeIds=[volume_id]
        )["VolumesModifications"]
        return next((m for m in found if m.get("TargetSize") == size), None)

    def went_through(self, volume_id, size):
        """After a lost ModifyVolume answer: the modification it made, if it went through (a repeat
        is refused while the first runs), else None."""
        found = self.modification(volume_id, size)
        return found if found and found.get("ModificationState") != "failed" else None

    def wait_grown(self, volume_id, size, timeout=600):
        deadline = time.monotonic() + timeout
        while True:
            latest = self.modification(volume_id, size) or {}
            state = latest.get("ModificationState")
            if state in GROWN_STATES:
                return
            if state == "failed" or time.monotonic() > deadline:
                why = latest.get("StatusMessage", "no message")
                self.module.fail_json(msg=f"the root volume {volume_id} did not grow ({state}: {why})")
            time.sleep(5)

    def ensure_address(self, instance):
        address = self.find_address()
        if address is None:
            created = self.act(
                self.ec2,
                "allocate an Elastic IP",
                "allocate_address",
                find=self.find_address,
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
            missing = [o for o in ("subnet_id", "bucket_arns") if not self.params[o]]
            if missing:
                self.module.fail_json(
                    msg=f"{', '.join(missing)} must be set to create the host: pass the network's public subnet "
                    "and the buckets' ARNs; nothing was changed"
                )
        self.role.ensure(
            self.params["bucket_arns"],
            self.params["kms_key_arns"],
            **{grant: self.params.get(grant) for grant in GRANTS},
        )
        if instance is None:
            instance = self.launch()
        else:
            self.repair(instance)
        self.ensure_alarm(instance)
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
        if self.spares:
            result["spare_instance_ids"] = [i["InstanceId"] for i in self.spares]
        return result

    def host_tags(self, current=None):
        """The host's tags record its protection, its alarm and its root volume's size, so a later
        run that turns one off, or asks another size, knows to look, without reading them on every
        run. They record the OS it was launched with, which only a new host changes (current: its
        tags now)."""
        tags = self.wanted_tags()
        tags[OS_TAG] = (current or {}).get(OS_TAG) or self.params["os"]
        tags[ROOT_SIZE_TAG] = str(self.params["root_volume_size"])
        if self.params["termination_protection"]:
            tags[tag_helpers.PROTECTED_KEY] = "true"
        if self.params["recovery_alarm"]:
            tags[ALARM_TAG] = self.alarm_name
        return tags

    # --- the recovery alarm ----------------------------------------------------------------
    def wanted_alarm(self, instance_id):
        # EC2's recover action when the system status check (AWS's side of the host) fails twice.
        return {
            "AlarmName": self.alarm_name,
            "AlarmDescription": f"Recover {self.name} onto healthy hardware when AWS's system check fails",
            "Namespace": "AWS/EC2",
            "MetricName": "StatusCheckFailed_System",
            "Dimensions": [{"Name": "InstanceId", "Value": instance_id}],
            "Statistic": "Maximum",
            "Period": 60,
            "EvaluationPeriods": 2,
            "Threshold": 0.0,
            "ComparisonOperator": "GreaterThanThreshold",
            "AlarmActions": [f"arn:{self.module.partition}:automate:{self.module.region}:ec2:recover"],
        }

    def ensure_alarm(self, instance):
        had = ALARM_TAG in dict_tags((instance or {}).get("Tags"))
        if not self.params["recovery_alarm"]:
            if had:
                self.remove_alarm()
            return
        wanted = self.wanted_alarm(instance["InstanceId"] if instance else "i-new")
        found = self.call(
            self.cloudwatch, "look up the recovery alarm", "describe_alarms", AlarmNames=[self.alarm_name]
        )
        current = next(iter(found["MetricAlarms"]), None)
        if current is None or any(current.get(k) != v for k, v in wanted.items()):
            self.act(
                self.cloudwatch,
                f"set the alarm {self.alarm_name} that recovers the host",
                "put_metric_alarm",
                Tags=aws_tags(self.wanted_tags()),
                **wanted,
            )

    def remove_alarm(self):
        found = self.call(
            self.cloudwatch, "look up the recovery alarm", "describe_alarms", AlarmNames=[self.alarm_name]
        )
        if found["MetricAlarms"]:
            self.act(
                self.cloudwatch, f"delete the alarm {self.alarm_name}", "delete_alarms", AlarmNames=[self.alarm_name]
            )

    # --- absent --------------------------------------------------------------------------
    def remove(self, lifted=False):
        """lifted: the caller has turned termination protection off in this run (or would have,
        in check mode)."""
        instance = self.find_instance()
        # A replacement cut short may have left a second instance: it goes too.
        instances = [instance, *self.spares] if instance is not None else []
        for each in instances:
            if not lifted and self.termination_protected(each):
                self.module.fail_json(
                    msg=f"the host {each['InstanceId']} has termination protection on; nothing was removed. Set "
                    "termination_protection: false with state: present first if it really must go"
                )
        if instances:
            ids = [i["InstanceId"] for i in instances]
            self.act(self.ec2, f"terminate {', '.join(ids)}", "terminate_instances", InstanceIds=ids)
            if not self.module.check_mode:
                self.ec2.wait("instance_terminated", InstanceIds=ids)
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
        self.role.remove()
        self.remove_alarm()
        return {"role_name": self.role_name}
