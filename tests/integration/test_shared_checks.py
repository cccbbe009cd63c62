"""Checks every module gets from the shared base, run against each module for real."""

import pytest
from module_runner import run_module

MINIMAL_ARGS = {
    "account_info": {},
    "buckets": {"prefix": "convex-test-123456789012"},
    "database": {
        "name": "convex-test",
        "master_password": "Sup3rSecretPassw0rd",
        "subnet_ids": ["subnet-11111111", "subnet-22222222"],
    },
    "instance": {
        "name": "convex-test",
        "subnet_id": "subnet-11111111",
        "bucket_arns": ["arn:aws:s3:::convex-test-files"],
    },
    "network": {"name": "convex-test"},
    "secret": {"name": "/convex/test/instance_secret"},
}


@pytest.mark.parametrize("module", sorted(MINIMAL_ARGS))
def test_missing_region_fails_before_any_call(aws, module):
    env = aws.env()
    del env["AWS_REGION"], env["AWS_DEFAULT_REGION"]
    before = aws.request_count()
    result = run_module(module, MINIMAL_ARGS[module], env=env)
    assert result.failed
    assert "region is not set" in result["msg"]
    assert aws.request_count() == before


EMPTY = dict.fromkeys(
    (
        "vpcs",
        "instances",
        "addresses",
        "buckets",
        "parameters",
        "databases",
        "db_subnet_groups",
        "roles",
        "instance_profiles",
    ),
    [],
)


@pytest.mark.parametrize("module", sorted(MINIMAL_ARGS))
def test_check_mode_on_an_empty_account_changes_nothing(aws, module):
    result = run_module(module, {**aws.connection_args(), **MINIMAL_ARGS[module]}, check_mode=True)
    assert not result.failed, result
    assert result["changed"] is (module != "account_info")
    assert aws.holdings() == EMPTY


@pytest.mark.parametrize(
    ("module", "args", "names"),
    [
        ("database", {"name": "convex-test", "subnet_ids": ["subnet-1", "subnet-2"]}, "master_password"),
        ("database", {"name": "convex-test", "master_password": "Sup3rSecretPassw0rd"}, "subnet_ids"),
        ("instance", {"name": "convex-test", "bucket_arns": []}, "subnet_id"),
        ("instance", {"name": "convex-test", "subnet_id": "subnet-1"}, "bucket_arns must be set"),
    ],
)
def test_missing_creation_input_changes_nothing(aws, module, args, names):
    result = run_module(module, {**aws.connection_args(), **args})
    assert result.failed
    assert names in result["msg"]
    assert "nothing was changed" in result["msg"]
    assert aws.holdings() == EMPTY
