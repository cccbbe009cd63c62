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
  - convex_selfhost.aws.connection
  - convex_selfhost.aws.tags
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

from ansible_collections.convex_selfhost.aws.plugins.module_utils import tags as tag_helpers
from ansible_collections.convex_selfhost.aws.plugins.module_utils.module import ConvexAWSModule

try:
    from botocore.exceptions import BotoCoreError, ClientError
except ImportError:
    pass  # ConvexAWSModule reports a missing botocore itself.

# Purpose -> (bucket name suffix, backend variable).
PURPOSES = {
    "exports": ("exports", "S3_STORAGE_EXPORTS_BUCKET"),
    "snapshot_imports": ("snapshot-imports", "S3_STORAGE_SNAPSHOT_IMPORTS_BUCKET"),
    "modules": ("modules", "S3_STORAGE_MODULES_BUCKET"),
    "files": ("files", "S3_STORAGE_FILES_BUCKET"),
    "search": ("search", "S3_STORAGE_SEARCH_BUCKET"),
}
LIFECYCLE_RULE_ID = "convex-expire-old-exports"
_LONGEST_SUFFIX = max(len(suffix) for suffix, variable in PURPOSES.values()) + 1
_PREFIX = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")
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


def prefix_problem(prefix):
    longest = 63 - _LONGEST_SUFFIX
    if not 3 <= len(prefix) <= longest or not _PREFIX.match(prefix) or "--" in prefix or prefix.startswith("xn-"):
        return (
            f"prefix '{prefix}' cannot start S3 bucket names: use 3 to {longest} lower-case letters, digits "
            "and single hyphens, starting and ending with a letter or digit, such as convex-dev-123456789012"
        )
    return None


def bucket_names(prefix):
    return {purpose: f"{prefix}-{suffix}" for purpose, (suffix, variable) in PURPOSES.items()}


def desired_settings(params, purpose):
    if params["kms_key_id"]:
        encryption = {"algorithm": "aws:kms", "kms_key_id": params["kms_key_id"]}
    else:
        encryption = {"algorithm": "AES256", "kms_key_id": None}
    settings = {
        "encryption": encryption,
        "public_access_block": dict(_BLOCK_ALL),
        "ownership": "BucketOwnerEnforced",
        "versioning": "Enabled" if params["versioning"] else "Off",
        "tags": tag_helpers.with_managed_by(params["tags"]),
    }
    if purpose == "exports":
        settings["export_retention_days"] = params["export_retention_days"]
    return settings


