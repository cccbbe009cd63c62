"""TEST STAND-IN: the Convex backend's data contract. Never for real use.

Documents, snapshot exports, snapshot imports and database migrations, as the collection's
backup, restore and upgrade playbooks use them. The documents live in the deployment's own
database (MySQL, or SQLite without MYSQL_URL), so a round trip through an export proves
something. Each behaviour names the upstream file it follows, in get-convex/convex-backend at the
pinned release 652b828b5129 ("upstream:" below). Every user function is out of scope: only the
system functions the CLI and the dashboard call over HTTP are here.
"""

import io
import json
import secrets
import threading
import time
import uuid
import zipfile
from pathlib import Path

# upstream: crates/model/src/exports/mod.rs (DEFAULT_EXPORT_RETENTION, 14 days).
EXPORT_RETENTION_NS = 14 * 24 * 3600 * 10**9
# upstream: crates/exports/src/lib.rs (README_MD_CONTENTS opens the zip).
README = "# Welcome to your Convex snapshot export!\n\nThis zip holds <table_name>/documents.jsonl files.\n"
# upstream: crates/value/src/id_v6.rs encodes ids in lowercase Crockford base32.
ID_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"


class HttpError(Exception):
    """upstream: crates/common/src/http/mod.rs (HttpError: a status and {"code", "message"})."""

    def __init__(self, status, code, message):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def now_ns():
    return time.time_ns()


def new_id():
    return "".join(secrets.choice(ID_ALPHABET) for _position in range(32))


