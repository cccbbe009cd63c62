"""The local stage's stand-in for EC2's hypervisor: each emulated instance gets a container host of
its own, which follows the instance's life as EC2 says a real instance does, and the Elastic IP's
address on this machine follows the Elastic IP.

The emulator (moto) records instances but runs nothing. This process sits in front of it: every AWS
call of the local stage passes through it untouched (moto's own recording still sees each call
once), and after an EC2 call that changes an instance or an Elastic IP it makes the containers match
what the emulator then reports, before it answers. So when a caller sees "stopped", the container
is stopped, as on EC2, where an instance is stopped once its OS has shut down.

What each state means, from the EC2 User Guide:
- "Instance state changes" (ec2-instance-lifecycle): a launched instance runs on a host; "stopped" is
  shut down, its EBS root volume kept; "terminated" is gone, and its root volume deleted when
  DeleteOnTermination is set (the collection sets it).
- "Stop and start Amazon EC2 instances": a stop is an OS shutdown (here systemd's, through the
  container's stop signal), a start boots the same instance again with its root volume as it was
  (here the same container, its file system kept) and the instance type it has then ("Change the
  instance type": the type changes only while the instance is stopped).
- "Reboot your instance": an OS reboot; the instance stays on its host (here: a container restart).
- "Elastic IP addresses": the address stays with the instance across a stop and start, and moves
  with AssociateAddress. Here the address is a listener on this machine (127.0.0.1:443 for the local
  stage) that forwards to the container holding the Elastic IP at that moment; a move resets the
  connections it was forwarding, as the instance the address moved to resets their next packets.

The containers run this machine's architecture whatever the instance type says (an arm64 type on
an x86_64 machine), and get the memory and vCPUs of the type (DescribeInstanceTypes, capped at this
machine's CPUs).

Each emulated DB instance gets a container too, running MariaDB, apart from every host
(rds_standin.py says how it follows RDS).

Run by scripts/local-stage; its reads of the emulator use their own access key, so that the tests'
counts of the playbooks' calls leave them out.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import io
import json
import os
import socket
import subprocess
import sys
import tarfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import boto3
from rds_standin import FOLLOWED as FOLLOWED_RDS
from rds_standin import Databases

# Its own key, so that call counts can tell the stand-in's reads from the playbooks' calls.
ACCESS_KEY = "local-hypervisor"
IMAGE = "convex-test/debian13-systemd:current"
LABEL = "convex-local-stage=host"
STAGE_TAG = "convex_selfhost:stage"
# EC2 actions after which the containers or the Elastic IP listeners may have to follow.
FOLLOWED = {
    "RunInstances",
    "StartInstances",
    "StopInstances",
    "RebootInstances",
    "TerminateInstances",
    "AssociateAddress",
    "DisassociateAddress",
    "ReleaseAddress",
}
LIVE = ("pending", "running")
DOWN = ("stopping", "stopped")
GONE = ("shutting-down", "terminated")
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "upgrade", "proxy-connection"}
# The same explicit capability list as the molecule platform: these machines refuse --privileged,
# and systemd needs these to run as PID 1.
_CAPABILITIES = [
    "SYS_ADMIN",
    "NET_ADMIN",
    "NET_RAW",
    "SYS_PTRACE",
    "MKNOD",
    "AUDIT_WRITE",
    "SETFCAP",
    "SYS_CHROOT",
    "IPC_LOCK",
    "SYS_NICE",
]
# Test-host quirk (not needed on EC2): lets the inner dockerd publish ports in a container.
_DOCKER_DROP_IN = "[Service]\nEnvironment=DOCKER_ALLOW_IPV6_ON_IPV4_INTERFACE=1\n"
# An instance keeps its primary private IPv4 address while it is stopped and started, and rebooted
# (EC2 User Guide, "Private IPv4 addresses"); a container on Docker's bridge may get another address
# at each start. So the instance's own private address is put on the container's lo at every
# boot, before anything that listens starts, as EC2's network interface gives it at boot.
_PRIVATE_IP_UNIT = "local-stage-private-ip.service"


def _private_ip_unit(address):
    return (
        "[Unit]\n"
        "Description=The EC2 instance's private IPv4 address (local stage stand-in for its network interface)\n"
        "DefaultDependencies=no\n"
        "Before=network.target\n"
        "[Service]\n"
        "Type=oneshot\n"
        "RemainAfterExit=yes\n"
        f"ExecStart=/usr/sbin/ip address replace {address}/32 dev lo\n"
        "[Install]\n"
        "WantedBy=multi-user.target\n"
    )


def log(message):
    print(f"{time.strftime('%H:%M:%S')} hypervisor: {message}", flush=True)


def docker(*args, check=True):
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=check)


def container_name(instance_id):
    return f"convex-{instance_id}"


def container_state(name):
    """(exists, running, memory bytes, nano cpus) of a container."""
    found = docker("inspect", "--format", "{{json .}}", name, check=False)
    if found.returncode != 0:
        return None
    details = json.loads(found.stdout)
    config = details["HostConfig"]
    return details["State"]["Running"], config.get("Memory") or 0, config.get("NanoCpus") or 0


class Machines:
    """The containers, made to follow the emulator's instances."""

    def __init__(self, ec2):
        self.ec2 = ec2
        self.sizes = {}
        self.lock = threading.Lock()

    def size(self, instance_type):
        """(memory bytes, nano cpus) of an instance type, from the emulator's DescribeInstanceTypes."""
        if instance_type not in self.sizes:
            found = self.ec2.describe_instance_types(InstanceTypes=[instance_type])["InstanceTypes"][0]
            cpus = min(found["VCpuInfo"]["DefaultVCpus"], os.cpu_count() or 1)
            self.sizes[instance_type] = (found["MemoryInfo"]["SizeInMiB"] * 1024 * 1024, cpus * 10**9)
        return self.sizes[instance_type]

    def instances(self):
        pages = self.ec2.get_paginator("describe_instances").paginate()
        return [i for page in pages for r in page["Reservations"] for i in r["Instances"]]

    def follow(self):
        with self.lock:
            instances = self.instances()
            self.keep_elastic_ips(instances)
            for instance in instances:
                try:
                    self.follow_one(instance)
                except subprocess.CalledProcessError as error:
                    log(f"{instance['InstanceId']}: {' '.join(error.cmd)} failed: {error.stderr.strip()}")

    def keep_elastic_ips(self, instances):
        """A terminated instance lets its Elastic IP go. An instance started again keeps its
        Elastic IP as its public address ("Stop and start Amazon EC2 instances": it retains its
        associated Elastic IP addresses). The emulator keeps the association but gives the
        instance a new random public address at StartInstances: the association is made again,
        which sets the address back."""
        associated = {
            a["InstanceId"]: a
            for a in self.ec2.describe_addresses()["Addresses"]
            if a.get("InstanceId") and a.get("AllocationId")
        }
        for instance in instances:
            address = associated.get(instance["InstanceId"])
            if instance["State"]["Name"] in GONE and address:
                # A terminated instance's Elastic IP is disassociated from it and stays allocated
                # to the account (EC2 User Guide, "Elastic IP addresses"); the emulator keeps the
                # association, which would refuse the next AssociateAddress.
                log(f"{instance['InstanceId']} is {instance['State']['Name']}: its Elastic IP is free again")
                self.ec2.disassociate_address(AssociationId=address["AssociationId"])
                continue
            if instance["State"]["Name"] in LIVE and address and instance.get("PublicIpAddress") != address["PublicIp"]:
                log(f"{instance['InstanceId']} started again: its public address is its Elastic IP again")
                self.ec2.associate_address(
                    AllocationId=address["AllocationId"], InstanceId=instance["InstanceId"], AllowReassociation=True
                )
                instance["PublicIpAddress"] = address["PublicIp"]

    def follow_one(self, instance):
        instance_id, state = instance["InstanceId"], instance["State"]["Name"]
        name = container_name(instance_id)
        found = container_state(name)
        if state in GONE:
            if found is not None:
                log(f"{instance_id} is {state}: removing {name} and its disk")
                docker("rm", "--force", "--volumes", name)
            return
        memory, cpus = self.size(instance["InstanceType"])
        if state in DOWN:
            if found is not None and found[0]:
                log(f"{instance_id} is {state}: shutting {name} down")
                docker("stop", "--time", "120", name)
            return
        if found is None:
            self.launch(instance_id, name, memory, cpus, instance["InstanceType"], instance["PrivateIpAddress"])
            return
        running, has_memory, has_cpus = found
        if running and (has_memory, has_cpus) == (memory, cpus):
            return
        if running:
            # EC2 changes a type only while the instance is stopped; a type that differs from the
            # running container's means a stop and start happened between two looks.
            log(f"{instance_id} was stopped and started as a {instance['InstanceType']}: restarting {name}")
            docker("stop", "--time", "120", name)
        if (has_memory, has_cpus) != (memory, cpus):
            log(f"{instance_id}: {name} gets the size of a {instance['InstanceType']}")
            docker("update", "--memory", str(memory), "--memory-swap", "-1", "--cpus", str(cpus / 10**9), name)
        log(f"{instance_id} is {state}: starting {name}")
        docker("start", name)

    def launch(self, instance_id, name, memory, cpus, instance_type, private_ip):
        log(f"{instance_id} launched as a {instance_type}: creating {name}")
        capabilities = [f"--cap-add={c}" for c in _CAPABILITIES]
        docker(
            "create",
            "--name",
            name,
            "--hostname",
            name,
            "--label",
            LABEL,
            "--label",
            f"convex-local-stage.instance={instance_id}",
            "--memory",
            str(memory),
            "--memory-swap",
            "-1",
            "--cpus",
            str(cpus / 10**9),
            *capabilities,
            "--security-opt",
            "seccomp=unconfined",
            "--security-opt",
            "apparmor=unconfined",
            "--cgroupns",
            "host",
            "--volume",
            "/sys/fs/cgroup:/sys/fs/cgroup:rw",
            "--tmpfs",
            "/run",
            "--tmpfs",
            "/run/lock",
            # The instance's Docker data on a volume of this machine's file system (ext4), as an EC2
            # host's is on its root volume: the inner dockerd then uses overlay2 as on EC2, not the
            # vfs driver it falls back to on the container's own overlayfs root, which copies
            # every image layer for each container it creates. It lives as long as the container.
            "--volume",
            "/var/lib/docker",
            "--stop-signal",
            "SIGRTMIN+3",
            IMAGE,
        )
        self._copy_files(name, private_ip)
        docker("start", name)

    def _copy_files(self, name, private_ip):
        """The files the container needs before its first boot, as one archive."""
        archive = io.BytesIO()
        with tarfile.open(fileobj=archive, mode="w") as tar:
            for path, text in (
                ("etc/systemd/system/docker.service.d/local-host.conf", _DOCKER_DROP_IN),
                (f"etc/systemd/system/{_PRIVATE_IP_UNIT}", _private_ip_unit(private_ip)),
            ):
                data = text.encode()
                entry = tarfile.TarInfo(path)
                entry.size, entry.mode = len(data), 0o644
                tar.addfile(entry, io.BytesIO(data))
            enabled = tarfile.TarInfo(f"etc/systemd/system/multi-user.target.wants/{_PRIVATE_IP_UNIT}")
            enabled.type, enabled.linkname = tarfile.SYMTYPE, f"/etc/systemd/system/{_PRIVATE_IP_UNIT}"
            tar.addfile(enabled)
        subprocess.run(["docker", "cp", "-", f"{name}:/"], input=archive.getvalue(), capture_output=True, check=True)