class BucketSettings:
    """Reads and writes one bucket's settings, each in its normalised form."""

    def __init__(self, module):
        self.module = module
        self.s3 = module.aws_client("s3")

    def _call(self, action, method, **kwargs):
        try:
            return getattr(self.s3, method)(**kwargs)
        except ClientError as error:
            if error.response["Error"]["Code"] in _NOT_SET:
                return None
            self.module.fail_aws(error, action)
        except BotoCoreError as error:
            self.module.fail_aws(error, action)

    def existing(self):
        listed = self._call("list the account's buckets", "list_buckets")
        return {bucket["Name"] for bucket in listed.get("Buckets", [])}

    def read(self, name, purpose):
        rules = self._call(f"read the encryption of {name}", "get_bucket_encryption", Bucket=name)
        default = {}
        if rules:
            default = rules["ServerSideEncryptionConfiguration"]["Rules"][0]["ApplyServerSideEncryptionByDefault"]
        block = self._call(f"read the public access block of {name}", "get_public_access_block", Bucket=name)
        ownership = self._call(f"read the ownership controls of {name}", "get_bucket_ownership_controls", Bucket=name)
        versioning = self._call(f"read the versioning of {name}", "get_bucket_versioning", Bucket=name)
        tagging = self._call(f"read the tags of {name}", "get_bucket_tagging", Bucket=name)
        settings = {
            "encryption": {
                "algorithm": default.get("SSEAlgorithm"),
                "kms_key_id": default.get("KMSMasterKeyID"),
            },
            "public_access_block": (block or {}).get("PublicAccessBlockConfiguration", {}),
            "ownership": (ownership or {}).get("OwnershipControls", {}).get("Rules", [{}])[0].get("ObjectOwnership"),
            "versioning": (versioning or {}).get("Status", "Off"),
            "tags": tag_helpers.from_aws((tagging or {}).get("TagSet")),
        }
        if purpose == "exports":
            lifecycle = self._call(
                f"read the lifecycle rules of {name}", "get_bucket_lifecycle_configuration", Bucket=name
            )
            days = 0
            for rule in (lifecycle or {}).get("Rules", []):
                if rule.get("ID") == LIFECYCLE_RULE_ID and rule.get("Status") == "Enabled":
                    days = rule.get("Expiration", {}).get("Days", 0)
            settings["export_retention_days"] = days
        return settings

    def create(self, name, region):
        request = {"Bucket": name}
        if region != "us-east-1":
            request["CreateBucketConfiguration"] = {"LocationConstraint": region}
        try:
            self.s3.create_bucket(**request)
        except ClientError as error:
            if error.response["Error"]["Code"] == "BucketAlreadyExists":
                self.module.fail_json(
                    msg=f"bucket {name} belongs to another AWS account: choose another prefix "
                    "(bucket names are global; include your account id)"
                )
            self.module.fail_aws(error, f"create the bucket {name}")
        except BotoCoreError as error:
            self.module.fail_aws(error, f"create the bucket {name}")

    def write(self, name, key, value):
        if key == "encryption":
            default = {"SSEAlgorithm": value["algorithm"]}
            if value["kms_key_id"]:
                default["KMSMasterKeyID"] = value["kms_key_id"]
            rule = {"ApplyServerSideEncryptionByDefault": default, "BucketKeyEnabled": bool(value["kms_key_id"])}
            self._call(
                f"set the encryption of {name}",
                "put_bucket_encryption",
                Bucket=name,
                ServerSideEncryptionConfiguration={"Rules": [rule]},
            )
        elif key == "public_access_block":
            self._call(
                f"block public access to {name}",
                "put_public_access_block",
                Bucket=name,
                PublicAccessBlockConfiguration=value,
            )
        elif key == "ownership":
            self._call(
                f"set the ownership controls of {name}",
                "put_bucket_ownership_controls",
                Bucket=name,
                OwnershipControls={"Rules": [{"ObjectOwnership": value}]},
            )
        elif key == "versioning":
            status = "Enabled" if value == "Enabled" else "Suspended"
            self._call(
                f"set the versioning of {name}",
                "put_bucket_versioning",
                Bucket=name,
                VersioningConfiguration={"Status": status},
            )
        elif key == "tags":
            self._call(f"tag {name}", "put_bucket_tagging", Bucket=name, Tagging={"TagSet": tag_helpers.to_aws(value)})
        elif key == "export_retention_days":
            self._write_lifecycle(name, value)

    def _write_lifecycle(self, name, days):
        if not days:
            self._call(f"remove the lifecycle rules of {name}", "delete_bucket_lifecycle", Bucket=name)
            return
        rule = {
            "ID": LIFECYCLE_RULE_ID,
            "Status": "Enabled",
            "Filter": {"Prefix": ""},
            "Expiration": {"Days": days},
            "NoncurrentVersionExpiration": {"NoncurrentDays": days},
        }
        self._call(
            f"set the lifecycle rules of {name}",
            "put_bucket_lifecycle_configuration",
            Bucket=name,
            LifecycleConfiguration={"Rules": [rule]},
        )

    def is_empty(self, name):
        listed = self._call(f"list the objects of {name}", "list_object_versions", Bucket=name, MaxKeys=1)
        return not (listed or {}).get("Versions") and not (listed or {}).get("DeleteMarkers")

    def empty_and_delete(self, name):
        while True:
            listed = self._call(f"list the objects of {name}", "list_object_versions", Bucket=name)
            entries = (listed or {}).get("Versions", []) + (listed or {}).get("DeleteMarkers", [])
            if not entries:
                break
            objects = [{"Key": e["Key"], "VersionId": e["VersionId"]} for e in entries[:1000]]
            self._call(f"delete the objects of {name}", "delete_objects", Bucket=name, Delete={"Objects": objects})
        self._call(f"delete the bucket {name}", "delete_bucket", Bucket=name)


def settings_to_apply(current, desired, purge_tags):
    """The settings that differ, with the value to write (tags merged when not purging)."""
    changes = {}
    for key, wanted in desired.items():
        have = current.get(key)
        if key == "tags":
            to_set, to_remove = tag_helpers.difference(have, wanted, purge_tags)
            if to_set or to_remove:
                changes[key] = {k: v for k, v in {**have, **to_set}.items() if k not in to_remove}
        elif key == "versioning" and wanted == "Off":
            if have == "Enabled":
                changes[key] = "Suspended"
        elif have != wanted:
            changes[key] = wanted
    return changes


def ensure_present(module, store, names):
    existing = store.existing()
    changed = False
    diff = {"before": {}, "after": {}}
    for purpose, name in names.items():
        desired = desired_settings(module.params, purpose)
        if name in existing:
            current = store.read(name, purpose)
            changes = settings_to_apply(current, desired, module.params["purge_tags"])
        else:
            current = None
            # Encryption, public access and ownership are written even though new buckets have
            # them by default today: the module does not rely on a default AWS may change.
            changes = settings_to_apply(_NEW_BUCKET, desired, purge_tags=True)
            if not module.check_mode:
                store.create(name, module.region)
        if not changes:
            continue
        changed = True
        diff["before"][name] = current
        diff["after"][name] = {**(current or {}), **changes}
        if not module.check_mode:
            for key, value in changes.items():
                store.write(name, key, value)
    return changed, diff


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
    if not module.check_mode:
        for name in present:
            store.empty_and_delete(name)
    diff = {"before": {"buckets": present}, "after": {"buckets": []}}
    return bool(present), diff


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
    params = module.params
    problems = []
    problem = prefix_problem(params["prefix"])
    if problem:
        problems.append(problem)
    if params["export_retention_days"] < 0:
        problems.append(f"export_retention_days {params['export_retention_days']} is negative: use 0 to keep exports")
    module.refuse_bad_input(problems)

    names = bucket_names(params["prefix"])
    store = BucketSettings(module)
    if params["state"] == "absent":
        changed, diff = ensure_absent(module, store, names)
    else:
        changed, diff = ensure_present(module, store, names)
    module.exit_json(
        changed=changed,
        diff=diff if changed else None,
        buckets=names,
        arns=[f"arn:aws:s3:::{name}" for name in names.values()],
        env={PURPOSES[purpose][1]: name for purpose, name in names.items()},
    )


if __name__ == "__main__":
    main()
