# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The five private, encrypted S3 buckets a Convex backend stores into. Used by the buckets module
and by the deployment module."""

from __future__ import annotations

import json
import re

from ansible_collections.amazon.aws.plugins.module_utils.policy import compare_policies

from ansible_collections.convex_selfhost.aws.plugins.module_utils import parallel, rules
from ansible_collections.convex_selfhost.aws.plugins.module_utils import tags as tag_helpers
from ansible_collections.convex_selfhost.aws.plugins.module_utils.actions import Actions, aws_tags, dict_tags
from ansible_collections.convex_selfhost.aws.plugins.module_utils.stage import BUCKET_PURPOSES, bucket_names

ARGUMENT_SPEC = {
    "prefix": {"type": "str", "required": True},
    "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
    "kms_key_id": {"type": "str"},
    "versioning": {"type": "bool", "default": False},
    "export_retention_days": {"type": "int", "default": 14},
    "noncurrent_version_days": {"type": "int", "default": 30},
    "tls_only": {"type": "bool", "default": True},
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
    "policy": ("get_bucket_policy", "policy"),
}

LIFECYCLE_RULE_ID = "convex-expiry"
# The rule earlier versions wrote on the exports bucket: read as this module's own, and replaced.
LIFECYCLE_RULE_IDS = (LIFECYCLE_RULE_ID, "convex-expire-old-exports")
TLS_ONLY_SID = "convex-deny-insecure-transport"
_LONGEST_SUFFIX = max(len(suffix) for suffix, variable in BUCKET_PURPOSES.values()) + 1
_PREFIX = re.compile(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?")
_BLOCK_ALL = {
    "BlockPublicAcls": True,
    "IgnorePublicAcls": True,
    "BlockPublicPolicy": True,
    "RestrictPublicBuckets": True,
}
# What a bucket that was just created has, as far as this module compares.
_NEW_BUCKET = {"versioning": "Off", "lifecycle": None, "tls_only": False, "tags": {}}
# Codes S3 answers when a bucket simply has no such setting yet, or no bucket is there.
_NOT_SET = {
    "NoSuchBucket",
    "NoSuchBucketPolicy",
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
    if params["noncurrent_version_days"] < 1:
        problems.append(f"noncurrent_version_days {params['noncurrent_version_days']} must be 1 or more")
    if params["tags"] and rules.tags_problem(params["tags"]):
        problems.append(f"tags {rules.tags_problem(params['tags'])}")
    return problems


def lifecycle_of(params, purpose):
    """The one expiry rule a bucket gets, as (days to keep objects, days to keep noncurrent
    versions); None when it gets none. Exports expire after the retention; wherever versioning
    is on, replaced and deleted versions expire too, instead of being kept forever."""
    expire = params["export_retention_days"] if purpose == "exports" else 0
    noncurrent = params["noncurrent_version_days"] if params["versioning"] else 0
    return (expire, noncurrent) if expire or noncurrent else None


def tls_only_statement(arn):
    return {
        "Sid": TLS_ONLY_SID,
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [arn, f"{arn}/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }


def desired_settings(params, purpose, actions):
    if params["kms_key_id"]:
        encryption = {"algorithm": "aws:kms", "kms_key_id": params["kms_key_id"]}
    else:
        encryption = {"algorithm": "AES256", "kms_key_id": None}
    return {
        "encryption": encryption,
        "public_access_block": dict(_BLOCK_ALL),
        "ownership": "BucketOwnerEnforced",
        "versioning": "Enabled" if params["versioning"] else "Off",
        "tags": actions.wanted_tags(),
        "lifecycle": lifecycle_of(params, purpose),
        "tls_only": params["tls_only"],
    }


def read_lifecycle(found):
    own = [r for r in found.get("Rules", []) if r.get("ID") in LIFECYCLE_RULE_IDS and r.get("Status") == "Enabled"]
    if len(own) != 1 or own[0]["ID"] != LIFECYCLE_RULE_ID:
        return "other" if own else None
    expire = own[0].get("Expiration", {}).get("Days", 0)
    return (expire, own[0].get("NoncurrentVersionExpiration", {}).get("NoncurrentDays", 0))


def policy_statements(found):
    """The statements of a bucket's policy, as a list (none without a policy)."""
    text = found.get("Policy") if found else None
    return json.loads(text).get("Statement", []) if text else []


