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

try:
    import botocore.session
except ImportError:  # The modules report a missing botocore themselves.
    botocore = None

_REGION_SHAPE = re.compile(r"[a-z]{2}(-[a-z]+)+-\d+")
_DNS_LABEL = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")
_DOMAIN = re.compile(r"([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,62}")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_IMAGE_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
_REGISTRY = re.compile(r"[a-z0-9.-]+(:[0-9]+)?(/[a-z0-9._-]+)*")
# Instance types: family letters, generation, options (a "g" among them is Graviton), size.
_INSTANCE_TYPE = re.compile(r"([a-z]+)(\d+)([a-z-]*)\.([a-z0-9]+)")
# RDS classes: db.<family><generation><options>.<size>, such as db.t4g.micro or db.r7g.large.
_DB_CLASS = re.compile(r"db\.([a-z]+)(\d+)([a-z-]*)\.([a-z0-9]+)")
# The RDS instance families that run MySQL 8 (general purpose, burstable, memory optimized).
DB_FAMILIES = (
    "m5",
    "m5d",
    "m6g",
    "m6gd",
    "m6i",
    "m6id",
    "m7g",
    "m7i",
    "m8g",
    "r5",
    "r5b",
    "r5d",
    "r6g",
    "r6gd",
    "r6i",
    "r6id",
    "r7g",
    "r7i",
    "r8g",
    "t3",
    "t4g",
    "x2g",
    "x2iedn",
    "z1d",
)
# Docker gives its bridge networks 172.17.0.0-172.31.255.255 and 192.168.0.0/16 by default.
DOCKER_RANGES = (ipaddress.ip_network("172.16.0.0/12"), ipaddress.ip_network("192.168.0.0/16"))
# AWS's own tag rules (Tagging AWS resources, "Tag naming limits and requirements").
_TAG_TEXT = re.compile(r"[\w\s.:/=+\-@]*", re.UNICODE)
MAX_TAGS = 50


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
    """True for a range that lets in every address (0.0.0.0/0 or ::/0)."""
    return cidr_problem(value) is None and ipaddress.ip_network(value).prefixlen == 0


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
    """arm64 for Graviton types (a 'g' among the letters after the generation), else x86_64;
    None when instance_type is not shaped like an EC2 type."""
    match = _INSTANCE_TYPE.fullmatch(instance_type) if isinstance(instance_type, str) else None
    if not match:
        return None
    return "arm64" if "g" in match.group(3) else "x86_64"


def instance_type_problem(instance_type, architecture):
    found = architecture_of(instance_type)
    if found is None:
        return f"{instance_type!r} is not an EC2 instance type such as t4g.small"
    if architecture in ("arm64", "x86_64") and found != architecture:
        example = "a Graviton type such as t4g.small" if architecture == "arm64" else "a type such as t3.small"
        return f"{instance_type!r} is {found}, but the architecture is {architecture}: use {example}"
    return None


def db_class_problem(value):
    match = _DB_CLASS.fullmatch(value) if isinstance(value, str) else None
    if not match:
        return f"{value!r} is not an RDS instance class such as db.t4g.micro"
    family = f"{match.group(1)}{match.group(2)}{match.group(3)}"
    if family not in DB_FAMILIES:
        return f"{value!r} is not a class of an RDS family that runs MySQL 8 ({', '.join(DB_FAMILIES)})"
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


def tags_problem(tags):
    """AWS's tag rules: keys of 1-128 and values of up to 256 letters, digits, spaces and
    _ . : / = + - @, no key starting with aws:, at most 50 tags with the collection's own."""
    if not isinstance(tags, dict):
        return f"{tags!r} is not a mapping of tag keys to values"
    problems = []
    for key, value in tags.items():
        if not isinstance(key, str) or not 1 <= len(key) <= 128 or not _TAG_TEXT.fullmatch(key):
            problems.append(f"key {key!r} breaks AWS's tag rules (1-128 letters, digits, spaces and _.:/=+-@)")
        elif key.lower().startswith("aws:"):
            problems.append(f"key {key!r} starts with aws:, which AWS keeps for itself")
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            problems.append(f"the value of {key!r} is a {type(value).__name__}, not text")
        elif len(str(value)) > 256 or not _TAG_TEXT.fullmatch(str(value)):
            problems.append(
                f"the value of {key!r} breaks AWS's tag rules (up to 256 letters, digits, spaces and _.:/=+-@)"
            )
    if len(tags) > MAX_TAGS - 3:
        problems.append(f"{len(tags)} tags leave no room for the collection's own ({MAX_TAGS} at most)")
    return "; ".join(problems) or None


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
