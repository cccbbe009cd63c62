"""The TEST STAND-IN backend refuses what the real backend refuses, and no more: each case names
the upstream file (get-convex/convex-backend at the pinned release) whose behaviour it follows."""

import importlib.machinery
import importlib.util
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "local" / "convex-standin" / "rootfs" / "usr" / "local" / "bin"
loader = importlib.machinery.SourceFileLoader("convex_standin", str(SCRIPT / "convex-standin"))
spec = importlib.util.spec_from_loader("convex_standin", loader)
standin = importlib.util.module_from_spec(spec)
loader.exec_module(standin)

GOOD = {
    "CONVEX_CLOUD_ORIGIN": "https://api.convex.test",
    "CONVEX_SITE_ORIGIN": "https://site.convex.test",
    "AWS_REGION": "us-east-1",
    "MYSQL_URL": "mysql://convex:secret@db.internal:3306",
    "INSTANCE_NAME": "convex-self-hosted",
    "INSTANCE_SECRET": "ab" * 32,
    **{name: f"bucket-{i}" for i, name in enumerate(standin.BUCKET_VARIABLES)},
}


def test_a_correct_environment_passes():
    assert standin.contract_problems(GOOD) == []


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        # crates/clusters/src/lib.rs and self-hosted/advanced/postgres_or_mysql.md
        ({"MYSQL_URL": "mysql://convex:secret@db.internal:3306/convex_self_hosted"}, "already contains db name"),
        ({"MYSQL_URL": "mysql://db.internal:3306"}, "username must be set"),
        # crates/local_backend/src/config.rs
        ({"CONVEX_CLOUD_ORIGIN": "api.convex.test"}, "should start with https:// or http://"),
        # crates/keybroker/src/secret.rs
        ({"INSTANCE_SECRET": "short"}, "couldn't hexdecode key"),
        ({"INSTANCE_SECRET": "ab" * 16}, "not 32 bytes"),
        # crates/mysql/src/connection.rs
        ({"MYSQL_CA_FILE": "/nonexistent/ca.pem"}, "MYSQL_CA_FILE does not exist: /nonexistent/ca.pem"),
    ],
)
def test_a_broken_contract_is_refused(change, problem):
    problems = standin.contract_problems({**GOOD, **change})
    assert any(problem in p for p in problems), problems


@pytest.mark.parametrize(
    "change",
    [
        # Upstream takes http origins (config.rs) and never compares the two origins.
        {"CONVEX_CLOUD_ORIGIN": "http://127.0.0.1:3210"},
        {"CONVEX_SITE_ORIGIN": "https://api.convex.test"},
        # run_backend.sh falls back to SQLite without MYSQL_URL; the same bucket five times is
        # not refused either.
        {"MYSQL_URL": ""},
        dict.fromkeys(standin.BUCKET_VARIABLES, "one-bucket"),
    ],
)
def test_what_upstream_accepts_is_accepted(change):
    assert standin.contract_problems({**GOOD, **change}) == []


def test_storage_is_s3_only_with_all_six_variables():
    # self-hosted/docker-build/run_backend.sh
    assert standin.storage_mode(GOOD) == ("s3", None)
    mode, warning = standin.storage_mode({**GOOD, "S3_STORAGE_FILES_BUCKET": ""})
    assert mode == "local" and "S3_STORAGE_FILES_BUCKET" in warning
    assert standin.storage_mode({"INSTANCE_NAME": "x"}) == ("local", None)


def test_credentials_are_kept_in_the_data_volume_and_reused(tmp_path):
    # self-hosted/docker-build/read_credentials.sh
    first = standin.read_credentials({"DATA_DIR": str(tmp_path), "INSTANCE_NAME": "convex-self-hosted"})
    again = standin.read_credentials({"DATA_DIR": str(tmp_path)})
    assert again["INSTANCE_SECRET"] == first["INSTANCE_SECRET"] and len(first["INSTANCE_SECRET"]) == 64
    assert again["INSTANCE_NAME"] == "convex-self-hosted"
    given = standin.read_credentials({"DATA_DIR": str(tmp_path), "INSTANCE_SECRET": "cd" * 32})
    assert given["INSTANCE_SECRET"] == "cd" * 32
    assert (tmp_path / "credentials" / "instance_secret").read_text().strip() == "cd" * 32


def test_the_storage_tag_is_kept_and_checked_on_every_start(tmp_path):
    # crates/model/src/database_globals/mod.rs
    env = {"DATA_DIR": str(tmp_path), "INSTANCE_NAME": "convex-self-hosted"}
    store = standin.Store(env)
    prefix = standin.storage_tag(store, env, "s3")
    assert prefix.startswith("convex-self-hosted-") and prefix.endswith("/")
    assert standin.storage_tag(standin.Store(env), env, "s3") == prefix
    with pytest.raises(SystemExit):
        standin.storage_tag(standin.Store(env), env, "local")
    with pytest.raises(SystemExit):
        standin.storage_tag(standin.Store(env), {**env, "INSTANCE_NAME": "another"}, "s3")


def test_admin_key_depends_only_on_name_and_secret():
    key = standin.admin_key(GOOD)
    assert key.startswith("convex-self-hosted|")
    assert standin.admin_key(dict(GOOD, MYSQL_URL="mysql://other@x:1")) == key
    assert standin.admin_key(dict(GOOD, INSTANCE_SECRET="cd" * 32)) != key
