#!/usr/bin/python
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: buckets
short_description: The five private S3 buckets a self-hosted Convex backend stores into
version_added: 0.1.0
description:
  - Creates, repairs or removes the buckets for exports, snapshot imports, modules, files and
    search, named C(<prefix>-exports), C(<prefix>-snapshot-imports), C(<prefix>-modules),
    C(<prefix>-files) and C(<prefix>-search).
  - Every bucket gets default encryption (SSE-S3, or SSE-KMS when O(kms_key_id) is set), all
    public access blocked, object ownership C(BucketOwnerEnforced) (no ACLs), optional
    versioning and the given tags. The exports bucket also gets a lifecycle rule that expires
    old exports.
  - Settings changed by hand are put back on the next run.
  - Returns the names and the C(S3_STORAGE_*_BUCKET) variables the backend reads.
author:
  - Convex self-host maintainers (@convex-selfhost)
options:
  prefix:
    description:
      - Common start of the five bucket names. Bucket names are global across AWS, so include
        something unique, such as the account id and stage.
      - 3 to 46 characters of lower-case letters, digits and hyphens, starting and ending with a
        letter or digit.
    type: str
    required: true
  state:
    description:
      - V(present) creates or repairs the buckets; V(absent) deletes them.
    type: str
    choices: [present, absent]
    default: present
  kms_key_id:
    description:
      - KMS key (id, alias or ARN) for default encryption. SSE-S3 (AES256) when unset.
    type: str
  versioning:
    description:
      - Keep old versions of objects. Turning it off later suspends versioning; S3 cannot
        return a bucket to never-versioned.
    type: bool
    default: false
  export_retention_days:
    description:
      - Days after which objects in the exports bucket expire. V(0) keeps them forever.
    type: int
    default: 14
  force:
    description:
      - With O(state=absent), delete buckets that still hold objects, objects included.
      - Without it, a bucket that holds anything stops the removal before any bucket is deleted.
    type: bool
    default: false
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.tags
  - amazon.aws.boto3
  - convex_selfhost.aws.common
attributes:
  diff_mode:
    support: full
    description: Shows each bucket's settings before and after.
"""

EXAMPLES = r"""
- name: Buckets for the dev stage
  convex_selfhost.aws.buckets:
    prefix: convex-dev-123456789012
    versioning: true
    export_retention_days: 30
    tags:
      stage: dev
  register: convex_buckets

- name: The backend's storage settings
  ansible.builtin.debug:
    var: convex_buckets.env

- name: Remove the buckets and what they hold
  convex_selfhost.aws.buckets:
    prefix: convex-dev-123456789012
    state: absent
    force: true
"""

RETURN = r"""
buckets:
  description: Bucket name of each purpose.
  returned: always
  type: dict
  sample:
    exports: convex-dev-exports
    snapshot_imports: convex-dev-snapshot-imports
    modules: convex-dev-modules
    files: convex-dev-files
    search: convex-dev-search
arns:
  description: ARNs of the five buckets, for IAM policies.
  returned: always
  type: list
  elements: str
  sample: [arn:aws:s3:::convex-dev-exports]
env:
  description: The backend's S3 storage variables, ready for its environment.
  returned: always
  type: dict
  sample:
    S3_STORAGE_EXPORTS_BUCKET: convex-dev-exports
    S3_STORAGE_SNAPSHOT_IMPORTS_BUCKET: convex-dev-snapshot-imports
    S3_STORAGE_MODULES_BUCKET: convex-dev-modules
    S3_STORAGE_FILES_BUCKET: convex-dev-files
    S3_STORAGE_SEARCH_BUCKET: convex-dev-search
