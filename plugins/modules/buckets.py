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
  noncurrent_version_days:
    description:
      - With O(versioning), days after which a replaced or deleted object version expires, in
        every bucket, so old versions are not kept (and paid for) forever.
    type: int
    default: 30
  tls_only:
    description:
      - Give each bucket a policy that denies any request made without TLS
        (C(aws:SecureTransport) false). Other statements of an existing policy are kept.
    type: bool
    default: true
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

from ansible_collections.convex_selfhost.aws.plugins.module_utils.buckets import ARGUMENT_SPEC, Buckets, input_problems
from ansible_collections.convex_selfhost.aws.plugins.module_utils.module import ConvexAWSModule


def main():
    module = ConvexAWSModule(argument_spec=ARGUMENT_SPEC)
    module.refuse_bad_input(input_problems(module.params))
    buckets = Buckets(module, module.params)
    result = buckets.remove() if module.params["state"] == "absent" else buckets.ensure()
    module.exit_json(**buckets.actions.outcome(), **result)


if __name__ == "__main__":
    main()
