"""secret against the emulator: generated once, kept, never shown unless asked."""

import json
import string

import pytest
from botocore.exceptions import ClientError
from module_runner import run_module

from ansible_collections.convex_selfhost.aws.plugins.module_utils.tags import MANAGED_BY_KEY

NAME = "/convex/test/instance_secret"


def secret_args(aws, **extra):
    return {**aws.connection_args(), "name": NAME, "alphabet": "hex", "tags": {"stage": "test"}, **extra}


def stored(aws, name=NAME):
    return aws.client("ssm").get_parameter(Name=name, WithDecryption=True)["Parameter"]


def stored_tags(aws, name=NAME):
    listed = aws.client("ssm").list_tags_for_resource(ResourceType="Parameter", ResourceId=name)
    return {t["Key"]: t["Value"] for t in listed["TagList"]}


def test_create_generates_a_securestring_and_does_not_return_it(aws):
    result = run_module("secret", secret_args(aws))
    assert not result.failed, result
    assert result.changed
    parameter = stored(aws)
    assert parameter["Type"] == "SecureString"
    assert len(parameter["Value"]) == 64
    assert set(parameter["Value"]) <= set("0123456789abcdef")
    assert "value" not in result
    assert parameter["Value"] not in json.dumps(result)
    assert stored_tags(aws) == {"stage": "test", MANAGED_BY_KEY: "convex_selfhost.aws"}


def test_second_run_keeps_the_value_and_reports_no_change(aws):
    run_module("secret", secret_args(aws))
    first = stored(aws)["Value"]
    again = run_module("secret", secret_args(aws, return_value=True))
    assert not again.failed, again
    assert again.changed is False
    assert again["value"] == first
    assert stored(aws)["Version"] == 1


def test_check_mode_reports_changes_and_makes_none(aws):
    missing = run_module("secret", secret_args(aws), check_mode=True)
    assert missing.changed
    with pytest.raises(ClientError):
        stored(aws)

    run_module("secret", secret_args(aws))
    retagged = run_module("secret", secret_args(aws, tags={"stage": "other"}), check_mode=True, diff=True)
    assert retagged.changed
    assert retagged["changes"] == ["tag /convex/test/instance_secret"]
    assert retagged["tags"]["stage"] == "other"
    assert stored_tags(aws)["stage"] == "test"


def test_drift_in_tags_is_repaired(aws):
    run_module("secret", secret_args(aws))
    ssm = aws.client("ssm")
    ssm.remove_tags_from_resource(ResourceType="Parameter", ResourceId=NAME, TagKeys=["stage"])
    ssm.add_tags_to_resource(ResourceType="Parameter", ResourceId=NAME, Tags=[{"Key": "stray", "Value": "x"}])
    repaired = run_module("secret", secret_args(aws))
    assert repaired.changed
    assert stored_tags(aws) == {"stage": "test", MANAGED_BY_KEY: "convex_selfhost.aws"}


def test_given_value_is_stored_and_replaced_when_it_differs(aws):
    first = run_module("secret", secret_args(aws, value="first-admin-key"))
    assert first.changed
    assert stored(aws)["Value"] == "first-admin-key"
    same = run_module("secret", secret_args(aws, value="first-admin-key"))
    assert same.changed is False
    other = run_module("secret", secret_args(aws, value="second-admin-key"))
    assert other.changed
    assert stored(aws)["Value"] == "second-admin-key"
    assert "second-admin-key" not in json.dumps(other)


def test_regenerate_replaces_the_value(aws):
    run_module("secret", secret_args(aws))
    old = stored(aws)["Value"]
    rotated = run_module("secret", secret_args(aws, regenerate=True))
    assert rotated.changed
    assert stored(aws)["Value"] != old
    assert rotated["version"] == 2


def test_alphabet_and_length_are_honoured(aws):
    run_module("secret", secret_args(aws, alphabet="lowercase_alphanumeric", length=40))
    value = stored(aws)["Value"]
    assert len(value) == 40
    assert set(value) <= set(string.ascii_lowercase + string.digits)


def test_absent_removes_the_parameter_and_is_idempotent(aws):
    run_module("secret", secret_args(aws))
    removed = run_module("secret", secret_args(aws, state="absent"))
    assert removed.changed
    with pytest.raises(ClientError):
        stored(aws)
    again = run_module("secret", secret_args(aws, state="absent"))
    assert again.changed is False


@pytest.mark.parametrize(
    ("bad", "names"),
    [
        ({"name": "convex/no-leading-slash"}, "name 'convex/no-leading-slash'"),
        ({"length": 4}, "length 4"),
        ({"alphabet": "aaaa"}, "alphabet 'aaaa'"),
        ({"value": "x" * 10, "regenerate": True}, "value and regenerate"),
    ],
)
def test_bad_input_fails_before_any_call(aws, bad, names):
    aws.assert_module_refuses("secret", secret_args(aws, **bad), names)


def test_a_noop_run_costs_two_api_calls(aws):
    run_module("secret", secret_args(aws))
    before = aws.request_count()
    run_module("secret", secret_args(aws))
    assert aws.request_count() - before == 2
