# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A deployment's A records in a Route 53 hosted zone, read with one call and written with one
batch. Used by the dns module and by the deployment module."""

from __future__ import annotations

from ansible_collections.convex_selfhost.aws.plugins.module_utils import rules
from ansible_collections.convex_selfhost.aws.plugins.module_utils.actions import Actions

ARGUMENT_SPEC = {
    "zone_id": {"type": "str"},
    "zone": {"type": "str"},
    "records": {"type": "dict", "required": True},
    "ttl": {"type": "int", "default": 300},
    "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
    "retired": {"type": "dict", "default": {}},
}


def fqdn(name):
    return name.rstrip(".") + "."


def route53_order(name):
    """Route 53 lists record sets by name with the labels reversed (com.example.api)."""
    return list(reversed(fqdn(name).rstrip(".").split(".")))


def input_problems(params):
    problems = [
        f"records name {rules.domain_problem(name)}" for name in params["records"] if rules.domain_problem(name)
    ]
    if params["state"] == "present":
        problems.extend(
            f"records address of {name} {rules.cidr_problem(f'{address}/32', version=4) or ''}".rstrip()
            for name, address in params["records"].items()
            if not isinstance(address, str) or rules.cidr_problem(f"{address}/32", version=4)
        )
    if params["zone"] and rules.domain_problem(params["zone"]):
        problems.append(f"zone {rules.domain_problem(params['zone'])}")
    return problems


class Records:
    """params is the records' options (the module's, or what the deployment module gives)."""

    def __init__(self, module, params, actions=None):
        self.module = module
        self.params = params
        self.route53 = module.aws_client("route53")
        self.actions = actions or Actions(module, params)

    def zone_id(self):
        if self.params["zone_id"]:
            return self.params["zone_id"].split("/")[-1]
        zone = self.params["zone"]
        listed = self.actions.call(self.route53, f"look up the zone {zone}", "list_hosted_zones_by_name", DNSName=zone)
        ids = [
            z["Id"].split("/")[-1]
            for z in listed["HostedZones"]
            if z["Name"].rstrip(".") == zone and not z["Config"]["PrivateZone"]
        ]
        if not ids:
            self.module.fail_json(msg=f"zone: no public Route 53 hosted zone {zone} exists in this account")
        return ids[0]

    def current(self, zone_id):
        """The A records among the wanted names, read from the first name on in Route 53's order."""
        names = sorted((fqdn(n) for n in [*self.params["records"], *self.params["retired"]]), key=route53_order)
        found, start = {}, {"StartRecordName": names[0], "StartRecordType": "A"}
        while True:
            page = self.actions.call(
                self.route53,
                "read the records",
                "list_resource_record_sets",
                HostedZoneId=zone_id,
                MaxItems="100",
                **start,
            )
            for record in page["ResourceRecordSets"]:
                if record["Type"] == "A" and record["Name"] in names:
                    found[record["Name"]] = record
            past_last = page["ResourceRecordSets"] and route53_order(
                page["ResourceRecordSets"][-1]["Name"]
            ) > route53_order(names[-1])
            if not page.get("IsTruncated") or past_last:
                return found
            start = {"StartRecordName": page["NextRecordName"], "StartRecordType": page["NextRecordType"]}

    def ensure(self):
        zone_id = self.zone_id()
        current = self.current(zone_id)
        batch = []
        for name, address in self.params["records"].items():
            record = current.get(fqdn(name))
            if self.params["state"] == "absent":
                if record:
                    batch.append(("DELETE", record, f"remove {name}"))
                continue
            wanted = {
                "Name": fqdn(name),
                "Type": "A",
                "TTL": self.params["ttl"],
                "ResourceRecords": [{"Value": address}],
            }
            if record is None or {k: record.get(k) for k in wanted} != wanted:
                batch.append(("UPSERT", wanted, f"point {name} at {address}"))
        # Only a record that still points at this deployment alone is its own to remove: a name
        # someone else uses stays, and none is left pointing at an address given back.
        still_wanted = {fqdn(n) for n in self.params["records"]}
        for name, address in self.params["retired"].items():
            record = current.get(fqdn(name))
            ours = record and record.get("ResourceRecords") == [{"Value": address}]
            if address and ours and fqdn(name) not in still_wanted:
                batch.append(("DELETE", record, f"remove {name}, which this deployment no longer serves"))
        if batch:
            changes = [{"Action": action, "ResourceRecordSet": record} for action, record, text in batch]

            def applied():
                """{} when the zone holds what the batch makes (a lost answer to a batch that went
                through), else None."""
                now = self.current(zone_id)
                for action, record, _text in batch:
                    there = now.get(record["Name"])
                    if (action == "DELETE") != (there is None) or (
                        action == "UPSERT" and {k: there.get(k) for k in record} != record
                    ):
                        return None
                return {}

            self.actions.act(
                self.route53,
                "; ".join(text for action, record, text in batch),
                "change_resource_record_sets",
                find=applied,
                HostedZoneId=zone_id,
                ChangeBatch={"Comment": "convex_selfhost.aws.dns", "Changes": changes},
            )
        return {"zone_id": zone_id}
