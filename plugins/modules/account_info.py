#!/usr/bin/python
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: account_info
short_description: Check the AWS connection and report which account and region it reaches
version_added: 0.1.0
description:
  - Asks AWS STS who the caller is, so a playbook can stop in its first seconds when the
    credentials, region or endpoint are wrong, before anything is created.
  - Reads only; changes nothing.
author:
  - Convex self-host maintainers (@convex-selfhost)
options: {}
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
  - convex_selfhost.aws.common
attributes:
  diff_mode:
    support: none
    description: Nothing changes, so there is nothing to show.
"""

EXAMPLES = r"""
- name: Stop early when the AWS connection is wrong
  convex_selfhost.aws.account_info:
    region: eu-west-1
  register: aws_account

- name: Point the module at an emulator instead of AWS
  convex_selfhost.aws.account_info:
    region: us-east-1
    endpoint_url: http://127.0.0.1:5000
"""

RETURN = r"""
account_id:
  description: The 12-digit id of the AWS account the credentials belong to.
  returned: always
  type: str
  sample: "123456789012"
arn:
  description: The ARN of the calling identity.
  returned: always
  type: str
  sample: arn:aws:iam::123456789012:user/deployer
partition:
  description: The AWS partition of the caller, taken from its ARN.
  returned: always
  type: str
  sample: aws
region:
  description: The region the collection's modules will use.
  returned: always
  type: str
  sample: eu-west-1
"""

from ansible_collections.convex_selfhost.aws.plugins.module_utils.module import ConvexAWSModule

try:
    from botocore.exceptions import BotoCoreError, ClientError
except ImportError:
    pass  # ConvexAWSModule reports a missing botocore itself.


def main():
    module = ConvexAWSModule(argument_spec={})
    sts = module.aws_client("sts")
    try:
        identity = sts.get_caller_identity()
    except (BotoCoreError, ClientError) as error:
        module.fail_aws(error, "read the caller identity from AWS STS")
    arn = identity["Arn"]
    module.exit_json(
        changed=False,
        account_id=identity["Account"],
        arn=arn,
        partition=arn.split(":")[1],
        region=module.region,
    )


if __name__ == "__main__":
    main()
