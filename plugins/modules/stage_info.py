#!/usr/bin/python
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: stage_info
short_description: Check one deployment's settings and derive every name it uses
version_added: 0.1.0
description:
  - The stage model of one Convex deployment. It checks every setting (type, range, form, trailing
    newlines, AWS's tag rules, and the rules the other modules apply), then, with read-only calls,
    what only AWS knows - that the instance type is offered in the region, that the hosted zone
    exists, that the operating system's image exists, and that the SSH key pair exists.
  - It reports every problem at once, each naming its setting, and fails before anything
    changes.
  - It returns the stage model (RV(stage)), every name derived from the settings (resource names,
    bucket names and ARNs, SSM paths, tags, URLs, image references), computed here only.
  - Makes no AWS writes.
author:
  - Convex self-host maintainers (@convex-selfhost)
options:
  settings:
    description:
      - The deployment's settings, as the inventory holds them - C(stage_*), C(convex_*) and
        C(caddy_*) variables. Text that C(-e key=value) gives for a number or a boolean is taken.
      - The region comes from C(stage_region) here, not from O(region).
    type: dict
    required: true
  aws_checks:
    description:
      - Also ask AWS what only it knows. Without them, only the account is read.
    type: bool
    default: true
  release_check:
    description:
      - Also ask the image registry whether both images of C(convex_version) are published (as
        M(convex_selfhost.aws.release_info) does), before any AWS call. An unpublished version fails
        here, with a message that published versions are commits of upstream's C(release) branch.
    type: bool
    default: true
  app_build:
    description:
      - This run copies the app's build to the host (site.yml, and frontend.yml unless it serves an
        earlier release again). Only then must C(stage_frontend_dir) hold a built app (its
        C(index.html)), and only then is its release named (C(frontend.release)). Other runs
        (an upgrade, a backup, a teardown) need no build on this machine.
    type: bool
    default: false
  insecure_registries:
    description:
      - Registries (C(host:port)) the host's Docker reaches over plain HTTP, such as a test
        registry; a C(convex_image_registry) among them is asked the same way.
    type: list
    elements: str
    default: []
  connection:
    description:
      - How Ansible reaches the deployment's host (its C(ansible_connection)). Over SSH, a key
        pair and SSH ranges must be set, or the host could never be reached.
    type: str
    default: ssh
  confirm:
    description:
      - The deployment's name, given to allow settings that lift the protection its host records
        in AWS (see M(convex_selfhost.aws.deployment)). Without it such settings are refused.
    type: str
    default: ""
  confirm_variable:
    description:
      - The name the refusal message gives the confirmation.
    type: str
    default: confirm
  replacing_data:
    description:
      - The run replaces the deployment's data (a restore, a copy into it). A deployment protected in
        AWS, or whose settings say C(stage_protected), is then refused unless O(confirm) names it.
        Needs O(aws_checks).
    type: bool
    default: false
  replacing_host:
    description:
      - The run replaces the deployment's host (playbooks/replace.yml). What a new host needs is
        checked (its type, its image, its key pair) and RV(stage.image_id) names its image, a host
        running already or not; a change of type is the new host's, not a resize. A protected
        deployment is refused unless O(confirm) names it. Without it, a running host whose
        C(stage_os) or C(stage_image_id) changed is refused, naming the setting and the playbook.
    type: bool
    default: false
  resize_confirm:
    description:
      - A new C(stage_instance_type) stops a protected deployment's host; it is refused unless this
        names the deployment.
    type: str
    default: ""
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
  - convex_selfhost.aws.common
attributes:
  diff_mode:
    support: none
    description: Nothing changes, so there is nothing to show.
"""

EXAMPLES = r"""
- name: The stage model, or every problem with the settings
  convex_selfhost.aws.stage_info:
    settings:
      stage_name: dev
      stage_region: eu-west-1
      convex_domain: dev.convex.example.com
      convex_version: 652b828b5129e6cdbcaa3c20efa8d116d09ff3bf
      stage_dns_zone: example.com
      stage_dashboard_cidrs: [203.0.113.0/24]
      caddy_acme_email: ops@example.com
  register: stage_model

