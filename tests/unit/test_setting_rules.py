"""The rules the stage model and the roles share (rules.py), for the settings a review found
reaching AWS or the host before they were refused: each rule alone, on its edge cases."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from ansible_collections.convex_selfhost.aws.plugins.filter.rules import FilterModule
from ansible_collections.convex_selfhost.aws.plugins.module_utils import instance_types, replacement, rules

# (event, whether systemd takes it): as systemd-analyze calendar (systemd 252, Debian 12) judged
# each one on 2026-12-04.
CALENDAR = [
    ("daily", True),
    ("weekly UTC", True),
    ("quarterly", True),
    ("semiannually", True),
    ("Mon..Fri 03:00", True),
    ("Mon,Tue", True),
    ("Monday 03:00", True),
    ("Sat,Sun *-*-* 4:30", True),
    ("*-*-* 03:00:00", True),
    ("*-*-* 3:00:00.5", True),
    ("*-*-1,15 02:30", True),
    ("*-02~03", True),
    ("2027-*-* 00:00:00", True),
    ("*:0/15", True),
    ("*-*-* 03:00 Europe/Berlin", True),
    ("03:00 UTC", True),
    ("every day", False),
    ("dialy", False),
    ("03:00 daily", False),
    ("Mon..Fir 03:00", False),
    ("Mon *-*-* 25:00", False),
    ("*-*-* 24:00", False),
    ("12:60", False),
    ("*-13-01", False),
    ("1..5", False),
    ("03:00 Mars/Olympus", False),
]


@pytest.mark.parametrize(("event", "systemd_takes_it"), CALENDAR)
def test_a_calendar_event_is_judged_as_systemd_judges_it(event, systemd_takes_it):
    assert (rules.calendar_problem(event) is None) is systemd_takes_it
    if shutil.which("systemd-analyze"):
        # The machine's own systemd, where it has one: the table above must still be its answer.
        real = subprocess.run(["systemd-analyze", "calendar", event], capture_output=True, check=False)
        assert (real.returncode == 0) is systemd_takes_it


def test_an_empty_schedule_turns_the_timer_off_and_two_lines_are_refused():
    assert rules.calendar_problem("") is None
    assert "not one line" in rules.calendar_problem("daily\nhourly")


@pytest.mark.parametrize(
    ("instance_type", "architecture"),
    [("a1.large", "arm64"), ("t4g.small", "arm64"), ("c7gn.xlarge", "arm64"), ("is4gen.large", "arm64")]
    + [("t3.small", "x86_64"), ("g5.xlarge", "x86_64"), ("m7i-flex.large", "x86_64"), ("u7i-12tb.224xlarge", "x86_64")],
)
def test_every_family_has_its_architecture(instance_type, architecture):
    assert rules.architecture_of(instance_type) == architecture
    assert rules.instance_type_problem(instance_type, architecture) is None
    other = "x86_64" if architecture == "arm64" else "arm64"
    assert f"is {architecture}, but the architecture is {other}" in rules.instance_type_problem(instance_type, other)


def test_a_mac_is_refused_and_an_unknown_family_is_left_to_aws():
    assert "macOS only" in rules.instance_type_problem("mac2.metal", "arm64")
    assert rules.architecture_of("z99q.large") is None
    assert rules.instance_type_problem("z99q.large", "arm64") is None
    assert "not an EC2 instance type" in rules.instance_type_problem("nonsense", "arm64")


def test_the_families_are_in_one_group_each():
    groups = (instance_types.ARM64_FAMILIES, instance_types.X86_64_FAMILIES, instance_types.MAC_FAMILIES)
    assert sum(len(g) for g in groups) == len(set().union(*groups)) >= 180


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("db.t4g.micro", None),
        ("db.r8g.48xlarge", None),
        ("db.x2idn.16xlarge", None),
        ("db.t4g.8xlarge", "not a size RDS offers in db.t4g"),
        ("db.m5.micro", "not a size RDS offers in db.m5"),
        ("db.x2idn.large", "not a size RDS offers in db.x2idn"),
        ("db.z1d.large", "not a class of a current RDS family that runs MySQL 8"),
        ("db.m3.large", "not a class of a current RDS family that runs MySQL 8"),
        ("m5.large", "not an RDS instance class"),
    ],
)
def test_a_database_class_has_a_family_and_a_size_rds_offers_for_mysql(value, problem):
    found = rules.db_class_problem(value)
    assert (found is None) if problem is None else (problem in found), found


def test_the_storage_ceiling_is_ten_percent_above_the_storage():
    assert rules.storage_ceiling_problem(0, 20) is None
    assert rules.storage_ceiling_problem(22, 20) is None
    assert "22 or more" in rules.storage_ceiling_problem(21, 20)
    assert "1100 or more" in rules.storage_ceiling_problem(1099, 1000)


@pytest.mark.parametrize(("name", "usable"), [("convex-self-hosted", True), ("1convex", False), ("a" * 65, False)])
def test_the_database_name_follows_from_the_instance_name(name, usable):
    assert (rules.database_name_problem(name) is None) is usable


@pytest.mark.parametrize(
    ("tags", "problem"),
    [
        ({"team": "Ünïcode café", "cost": "a/b=c+d@e:f_g.h-i"}, None),
        ({"team": "a\tb"}, "breaks AWS's tag rules"),
        ({"team": "a\nb"}, "breaks AWS's tag rules"),
        ({"te\x00am": "x"}, "breaks AWS's tag rules"),
        ({"team": "a{b}"}, "breaks AWS's tag rules"),
    ],
)
def test_tag_text_is_what_iam_and_s3_take(tags, problem):
    found = rules.tags_problem(tags)
    assert (found is None) if problem is None else (problem in found), found


def test_extra_tags_never_carry_the_collections_own_keys():
    assert "the collection's own" in rules.extra_tags_problem({"convex_selfhost:stage": "prod"})
    assert "the collection's own" in rules.extra_tags_problem({"Convex_Selfhost:Protected": "false"})
    assert rules.extra_tags_problem({"team": "core"}) is None


@pytest.mark.parametrize(
    ("ranges", "everyone"),
    [
        (["0.0.0.0/0"], ["0.0.0.0/0"]),
        (["0.0.0.0/00"], ["0.0.0.0/00"]),
        (["0::/0"], ["0::/0"]),
        (["::0/0", "203.0.113.0/24"], ["::0/0"]),
        (["0.0.0.0/1", "128.0.0.0/1"], ["0.0.0.0/1", "128.0.0.0/1"]),
        (["0.0.0.0/1", "203.0.113.0/24"], []),
        (["203.0.113.0/24", "2001:db8::/48"], []),
    ],
)
def test_everyone_is_found_as_networks_not_as_text(ranges, everyone):
    assert sorted(rules.everyone_in(ranges)) == sorted(everyone)


@pytest.mark.parametrize(
    ("env", "problem"),
    [
        ({"LOG_LEVEL": "info", "CONVEX_RELEASE_VERSION_DEV": 3}, None),
        ({"AWS_SECRET_ACCESS_KEY": "x"}, "AWS keys"),
        ({"INSTANCE_SECRET": "x"}, "set by the convex role itself"),
        ({"MYSQL_URL": "mysql://elsewhere"}, "set by the convex role itself"),
        ({"BAD-NAME": "x"}, "not an environment variable name"),
        ({"EXTRA": "a\nINSTANCE_SECRET=b"}, "not one line"),
        ({"EXTRA": {"nested": 1}}, "not text or a number"),
    ],
)
def test_the_backends_extra_environment(env, problem):
    found = rules.backend_env_problem(env)
    assert (found is None) if problem is None else (problem in found), found


HASH = "$2a$14$" + "N" * 53


@pytest.mark.parametrize(
    ("users", "problem"),
    [
        ([{"name": "ops", "password_hash": HASH}], None),
        ([{"name": "ops", "password_hash": "secret"}], "not a bcrypt hash"),
        ([{"name": "ops"}], "exactly a name and a password_hash"),
        ([{"name": "o p s", "password_hash": HASH}], "not a name"),
        ([{"name": "ops", "password_hash": HASH}, {"name": "ops", "password_hash": HASH}], "names must differ"),
        ({"name": "ops"}, "not a list"),
    ],
)
def test_the_dashboards_users(users, problem):
    found = rules.dashboard_users_problem(users)
    assert (found is None) if problem is None else (problem in found), found


@pytest.mark.parametrize("rule", ["calendar", "backend_env", "dashboard_users"])
def test_the_roles_apply_the_same_rules(rule):
    """The convex and caddy roles check these settings on the host with the problem filter: the
    rule the stage model applies on the controller, by name."""
    assert rule in FilterModule().filters()["problem"].__globals__["RULES"]


def test_a_root_volume_only_grows():
    assert rules.root_volume_problem(40, 30) is None
    assert rules.root_volume_problem(30, 30) is None
    assert "cannot shrink; keep 40 or more" in rules.root_volume_problem(30, 40)


def test_a_volume_change_waits_for_the_last_to_complete():
    assert rules.volume_modification_problem(None) is None
    assert rules.volume_modification_problem("completed") is None
    assert rules.volume_modification_problem("failed") is None
    assert "still optimizing" in rules.volume_modification_problem("optimizing")
    assert "still modifying" in rules.volume_modification_problem("modifying")


def test_swap_takes_at_most_a_quarter_of_the_root_volume():
    assert rules.swap_problem(0, 8) is None
    assert rules.swap_problem(2048, 8) is None
    assert "more than a quarter of the 8 GiB" in rules.swap_problem(2049, 8)


def test_log_retention_is_one_of_the_periods_cloudwatch_logs_takes():
    for days in (0, 1, 30, 365, 3653, "90"):
        assert rules.log_retention_problem(days) is None, days
    for days in (2, 45, 4000, -1, "forever", None):
        assert "is not a retention CloudWatch Logs offers" in rules.log_retention_problem(days), days


@pytest.mark.parametrize(
    ("value", "usable"),
    [
        ("", True),
        ("ami-0d13a2b3c4d5e6f01", True),
        ("ami-12345678", True),
        ("ami-0D13A2B3C4D5E6F01", False),
        ("ami-123", False),
        ("debian-13-arm64", False),
        (None, False),
    ],
)
def test_an_image_id_is_an_ami_id_or_empty(value, usable):
    assert (rules.image_id_problem(value) is None) is usable


def test_a_host_is_replaced_for_another_image_or_type_and_says_which():
    current = {"ImageId": "ami-0d13a2b3c4d5e6f01", "InstanceType": "t4g.small"}
    assert replacement.needed(current, "ami-0d13a2b3c4d5e6f01", "t4g.small") == ""
    assert replacement.needed(current, "ami-0d13a2b3c4d5e6f02", "t4g.small") == (
        "it runs the image ami-0d13a2b3c4d5e6f01, not ami-0d13a2b3c4d5e6f02"
    )
    assert replacement.needed(current, "ami-0d13a2b3c4d5e6f01", "t3.small") == "it is a t4g.small, not a t3.small"
