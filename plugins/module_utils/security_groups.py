# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Security group rules as plain tuples, so wanted and actual rules compare as sets, and the one
way the modules make a group's rules what they should be."""

from __future__ import annotations


def rule(protocol, port, source, description=""):
    """(protocol, from_port, to_port, source, description); source is a CIDR or a group id."""
    return (protocol, port, port, source, description)


def from_permissions(permissions):
    """Flatten EC2's IpPermissions into a set of rule tuples (descriptions ignored)."""
    flat = set()
    for permission in permissions or []:
        key = (permission.get("IpProtocol"), permission.get("FromPort"), permission.get("ToPort"))
        for item in permission.get("IpRanges", []):
            flat.add((*key, item["CidrIp"], ""))
        for item in permission.get("Ipv6Ranges", []):
            flat.add((*key, item["CidrIpv6"], ""))
        for item in permission.get("UserIdGroupPairs", []):
            flat.add((*key, item["GroupId"], ""))
    return flat


def comparable(rules):
    """The same rules without descriptions: AWS keeps descriptions, but they are not access."""
    return {r[:4] + ("",) for r in rules}


def to_permissions(rules):
    """Rule tuples back into IpPermissions, one entry per rule."""
    permissions = []
    for protocol, from_port, to_port, source, description in sorted(rules):
        permission = {"IpProtocol": protocol, "FromPort": from_port, "ToPort": to_port}
        entry = {"Description": description} if description else {}
        if source.startswith("sg-"):
            permission["UserIdGroupPairs"] = [{"GroupId": source, **entry}]
        elif ":" in source:
            permission["Ipv6Ranges"] = [{"CidrIpv6": source, **entry}]
        else:
            permission["IpRanges"] = [{"CidrIp": source, **entry}]
        permissions.append(permission)
    return permissions


def describe(rules):
    return ", ".join(f"{r[0]}/{r[1]} from {r[3]}" for r in sorted(rules))


def ensure_rules(resources, group_id, label, permissions, wanted):
    """Make a security group's inbound rules exactly wanted: add the missing, revoke the rest."""
    current = from_permissions(permissions)
    missing = {r for r in wanted if r[:4] + ("",) not in current}
    extra = current - comparable(wanted)
    if missing:
        resources.act(
            f"allow {describe(missing)} into {label}",
            "authorize_security_group_ingress",
            GroupId=group_id,
            IpPermissions=to_permissions(missing),
        )
    if extra:
        resources.act(
            f"revoke {describe(extra)} from {label}",
            "revoke_security_group_ingress",
            GroupId=group_id,
            IpPermissions=to_permissions(extra),
        )


_PERMISSION_KEYS = ("IpProtocol", "FromPort", "ToPort", "IpRanges", "Ipv6Ranges", "UserIdGroupPairs", "PrefixListIds")
# What EC2 gives every new group: all traffic out, anywhere.
DEFAULT_EGRESS = [{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]


def ensure_no_egress(resources, group_id, label, egress):
    """Revoke every outbound rule of a group that needs none (its answers flow back anyway: groups
    are stateful)."""
    if egress:
        resources.act(
            f"revoke every outbound rule of {label}",
            "revoke_security_group_egress",
            GroupId=group_id,
            IpPermissions=[{k: v for k, v in p.items() if k in _PERMISSION_KEYS and v != []} for p in egress],
        )
