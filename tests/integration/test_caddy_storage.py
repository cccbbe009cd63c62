"""The copy of Caddy's storage kept off the host (plugins/module_utils/caddy_storage.py and the caddy
role's caddy-storage-copy), against the emulator: the secret made empty, only the host's role let
read and write it (its own policy and the secret's), repaired after drift with check mode telling
the truth, scheduled for deletion by a teardown and given back to the stage made again; and the
host's tool saving only what changed and restoring a new host's Caddy."""

from __future__ import annotations

import fnmatch
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from botocore.exceptions import ClientError
from conftest import DEV_REGION, REPO

COPY = "convex-dev/caddy-storage"
ROLE = "convex-dev-host"
TOOL = REPO / "roles" / "caddy" / "files" / "caddy_storage_copy.py"


def ok(run):
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    return run.stdout


def secrets(aws):
    return aws.client("secretsmanager", region_name=DEV_REGION)


def account(aws):
    return aws.client("sts").get_caller_identity()["Account"]


def only_the_host_role(aws):
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "OnlyTheHostRole",
                "Effect": "Deny",
                "Principal": "*",
                "Action": ["secretsmanager:GetSecretValue", "secretsmanager:PutSecretValue"],
                "Resource": "*",
                "Condition": {"StringNotEquals": {"aws:PrincipalArn": f"arn:aws:iam::{account(aws)}:role/{ROLE}"}},
            }
        ],
    }


def test_provisioning_makes_the_secret_empty_refused_to_all_but_the_host_role_and_repairs_it(aws, dev_stage):
    ok(dev_stage("provision.yml"))
    client = secrets(aws)
    made = client.describe_secret(SecretId=COPY)
    tags = {t["Key"]: t["Value"] for t in made["Tags"]}
    assert tags["convex_selfhost:stage"] == "dev" and tags["convex_selfhost:managed-by"] == "convex_selfhost.aws"
    assert json.loads(client.get_resource_policy(SecretId=COPY)["ResourcePolicy"]) == only_the_host_role(aws)
    with pytest.raises(ClientError) as empty:
        client.get_secret_value(SecretId=COPY)
    assert empty.value.response["Error"]["Code"] == "ResourceNotFoundException", "only the host writes a value"

    client.delete_resource_policy(SecretId=COPY)
    client.untag_resource(SecretId=COPY, TagKeys=["convex_selfhost:stage"])
    before = len(aws.calls())
    checked = ok(dev_stage("provision.yml", flags=["--check", "--diff"]))
    assert f"let only {ROLE} read and write {COPY}" in checked
    assert f"tag the secret {COPY}" in checked
    assert [c for c in aws.calls()[before:] if c.writes] == [], "check mode wrote"
    ok(dev_stage("provision.yml"))
    assert json.loads(client.get_resource_policy(SecretId=COPY)["ResourcePolicy"]) == only_the_host_role(aws)
    assert "convex_selfhost:stage" in {t["Key"] for t in client.describe_secret(SecretId=COPY)["Tags"]}
    assert "changed=0" in ok(dev_stage("provision.yml"))


def test_the_host_may_read_and_write_that_secret_and_no_other(aws, dev_stage):
    ok(dev_stage("provision.yml"))
    document = aws.client("iam").get_role_policy(RoleName=ROLE, PolicyName="convex-storage")["PolicyDocument"]
    if isinstance(document, str):
        document = json.loads(document)
    statements = {s["Sid"]: s for s in document["Statement"]}
    pattern = f"arn:aws:secretsmanager:{DEV_REGION}:{account(aws)}:secret:{COPY}-??????"
    assert statements["CaddyStorage"] == {
        "Sid": "CaddyStorage",
        "Effect": "Allow",
        "Action": ["secretsmanager:GetSecretValue", "secretsmanager:PutSecretValue"],
        "Resource": [pattern],
    }
    # The pattern names the secret AWS made, and no other secret of a like name.
    arn = secrets(aws).describe_secret(SecretId=COPY)["ARN"]
    assert fnmatch.fnmatchcase(arn, pattern)
    assert not fnmatch.fnmatchcase(arn.replace("caddy-storage", "caddy-storage-x"), pattern)
    # No other statement names Secrets Manager.
    others = [a for s in document["Statement"] if s["Sid"] != "CaddyStorage" for a in s["Action"]]
    assert not [a for a in others if a.startswith("secretsmanager:")]