- name: Names come from the model
  ansible.builtin.debug:
    msg: "{{ stage_model.stage.resource_name }} keeps its secrets under {{ stage_model.stage.parameter_path }}"
"""

RETURN = r"""
stage:
  description: The stage model.
  returned: success
  type: dict
  contains:
    name:
      description: The stage's name.
      type: str
      sample: dev
    resource_name:
      description: The name of the stage's network, host and database.
      type: str
      sample: convex-dev
    account_id:
      description: The AWS account the stage lives in.
      type: str
    partition:
      description: The AWS partition, such as C(aws).
      type: str
    tags:
      description: Tags of every resource of the stage.
      type: dict
    bucket_prefix:
      description: The start of the five bucket names.
      type: str
    buckets:
      description: The bucket name of each purpose.
      type: dict
    bucket_arns:
      description: ARNs of the five buckets.
      type: list
      elements: str
    bucket_env:
      description: The backend's C(S3_STORAGE_*_BUCKET) variables.
      type: dict
    parameter_path:
      description: The SSM path of the stage's secrets.
      type: str
    parameters:
      description: The SSM name of each secret.
      type: dict
    database_name:
      description: The MySQL database the backend uses.
      type: str
    host_names:
      description: The api, site and dashboard host names, and the app's with C(stage_frontend_dir).
      type: dict
    urls:
      description: The api, site and dashboard URLs, and the app's with C(stage_frontend_dir).
      type: dict
    retired_host_names:
      description:
        - The app's host name while the stage has no app, so that a record left from an app since
          turned off is removed (only while it still points at the deployment's host).
      type: dict
    app_connect_origins:
      description: The origins the app's pages may connect to - the API over HTTPS and as a websocket.
      type: list
      elements: str
    frontend:
      description:
        - The app's build (C(dir), from C(stage_frontend_dir)) and the release it makes on the host
          (C(release), a digest of its files; empty unless O(app_build)); empty without an app.
      type: dict
    images:
      description: The backend and dashboard image references.
      type: dict
    image_id:
      description:
        - The image a new host is launched from (C(stage_image_id), or the newest of the stage's
          operating system and architecture); empty when a host runs and O(replacing_host) is not
          set, and without O(aws_checks).
      type: str
    zone_id:
      description: The Route 53 hosted zone id; empty without a zone or without O(aws_checks).
      type: str
    database_record:
      description: The SSM parameter that records which RDS instance is the database.
      type: str
    database_instance:
      description:
        - The RDS instance that is the deployment's database - the resource name until a restore
          (C(restore.yml -e restore_snapshot=)) made another one current.
      type: str
    database_kept:
      description: Earlier instances a restore replaced, kept until a confirmed run removes them.
      type: list
      elements: str
    admin_key_stored:
      description:
        - Whether the admin key's SSM parameter exists, read with the database record in one call;
          site.yml hands it to the convex role, which then asks SSM nothing itself.
      type: bool
    host_address:
      description:
        - The public address of the deployment's running host, found before anything changes; empty
          when it has none yet (or without O(aws_checks)). With it, site.yml configures the host
          while the AWS side is brought up to date.
      type: str
    host_resize:
      description:
        - The change of the running host's type this run makes (playbooks/resize.yml), with
          C(instance_id), C(from), C(to) and the host's C(state); empty when the host runs as
          C(stage_instance_type) already, or there is no host.
      type: dict
    host_instance_id:
      description:
        - The EC2 instance that is the deployment's host, found before anything changes; empty when
          there is none yet (or without O(aws_checks)).
      type: str
    release:
      description:
        - What the registry and the collection know of the release - C(images) with their digests,
          C(checked) (whether this collection was checked against it) and C(cli_version) (the
          C(convex) npm CLI of the release, empty when unknown). Empty without O(release_check).
      type: dict
    settings:
      description: The settings with defaults filled in, numbers and booleans as such.
      type: dict
"""

from ansible_collections.convex_selfhost.aws.plugins.module_utils import (
    database_record,
    deployment_plan,
    host,
    protection,
    rules,
)
from ansible_collections.convex_selfhost.aws.plugins.module_utils import stage as model
from ansible_collections.convex_selfhost.aws.plugins.module_utils.actions import dict_tags
from ansible_collections.convex_selfhost.aws.plugins.module_utils.convex_releases import check_release, release_facts
from ansible_collections.convex_selfhost.aws.plugins.module_utils.errors import error_code
from ansible_collections.convex_selfhost.aws.plugins.module_utils.images import find_image
from ansible_collections.convex_selfhost.aws.plugins.module_utils.module import ConvexAWSModule

try:
    from botocore.exceptions import BotoCoreError, ClientError
except ImportError:
    pass  # ConvexAWSModule reports a missing botocore itself.


def refuse(module, problems):
    module.fail_json(
        msg=f"The deployment's settings have {len(problems)} problem{'s' if len(problems) > 1 else ''}; nothing was "
        "changed: " + " | ".join(problems),
        problems=problems,
    )


def offered(ec2, instance_type, region):
    """Whether EC2 offers instance_type in region; a type EC2 has never heard of is not."""
    try:
        found = ec2.describe_instance_type_offerings(
            LocationType="region", Filters=[{"Name": "instance-type", "Values": [instance_type]}]
        )["InstanceTypeOfferings"]
    except ClientError as error:
        if error_code(error) == "InvalidInstanceType":
            return False
        raise
    return bool(found)


def hosted_zone(route53, zone):
    """The id of the public hosted zone named zone, or None."""
    listed = route53.list_hosted_zones_by_name(DNSName=zone, MaxItems="10")["HostedZones"]
    ids = [z["Id"].split("/")[-1] for z in listed if z["Name"].rstrip(".") == zone and not z["Config"]["PrivateZone"]]
    return ids[0] if ids else None


def stable_address(instance):
    """The running host's Elastic IP, or "". A host that has only an address of Amazon's own would
    get its Elastic IP during the run, and a connection to the old address would break."""
    if instance is None or instance["State"]["Name"] != "running":
        return ""
    public = [
        n["Association"] for n in instance.get("NetworkInterfaces", []) if n.get("Association", {}).get("PublicIp")
    ]
    return next((a["PublicIp"] for a in public if a.get("IpOwnerId") != "amazon"), "")


def offered_architectures(ec2, instance_type):
    """The architectures EC2 says instance_type runs (DescribeInstanceTypes); [] for a type EC2 has
    never heard of."""
    try:
        described = ec2.describe_instance_types(InstanceTypes=[instance_type])["InstanceTypes"]
    except ClientError as error:
        if error_code(error) == "InvalidInstanceType":
            return []
        raise
    return [a for t in described for a in t.get("ProcessorInfo", {}).get("SupportedArchitectures", [])]


def launch_problems(ec2, values, region):
    """What a new host needs: its type offered here, its image, its key pair; and the image found.
    A type whose family the collection's table does not know (one AWS added since) has its
    architecture asked of AWS."""
    problems, image_id = [], ""
    instance_type, architecture = values["stage_instance_type"], values["stage_architecture"]
    if not offered(ec2, instance_type, region):
        problems.append(f"stage_instance_type: {instance_type} is not offered in {region}")
    elif rules.architecture_of(instance_type) is None:
        runs = offered_architectures(ec2, instance_type)
        if architecture not in runs:
            found = "/".join(runs) or "of no architecture EC2 names"
            problems.append(f"stage_instance_type: {rules.architecture_mismatch(instance_type, found, architecture)}")
    pinned = values["stage_image_id"]
    if pinned:
        image = next(iter(ec2.describe_images(Filters=[{"Name": "image-id", "Values": [pinned]}])["Images"]), None)
        if image is None:
            problems.append(f"stage_image_id: no image {pinned} is available in {region}")
        elif image.get("Architecture") != architecture:
            problems.append(
                f"stage_image_id: {pinned} is an {image.get('Architecture')} image, but stage_architecture is "
                f"{architecture}"
            )
    else:
        image = find_image(ec2.describe_images, values["stage_os"], architecture)
        if image is None:
            problems.append(f"stage_os: no {values['stage_os']} {architecture} image was found in {region}")
    if image is not None and not problems:
        image_id = image["ImageId"]
    key = values["stage_ssh_key_name"]
    if key and not ec2.describe_key_pairs(Filters=[{"Name": "key-name", "Values": [key]}])["KeyPairs"]:
        problems.append(f"stage_ssh_key_name: no EC2 key pair {key} exists in {region}")
    return problems, image_id


def host_of(module, values):
    """The deployment's host as host.Host reads it (in the stage's region), with the options its
    protection check needs."""
    params = {
        **{name: option.get("default") for name, option in host.ARGUMENT_SPEC.items()},
        "name": model.resource_name(values),
        "termination_protection": values["stage_protected"],
    }
    return host.Host(module, params, region=values["stage_region"])


def refuse_unconfirmed(module, values, recorded):
    """Protection the host records stops a run that would lift it before anything, the secrets'
    tags included, is written; so does a run that replaces a protected deployment's data. (The
    deployment module checks the database too.)"""
    params = module.params
    if params["replacing_data"] or params["replacing_host"]:
        why = protection.replacing_refusal(
            values["stage_name"],
            recorded,
            values["stage_protected"],
            params["confirm"],
            params["confirm_variable"],
            "host" if params["replacing_host"] else "data",
        )
    else:
        why = protection.refusal(
            values["stage_name"],
            recorded,
            values["stage_protected"],
            params["confirm"],
            params["confirm_variable"],
            False,
        )
    if why:
        module.fail_json(msg=why, protection=recorded)


def resize(module, values, instance, recorded, ec2):
    """Problems with a change of the running host's type, and the resize itself ({} when the host is
    running as stage_instance_type). A host stopped by a run cut short is a resize to finish. The
    new type must be offered where the host is and boot its image's architecture; a family the
    collection's table does not know has its architecture asked of AWS."""
    wanted, state = values["stage_instance_type"], instance["State"]["Name"]
    if instance["InstanceType"] == wanted and state in ("pending", "running"):
        return [], {}
    name, instance_id, architecture = values["stage_name"], instance["InstanceId"], instance.get("Architecture")
    region = values["stage_region"]
    if wanted != instance["InstanceType"] and not offered(ec2, wanted, region):
        return [f"stage_instance_type: {wanted} is not offered in {region}"], {}
    problem = rules.instance_type_problem(wanted, architecture)
    if (
        problem is None
        and rules.architecture_of(wanted) is None
        and architecture not in offered_architectures(ec2, wanted)
    ):
        problem = f"{wanted!r} does not run {architecture}"
    if problem:
        return [
            f"stage_instance_type: the host {instance_id} runs an {architecture} image, and "
            f"{problem}. A host cannot change its architecture in place: it needs a new host "
            f"({replace_command(values)})"
        ], {}
    if (values["stage_protected"] or recorded) and module.params["resize_confirm"] != name:
        return [
            f"stage_instance_type: {name} is protected, and its host {instance_id} stops to change from a "
            f"{instance['InstanceType']} to a {wanted}: run again with -e resize_confirm={name} to confirm"
        ], {}
    return [], {"instance_id": instance_id, "from": instance["InstanceType"], "to": wanted, "state": state}


