"""Everything an AWS account (the emulator) holds that the collection could make, described so that
two accounts compare attribute for attribute: ids become the names their Name tags give (or what
they point at), and what differs between any two accounts (addresses, times, generated secrets) is
left out. Nothing is filtered by the collection's tags, so an orphan or a second copy shows.
"""

from __future__ import annotations

import json


def _tags(items):
    return {t["Key"]: t["Value"] for t in items or []}


class _Names:
    """Resource ids as their Name tags (or another stable name) say them."""

    def __init__(self):
        self.by_id = {}

    def add(self, resource_id, name):
        self.by_id[resource_id] = name or f"(unnamed {resource_id.split('-')[0]})"

    def __call__(self, resource_id):
        return self.by_id.get(resource_id, resource_id and f"(unknown {resource_id.split('-')[0]})")


def _rules(permissions, names):
    rules = []
    for permission in permissions or []:
        head = (permission.get("IpProtocol"), permission.get("FromPort"), permission.get("ToPort"))
        rules += [(*head, r["CidrIp"]) for r in permission.get("IpRanges", [])]
        rules += [(*head, r["CidrIpv6"]) for r in permission.get("Ipv6Ranges", [])]
        rules += [(*head, names(p["GroupId"])) for p in permission.get("UserIdGroupPairs", [])]
    return sorted(rules, key=str)


def ec2_holdings(ec2):
    names = _Names()
    vpcs = [v for v in ec2.describe_vpcs()["Vpcs"] if not v["IsDefault"]]
    subnets = [s for s in ec2.describe_subnets()["Subnets"] if not s.get("DefaultForAz")]
    gateways = ec2.describe_internet_gateways()["InternetGateways"]
    tables = ec2.describe_route_tables()["RouteTables"]
    groups = ec2.describe_security_groups()["SecurityGroups"]
    live = ["pending", "running", "stopping", "stopped"]
    instances = [
        i
        for r in ec2.describe_instances(Filters=[{"Name": "instance-state-name", "Values": live}])["Reservations"]
        for i in r["Instances"]
    ]
    addresses = ec2.describe_addresses()["Addresses"]
    for resource, key in (
        *((v, "VpcId") for v in vpcs),
        *((s, "SubnetId") for s in subnets),
        *((g, "InternetGatewayId") for g in gateways),
        *((t, "RouteTableId") for t in tables),
        *((i, "InstanceId") for i in instances),
    ):
        names.add(resource[key], _tags(resource.get("Tags")).get("Name"))
    for group in groups:
        names.add(group["GroupId"], group["GroupName"])
    default_vpcs = {v["VpcId"] for v in ec2.describe_vpcs()["Vpcs"] if v["IsDefault"]}
    held = {
        "vpcs": [
            {
                "name": names(v["VpcId"]),
                "cidr": v["CidrBlock"],
                "tags": _tags(v.get("Tags")),
                **{
                    a: ec2.describe_vpc_attribute(VpcId=v["VpcId"], Attribute=a)[a[0].upper() + a[1:]]["Value"]
                    for a in ("enableDnsSupport", "enableDnsHostnames")
                },
            }
            for v in vpcs
        ],
        "internet_gateways": [
            {
                "name": names(g["InternetGatewayId"]),
                "attached_to": sorted(names(a["VpcId"]) for a in g.get("Attachments", [])),
                "tags": _tags(g.get("Tags")),
            }
            for g in gateways
        ],
        "subnets": [
            {
                "name": names(s["SubnetId"]),
                "vpc": names(s["VpcId"]),
                "cidr": s["CidrBlock"],
                "zone": s["AvailabilityZone"],
                "public_addresses": s["MapPublicIpOnLaunch"],
                "tags": _tags(s.get("Tags")),
            }
            for s in subnets
        ],
        "route_tables": [
            {
                "name": names(t["RouteTableId"]),
                "vpc": names(t["VpcId"]),
                "main": any(a.get("Main") for a in t.get("Associations", [])),
                "routes": sorted(
                    (
                        r.get("DestinationCidrBlock"),
                        names(r.get("GatewayId")) if r.get("GatewayId") != "local" else "local",
                    )
                    for r in t.get("Routes", [])
                ),
                "subnets": sorted(names(a["SubnetId"]) for a in t.get("Associations", []) if a.get("SubnetId")),
                "tags": _tags(t.get("Tags")),
            }
            for t in tables
            if t["VpcId"] not in default_vpcs
        ],
        "security_groups": [
            {
                "name": g["GroupName"],
                "vpc": names(g["VpcId"]),
                "description": g["Description"],
                "in": _rules(g.get("IpPermissions"), names),
                "out": _rules(g.get("IpPermissionsEgress"), names),
                "tags": _tags(g.get("Tags")),
            }
            for g in groups
            if g["VpcId"] not in default_vpcs
        ],
        "instances": [_instance(ec2, i, names) for i in instances],
        "elastic_ips": [
            {"tags": _tags(a.get("Tags")), "instance": names(a.get("InstanceId")) if a.get("InstanceId") else None}
            for a in addresses
        ],
    }
    return held, names


