#!/usr/bin/python
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: database
short_description: The RDS MySQL 8 server of a self-hosted Convex stage
version_added: 0.1.0
description:
  - Creates, repairs or removes an RDS MySQL 8.0 or 8.4 instance with its DB subnet group and a
    parameter group that sets C(require_secure_transport=1), so only TLS connections are taken.
  - Storage is encrypted, the instance is never publicly accessible, backups are kept
    O(backup_retention_days) days, and the database the backend needs (O(database_name)) is
    created with the instance; the backend never creates it itself.
  - With O(wait=false) (the default) the module returns as soon as RDS has accepted the work,
    so a playbook can set up the host while RDS builds the instance; a later call with
    O(wait=true) waits for C(available) and returns the endpoint.
  - Takes a manual snapshot on request (O(snapshot_identifier)), used before upgrades.
  - Removal takes a final snapshot unless O(skip_final_snapshot=true).
author:
  - Convex self-host maintainers (@convex-selfhost)
options:
  name:
    description:
      - Identifier of the DB instance; also names its subnet and parameter groups.
      - 1 to 50 letters, digits and hyphens, starting with a letter.
    type: str
    required: true
  state:
    description:
      - V(present) creates or repairs the database; V(absent) removes it.
    type: str
    choices: [present, absent]
    default: present
  engine_version:
    description:
      - MySQL version, V(8.0) or V(8.4) (RDS picks its default minor version), or a full
        version such as C(8.4.3).
    type: str
    default: "8.4"
  instance_class:
    description:
      - RDS instance class.
    type: str
    default: db.t4g.micro
  allocated_storage:
    description:
      - Storage in GiB (gp3), 20 or more. It can grow later, never shrink.
    type: int
    default: 20
  subnet_ids:
    description:
      - Private subnets in at least two availability zones. Required to create the database.
    type: list
    elements: str
    default: []
  security_group_ids:
    description:
      - Security groups of the instance, normally the network's database group.
    type: list
    elements: str
    default: []
  master_username:
    description:
      - Name of the administrator account.
    type: str
    default: convex
  master_password:
    description:
      - Password of the administrator account, used when the database is created. Never
        logged or returned.
    type: str
  database_name:
    description:
      - Database created with the instance. The backend uses INSTANCE_NAME with C(-) replaced
        by C(_); C(convex_self_hosted) by default.
    type: str
    default: convex_self_hosted
  backup_retention_days:
    description:
      - Days automated backups are kept, 1 to 35.
    type: int
    default: 7
  deletion_protection:
    description:
      - Make RDS refuse to delete the instance until this is turned off.
    type: bool
    default: false
  multi_az:
    description:
      - Keep a standby in a second availability zone that RDS fails over to. About doubles the
        instance's cost.
    type: bool
    default: false
  max_allocated_storage:
    description:
      - Let RDS grow the storage on its own up to this many GiB (storage autoscaling). V(0) keeps
        it at O(allocated_storage).
    type: int
    default: 0
  kms_key_id:
    description:
      - KMS key for storage encryption. The account's C(aws/rds) key when unset. Only used at
        creation.
    type: str
  wait:
    description:
      - Wait until the instance (and a requested snapshot) is available.
    type: bool
    default: false
  wait_timeout:
    description:
      - Seconds to wait with O(wait=true).
    type: int
    default: 1800
  snapshot_identifier:
    description:
      - Take a manual snapshot with this identifier unless one exists already.
    type: str
  skip_final_snapshot:
    description:
      - With O(state=absent), delete without a final snapshot. The data is then gone.
    type: bool
    default: false
  final_snapshot_identifier:
    description:
      - Identifier of the final snapshot taken on removal. C(<name>-final-<UTC time>) by default.
    type: str
  instance_identifier:
    description:
      - Identifier of the DB instance when it is not O(name), as after a restore; the subnet and
        parameter groups keep O(name). Up to 63 letters, digits and single hyphens.
    type: str
  restore_snapshot:
    description:
      - Make a missing O(instance_identifier) by restoring this RDS snapshot (an encrypted MySQL one)
        instead of creating an empty instance. An existing instance is left as it is.
      - The restored instance gets this module's class, groups, protection and tags, not the
        source's. Its administrator password is the snapshot's until it is set again; the
        deployment module sets it.
    type: str
  restore_time:
    description:
      - Make a missing O(instance_identifier) by restoring O(restore_source) as it was at this
        moment, ISO 8601 with a time zone (C(2026-11-24T09:30:00Z)), within its backup retention.
    type: str
  restore_source:
    description:
      - The instance O(restore_time) restores from. O(name) by default.
    type: str
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.tags
  - amazon.aws.boto3
  - convex_selfhost.aws.common
