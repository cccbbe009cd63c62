"""The stage model: its rules refuse bad settings, each naming its setting, and it derives every
name from the settings in one place."""

from __future__ import annotations

import pytest

from ansible_collections.convex_selfhost.aws.plugins.filter.rules import FilterModule
from ansible_collections.convex_selfhost.aws.plugins.module_utils import stage

GOOD = {
    "stage_name": "dev",
    "stage_region": "eu-west-1",
    "convex_domain": "dev.convex.example.com",
    "convex_version": "652b828b5129e6cdbcaa3c20efa8d116d09ff3bf",
    "stage_dns_zone": "example.com",
    "caddy_acme_email": "ops@example.com",
    "stage_ssh_key_name": "ops",
    "stage_ssh_cidrs": ["198.51.100.0/24"],
    "stage_dashboard_cidrs": ["203.0.113.0/24", "2001:db8::/48"],
}


def test_good_settings_have_no_problem():
    assert stage.settings_problems(GOOD) == []


def test_every_problem_is_reported_at_once():
    problems = stage.settings_problems({**GOOD, "stage_name": "Dev", "stage_db_storage_gb": 5, "stage_os": "arch"})
    assert [p.split(":")[0] for p in problems] == ["stage_name", "stage_os", "stage_db_storage_gb"]


def test_text_from_the_command_line_is_taken_for_numbers_and_booleans():
    given = {**GOOD, "stage_protected": "true", "stage_db_backup_days": "14", "convex_public_port": "8443"}
    assert stage.settings_problems(given) == []
    values = stage.normalized(given)
    assert values["stage_protected"] is True and values["stage_db_backup_days"] == 14
    assert values["convex_public_port"] == 8443


def test_derived_names_are_computed_from_the_settings():
    model = stage.derive(stage.normalized({**GOOD, "stage_extra_tags": {"team": "core"}}), "123456789012", "aws-cn")
    assert model["resource_name"] == "convex-dev"
    assert model["bucket_prefix"] == "convex-dev-123456789012"
    assert model["buckets"]["snapshot_imports"] == "convex-dev-123456789012-snapshot-imports"
    assert model["bucket_arns"][0].startswith("arn:aws-cn:s3:::convex-dev-123456789012-")
    assert model["bucket_env"]["S3_STORAGE_MODULES_BUCKET"] == "convex-dev-123456789012-modules"
    assert model["parameters"] == {
        "instance_secret": "/convex/dev/instance_secret",
        "db_password": "/convex/dev/db_password",
        "admin_key": "/convex/dev/admin_key",
    }
    assert model["tags"] == {"convex_selfhost:stage": "dev", "team": "core"}
    protected = stage.derive(stage.normalized({**GOOD, "stage_protected": True}), "123456789012", "aws")
    assert protected["tags"] == {"convex_selfhost:stage": "dev", "convex_selfhost:protected": "true"}
    assert model["urls"]["api"] == "https://api.dev.convex.example.com"
    assert model["database_name"] == "convex_self_hosted"
    assert (
        model["images"]["convex-backend"]
        == "ghcr.io/get-convex/convex-backend:652b828b5129e6cdbcaa3c20efa8d116d09ff3bf"
    )


