"""What the e2e tests share: driving the local stage, reading its host and its emulator."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import boto3
from moto_server import MotoServer
from recap import recap, succeeded, unchanged

# The e2e tests read a run's PLAY RECAP strictly (tests/harness/recap.py), through here.
__all__ = ["recap", "succeeded", "unchanged"]

REPO = Path(__file__).resolve().parents[2]
STAGE = REPO / "scripts" / "local-stage"
# Where the local stage reaches AWS: the hypervisor stand-in in front of the emulator, on Docker's
# bridge address (scripts/local-stage says which).
ENDPOINT = subprocess.run([str(STAGE), "endpoint"], capture_output=True, text=True, check=True).stdout.strip()
# The backend's own S3 traffic uses this key (inventories/local), the hypervisor stand-in's reads
# another (scripts/lib/hypervisor.py), the controller's a third.
BACKEND_KEY = "local-backend"
HYPERVISOR_KEY = "local-hypervisor"
# dockerd's awslogs driver on the host (docker_service_environment in the local inventory).
DOCKER_KEY = "local-docker"
# The host's metrics publisher (the metrics role), every minute.
METRICS_KEY = "local-metrics"
# The host's copy of Caddy's storage (the caddy role's caddy-storage-copy).
CADDY_KEY = "local-caddy"
# inventories/local-fleet: each deployment's API name.
DEPLOYMENTS_OF_THE_FLEET = {
    "local-a": "api.a.convex.localhost",
    "local-b": "api.b.convex.localhost",
}
CADDY_CA = "/var/lib/caddy/.local/share/caddy/pki/authorities/local/root.crt"
# What the run writes on this machine for clients here (stage_local_ca_file).
LOCAL_CA = REPO / ".cache" / "local" / "ca.crt"
EMULATOR = MotoServer(REPO / ".cache" / "local", host=urlsplit(ENDPOINT).hostname, port=urlsplit(ENDPOINT).port)


def controller_calls():
    """The AWS calls of the playbooks so far (the host's own traffic aside: the backend's S3,
    dockerd's logs, the metrics publisher's and the copy of Caddy's storage)."""
    hosts = (BACKEND_KEY, HYPERVISOR_KEY, DOCKER_KEY, METRICS_KEY, CADDY_KEY)
    return [c for c in EMULATOR.calls() if c.access_key not in hosts]


def stage_env(playbook="site.yml", version="standin-1", extra=None, images="standin", inventory=None):
    env = dict(os.environ, CONVEX_VERSION=version, PLAYBOOK=playbook, ANSIBLE_NOCOLOR="1")
    env.pop("LOCAL_INVENTORY", None)
    if inventory:
        env["LOCAL_INVENTORY"] = inventory
    env.pop("CONVEX_IMAGES", None)
    if images:
        env["CONVEX_IMAGES"] = images
    env.update(extra or {})
    return env


class BackgroundRun:
    """A local-stage run in the background; its output is collected line by line as it comes."""

    def __init__(self, args, env):
        self.lines = []
        self.process = subprocess.Popen(
            [str(STAGE), *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        for line in self.process.stdout:
            self.lines.append(line)

    def wait_for_line(self, prefix, timeout=300):
        """True once a line starting with prefix has been printed; False if the run ended first."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(line.startswith(prefix) for line in self.lines):
                return True
            if self.process.poll() is not None:
                self._reader.join(5)
                return any(line.startswith(prefix) for line in self.lines)
            time.sleep(0.1)
        return False

    def finish(self, timeout=600):
        self.process.wait(timeout)
        self._reader.join(10)
        return self.process.returncode, "".join(self.lines)


def start_local_stage(*args, playbook="site.yml", version="standin-1", extra_env=None):
    return BackgroundRun(args, stage_env(playbook, version, extra_env))


def local_stage(
    *args, playbook="site.yml", version="standin-1", check=True, extra_env=None, images="standin", inventory=None
):
    env = stage_env(playbook, version, extra_env, images, inventory)
    started = time.monotonic()
    done = subprocess.run([str(STAGE), *args], capture_output=True, text=True, env=env, check=False)
    done.seconds = time.monotonic() - started
    if check and done.returncode != 0:
        raise AssertionError(f"local-stage {' '.join(args)} failed:\n{done.stdout[-4000:]}\n{done.stderr[-2000:]}")
    return done


def make(*args, check=True):
    """`make ARGS` from the checkout, as the README's reader types it."""
    env = {k: v for k, v in os.environ.items() if k not in ("CONVEX_IMAGES", "CONVEX_VERSION", "PLAYBOOK")}
    started = time.monotonic()
    done = subprocess.run(["make", *args], cwd=REPO, capture_output=True, text=True, env=env, check=False)
    done.seconds = time.monotonic() - started
    if check and done.returncode != 0:
        raise AssertionError(f"make {' '.join(args)} failed:\n{done.stdout[-4000:]}\n{done.stderr[-2000:]}")
    return done


def from_this_machine(name="api", path="/version", extra=()):
    """curl on the controller itself, trusting only the CA the run wrote: (exit status, body)."""
    answer = subprocess.run(
        [
            "curl",
            "-sS",
            "--max-time",
            "10",
            "--cacert",
            str(LOCAL_CA),
            *extra,
            f"https://{name}.convex.localhost{path}",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    return answer.returncode, answer.stdout.strip()


def instance_of(deployment="local"):
    """The deployment's current instance, as the emulator reports it (None without one)."""
    live = ["pending", "running", "stopping", "stopped"]
    found = aws("ec2").describe_instances(
        Filters=[
            {"Name": "tag:convex_selfhost:stage", "Values": [deployment]},
            {"Name": "instance-state-name", "Values": live},
        ]
    )["Reservations"]
    instances = [i for r in found for i in r["Instances"]]
    assert len(instances) <= 1, f"{deployment} has several instances: {[i['InstanceId'] for i in instances]}"
    return instances[0] if instances else None


def host_of(deployment="local"):
    """The container that is the deployment's host: its current instance's (scripts/lib/hypervisor.py)."""
    instance = instance_of(deployment)
    assert instance is not None, f"{deployment} has no instance in the emulator"
    return f"convex-{instance['InstanceId']}"


def on_host(*command, deployment="local"):
    return subprocess.run(
        ["docker", "exec", host_of(deployment), *command], capture_output=True, text=True, check=False
    )


def api_version():
    answer = on_host(
        "curl",
        "-sS",
        "--cacert",
        CADDY_CA,
        "--resolve",
        "api.convex.localhost:443:127.0.0.1",
        "https://api.convex.localhost/version",
    )
    return answer.stdout.strip()


def aws(service):
    return boto3.client(
        service,
        endpoint_url=ENDPOINT,
        region_name="us-east-1",
        aws_access_key_id="local-emulator",
        aws_secret_access_key="local-emulator",  # noqa: S106 - the emulator's fake key
    )


def stage_resources():
    """Everything of the stage the emulator holds, counted by kind."""
    ec2, rds, iam = aws("ec2"), aws("rds"), aws("iam")
    live = ["pending", "running", "stopping", "stopped"]
    reservations = ec2.describe_instances(Filters=[{"Name": "instance-state-name", "Values": live}])["Reservations"]
    zone = aws("route53").list_hosted_zones()["HostedZones"][0]["Id"]
    records = aws("route53").list_resource_record_sets(HostedZoneId=zone)["ResourceRecordSets"]
    return {
        "vpcs": len([v for v in ec2.describe_vpcs()["Vpcs"] if not v["IsDefault"]]),
        "subnets": len([s for s in ec2.describe_subnets()["Subnets"] if not s.get("DefaultForAz")]),
        "security_groups": len(
            [g for g in ec2.describe_security_groups()["SecurityGroups"] if g["GroupName"] != "default"]
        ),
        "internet_gateways": len([g for g in ec2.describe_internet_gateways()["InternetGateways"] if g["Attachments"]]),
        "instances": sum(len(r["Instances"]) for r in reservations),
        "elastic_ips": len(ec2.describe_addresses()["Addresses"]),
        "buckets": len(aws("s3").list_buckets()["Buckets"]),
        "parameters": len(aws("ssm").describe_parameters()["Parameters"]),
        "db_instances": len(rds.describe_db_instances()["DBInstances"]),
        "db_snapshots": len(rds.describe_db_snapshots(SnapshotType="manual")["DBSnapshots"]),
        "db_subnet_groups": len(rds.describe_db_subnet_groups()["DBSubnetGroups"]),
        "db_parameter_groups": len(
            [
                g
                for g in rds.describe_db_parameter_groups()["DBParameterGroups"]
                if g["DBParameterGroupName"].startswith("convex-")
            ]
        ),
        "iam_roles": len(iam.list_roles()["Roles"]),
        "instance_profiles": len(iam.list_instance_profiles()["InstanceProfiles"]),
        "dns_records": len([r for r in records if r["Type"] == "A"]),
    }


# One stage's worth of resources: what a converged run leaves, and nothing twice.
ONE_STACK = {
    "vpcs": 1,
    "subnets": 4,
    "security_groups": 2,
    "internet_gateways": 1,
    "instances": 1,
    "elastic_ips": 1,
    "buckets": 5,
    "parameters": 3,
    "db_instances": 1,
    "db_snapshots": 0,
    "db_subnet_groups": 1,
    "db_parameter_groups": 1,
    "iam_roles": 1,
    "instance_profiles": 1,
    "dns_records": 3,
}


class PollingClient:
    """A client on a container host that polls https://<name>/version through Caddy, with a new
    TLS connection each time, until stopped; then what it saw (sent, failed, versions, worst)."""

    def __init__(self, deployment="local", name="api.convex.localhost"):
        self.host, self.name = host_of(deployment), name

    def on(self, *command):
        return subprocess.run(["docker", "exec", self.host, *command], capture_output=True, text=True, check=False)

    def start(self):
        self.on("rm", "-f", "/run/e2e-poll.stop", "/run/e2e-poll.json")
        probe = REPO / "tests" / "harness" / "probes" / "poll_version.py"
        subprocess.run(["docker", "cp", str(probe), f"{self.host}:/usr/local/bin/"], check=True)
        arguments = [self.name, "127.0.0.1", CADDY_CA, "/run/e2e-poll.stop", "/run/e2e-poll.json", "300"]
        started = self.on(
            "systemd-run", "--unit", "e2e-poller", "--collect", "python3", "/usr/local/bin/poll_version.py", *arguments
        )
        assert started.returncode == 0, started.stderr
        return self

    def stop(self):
        self.on("touch", "/run/e2e-poll.stop")
        for _attempt in range(60):
            report = self.on("cat", "/run/e2e-poll.json")
            if report.returncode == 0:
                return json.loads(report.stdout)
            time.sleep(1)
        raise AssertionError(f"the polling client on {self.host} wrote no report")


class PollingClientHere:
    """The same client on this machine, through the deployment's Elastic IP here (127.0.0.1 on
    LOCAL_HTTPS_PORT), trusting the CA the run wrote: it outlives a stop of the host."""

    def __init__(self, name="api.convex.localhost"):
        self.name = name
        self.folder = Path(tempfile.mkdtemp(prefix="e2e-poll-"))
        self.process = None

    def start(self):
        probe = REPO / "tests" / "harness" / "probes" / "poll_version.py"
        port = os.environ.get("LOCAL_HTTPS_PORT") or "443"
        stop, report = self.folder / "stop", self.folder / "report.json"
        arguments = [self.name, "127.0.0.1", str(LOCAL_CA), str(stop), str(report), "600", port]
        self.process = subprocess.Popen([sys.executable, str(probe), *arguments])
        return self

    def stop(self):
        (self.folder / "stop").touch()
        self.process.wait(90)
        return json.loads((self.folder / "report.json").read_text())


def upgrade_under_a_polling_client(version, clients=None, **stage_args):
    """Run upgrade.yml to version while clients poll their hosts' /version through Caddy.
    Returns the run and what each client saw."""
    clients = [client.start() for client in clients or [PollingClient()]]
    time.sleep(2)
    run = local_stage("site", playbook="upgrade.yml", version=version, **stage_args)
    time.sleep(2)
    seen = [client.stop() for client in clients]
    return run, seen if len(seen) > 1 else seen[0]


def backend_function(kind, path, args, deployment="local"):
    """A system function of the backend on host (kind: query or mutation), as the dashboard calls
    one over HTTP, with an admin key the backend's own generate_admin_key.sh makes."""
    host = host_of(deployment)
    minted = subprocess.run(
        ["docker", "exec", host, "docker", "compose", "--project-directory", "/opt/convex"]
        + ["exec", "-T", "backend", "./generate_admin_key.sh"],
        capture_output=True,
        text=True,
        check=True,
    )
    key = minted.stdout.strip().splitlines()[-1]
    body = json.dumps({"path": path, "args": args, "format": "json"})
    answer = subprocess.run(
        ["docker", "exec", host, "curl", "-sS", "-H", f"Authorization: Convex {key}"]
        + ["-H", "Content-Type: application/json", "--data", body, f"http://127.0.0.1:3210/api/{kind}"],
        capture_output=True,
        text=True,
        check=True,
    )
    result = json.loads(answer.stdout)
    assert result["status"] == "success", result
    return result["value"]


def documents(table, deployment="local"):
    return backend_function("query", "_system/frontend/listTableScan", {"table": table}, deployment)


def export_keys(bucket):
    listed = aws("s3").list_objects_v2(Bucket=bucket).get("Contents", [])
    return {item["Key"] for item in listed}