"""

import re
from concurrent.futures import ThreadPoolExecutor

from ansible_collections.convex_selfhost.aws.plugins.module_utils import rules
from ansible_collections.convex_selfhost.aws.plugins.module_utils import tags as tag_helpers
from ansible_collections.convex_selfhost.aws.plugins.module_utils.actions import Actions, aws_tags, dict_tags
from ansible_collections.convex_selfhost.aws.plugins.module_utils.module import ConvexAWSModule
from ansible_collections.convex_selfhost.aws.plugins.module_utils.stage import BUCKET_PURPOSES, bucket_names

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


def desired_settings(module, purpose, actions):
    params = module.params
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
    """Reads each bucket's settings in their normalised form, and writes what differs."""

    def __init__(self, module):
        self.module = module
        self.s3 = module.aws_client("s3")
        self.actions = Actions(module)

    def call(self, action, method, **kwargs):
        return self.actions.call(self.s3, action, method, missing=_NOT_SET, **kwargs)

    def act(self, description, method, **kwargs):
        return self.actions.act(self.s3, description, method, missing=_NOT_SET, **kwargs)

    def existing(self):
        listed = self.call("list the account's buckets", "list_buckets")
        return {bucket["Name"] for bucket in listed.get("Buckets", [])}

    def read(self, name, purpose):
        """A bucket's settings. Its reads are independent of each other, so they run at once."""
        reads = {
            "encryption": ("get_bucket_encryption", "encryption"),
            "block": ("get_public_access_block", "public access block"),
            "ownership": ("get_bucket_ownership_controls", "ownership controls"),
            "versioning": ("get_bucket_versioning", "versioning"),
            "tagging": ("get_bucket_tagging", "tags"),
        }
        if purpose == "exports":
            reads["lifecycle"] = ("get_bucket_lifecycle_configuration", "lifecycle rules")
        with ThreadPoolExecutor(max_workers=len(reads)) as pool:
            futures = {
                key: pool.submit(self.call, f"read the {what} of {name}", method, Bucket=name)
                for key, (method, what) in reads.items()
            }
            found = {key: future.result() or {} for key, future in futures.items()}
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


def ensure_present(module, store, names):
    existing = store.existing()
    purge = module.params["purge_tags"] and module.params["tags"] is not None
    for purpose, name in names.items():
        desired = desired_settings(module, purpose, store.actions)
        if name in existing:
            changes = settings_to_apply(store.read(name, purpose), desired, purge)
        else:
            # Encryption, public access and ownership are written even though new buckets have
            # them by default today: the module does not rely on a default AWS may change.
            store.actions.changes.append(f"create the bucket {name}")
            if not module.check_mode:
                store.create(name, module.region)
            changes = settings_to_apply(_NEW_BUCKET, desired, purge_tags=True)
        for key, value in changes.items():
            store.write(name, key, value)


def ensure_absent(module, store, names):
    existing = store.existing()
    present = [name for name in names.values() if name in existing]
    if not module.params["force"]:
        full = [name for name in present if not store.is_empty(name)]
        if full:
            module.fail_json(
                msg=f"buckets {', '.join(full)} still hold objects; nothing was deleted. Set force: true to "
                "delete them with their contents, or empty them first"
            )
    for name in present:
        store.empty_and_delete(name)


def main():
    argument_spec = {
        "prefix": {"type": "str", "required": True},
        "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
        "kms_key_id": {"type": "str"},
        "versioning": {"type": "bool", "default": False},
        "export_retention_days": {"type": "int", "default": 14},
        "force": {"type": "bool", "default": False},
        **tag_helpers.ARGUMENT_SPEC,
    }
    module = ConvexAWSModule(argument_spec=argument_spec)
    module.refuse_bad_input(input_problems(module.params))
    names = bucket_names(module.params["prefix"])
    store = Buckets(module)
    if module.params["state"] == "absent":
        ensure_absent(module, store, names)
    else:
        ensure_present(module, store, names)
    module.exit_json(
        **store.actions.outcome(),
        buckets=names,
        arns=[f"arn:{module.partition}:s3:::{name}" for name in names.values()],
        env={BUCKET_PURPOSES[purpose][1]: name for purpose, name in names.items()},
    )


if __name__ == "__main__":
    main()