def new_host_problems(values, instance, command):
    """Settings only a new host can take, changed on a running one: each is refused by name, with
    the command that replaces the host. The OS is the one the host recorded at launch (a host from
    before that record is taken to run stage_os)."""
    problems, instance_id = [], instance["InstanceId"]
    launched_with = dict_tags(instance.get("Tags")).get(host.OS_TAG, values["stage_os"])
    if launched_with != values["stage_os"]:
        problems.append(
            f"stage_os: the host {instance_id} runs {launched_with}; a host changes its OS only by being replaced: "
            f"{command}"
        )
    pinned = values["stage_image_id"]
    if pinned and pinned != instance["ImageId"]:
        problems.append(
            f"stage_image_id: the host {instance_id} runs {instance['ImageId']}; a host changes its image only by "
            f"being replaced: {command}"
        )
    return problems


def root_volume_problems(machine, values, instance, ec2):
    """A new stage_root_volume_gb that EBS would refuse: smaller than the volume, or while its last
    change is under way. Read only when the size differs from what the host records."""
    wanted = values["stage_root_volume_gb"]
    if dict_tags(instance.get("Tags")).get(host.ROOT_SIZE_TAG) == str(wanted):
        return []
    volume = machine.root_volume(instance)
    if volume is None or volume["Size"] == wanted:
        return []
    problem = rules.root_volume_problem(wanted, volume["Size"])
    if problem is None:
        changes = ec2.describe_volumes_modifications(VolumeIds=[volume["VolumeId"]])["VolumesModifications"]
        states = [rules.volume_modification_problem(c.get("ModificationState")) for c in changes]
        problem = next(filter(None, states), None)
    return [f"stage_root_volume_gb: {problem}"] if problem else []


