# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Rules for settings, written once: the modules, the stage model (stage.py) and, through the
collection's filter plugins, the roles' own checks call the same functions.

Each rule takes a value and returns None when it is usable, else a sentence that says what is
wrong with it, without naming the setting: the caller knows the name and puts it in front.
Patterns are matched with fullmatch, so a trailing newline is never accepted.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata

from ansible_collections.convex_selfhost.aws.plugins.module_utils import instance_types

try:
    import botocore.session
except ImportError:  # The modules report a missing botocore themselves.
    botocore = None

try:
    import zoneinfo
except ImportError:  # Python before 3.9: the host's systemd-analyze still judges the time zone.
    zoneinfo = None

_REGION_SHAPE = re.compile(r"[a-z]{2}(-[a-z]+)+-\d+")
_DNS_LABEL = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")
_DOMAIN = re.compile(r"([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,62}")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_IMAGE_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
_REGISTRY = re.compile(r"[a-z0-9.-]+(:[0-9]+)?(/[a-z0-9._-]+)*")
# RDS classes: db.<family><generation><options>.<size>, such as db.t4g.micro or db.r7g.large.
_DB_CLASS = re.compile(r"db\.([a-z]+)(\d+)([a-z-]*)\.([a-z0-9]+)")
# Docker gives its bridge networks 172.17.0.0-172.31.255.255 and 192.168.0.0/16 by default.
DOCKER_RANGES = (ipaddress.ip_network("172.16.0.0/12"), ipaddress.ip_network("192.168.0.0/16"))
# AWS's own tag rules (Tagging AWS resources, "Tag naming limits and requirements"): letters,
# digits and spaces representable in UTF-8, and _ . : / = + - @. IAM and S3 refuse anything else
# (tabs, newlines and other control characters among it); EC2 alone is more lenient.
_TAG_PUNCTUATION = frozenset("_.:/=+-@")
MAX_TAGS = 50
# The collection's own tag keys: set by the stage, never by stage_extra_tags.
OWN_TAG_PREFIX = "convex_selfhost:"


def known_regions():
    """Every region botocore's bundled endpoint data knows, across all partitions."""
    session = botocore.session.get_session()
    regions = set()
    for partition in session.get_available_partitions():
        regions.update(session.get_available_regions("ec2", partition_name=partition))
    return regions


def _text_problem(value):
    if not isinstance(value, str):
        return f"{value!r} is a {type(value).__name__}, not text"
    return None


def region_problem(region):
    if not region:
        return "region is not set: pass region (alias aws_region) or set AWS_REGION, for example us-east-1"
    if not isinstance(region, str) or not _REGION_SHAPE.fullmatch(region):
        return f"region '{region}' is not an AWS region name: use a name such as us-east-1 or eu-west-2"
    if botocore is not None and region not in known_regions():
        return f"region '{region}' is not a region AWS offers EC2 in: use a name such as us-east-1 or eu-west-2"
    return None


def stage_name_problem(name):
    if _text_problem(name) or not re.fullmatch(r"[a-z][a-z0-9-]{0,19}", name) or "--" in name or name.endswith("-"):
        return (
            f"{name!r} is not a stage name: use 1 to 20 lower-case letters, digits and single hyphens, starting "
            "with a letter"
        )
    return None


def dns_label_problem(label):
    if _text_problem(label) or not _DNS_LABEL.fullmatch(label):
        return f"{label!r} is not a DNS label: use lower-case letters, digits and inner hyphens, up to 63"
    return None


def domain_problem(domain):
    if _text_problem(domain) or len(domain) > 253 or not _DOMAIN.fullmatch(domain):
        return (
            f"{domain!r} is not a domain name: use one such as convex.example.com (lower case, no scheme, "
            "no trailing dot)"
        )
    return None


def email_problem(address):
    if _text_problem(address) or not _EMAIL.fullmatch(address):
        return f"{address!r} is not an email address"
    return None


def version_problem(version):
    if _text_problem(version) or not _IMAGE_TAG.fullmatch(version) or version == "latest":
        return f"{version!r} is not a pinned image tag (a commit of upstream's release branch; never 'latest')"
    return None


def registry_problem(registry):
    if _text_problem(registry) or not _REGISTRY.fullmatch(registry):
        return f"{registry!r} is not a registry and path without a scheme, such as ghcr.io/get-convex"
    return None


