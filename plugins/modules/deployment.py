#!/usr/bin/python
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: deployment
short_description: The whole AWS side of one Convex deployment, from its stage model
version_added: 0.1.0
description:
  - Makes, repairs or removes everything one deployment has on AWS - its network, its five buckets,
    its CloudWatch Logs group, its RDS database, its EC2 host with role and Elastic IP, its
    three DNS records, what watches it (an SNS topic, alarms, a CloudWatch dashboard), and the
    Secrets Manager secret the host keeps its copy of Caddy's storage in - from the stage model
    that M(convex_selfhost.aws.stage_info) returns.
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
  remove_logs:
    description:
      - With O(state=absent), remove the deployment's CloudWatch Logs group, with the containers'
        logs in it. V(false) keeps it (with its retention) after the host has gone.
      - The alarms, the dashboard and the SNS topic always go with the deployment. The secret with
        the copy of Caddy's storage is scheduled for deletion in 7 days; the deployment made again
        before then gets it back, certificates and all.
    type: bool
    default: true
  export_logs:
    description:
      - With O(state=absent) and O(remove_logs), first copy every event of the log group into the
        exports bucket, under C(cloudwatch-logs/<deployment>/<UTC time>/) (a CloudWatch Logs
        export task, waited for), after letting CloudWatch Logs write there in the bucket's policy.
        The group is removed only once the copy is complete.
      - The copy expires with the exports (the stage's export retention). Refused with
        O(remove_buckets), which would remove the copy too.
      - CloudWatch Logs may take hours to make its newest events exportable, so the copy can lack
        the last of them; O(remove_logs=false) keeps them all.
    type: bool
    default: false
  remove_snapshots:
    description:
      - With O(state=absent), remove the deployment's manual snapshots too - those carrying its
        C(convex_selfhost:stage) tag, such as the upgrade snapshots, of whichever instance it had -
        but never a final snapshot (C(<instance>-final-<UTC time>)), the last copy of a removed
        instance's data.
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
  restore_snapshot:
    description:
      - Restore this RDS snapshot into a new instance and make it the deployment's database. The
        instance it replaces is kept (see O(remove_kept)); which one is current is recorded in SSM
        (the stage model's C(database_record)), so later runs keep using the new one.
      - The new instance's name follows from the source, so a restore that failed half-way is
        taken up again by the same command. Once it is current, the same command changes nothing.
      - A protected deployment needs O(confirm). Waits until the new instance is available.
    type: str
    default: ""
  restore_time:
    description:
      - Like O(restore_snapshot), from the current instance as it was at this moment (ISO 8601
        with a time zone, such as C(2026-11-24T09:30:00Z)), within its backup retention.
    type: str
    default: ""
  remove_kept:
    description:
      - Delete this kept instance (one a restore replaced), with a final snapshot. Always needs
        O(confirm).
    type: str
    default: ""
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
logs:
  description:
    - The CloudWatch Logs group of the containers' logs - C(name) and C(retention_days); with
      O(state=absent) and O(remove_logs), C(removed), and C(exported_to), where O(export_logs)
      copied them (empty without).
  returned: with O(state=present), and with O(state=absent) and O(remove_logs)
  type: dict
caddy_storage:
  description:
    - The secret holding the copy of Caddy's storage - C(secret_name), and with O(state=present)
      C(secret_arn); with O(state=absent), C(deletion_date), when Secrets Manager deletes it.
  returned: always
  type: dict
watch:
  description:
    - What watches the deployment - C(topic_arn), the SNS topic every alarm notifies; C(email),
      the address subscribed to it (C(address), C(state)); C(alarms), the alarms' names;
      C(dashboard), the CloudWatch dashboard's name; C(namespace), where the host puts its metrics.
    - With O(state=absent), C(removed).
  returned: always
  type: dict
database:
  description:
    - What the database module returns for the deployment's database. With O(state=absent),
      C(kept_snapshot_identifiers) lists the final snapshots of the kept instances removed with it;
      with O(remove_kept), C(removed_snapshot_identifier) names the removed one's.
  returned: with O(state=present), and with O(state=absent) when a final snapshot was taken
  type: dict
database_record:
  description: Which instance is the deployment's database (C(current)), and which are kept (C(kept)).
  returned: with O(state=present)
  type: dict
host:
  description: What the instance module returns for the deployment's host.
  returned: with O(state=present)
  type: dict
snapshots_removed:
  description: With O(remove_snapshots), the manual snapshots removed.
  returned: with O(state=absent) and O(remove_snapshots)
  type: list
  elements: str
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

import datetime

from ansible_collections.convex_selfhost.aws.plugins.module_utils import (
    buckets,
    caddy_storage,
    database,
    database_input,
    database_record,
    host,
    log_group,
    network,
    protection,
    records,
    watch,
)
from ansible_collections.convex_selfhost.aws.plugins.module_utils.actions import Actions
from ansible_collections.convex_selfhost.aws.plugins.module_utils.deployment_plan import NEW, input_problems, resources
from ansible_collections.convex_selfhost.aws.plugins.module_utils.module import ConvexAWSModule
from ansible_collections.convex_selfhost.aws.plugins.module_utils.stage import STAGE_TAG


def logs_problems(params):
    problems = []
    if params["export_logs"] and not (params["state"] == "absent" and params["remove_logs"]):
        problems.append("export_logs goes with state=absent and remove_logs: the logs are copied as the group goes")
    if params["export_logs"] and params["remove_buckets"]:
        problems.append(
            "export_logs with remove_buckets: the copy would go with the exports bucket; keep the buckets, or "
            "leave the logs unexported"
        )
    return problems


def database_problems(params, stage):
    """What is wrong with a restore or a removal asked of the database, before any AWS call."""
    problems = []
    if params["state"] == "absent" and (params["restore_snapshot"] or params["restore_time"] or params["remove_kept"]):
        problems.append("restore_snapshot, restore_time and remove_kept go with state=present")
    if params["restore_snapshot"] and params["restore_time"]:
        problems.append("restore_snapshot and restore_time: give one source to restore from, not both")
    if params["restore_time"] and database_input.restore_time_problem(params["restore_time"]):
        problems.append(f"restore_time {database_input.restore_time_problem(params['restore_time'])}")
    kept = stage.get("database_kept") or []
    removing = params["remove_kept"]
    if removing and removing not in kept:
        problems.append(
            f"remove_kept: {removing} is not a kept database of {stage['name']} (kept: {', '.join(kept) or 'none'})"
        )
    if removing and params["confirm"] != stage["name"]:
        problems.append(
            f"remove_kept: deleting the database {removing} needs the deployment's name as confirmation "
            f"(-e {params['confirm_variable']}={stage['name']})"
        )
    return problems


def restore_target(module, stage):
    """The new instance a restore makes; None when none is asked, or when the current instance is
    already the one this source gave (a re-run of the same restore changes nothing)."""
    source = module.params["restore_snapshot"] or module.params["restore_time"]
    if not source:
        return None
    target = database_record.restored_name(stage["resource_name"], source)
    if target == stage["database_instance"]:
        return None
    if target in stage["database_kept"]:
        module.fail_json(
            msg=f"{target}, restored from {source} before, is kept but no longer current; its data may have changed "
            f"since. Remove it first (remove_kept={target}) to restore {source} again; nothing was changed"
        )
    return target


def present(module, actions, wanted):
    stage, params = module.params["stage"], module.params
    made_database = database.Database(module, wanted["database"], actions)
    # The host as the stage model read it moments ago, in this run: it is read once.
    made_host = host.Host(module, wanted["host"], actions, seen=stage.get("host_seen"))
    # Protection recorded in AWS is checked before anything is written; its reads are the ones
    # the host and database use below.
    found = protection.guard(module, stage, made_host, made_database, removing=False)
    target = restore_target(module, stage)
    if target:
        # A restore replaces the deployment's data: protection stops it too, unless confirmed.
        why = protection.replacing_refusal(
            stage["name"], found, stage["protected"], params["confirm"], params["confirm_variable"]
        )
        if why:
            module.fail_json(msg=why, protection=found)
        wanted["database"].update(
            instance_identifier=target,
            restore_snapshot=params["restore_snapshot"] or None,
            restore_time=params["restore_time"] or None,
            restore_source=stage["database_instance"],
        )
        made_database = database.Database(module, wanted["database"], actions)
        # A snapshot that cannot be restored stops the run before the network or anything else
        # is touched.
        made_database.refuse_unrestorable()
    made_network = network.Network(module, wanted["network"], actions)
    made_buckets = buckets.Buckets(module, wanted["buckets"], actions)
    made_logs = log_group.LogGroup(module, wanted["logs"], actions)
    made_watch = watch.Watch(module, wanted["watch"], actions)
    made_storage = caddy_storage.CaddyStorage(module, wanted["caddy_storage"], actions)
    net, stored, logs, topic, storage = actions.parallel(
        made_network.ensure, made_buckets.ensure, made_logs.ensure, made_watch.ensure_topic, made_storage.ensure
    )
    wanted["database"].update(
        subnet_ids=net.get("private_subnet_ids") or [NEW, NEW],
        security_group_ids=[net.get("database_security_group_id") or NEW],
    )
    wanted["host"].update(
        subnet_id=(net.get("public_subnet_ids") or [NEW])[0],
        security_group_ids=[net.get("host_security_group_id") or NEW],
    )
    db, machine = actions.parallel(made_database.ensure, made_host.ensure)
    if wanted["records"]["zone"] and machine.get("public_ip"):
        names = module.params["stage"]["host_names"].values()
        wanted["records"]["records"] = dict.fromkeys(names, machine["public_ip"])
        retired = module.params["stage"].get("retired_host_names", {}).values()
        wanted["records"]["retired"] = dict.fromkeys(retired, machine["public_ip"])
        records.Records(module, wanted["records"], actions).ensure()
    record = {"current": stage["database_instance"], "kept": list(stage["database_kept"])}
    if module.params["wait_for_database"] or target:
        made_database.params["wait"] = True
        db = made_database.ensure()
    if target:
        # Only a restored instance that is available, with the stage's password, becomes the
        # deployment's database; the one it replaces is kept.
        db = made_database.finish_restore() or db
        record = {"current": target, "kept": [*record["kept"], record["current"]]}
        database_record.write(actions, module.aws_client("ssm"), stage["database_record"], record)
    if params["remove_kept"]:
        removed = made_database.remove_instance(params["remove_kept"], lift=True)
        record["kept"] = [k for k in record["kept"] if k != params["remove_kept"]]
        database_record.write(actions, module.aws_client("ssm"), stage["database_record"], record)
        db = {**db, "removed_snapshot_identifier": removed.get("snapshot_identifier", "")}
    # The alarms follow the host and the database they watch: a new instance, a restored
    # database, a storage that autoscaling grew.
    made_watch.params.update(
        instance_id=machine.get("instance_id") or "",
        database_instance=db.get("instance_identifier") or "",
        database_storage_gb=db.get("allocated_storage") or made_watch.params["database_storage_gb"],
    )
    return {
        "watch": {**topic, **made_watch.ensure()},
        "network": net,
        "buckets": stored,
        "logs": logs,
        "caddy_storage": storage,
        "database": db,
        "host": machine,
        "database_record": record,
    }


def absent(module, actions, wanted):
    """Every protection is checked before anything is removed (and, when confirmed, lifted);
    then the newest parts first: DNS, host, database, then (when asked) the buckets, the network."""
    made_host = host.Host(module, wanted["host"], actions)
    made_database = database.Database(module, wanted["database"], actions)
    found = protection.guard(module, module.params["stage"], made_host, made_database, removing=True)
    protection.lift(made_host, found)
    # What watches the deployment goes first: its host silent while the database is removed
    # (minutes, with a final snapshot) would set off the alarm on a silent host.
    watched = watch.Watch(module, wanted["watch"], actions).remove()
    if wanted["records"]["zone"]:
        # A name the deployment once served (an app since turned off) goes too, if it still
        # points at the host.
        machine = made_host.find_instance() or {}
        retired = module.params["stage"].get("retired_host_names", {}).values()
        wanted["records"].update(
            records=dict.fromkeys(module.params["stage"]["host_names"].values(), ""),
            retired=dict.fromkeys(retired, machine.get("PublicIpAddress", "")),
            state="absent",
        )
        records.Records(module, wanted["records"], actions).ensure()
    made_host.remove(lifted=True)
    # The copy of Caddy's storage only once the host that writes it is gone; it stays recoverable.
    storage = caddy_storage.CaddyStorage(module, wanted["caddy_storage"], actions).remove()
    wanted["database"]["skip_final_snapshot"] = not module.params["final_snapshot"]
    stage = module.params["stage"]
    result = {
        "database": made_database.remove(lift=True, kept=stage.get("database_kept") or []),
        "protection_lifted": found,
        "watch": watched,
        "caddy_storage": storage,
    }
    if module.params["remove_snapshots"]:
        result["snapshots_removed"] = made_database.remove_snapshots(STAGE_TAG, stage["name"])
    # With its instances gone, the record of which was current would name what no longer exists.
    database_record.remove(actions, module.aws_client("ssm"), stage["database_record"])
    # The containers' logs go with the host that wrote them, unless kept (remove_logs=false).
    if module.params["remove_logs"]:
        group = log_group.LogGroup(module, wanted["logs"], actions)
        exported = None
        if module.params["export_logs"]:
            when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
            exported = group.export(
                stage["buckets"]["exports"], f"cloudwatch-logs/{stage['resource_name']}/{when}", stage["account_id"]
            )
        result["logs"] = {**group.remove(), "exported_to": exported or ""}
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
            "remove_snapshots": {"type": "bool", "default": False},
            "remove_logs": {"type": "bool", "default": True},
            "export_logs": {"type": "bool", "default": False},
            "confirm": {"type": "str", "default": ""},
            "confirm_variable": {"type": "str", "default": "confirm"},
            "restore_snapshot": {"type": "str", "default": ""},
            "restore_time": {"type": "str", "default": ""},
            "remove_kept": {"type": "str", "default": ""},
        }
    )
    stage = module.params["stage"]
    wanted = resources(stage, module.params["master_password"])
    module.refuse_bad_input(
        input_problems(wanted) + database_problems(module.params, stage) + logs_problems(module.params)
    )
    actions = Actions(module, {"tags": stage["tags"], "purge_tags": True})
    result = absent(module, actions, wanted) if module.params["state"] == "absent" else present(module, actions, wanted)
    module.exit_json(**actions.outcome(), **result)


if __name__ == "__main__":
    main()
