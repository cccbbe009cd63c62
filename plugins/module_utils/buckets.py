# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The five private, encrypted S3 buckets a Convex backend stores into. Used by the buckets module
and by the deployment module."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor

from ansible_collections.convex_selfhost.aws.plugins.module_utils import rules
from ansible_collections.convex_selfhost.aws.plugins.module_utils import tags as tag_helpers
from ansible_collections.convex_selfhost.aws.plugins.module_utils.actions import Actions, aws_tags, dict_tags
from ansible_collections.convex_selfhost.aws.plugins.module_utils.stage import BUCKET_PURPOSES, bucket_names

ARGUMENT_SPEC = {
    "prefix": {"type": "str", "required": True},
    "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
    "kms_key_id": {"type": "str"},
    "versioning": {"type": "bool", "default": False},
    "export_retention_days": {"type": "int", "default": 14},
    "force": {"type": "bool", "default": False},
    **tag_helpers.ARGUMENT_SPEC,
}
# What a bucket holds that the module compares: each read, the setting it gives.
READS = {
    "encryption": ("get_bucket_encryption", "encryption"),
    "block": ("get_public_access_block", "public access block"),
    "ownership": ("get_bucket_ownership_controls", "ownership controls"),
    "versioning": ("get_bucket_versioning", "versioning"),
    "tagging": ("get_bucket_tagging", "tags"),
    "lifecycle": ("get_bucket_lifecycle_configuration", "lifecycle rules"),
}