def instance_name_problem(name):
    if _text_problem(name) or not re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", name) or len(name) > 63:
        return f"{name!r} is not an instance name: use lower-case letters, digits and single hyphens"
    return None


def cidr_problem(value, version=None):
    """A network range (IPv4 or IPv6 unless version says which)."""
    if _text_problem(value) or "/" not in value:
        return f"{value!r} is not a network range such as 203.0.113.0/24 or 2001:db8::/48"
    try:
        network = ipaddress.ip_network(value, strict=True)
    except ValueError as error:
        return f"{value!r} is not a network range: {error}"
    if version and network.version != version:
        return f"{value!r} is not an IPv{version} range"
    return None


def address_problem(value):
    """One IP address (IPv4 or IPv6), without a range."""
    try:
        ipaddress.ip_address(value if isinstance(value, str) else None)
    except ValueError:
        return f"{value!r} is not an IP address such as 203.0.113.10"
    return None


def world_open(value):
    """True for a range that lets in every address (0.0.0.0/0 or ::/0, however written)."""
    return cidr_problem(value) is None and ipaddress.ip_network(value).prefixlen == 0


def everyone_in(ranges):
    """The ranges among ranges that, alone or together, let in every IPv4 or every IPv6 address
    (0.0.0.0/0, ::0/0, or 0.0.0.0/1 with 128.0.0.0/1), compared as networks, never as text."""
    usable = [r for r in ranges if cidr_problem(r) is None]
    found = [r for r in usable if world_open(r)]
    for version in (4, 6):
        networks = [ipaddress.ip_network(r) for r in usable if ipaddress.ip_network(r).version == version]
        if any(n.prefixlen == 0 for n in ipaddress.collapse_addresses(networks)):
            found.extend(r for r in usable if ipaddress.ip_network(r).version == version and r not in found)
    return found


def vpc_cidr_problem(value):
    problem = cidr_problem(value, version=4)
    if problem:
        return problem
    network = ipaddress.ip_network(value)
    if not 16 <= network.prefixlen <= 24:
        return f"{value!r} must be from /16 to /24 (AWS allows no larger VPC)"
    if any(network.overlaps(docker) for docker in DOCKER_RANGES):
        return (
            f"{value!r} overlaps the ranges Docker gives its own networks on the host (172.16.0.0/12 and "
            "192.168.0.0/16), so the host could not reach the database: use a range in 10.0.0.0/8, such as "
            "10.40.0.0/16"
        )
    return None


def architecture_of(instance_type):
    """arm64 or x86_64 (mac for Mac families) by the instance family table (instance_types.py);
    None for a type of a family the table does not hold, or one not shaped like an EC2 type."""
    return instance_types.architecture_of(instance_type)


def instance_type_problem(instance_type, architecture):
    """A type the host's architecture cannot boot on. A family the table does not know is AWS's to
    judge (the stage model asks DescribeInstanceTypes): None here."""
    if instance_types.family_of(instance_type) is None:
        return f"{instance_type!r} is not an EC2 instance type such as t4g.small"
    found = instance_types.architecture_of(instance_type)
    if found == "mac":
        return f"{instance_type!r} is a Mac instance, which runs macOS only: use a type such as t4g.small"
    if found and architecture in ("arm64", "x86_64") and found != architecture:
        return architecture_mismatch(instance_type, found, architecture)
    return None


def architecture_mismatch(instance_type, found, architecture):
    example = "a Graviton type such as t4g.small" if architecture == "arm64" else "a type such as t3.small"
    return f"{instance_type!r} is {found}, but the architecture is {architecture}: use {example}"


def image_id_problem(value):
    """An AMI id (EC2's ami- and 8 or 17 hexadecimal digits), or empty for the newest official image."""
    if not isinstance(value, str):
        return f"{value!r} is not text"
    if value and not re.fullmatch(r"ami-(?:[0-9a-f]{8}|[0-9a-f]{17})", value):
        return f"{value!r} is not an image id such as ami-0123456789abcdef0 (empty: the newest official image)"
    return None