def _instance(ec2, instance, names):
    root = next(m for m in instance["BlockDeviceMappings"] if m["DeviceName"] == instance["RootDeviceName"])
    volume = ec2.describe_volumes(VolumeIds=[root["Ebs"]["VolumeId"]])["Volumes"][0]
    protection = ec2.describe_instance_attribute(InstanceId=instance["InstanceId"], Attribute="disableApiTermination")
    return {
        "name": names(instance["InstanceId"]),
        "type": instance["InstanceType"],
        "image": instance["ImageId"],
        "state": instance["State"]["Name"],
        "subnet": names(instance.get("SubnetId")),
        "groups": sorted(g["GroupName"] for g in instance.get("SecurityGroups", [])),
        "profile": (instance.get("IamInstanceProfile") or {}).get("Arn", "").rsplit("/", 1)[-1],
        "metadata": {k: instance["MetadataOptions"].get(k) for k in ("HttpTokens", "HttpPutResponseHopLimit")},
        "key": instance.get("KeyName"),
        "root_volume": {
            "size": volume["Size"],
            "type": volume["VolumeType"],
            "encrypted": volume["Encrypted"],
            "deleted_with_instance": root["Ebs"]["DeleteOnTermination"],
            "tags": _tags(volume.get("Tags")),
        },
        "termination_protection": protection["DisableApiTermination"]["Value"],
        "tags": _tags(instance.get("Tags")),
    }


def _answer(call, *missing):
    try:
        return call()
    except Exception as error:  # noqa: BLE001 - a setting a bucket does not have
        code = getattr(error, "response", {}).get("Error", {}).get("Code", "")
        if code in missing or not missing:
            return None
        raise


def bucket_holdings(s3):
    found = []
    for bucket in sorted(b["Name"] for b in s3.list_buckets()["Buckets"]):
        policy = _answer(lambda b=bucket: s3.get_bucket_policy(Bucket=b)["Policy"])
        found.append(
            {
                "name": bucket,
                "encryption": _answer(
                    lambda b=bucket: s3.get_bucket_encryption(Bucket=b)["ServerSideEncryptionConfiguration"]
                ),
                "public_access_block": _answer(
                    lambda b=bucket: s3.get_public_access_block(Bucket=b)["PublicAccessBlockConfiguration"]
                ),
                "ownership": _answer(lambda b=bucket: s3.get_bucket_ownership_controls(Bucket=b)["OwnershipControls"]),
                "versioning": s3.get_bucket_versioning(Bucket=bucket).get("Status", "Off"),
                "lifecycle": _answer(lambda b=bucket: s3.get_bucket_lifecycle_configuration(Bucket=b)["Rules"]),
                "policy": json.loads(policy) if policy else None,
                "tags": _tags(_answer(lambda b=bucket: s3.get_bucket_tagging(Bucket=b)["TagSet"])),
            }
        )
    return found


def rds_holdings(rds, names):
    instances = rds.describe_db_instances()["DBInstances"]
    groups = rds.describe_db_parameter_groups()["DBParameterGroups"]
    return {
        "db_instances": [
            {
                "name": i["DBInstanceIdentifier"],
                **{
                    k: i.get(k)
                    for k in (
                        "DBInstanceClass",
                        "Engine",
                        "EngineVersion",
                        "AllocatedStorage",
                        "MaxAllocatedStorage",
                        "StorageType",
                        "StorageEncrypted",
                        "MultiAZ",
                        "BackupRetentionPeriod",
                        "DeletionProtection",
                        "CopyTagsToSnapshot",
                        "AutoMinorVersionUpgrade",
                        "PubliclyAccessible",
                        "DBName",
                        "MasterUsername",
                    )
                },
                "subnet_group": i.get("DBSubnetGroup", {}).get("DBSubnetGroupName"),
                "parameter_groups": sorted(g["DBParameterGroupName"] for g in i.get("DBParameterGroups", [])),
                "security_groups": sorted(names(g["VpcSecurityGroupId"]) for g in i.get("VpcSecurityGroups", [])),
                "tags": _tags(i.get("TagList")),
            }
            for i in instances
        ],
        "db_snapshots": sorted(
            s["DBSnapshotIdentifier"] for s in rds.describe_db_snapshots(SnapshotType="manual")["DBSnapshots"]
        ),
        "db_subnet_groups": [
            {
                "name": g["DBSubnetGroupName"],
                "description": g["DBSubnetGroupDescription"],
                "subnets": sorted(names(s["SubnetIdentifier"]) for s in g["Subnets"]),
            }
            for g in rds.describe_db_subnet_groups()["DBSubnetGroups"]
        ],
        "db_parameter_groups": [
            {
                "name": g["DBParameterGroupName"],
                "family": g["DBParameterGroupFamily"],
                "description": g["Description"],
                "set": sorted(
                    (p["ParameterName"], p.get("ParameterValue"))
                    for p in rds.describe_db_parameters(DBParameterGroupName=g["DBParameterGroupName"], Source="user")[
                        "Parameters"
                    ]
                ),
            }
            for g in groups
            if not g["DBParameterGroupName"].startswith("default.")
        ],
    }