LIFECYCLE_RULE_ID = "convex-expire-old-exports"
_LONGEST_SUFFIX = max(len(suffix) for suffix, variable in BUCKET_PURPOSES.values()) + 1
_PREFIX = re.compile(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?")
_BLOCK_ALL = {
    "BlockPublicAcls": True,
    "IgnorePublicAcls": True,
    "BlockPublicPolicy": True,
    "RestrictPublicBuckets": True,
}
# What a bucket that was just created has, as far as this module compares.
_NEW_BUCKET = {"versioning": "Off", "export_retention_days": 0, "tags": {}}
# Codes S3 answers when a bucket simply has no such setting yet.
_NOT_SET = {
    "NoSuchTagSet",
    "NoSuchLifecycleConfiguration",
    "NoSuchPublicAccessBlockConfiguration",
    "OwnershipControlsNotFoundError",
    "ServerSideEncryptionConfigurationNotFoundError",
}


def input_problems(params):
    problems = []
    prefix = params["prefix"]
    longest = 63 - _LONGEST_SUFFIX
    if not 3 <= len(prefix) <= longest or not _PREFIX.fullmatch(prefix) or "--" in prefix or prefix.startswith("xn-"):
        problems.append(
            f"prefix '{prefix}' cannot start S3 bucket names: use 3 to {longest} lower-case letters, digits "
            "and single hyphens, starting and ending with a letter or digit, such as convex-dev-123456789012"
        )
    if params["export_retention_days"] < 0:
        problems.append(f"export_retention_days {params['export_retention_days']} is negative: use 0 to keep exports")
    if params["tags"] and rules.tags_problem(params["tags"]):
        problems.append(f"tags {rules.tags_problem(params['tags'])}")
    return problems


def desired_settings(params, purpose, actions):
    if params["kms_key_id"]:
        encryption = {"algorithm": "aws:kms", "kms_key_id": params["kms_key_id"]}
    else:
        encryption = {"algorithm": "AES256", "kms_key_id": None}
    settings = {
        "encryption": encryption,
        "public_access_block": dict(_BLOCK_ALL),
        "ownership": "BucketOwnerEnforced",
        "versioning": "Enabled" if params["versioning"] else "Off",
        "tags": actions.wanted_tags(),
    }
    if purpose == "exports":
        settings["export_retention_days"] = params["export_retention_days"]
    return settings


class Buckets:
    """Reads each bucket's settings in their normalised form, and writes what differs. params is
    the buckets' options (the module's, or what the deployment module gives)."""

    def __init__(self, module, params, actions=None):
        self.module = module
        self.params = params
        self.names = bucket_names(params["prefix"])
        self.s3 = module.aws_client("s3")
        self.actions = actions or Actions(module, params)

    def call(self, action, method, **kwargs):
        return self.actions.call(self.s3, action, method, missing=_NOT_SET, **kwargs)

    def act(self, description, method, **kwargs):
        return self.actions.act(self.s3, description, method, missing=_NOT_SET, **kwargs)

    def existing(self):
        listed = self.call("list the account's buckets", "list_buckets")
        return {bucket["Name"] for bucket in listed.get("Buckets", [])}

    def read_all(self, names):
        """Every bucket's settings, by name. The reads are independent of each other (about thirty
        for five buckets), so they all run at once."""
        wanted = [(name, key) for name, purpose in names for key in READS if key != "lifecycle" or purpose == "exports"]
        with ThreadPoolExecutor(max_workers=16) as pool:
            futures = {
                (name, key): pool.submit(self.call, f"read the {READS[key][1]} of {name}", READS[key][0], Bucket=name)
                for name, key in wanted
            }
            found = {pair: future.result() or {} for pair, future in futures.items()}
        return {
            name: self.settings({key: found.get((name, key), {}) for key in READS}, purpose) for name, purpose in names
        }

    @staticmethod
    def settings(found, purpose):
        rules_found = found["encryption"].get("ServerSideEncryptionConfiguration", {}).get("Rules", [{}])
        default = rules_found[0].get("ApplyServerSideEncryptionByDefault", {})
        settings = {
            "encryption": {"algorithm": default.get("SSEAlgorithm"), "kms_key_id": default.get("KMSMasterKeyID")},
            "public_access_block": found["block"].get("PublicAccessBlockConfiguration", {}),
            "ownership": found["ownership"].get("OwnershipControls", {}).get("Rules", [{}])[0].get("ObjectOwnership"),
            "versioning": found["versioning"].get("Status", "Off"),
            "tags": dict_tags(found["tagging"].get("TagSet")),
        }
        if purpose == "exports":
            rules_set = found["lifecycle"].get("Rules", [])
            days = [r.get("Expiration", {}).get("Days", 0) for r in rules_set if r.get("ID") == LIFECYCLE_RULE_ID]
            enabled = [r for r in rules_set if r.get("ID") == LIFECYCLE_RULE_ID and r.get("Status") == "Enabled"]
            settings["export_retention_days"] = days[0] if days and enabled else 0
        return settings

    def create(self, name, region):
        request = {"Bucket": name}
        if region != "us-east-1":
            request["CreateBucketConfiguration"] = {"LocationConstraint": region}
        created = self.actions.call(
            self.s3, f"create the bucket {name}", "create_bucket", missing={"BucketAlreadyExists"}, **request
        )
        if created is None:
            self.module.fail_json(
                msg=f"bucket {name} belongs to another AWS account: choose another prefix "
                "(bucket names are global; include your account id)"
            )

    def write(self, name, key, value):
        if key == "encryption":
            default = {"SSEAlgorithm": value["algorithm"]}
            if value["kms_key_id"]:
                default["KMSMasterKeyID"] = value["kms_key_id"]
            rule = {"ApplyServerSideEncryptionByDefault": default, "BucketKeyEnabled": bool(value["kms_key_id"])}
            self.act(
                f"set the encryption of {name}",
                "put_bucket_encryption",
                Bucket=name,
                ServerSideEncryptionConfiguration={"Rules": [rule]},
            )
        elif key == "public_access_block":
            self.act(
                f"block public access to {name}",
                "put_public_access_block",
                Bucket=name,
                PublicAccessBlockConfiguration=value,
            )
        elif key == "ownership":
            self.act(
                f"set the ownership controls of {name}",
                "put_bucket_ownership_controls",
                Bucket=name,
                OwnershipControls={"Rules": [{"ObjectOwnership": value}]},
            )
        elif key == "versioning":
            status = "Enabled" if value == "Enabled" else "Suspended"
            self.act(
                f"set the versioning of {name} to {status}",
                "put_bucket_versioning",
                Bucket=name,
                VersioningConfiguration={"Status": status},
            )
        elif key == "tags":
            self.act(f"tag {name}", "put_bucket_tagging", Bucket=name, Tagging={"TagSet": aws_tags(value)})
        elif key == "export_retention_days" and not value:
            self.act(f"remove the lifecycle rules of {name}", "delete_bucket_lifecycle", Bucket=name)
        elif key == "export_retention_days":
            rule = {
                "ID": LIFECYCLE_RULE_ID,
                "Status": "Enabled",
                "Filter": {"Prefix": ""},
                "Expiration": {"Days": value},
                "NoncurrentVersionExpiration": {"NoncurrentDays": value},
            }
            self.act(
                f"expire the exports of {name} after {value} days",
                "put_bucket_lifecycle_configuration",
                Bucket=name,
                LifecycleConfiguration={"Rules": [rule]},
            )

    def is_empty(self, name):
        listed = self.call(f"list the objects of {name}", "list_object_versions", Bucket=name, MaxKeys=1) or {}
        return not listed.get("Versions") and not listed.get("DeleteMarkers")

    def empty_and_delete(self, name):
        while not self.module.check_mode:
            listed = self.call(f"list the objects of {name}", "list_object_versions", Bucket=name) or {}
            entries = listed.get("Versions", []) + listed.get("DeleteMarkers", [])
            if not entries:
                break
            objects = [{"Key": e["Key"], "VersionId": e["VersionId"]} for e in entries[:1000]]
            self.act(f"delete the objects of {name}", "delete_objects", Bucket=name, Delete={"Objects": objects})
        self.act(f"delete the bucket {name}", "delete_bucket", Bucket=name)

    def ensure(self):
        existing = self.existing()
        purge = self.params["purge_tags"] and self.params["tags"] is not None
        present = self.read_all([(name, purpose) for purpose, name in self.names.items() if name in existing])
        for purpose, name in self.names.items():
            desired = desired_settings(self.params, purpose, self.actions)
            if name in present:
                changes = settings_to_apply(present[name], desired, purge)
            else:
                # Encryption, public access and ownership are written even though new buckets have
                # them by default today: the module does not rely on a default AWS may change.
                self.actions.changes.append(f"create the bucket {name}")
                if not self.module.check_mode:
                    self.create(name, self.module.region)
                changes = settings_to_apply(_NEW_BUCKET, desired, purge_tags=True)
            for key, value in changes.items():
                self.write(name, key, value)
        return self.result()

    def remove(self):
        existing = self.existing()
        present = [name for name in self.names.values() if name in existing]
        if not self.params["force"]:
            full = [name for name in present if not self.is_empty(name)]
            if full:
                self.module.fail_json(
                    msg=f"buckets {', '.join(full)} still hold objects; nothing was deleted. Set force: true to "
                    "delete them with their contents, or empty them first"
                )
        for name in present:
            self.empty_and_delete(name)
        return self.result()

    def result(self):
        return {
            "buckets": self.names,
            "arns": [f"arn:{self.module.partition}:s3:::{name}" for name in self.names.values()],
            "env": {BUCKET_PURPOSES[purpose][1]: name for purpose, name in self.names.items()},
        }


def settings_to_apply(current, desired, purge_tags):
    """The settings that differ, with the value to write (tags merged when not purging)."""
    changes = {}
    for key, wanted in desired.items():
        have = current.get(key)
        if key == "tags":
            kept = {} if purge_tags else {k: v for k, v in have.items() if k not in wanted}
            if {**kept, **wanted} != have:
                changes[key] = {**kept, **wanted}
        elif key == "versioning" and wanted == "Off":
            if have == "Enabled":
                changes[key] = "Suspended"
        elif have != wanted:
            changes[key] = wanted
    return changes
