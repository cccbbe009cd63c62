"""caddy-storage-copy: the copy of Caddy's storage that the deployment keeps off its host, in one
Secrets Manager secret only the host's role may read and write.

  caddy-storage-copy save      put Caddy's certificates, ACME account and CA in the secret, when they
                               differ from what this host last saved or restored (else no AWS call)
  caddy-storage-copy restore   on a host whose Caddy holds no certificate yet (a new host): unpack the
                               copy into Caddy's storage, so that Caddy orders nothing it had

Each prints one line: what it did.

Settings: the file CADDY_STORAGE_SETTINGS names (default /etc/default/caddy-storage-copy, which the
caddy role writes; KEY=VALUE lines), over the environment:
  CADDY_STORAGE_SECRET    the secret's name
  CADDY_STORAGE_REGION    its AWS region
  CADDY_STORAGE_ENDPOINT  an endpoint that is not AWS's (the local stage's emulator); empty on AWS,
                          where boto3 takes the instance role's credentials from the metadata
  CADDY_STORAGE_DATA      Caddy's data folder (Debian's package: /var/lib/caddy/.local/share/caddy)
  CADDY_STORAGE_OWNER     the user Caddy runs as, who owns what is restored
  CADDY_STORAGE_STATE     the file holding the digest of what this host last saved or restored
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import pwd
import sys
import tarfile

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

# What Caddy cannot get back without a new order or a new CA: its certificates and keys, its ACME
# account, and its own CA (caddy_tls internal). Locks, OCSP staples and its instance id are this
# host's alone, or fetched again at will.
KEPT = ("certificates", "acme", "pki")
# The largest SecretBinary Secrets Manager takes (its quotas: 65,536 bytes).
LIMIT = 65536


def kept_files(data, tops=KEPT):
    for folder in tops:
        top = os.path.join(data, folder)
        for root, folders, names in os.walk(top):
            folders.sort()
            for name in sorted(names):
                yield os.path.relpath(os.path.join(root, name), data)


def archive(data):
    """The kept files as a tar.gz made the same way each time (sorted, no times, no owners), so
    that the same storage always gives the same bytes and digest."""
    raw = io.BytesIO()
    count = 0
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for relative in kept_files(data):
            path = os.path.join(data, relative)
            with open(path, "rb") as handle:
                content = handle.read()
            info = tarfile.TarInfo(relative)
            info.size = len(content)
            info.mode = os.stat(path).st_mode & 0o777
            tar.addfile(info, io.BytesIO(content))
            count += 1
    return gzip.compress(raw.getvalue(), mtime=0), count


def client(env):
    config = Config(connect_timeout=5, read_timeout=20, retries={"mode": "standard", "max_attempts": 5})
    return boto3.client(
        "secretsmanager",
        region_name=env["CADDY_STORAGE_REGION"],
        endpoint_url=env.get("CADDY_STORAGE_ENDPOINT") or None,
        config=config,
    )


def recorded(state):
    try:
        with open(state) as handle:
            return handle.read().strip()
    except FileNotFoundError:
        return ""


def record(state, digest):
    os.makedirs(os.path.dirname(state), exist_ok=True)
    with open(state + ".new", "w") as handle:
        handle.write(digest + "\n")
    os.replace(state + ".new", state)


def save(env):
    data, state = env["CADDY_STORAGE_DATA"], env["CADDY_STORAGE_STATE"]
    packed, count = archive(data)
    if count == 0:
        return "caddy-storage-copy: Caddy holds nothing to copy yet"
    digest = hashlib.sha256(packed).hexdigest()
    if digest == recorded(state):
        return f"caddy-storage-copy: unchanged ({count} files, copied before)"
    if len(packed) > LIMIT:
        raise RuntimeError(
            f"Caddy's storage packs into {len(packed)} bytes, more than the {LIMIT} a secret holds; nothing was copied"
        )
    client(env).put_secret_value(SecretId=env["CADDY_STORAGE_SECRET"], SecretBinary=packed)
    record(state, digest)
    return f"caddy-storage-copy: saved {count} files ({len(packed)} bytes)"


def restore(env):
    data, state = env["CADDY_STORAGE_DATA"], env["CADDY_STORAGE_STATE"]
    # A host whose Caddy holds a certificate is not new: its own storage is the newer one. (A CA
    # that Caddy made on a host with no certificate yet is replaced by the copy's.)
    if next(kept_files(data, ("certificates",)), None) is not None:
        return "caddy-storage-copy: Caddy holds certificates already; nothing restored"
    try:
        found = client(env).get_secret_value(SecretId=env["CADDY_STORAGE_SECRET"])
    except ClientError as error:
        # The secret without a value yet: no host of the deployment has saved anything.
        if error.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
            return "caddy-storage-copy: no copy yet; Caddy starts afresh"
        raise
    packed = found["SecretBinary"]
    owner = pwd.getpwnam(env["CADDY_STORAGE_OWNER"])
    os.makedirs(data, mode=0o700, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(packed), mode="r:gz") as tar:
        members = tar.getmembers()
        # The "data" filter refuses absolute paths, links out of the folder and special files.
        tar.extractall(data, filter="data")
    for root, folders, names in os.walk(data):
        for name in [*folders, *names]:
            os.chown(os.path.join(root, name), owner.pw_uid, owner.pw_gid)
    # Up to the data folder's parents that Caddy would have made itself (.local/share/caddy).
    path = data
    while path.startswith(owner.pw_dir + os.sep):
        os.chown(path, owner.pw_uid, owner.pw_gid)
        path = os.path.dirname(path)
    record(state, hashlib.sha256(packed).hexdigest())
    return f"caddy-storage-copy: restored {len(members)} files"


def settings():
    """The environment, with the settings file's lines over it. AWS_* lines (the emulator's keys
    on the local stage) go into this process's environment, where boto3 looks."""
    path = os.environ.get("CADDY_STORAGE_SETTINGS", "/etc/default/caddy-storage-copy")
    try:
        with open(path) as handle:
            lines = [line.strip() for line in handle if "=" in line and not line.lstrip().startswith("#")]
    except FileNotFoundError:
        lines = []
    for line in lines:
        name, value = line.split("=", 1)
        os.environ[name] = value
    return dict(os.environ)


def main(argv):
    if argv[1:] not in (["save"], ["restore"]):
        print(__doc__, file=sys.stderr)
        return 2
    env = settings()
    try:
        said = save(env) if argv[1] == "save" else restore(env)
    except Exception as error:  # noqa: BLE001 - the journal gets one line, the unit a failure
        print(f"caddy-storage-copy: FAILED to {argv[1]}: {error}", file=sys.stderr)
        return 1
    print(said)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
