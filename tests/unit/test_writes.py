"""Every write the collection makes says how it may be repeated after a lost answer (writes.py), and
the retry loop repeats a write only that way. The loop is driven here by a stand-in function whose
answers the test chooses; the modules' behaviour against the emulator is in
tests/integration/test_lost_answers.py."""

from __future__ import annotations

import ast
from pathlib import Path

import botocore.session
import pytest
from botocore.exceptions import ClientError, ConnectionClosedError

from ansible_collections.convex_selfhost.aws.plugins.module_utils import writes
from ansible_collections.convex_selfhost.aws.plugins.module_utils.retry import (
    REFUSED,
    UNKNOWN,
    Backoff,
    passing,
    write_with_retries,
)

PLUGINS = Path(__file__).resolve().parents[2] / "plugins"
SERVICES = ("ec2", "iam", "s3", "rds", "ssm", "route53", "cloudwatch", "sts")


def operations():
    """botocore's method name of every operation of the services the collection calls, by name."""
    session = botocore.session.get_session()
    found = {}
    for service in SERVICES:
        model = session.get_service_model(service)
        for name in model.operation_names:
            found.setdefault(botocore.xform_name(name), set()).add(service)
    return found


def called_operations():
    """Every AWS operation the plugins name as a string argument of a call (act, call, write ...)."""
    known = operations()
    named = set()
    for path in PLUGINS.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call):
                for argument in [*node.args, *(k.value for k in node.keywords)]:
                    if isinstance(argument, ast.Constant) and argument.value in known:
                        named.add(argument.value)
    return named


def test_the_scan_finds_the_collections_writes():
    named = called_operations()
    assert {"create_vpc", "run_instances", "create_bucket", "put_parameter", "create_db_instance"} <= named


def test_every_write_the_collection_makes_is_listed():
    listed = {operation for table in writes.WRITES.values() for operation in table}
    unlisted = sorted(op for op in called_operations() if not writes.is_read(op) and op not in listed)
    assert unlisted == [], f"say in writes.py how these may be repeated after a lost answer: {unlisted}"


def test_every_listed_write_is_an_operation_of_its_service():
    session = botocore.session.get_session()
    for service, table in writes.WRITES.items():
        model_operations = {botocore.xform_name(n) for n in session.get_service_model(service).operation_names}
        assert set(table) <= model_operations, sorted(set(table) - model_operations)


def error(code, status=400):
    return ClientError({"Error": {"Code": code, "Message": code}, "ResponseMetadata": {"HTTPStatusCode": status}}, "Op")


LOST = error("InternalError", 500)
DROPPED = ConnectionClosedError(endpoint_url="http://aws")


def test_throttling_is_refused_and_a_lost_answer_is_unknown():
    assert passing(error("Throttling")) == REFUSED
    assert passing(error("SlowDown", 503)) == REFUSED
    assert passing(LOST) == UNKNOWN
    assert passing(error("503", 503)) == UNKNOWN
    assert passing(DROPPED) == UNKNOWN
    assert passing(error("InvalidParameterValue")) is None


class Answers:
    """A write whose answers come from a list: an exception is raised, anything else returned."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.calls = 0

    def __call__(self, **kwargs):
        self.calls += 1
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


FAST = Backoff(attempts=5, base=0.0001, cap=0.001)


def test_a_write_nothing_makes_safe_is_not_repeated_after_a_lost_answer():
    create = Answers(LOST, {"Vpc": "second"})
    with pytest.raises(ClientError):
        write_with_retries(create, FAST, writes.FIND)
    assert create.calls == 1


def test_a_throttled_write_is_repeated_whatever_it_is():
    create = Answers(error("RequestLimitExceeded"), {"Vpc": "first"})
    assert write_with_retries(create, FAST, writes.FIND) == {"Vpc": "first"}
    assert create.calls == 2


@pytest.mark.parametrize("lost", [LOST, DROPPED])
def test_find_stands_in_for_a_lost_answer_before_any_repeat(lost):
    create = Answers(lost, {"Vpc": "second"})
    assert write_with_retries(create, FAST, writes.FIND, find=lambda: {"Vpc": "first"}) == {"Vpc": "first"}
    assert create.calls == 1


def test_nothing_found_after_a_lost_answer_means_the_write_is_made_again():
    create = Answers(LOST, {"Vpc": "made"})
    assert write_with_retries(create, FAST, writes.FIND, find=lambda: None) == {"Vpc": "made"}
    assert create.calls == 2


def test_an_answer_that_it_exists_means_done_only_after_a_lost_answer():
    attach = writes.repeat_of("ec2", "attach_internet_gateway", {})
    assert write_with_retries(Answers(LOST, error("Resource.AlreadyAssociated")), FAST, attach) == {}
    with pytest.raises(ClientError):
        write_with_retries(Answers(error("Resource.AlreadyAssociated")), FAST, attach)


def test_an_answer_that_it_is_ours_means_done_at_once():
    create = writes.repeat_of("s3", "create_bucket", {})
    assert write_with_retries(Answers(error("BucketAlreadyOwnedByYou", 409)), FAST, create) == {}


def test_find_decides_whether_what_exists_is_ours():
    profile = writes.repeat_of("iam", "add_role_to_instance_profile", {})
    assert write_with_retries(Answers(error("LimitExceeded", 409)), FAST, profile, find=lambda: {}) == {}
    with pytest.raises(ClientError):
        write_with_retries(Answers(error("LimitExceeded", 409)), FAST, profile, find=lambda: None)


def test_a_client_token_makes_a_launch_repeatable_only_when_it_is_sent():
    assert writes.repeat_of("ec2", "run_instances", {"ClientToken": "t"}) == writes.SAFE
    assert writes.repeat_of("ec2", "run_instances", {}) == writes.NEVER
    launch = Answers(LOST, {"Instances": ["first"]})
    assert write_with_retries(launch, FAST, writes.repeat_of("ec2", "run_instances", {"ClientToken": "t"})) == {
        "Instances": ["first"]
    }


def test_an_upsert_batch_is_repeatable_and_a_delete_batch_needs_its_answer():
    upserts = {"ChangeBatch": {"Changes": [{"Action": "UPSERT"}]}}
    deletes = {"ChangeBatch": {"Changes": [{"Action": "UPSERT"}, {"Action": "DELETE"}]}}
    assert writes.repeat_of("route53", "change_resource_record_sets", upserts) == writes.SAFE
    assert writes.repeat_of("route53", "change_resource_record_sets", deletes).done_codes == {"InvalidChangeBatch"}


def test_an_unlisted_write_is_never_repeated_after_a_lost_answer():
    assert writes.repeat_of("ec2", "create_vpn_gateway", {}) == writes.NEVER
    create = Answers(LOST, {})
    with pytest.raises(ClientError):
        write_with_retries(create, FAST, writes.NEVER)
    assert create.calls == 1