def iam_holdings(iam):
    roles = []
    for role in iam.list_roles()["Roles"]:
        name = role["RoleName"]
        described = iam.get_role(RoleName=name)["Role"]
        policies = {
            p: iam.get_role_policy(RoleName=name, PolicyName=p)["PolicyDocument"]
            for p in iam.list_role_policies(RoleName=name)["PolicyNames"]
        }
        roles.append(
            {
                "name": name,
                "trust": described["AssumeRolePolicyDocument"],
                "description": described.get("Description"),
                "policies": policies,
                "tags": _tags(described.get("Tags")),
            }
        )
    profiles = [
        {
            "name": p["InstanceProfileName"],
            "roles": sorted(r["RoleName"] for r in p["Roles"]),
            "tags": _tags(p.get("Tags")),
        }
        for p in iam.list_instance_profiles()["InstanceProfiles"]
    ]
    return {"roles": roles, "instance_profiles": profiles}


def ssm_holdings(ssm):
    found = []
    for parameter in ssm.describe_parameters()["Parameters"]:
        tags = ssm.list_tags_for_resource(ResourceType="Parameter", ResourceId=parameter["Name"])["TagList"]
        found.append(
            {
                "name": parameter["Name"],
                "type": parameter["Type"],
                "description": parameter.get("Description"),
                "tags": _tags(tags),
            }
        )
    return found


def dns_holdings(route53, addresses):
    """The A records of every zone, an Elastic IP's address said as 'the Elastic IP'."""
    found = []
    for zone in route53.list_hosted_zones()["HostedZones"]:
        records = route53.list_resource_record_sets(HostedZoneId=zone["Id"])["ResourceRecordSets"]
        for record in records:
            if record["Type"] == "A":
                values = [addresses.get(v["Value"], v["Value"]) for v in record.get("ResourceRecords", [])]
                found.append({"name": record["Name"], "ttl": record.get("TTL"), "values": values})
    return found


def holdings(client, region):
    """client(service, region_name) -> a boto3 client on the account; everything it holds."""
    ec2 = client("ec2", region)
    held, names = ec2_holdings(ec2)
    addresses = {a["PublicIp"]: "the Elastic IP" for a in ec2.describe_addresses()["Addresses"]}
    held.update(rds_holdings(client("rds", region), names))
    held.update(iam_holdings(client("iam", region)))
    held["buckets"] = bucket_holdings(client("s3", region))
    held["parameters"] = ssm_holdings(client("ssm", region))
    held["records"] = dns_holdings(client("route53", region), addresses)
    cloudwatch, sns = client("cloudwatch", region), client("sns", region)
    held["alarms"] = sorted(a["AlarmName"] for a in cloudwatch.describe_alarms()["MetricAlarms"])
    held["dashboards"] = [d["DashboardName"] for d in cloudwatch.list_dashboards()["DashboardEntries"]]
    held["topics"] = [
        {
            "arn": topic["TopicArn"],
            "subscriptions": sorted(
                (s["Protocol"], s["Endpoint"])
                for s in sns.list_subscriptions_by_topic(TopicArn=topic["TopicArn"])["Subscriptions"]
            ),
        }
        for topic in sns.list_topics()["Topics"]
    ]
    held["log_groups"] = [g["logGroupName"] for g in client("logs", region).describe_log_groups()["logGroups"]]
    # A secret scheduled for deletion is still held (and billed) until its recovery window ends.
    held["secrets"] = [
        {"name": s["Name"], "deleted": bool(s.get("DeletedDate"))}
        for s in client("secretsmanager", region).list_secrets(IncludePlannedDeletion=True)["SecretList"]
    ]
    return {
        kind: sorted(items, key=lambda item: json.dumps(item, sort_keys=True, default=str))
        for kind, items in held.items()
    }


def counts(held):
    return {kind: len(items) for kind, items in held.items()}
