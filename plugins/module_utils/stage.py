# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The stage model: one deployment's settings, checked, and every name derived from them.

Everything the playbooks and modules need that follows from the settings (resource names, the
bucket prefix, SSM paths, tags, URLs, image references) is computed here and only here, so no
two places can spell a name differently. settings_problems() reports every problem at once,
each naming its setting; derive() turns checked settings into the model.
"""

from __future__ import annotations

import difflib
import hashlib
import os

from ansible_collections.convex_selfhost.aws.plugins.module_utils import caddy_storage, host_role, rules, watch
from ansible_collections.convex_selfhost.aws.plugins.module_utils.tags import PROTECTED_KEY

BUCKET_PURPOSES = {
    # purpose: (bucket name suffix, the backend's variable)
    "exports": ("exports", "S3_STORAGE_EXPORTS_BUCKET"),
    "snapshot_imports": ("snapshot-imports", "S3_STORAGE_SNAPSHOT_IMPORTS_BUCKET"),
    "modules": ("modules", "S3_STORAGE_MODULES_BUCKET"),
    "files": ("files", "S3_STORAGE_FILES_BUCKET"),
    "search": ("search", "S3_STORAGE_SEARCH_BUCKET"),
}
SECRETS = ("instance_secret", "db_password", "admin_key")
STAGE_TAG = "convex_selfhost:stage"
OPERATING_SYSTEMS = ("debian13", "ubuntu2404")
ARCHITECTURES = ("arm64", "x86_64")
IMAGE_NAMES = ("convex-backend", "convex-dashboard")
METRIC_NAMESPACE = "ConvexSelfhost"


def _text(value):
    return None if isinstance(value, str) else f"{value!r} is a {type(value).__name__}, not text"


def _choice(*choices):
    def problem(value):
        return None if value in choices else f"{value!r} is not one of {', '.join(choices)}"

    return problem


def _optional(rule):
    def problem(value):
        return None if value in ("", None) else rule(value)

    return problem


def _subset(*choices):
    def problem(value):
        if not isinstance(value, list) or any(v not in choices for v in value):
            return f"{value!r} is not a list of some of {', '.join(choices)}"
        return None

    return problem


def _ranges(version=None, why=""):
    def problem(value):
        if not isinstance(value, list):
            return f"{value!r} is not a list of network ranges"
        found = "; ".join(p for p in (rules.cidr_problem(v, version) for v in value) if p)
        return f"{found}{why}" if found else None

    return problem


def _environment(value):
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        return f"{value!r} is not a mapping of environment variable names to text"
    unknown = sorted(k for k in value if not k.startswith("AWS_"))
    return f"only AWS_* variables belong here, not {', '.join(unknown)}" if unknown else None


# name: (default, or REQUIRED, or ROLE_DEFAULT; rule)
REQUIRED = object()
ROLE_DEFAULT = object()
SETTINGS = {
    "stage_name": (REQUIRED, rules.stage_name_problem),
    "stage_region": (REQUIRED, rules.region_problem),
    "stage_protected": (False, rules.boolean_problem),
    "convex_domain": (REQUIRED, rules.domain_problem),
    "convex_version": (REQUIRED, rules.version_problem),
    "convex_instance_name": ("convex-self-hosted", rules.instance_name_problem),
    "convex_image_registry": ("ghcr.io/get-convex", rules.registry_problem),
    "convex_public_port": (443, lambda v: rules.integer_problem(v, 1, 65535)),
    "stage_os": ("debian13", _choice(*OPERATING_SYSTEMS)),
    "stage_architecture": ("arm64", _choice(*ARCHITECTURES)),
    "stage_instance_type": ("t4g.small", _text),
    # An image the host runs, pinned; empty: the newest official image of stage_os at launch. A
    # running host changes its image only through playbooks/replace.yml.
    "stage_image_id": ("", rules.image_id_problem),
    # The host's root volume: grown in place on a later run (never shrunk).
    "stage_root_volume_gb": (30, lambda v: rules.integer_problem(v, 8, 16384)),
    # A swap file on the host (MiB; 0: none), so that a memory spike slows the backend down
    # instead of having it killed.
    "stage_swap_mb": (1024, lambda v: rules.integer_problem(v, 0, 65536)),
    "stage_ssh_key_name": ("", _text),
    "stage_vpc_cidr": ("10.40.0.0/16", rules.vpc_cidr_problem),
    # IPv4 only: the host's one public address, its Elastic IP, is IPv4 (the VPC has no IPv6).
    "stage_ssh_cidrs": ([], _ranges(4, " (the host has only an IPv4 address)")),
    # IPv4 or IPv6: the same rule Caddy's role checks its allowlist with.
    "stage_dashboard_cidrs": ([], _ranges()),
    "stage_db_engine_version": ("8.4", rules.db_engine_version_problem),
    "stage_db_instance_class": ("db.t4g.micro", rules.db_class_problem),
    "stage_db_storage_gb": (20, lambda v: rules.integer_problem(v, 20, 65536)),
    "stage_db_backup_days": (7, lambda v: rules.integer_problem(v, 1, 35)),
    "stage_bucket_versioning": (False, rules.boolean_problem),
    "stage_export_retention_days": (14, lambda v: rules.integer_problem(v, 0, 3650)),
    "stage_noncurrent_version_days": (30, lambda v: rules.integer_problem(v, 1, 3650)),
    "stage_bucket_tls_only": (True, rules.boolean_problem),
    "stage_db_multi_az": (False, rules.boolean_problem),
    "stage_db_max_storage_gb": (0, lambda v: rules.integer_problem(v, 0, 65536)),
    "stage_recovery_alarm": (False, rules.boolean_problem),
    # The backend's and dashboard's logs in CloudWatch Logs: days kept (0: forever).
    "stage_log_retention_days": (30, rules.log_retention_problem),
    # Who hears of the alarms (module_utils/watch.py): an address subscribed to the deployment's
    # SNS topic, and topics of the operator's own (a pager, a chat hook) that every alarm notifies.
    "stage_alarm_email": ("", rules.optional_email_problem),
    "stage_alarm_topic_arns": ([], rules.topic_arns_problem),
    # Each alarm's threshold.
    "stage_alarm_memory_percent": (90, rules.percent_problem),
    "stage_alarm_disk_percent": (85, rules.percent_problem),
    "stage_alarm_backend_minutes": (3, lambda v: rules.integer_problem(v, 1, 1440)),
    "stage_alarm_silent_minutes": (5, lambda v: rules.integer_problem(v, 1, 1440)),
    "stage_alarm_status_check_minutes": (3, lambda v: rules.integer_problem(v, 1, 1440)),
    "stage_alarm_export_hours": (26, lambda v: rules.integer_problem(v, 1, 8760)),
    "stage_alarm_database_free_percent": (10, rules.percent_problem),
    "stage_open_to_world": ([], _subset("ssh", "dashboard")),
    "stage_extra_tags": ({}, rules.extra_tags_problem),
    "stage_dns_zone": ("", _optional(rules.domain_problem)),
    "stage_aws_environment": ({}, _environment),
    "caddy_api_prefix": ("api", rules.dns_label_problem),
    "caddy_site_prefix": ("site", rules.dns_label_problem),
    "caddy_dashboard_prefix": ("dashboard", rules.dns_label_problem),
    # An app served beside the backend: a built static app on the controller (Vite's dist/, say;
    # an absolute path), served on <caddy_app_prefix>.<convex_domain>. Empty: no app.
    "stage_frontend_dir": ("", _optional(rules.absolute_path_problem)),
    "caddy_app_prefix": ("app", rules.dns_label_problem),
    "caddy_tls": ("acme", _choice("acme", "internal")),
    "caddy_acme_email": ("", _text),
    "caddy_dashboard_access": ("cidrs", _choice("cidrs", "basic_auth", "both")),
    # What a stage may add to a run: tasks for its host just before Convex starts (the local
    # stage's stand-in for RDS), where to write a host's internal CA for this machine, a hint for
    # a registry that cannot be reached, and how to print the admin key for it.
    "stage_host_extra_tasks": ("", _text),
    "stage_local_ca_file": ("", _text),
    "stage_release_hint": ("", _text),
    "stage_admin_key_command": ("", _text),
    # The roles' own settings that the controller can judge: checked here too when given, so that
    # a bad one stops the run before anything changes, not on the host after provisioning. Their
    # defaults are the roles' (ROLE_DEFAULT: not part of the model's settings).
    "convex_export_schedule": (ROLE_DEFAULT, rules.calendar_problem),
    "convex_backend_env": (ROLE_DEFAULT, rules.backend_env_problem),
    "caddy_dashboard_users": (ROLE_DEFAULT, rules.dashboard_users_problem),
}
INTEGERS = (
    "convex_public_port",
    "stage_root_volume_gb",
    "stage_swap_mb",
    "stage_db_storage_gb",
    "stage_db_backup_days",
    "stage_export_retention_days",
    "stage_noncurrent_version_days",
    "stage_log_retention_days",
    "stage_db_max_storage_gb",
    "stage_alarm_memory_percent",
    "stage_alarm_disk_percent",
    "stage_alarm_backend_minutes",
    "stage_alarm_silent_minutes",
    "stage_alarm_status_check_minutes",
    "stage_alarm_export_hours",
    "stage_alarm_database_free_percent",
)
BOOLEANS = (
    "stage_protected",
    "stage_bucket_versioning",
    "stage_bucket_tls_only",
    "stage_db_multi_az",
    "stage_recovery_alarm",
)


def unknown_problems(given):
    """A stage_* variable that is no setting is a typo (stage_instnace_type) that would be
    silently ignored: name it, with the setting meant."""
    known = [name for name in SETTINGS if name.startswith("stage_")]
    problems = []
    for name in sorted(n for n in given if n.startswith("stage_") and n not in SETTINGS):
        close = difflib.get_close_matches(name, known, n=1)
        problems.append(f"{name} is not a setting{f' (did you mean {close[0]}?)' if close else ''}")
    return problems


# Connections that reach the host over SSH at its Elastic IP (the local stage's are Docker's).
SSH_CONNECTIONS = ("ssh", "smart", "paramiko", "ansible.builtin.ssh", "ansible.builtin.paramiko_ssh")


def reach_problems(values, connection):
    """A host reached over SSH needs a key pair and a range to come from; without them a run would
    build all of AWS and then wait minutes for a host it can never reach."""
    if connection not in SSH_CONNECTIONS:
        return []
    problems = []
    if not values["stage_ssh_key_name"]:
        problems.append(f"stage_ssh_key_name is empty, so the host could not be reached over SSH ({connection})")
    if not values["stage_ssh_cidrs"]:
        problems.append(f"stage_ssh_cidrs is empty, so no address could reach the host over SSH ({connection})")
    return problems


def world_problems(values):
    """Everyone may reach SSH or the dashboard only where stage_open_to_world says it is meant."""
    problems = []
    for kind, setting in (("ssh", "stage_ssh_cidrs"), ("dashboard", "stage_dashboard_cidrs")):
        # Compared as networks: ::0/0, 0.0.0.0/00 and 0.0.0.0/1 with 128.0.0.0/1 are everyone too.
        world = rules.everyone_in(values[setting])
        if world and kind not in values["stage_open_to_world"]:
            problems.append(
                f"{setting}: {', '.join(world)} lets anyone on the internet reach the {kind}; name your own ranges, "
                f"or add {kind} to stage_open_to_world to say that is meant"
            )
    return problems


def settings_problems(given, connection="ssh", app_build=False):
    """Every problem with the settings, each naming its setting; empty when all is well.
    Settings that relate to each other are checked once each alone is usable. connection is how
    Ansible reaches the deployment's host; app_build, whether this run copies the app's build to
    it (only such a run needs the build to be there)."""
    problems = unknown_problems(given)
    for name, (default, rule) in SETTINGS.items():
        if name not in given or given[name] is None:
            if default is REQUIRED:
                problems.append(f"{name} is not set")
            continue
        problem = rule(given[name])
        if problem:
            problems.append(f"{name}: {problem}")
    if problems:
        return problems
    values = normalized(given)
    problems.extend(reach_problems(values, connection))
    problem = rules.instance_type_problem(values["stage_instance_type"], values["stage_architecture"])
    if problem:
        problems.append(f"stage_instance_type: {problem}")
    problem = rules.swap_problem(values["stage_swap_mb"], values["stage_root_volume_gb"])
    if problem:
        problems.append(f"stage_swap_mb: {problem} (stage_root_volume_gb)")
    problems.extend(site_problems(values, given, app_build))
    problems.extend(world_problems(values))
    problems.extend(database_problems(values))
    # An alarm notifies topics of its own region only (CloudWatch's PutMetricAlarm refuses others).
    elsewhere = [arn for arn in values["stage_alarm_topic_arns"] if arn.split(":")[3] != values["stage_region"]]
    if elsewhere:
        problems.append(
            f"stage_alarm_topic_arns: {', '.join(elsewhere)} not in {values['stage_region']}, the stage's region, "
            "where its alarms are"
        )
    own_topic = watch.topic_name(resource_name(values))
    own = [arn for arn in values["stage_alarm_topic_arns"] if arn.endswith(f":{own_topic}")]
    if own:
        problems.append(f"stage_alarm_topic_arns: {own[0]} is the deployment's own topic, which every alarm has")
    zone = values["stage_dns_zone"]
    if zone and not (values["convex_domain"] == zone or values["convex_domain"].endswith("." + zone)):
        problems.append(f"stage_dns_zone: {zone!r} does not hold convex_domain {values['convex_domain']!r}")
    return problems


def site_problems(values, given, app_build):
    """What Caddy serves: different names, an ACME contact, a dashboard someone can open, the app."""
    problems = []
    prefixes = [values[f"caddy_{kind}_prefix"] for kind in site_kinds(values)]
    if len(set(prefixes)) != len(prefixes):
        names = ", ".join(f"caddy_{kind}_prefix" for kind in site_kinds(values))
        problems.append(f"{names} must differ; they are {prefixes}")
    if values["caddy_tls"] == "acme" and rules.email_problem(values["caddy_acme_email"]):
        problems.append(
            f"caddy_acme_email: {rules.email_problem(values['caddy_acme_email'])}: ACME (caddy_tls acme) needs one"
        )
    access = values["caddy_dashboard_access"]
    if access in ("cidrs", "both") and not values["stage_dashboard_cidrs"]:
        problems.append(
            "stage_dashboard_cidrs is empty, but the dashboard is limited to address ranges "
            f"(caddy_dashboard_access {access}), so nobody could open it"
        )
    if access in ("basic_auth", "both") and not given.get("caddy_dashboard_users"):
        problems.append(
            f"caddy_dashboard_users is empty, but the dashboard asks for a password (caddy_dashboard_access {access}), "
            "so nobody could open it"
        )
    folder = values["stage_frontend_dir"]
    if folder and app_build and not os.path.isfile(os.path.join(folder, "index.html")):
        problems.append(
            f"stage_frontend_dir: {folder} holds no index.html; give the folder of a built app (Vite's dist/, as "
            "make example builds it)"
        )
    return problems


def database_problems(values):
    """What RDS refuses of settings together: a storage ceiling too close to the storage, and a
    database name (from INSTANCE_NAME) it cannot take."""
    problems = []
    problem = rules.storage_ceiling_problem(values["stage_db_max_storage_gb"], values["stage_db_storage_gb"])
    if problem:
        problems.append(f"stage_db_max_storage_gb: {problem} (stage_db_storage_gb)")
    problem = rules.database_name_problem(values["convex_instance_name"])
    if problem:
        problems.append(f"convex_instance_name: {problem}")
    return problems


def site_kinds(values):
    """The host names Caddy serves: the backend's three, and the app's when there is one."""
    return ("api", "site", "dashboard", "app") if values["stage_frontend_dir"] else ("api", "site", "dashboard")


def normalized(given):
    """The settings with defaults filled in and -e text turned into numbers and booleans."""
    values = {
        name: given.get(name) if given.get(name) is not None else default
        for name, (default, _rule) in SETTINGS.items()
        if default is not ROLE_DEFAULT
    }
    for name in INTEGERS:
        values[name] = rules.as_integer(values[name])
    for name in BOOLEANS:
        values[name] = rules.as_boolean(values[name])
    values["stage_db_engine_version"] = rules.as_engine_version(values["stage_db_engine_version"])
    return values


def release_id(folder):
    """The release name of a built app: a digest of its files' paths and contents, so the same
    build is the same release (a re-run copies nothing) and any change makes a new one."""
    digest = hashlib.sha256()
    for root, folders, files in os.walk(folder):
        folders.sort()
        for name in sorted(files):
            path = os.path.join(root, name)
            digest.update(os.path.relpath(path, folder).encode() + b"\0")
            with open(path, "rb") as content:
                digest.update(hashlib.sha256(content.read()).digest())
    return digest.hexdigest()[: rules.RELEASE_DIGITS]


def bucket_names(prefix):
    return {purpose: f"{prefix}-{suffix}" for purpose, (suffix, _variable) in BUCKET_PURPOSES.items()}


def resource_name(values):
    """The name of the deployment's network, database, host and role."""
    return f"convex-{values['stage_name']}"


