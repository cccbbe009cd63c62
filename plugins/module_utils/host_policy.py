# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The least the Convex host needs from AWS: the objects of its five buckets and the bucket-level
calls the backend's S3 storage makes, the streams of its own log group for Docker's awslogs
driver, and metrics in its own CloudWatch namespace (the metrics role). Nothing else, and no SSM:
every secret is read on the controller, and with IMDS hop limit 2 any container on the host (a
user's Node action too) can take the role's credentials."""

from __future__ import annotations

import re

TRUST_EC2 = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"},
    ],
}

# The object-level actions the backend's S3 storage uses; nothing that changes bucket settings.
OBJECT_ACTIONS = [
    "s3:AbortMultipartUpload",
    "s3:DeleteObject",
    "s3:GetObject",
    "s3:ListMultipartUploadParts",
    "s3:PutObject",
]
BUCKET_ACTIONS = ["s3:GetBucketLocation", "s3:ListBucket", "s3:ListBucketMultipartUploads"]
KEY_ACTIONS = ["kms:Decrypt", "kms:GenerateDataKey"]
# What Docker's awslogs driver calls with awslogs-create-group off: CreateLogStream (an existing
# stream's ResourceAlreadyExistsException is taken as success) and PutLogEvents (moby,
# daemon/logger/awslogs/cloudwatchlogs.go). The group itself is the deployment module's to make.
LOG_ACTIONS = ["logs:CreateLogStream", "logs:PutLogEvents"]
# PutMetricData names no resource (the CloudWatch service authorization reference lists none for
# it); the cloudwatch:namespace condition key is what limits it, here to the deployment's own.
METRIC_ACTIONS = ["cloudwatch:PutMetricData"]
# The copy of Caddy's storage (caddy_storage.py): read on a new host, written by the host alone.
SECRET_ACTIONS = ["secretsmanager:GetSecretValue", "secretsmanager:PutSecretValue"]
# One key, named by its full ARN: a wildcard or an alias would grant more than the buckets' key.
_KEY_ARN = re.compile(r"arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key/[A-Za-z0-9-]+")


def kms_key_arn_problem(arn):
    if not isinstance(arn, str) or not _KEY_ARN.fullmatch(arn):
        return (
            f"{arn!r} is not one KMS key's ARN (arn:aws:kms:<region>:<account>:key/<id>); wildcards and aliases "
            "would let the host use other keys"
        )
    return None


def host_policy(bucket_arns, kms_key_arns=(), log_group_arn=None, metric_namespace=None, caddy_storage_arn=None):
    statements = [
        {"Sid": "ConvexBuckets", "Effect": "Allow", "Action": BUCKET_ACTIONS, "Resource": sorted(bucket_arns)},
        {
            "Sid": "ConvexObjects",
            "Effect": "Allow",
            "Action": OBJECT_ACTIONS,
            "Resource": sorted(f"{arn}/*" for arn in bucket_arns),
        },
    ]
    if log_group_arn:
        # The streams of the deployment's own group only: log-stream ARNs are the group's ARN
        # followed by :log-stream:<name>.
        statements.append(
            {
                "Sid": "ConvexLogs",
                "Effect": "Allow",
                "Action": LOG_ACTIONS,
                "Resource": [f"{log_group_arn}:log-stream:*"],
            }
        )
    if metric_namespace:
        statements.append(
            {
                "Sid": "ConvexMetrics",
                "Effect": "Allow",
                "Action": METRIC_ACTIONS,
                "Resource": "*",
                "Condition": {"StringEquals": {"cloudwatch:namespace": metric_namespace}},
            }
        )
    if caddy_storage_arn:
        # The copy of Caddy's storage: read on a new host, written when Caddy's storage changed.
        statements.append(
            {"Sid": "CaddyStorage", "Effect": "Allow", "Action": SECRET_ACTIONS, "Resource": [caddy_storage_arn]}
        )
    if kms_key_arns:
        statements.append(
            {"Sid": "BucketKeys", "Effect": "Allow", "Action": KEY_ACTIONS, "Resource": sorted(kms_key_arns)}
        )
    return {"Version": "2012-10-17", "Statement": statements}