class Data:
    """The deployment's documents and its _exports and _snapshot_imports system tables, in the
    store (the stand-in's Store: MySQL or SQLite)."""

    def __init__(self, store, storage, log):
        self.store, self.storage, self.log = store, storage, log
        store.execute(
            "CREATE TABLE IF NOT EXISTS standin_documents (tbl VARCHAR(255) NOT NULL, id VARCHAR(64) NOT NULL, "
            "creation_time DOUBLE NOT NULL, body LONGTEXT NOT NULL, PRIMARY KEY (tbl, id))"
        )
        store.execute(
            "CREATE TABLE IF NOT EXISTS standin_system (tbl VARCHAR(64) NOT NULL, id VARCHAR(64) NOT NULL, "
            "created BIGINT NOT NULL, body LONGTEXT NOT NULL, PRIMARY KEY (tbl, id))"
        )
        self.export_lock = threading.Lock()

    # --- user tables (upstream: npm-packages/system-udfs/convex/_system/frontend/*.ts) ---

    def add(self, table, documents):
        for body in documents:
            created = time.time() * 1000
            self.store.execute(
                "INSERT INTO standin_documents (tbl, id, creation_time, body) VALUES (%s, %s, %s, %s)",
                (table, new_id(), created, json.dumps(body, sort_keys=True)),
            )
            time.sleep(0.001)  # creation times are distinct, as the real ones are

    def delete(self, refs):
        for ref in refs:
            self.store.execute(
                "DELETE FROM standin_documents WHERE tbl = %s AND id = %s", (ref["tableName"], ref["id"])
            )

    def patch(self, table, fields, ids):
        for document in self.scan(table):
            if ids is None or document["_id"] in ids:
                body = {k: v for k, v in document.items() if not k.startswith("_")}
                body.update(fields)
                self.store.execute(
                    "UPDATE standin_documents SET body = %s WHERE tbl = %s AND id = %s",
                    (json.dumps(body, sort_keys=True), table, document["_id"]),
                )

    def scan(self, table, limit=None):
        rows = self.store.execute(
            "SELECT id, creation_time, body FROM standin_documents WHERE tbl = %s ORDER BY creation_time", (table,)
        )
        documents = [{"_id": i, "_creationTime": float(t), **json.loads(b)} for i, t, b in rows]
        return documents[:limit] if limit else documents

    def tables(self):
        return [row[0] for row in self.store.execute("SELECT DISTINCT tbl FROM standin_documents ORDER BY tbl")]

    # --- system tables ---

    def system_put(self, table, doc_id, body):
        if self.store.execute("SELECT id FROM standin_system WHERE tbl = %s AND id = %s", (table, doc_id)):
            self.store.execute(
                "UPDATE standin_system SET body = %s WHERE tbl = %s AND id = %s", (json.dumps(body), table, doc_id)
            )
        else:
            self.store.execute(
                "INSERT INTO standin_system (tbl, id, created, body) VALUES (%s, %s, %s, %s)",
                (table, doc_id, now_ns(), json.dumps(body)),
            )

    def system_get(self, table, doc_id):
        rows = self.store.execute("SELECT body FROM standin_system WHERE tbl = %s AND id = %s", (table, doc_id))
        return json.loads(rows[0][0]) if rows else None

    def system_latest(self, table, count=1):
        rows = self.store.execute(
            "SELECT body FROM standin_system WHERE tbl = %s ORDER BY created DESC LIMIT %s", (table, count)
        )
        return [json.loads(row[0]) for row in rows]

    # --- exports (upstream: crates/application/src/exports/worker.rs, crates/exports/src/lib.rs) ---

    def request_export(self, include_storage):
        """upstream: crates/application/src/lib.rs (request_export): one export at a time."""
        with self.export_lock:
            latest = self.system_latest("_exports")
            if latest and latest[0]["state"] in ("requested", "in_progress"):
                raise HttpError(400, "ExportInProgress", "There is already an export requested or in progress.")
            export = {
                "_id": new_id(),
                "_creationTime": time.time() * 1000,
                "state": "requested",
                "format": {"format": "zip", "include_storage": include_storage},
                "component": None,
                "requestor": "snapshotExport",
                "expiration_ts": str(now_ns() + EXPORT_RETENTION_NS),
            }
            self.system_put("_exports", export["_id"], export)
        self.log("Export requested.")
        threading.Thread(target=self.run_export, args=(export,), daemon=True).start()

    def run_export(self, export):
        start = now_ns()
        export.update(state="in_progress", start_ts=str(start), progress_message="Beginning backup")
        self.system_put("_exports", export["_id"], export)
        data = self.snapshot_zip(export["format"]["include_storage"])
        key = str(uuid.uuid4())
        self.storage.put("exports", key, data)
        export.pop("progress_message")
        export.update(state="completed", complete_ts=str(now_ns()), zip_object_key=key, size=str(len(data)))
        self.system_put("_exports", export["_id"], export)
        self.log(f"Export {export['_id']} completed")

    def snapshot_zip(self, include_storage):
        """upstream: crates/exports/src/lib.rs (construct_zip_snapshot): README.md, _tables, then per
        table documents.jsonl and generated_schema.jsonl; _storage with includeStorage."""
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("README.md", README)
            tables = self.tables()
            archive.writestr(
                "_tables/documents.jsonl",
                "".join(json.dumps({"name": t, "id": 10001 + n}) + "\n" for n, t in enumerate(tables)),
            )
            for table in tables:
                lines = "".join(json.dumps(d, sort_keys=True) + "\n" for d in self.scan(table))
                archive.writestr(f"{table}/documents.jsonl", lines)
                archive.writestr(f"{table}/generated_schema.jsonl", '"uniform"\n')
            if include_storage:
                # The stand-in keeps no stored files: an empty _storage table.
                archive.writestr("_storage/documents.jsonl", "")
        return out.getvalue()

    def export_zip(self, snapshot):
        """upstream: crates/local_backend/src/snapshot_export.rs (get_zip_export): by start_ts."""
        for export in self.system_latest("_exports", 1000):
            if snapshot in (export.get("start_ts"), export["_id"]):
                if export["state"] != "completed":
                    raise HttpError(400, "ExportNotComplete", f"The requested export {snapshot} has not completed")
                return export, self.storage.get("exports", export["zip_object_key"])
        if not snapshot.isdigit() and len(snapshot) != 32:
            raise HttpError(400, "BadSnapshotId", "Snapshot Id did not parse to an ID.")
        raise HttpError(404, "ExportNotFound", f"The requested export {snapshot} was not found")

    # --- imports (upstream: crates/application/src/snapshot_import/, crates/model/src/snapshot_imports/) ---

    def finish_upload(self, spec, token, parts):
        """upstream: crates/local_backend/src/snapshot_import.rs (import_finish_upload)."""
        if spec.get("format") != "zip":
            raise HttpError(400, "InvalidImportFormat", "The stand-in imports zip files only")
        if spec.get("tableName"):
            raise HttpError(400, "InvalidName", "ZIP import cannot have table name")
        mode = spec.get("mode", "requireEmpty")
        modes = {"append": "Append", "replace": "Replace", "replaceAll": "ReplaceAll", "requireEmpty": "RequireEmpty"}
        if mode not in modes:
            raise HttpError(400, "InvalidImportMode", f"unknown import mode {mode}")
        key = self.storage.finish_upload("snapshot_imports", token, parts)
        record = {
            "_id": new_id(),
            "_creationTime": time.time() * 1000,
            "state": {"state": "uploaded"},
            "format": {"format": "zip"},
            "mode": modes[mode],
            "component_path": "",
            "object_key": key,
            "checkpoints": None,
            "requestor": {"type": "snapshotImport"},
        }
        self.system_put("_snapshot_imports", record["_id"], record)
        threading.Thread(target=self.parse_import, args=(record,), daemon=True).start()
        return record["_id"]

    def parse_import(self, record):
        """upstream: crates/application/src/snapshot_import/parse.rs and confirmation.rs."""
        try:
            tables = read_zip(self.storage.get("snapshot_imports", record["object_key"]))
        except (zipfile.BadZipFile, ValueError, KeyError) as error:
            record["state"] = {"state": "failed", "error_message": f"Could not read the import: {error}"}
            self.system_put("_snapshot_imports", record["_id"], record)
            return
        existing = {t: len(self.scan(t)) for t in self.tables()}
        replace_all = record["mode"] == "ReplaceAll"
        deleted = {t: n for t, n in existing.items() if n and (replace_all or t in tables)}
        if record["mode"] == "RequireEmpty" and any(existing.get(t) for t in tables):
            record["state"] = {"state": "failed", "error_message": "Tables are not empty; use --replace or --append"}
            self.system_put("_snapshot_imports", record["_id"], record)
            return
        lines = [
            f"{t} | {len(docs)} | {deleted.get(t, 0)} of {existing.get(t, 0)} documents |" for t, docs in tables.items()
        ]
        lines += [f"{t} | 0 | {n} of {n} documents |" for t, n in deleted.items() if t not in tables]
        record["state"] = {
            "state": "waiting_for_confirmation",
            "message_to_confirm": "Import change summary:\ntable | create | delete |\n"
            + "\n".join(lines)
            + "\nOnce the import has started, it will run in the background.\n"
            "Interrupting `npx convex import` will not cancel it.",
            "require_manual_confirmation": bool(deleted),
        }
        record["tables"] = tables
        self.system_put("_snapshot_imports", record["_id"], record)

    def perform_import(self, import_id):
        """upstream: crates/model/src/snapshot_imports/mod.rs (confirm_import: a no-op unless the
        import waits for confirmation), then import_objects/finalize_import."""
        record = self.system_get("_snapshot_imports", import_id)
        if record is None:
            raise HttpError(400, "InvalidImport", f"invalid import id {import_id}")
        if record["state"]["state"] != "waiting_for_confirmation":
            return
        record["state"] = {"state": "in_progress", "progress_message": "Importing", "checkpoint_messages": []}
        self.system_put("_snapshot_imports", import_id, record)
        tables = record.pop("tables")
        written = 0
        for table in self.tables():
            if record["mode"] == "ReplaceAll" or (record["mode"] == "Replace" and table in tables):
                self.store.execute("DELETE FROM standin_documents WHERE tbl = %s", (table,))
        for table, documents in tables.items():
            for document in documents:
                body = {k: v for k, v in document.items() if k not in ("_id", "_creationTime")}
                self.store.execute(
                    "INSERT INTO standin_documents (tbl, id, creation_time, body) VALUES (%s, %s, %s, %s)",
                    (
                        table,
                        document.get("_id") or new_id(),
                        document.get("_creationTime") or time.time() * 1000,
                        json.dumps(body, sort_keys=True),
                    ),
                )
                written += 1
        record["state"] = {"state": "completed", "timestamp": str(now_ns()), "num_rows_written": str(written)}
        self.system_put("_snapshot_imports", import_id, record)
        self.log(f"Import {import_id} completed: {written} documents")

    def public_import(self, import_id):
        record = self.system_get("_snapshot_imports", import_id)
        if record is not None:
            record.pop("tables", None)
        return record


