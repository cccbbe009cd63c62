"""The TEST STAND-IN backend refuses the environments the real backend would not run with."""

import importlib.machinery
import importlib.util
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "images" / "convex-standin" / "rootfs" / "usr" / "local" / "bin"
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
        ({"MYSQL_URL": "mysql://convex:secret@db.internal:3306/convex_self_hosted"}, "must not name a database"),
        ({"CONVEX_CLOUD_ORIGIN": "http://api.convex.test"}, "CONVEX_CLOUD_ORIGIN must be an https:// origin"),
        ({"CONVEX_SITE_ORIGIN": "https://api.convex.test"}, "must differ"),
        ({"S3_STORAGE_FILES_BUCKET": ""}, "missing: S3_STORAGE_FILES_BUCKET"),
        ({"S3_STORAGE_FILES_BUCKET": "bucket-0"}, "five different buckets"),
        ({"AWS_REGION": ""}, "AWS_REGION must be set"),
        ({"MYSQL_CA_FILE": "/nonexistent/ca.pem"}, "MYSQL_CA_FILE /nonexistent/ca.pem is not readable"),
        ({"INSTANCE_SECRET": "short"}, "INSTANCE_SECRET must be 64 hex"),
    ],
)
def test_a_broken_contract_is_refused(change, problem):
    problems = standin.contract_problems({**GOOD, **change})
    assert any(problem in p for p in problems), problems


def test_admin_key_depends_only_on_name_and_secret():
    key = standin.admin_key(GOOD)
    assert key.startswith("convex-self-hosted|")
    assert standin.admin_key(dict(GOOD, MYSQL_URL="mysql://other@x:1")) == key
    assert standin.admin_key(dict(GOOD, INSTANCE_SECRET="cd" * 32)) != key