attributes:
  diff_mode:
    support: full
    description: Lists what would be created, modified or removed.
"""

EXAMPLES = r"""
- name: Start the database without waiting for it
  convex_selfhost.aws.database: &convex_database
    name: convex-dev
    instance_class: db.t4g.small
    subnet_ids: "{{ convex_network.private_subnet_ids }}"
    security_group_ids: ["{{ convex_network.database_security_group_id }}"]
    master_password: "{{ db_password.value }}"
    deletion_protection: true
  no_log: true

# Give the later call the same options: any option left out takes its default, and the module
# would change the instance back to it (here, the instance class).
- name: Wait for it just before the backend starts
  convex_selfhost.aws.database:
    <<: *convex_database
    wait: true
  register: convex_database
  no_log: true

- name: Snapshot before an upgrade
  convex_selfhost.aws.database:
    <<: *convex_database
    snapshot_identifier: convex-dev-before-upgrade-20261124
    wait: true
  no_log: true
"""

RETURN = r"""
db_instance_identifier:
  description: Identifier of the instance.
  returned: always
  type: str
  sample: convex-dev
status:
  description: Status RDS reports, such as C(creating) or C(available).
  returned: when the instance exists
  type: str
endpoint_address:
  description: Host name to connect to; empty until RDS has made the instance.
  returned: when the instance exists
  type: str
  sample: convex-dev.abcdefghijkl.us-east-1.rds.amazonaws.com
port:
  description: Port to connect to.
  returned: when the instance exists
  type: int
  sample: 3306
database_name:
  description: The database created with the instance.
  returned: always
  type: str
  sample: convex_self_hosted
master_username:
  description: Name of the administrator account.
  returned: when the instance exists
  type: str
ca_certificate_identifier:
  description: The RDS certificate authority the server's TLS certificate chains to.
  returned: when the instance exists
  type: str
  sample: rds-ca-rsa2048-g1
engine_version:
  description: MySQL version RDS runs.
  returned: when the instance exists
  type: str
instance_identifier:
  description: The DB instance's identifier.
  returned: when the instance exists
  type: str
snapshot_identifier:
  description: The manual snapshot taken or found on this run.
  returned: when O(snapshot_identifier) is set, or a final snapshot is taken
  type: str
changes:
  description: What the run changed (or, in check mode, would change), one line each.
  returned: always
  type: list
  elements: str
"""

from ansible_collections.convex_selfhost.aws.plugins.module_utils.database import (
    ARGUMENT_SPEC,
    Database,
    input_problems,
)
from ansible_collections.convex_selfhost.aws.plugins.module_utils.module import ConvexAWSModule


def main():
    module = ConvexAWSModule(argument_spec=ARGUMENT_SPEC)
    module.refuse_bad_input(input_problems(module.params))
    database = Database(module, module.params)
    result = database.remove() if module.params["state"] == "absent" else database.ensure()
    module.exit_json(
        **database.actions.outcome(),
        db_instance_identifier=database.instance_name,
        database_name=module.params["database_name"],
        **result,
    )


if __name__ == "__main__":
    main()