def test_a_port_forward_shows_in_the_urls():
    model = stage.derive(stage.normalized({**GOOD, "convex_public_port": 8443}), "123456789012", "aws")
    assert model["urls"]["dashboard"] == "https://dashboard.dev.convex.example.com:8443"


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"stage_name": "dev\n"}, "stage_name"),
        ({"convex_domain": "example.com\n"}, "convex_domain"),
        ({"stage_extra_tags": {"aws:owner": "me"}}, "stage_extra_tags"),
        ({"stage_instance_type": "t3.small"}, "stage_instance_type"),
        ({"stage_dns_zone": "other.org"}, "stage_dns_zone"),
        ({"caddy_site_prefix": "api"}, "caddy_api_prefix"),
        ({"caddy_acme_email": "nobody"}, "caddy_acme_email"),
        ({"stage_dashboard_cidrs": []}, "stage_dashboard_cidrs"),
        ({"stage_ssh_cidrs": ["0.0.0.0/0"]}, "stage_ssh_cidrs"),
        ({"stage_ssh_cidrs": ["2001:db8::/48"]}, "stage_ssh_cidrs"),
        ({"stage_dashboard_cidrs": ["::/0"]}, "stage_dashboard_cidrs"),
        ({"stage_open_to_world": ["telnet"]}, "stage_open_to_world"),
        ({"stage_ssh_key_name": ""}, "stage_ssh_key_name"),
        ({"stage_ssh_cidrs": []}, "stage_ssh_cidrs"),
        ({"stage_db_max_storage_gb": 20}, "stage_db_max_storage_gb"),
        ({"stage_bucket_tls_only": "sometimes"}, "stage_bucket_tls_only"),
        ({"stage_aws_environment": {"AWS_PROFILE": 3}}, "stage_aws_environment"),
        ({"stage_db_max_storage_gb": 21}, "stage_db_max_storage_gb"),
        ({"convex_instance_name": "1convex"}, "convex_instance_name"),
        ({"stage_extra_tags": {"convex_selfhost:stage": "prod"}}, "stage_extra_tags"),
        ({"stage_extra_tags": {"team": "a\tb"}}, "stage_extra_tags"),
        ({"stage_dashboard_cidrs": ["::0/0"]}, "stage_dashboard_cidrs"),
        ({"stage_ssh_cidrs": ["0.0.0.0/1", "128.0.0.0/1"]}, "stage_ssh_cidrs"),
        ({"stage_instance_type": "a1.large", "stage_architecture": "x86_64"}, "stage_instance_type"),
        ({"stage_db_instance_class": "db.t4g.8xlarge"}, "stage_db_instance_class"),
        ({"convex_export_schedule": "every day"}, "convex_export_schedule"),
        ({"convex_backend_env": {"INSTANCE_SECRET": "x"}}, "convex_backend_env"),
        ({"caddy_dashboard_users": [{"name": "ops", "password_hash": "secret"}]}, "caddy_dashboard_users"),
        ({"caddy_dashboard_access": "basic_auth"}, "caddy_dashboard_users"),
    ],
)
def test_a_bad_setting_is_named(change, named):
    problems = stage.settings_problems({**GOOD, **change})
    assert problems and all(named in p for p in problems), problems


def test_the_roles_settings_keep_the_roles_defaults():
    """convex_export_schedule and the like are checked when given; unset, the role's default
    applies and the model holds none of its own."""
    values = stage.normalized(GOOD)
    assert not {"convex_export_schedule", "convex_backend_env", "caddy_dashboard_users"} & set(values)
    given = {**GOOD, "convex_export_schedule": "Mon..Fri 03:00"}
    assert stage.settings_problems(given) == []


def test_the_world_is_accepted_only_where_a_setting_says_it_is_meant():
    world = {**GOOD, "stage_ssh_cidrs": ["0.0.0.0/0"], "stage_dashboard_cidrs": ["0.0.0.0/0", "::/0"]}
    assert [p.split(":")[0] for p in stage.settings_problems(world)] == ["stage_ssh_cidrs", "stage_dashboard_cidrs"]
    assert stage.settings_problems({**world, "stage_open_to_world": ["ssh", "dashboard"]}) == []


def test_a_host_not_reached_over_ssh_needs_no_key_or_range():
    given = {**GOOD, "stage_ssh_key_name": "", "stage_ssh_cidrs": []}
    assert stage.settings_problems(given, connection="community.docker.docker") == []
    assert stage.settings_problems(given, connection="none") == []
    assert len(stage.settings_problems(given, connection="ssh")) == 2


@pytest.mark.parametrize("cidr", ["2001:db8::/48", "2001:db8::1/128", "2001:db8::/47x", "2001:db8::1/48", "::/0"])
def test_dashboard_ranges_are_judged_as_caddys_role_judges_them(cidr):
    """The caddy role's allowlist check is the problem filter over rules.cidr_problem: the stage
    model must accept and refuse exactly the same IPv6 (and IPv4) ranges."""
    caddy_says = FilterModule().filters()["problem"](cidr, "cidr")
    given = {**GOOD, "stage_dashboard_cidrs": [cidr], "stage_open_to_world": ["dashboard"]}
    stage_says = [p for p in stage.settings_problems(given) if p.startswith("stage_dashboard_cidrs")]
    assert bool(caddy_says) == bool(stage_says), (caddy_says, stage_says)


