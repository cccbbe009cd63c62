"""The TEST STAND-IN's data contract, on SQLite and local storage: the export zip's layout, one
export at a time, replace-all imports, and the migration worker's log lines. Each case names the
upstream file (get-convex/convex-backend at the pinned release) it follows."""

import importlib.machinery
import importlib.util
import io
import json
import time
import zipfile
from pathlib import Path

import pytest

BIN = Path(__file__).resolve().parents[2] / "local" / "convex-standin" / "rootfs" / "usr" / "local" / "bin"
loader = importlib.machinery.SourceFileLoader("convex_standin_for_data", str(BIN / "convex-standin"))
spec = importlib.util.spec_from_loader("convex_standin_for_data", loader)
standin = importlib.util.module_from_spec(spec)
loader.exec_module(standin)
data_module = standin.standin_data


class Quiet:
    def __init__(self):
        self.lines = []

    def __call__(self, message):
        self.lines.append(message)


@pytest.fixture
def data(tmp_path):
    env = {"DATA_DIR": str(tmp_path), "SQLITE_DB": str(tmp_path / "db.sqlite3")}
    store = standin.Store(env)
    return data_module.Data(store, data_module.Storage(env, ""), Quiet())


def finished_export(data):
    data.request_export(include_storage=True)
    for _attempt in range(200):
        latest = data.system_latest("_exports")[0]
        if latest["state"] == "completed":
            return latest
        time.sleep(0.01)
    raise AssertionError(latest)


def test_an_export_zip_has_upstreams_layout(data):
    data.add("messages", [{"body": "hi"}, {"body": "yo"}])
    export = finished_export(data)
    # crates/model/src/exports/types.rs: the completed state's fields, int64 as strings in JSON.
    assert {"start_ts", "complete_ts", "expiration_ts", "zip_object_key", "size"} <= set(export)
    _export, blob = data.export_zip(export["start_ts"])
    assert int(export["size"]) == len(blob)
    with zipfile.ZipFile(io.BytesIO(blob)) as archive:
        names = archive.namelist()
        # crates/exports/src/lib.rs: README.md, _tables, then each table's two files, then _storage.
        assert names == [
            "README.md",
            "_tables/documents.jsonl",
            "messages/documents.jsonl",
            "messages/generated_schema.jsonl",
            "_storage/documents.jsonl",
        ]
        lines = [json.loads(line) for line in archive.read("messages/documents.jsonl").decode().splitlines()]
    assert [d["body"] for d in lines] == ["hi", "yo"]
    assert all(set(d) == {"_id", "_creationTime", "body"} for d in lines)


def test_one_export_at_a_time(data):
    # crates/application/src/lib.rs (request_export): ExportInProgress while one is requested.
    data.system_put("_exports", "x", {"_id": "x", "state": "in_progress"})
    with pytest.raises(data_module.HttpError) as refused:
        data.request_export(include_storage=False)
    assert (refused.value.status, refused.value.code) == (400, "ExportInProgress")


def test_replace_all_import_puts_back_the_exported_documents_and_empties_other_tables(data):
    data.add("messages", [{"body": "kept"}])
    export = finished_export(data)
    before = data.scan("messages")
    data.patch("messages", {"body": "changed"}, None)
    data.add("later", [{"n": 1}])
    _export, blob = data.export_zip(export["start_ts"])
    token = data.storage.start_upload("snapshot_imports")
    part = data.storage.upload_part("snapshot_imports", token, 1, blob)
    import_id = data.finish_upload({"format": "zip", "mode": "replaceAll"}, token, [part])
    state = data.public_import(import_id)["state"]
    # crates/model/src/snapshot_imports/types.rs: uploaded, then waiting_for_confirmation, which
    # needs a manual confirmation when rows would be deleted.
    assert state["state"] in ("uploaded", "waiting_for_confirmation")
    # The stand-in parses the upload in the background: wait for it by the clock, not by a count
    # of polls (a busy machine ran out of 200 quick polls).
    deadline = time.monotonic() + 10
    while state["state"] == "uploaded" and time.monotonic() < deadline:
        time.sleep(0.01)
        state = data.public_import(import_id)["state"]
    assert state["state"] == "waiting_for_confirmation" and state["require_manual_confirmation"] is True
    data.perform_import(import_id)
    assert data.public_import(import_id)["state"] == {
        "state": "completed",
        "timestamp": data.public_import(import_id)["state"]["timestamp"],
        "num_rows_written": "1",
    }
    assert data.scan("messages") == before
    assert data.scan("later") == []


def test_a_zip_import_with_a_table_name_is_refused(data):
    # crates/local_backend/src/snapshot_import.rs: "ZIP import cannot have table name".
    with pytest.raises(data_module.HttpError, match="cannot have table name"):
        data.finish_upload({"format": "zip", "mode": "replaceAll", "tableName": "t"}, "{}", [])


def test_migrations_log_upstreams_lines_and_only_go_forward(data):
    log, warn = Quiet(), Quiet()
    store = data.store
    # crates/model/src/lib.rs: a new database starts at the binary's version, with no step.
    data_module.migrate(store, 1, 0, False, log, warn)
    assert log.lines == ["Attempting migration", "db metadata version up to date at 1", "Migration complete"]
    # crates/model/src/migrations.rs and crates/migrations_model/src/lib.rs: each step.
    log.lines.clear()
    data_module.migrate(store, 2, 0, False, log, warn)
    assert log.lines == ["Attempting migration", "Migrating to 2", "Migrated 2", "Migration complete"]
    assert warn.lines == ["Executing Migration 2/2. Wait for log line 'Migrated 2'"]
    # An older binary on the migrated database only warns.
    log.lines.clear()
    warn.lines.clear()
    data_module.migrate(store, 1, 0, False, log, warn)
    assert warn.lines == ["persisted db metadata version is ahead at 2, this binary is at 1"]
    assert log.lines[-1] == "Migration complete"