def read_zip(data):
    """The tables of a snapshot zip. upstream: crates/application/src/snapshot_import/parse.rs
    (DOCUMENTS_PATTERN: <table>/documents.jsonl; other entries, such as README.md, are skipped;
    _tables and _storage are system tables)."""
    tables = {}
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for name in archive.namelist():
            parts = name.split("/")
            if len(parts) == 2 and parts[1] == "documents.jsonl" and not parts[0].startswith("_"):
                text = archive.read(name).decode()
                tables[parts[0]] = [json.loads(line) for line in text.splitlines() if line.strip()]
    return tables


class Storage:
    """Exports and imports where the backend keeps them. upstream: crates/aws_s3/src/storage.rs
    (S3: S3_STORAGE_<USE>_BUCKET, key = the storage prefix + a uuid, no .zip suffix) and
    crates/storage/src/lib.rs (local: <data>/storage/<use>/<uuid>.blob)."""

    def __init__(self, env, prefix, client=None):
        self.env, self.prefix, self.client = env, prefix, client
        self.local = Path(env.get("DATA_DIR", "/convex/data")) / "storage"

    def bucket(self, use):
        return self.env[f"S3_STORAGE_{use.upper()}_BUCKET"]

    def sse(self):
        # upstream: crates/aws_s3/src/storage.rs (AWS_S3_DISABLE_SSE)
        return {} if self.env.get("AWS_S3_DISABLE_SSE", "").lower() == "true" else {"ServerSideEncryption": "AES256"}

    def put(self, use, key, data):
        if self.client is None:
            path = self.local / use / f"{key}.blob"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            return
        self.client.put_object(Bucket=self.bucket(use), Key=self.prefix + key, Body=data, **self.sse())

    def get(self, use, key):
        if self.client is None:
            return (self.local / use / f"{key}.blob").read_bytes()
        return self.client.get_object(Bucket=self.bucket(use), Key=self.prefix + key)["Body"].read()

    def start_upload(self, use):
        key = str(uuid.uuid4())
        if self.client is None:
            (self.local / use).mkdir(parents=True, exist_ok=True)
            return json.dumps({"objectKey": key, "filepath": str(self.local / use / f"{key}.blob")})
        started = self.client.create_multipart_upload(Bucket=self.bucket(use), Key=self.prefix + key, **self.sse())
        return json.dumps({"objectKey": key, "uploadId": started["UploadId"]})

    def upload_part(self, use, token, number, data):
        upload = json.loads(token)
        if self.client is None:
            Path(f"{upload['filepath']}.{number}").write_bytes(data)
            return json.dumps({"part": number})
        answer = self.client.upload_part(
            Bucket=self.bucket(use),
            Key=self.prefix + upload["objectKey"],
            UploadId=upload["uploadId"],
            PartNumber=number,
            Body=data,
        )
        return json.dumps({"part": number, "etag": answer["ETag"]})

    def finish_upload(self, use, token, parts):
        upload = json.loads(token)
        numbers = [json.loads(p) for p in parts]
        if self.client is None:
            whole = b"".join(Path(f"{upload['filepath']}.{n['part']}").read_bytes() for n in numbers)
            Path(upload["filepath"]).write_bytes(whole)
            return upload["objectKey"]
        self.client.complete_multipart_upload(
            Bucket=self.bucket(use),
            Key=self.prefix + upload["objectKey"],
            UploadId=upload["uploadId"],
            MultipartUpload={"Parts": [{"PartNumber": n["part"], "ETag": n["etag"]} for n in numbers]},
        )
        return upload["objectKey"]


def migrate(store, target, seconds, fails, log, warn):
    """The migration worker. upstream: crates/model/src/migrations.rs (MigrationWorker) and
    crates/migrations_model/src/lib.rs (the WARN line naming the line to wait for). A new database
    starts at the binary's version and logs no step; an older binary on a newer database only warns.
    It runs in the background: /version answers before it ends."""
    persisted = store.get_global("database_version")
    if persisted is None:
        store.set_global("database_version", str(target))
        persisted = target
    persisted = int(persisted)
    log("Attempting migration")
    if persisted > target:
        warn(f"persisted db metadata version is ahead at {persisted}, this binary is at {target}")
    elif persisted == target:
        log(f"db metadata version up to date at {target}")
    while persisted < target:
        step = persisted + 1
        log(f"Migrating to {step}")
        warn(f"Executing Migration {step}/{target}. Wait for log line 'Migrated {step}'")
        time.sleep(seconds)
        if fails:
            # Not upstream's data, upstream's behaviour: a failing migration is retried with a
            # back-off, and the version is never committed.
            while True:
                log("ERROR Migration worker failed, sleeping 60s")
                time.sleep(60)
        store.set_global("database_version", str(step))
        persisted = step
        log(f"Migrated {step}")
    log("Migration complete")