def test_without_an_app_the_stage_has_only_the_backends_three_names():
    model = stage.derive(stage.normalized(GOOD), "123456789012", "aws")
    assert sorted(model["host_names"]) == ["api", "dashboard", "site"], "no DNS record and no site for an app"
    assert model["frontend"] == {}
    # A record left from an app since turned off goes, if it still points at the host.
    assert model["retired_host_names"] == {"app": "app.dev.convex.example.com"}


def test_an_app_gets_its_name_and_a_release_named_by_its_files(tmp_path):
    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_text("<h1>app</h1>")
    (tmp_path / "assets" / "index-abc.js").write_text("console.log(1)")
    given = {**GOOD, "stage_frontend_dir": str(tmp_path)}
    assert stage.settings_problems(given, app_build=True) == []
    model = stage.derive(stage.normalized(given), "123456789012", "aws", app_build=True)
    assert model["host_names"]["app"] == "app.dev.convex.example.com"
    assert model["urls"]["app"] == "https://app.dev.convex.example.com"
    assert model["retired_host_names"] == {}
    assert model["app_connect_origins"] == ["https://api.dev.convex.example.com", "wss://api.dev.convex.example.com"]
    release = model["frontend"]["release"]
    assert release == stage.release_id(tmp_path), "the same build is the same release"
    (tmp_path / "assets" / "index-abc.js").write_text("console.log(2)")
    assert stage.release_id(tmp_path) != release, "any change makes a new one"


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        ({"stage_frontend_dir": "dist"}, "stage_frontend_dir: 'dist' is not an absolute path"),
        ({"stage_frontend_dir": "/nonexistent/dist"}, "stage_frontend_dir: /nonexistent/dist holds no index.html"),
    ],
)
def test_an_app_folder_must_be_a_built_app(extra, named):
    problems = stage.settings_problems({**GOOD, **extra}, app_build=True)
    assert any(p.startswith(named) for p in problems), problems


def test_only_a_run_that_copies_the_build_needs_it(tmp_path):
    """An upgrade, a backup or a teardown of a stage with an app must not stop because this
    machine has no build (a fresh clone, say): only site.yml and frontend.yml copy it."""
    given = {**GOOD, "stage_frontend_dir": str(tmp_path / "dist")}
    assert stage.settings_problems(given) == []
    model = stage.derive(stage.normalized(given), "123456789012", "aws")
    assert model["frontend"] == {"dir": str(tmp_path / "dist"), "release": ""}
    assert model["host_names"]["app"] == "app.dev.convex.example.com", "Caddy's site and the record stay"
    problems = stage.settings_problems(given, app_build=True)
    assert problems == [
        f"stage_frontend_dir: {tmp_path / 'dist'} holds no index.html; give the folder of a built app "
        "(Vite's dist/, as make example builds it)"
    ]


def test_the_apps_name_must_differ_from_the_backends(tmp_path):
    (tmp_path / "index.html").write_text("<h1>app</h1>")
    problems = stage.settings_problems(
        {**GOOD, "stage_frontend_dir": str(tmp_path), "caddy_app_prefix": "api"}, app_build=True
    )
    assert problems == [
        "caddy_api_prefix, caddy_site_prefix, caddy_dashboard_prefix, caddy_app_prefix must differ; "
        "they are ['api', 'site', 'dashboard', 'api']"
    ]


def test_a_name_another_site_uses_is_never_retired():
    model = stage.derive(stage.normalized({**GOOD, "caddy_site_prefix": "app"}), "123456789012", "aws")
    assert model["host_names"]["site"] == "app.dev.convex.example.com"
    assert model["retired_host_names"] == {}


@pytest.mark.parametrize(
    ("rule", "good", "bad"),
    [
        ("absolute_path", ["/srv/convex-app/current", "/home/me/My App/dist"], ["dist", "", "/srv/app\n", 3]),
        (
            "origin",
            ["https://api.example.com", "wss://api.example.com:8443"],
            ["http://api.example.com", "https://a/b"],
        ),
        ("release", ["0a1b2c3d4e5f"], ["0a1b2c3d4e5", "0A1B2C3D4E5F", "0a1b2c3d4e5f\n", "../../etc"]),
    ],
)
def test_the_app_rules_the_roles_apply(rule, good, bad):
    """The frontend and caddy roles check their app inputs with these rules (the problem filter)."""
    check = FilterModule().filters()["problem"]
    assert [value for value in good if check(value, rule)] == []
    assert [value for value in bad if not check(value, rule)] == []