def aws_problems(module, values):
    """What only AWS knows, each naming its setting; and what was found: the image and zone ids, the
    host's address, and the host as read (handed to the deployment module, so that a run reads the
    host once). A host that exists already answers for its type, image and key: one call instead of
    three, and its reservation names the account."""
    region = values["stage_region"]
    ec2 = module.aws_client("ec2", region=region)
    machine = host_of(module, values)
    problems, found = [], {"image_id": "", "zone_id": "", "host_address": "", "host_instance_id": "", "host_resize": {}}
    try:
        instance = machine.find_instance()
        recorded = protection.recorded(machine, None, thorough=False)
        refuse_unconfirmed(module, values, recorded)
        if instance is None or module.params["replacing_host"]:
            # A replacement is a new host: what a launch needs is checked, and nothing of the old.
            problems, found["image_id"] = launch_problems(ec2, values, region)
        else:
            problems.extend(new_host_problems(values, instance, replace_command(values)))
            resize_problems, found["host_resize"] = resize(module, values, instance, recorded, ec2)
            problems.extend(resize_problems)
            problems.extend(root_volume_problems(machine, values, instance, ec2))
        if machine.spares:
            beside = ", ".join(i["InstanceId"] for i in machine.spares)
            module.warn(
                f"{values['stage_name']} has an instance beside its host ({beside}): a replacement cut short. "
                "playbooks/replace.yml finishes it; teardown.yml removes it with the host"
            )
        found["host_address"] = stable_address(instance)
        found["host_instance_id"] = instance["InstanceId"] if instance is not None else ""
        found["host_seen"] = machine.seen_now()
        found["account_id"] = machine.owner if instance is not None else ""
        zone = values["stage_dns_zone"]
        if zone:
            found["zone_id"] = hosted_zone(module.aws_client("route53", region=region), zone) or ""
            if not found["zone_id"]:
                problems.append(f"stage_dns_zone: no public Route 53 hosted zone {zone} exists in this account")
    except (BotoCoreError, ClientError) as error:
        module.fail_aws(error, "check the deployment's settings with AWS")
    return problems, found