def derive(values, account_id, partition, app_build=False, export_timer=True):
    """The model of a checked stage: every name, path, tag set, ARN and URL it uses. export_timer:
    whether the host's timer exports the data (the convex role's convex_export_schedule is set)."""
    name = values["stage_name"]
    resource = resource_name(values)
    domain = values["convex_domain"]
    port = "" if values["convex_public_port"] == 443 else f":{values['convex_public_port']}"
    hosts = {kind: f"{values[f'caddy_{kind}_prefix']}.{domain}" for kind in site_kinds(values)}
    app_name = f"{values['caddy_app_prefix']}.{domain}"
    buckets = bucket_names(f"{resource}-{account_id}")
    parameter_path = f"/convex/{name}"
    log_group = f"/convex/{resource}"
    caddy_secret = f"{resource}/caddy-storage"
    registry = values["convex_image_registry"]
    return {
        "name": name,
        "resource_name": resource,
        "region": values["stage_region"],
        "account_id": account_id,
        "partition": partition,
        "protected": values["stage_protected"],
        "tags": {
            STAGE_TAG: name,
            **({PROTECTED_KEY: "true"} if values["stage_protected"] else {}),
            **{str(k): str(v) for k, v in values["stage_extra_tags"].items()},
        },
        "bucket_prefix": f"{resource}-{account_id}",
        "buckets": buckets,
        "bucket_arns": [f"arn:{partition}:s3:::{bucket}" for bucket in buckets.values()],
        "bucket_env": {BUCKET_PURPOSES[purpose][1]: bucket for purpose, bucket in buckets.items()},
        "parameter_path": parameter_path,
        "parameters": {secret: f"{parameter_path}/{secret}" for secret in SECRETS},
        # Which RDS instance is the database (module_utils/database_record.py).
        "database_record": f"{parameter_path}/database",
        "database_name": values["convex_instance_name"].replace("-", "_"),
        # The containers' logs (Docker's awslogs driver writes them; the host may write only here).
        "log_group": log_group,
        "log_group_arn": f"arn:{partition}:logs:{values['stage_region']}:{account_id}:log-group:{log_group}",
        # Where the host's metrics go: a namespace of the deployment's own, the only one its role
        # may write (host_policy.py); the alarms, topic and dashboard are named from resource_name.
        "metric_namespace": f"{METRIC_NAMESPACE}/{resource}",
        "export_timer": export_timer,
        # The host's role (host_role.py names it) and the copy of Caddy's storage only it may read
        # and write (caddy_storage.py), named before the secret exists.
        "host_role_arn": f"arn:{partition}:iam::{account_id}:role/{host_role.role_name(resource)}",
        "caddy_storage_secret": caddy_secret,
        "caddy_storage_arn": caddy_storage.arn_pattern(partition, values["stage_region"], account_id, caddy_secret),
        "host_names": hosts,
        # The app's name while there is no app (and no other site has it): its record goes if it
        # still points at the host.
        "retired_host_names": {} if "app" in hosts or app_name in hosts.values() else {"app": app_name},
        "urls": {kind: f"https://{host}{port}" for kind, host in hosts.items()},
        # What the app's pages may connect to: the API over HTTPS and its websocket.
        "app_connect_origins": [f"https://{hosts['api']}{port}", f"wss://{hosts['api']}{port}"],
        # The app's build, and the release it makes on the host (named only for a run that copies
        # it: an upgrade or a teardown needs no build on this machine); empty without an app.
        "frontend": {
            "dir": values["stage_frontend_dir"],
            "release": release_id(values["stage_frontend_dir"]) if app_build else "",
        }
        if values["stage_frontend_dir"]
        else {},
        "images": {image: f"{registry}/{image}:{values['convex_version']}" for image in IMAGE_NAMES},
        "settings": values,
    }
