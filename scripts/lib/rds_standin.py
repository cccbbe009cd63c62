"""The local stage's stand-in for RDS's database servers: each DB instance the emulator records gets
a container of its own running MariaDB (the image of local/rds-standin), apart from every EC2 host,
as an RDS instance is apart from the instance that uses it. A host lost or replaced leaves the data
where it was.

The emulator (moto) records DB instances and snapshots but keeps no data. The hypervisor stand-in
(hypervisor.py), in front of it, calls follow() after each RDS action below that succeeded, before
it answers, so that what a caller sees is what the containers hold. What each action does, from the
RDS API reference:
- CreateDBInstance: a new, empty instance with its master user (MasterUsername, MasterUserPassword)
  and, when DBName is given, that database. Its endpoint name is the emulator's.
- ModifyDBInstance with MasterUserPassword: the master user's password changes.
- CreateDBSnapshot, and DeleteDBInstance with FinalDBSnapshotIdentifier (unless SkipFinalSnapshot):
  a copy of the instance's data as it is then, kept here as a dump under the snapshot's name.
- RestoreDBInstanceFromDBSnapshot: a new instance holding the snapshot's data, with the master user
  and password the snapshot's instance had.
- RestoreDBInstanceToPointInTime: a new instance with the source's data as of a moment; here the
  source's data as it is at the restore (the stand-in keeps no log to replay).
- DeleteDBInstance: the instance and its storage are gone.

Like RDS, the server takes only TLS from clients (require_secure_transport), with a certificate
made out to the instance's endpoint name and signed by the local stage's own CA (rds-ca.pem in the
state folder), which stands for RDS's regional CA bundle. The run reads that CA and the container's
address on Docker's bridge (local/tasks/host.yml).
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import threading
import time
from pathlib import Path

IMAGE = "convex-test/rds-standin:current"
LABEL = "convex-local-stage=rds"
ENDPOINT_LABEL = "convex-local-stage.endpoint"
FOLLOWED = {
    "CreateDBInstance",
    "ModifyDBInstance",
    "CreateDBSnapshot",
    "DeleteDBInstance",
    "RestoreDBInstanceFromDBSnapshot",
    "RestoreDBInstanceToPointInTime",
}
CONFIG = "/etc/mysql/mariadb.conf.d/90-rds-standin.cnf"
TLS = "/etc/mysql/rds-standin"


def log(message):
    print(f"{time.strftime('%H:%M:%S')} rds stand-in: {message}", flush=True)


def docker(*args, check=True, input_text=None):
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=check, input=input_text)


def container_name(identifier):
    return f"convex-rds-{identifier}"


def _sql_text(value):
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _sql_name(value):
    return "`" + value.replace("`", "``") + "`"


class Databases:
    def __init__(self, rds, state_dir):
        self.rds = rds
        self.folder = Path(state_dir) / "rds"
        self.snapshots = self.folder / "snapshots"
        self.snapshots.mkdir(parents=True, exist_ok=True)
        os.chmod(self.folder, 0o700)
        self.lock = threading.Lock()
        self.ca = self.folder / "ca.pem"
        self._ensure_ca()

    # --- what each instance was given ---------------------------------------------------------
    def _record_path(self, identifier):
        return self.folder / f"{identifier}.json"

    def record(self, identifier):
        path = self._record_path(identifier)
        return json.loads(path.read_text()) if path.exists() else {}

    def _write_record(self, identifier, record):
        path = self._record_path(identifier)
        path.write_text(json.dumps(record))
        os.chmod(path, 0o600)

    # --- the CA standing for RDS's -------------------------------------------------------------
    def _ensure_ca(self):
        if self.ca.exists():
            return
        key = self.folder / "ca.key"
        subprocess.run(
            [
                "openssl",
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "3650",
                "-subj",
                "/CN=local stage RDS stand-in CA",
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-addext",
                "keyUsage=critical,keyCertSign,cRLSign",
                "-keyout",
                str(key),
                "-out",
                str(self.ca),
            ],
            capture_output=True,
            check=True,
        )
        os.chmod(key, 0o600)

    def _server_certificate(self, endpoint):
        """A key and a certificate made out to the endpoint name, signed by the CA (PEM texts)."""
        with tempfile.TemporaryDirectory() as work:
            folder = Path(work)
            (folder / "san.ext").write_text(
                f"subjectAltName=DNS:{endpoint}\nbasicConstraints=critical,CA:FALSE\n"
                "keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n"
            )
            run = ["openssl"]
            subprocess.run(
                [*run, "req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={endpoint}"]
                + ["-keyout", str(folder / "server.key"), "-out", str(folder / "server.csr")],
                capture_output=True,
                check=True,
            )
            subprocess.run(
                [*run, "x509", "-req", "-in", str(folder / "server.csr"), "-CA", str(self.ca)]
                + ["-CAkey", str(self.folder / "ca.key"), "-CAcreateserial", "-days", "825"]
                + ["-extfile", str(folder / "san.ext"), "-out", str(folder / "server.pem")],
                capture_output=True,
                check=True,
            )
            return (folder / "server.key").read_text(), (folder / "server.pem").read_text()

    # --- following the emulator ----------------------------------------------------------------
    def follow(self, action, params):
        with self.lock:
            identifier = params.get("DBInstanceIdentifier", "")
            if action == "CreateDBInstance":
                self._write_record(
                    identifier,
                    {
                        "username": params.get("MasterUsername", ""),
                        "password": params.get("MasterUserPassword", ""),
                        "database": params.get("DBName", ""),
                    },
                )
            elif action == "ModifyDBInstance" and params.get("MasterUserPassword"):
                record = self.record(identifier)
                record["password"] = params["MasterUserPassword"]
                self._write_record(identifier, record)
                self._sql(identifier, self._user_sql(record))
                log(f"{identifier}: the master user's password changed")
            elif action == "CreateDBSnapshot":
                self._dump(identifier, params["DBSnapshotIdentifier"])
            elif action == "DeleteDBInstance":
                if params.get("FinalDBSnapshotIdentifier") and params.get("SkipFinalSnapshot", "false") != "true":
                    self._dump(identifier, params["FinalDBSnapshotIdentifier"])
            elif action == "RestoreDBInstanceFromDBSnapshot":
                source = self.snapshots / params["DBSnapshotIdentifier"]
                self._write_record(
                    identifier, {**json.loads(source.with_suffix(".json").read_text()), "from": str(source)}
                )
            elif action == "RestoreDBInstanceToPointInTime":
                source = params["SourceDBInstanceIdentifier"]
                moment = self.snapshots / f"{identifier}-from-{source}"
                self._dump(source, moment.name)
                self._write_record(identifier, {**self.record(source), "from": str(moment)})
            self.sync()

    def sync(self):
        """Containers for the emulator's live instances, and none for any other."""
        pages = self.rds.get_paginator("describe_db_instances").paginate()
        instances = {i["DBInstanceIdentifier"]: i for page in pages for i in page["DBInstances"]}
        live = {k: v for k, v in instances.items() if v.get("DBInstanceStatus") != "deleting"}
        held = docker("ps", "-a", "--filter", f"label={LABEL}", "--format", "{{.Names}}").stdout.split()
        for name in held:
            identifier = name.removeprefix("convex-rds-")
            if identifier not in live:
                log(f"{identifier} is gone: removing {name} and its storage")
                docker("rm", "--force", "--volumes", name)
                self._record_path(identifier).unlink(missing_ok=True)
        for identifier, instance in live.items():
            name = container_name(identifier)
            if name not in held and not self._record_path(identifier).exists():
                # Made by a call whose own follow() has not run yet (another deployment's, answered
                # by the emulator a moment ago): that follow() records what the instance was given
                # and then makes its container, with its master user and database.
                log(f"{identifier}: its container waits for its own call to be followed")
                continue
            if name not in held:
                self._create(identifier, instance)
            elif docker("inspect", "--format", "{{.State.Running}}", name).stdout.strip() != "true":
                docker("start", name)

    def _create(self, identifier, instance):
        name = container_name(identifier)
        endpoint = (instance.get("Endpoint") or {}).get("Address", "")
        record = self.record(identifier)
        log(f"{identifier}: creating {name}, answering as {endpoint}")
        key, certificate = self._server_certificate(endpoint)
        docker(
            "create",
            "--name",
            name,
            "--hostname",
            name,
            "--label",
            LABEL,
            "--label",
            f"{ENDPOINT_LABEL}={endpoint}",
            IMAGE,
        )
        files = {
            f"{TLS}/ca.pem": self.ca.read_text(),
            f"{TLS}/server.pem": certificate,
            f"{TLS}/server.key": key,
            CONFIG: (
                "[mysqld]\nbind-address = 0.0.0.0\nskip-name-resolve\n"
                f"ssl_ca = {TLS}/ca.pem\nssl_cert = {TLS}/server.pem\nssl_key = {TLS}/server.key\n"
                "require_secure_transport = ON\n"
            ),
        }
        with tempfile.TemporaryDirectory() as work:
            for path, text in files.items():
                local = Path(work) / path.lstrip("/")
                local.parent.mkdir(parents=True, exist_ok=True)
                local.write_text(text)
            docker("cp", f"{work}/etc/.", f"{name}:/etc/")
        docker("start", name)
        # The server key is MariaDB's alone; the folder was copied in as root.
        docker("exec", name, "sh", "-c", f"chown -R mysql:mysql {TLS} && chmod 0600 {TLS}/server.key")
        self._wait_ready(name)
        statements = []
        if record.get("from"):
            dump = Path(record["from"]).with_suffix(".sql")
            docker("exec", "-i", name, "mariadb", input_text=dump.read_text())
            log(f"{identifier}: holds the data of {Path(record['from']).name}")
        elif record.get("database"):
            statements.append(f"CREATE DATABASE IF NOT EXISTS {_sql_name(record['database'])};")
        if record.get("username"):
            statements.append(self._user_sql(record))
        if statements:
            self._sql(identifier, "\n".join(statements))

    @staticmethod
    def _user_sql(record):
        # RDS's master user may do everything on the instance's databases, over TLS.
        user = f"{_sql_text(record['username'])}@'%'"
        password = _sql_text(record.get("password", ""))
        return (
            f"CREATE USER IF NOT EXISTS {user} IDENTIFIED BY {password} REQUIRE SSL;\n"
            f"ALTER USER {user} IDENTIFIED BY {password} REQUIRE SSL;\n"
            f"GRANT ALL ON *.* TO {user} WITH GRANT OPTION;"
        )

    def _sql(self, identifier, text):
        docker("exec", "-i", container_name(identifier), "mariadb", input_text=text)

    @staticmethod
    def _wait_ready(name, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if docker("exec", name, "mariadb-admin", "ping", "--silent", check=False).returncode == 0:
                return
            time.sleep(0.5)
        raise RuntimeError(
            f"{name}: MariaDB did not start within {timeout} s: {docker('logs', name, check=False).stderr[-500:]}"
        )

    def _dump(self, identifier, snapshot):
        """The instance's databases and master user, as they are now, under the snapshot's name."""
        record = self.record(identifier)
        which = ["--databases", record["database"]] if record.get("database") else ["--all-databases"]
        dumped = docker("exec", container_name(identifier), "mariadb-dump", "--single-transaction", *which)
        target = self.snapshots / snapshot
        target.with_suffix(".sql").write_text(dumped.stdout)
        saved = {k: v for k, v in record.items() if k != "from"}
        target.with_suffix(".json").write_text(json.dumps(saved))
        os.chmod(target.with_suffix(".json"), 0o600)
        log(f"{identifier}: snapshot {snapshot} holds its data as of now")
