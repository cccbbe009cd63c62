"""account_info against the emulator: the shared module base end to end, for real."""

from module_runner import run_module
from moto_server import free_port


def test_reports_account_and_region_with_connection_options(aws):
    result = run_module("account_info", aws.connection_args())
    assert not result.failed, result
    assert result["changed"] is False
    assert result["account_id"] == "123456789012"
    assert result["region"] == aws.region
    assert result["arn"].startswith("arn:aws:")
    assert result["partition"] == "aws"


def test_environment_alone_points_the_module_at_the_emulator(aws):
    # No endpoint_url parameter: AWS_ENDPOINT_URL in the environment is the documented way.
    before = aws.request_count()
    result = run_module("account_info", {}, env=aws.env())
    assert not result.failed, result
    assert result["region"] == aws.region
    assert aws.request_count() == before + 1


def test_check_mode_reads_the_same(aws):
    result = run_module("account_info", aws.connection_args(), check_mode=True)
    assert not result.failed, result
    assert result["changed"] is False
    assert result["account_id"] == "123456789012"


def test_missing_region_fails_before_any_call(aws):
    env = aws.env()
    del env["AWS_REGION"], env["AWS_DEFAULT_REGION"]
    before = aws.request_count()
    result = run_module("account_info", {}, env=env)
    assert result.failed
    assert "region is not set" in result["msg"]
    assert "AWS_REGION" in result["msg"]
    assert aws.request_count() == before


def test_unknown_region_fails_before_any_call(aws):
    before = aws.request_count()
    result = run_module("account_info", dict(aws.connection_args(), region="xx-nowhere-9"))
    assert result.failed
    assert "xx-nowhere-9" in result["msg"]
    assert "us-east-1" in result["msg"]
    assert aws.request_count() == before


def test_malformed_region_names_the_value(aws):
    result = run_module("account_info", dict(aws.connection_args(), region="US East"))
    assert result.failed
    assert "'US East' is not an AWS region name" in result["msg"]


def test_unreachable_endpoint_says_which_setting_to_check(aws):
    result = run_module("account_info", aws.connection_args(endpoint=f"http://127.0.0.1:{free_port()}"))
    assert result.failed
    assert "did not answer" in result["msg"]
    assert "endpoint_url" in result["msg"]