def test_teardown_schedules_the_deletion_and_the_stage_made_again_gets_the_copy_back(aws, dev_stage):
    ok(dev_stage("provision.yml"))
    client = secrets(aws)
    client.put_secret_value(SecretId=COPY, SecretBinary=b"as the host left it")
    gone = ok(dev_stage("teardown.yml", timeout=300, flags=["--diff"]))
    assert f"schedule the secret {COPY} for deletion in 7 days" in gone
    assert client.describe_secret(SecretId=COPY).get("DeletedDate")
    again = ok(dev_stage("teardown.yml", timeout=300))
    assert "changed=0" in again, again[-3000:]
    # AWS removes a deleted instance's automated backups with it (RDS API reference, DeleteDBInstance:
    # DeleteAutomatedBackups defaults to true); the emulator keeps them, and its next automated
    # snapshot of an instance of the same name, made within the same minute, would then collide.
    rds = aws.client("rds", region_name=DEV_REGION)
    for snapshot in rds.describe_db_snapshots(SnapshotType="automated")["DBSnapshots"]:
        rds.delete_db_snapshot(DBSnapshotIdentifier=snapshot["DBSnapshotIdentifier"])

    before = len(aws.calls())
    checked = ok(dev_stage("provision.yml", flags=["--check", "--diff"]))
    assert f"restore the secret {COPY}, which a teardown scheduled for deletion" in checked
    assert [c for c in aws.calls()[before:] if c.writes] == [], "check mode wrote"
    back = ok(dev_stage("provision.yml", flags=["--diff"]))
    assert f"restore the secret {COPY}, which a teardown scheduled for deletion" in back
    assert not client.describe_secret(SecretId=COPY).get("DeletedDate")
    assert client.get_secret_value(SecretId=COPY)["SecretBinary"] == b"as the host left it"
    assert "changed=0" in ok(dev_stage("provision.yml"))


def copy(aws, data, state, command, **settings):
    """caddy-storage-copy as its timer and the caddy role run it, with boto3 against the emulator."""
    environment = {
        **aws.env(),
        "CADDY_STORAGE_SETTINGS": os.devnull,
        "CADDY_STORAGE_SECRET": COPY,
        "CADDY_STORAGE_REGION": DEV_REGION,
        "CADDY_STORAGE_ENDPOINT": aws.endpoint,
        "CADDY_STORAGE_DATA": str(data),
        "CADDY_STORAGE_OWNER": subprocess.run(["id", "-un"], capture_output=True, text=True, check=True).stdout.strip(),
        "CADDY_STORAGE_STATE": str(state),
        **settings,
    }
    return subprocess.run(
        [sys.executable, str(TOOL), command], env=environment, capture_output=True, text=True, check=False
    )


def caddy_storage(folder: Path):
    """Files as Caddy lays them out: certificates by issuer and name, the ACME account, its CA."""
    files = {
        "certificates/acme-v02.api.letsencrypt.org-directory/api.convex.example.com/api.convex.example.com.crt": "A",
        "certificates/acme-v02.api.letsencrypt.org-directory/api.convex.example.com/api.convex.example.com.key": "K",
        "acme/acme-v02.api.letsencrypt.org-directory/users/ops@example.com/ops.json": "{}",
        "pki/authorities/local/root.crt": "R",
        "locks/issue_cert_api.convex.example.com.lock": "this host's",
        "instance.uuid": "this host's",
    }
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    return files


def test_the_host_saves_only_what_changed_and_a_new_host_restores_it(aws, dev_stage, tmp_path):
    ok(dev_stage("provision.yml"))
    old, new = tmp_path / "old-host", tmp_path / "new-host"
    files = caddy_storage(old)
    before = len(aws.calls())
    saved = copy(aws, old, tmp_path / "old-state", "save")
    assert saved.returncode == 0, saved.stderr
    assert "saved 4 files" in saved.stdout, saved.stdout
    assert [str(c) for c in aws.calls()[before:]] == ["secretsmanager:PutSecretValue"]

    # Nothing changed: no AWS call at all. A renewed certificate: saved again.
    before = len(aws.calls())
    assert "unchanged" in copy(aws, old, tmp_path / "old-state", "save").stdout
    assert aws.calls()[before:] == []
    renewed = next(name for name in files if name.endswith(".crt") and name.startswith("certificates/"))
    (old / renewed).write_text("A, renewed")
    assert "saved 4 files" in copy(aws, old, tmp_path / "old-state", "save").stdout

    # A new host: the copy, less what was the old host's alone; its own save then finds nothing new.
    restored = copy(aws, new, tmp_path / "new-state", "restore")
    assert restored.returncode == 0, restored.stderr
    assert "restored 4 files" in restored.stdout
    assert (new / renewed).read_text() == "A, renewed"
    assert not (new / "locks").exists() and not (new / "instance.uuid").exists()
    assert "unchanged" in copy(aws, new, tmp_path / "new-state", "save").stdout
    # A host whose Caddy holds certificates keeps its own.
    again = copy(aws, old, tmp_path / "old-state", "restore")
    assert "holds certificates already; nothing restored" in again.stdout


def test_a_new_host_of_a_deployment_that_never_saved_starts_afresh_and_failures_say_so(aws, dev_stage, tmp_path):
    ok(dev_stage("provision.yml"))
    fresh = copy(aws, tmp_path / "new-host", tmp_path / "state", "restore")
    assert fresh.returncode == 0 and "no copy yet; Caddy starts afresh" in fresh.stdout, fresh.stdout + fresh.stderr
    caddy_storage(tmp_path / "host")
    unreachable = copy(aws, tmp_path / "host", tmp_path / "state", "save", CADDY_STORAGE_ENDPOINT="http://127.0.0.1:9")
    assert unreachable.returncode == 1 and "caddy-storage-copy: FAILED to save" in unreachable.stderr
    assert not (tmp_path / "state").exists(), "a failed save is tried again by the next run of the timer"