class Addresses:
    """Listeners on this machine that stand for Elastic IPs: each forwards to the container of the
    instance its deployment's Elastic IP is associated with."""

    def __init__(self, ec2, listeners):
        self.ec2 = ec2
        self.listeners = listeners  # {deployment: (host, port)}
        self.targets = {}  # {deployment: container name}
        self.ips = {}  # {container name: its address on Docker's bridge}, as last looked up
        self.flows = set()  # (deployment, target, client socket, upstream socket) being forwarded
        self.flows_lock = threading.Lock()

    def follow(self):
        found = {}
        for address in self.ec2.describe_addresses()["Addresses"]:
            tags = {t["Key"]: t["Value"] for t in address.get("Tags", [])}
            deployment = tags.get(STAGE_TAG)
            if deployment in self.listeners and address.get("InstanceId"):
                found[deployment] = container_name(address["InstanceId"])
        moved = [d for d in self.listeners if self.targets.get(d) != found.get(d)]
        for deployment in moved:
            log(f"the Elastic IP of {deployment} now leads to {found.get(deployment) or 'nothing'}")
        self.targets = found
        # On EC2 a moved address takes its established flows with it: their next packets reach an
        # instance that holds no such connection, and TCP resets them. So does this listener.
        with self.flows_lock:
            ended = [f for f in self.flows if f[0] in moved and f[1] != found.get(f[0])]
        for _deployment, _target, *ends in ended:
            for end in ends:
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)
        # A container's bridge address may change when it starts again: looked up after every
        # followed call, and again when a connection to the one known fails.
        self.ips = {name: _container_address(name) for name in found.values()}

    def _connect(self, target):
        for attempt in range(2):
            address = self.ips.get(target) if attempt == 0 else _container_address(target)
            if not address:
                continue
            try:
                upstream = socket.create_connection((address, 443), timeout=5)
            except OSError:
                continue
            self.ips[target] = address
            upstream.settimeout(None)
            return upstream
        return None

    def start(self):
        for deployment, (host, port) in self.listeners.items():
            server = socket.create_server((host, port), reuse_port=False)
            threading.Thread(target=self._accept, args=(deployment, server), daemon=True).start()

    def _accept(self, deployment, server):
        while True:
            client = server.accept()[0]
            threading.Thread(target=self._forward, args=(deployment, client), daemon=True).start()

    def _forward(self, deployment, client):
        target = self.targets.get(deployment)
        upstream = self._connect(target) if target else None
        if upstream is None:
            # As an Elastic IP with no running instance behind it: nothing answers.
            client.close()
            return
        flow = (deployment, target, client, upstream)
        with self.flows_lock:
            self.flows.add(flow)
        threading.Thread(target=_pump, args=(upstream, client), daemon=True).start()
        _pump(client, upstream)
        with self.flows_lock:
            self.flows.discard(flow)


