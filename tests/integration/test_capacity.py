"""The capacity role on real storage: growpart on a disk image with a GPT partition table,
resize2fs on an ext4 file system on a loop device (its data intact), and a swap file on a systemd
test host. Each step check mode first, then real, then again with no change.

What cannot be tested here: an online grow of a mounted root file system. On these machines
resize2fs's online grow is refused (CAP_SYS_RESOURCE is missing), so the file system is grown
unmounted, after e2fsck -f as resize2fs then requires; on a host its root is grown mounted. A loop
device here shows no partitions (the loop module's max_part is 0), so the partition step works on
the image file, and the file system step on a loop device over the grown partition."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from recap import recap

REPO = Path(__file__).resolve().parents[2]
PLAYBOOK = "tests/integration/playbooks/capacity.yml"
SECTOR = 512
MIB = 1024 * 1024
TEST_HOST = "convex-capacity-test"
# As the local stage's hosts get them (scripts/lib/hypervisor.py): systemd as PID 1, no --privileged.
HOST_OPTIONS = [
    *(
        f"--cap-add={c}"
        for c in ("SYS_ADMIN", "NET_ADMIN", "NET_RAW", "SYS_PTRACE", "MKNOD", "AUDIT_WRITE", "SETFCAP", "SYS_CHROOT")
    ),
    "--security-opt=seccomp=unconfined",
    "--security-opt=apparmor=unconfined",
    "--cgroupns=host",
    "--volume=/sys/fs/cgroup:/sys/fs/cgroup:rw",
    "--tmpfs=/run",
    "--tmpfs=/run/lock",
]


def sh(*argv, **kwargs):
    return subprocess.run(argv, check=True, capture_output=True, text=True, **kwargs).stdout


def play(entry, target, connection, check=False, **variables):
    argv = [
        str(REPO / ".venv" / "bin" / "ansible-playbook"),
        PLAYBOOK,
        "-i",
        f"{target},",
        "-c",
        connection,
        "-e",
        json.dumps({"capacity_test_entry": entry, **variables}),
    ]
    if connection == "local":
        # This machine's modules run with the tests' own Python, not whatever PATH finds first.
        argv += ["-e", f"ansible_python_interpreter={sys.executable}"]
    if check:
        argv.append("--check")
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    done = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    return done.stdout, recap(done.stdout, target)[target]


def partition_of(image):
    table = json.loads(sh("sfdisk", "--json", str(image)))["partitiontable"]
    return table["partitions"][0]


def block_count(device):
    header = sh("dumpe2fs", "-h", device)
    fields = dict(line.split(":", 1) for line in header.splitlines() if ":" in line)
    return int(fields["Block count"]), int(fields["Block size"])


class Loop:
    """A loop device over part of a file (a partition of a disk image)."""

    def __init__(self, image, offset, size):
        self.device = sh(
            "losetup", "--find", "--show", "--offset", str(offset), "--sizelimit", str(size), str(image)
        ).strip()

    def __enter__(self):
        return self.device

    def __exit__(self, *exc):
        subprocess.run(["losetup", "--detach", self.device], check=False)


class Mounted:
    def __init__(self, device, folder):
        self.folder = folder
        folder.mkdir(exist_ok=True)
        sh("mount", device, str(folder))

    def __enter__(self):
        return self.folder

    def __exit__(self, *exc):
        subprocess.run(["umount", str(self.folder)], check=False)


def loop_over(image, partition):
    return Loop(image, partition["start"] * SECTOR, partition["size"] * SECTOR)


def test_a_grown_disk_gets_its_partition_then_its_file_system_grown_with_the_data_intact(tmp_path):
    image = tmp_path / "disk.img"
    sh("truncate", "--size", str(64 * MIB), str(image))
    # One Linux partition from 1 MiB to 32 MiB, as a cloud image's root partition before first boot.
    sh("sfdisk", "--quiet", str(image), input="label: gpt\nstart=2048, size=63488, type=linux\n")
    before = partition_of(image)
    data = os.urandom(3 * MIB)
    with loop_over(image, before) as device:
        sh("mkfs.ext4", "-q", device)
        with Mounted(device, tmp_path / "mnt") as folder:
            (folder / "documents").write_bytes(data)
        blocks_before, block_size = block_count(device)

    # EBS grows the volume: the disk is bigger, its partition and file system are not.
    sh("truncate", "--size", str(128 * MIB), str(image))

    disk = {"capacity_disk": str(image), "capacity_partition": 1}
    output, checked = play("partition", "localhost", "local", check=True, **disk)
    assert checked["changed"] == 1 and "CHANGE: partition=1" in output, output[-3000:]
    assert partition_of(image) == before, "check mode grows nothing"
    grown = play("partition", "localhost", "local", **disk)[1]
    assert grown["changed"] == 1
    after = partition_of(image)
    assert after["start"] == before["start"]
    # To the end of the disk, less the 33 sectors of GPT's backup table.
    assert after["start"] + after["size"] >= 128 * MIB // SECTOR - 34
    for check in (True, False):
        assert play("partition", "localhost", "local", check=check, **disk)[1]["changed"] == 0

    with loop_over(image, after) as device:
        # Unmounted here (see the module's text), so resize2fs first wants a forced check.
        sh("e2fsck", "-f", "-y", device)
        step = {"capacity_filesystem_device": device}
        checked = play("filesystem", "localhost", "local", check=True, **step)[1]
        assert checked["changed"] == 1
        assert block_count(device) == (blocks_before, block_size), "check mode grows nothing"
        grown = play("filesystem", "localhost", "local", **step)[1]
        assert grown["changed"] == 1
        blocks_after = block_count(device)[0]
        assert blocks_after * block_size > after["size"] * SECTOR - MIB
        assert blocks_after > blocks_before * 3 // 2
        for check in (True, False):
            assert play("filesystem", "localhost", "local", check=check, **step)[1]["changed"] == 0
        sh("e2fsck", "-f", "-n", device)
        with Mounted(device, tmp_path / "mnt") as folder:
            kept = (folder / "documents").read_bytes()
    assert hashlib.sha256(kept).digest() == hashlib.sha256(data).digest(), "the data is intact"


@pytest.fixture
def test_host(tmp_path):
    """A systemd Debian test host whose /swapspace is an ext4 file system on a loop device (its
    own root is overlayfs, which cannot hold swap)."""
    image = tmp_path / "swapspace.img"
    sh("truncate", "--size", str(96 * MIB), str(image))
    sh("mkfs.ext4", "-q", str(image))
    folder = tmp_path / "swapspace"
    folder.mkdir()
    sh("mount", "-o", "loop", str(image), str(folder))
    subprocess.run(["docker", "rm", "--force", TEST_HOST], capture_output=True, check=False)
    try:
        sh(
            "docker", "run", "--detach", "--name", TEST_HOST, *HOST_OPTIONS,
            f"--volume={folder}:/swapspace", "convex-test/debian13-systemd:current",
        )  # fmt: skip
        # systemd's bus comes up a moment after the container starts: asked until it answers.
        for _attempt in range(60):
            booted = subprocess.run(
                ["docker", "exec", TEST_HOST, "systemctl", "is-system-running", "--wait"],
                capture_output=True, text=True, timeout=120, check=False,
            )  # fmt: skip
            if booted.stdout.strip():
                break
            time.sleep(1)
        assert booted.stdout.strip() in ("running", "degraded"), booted
        yield TEST_HOST
    finally:
        # Swap is this whole machine's: off again whatever the test did.
        subprocess.run(["docker", "exec", TEST_HOST, "swapoff", "--all"], capture_output=True, check=False)
        subprocess.run(["docker", "rm", "--force", TEST_HOST], capture_output=True, check=False)
        for _attempt in range(10):
            if subprocess.run(["umount", str(folder)], capture_output=True, check=False).returncode == 0:
                break
            time.sleep(1)


def swaps(host):
    """The swap in use on the host, as (file, size in MiB) pairs, from /proc/swaps (KiB, less the
    swap header's pages)."""
    lines = sh("docker", "exec", host, "cat", "/proc/swaps").splitlines()[1:]
    return [(line.split()[0], round(int(line.split()[2]) / 1024)) for line in lines if line.startswith("/swapspace/")]


def test_a_swap_file_is_made_resized_and_removed_and_the_root_left_alone_in_a_container(test_host):
    def run(size, check=False):
        variables = {"capacity_swap_mb": size, "capacity_swap_file": "/swapspace/swapfile"}
        return play("main", test_host, "community.docker.docker", check=check, **variables)

    output, checked = run(16, check=True)
    assert checked["changed"] > 0 and swaps(test_host) == []
    assert "is not an ext4 file system on a partition" in output, "the overlayfs root is left alone, saying so"
    made = run(16)[1]
    assert made["changed"] > 0
    assert swaps(test_host) == [("/swapspace/swapfile", 16)]
    # At boot systemd makes a swap unit of the fstab line; it runs no swap unit in a container, so
    # only the line is seen here.
    fstab = sh("docker", "exec", test_host, "cat", "/etc/fstab")
    assert "/swapspace/swapfile none swap sw 0 0" in fstab.splitlines()
    for check in (True, False):
        assert run(16, check=check)[1]["changed"] == 0

    # Killed half-way through a first dd: a file of the wrong size and no swap signature.
    sh("docker", "exec", test_host, "swapoff", "/swapspace/swapfile")
    sh("docker", "exec", test_host, "truncate", "--size", "5M", "/swapspace/swapfile")
    assert run(16)[1]["changed"] > 0
    assert swaps(test_host) == [("/swapspace/swapfile", 16)]

    assert run(32)[1]["changed"] > 0
    assert swaps(test_host) == [("/swapspace/swapfile", 32)]

    removed = run(0)[1]
    assert removed["changed"] > 0 and swaps(test_host) == []
    gone = subprocess.run(["docker", "exec", test_host, "test", "-e", "/swapspace/swapfile"], check=False)
    assert gone.returncode != 0
    assert "/swapspace/swapfile" not in sh("docker", "exec", test_host, "cat", "/etc/fstab")
    assert run(0)[1]["changed"] == 0
