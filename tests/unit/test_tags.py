"""The tag helpers every module uses: amazon.aws's conversions, without AWS's own tags."""

from ansible_collections.convex_selfhost.aws.plugins.module_utils.actions import aws_tags, dict_tags


def test_round_trip_between_dict_and_aws_list():
    as_list = aws_tags({"b": "2", "a": 1})
    assert as_list == [{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}]
    assert dict_tags(as_list) == {"a": "1", "b": "2"}


def test_aws_reserved_tags_are_left_out():
    listed = [{"Key": "aws:cloudformation:stack-name", "Value": "x"}, {"Key": "k", "Value": "v"}]
    assert dict_tags(listed) == {"k": "v"}
