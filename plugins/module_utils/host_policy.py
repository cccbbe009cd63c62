# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The least the Convex host needs from AWS: its five buckets and its stage's SSM parameters."""

from __future__ import annotations

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
PARAMETER_ACTIONS = ["ssm:GetParameter", "ssm:GetParameters", "ssm:GetParametersByPath"]


def parameter_arns(partition, region, account_id, path):
    base = f"arn:{partition}:ssm:{region}:{account_id}:parameter{path.rstrip('/')}"
    return [base, f"{base}/*"]


def host_policy(bucket_arns, parameter_resources, kms_key_arns=()):
    statements = [
        {"Sid": "ConvexBuckets", "Effect": "Allow", "Action": BUCKET_ACTIONS, "Resource": sorted(bucket_arns)},
        {
            "Sid": "ConvexObjects",
            "Effect": "Allow",
            "Action": OBJECT_ACTIONS,
            "Resource": sorted(f"{arn}/*" for arn in bucket_arns),
        },
        {"Sid": "StageParameters", "Effect": "Allow", "Action": PARAMETER_ACTIONS, "Resource": parameter_resources},
    ]
    if kms_key_arns:
        statements.append(
            {
                "Sid": "StageKeys",
                "Effect": "Allow",
                "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
                "Resource": sorted(kms_key_arns),
            }
        )
    return {"Version": "2012-10-17", "Statement": statements}
