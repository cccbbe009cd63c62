# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""How every write this collection makes may be sent again when AWS's answer to it is lost.

AWS can act on a request and still fail to answer it: a 500 after the write, a dropped
connection, a time-out (retry.py calls that outcome "unknown"). Sending the same write again is
then safe only when a second one does no more than the first. Each write operation the
collection calls is listed here, written once, with what makes its repeat safe:
- SAFE: it sets a state (put, modify, tag), so a repeat sets the same state again;
- TOKEN: its request carries a client token, and AWS answers a repeat with the first result
  (EC2 API reference, "Ensuring idempotency in Amazon EC2 API requests"; RunInstances and
  CreateRouteTable take ClientToken);
- done(codes): AWS answers a repeat with one of codes when the first attempt went through (the
  thing exists already, or is gone already). The caller may also give a find() that returns the
  thing, which then stands for the lost answer;
- FIND: nothing in AWS makes a repeat safe (CreateVpc, CreateSubnet, CreateInternetGateway,
  AllocateAddress): the thing is tagged at creation, and before any repeat the caller's find()
  looks it up by those tags. Without a find() the write is not repeated.
A write that is not listed is never repeated after an unknown outcome, and tests/unit holds every
write the collection makes to be listed.
"""

from __future__ import annotations

from collections import namedtuple

# safe: a repeat is harmless; done_codes: answers to a repeat that mean the first attempt went
# through; ours: those answers also say the thing is the caller's own, so they mean success even
# to a first attempt (S3's BucketAlreadyOwnedByYou); token: safe when the request carries its
# ClientToken.
Repeat = namedtuple("Repeat", "safe done_codes ours token")

SAFE = Repeat(True, frozenset(), False, False)
FIND = Repeat(False, frozenset(), False, False)
NEVER = Repeat(False, frozenset(), False, False)
TOKEN = Repeat(False, frozenset(), False, True)


def done(*codes, ours=False):
    return Repeat(False, frozenset(codes), ours, False)


# Operations that only read (botocore method names start with these).
READ_PREFIXES = ("describe_", "get_", "list_", "head_", "lookup_")

WRITES = {
    "ec2": {
        "create_vpc": FIND,
        "create_subnet": FIND,
        "create_internet_gateway": FIND,
        "allocate_address": FIND,
        "run_instances": TOKEN,
        "create_route_table": TOKEN,
        "create_security_group": done("InvalidGroup.Duplicate"),
        "attach_internet_gateway": done("Resource.AlreadyAssociated"),
        "associate_route_table": done("Resource.AlreadyAssociated"),
        "create_route": done("RouteAlreadyExists"),
        "authorize_security_group_ingress": done("InvalidPermission.Duplicate"),
        "revoke_security_group_ingress": done("InvalidPermission.NotFound"),
        "revoke_security_group_egress": done("InvalidPermission.NotFound"),
        "associate_iam_instance_profile": done("IncorrectState"),
        # Idempotent by default, as EC2's idempotency page lists them (with TerminateInstances).
        "disassociate_address": SAFE,
        "release_address": done("InvalidAllocationID.NotFound"),
        "disassociate_route_table": done("InvalidAssociationID.NotFound"),
        "delete_route_table": done("InvalidRouteTableID.NotFound"),
        "delete_security_group": done("InvalidGroup.NotFound"),
        "delete_subnet": done("InvalidSubnetID.NotFound"),
        "detach_internet_gateway": done("Gateway.NotAttached"),
        "delete_internet_gateway": done("InvalidInternetGatewayID.NotFound"),
        "delete_vpc": done("InvalidVpcID.NotFound"),
        "modify_vpc_attribute": SAFE,
        "modify_subnet_attribute": SAFE,
        "replace_route": SAFE,
        "modify_instance_metadata_options": SAFE,
        "modify_instance_attribute": SAFE,
        "associate_address": SAFE,
        "terminate_instances": SAFE,
        "stop_instances": SAFE,
        # A repeat of a modification that went through is refused while the first is under way;
        # the caller's find() sees the first by its target size (DescribeVolumesModifications).
        "modify_volume": FIND,
        "start_instances": SAFE,
        "create_tags": SAFE,
        "delete_tags": SAFE,
    },
    "iam": {
        "create_role": done("EntityAlreadyExists"),
        "create_instance_profile": done("EntityAlreadyExists"),
        # A profile holds one role: the second AddRoleToInstanceProfile is refused as over quota.
        "add_role_to_instance_profile": done("LimitExceeded", "EntityAlreadyExists"),
        "remove_role_from_instance_profile": done("NoSuchEntity"),
        "delete_instance_profile": done("NoSuchEntity"),
        "delete_role_policy": done("NoSuchEntity"),
        "delete_role": done("NoSuchEntity"),
        "put_role_policy": SAFE,
        "update_assume_role_policy": SAFE,
        "tag_role": SAFE,
        "untag_role": SAFE,
        "tag_instance_profile": SAFE,
        "untag_instance_profile": SAFE,
    },
    "s3": {
        "create_bucket": done("BucketAlreadyOwnedByYou", ours=True),
        "delete_bucket": done("NoSuchBucket"),
        "put_bucket_encryption": SAFE,
        "put_public_access_block": SAFE,
        "put_bucket_ownership_controls": SAFE,
        "put_bucket_versioning": SAFE,
        "put_bucket_tagging": SAFE,
        "put_bucket_lifecycle_configuration": SAFE,
        "put_bucket_policy": SAFE,
        "delete_bucket_lifecycle": SAFE,
        "delete_bucket_policy": SAFE,
        "delete_objects": SAFE,
    },
    "rds": {
        "create_db_instance": done("DBInstanceAlreadyExists"),
        "restore_db_instance_from_db_snapshot": done("DBInstanceAlreadyExists"),
        "restore_db_instance_to_point_in_time": done("DBInstanceAlreadyExists"),
        "create_db_subnet_group": done("DBSubnetGroupAlreadyExists"),
        "create_db_parameter_group": done("DBParameterGroupAlreadyExists"),
        "create_db_snapshot": done("DBSnapshotAlreadyExists"),
        "delete_db_instance": done("DBInstanceNotFound", "DBInstanceNotFoundFault"),
        "delete_db_snapshot": done("DBSnapshotNotFound", "DBSnapshotNotFoundFault"),
        "delete_db_subnet_group": done("DBSubnetGroupNotFoundFault"),
        "delete_db_parameter_group": done("DBParameterGroupNotFound", "DBParameterGroupNotFoundFault"),
        "modify_db_instance": SAFE,
        "modify_db_subnet_group": SAFE,
        "modify_db_parameter_group": SAFE,
        "add_tags_to_resource": SAFE,
        "remove_tags_from_resource": SAFE,
    },
    "ssm": {
        # With Overwrite false a repeat is refused as existing; with Overwrite true it is SAFE.
        "put_parameter": done("ParameterAlreadyExists"),
        "delete_parameter": done("ParameterNotFound"),
        "add_tags_to_resource": SAFE,
        "remove_tags_from_resource": SAFE,
    },
    "route53": {
        # A batch applies whole or not at all: repeated after it applied, its DELETEs find nothing
        # (InvalidChangeBatch); the caller's find() reads the records back to tell that from a
        # batch that was wrong. A batch of UPSERTs alone is SAFE (repeat_of).
        "change_resource_record_sets": done("InvalidChangeBatch"),
    },
    "cloudwatch": {
        # An alarm or a dashboard is replaced whole by name; DeleteAlarms of a name already gone
        # succeeds.
        "put_metric_alarm": SAFE,
        "delete_alarms": SAFE,
        "put_dashboard": SAFE,
        "delete_dashboards": done("ResourceNotFound"),
    },
    "sns": {
        # CreateTopic is idempotent by name: a repeat returns the topic the first one made (SNS API
        # reference, CreateTopic). A repeated Subscribe of the same address gives the same
        # subscription (or mails the confirmation again); DeleteTopic of a topic gone succeeds.
        "create_topic": SAFE,
        "subscribe": SAFE,
        "unsubscribe": done("NotFound"),
        "delete_topic": SAFE,
        "tag_resource": SAFE,
        "untag_resource": SAFE,
    },
    "secretsmanager": {
        # A secret is named by the caller: a repeat that finds it made is the first attempt's, and
        # the caller's find() reads it back. A repeat of a deletion finds the secret already marked
        # deleted (InvalidRequestException, which also means the secret is in no state to delete).
        "create_secret": done("ResourceExistsException"),
        "delete_secret": done("InvalidRequestException"),
        "restore_secret": SAFE,
        "put_resource_policy": SAFE,
        "tag_resource": SAFE,
        "untag_resource": SAFE,
    },
    "logs": {
        # A log group is named by the caller: a repeat that finds it made is the first attempt's.
        "create_log_group": done("ResourceAlreadyExistsException"),
        "delete_log_group": done("ResourceNotFoundException"),
        # A repeat would copy the logs twice: the caller's find() looks the task up by its prefix.
        "create_export_task": FIND,
        "put_retention_policy": SAFE,
        "delete_retention_policy": SAFE,
        "tag_resource": SAFE,
        "untag_resource": SAFE,
    },
}


def is_read(operation):
    return operation.startswith(READ_PREFIXES)


def repeat_of(service, operation, kwargs):
    """How operation of service, sent with kwargs, may be repeated (a Repeat)."""
    repeat = WRITES.get(service, {}).get(operation, NEVER)
    if repeat.token:
        # Only a request that carries its token is safe to send again.
        return SAFE if kwargs.get("ClientToken") else NEVER
    if service == "route53" and operation == "change_resource_record_sets":
        actions = {c["Action"] for c in kwargs.get("ChangeBatch", {}).get("Changes", [])}
        return SAFE if actions == {"UPSERT"} else repeat
    if service == "ssm" and operation == "put_parameter" and kwargs.get("Overwrite"):
        return SAFE
    return repeat
