# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The RDS MySQL 8 server of a Convex deployment, with its subnet group and a parameter group that
requires TLS. Used by the database module and by the deployment module."""

from __future__ import annotations

import re
import time

from ansible_collections.convex_selfhost.aws.plugins.module_utils import database_input
from ansible_collections.convex_selfhost.aws.plugins.module_utils import tags as tag_helpers
from ansible_collections.convex_selfhost.aws.plugins.module_utils.actions import Actions, aws_tags, dict_tags
from ansible_collections.convex_selfhost.aws.plugins.module_utils.database_input import input_problems

__all__ = ["ARGUMENT_SPEC", "Database", "describe", "input_problems"]

ARGUMENT_SPEC = {
    "name": {"type": "str", "required": True},
    "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
    "engine_version": {"type": "str", "default": "8.4"},
    "instance_class": {"type": "str", "default": "db.t4g.micro"},
    "allocated_storage": {"type": "int", "default": 20},
    "subnet_ids": {"type": "list", "elements": "str", "default": []},
    "security_group_ids": {"type": "list", "elements": "str", "default": []},
    "master_username": {"type": "str", "default": "convex"},
    "master_password": {"type": "str", "no_log": True},
    "database_name": {"type": "str", "default": "convex_self_hosted"},
    "backup_retention_days": {"type": "int", "default": 7},
    "deletion_protection": {"type": "bool", "default": False},
    "multi_az": {"type": "bool", "default": False},
    "max_allocated_storage": {"type": "int", "default": 0},
    "kms_key_id": {"type": "str"},
    "wait": {"type": "bool", "default": False},
    "wait_timeout": {"type": "int", "default": 1800},
    "snapshot_identifier": {"type": "str"},
    "skip_final_snapshot": {"type": "bool", "default": False},
    "final_snapshot_identifier": {"type": "str"},
    "instance_identifier": {"type": "str"},
    "restore_snapshot": {"type": "str"},
    "restore_time": {"type": "str"},
    "restore_source": {"type": "str"},
    **tag_helpers.ARGUMENT_SPEC,
}

SECURE_TRANSPORT = "require_secure_transport"
INSTANCE_MISSING = {"DBInstanceNotFound", "DBInstanceNotFoundFault"}
SNAPSHOT_MISSING = {"DBSnapshotNotFound", "DBSnapshotNotFoundFault"}
# Final snapshots are named <instance>-final-<UTC time>; nothing this collection does removes one.
FINAL_TIME = "%Y%m%d%H%M%S"
FINAL_SNAPSHOT = re.compile(r"-final-\d{14}$")
SUBNET_GROUP_MISSING = {"DBSubnetGroupNotFoundFault"}
PARAMETER_GROUP_MISSING = {"DBParameterGroupNotFound", "DBParameterGroupNotFoundFault"}


def resilience_changes(instance, params):
    """The Multi-AZ and storage autoscaling settings that differ, as ModifyDBInstance fields."""
    modify = {}
    if bool(instance.get("MultiAZ")) != params["multi_az"]:
        modify["MultiAZ"] = params["multi_az"]
    # RDS turns storage autoscaling off when the maximum is set to the allocated size.
    limit, current = params["max_allocated_storage"], instance.get("MaxAllocatedStorage") or 0
    if (limit and current != limit) or (not limit and current > instance["AllocatedStorage"]):
        modify["MaxAllocatedStorage"] = limit or instance["AllocatedStorage"]
    return modify


def settings_changes(instance, params):
    """The settings of a running instance that differ from params, as ModifyDBInstance fields
    (the engine version and parameter group aside)."""
    modify = {}
    if instance["DBInstanceClass"] != params["instance_class"]:
        modify["DBInstanceClass"] = params["instance_class"]
    if instance["AllocatedStorage"] < params["allocated_storage"]:
        modify["AllocatedStorage"] = params["allocated_storage"]
    if instance.get("BackupRetentionPeriod") != params["backup_retention_days"]:
        modify["BackupRetentionPeriod"] = params["backup_retention_days"]
    if instance.get("DeletionProtection") != params["deletion_protection"]:
        modify["DeletionProtection"] = params["deletion_protection"]
    modify.update(resilience_changes(instance, params))
    if instance.get("PubliclyAccessible"):
        modify["PubliclyAccessible"] = False
    # Set at creation, and kept so: snapshots carry the tags (teardown and restores find them by
    # the stage tag), and minor versions get their security fixes.
    for setting in ("CopyTagsToSnapshot", "AutoMinorVersionUpgrade"):
        if instance.get(setting) is False:
            modify[setting] = True
    groups = sorted(g["VpcSecurityGroupId"] for g in instance.get("VpcSecurityGroups", []))
    if params["security_group_ids"] and groups != sorted(params["security_group_ids"]):
        modify["VpcSecurityGroupIds"] = params["security_group_ids"]
    return modify


def family_of(version):
    return "mysql8.4" if version.startswith("8.4") else "mysql8.0"


class Database:
    """params is the database's options (the module's, or what the deployment module gives).
    name names the subnet and parameter groups; the instance is name too, unless a restore made
    another one (instance_identifier)."""

    def __init__(self, module, params, actions=None):
        self.module = module
        self.params = params
        self.name = params["name"]
        self.instance_name = params.get("instance_identifier") or self.name
        self.rds = module.aws_client("rds")
        self.actions = actions or Actions(module, params)
        self.family = family_of(self.params["engine_version"])
        self.parameter_group = f"{self.name}-{self.family.replace('.', '')}"
        self.found = None  # the instance as last described; None until instance() asks
        self.restore_checked = False

    def call(self, action, method, missing=(), **kwargs):
        return self.actions.call(self.rds, action, method, missing=missing, **kwargs)

    def act(self, description, method, **kwargs):
        return self.actions.act(self.rds, description, method, **kwargs)

    # --- reads ---------------------------------------------------------------------------
    def instance(self, fresh=False):
        """The DB instance, described once per run unless fresh is asked."""
        if self.found is None or fresh:
            self.found = (self.describe_instance(self.instance_name),)
        return self.found[0]

    def describe_instance(self, identifier):
        """One DB instance as RDS describes it, or None."""
        listed = self.call(
            f"look up the DB instance {identifier}",
            "describe_db_instances",
            missing=INSTANCE_MISSING,
            DBInstanceIdentifier=identifier,
        )
        return listed["DBInstances"][0] if listed and listed["DBInstances"] else None

    def found_instance(self):
        """The instance as CreateDBInstance answers, when it exists and is this deployment's (its
        name is RDS's idempotency key: a repeat is refused as DBInstanceAlreadyExists)."""
        instance = self.describe_instance(self.instance_name)
        owned = instance and dict_tags(instance.get("TagList")).get(tag_helpers.MANAGED_BY_KEY)
        return {"DBInstance": instance} if owned else None

    def subnet_group(self):
        found = self.call(
            "look up the DB subnet group",
            "describe_db_subnet_groups",
            missing=SUBNET_GROUP_MISSING,
            DBSubnetGroupName=self.name,
        )
        return (found or {}).get("DBSubnetGroups", [None])[0]

    def secure_transport(self, group):
        """The group's require_secure_transport, or False when the group does not exist."""
        listed = self.call(
            "read the parameter group",
            "describe_db_parameters",
            missing=PARAMETER_GROUP_MISSING,
            DBParameterGroupName=group,
            Source="user",
        )
        if listed is None:
            return False
        return next(
            (p.get("ParameterValue") for p in listed["Parameters"] if p["ParameterName"] == SECURE_TRANSPORT), None
        )

    def wait_for(self, waiter, what, **kwargs):
        if self.module.check_mode:
            return
        delay = 15
        attempts = max(1, self.params["wait_timeout"] // delay)
        try:
            self.rds.wait(waiter, delay=delay, max_attempts=attempts, **kwargs)
        except Exception as error:  # pylint: disable=broad-except
            self.module.fail_json(
                msg=f"{what} did not finish within wait_timeout ({self.params['wait_timeout']} s): {error}; "
                "raise wait_timeout or check the RDS console"
            )

    # --- present -------------------------------------------------------------------------
    def ensure_subnet_group(self, instance):
        # A running instance describes its subnet group; only a new one needs the lookup.
        group = instance.get("DBSubnetGroup") if instance else self.subnet_group()
        wanted = sorted(self.params["subnet_ids"])
        if not group:
            self.act(
                "create the DB subnet group",
                "create_db_subnet_group",
                DBSubnetGroupName=self.name,
                DBSubnetGroupDescription=f"Private subnets of {self.name}",
                SubnetIds=wanted,
                Tags=aws_tags(self.actions.wanted_tags()),
            )
            return
        current = sorted(s["SubnetIdentifier"] for s in group["Subnets"])
        if wanted and current != wanted:
            self.act(
                f"set the subnets of the DB subnet group to {', '.join(wanted)}",
                "modify_db_subnet_group",
                DBSubnetGroupName=self.name,
                SubnetIds=wanted,
            )

    def ensure_parameter_group(self):
        value = self.secure_transport(self.parameter_group)
        if value is False:
            self.act(
                f"create the parameter group {self.parameter_group}",
                "create_db_parameter_group",
                DBParameterGroupName=self.parameter_group,
                DBParameterGroupFamily=self.family,
                Description=f"{self.name}: TLS required for every connection",
                Tags=aws_tags(self.actions.wanted_tags()),
            )
        if value != "1":
            self.act(
                f"set {SECURE_TRANSPORT}=1 in {self.parameter_group}",
                "modify_db_parameter_group",
                DBParameterGroupName=self.parameter_group,
                Parameters=[{"ParameterName": SECURE_TRANSPORT, "ParameterValue": "1", "ApplyMethod": "immediate"}],
            )

    def create_instance(self):
        params = self.params
        request = {
            "DBInstanceIdentifier": self.instance_name,
            "Engine": "mysql",
            "EngineVersion": params["engine_version"],
            "DBInstanceClass": params["instance_class"],
            "AllocatedStorage": params["allocated_storage"],
            "StorageType": "gp3",
            "StorageEncrypted": True,
            "MasterUsername": params["master_username"],
            "MasterUserPassword": params["master_password"],
            "DBName": params["database_name"],
            "DBSubnetGroupName": self.name,
            "DBParameterGroupName": self.parameter_group,
            "VpcSecurityGroupIds": params["security_group_ids"],
            "PubliclyAccessible": False,
            "BackupRetentionPeriod": params["backup_retention_days"],
            "DeletionProtection": params["deletion_protection"],
            "MultiAZ": params["multi_az"],
            "CopyTagsToSnapshot": True,
            "AutoMinorVersionUpgrade": True,
            "Tags": aws_tags(self.actions.wanted_tags()),
        }
        if params["kms_key_id"]:
            request["KmsKeyId"] = params["kms_key_id"]
        if params["max_allocated_storage"]:
            request["MaxAllocatedStorage"] = params["max_allocated_storage"]
        created = self.act(
            f"create the MySQL {params['engine_version']} instance {self.instance_name}",
            "create_db_instance",
            find=self.found_instance,
            **request,
        )
        return created["DBInstance"] if created else None

    def repair_instance(self, instance):
        params = self.params
        if not instance.get("StorageEncrypted"):
            self.module.fail_json(
                msg=f"the DB instance {self.instance_name} is not encrypted and RDS cannot encrypt it in place: "
                "restore a snapshot into an encrypted instance, or remove it"
            )
        running = instance.get("EngineVersion", "")
        wanted = params["engine_version"]
        if running.split(".")[:2] != wanted.split(".")[:2]:
            self.module.fail_json(
                msg=f"engine_version {wanted} would change the MySQL major version from {running}; this module does "
                "not do major upgrades: set engine_version back, or upgrade by snapshot and restore"
            )
        modify = settings_changes(instance, params)
        if wanted.count(".") == 2 and running != wanted:
            modify["EngineVersion"] = wanted
        in_use = [g["DBParameterGroupName"] for g in instance.get("DBParameterGroups", [])]
        if self.parameter_group not in in_use:
            modify["DBParameterGroupName"] = self.parameter_group
        if modify:
            self.act(
                f"modify {self.instance_name}: {', '.join(sorted(modify))}",
                "modify_db_instance",
                DBInstanceIdentifier=self.instance_name,
                ApplyImmediately=True,
                **modify,
            )
        arn = instance["DBInstanceArn"]
        self.actions.repair_tags(
            self.instance_name,
            dict_tags(instance.get("TagList")),
            self.actions.wanted_tags(),
            add=lambda tags: self.call(
                f"tag {self.instance_name}", "add_tags_to_resource", ResourceName=arn, Tags=aws_tags(tags)
            ),
            remove=lambda keys: self.call(
                f"untag {self.instance_name}", "remove_tags_from_resource", ResourceName=arn, TagKeys=keys
            ),
        )

    def ensure_snapshot(self):
        identifier = self.params["snapshot_identifier"]
        found = self.call(
            "look up the snapshot",
            "describe_db_snapshots",
            missing={"DBSnapshotNotFound", "DBSnapshotNotFoundFault"},
            DBSnapshotIdentifier=identifier,
        )
        if not found or not found["DBSnapshots"]:
            self.act(
                f"take the snapshot {identifier}",
                "create_db_snapshot",
                DBSnapshotIdentifier=identifier,
                DBInstanceIdentifier=self.instance_name,
                Tags=aws_tags(self.actions.wanted_tags()),
            )
        if self.params["wait"]:
            self.wait_for("db_snapshot_available", f"the snapshot {identifier}", DBSnapshotIdentifier=identifier)

    # --- restore -------------------------------------------------------------------------
    def restoring(self):
        return bool(self.params["restore_snapshot"] or self.params["restore_time"])

    def refuse_unrestorable(self):
        """Stop the run, before anything is made, when the restore cannot start. Asked once: the
        deployment module asks before it touches the network, ensure() again for the database
        module."""
        if self.restore_checked or not self.restoring() or self.instance() is not None:
            return
        self.restore_checked = True
        problems = self.restore_problems()
        if problems:
            self.module.fail_json(msg="; ".join(problems) + "; nothing was changed")

    def restore_problems(self):
        """Why the restore cannot start: the snapshot must exist, be of MySQL and be encrypted
        (RDS cannot encrypt the restored instance otherwise)."""
        snapshot = self.params["restore_snapshot"]
        if not snapshot:
            return []
        found = self.call(
            "look up the snapshot to restore",
            "describe_db_snapshots",
            missing=SNAPSHOT_MISSING,
            DBSnapshotIdentifier=snapshot,
        )
        if not found or not found["DBSnapshots"]:
            return [f"restore_snapshot: no RDS snapshot {snapshot} exists in this account and region"]
        problems = []
        if found["DBSnapshots"][0].get("Engine") != "mysql":
            problems.append(f"restore_snapshot: {snapshot} is a {found['DBSnapshots'][0].get('Engine')} snapshot")
        if not found["DBSnapshots"][0].get("Encrypted"):
            problems.append(f"restore_snapshot: {snapshot} is not encrypted, and its restored instance would not be")
        return problems

    def restore_instance(self):
        """The new instance, from the snapshot or the source instance at a point in time, with the
        deployment's groups, class and tags (a restore takes none of them from its source)."""
        params = self.params
        request = {
            "DBInstanceClass": params["instance_class"],
            "DBSubnetGroupName": self.name,
            "DBParameterGroupName": self.parameter_group,
            "VpcSecurityGroupIds": params["security_group_ids"],
            "PubliclyAccessible": False,
            "MultiAZ": params["multi_az"],
            "DeletionProtection": params["deletion_protection"],
            "CopyTagsToSnapshot": True,
            "AutoMinorVersionUpgrade": True,
            "StorageType": "gp3",
            "Tags": aws_tags(self.actions.wanted_tags()),
        }
        if params["max_allocated_storage"]:
            request["MaxAllocatedStorage"] = params["max_allocated_storage"]
        if params["restore_snapshot"]:
            restored = self.act(
                f"restore the snapshot {params['restore_snapshot']} into the new instance {self.instance_name}",
                "restore_db_instance_from_db_snapshot",
                find=self.found_instance,
                DBInstanceIdentifier=self.instance_name,
                DBSnapshotIdentifier=params["restore_snapshot"],
                **request,
            )
        else:
            source = params["restore_source"] or self.name
            restored = self.act(
                f"restore {source} as it was at {params['restore_time']} into the new instance {self.instance_name}",
                "restore_db_instance_to_point_in_time",
                find=self.found_instance,
                SourceDBInstanceIdentifier=source,
                TargetDBInstanceIdentifier=self.instance_name,
                RestoreTime=database_input.moment(params["restore_time"]),
                **request,
            )
        return restored["DBInstance"] if restored else None

    def finish_restore(self):
        """Once the restored instance is available: the stage's password (a snapshot carries its
        source's) and the settings a restore does not take (backup retention), so the next run
        finds nothing to change."""
        instance = self.instance(fresh=True)
        if instance is None:  # check mode: the restore was only recorded
            return {}
        self.act(
            f"set the administrator password of {self.instance_name} to the stage's",
            "modify_db_instance",
            DBInstanceIdentifier=self.instance_name,
            MasterUserPassword=self.params["master_password"],
            ApplyImmediately=True,
        )
        self.repair_instance(instance)
        self.wait_for(
            "db_instance_available", f"the DB instance {self.instance_name}", DBInstanceIdentifier=self.instance_name
        )
        return describe(self.instance(fresh=True))

    def ensure(self):
        instance = self.instance()
        self.refuse_unrestorable()
        if instance is None and not self.restoring():
            # Checked before the groups are made, so a refused run leaves nothing behind.
            missing = []
            # Check mode only says the instance would be made: a first run's check has no stored
            # password yet (the secret module makes it for real runs only).
            if not self.params["master_password"] and not self.module.check_mode:
                missing.append("master_password (pass the stored secret)")
            if len(self.params["subnet_ids"]) < 2:
                missing.append("subnet_ids (at least two private subnets)")
            if missing:
                self.module.fail_json(
                    msg=f"{' and '.join(missing)} must be set to create the database; nothing was changed"
                )
        self.ensure_subnet_group(instance)
        self.ensure_parameter_group()
        if instance is None:
            instance = self.restore_instance() if self.restoring() else self.create_instance()
        else:
            self.repair_instance(instance)
        result = {}
        if self.params["snapshot_identifier"] and instance is not None:
            self.ensure_snapshot()
            result["snapshot_identifier"] = self.params["snapshot_identifier"]
        if self.params["wait"] and instance is not None:
            self.wait_for(
                "db_instance_available",
                f"the DB instance {self.instance_name}",
                DBInstanceIdentifier=self.instance_name,
            )
        if self.actions.changes and not self.module.check_mode or self.params["wait"]:
            instance = self.instance(fresh=True) or instance
        result.update(describe(instance))
        self.found = None  # a later ensure (waiting for the database) describes it afresh
        return result

    # --- absent --------------------------------------------------------------------------
    def remove_instance(self, identifier, lift):
        """Delete one instance, with a final snapshot unless skip_final_snapshot (whose identifier
        is returned). lift: the operator confirmed the removal, so deletion protection is turned
        off first; without it a protected instance stops the run."""
        instance = self.describe_instance(identifier)
        if instance is None:
            return {}
        protected = instance.get("DeletionProtection")
        if protected and not lift:
            self.module.fail_json(
                msg=f"the DB instance {identifier} has deletion protection on; nothing was deleted. Set "
                "deletion_protection: false with state: present first if it really must go"
            )
        if protected:
            self.act(
                f"turn off the deletion protection of {identifier}",
                "modify_db_instance",
                DBInstanceIdentifier=identifier,
                DeletionProtection=False,
                ApplyImmediately=True,
            )
        if lift:
            # RDS refuses to delete an instance still applying the change that lifted it.
            self.wait_for(
                "db_instance_available", f"lifting the protection of {identifier}", DBInstanceIdentifier=identifier
            )
        request = {"DBInstanceIdentifier": identifier, "DeleteAutomatedBackups": False}
        result = {}
        if self.params["skip_final_snapshot"]:
            request["SkipFinalSnapshot"] = True
        else:
            final = (identifier == self.instance_name and self.params["final_snapshot_identifier"]) or (
                f"{identifier}-final-{time.strftime(FINAL_TIME, time.gmtime())}"
            )
            request["FinalDBSnapshotIdentifier"] = final
            result["snapshot_identifier"] = final
        self.act(f"delete the DB instance {identifier}", "delete_db_instance", **request)
        self.wait_for("db_instance_deleted", f"deleting {identifier}", DBInstanceIdentifier=identifier)
        return result

    def remove_snapshots(self, tag, value):
        """Delete the manual snapshots that carry tag=value (upgrade snapshots, and those RDS copied
        the instance's tags onto), of whichever instance, but never a final snapshot (taken when
        an instance was deleted: the last copy of its data). Their identifiers."""
        found = self.call(
            "list the manual snapshots", "paginate", operation="describe_db_snapshots", SnapshotType="manual"
        )["DBSnapshots"]
        removed = sorted(
            s["DBSnapshotIdentifier"]
            for s in found
            if dict_tags(s.get("TagList")).get(tag) == value and not FINAL_SNAPSHOT.search(s["DBSnapshotIdentifier"])
        )
        for identifier in removed:
            self.act(f"delete the snapshot {identifier}", "delete_db_snapshot", DBSnapshotIdentifier=identifier)
        return removed

    def remove(self, lift=False, kept=()):
        """The instance, the kept ones (earlier instances a restore replaced), then the groups,
        which cannot go while an instance uses them. lift: the operator confirmed the removal, so
        deletion protection is turned off first."""
        kept_snapshots = [self.remove_instance(identifier, lift=lift) for identifier in kept]
        result = self.remove_instance(self.instance_name, lift=lift)
        if any(kept_snapshots):
            result["kept_snapshot_identifiers"] = [s["snapshot_identifier"] for s in kept_snapshots if s]
        if self.subnet_group():
            self.act("delete the DB subnet group", "delete_db_subnet_group", DBSubnetGroupName=self.name)
        for family in ("mysql8.0", "mysql8.4"):
            group = f"{self.name}-{family.replace('.', '')}"
            if self.secure_transport(group) is not False:
                self.act(f"delete the parameter group {group}", "delete_db_parameter_group", DBParameterGroupName=group)
        return result


def describe(instance):
    if not instance:
        return {}
    endpoint = instance.get("Endpoint") or {}
    return {
        "status": instance.get("DBInstanceStatus"),
        "endpoint_address": endpoint.get("Address", ""),
        "port": endpoint.get("Port", 3306),
        "master_username": instance.get("MasterUsername"),
        "ca_certificate_identifier": instance.get("CACertificateIdentifier"),
        "engine_version": instance.get("EngineVersion"),
        "instance_identifier": instance.get("DBInstanceIdentifier"),
        "allocated_storage": instance.get("AllocatedStorage"),
    }