def _container_address(name):
    found = docker("inspect", "--format", "{{.NetworkSettings.IPAddress}}", name, check=False)
    return found.stdout.strip() if found.returncode == 0 else ""


def _pump(source, sink):
    try:
        while True:
            data = source.recv(65536)
            if not data:
                break
            sink.sendall(data)
    except OSError:
        pass
    finally:
        for end in (source, sink):
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)
            end.close()


def _query(method, body):
    """The parameters of a query-protocol request (EC2's, RDS's), each with its one value; empty
    for other protocols."""
    if method != "POST" or b"Action=" not in body[:4096]:
        return {}
    return {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}


def front(upstream, follow):
    """The HTTP front: every request forwarded to the emulator untouched; after a followed EC2 or
    RDS action that succeeded, the containers and listeners follow before the answer goes back
    (follow(action, parameters))."""
    target = urlsplit(upstream)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def _handle(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            connection = http.client.HTTPConnection(target.hostname, target.port, timeout=300)
            headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
            try:
                connection.request(self.command, self.path, body=body, headers=headers)
                response = connection.getresponse()
                status, answer_headers, data = response.status, response.getheaders(), response.read()
            except OSError:
                self.close_connection = True
                return
            finally:
                connection.close()
            query = _query(self.command, body)
            action = query.get("Action", "")
            if 200 <= status < 300 and action in FOLLOWED | FOLLOWED_RDS:
                # The call was made: its answer goes back whatever happens here, and what failed
                # is in the log (the next followed call tries again).
                try:
                    follow(action, query)
                except Exception as error:  # noqa: BLE001
                    log(f"could not follow the emulator after {action}: {error}")
            self.send_response(status)
            for key, value in answer_headers:
                if key.lower() not in _HOP_BY_HOP and key.lower() != "content-length":
                    self.send_header(key, value)
            # A HEAD answer has no body, and its Content-Length is the object's (S3's HeadObject).
            length = dict((k.lower(), v) for k, v in answer_headers).get("content-length", "0")
            self.send_header("Content-Length", length if self.command == "HEAD" else str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = _handle

    return Handler


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listen", required=True, help="ADDRESS:PORT of the front that stands for AWS")
    parser.add_argument("--upstream", required=True, help="the emulator's URL")
    parser.add_argument(
        "--address",
        action="append",
        default=[],
        help="DEPLOYMENT=HOST:PORT: a listener on this machine standing for the deployment's Elastic IP",
    )
    parser.add_argument("--state", required=True, help="the local stage's state folder (the RDS stand-in's data)")
    arguments = parser.parse_args()

    def client(service):
        return boto3.client(
            service,
            endpoint_url=arguments.upstream,
            region_name="us-east-1",
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=ACCESS_KEY,
        )

    ec2 = client("ec2")
    machines = Machines(ec2)
    databases = Databases(client("rds"), arguments.state)
    listeners = {}
    for given in arguments.address:
        deployment, where = given.split("=", 1)
        host, port = where.rsplit(":", 1)
        listeners[deployment] = (host, int(port))
    addresses = Addresses(ec2, listeners)

    def follow(action, query):
        if action in FOLLOWED_RDS:
            databases.follow(action, query)
            return
        machines.follow()
        with machines.lock:
            addresses.follow()

    # Whatever happened while no hypervisor ran (an earlier one stopped, this machine rebooted).
    follow("", {})
    with databases.lock:
        databases.sync()
    addresses.start()
    host, port = arguments.listen.rsplit(":", 1)
    server = ThreadingHTTPServer((host, int(port)), front(arguments.upstream, follow))
    log(f"in front of {arguments.upstream} on {arguments.listen}")
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
