# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Each resource's options of one deployment, from its stage model alone, and every problem with
them. The deployment module makes the resources from these; the stage model (stage_info) checks
the very same options before a run writes anything, so a problem only a resource's own rules
know (writes.py's lost answers aside) never stops a run half-way, after its secrets are written."""

from __future__ import annotations

from ansible_collections.convex_selfhost.aws.plugins.module_utils import (
    buckets,
    caddy_storage,
    database,
    host,
    log_group,
    network,
    records,
    watch,
)

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
                # Another instance than the one named after the deployment, after a restore.
                "instance_identifier": stage.get("database_instance") or stage["resource_name"],
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
                # A host the model found to resize is resized before provisioning (resize.yml), which
                # then reads it again; until then (check mode) it is the type it is.
                "instance_type": (stage.get("host_resize") or {}).get("from") or settings["stage_instance_type"],
                "image_id": stage.get("image_id") or None,
                "root_volume_size": settings["stage_root_volume_gb"],
                "bucket_arns": stage["bucket_arns"],
                "log_group_arn": stage["log_group_arn"],
                "metric_namespace": stage["metric_namespace"],
                "caddy_storage_arn": stage["caddy_storage_arn"],
                "key_name": settings["stage_ssh_key_name"] or None,
                "termination_protection": stage["protected"],
                "recovery_alarm": settings["stage_recovery_alarm"],
                **tags,
            },
        ),
        "logs": options(
            log_group.ARGUMENT_SPEC,
            {"name": stage["log_group"], "retention_days": settings["stage_log_retention_days"], **tags},
        ),
        "caddy_storage": options(
            caddy_storage.ARGUMENT_SPEC,
            {"name": stage["caddy_storage_secret"], "role_arn": stage["host_role_arn"], **tags},
        ),
        "watch": options(
            watch.ARGUMENT_SPEC,
            {
                "name": stage["resource_name"],
                "namespace": stage["metric_namespace"],
                "account_id": stage["account_id"],
                "email": settings["stage_alarm_email"],
                "topic_arns": settings["stage_alarm_topic_arns"],
                "database_storage_gb": settings["stage_db_storage_gb"],
                "export_timer": stage["export_timer"],
                "memory_percent": settings["stage_alarm_memory_percent"],
                "disk_percent": settings["stage_alarm_disk_percent"],
                "backend_down_minutes": settings["stage_alarm_backend_minutes"],
                "silent_minutes": settings["stage_alarm_silent_minutes"],
                "status_check_minutes": settings["stage_alarm_status_check_minutes"],
                "export_hours": settings["stage_alarm_export_hours"],
                "database_free_percent": settings["stage_alarm_database_free_percent"],
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
        ("logs", log_group.input_problems),
        ("caddy_storage", caddy_storage.input_problems),
        ("watch", watch.input_problems),
    ):
        problems.extend(f"stage ({name}): {problem}" for problem in check(wanted[name]))
    return problems