def replace_command(values):
    """The command that replaces the deployment's host, as the refusals name it."""
    confirm = f" -e replace_confirm={values['stage_name']}" if values["stage_protected"] else ""
    return f"ansible-playbook playbooks/replace.yml -i <inventory> --limit {values['stage_name']}{confirm}"


def account(module, values, owner):
    """The account and partition: the host's reservation names the account when there is a host;
    otherwise (and without aws_checks) STS is asked, which also shows the credentials work."""
    if owner:
        return owner, module.partition_of(values["stage_region"])
    try:
        identity = module.aws_client("sts", region=values["stage_region"]).get_caller_identity()
    except (BotoCoreError, ClientError) as error:
        module.fail_aws(error, "read the caller identity from AWS STS (stage_aws_environment, AWS_PROFILE)")
    return identity["Account"], identity["Arn"].split(":")[1]


def release(module, values):
    """The release's images, asked of the registry before anything else: an unpublished pin costs
    seconds and no AWS call."""
    registry = values["convex_image_registry"]
    found, problem = check_release(
        registry,
        values["convex_version"],
        model.IMAGE_NAMES,
        insecure=registry.split("/")[0] in module.params["insecure_registries"],
    )
    if problem:
        hint = f" {values['stage_release_hint']}" if values["stage_release_hint"] else ""
        refuse(module, [f"convex_version ({values['convex_version']}) from convex_image_registry: {problem}{hint}"])
    return release_facts(values["convex_version"], found)