def db_class_problem(value):
    match = _DB_CLASS.fullmatch(value) if isinstance(value, str) else None
    if not match:
        return f"{value!r} is not an RDS instance class such as db.t4g.micro"
    family = f"{match.group(1)}{match.group(2)}{match.group(3)}"
    sizes = instance_types.db_class_sizes(family)
    if sizes is None:
        families = ", ".join(f"db.{f}" for f in instance_types.DB_CLASS_SIZES)
        return f"{value!r} is not a class of a current RDS family that runs MySQL 8 ({families})"
    if match.group(4) not in sizes:
        return f"{value!r} is not a size RDS offers in db.{family}: use one of {', '.join(sizes)}"
    return None


def as_engine_version(value):
    """YAML reads an unquoted 8.0 as a number: take it as the text it was meant to be."""
    return f"{value:.1f}" if isinstance(value, float) else value


def db_engine_version_problem(value):
    value = as_engine_version(value)
    if not isinstance(value, str) or not re.fullmatch(r"8\.(0|4)(\.\d+)?", value):
        return f"{value!r} is not a MySQL version RDS runs for Convex: use 8.0 or 8.4"
    return None


def as_integer(value):
    """value as a whole number, or None: an int, or text of digits only (what -e key=value
    gives). True, 2.5 and "14 days" are not whole numbers."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"[0-9]{1,9}", value):
        return int(value)
    return None


def integer_problem(value, low, high=None):
    number = as_integer(value)
    if number is None:
        return f"{value!r} is not a whole number"
    if number < low or (high is not None and number > high):
        return f"{number} is out of range: use {low} to {high}" if high is not None else f"{number} is below {low}"
    return None


def as_boolean(value):
    """value as true or false, or None: a boolean, or the text true or false in any case
    (what -e key=value gives). yes, 1 and "production" are not."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return None


def boolean_problem(value):
    if as_boolean(value) is None:
        return f"{value!r} is not true or false"
    return None


def _tag_text(text):
    return all(c in _TAG_PUNCTUATION or unicodedata.category(c)[0] in "LNZ" for c in text)


def tags_problem(tags):
    """AWS's tag rules: keys of 1-128 and values of up to 256 letters, digits, spaces and
    _ . : / = + - @, no key starting with aws:, at most 50 tags with the collection's own."""
    if not isinstance(tags, dict):
        return f"{tags!r} is not a mapping of tag keys to values"
    problems = []
    for key, value in tags.items():
        if not isinstance(key, str) or not 1 <= len(key) <= 128 or not _tag_text(key):
            problems.append(f"key {key!r} breaks AWS's tag rules (1-128 letters, digits, spaces and _.:/=+-@)")
        elif key.lower().startswith("aws:"):
            problems.append(f"key {key!r} starts with aws:, which AWS keeps for itself")
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            problems.append(f"the value of {key!r} is a {type(value).__name__}, not text")
        elif len(str(value)) > 256 or not _tag_text(str(value)):
            problems.append(
                f"the value of {key!r} breaks AWS's tag rules (up to 256 letters, digits, spaces and _.:/=+-@)"
            )
    if len(tags) > MAX_TAGS - 3:
        problems.append(f"{len(tags)} tags leave no room for the collection's own ({MAX_TAGS} at most)")
    return "; ".join(problems) or None


def extra_tags_problem(tags):
    """Tags a stage adds to its own: AWS's rules, and none of the collection's keys, which would
    replace what the stage itself records (its name, its protection)."""
    problem = tags_problem(tags)
    if problem:
        return problem
    own = sorted(k for k in tags if k.lower().startswith(OWN_TAG_PREFIX))
    if own:
        return f"{', '.join(own)}: keys starting with {OWN_TAG_PREFIX} are the collection's own, set from the settings"
    return None


def absolute_path_problem(path):
    if _text_problem(path) or not path.startswith("/") or any(ord(c) < 32 for c in path):
        return f"{path!r} is not an absolute path (write it from {{{{ inventory_dir }}}} or {{{{ playbook_dir }}}})"
    return None


def origin_problem(origin):
    """An origin a page may connect to (Content-Security-Policy), such as https://api.example.com."""
    if _text_problem(origin) or not re.fullmatch(r"(https|wss)://[^/\s]+", origin):
        return f"{origin!r} is not an https:// or wss:// origin such as https://api.example.com"
    return None


# An app's release on the host: the first 12 hex digits of a digest of its files (stage.release_id).
RELEASE_DIGITS = 12


