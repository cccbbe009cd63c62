#!/usr/bin/python
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: instance
short_description: The EC2 host of a self-hosted Convex stage, with its role and Elastic IP
version_added: 0.1.0
description:
  - Creates, repairs or removes the EC2 instance that runs the Convex containers, the IAM role
    and instance profile it runs as, and its Elastic IP.
  - The role may only read and write objects in the five buckets and read the stage's SSM
    parameters. It has no C(s3:*) and no C(Resource "*"); the backend takes its credentials
    from the instance, so no static AWS keys are ever put on the host.
  - IMDSv2 is required, with a hop limit of 2 so containers on Docker's bridge network reach it.
  - The root volume is an encrypted gp3 volume.
  - Unless O(image_id) is given, the image is the newest Debian 13 or Ubuntu 24.04 image that
    Debian or Canonical published for O(architecture).
author:
  - Convex self-host maintainers (@convex-selfhost)
options:
  name:
    description:
      - Name of the host; also names its IAM role, instance profile and Elastic IP.
      - 1 to 48 letters, digits and hyphens.
    type: str
    required: true
  state:
    description:
      - V(present) creates or repairs the host; V(absent) terminates it and removes its role and
        address.
    type: str
    choices: [present, absent]
    default: present
  os:
    description:
      - Operating system of the image looked up when O(image_id) is not set.
    type: str
    choices: [debian13, ubuntu2404]
    default: debian13
  architecture:
    description:
      - CPU architecture. O(instance_type) must match it.
    type: str
    choices: [arm64, x86_64]
    default: arm64
  instance_type:
    description:
      - EC2 instance type, such as C(t4g.small) (arm64) or C(t3.small) (x86_64).
    type: str
    default: t4g.small
  image_id:
    description:
      - Use this image instead of looking one up.
    type: str
  subnet_id:
    description:
      - Public subnet to start the host in. Required to create it.
    type: str
  security_group_ids:
    description:
      - Security groups of the host, normally the network's host group.
    type: list
    elements: str
    default: []
  bucket_arns:
    description:
      - ARNs of the five buckets the backend may read and write. Required to create the role.
    type: list
    elements: str
    default: []
  kms_key_arns:
    description:
      - KMS keys the host may decrypt and encrypt with, when the buckets use a customer-managed
        key. Each is one key's full ARN; wildcards and aliases are refused.
      - The host's role has no SSM access at all; its secrets are read on the controller.
    type: list
    elements: str
    default: []
  log_group_arn:
    description:
      - The CloudWatch Logs group whose streams the host may create and write (Docker's awslogs
        driver), such as C(arn:aws:logs:us-east-1:123456789012:log-group:/convex/convex-dev). The
        group itself is not made here. Without it the host may write no logs.
    type: str
  metric_namespace:
    description:
      - The CloudWatch namespace the host may put its metrics in (PutMetricData, limited by the
        C(cloudwatch:namespace) condition), such as C(ConvexSelfhost/convex-dev). Without it the
        host may put no metrics.
    type: str
  caddy_storage_arn:
    description:
      - The Secrets Manager secret that holds the copy of Caddy's storage, which the host may read
        and write (GetSecretValue, PutSecretValue), as an ARN ending in C(-??????), such as
        C(arn:aws:secretsmanager:us-east-1:123456789012:secret:convex-dev/caddy-storage-??????).
        The secret itself is not made here. Without it the host may read no secret.
    type: str
  root_volume_size:
    description:
      - Size of the root volume in GiB (gp3, encrypted).
      - A larger size grows the volume of a running host online, and waits until the host can
        see it; growing its partition and file system is the host's part (the capacity role). A
        smaller size is refused, since an EBS volume cannot shrink.
      - EBS starts a volume's next change only once the last has completed, and takes at most
        four a day.
    type: int
    default: 30
  kms_key_id:
    description:
      - KMS key to encrypt the root volume with. The account's default EBS key when unset.
    type: str
  key_name:
    description:
      - EC2 key pair for SSH. Only used when the host is created.
    type: str
  user_data:
    description:
      - Cloud-init user data. Only used when the host is created.
    type: str
  elastic_ip:
    description:
      - Give the host an Elastic IP, so its address survives stops and DNS can point at it.
    type: bool
    default: true
  termination_protection:
    description:
      - Turn on EC2 termination protection, so the host cannot be terminated until it is turned
        off again. O(state=absent) refuses a protected host.
    type: bool
    default: false
  recovery_alarm:
    description:
      - Keep a CloudWatch alarm, named C(<name>-recover), that recovers the host onto healthy
        hardware when AWS's system status check fails. The host carries a tag naming it.
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
    description: Lists what would be created, repaired or removed.
"""

EXAMPLES = r"""
- name: The dev host
  convex_selfhost.aws.instance:
    name: convex-dev
    subnet_id: "{{ convex_network.public_subnet_ids[0] }}"
    security_group_ids: ["{{ convex_network.host_security_group_id }}"]
    bucket_arns: "{{ convex_buckets.arns }}"
    tags:
      stage: dev
  register: convex_host
"""

RETURN = r"""
instance_id:
  description: Id of the instance.
  returned: when the host exists
  type: str
  sample: i-0123456789abcdef0
public_ip:
  description: Public address (the Elastic IP when O(elastic_ip=true)).
  returned: when the host exists
  type: str
  sample: 203.0.113.20
private_ip:
  description: Address inside the VPC.
  returned: when the host exists
  type: str
  sample: 10.40.3.17
image_id:
  description: Image the host was started from.
  returned: when the host exists
  type: str
allocation_id:
  description: Id of the Elastic IP.
  returned: when O(elastic_ip=true) and the host exists
  type: str
role_name:
  description: Name of the IAM role and instance profile.
  returned: always
  type: str
state:
  description: State of the instance, such as C(running).
  returned: when the host exists
  type: str
changes:
  description: What the run changed (or, in check mode, would change), one line each.
  returned: always
  type: list
  elements: str
"""

from ansible_collections.convex_selfhost.aws.plugins.module_utils.host import ARGUMENT_SPEC, Host, input_problems
from ansible_collections.convex_selfhost.aws.plugins.module_utils.module import ConvexAWSModule


def main():
    module = ConvexAWSModule(argument_spec=ARGUMENT_SPEC)
    module.refuse_bad_input(input_problems(module.params))
    host = Host(module, module.params)
    result = host.remove() if module.params["state"] == "absent" else host.ensure()
    module.exit_json(**host.actions.outcome(), **result)


if __name__ == "__main__":
    main()