class Buckets:
    """Reads each bucket's settings in their normalised form, and writes what differs. params is
    the buckets' options (the module's, or what the deployment module gives)."""

    def __init__(self, module, params, actions=None):
        self.module = module
        self.params = params
        self.names = bucket_names(params["prefix"])
        self.s3 = module.aws_client("s3")
        self.actions = actions or Actions(module, params)
        self.current_statements = {}

    def call(self, action, method, **kwargs):
        return self.actions.call(self.s3, action, method, missing=_NOT_SET, **kwargs)

    def act(self, description, method, **kwargs):
        return self.actions.act(self.s3, description, method, missing=_NOT_SET, **kwargs)

    def existing(self):
        listed = self.call("list the account's buckets", "list_buckets")
        return {bucket["Name"] for bucket in listed.get("Buckets", [])}

    def read_all(self):
        """Every bucket's settings, by name; None for a bucket that does not exist. The reads are
        independent of each other (about thirty for five buckets), so they all run at once, and
        they tell which buckets exist (S3 answers NoSuchBucket) without listing the account's."""
        wanted = [
            (name, key)
            for purpose, name in self.names.items()
            for key in READS
            if key != "lifecycle" or purpose == "exports" or self.params["versioning"]
        ]

        def read(name, key):
            return lambda: self.actions.call(
                self.s3, f"read the {READS[key][1]} of {name}", READS[key][0], missing=_NOT_SET, Bucket=name
            )

        answers = parallel.run_all(self.module, [read(name, key) for name, key in wanted], max_workers=16)
        found = dict(zip(wanted, answers))
        # Versioning is never "not set": only a missing bucket gives no answer.
        return {
            name: self.settings({key: found.get((name, key)) or {} for key in READS}, name)
            if found[(name, "versioning")] is not None
            else None
            for name in self.names.values()
        }

    def settings(self, found, name):
        rules_found = found["encryption"].get("ServerSideEncryptionConfiguration", {}).get("Rules", [{}])
        default = rules_found[0].get("ApplyServerSideEncryptionByDefault", {})
        statements = policy_statements(found["policy"])
        return {
            "encryption": {"algorithm": default.get("SSEAlgorithm"), "kms_key_id": default.get("KMSMasterKeyID")},
            "public_access_block": found["block"].get("PublicAccessBlockConfiguration", {}),
            "ownership": found["ownership"].get("OwnershipControls", {}).get("Rules", [{}])[0].get("ObjectOwnership"),
            "versioning": found["versioning"].get("Status", "Off"),
            "tags": dict_tags(found["tagging"].get("TagSet")),
            "lifecycle": read_lifecycle(found["lifecycle"]),
            "tls_only": any(not compare_policies(s, tls_only_statement(self.arn(name))) for s in statements),
            "statements": statements,
        }

    def arn(self, name):
        return f"arn:{self.module.partition}:s3:::{name}"

    def create(self, name, region):
        request = {"Bucket": name}
        if region != "us-east-1":
            request["CreateBucketConfiguration"] = {"LocationConstraint": region}
        # S3 answers BucketAlreadyOwnedByYou for a bucket this account has already (writes.py):
        # made by an attempt whose answer was lost, or by a run beside this one. It is ours.
        created = self.actions.act(
            self.s3,
            f"create the bucket {name}",
            "create_bucket",
            missing={"BucketAlreadyExists"},
            **request,
        )
        if created is None and not self.module.check_mode:
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
        elif key == "lifecycle" and value is None:
            self.act(f"remove the lifecycle rules of {name}", "delete_bucket_lifecycle", Bucket=name)
        elif key == "lifecycle":
            rule = {"ID": LIFECYCLE_RULE_ID, "Status": "Enabled", "Filter": {"Prefix": ""}}
            said = []
            if value[0]:
                rule["Expiration"] = {"Days": value[0]}
                said.append(f"objects after {value[0]} days")
            if value[1]:
                rule["NoncurrentVersionExpiration"] = {"NoncurrentDays": value[1]}
                said.append(f"noncurrent versions after {value[1]} days")
            self.act(
                f"expire the {' and '.join(said)} in {name}",
                "put_bucket_lifecycle_configuration",
                Bucket=name,
                LifecycleConfiguration={"Rules": [rule]},
            )
        elif key == "tls_only":
            self.write_policy(name, value)

    def write_policy(self, name, tls_only):
        """Add or take out this module's statement; any other statement of the policy stays."""
        others = [s for s in self.current_statements.get(name, []) if s.get("Sid") != TLS_ONLY_SID]
        statements = others + ([tls_only_statement(self.arn(name))] if tls_only else [])
        if statements:
            self.act(
                f"{'deny' if tls_only else 'allow'} requests to {name} without TLS",
                "put_bucket_policy",
                Bucket=name,
                Policy=json.dumps({"Version": "2012-10-17", "Statement": statements}),
            )
        else:
            self.act(f"allow requests to {name} without TLS", "delete_bucket_policy", Bucket=name)

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
        purge = self.params["purge_tags"] and self.params["tags"] is not None
        present = self.read_all()
        self.current_statements = {name: found["statements"] for name, found in present.items() if found}
        for purpose, name in self.names.items():
            desired = desired_settings(self.params, purpose, self.actions)
            if present[name] is not None:
                changes = settings_to_apply(present[name], desired, purge)
            else:
                # Encryption, public access and ownership are written even though new buckets have
                # them by default today: the module does not rely on a default AWS may change.
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
            "arns": [self.arn(name) for name in self.names.values()],
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