def release_problem(release):
    if _text_problem(release) or not re.fullmatch(f"[0-9a-f]{{{RELEASE_DIGITS}}}", release):
        return f"{release!r} is not a release: {RELEASE_DIGITS} hex digits, as the run that deployed it printed"
    return None


def parameter_path_problem(path):
    if not isinstance(path, str) or not re.fullmatch(r"(/[A-Za-z0-9_.\-]+)+", path) or len(path) > 1011:
        return f"{path!r} is not an SSM parameter path such as /convex/dev"
    return None


# --- the database -----------------------------------------------------------------------------
def database_name_problem(instance_name):
    """The MySQL database the backend uses is INSTANCE_NAME with '-' as '_'. RDS names it at
    creation (CreateDBInstance's DBName): 1 to 64 letters, digits or '_', starting with a letter."""
    name = instance_name.replace("-", "_") if isinstance(instance_name, str) else instance_name
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]{0,63}", name):
        return (
            f"{instance_name!r} gives the database name {name!r}, which RDS refuses: it must start with a letter "
            "(and hold at most 64 letters, digits and '_')"
        )
    return None


def storage_ceiling_problem(maximum, allocated):
    """RDS storage autoscaling's maximum must be at least 10 % above the allocated storage (Amazon
    RDS User Guide, "Managing capacity automatically with Amazon RDS storage autoscaling"); 0 keeps
    storage fixed."""
    least = -(-allocated * 11 // 10)
    if maximum and maximum < least:
        return (
            f"{maximum} must be at least 10 % above the allocated storage ({allocated} GiB), so {least} or more, "
            "for RDS to grow it (AWS suggests 26 % or more); or 0 to keep it fixed"
        )
    return None


def root_volume_problem(wanted, current):
    """EBS grows a volume in place and never shrinks it: a modification's new size must be larger
    than the current one (Amazon EBS User Guide, "Requirements for EBS volume modifications")."""
    if wanted < current:
        return (
            f"{wanted} GiB is smaller than the host's root volume ({current} GiB): an EBS volume cannot shrink; "
            f"keep {current} or more"
        )
    return None


def swap_problem(swap_mb, root_gb):
    """A swap file takes at most a quarter of the root volume, which holds the system, Docker's
    images and the backend's local files too."""
    if swap_mb * 4 > root_gb * 1024:
        return f"{swap_mb} MiB is more than a quarter of the {root_gb} GiB root volume: grow the volume or use less"
    return None


# The only retention periods CloudWatch Logs takes (PutRetentionPolicy, retentionInDays, in the
# CloudWatch Logs API reference); 0 here means never expire (no retention policy).
LOG_RETENTION_DAYS = (
    0,
    1,
    3,
    5,
    7,
    14,
    30,
    60,
    90,
    120,
    150,
    180,
    365,
    400,
    545,
    731,
    1096,
    1827,
    2192,
    2557,
    2922,
    3288,
    3653,
)


def log_retention_problem(value):
    number = as_integer(value)
    if number not in LOG_RETENTION_DAYS:
        return (
            f"{value!r} is not a retention CloudWatch Logs offers: use 0 (keep forever) or one of "
            f"{', '.join(str(days) for days in LOG_RETENTION_DAYS[1:])} days"
        )
    return None


def volume_modification_problem(state):
    """A volume's latest modification (DescribeVolumesModifications describes the most recent one)
    must be completed before another starts (EC2 API reference, ModifyVolume); EBS also takes at
    most four a day, which only its own answer tells."""
    if state in ("modifying", "optimizing"):
        return (
            f"the root volume's last change is still {state}, and EBS starts another only once it has completed: "
            "run again in a few minutes"
        )
    return None


# --- settings the roles apply on the host, checked on the controller too -----------------------
# systemd.time(7), "Calendar Events": the shorthands, and [weekdays] [date] [time] [time zone].
CALENDAR_SHORTHANDS = frozenset(
    ("minutely", "hourly", "daily", "weekly", "monthly", "yearly", "annually", "quarterly", "semiannually")
)
_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_WEEKDAY_NAMES = frozenset([*_WEEKDAYS, "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"])
_NUMBER = r"\d+"
_ITEM = rf"(\*|{_NUMBER}(\.\.{_NUMBER})?)(/{_NUMBER})?"
_COMPONENT = re.compile(rf"{_ITEM}(,{_ITEM})*")
_DECIMAL = r"\d+(\.\d+)?"
_SECOND_ITEM = rf"(\*|{_DECIMAL}(\.\.{_DECIMAL})?)(/{_DECIMAL})?"
_SECONDS = re.compile(rf"{_SECOND_ITEM}(,{_SECOND_ITEM})*")
_TIME_ZONE = re.compile(r"UTC|[A-Za-z_]+(/[A-Za-z0-9_+\-]+)+")


def _numbers_within(component, low, high):
    """Every number of a date or time component (a list of *, n, n..m and /step) within low..high."""
    for item in component.split(","):
        head = item.split("/")[0]
        if head != "*" and not all(low <= float(n) <= high for n in head.split("..")):
            return False
    return True


def _weekdays_usable(token):
    for item in token.lower().split(","):
        names = item.split("..")
        if len(names) > 2 or any(name not in _WEEKDAY_NAMES for name in names):
            return False
    return True


def _date_usable(token):
    # [year-]month-day; the day may count back from the month's end with ~.
    parts = re.split(r"-|~", token)
    if not 2 <= len(parts) <= 3 or not all(_COMPONENT.fullmatch(p) for p in parts):
        return False
    limits = ((1970, 2199), (1, 12), (1, 31))[-len(parts) :]
    return all(_numbers_within(p, *limit) for p, limit in zip(parts, limits))


def _time_usable(token):
    parts = token.split(":")
    if not 2 <= len(parts) <= 3 or not all(_COMPONENT.fullmatch(p) for p in parts[:2]):
        return False
    if len(parts) == 3 and not _SECONDS.fullmatch(parts[2]):
        return False
    return (
        _numbers_within(parts[0], 0, 23)
        and _numbers_within(parts[1], 0, 59)
        and (len(parts) < 3 or _numbers_within(parts[2], 0, 59.999999))
    )


def _time_zone(name):
    """A time zone systemd takes at the end of a calendar event: UTC, or a name of the tz database
    where this machine has one."""
    if not _TIME_ZONE.fullmatch(name):
        return False
    if name == "UTC" or zoneinfo is None:
        return True
    try:
        zoneinfo.ZoneInfo(name)
    except (ValueError, OSError, zoneinfo.ZoneInfoNotFoundError):
        return False
    return True


def calendar_problem(value):
    """A systemd calendar event (OnCalendar=) such as daily or Mon..Fri *-*-* 03:00:00; the role
    also asks systemd-analyze on the host, this rule lets the controller refuse before any change.
    Empty means none."""
    if not isinstance(value, str):
        return f"{value!r} is not text"
    tokens = value.split()
    if not value or "\n" in value or "\r" in value:
        return None if value == "" else f"{value!r} is not one line"
    if len(tokens) > 1 and _time_zone(tokens[-1]):
        tokens = tokens[:-1]
    usable = bool(tokens)
    if len(tokens) == 1 and tokens[0].lower() in CALENDAR_SHORTHANDS:
        return None
    if usable and not any(c.isdigit() or c == "*" for c in tokens[0]):
        usable = _weekdays_usable(tokens[0])
        tokens = tokens[1:]
    if usable and tokens and ":" not in tokens[0]:
        usable = _date_usable(tokens[0])
        tokens = tokens[1:]
    if usable and tokens:
        usable = len(tokens) == 1 and _time_usable(tokens[0])
    if not usable:
        return (
            f"{value!r} is not a systemd calendar event (man systemd.time): use one such as daily, "
            "Mon..Fri 03:00 or *-*-* 03:00:00, or empty for none"
        )
    return None


_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# What the convex role writes into the backend's environment itself (roles/convex/templates/env.j2):
# a second value would silently replace it. And the AWS keys: the backend takes its credentials
# from the instance role, and static keys on the host are what this collection avoids.
BACKEND_ENV_OWN = frozenset(
    (
        "CONVEX_CLOUD_ORIGIN",
        "CONVEX_SITE_ORIGIN",
        "NEXT_PUBLIC_DEPLOYMENT_URL",
        "INSTANCE_NAME",
        "INSTANCE_SECRET",
        "MYSQL_URL",
        "MYSQL_CA_FILE",
        "AWS_REGION",
        "S3_STORAGE_EXPORTS_BUCKET",
        "S3_STORAGE_SNAPSHOT_IMPORTS_BUCKET",
        "S3_STORAGE_MODULES_BUCKET",
        "S3_STORAGE_FILES_BUCKET",
        "S3_STORAGE_SEARCH_BUCKET",
        "S3_ENDPOINT_URL",
        "AWS_S3_FORCE_PATH_STYLE",
    )
)
BACKEND_ENV_FORBIDDEN = frozenset(("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"))


def backend_env_problem(env):
    """Extra environment for the backend: names a shell would take, one-line values, and nothing the
    role sets itself or that would put AWS keys on the host."""
    if not isinstance(env, dict):
        return f"{env!r} is not a mapping of environment variable names to values"
    problems = []
    for name, value in env.items():
        if not isinstance(name, str) or not _ENV_NAME.fullmatch(name):
            problems.append(f"{name!r} is not an environment variable name")
        elif name in BACKEND_ENV_FORBIDDEN:
            problems.append(f"{name} would put AWS keys on the host (the backend uses the instance role)")
        elif name in BACKEND_ENV_OWN:
            problems.append(f"{name} is set by the convex role itself, from the stage's settings")
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            problems.append(f"the value of {name!r} is a {type(value).__name__}, not text or a number")
        elif any(c in str(value) for c in "\n\r\0"):
            problems.append(f"the value of {name!r} is not one line")
    return "; ".join(problems) or None


_USER_NAME = re.compile(r"[A-Za-z0-9._-]+")
# A bcrypt hash as `caddy hash-password` writes it: $2a$, $2b$ or $2y$, the cost, 53 characters.
_BCRYPT = re.compile(r"\$2[aby]\$(0[4-9]|[12][0-9]|3[01])\$[./A-Za-z0-9]{53}")


def dashboard_users_problem(users):
    """The dashboard's basic-auth users: each a name and a bcrypt password_hash, names unique."""
    if not isinstance(users, list):
        return f"{users!r} is not a list of users"
    problems, names = [], []
    for index, user in enumerate(users):
        if not isinstance(user, dict) or set(user) != {"name", "password_hash"}:
            problems.append(f"entry {index + 1} must have exactly a name and a password_hash")
            continue
        if not isinstance(user["name"], str) or not _USER_NAME.fullmatch(user["name"]):
            problems.append(f"entry {index + 1}: {user['name']!r} is not a name of letters, digits, '.', '_' and '-'")
        if not isinstance(user["password_hash"], str) or not _BCRYPT.fullmatch(user["password_hash"]):
            problems.append(
                f"entry {index + 1} ({user['name']}): password_hash is not a bcrypt hash from `caddy hash-password`"
            )
        names.append(user["name"])
    if len(set(map(str, names))) != len(names):
        problems.append("names must differ")
    return "; ".join(problems) or None


# An SNS topic's ARN (SNS API reference, CreateTopic: names of up to 256 letters, digits, '-' and
# '_', and '.fifo' at the end of a FIFO topic, which CloudWatch alarms cannot notify).
_TOPIC_ARN = re.compile(r"arn:aws[a-z-]*:sns:[a-z]{2}(-[a-z]+)+-\d+:\d{12}:[A-Za-z0-9_-]{1,256}")


# An alarm takes at most 5 actions of a kind (CloudWatch API reference, PutMetricAlarm,
# AlarmActions); the status-check alarm has the deployment's topic and EC2's reboot action besides.
MAX_EXTRA_TOPICS = 3


def topic_arns_problem(arns):
    if not isinstance(arns, list):
        return f"{arns!r} is not a list of SNS topic ARNs"
    wrong = [str(arn) for arn in arns if not isinstance(arn, str) or not _TOPIC_ARN.fullmatch(arn)]
    if wrong:
        return f"{', '.join(wrong)}: not a standard SNS topic's ARN (arn:aws:sns:<region>:<account>:<name>)"
    if len(set(arns)) != len(arns):
        return "a topic is named twice"
    if len(arns) > MAX_EXTRA_TOPICS:
        return (
            f"{len(arns)} topics: an alarm notifies at most {MAX_EXTRA_TOPICS} besides the deployment's own "
            "(CloudWatch takes 5 actions an alarm, and the status-check alarm also reboots)"
        )
    return None


def optional_email_problem(address):
    return None if address == "" else email_problem(address)


def percent_problem(value):
    return integer_problem(value, 1, 99)