def main():
    module = ConvexAWSModule(
        argument_spec={
            "settings": {"type": "dict", "required": True},
            "aws_checks": {"type": "bool", "default": True},
            "release_check": {"type": "bool", "default": True},
            "app_build": {"type": "bool", "default": False},
            "insecure_registries": {"type": "list", "elements": "str", "default": []},
            "connection": {"type": "str", "default": "ssh"},
            "confirm": {"type": "str", "default": ""},
            "confirm_variable": {"type": "str", "default": "confirm"},
            "replacing_data": {"type": "bool", "default": False},
            "replacing_host": {"type": "bool", "default": False},
            "resize_confirm": {"type": "str", "default": ""},
        },
        require_region=False,
    )
    given = module.params["settings"]
    app_build = module.params["app_build"]
    problems = model.settings_problems(given, module.params["connection"], app_build)
    if problems:
        refuse(module, problems)
    values = model.normalized(given)
    known_release = release(module, values) if module.params["release_check"] else {}
    found = {"image_id": "", "zone_id": "", "host_address": "", "host_instance_id": "", "host_resize": {}}
    if module.params["aws_checks"]:
        problems, found = aws_problems(module, values)
        if problems:
            refuse(module, problems)
    stage = model.derive(
        values,
        *account(module, values, found.pop("account_id", "")),
        app_build,
        # The convex role's timer runs unless its schedule is set empty (its default is daily).
        export_timer=given.get("convex_export_schedule") != "",
    )
    stage.update(found, release=known_release)
    # The options each resource will get, checked as the deployment module checks them: a problem
    # only a resource's own rules know stops the run here, before its secrets are written.
    problems = deployment_plan.input_problems(deployment_plan.resources(stage, None))
    if problems:
        refuse(module, problems)
    # Asked on every run, teardown's too: every run must act on the current instance.
    try:
        # The admin key's presence rides along: the convex role then needs no SSM call of its own.
        admin_key = stage["parameters"]["admin_key"]
        record, stored = database_record.read(
            module.aws_client("ssm", region=values["stage_region"]),
            stage["database_record"],
            stage["resource_name"],
            others=[admin_key],
        )
    except (BotoCoreError, ClientError) as error:
        module.fail_aws(error, f"read which RDS instance is the database ({stage['database_record']})")
    except ValueError as error:
        module.fail_json(msg=f"The SSM parameter {stage['database_record']} {error}; nothing was changed")
    stage.update(
        database_instance=record["current"], database_kept=record["kept"], admin_key_stored=admin_key in stored
    )
    module.exit_json(changed=False, stage=stage)


if __name__ == "__main__":
    main()
