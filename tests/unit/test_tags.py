"""The tag helpers every module uses."""

from ansible_collections.convex_selfhost.aws.plugins.module_utils import tags


def test_round_trip_between_dict_and_aws_list():
    as_list = tags.to_aws({"b": "2", "a": 1})
    assert as_list == [{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}]
    assert tags.from_aws(as_list) == {"a": "1", "b": "2"}


def test_other_key_names_for_services_that_use_them():
    assert tags.to_aws({"a": "1"}, "TagKey", "TagValue") == [{"TagKey": "a", "TagValue": "1"}]


def test_aws_reserved_tags_are_left_out():
    assert tags.from_aws([{"Key": "aws:cloudformation:stack-name", "Value": "x"}, {"Key": "k", "Value": "v"}]) == {
        "k": "v"
    }


def test_difference_with_and_without_purge():
    current = {"keep": "1", "change": "old", "extra": "x"}
    desired = {"keep": "1", "change": "new", "add": 5}
    assert tags.difference(current, desired) == ({"change": "new", "add": "5"}, ["extra"])
    assert tags.difference(current, desired, purge=False) == ({"change": "new", "add": "5"}, [])
    assert tags.difference(desired, desired) == ({}, [])


def test_managed_by_is_added_without_touching_the_input():
    mine = {"stage": "dev"}
    assert tags.with_managed_by(mine) == {"stage": "dev", tags.MANAGED_BY_KEY: tags.MANAGED_BY_VALUE}
    assert mine == {"stage": "dev"}
