#!/usr/bin/python
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: deployment
short_description: The whole AWS side of one Convex deployment, from its stage model
version_added: 0.1.0
description:
  - Makes, repairs or removes everything one deployment has on AWS - its network, its five buckets,
    its RDS database, its EC2 host with role and Elastic IP, and its three DNS records - from the
    stage model that M(convex_selfhost.aws.stage_info) returns.
  - It does what the M(convex_selfhost.aws.network), M(convex_selfhost.aws.buckets),
    M(convex_selfhost.aws.database), M(convex_selfhost.aws.instance) and M(convex_selfhost.aws.dns)
    modules do, with the same code, in one process and side by side where nothing depends on
    anything else (the network and the buckets; then the database and the host), so a run that
    changes nothing costs seconds. Every change is listed in RV(changes).
  - The database is started without being waited for unless O(wait_for_database=true), so the
    host is set up while RDS builds it.
author:
  - Convex self-host maintainers (@convex-selfhost)
options:
  stage:
    description:
      - The deployment's stage model, as M(convex_selfhost.aws.stage_info) returns it.
    type: dict
    required: true
  master_password:
    description:
      - The database's administrator password (the stored secret). Needed to create the database.
    type: str
  state:
    description:
      - V(present) makes or repairs the deployment; V(absent) removes it, newest parts first.
    type: str
    choices: [present, absent]
    default: present
  wait_for_database:
    description:
      - Wait until the database is available and return its endpoint.
    type: bool
    default: false
  final_snapshot:
    description:
      - With O(state=absent), take a final snapshot of the database before it goes.
    type: bool
    default: true
  remove_buckets:
    description:
      - With O(state=absent), remove the buckets too, with what they hold. Without it they are kept.
    type: bool
    default: false
  confirm:
    description:
      - The deployment's name, given by the operator to allow what protection otherwise stops.
      - Protection is read from AWS (the protection tag on the host and database, the host's
        termination protection, the database's deletion protection), not from the settings. With
        O(state=absent), a protected deployment is refused unless this names it; then each
        protection is lifted and everything goes. With O(state=present), settings that would lift
        recorded protection (C(stage_protected) false) are refused unless this names it.
      - Either refusal comes before any change.
    type: str
    default: ""
  confirm_variable:
    description:
      - The name the refusal message gives the confirmation, such as the playbook's own
        C(teardown_confirm).
    type: str
    default: confirm
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
  - convex_selfhost.aws.common
attributes:
  diff_mode:
    support: full
    description: Lists what would be made, changed or removed.
"""

EXAMPLES = r"""
- name: The stage model
  convex_selfhost.aws.stage_info:
    settings: "{{ my_settings }}"
  register: model

- name: The database password
  convex_selfhost.aws.secret:
    name: "{{ model.stage.parameters.db_password }}"
    length: 32
    return_value: true
  register: password
  no_log: true

- name: Everything the deployment has on AWS
  convex_selfhost.aws.deployment:
    stage: "{{ model.stage }}"
    master_password: "{{ password.value }}"
  register: deployment
"""

RETURN = r"""
network:
  description: What the network module returns for the deployment's network.
  returned: with O(state=present)
  type: dict
buckets:
  description: What the buckets module returns for the deployment's buckets.
  returned: with O(state=present)
  type: dict
database:
  description: What the database module returns for the deployment's database.
  returned: with O(state=present), and with O(state=absent) when a final snapshot was taken
  type: dict
host:
  description: What the instance module returns for the deployment's host.
  returned: with O(state=present)
  type: dict
protection_lifted:
  description: With O(state=absent), the protection found in AWS and lifted (confirmed by O(confirm)).
  returned: with O(state=absent)
  type: list
  elements: str
changes:
  description: What the run changed (or, in check mode, would change), one line each.
  returned: always
  type: list
  elements: str
"""

from concurrent.futures import ThreadPoolExecutor

from ansible_collections.convex_selfhost.aws.plugins.module_utils import (
    buckets,
    database,
    host,
    network,
    protection,
    records,
)
from ansible_collections.convex_selfhost.aws.plugins.module_utils.actions import Actions
from ansible_collections.convex_selfhost.aws.plugins.module_utils.module import ConvexAWSModule

# Ids a resource made in check mode would have: nothing is sent to AWS with them.
NEW = "(new)"


def options(spec, given):
    """A resource's full options: the module's defaults, then what the stage model gives."""
    return {**{name: option.get("default") for name, option in spec.items()}, **given}


def resources(stage, password):
    """Each resource's options, from the stage model alone."""
    settings = stage["settings"]
    tags = {"tags": stage["tags"], "purge_tags": True}
    return {
        "network": network.with_default_subnets(
            options(
                network.ARGUMENT_SPEC,
                {
                    "name": stage["resource_name"],
                    "cidr": settings["stage_vpc_cidr"],
                    "admin_cidrs": settings["stage_ssh_cidrs"],
                    **tags,
                },
            )
        ),
        "buckets": options(
            buckets.ARGUMENT_SPEC,
            {
                "prefix": stage["bucket_prefix"],
                "versioning": settings["stage_bucket_versioning"],
                "export_retention_days": settings["stage_export_retention_days"],
                "noncurrent_version_days": settings["stage_noncurrent_version_days"],
                "tls_only": settings["stage_bucket_tls_only"],
                "force": True,
                **tags,
            },
        ),
        "database": options(
            database.ARGUMENT_SPEC,
            {
                "name": stage["resource_name"],
                "engine_version": settings["stage_db_engine_version"],
                "instance_class": settings["stage_db_instance_class"],
                "allocated_storage": settings["stage_db_storage_gb"],
                "master_password": password,
                "backup_retention_days": settings["stage_db_backup_days"],
                "deletion_protection": stage["protected"],
                "multi_az": settings["stage_db_multi_az"],
                "max_allocated_storage": settings["stage_db_max_storage_gb"],
                "database_name": stage["database_name"],
                **tags,
            },
        ),
        "host": options(
            host.ARGUMENT_SPEC,
            {
                "name": stage["resource_name"],
                "os": settings["stage_os"],
                "architecture": settings["stage_architecture"],
                "instance_type": settings["stage_instance_type"],
                "image_id": stage.get("image_id") or None,
                "bucket_arns": stage["bucket_arns"],
                "key_name": settings["stage_ssh_key_name"] or None,
                "termination_protection": stage["protected"],
                "recovery_alarm": settings["stage_recovery_alarm"],
                **tags,
            },
        ),
        "records": options(
            records.ARGUMENT_SPEC, {"zone_id": stage.get("zone_id") or None, "zone": settings["stage_dns_zone"]}
        ),
    }


def input_problems(wanted):
    problems = []
    for name, check in (
        ("network", network.input_problems),
        ("buckets", buckets.input_problems),
        ("database", database.input_problems),
        ("host", host.input_problems),
    ):
        problems.extend(f"stage ({name}): {problem}" for problem in check(wanted[name]))
    return problems


def side_by_side(*calls):
    """Run the calls at once; their results in order. A failure in one fails the module as usual."""
    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        futures = [pool.submit(call) for call in calls]
        return [future.result() for future in futures]


def present(module, actions, wanted):
    made_database = database.Database(module, wanted["database"], actions)
    made_host = host.Host(module, wanted["host"], actions)
    # Protection recorded in AWS is checked before anything is written; its reads are the ones
    # the host and database use below.
    protection.guard(module, module.params["stage"], made_host, made_database, removing=False)
    made_network = network.Network(module, wanted["network"], actions)
    made_buckets = buckets.Buckets(module, wanted["buckets"], actions)
    net, stored = side_by_side(made_network.ensure, made_buckets.ensure)
    wanted["database"].update(
        subnet_ids=net.get("private_subnet_ids") or [NEW, NEW],
        security_group_ids=[net.get("database_security_group_id") or NEW],
    )
    wanted["host"].update(
        subnet_id=(net.get("public_subnet_ids") or [NEW])[0],
        security_group_ids=[net.get("host_security_group_id") or NEW],
    )
    db, machine = side_by_side(made_database.ensure, made_host.ensure)
    if wanted["records"]["zone"] and machine.get("public_ip"):
        names = module.params["stage"]["host_names"].values()
        wanted["records"]["records"] = dict.fromkeys(names, machine["public_ip"])
        records.Records(module, wanted["records"], actions).ensure()
    if module.params["wait_for_database"]:
        made_database.params["wait"] = True
        db = made_database.ensure()
    return {"network": net, "buckets": stored, "database": db, "host": machine}


def absent(module, actions, wanted):
    """Every protection is checked before anything is removed (and, when confirmed, lifted);
    then the newest parts first: DNS, host, database, then (when asked) the buckets, the network."""
    made_host = host.Host(module, wanted["host"], actions)
    made_database = database.Database(module, wanted["database"], actions)
    found = protection.guard(module, module.params["stage"], made_host, made_database, removing=True)
    protection.lift(made_host, made_database, found)
    if wanted["records"]["zone"]:
        wanted["records"].update(
            records=dict.fromkeys(module.params["stage"]["host_names"].values(), ""), state="absent"
        )
        records.Records(module, wanted["records"], actions).ensure()
    made_host.remove(lifted=True)
    wanted["database"]["skip_final_snapshot"] = not module.params["final_snapshot"]
    result = {"database": made_database.remove(lifted=True), "protection_lifted": found}
    if module.params["remove_buckets"]:
        buckets.Buckets(module, wanted["buckets"], actions).remove()
    network.Network(module, wanted["network"], actions).remove()
    return result


def main():
    module = ConvexAWSModule(
        argument_spec={
            "stage": {"type": "dict", "required": True},
            "master_password": {"type": "str", "no_log": True},
            "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
            "wait_for_database": {"type": "bool", "default": False},
            "final_snapshot": {"type": "bool", "default": True},
            "remove_buckets": {"type": "bool", "default": False},
            "confirm": {"type": "str", "default": ""},
            "confirm_variable": {"type": "str", "default": "confirm"},
        }
    )
    stage = module.params["stage"]
    wanted = resources(stage, module.params["master_password"])
    module.refuse_bad_input(input_problems(wanted))
    actions = Actions(module, {"tags": stage["tags"], "purge_tags": True})
    result = absent(module, actions, wanted) if module.params["state"] == "absent" else present(module, actions, wanted)
    module.exit_json(**actions.outcome(), **result)


if __name__ == "__main__":
    main()
