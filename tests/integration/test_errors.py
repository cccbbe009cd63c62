"""Failures say what AWS answered and what to fix."""

import pytest
from botocore.exceptions import ClientError, NoCredentialsError, NoRegionError

from ansible_collections.convex_selfhost.aws.plugins.module_utils.errors import error_code, explain


def test_a_real_error_from_the_emulator_keeps_code_and_message(aws):
    with pytest.raises(ClientError) as raised:
        aws.client("ec2").describe_vpcs(VpcIds=["vpc-00000000"])
    message = explain(raised.value, "read the VPC")
    assert message.startswith("Could not read the VPC: InvalidVpcID.NotFound: ")
    assert "vpc-00000000" in message
    assert error_code(raised.value) == "InvalidVpcID.NotFound"


@pytest.mark.parametrize(
    ("code", "hint"),
    [
        ("InvalidClientTokenId", "check the AWS credentials"),
        ("AccessDenied", "give the caller's IAM identity permission"),
        ("ExpiredToken", "refresh the credentials"),
    ],
)
def test_known_codes_carry_a_hint(code, hint):
    error = ClientError({"Error": {"Code": code, "Message": "no"}}, "GetCallerIdentity")
    assert hint in explain(error, "read the caller")


def test_sdk_errors_say_which_setting_is_missing():
    assert "set region (or AWS_REGION)" in explain(NoRegionError(), "create the VPC")
    assert "set profile (or AWS_PROFILE)" in explain(NoCredentialsError(), "create the VPC")
