"""convex-data: snapshot exports, imports and the migration log of the Convex backend on this host.

Installed by the convex_selfhost.aws convex role as /usr/local/sbin/convex-data, with the host's
python3 as its interpreter. The backup, restore, copy and upgrade playbooks
and the daily export timer all run it; it needs only Python's standard library, and no admin key
is stored anywhere: each run mints one with the backend's own generate_admin_key.sh.

It speaks the backend's HTTP API on 127.0.0.1 the way `npx convex export --include-file-storage`
and `npx convex import --replace-all` do (get-convex/convex-backend:
npm-packages/convex/src/cli/lib/convexExport.ts and convexImport.ts; the routes in
crates/local_backend/src/snapshot_export.rs and snapshot_import.rs), polling over HTTP where the
CLI subscribes over a websocket.

  convex-data export [--include-file-storage]   prints {"zip_object_key", "size", "snapshot_ts"}
  convex-data import FILE --replace-all         prints {"num_rows_written"}
  convex-data migrations [--wait SECONDS]       prints {"complete", "ran", "failures"}

Every failure ends with one line on stderr that starts with "convex-data: FAILED" and exit 1.
"""

import argparse
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

API = "http://127.0.0.1:3210"
# Both Debian's docker.io and Docker's own packages install it here.
DOCKER = "/usr/bin/docker"
# The CLI's part size (convexImport.ts, DEFAULT_CHUNK_SIZE): S3 takes parts of 5 MiB and more.
CHUNK = 5 * 1024 * 1024


class Failed(Exception):
    pass


def installed_project():
    """The compose project's folder, which the role writes to /etc/default/convex-data."""
    try:
        with open("/etc/default/convex-data", encoding="utf-8") as settings:
            for line in settings:
                name, _equals, value = line.strip().partition("=")
                if name == "CONVEX_PROJECT" and value:
                    return value
    except FileNotFoundError:
        pass
    return "/opt/convex"


def compose(project, *args):
    done = subprocess.run(
        [DOCKER, "compose", "--project-directory", project, *args], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise Failed(f"docker compose {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout


def admin_key(project):
    # The key is the last line the script prints on stdout (its banner goes to stderr).
    lines = compose(project, "exec", "-T", "backend", "./generate_admin_key.sh").strip().splitlines()
    if not lines:
        raise Failed("generate_admin_key.sh printed no key")
    return lines[-1].strip()


def call(key, method, path, body=None, content_type="application/json"):
    request = urllib.request.Request(f"{API}{path}", method=method, data=body)  # noqa: S310 - a fixed local URL
    request.add_header("Authorization", f"Convex {key}")
    request.add_header("Content-Type", content_type)
    try:
        with urllib.request.urlopen(request, timeout=120) as answer:  # noqa: S310 - a fixed local URL
            data = answer.read()
    except urllib.error.HTTPError as error:
        text = error.read().decode(errors="replace")
        try:
            found = json.loads(text)
            raise Failed(f"{method} {path}: {error.code} {found.get('code')}: {found.get('message')}") from None
        except ValueError:
            raise Failed(f"{method} {path}: {error.code} {text[:200]}") from None
    except urllib.error.URLError as error:
        raise Failed(f"{method} {path}: the backend does not answer on {API}: {error.reason}") from None
    return json.loads(data) if data else None


def system_query(key, path, args):
    answer = call(key, "POST", "/api/query", json.dumps({"path": path, "args": args, "format": "json"}).encode())
    if answer.get("status") != "success":
        raise Failed(f"{path}: {answer.get('errorMessage', answer)}")
    return answer["value"]


# Touched by every successful export (the timer's, backup.yml's, an upgrade's): its age is the
# metrics role's HoursSinceExport, which the deployment's export alarm reads.
EXPORTED_STAMP = "/var/lib/convex-export/last-success"


def mark_exported():
    os.makedirs(os.path.dirname(EXPORTED_STAMP), exist_ok=True)
    with open(EXPORTED_STAMP, "a", encoding="ascii"):
        pass
    os.utime(EXPORTED_STAMP)


def export(options):
    key = admin_key(options.project)
    storage = "true" if options.include_file_storage else "false"
    try:
        call(key, "POST", f"/api/export/request/zip?includeStorage={storage}")
    except Failed as refused:
        # Like the CLI (convexExport.ts, startSnapshotExport): a running export is followed.
        if "ExportInProgress" not in str(refused):
            raise
    deadline = time.monotonic() + options.timeout
    while True:
        latest = system_query(key, "_system/cli/exports:getLatest", {})
        state = (latest or {}).get("state")
        if state == "completed":
            mark_exported()
            return {
                "zip_object_key": latest["zip_object_key"],
                "size": int(latest["size"]),
                "snapshot_ts": latest["start_ts"],
            }
        if state not in ("requested", "in_progress"):
            raise Failed(f"the export ended in state {state}")
        if time.monotonic() > deadline:
            raise Failed(f"the export is still {state} after {options.timeout} s; it goes on on the server")
        time.sleep(1)


def wait_for_import(key, import_id, wanted, deadline):
    while True:
        record = system_query(key, "_system/cli/queryImport", {"importId": import_id})
        state = record["state"]
        if state["state"] == "failed":
            raise Failed(f"the import failed: {state.get('error_message')}")
        if state["state"] in wanted:
            return state
        if time.monotonic() > deadline:
            raise Failed(f"the import is still {state['state']}; it goes on on the server")
        time.sleep(1)


def import_(options):
    if not options.replace_all:
        raise Failed("only --replace-all imports are supported: the data is replaced as a whole")
    key = admin_key(options.project)
    deadline = time.monotonic() + options.timeout
    token = call(key, "POST", "/api/import/start_upload")["uploadToken"]
    quoted = urllib.parse.quote(token, safe="")
    parts = []
    with open(options.file, "rb") as source:
        while True:
            chunk = source.read(CHUNK)
            if not chunk and parts:
                break
            number = len(parts) + 1
            path = f"/api/import/upload_part?uploadToken={quoted}&partNumber={number}"
            parts.append(call(key, "POST", path, chunk, "application/octet-stream"))
            if len(chunk) < CHUNK:
                break
    body = {"import": {"format": "zip", "mode": "replaceAll"}, "uploadToken": token, "partTokens": parts}
    import_id = call(key, "POST", "/api/import/finish_upload", json.dumps(body).encode())["importId"]
    state = wait_for_import(key, import_id, ("waiting_for_confirmation", "completed"), deadline)
    if state["state"] == "waiting_for_confirmation":
        print(state.get("message_to_confirm", ""), file=sys.stderr)
        call(key, "POST", "/api/perform_import", json.dumps({"importId": import_id}).encode())
        state = wait_for_import(key, import_id, ("completed",), deadline)
    return {"import_id": import_id, "num_rows_written": int(state["num_rows_written"])}


def migration_state(project):
    """What the running backend's log says of its migrations (crates/model/src/migrations.rs and
    crates/migrations_model/src/lib.rs): each "Executing Migration N/M" must be followed by
    "Migrated N", and the worker ends with "Migration complete"; a failed step logs "Migration
    worker failed" and is retried."""
    container = compose(project, "ps", "-q", "backend").strip()
    if not container:
        raise Failed("the backend container is not running")
    # Only this start's lines: a restarted container keeps the log of its earlier starts.
    inspected = subprocess.run(
        [DOCKER, "inspect", "--format", "{{.State.StartedAt}}", container],
        capture_output=True,
        text=True,
        check=False,
    )
    since = ["--since", inspected.stdout.strip()] if inspected.returncode == 0 and inspected.stdout.strip() else []
    logs = subprocess.run([DOCKER, "logs", *since, container], capture_output=True, text=True, check=False)
    lines = (logs.stdout + logs.stderr).splitlines()
    steps = [line for line in lines if "Executing Migration " in line]
    ran = [line.split("Executing Migration ", 1)[1].split("/", 1)[0] for line in steps]
    migrated = {line.rsplit("Migrated ", 1)[1].strip() for line in lines if "Migrated " in line and line not in steps}
    return {
        "complete": any("Migration complete" in line for line in lines) and set(ran) <= migrated,
        "ran": [int(n) for n in ran if n.isdigit()],
        "failures": [line for line in lines if "Migration worker failed" in line][-3:],
    }


def migrations(options):
    deadline = time.monotonic() + options.wait
    while True:
        state = migration_state(options.project)
        if state["complete"] or time.monotonic() > deadline:
            break
        time.sleep(1)
    if not state["complete"] and options.wait:
        raise Failed(
            f"the backend's migrations did not finish within {options.wait} s "
            f"(ran: {state['ran'] or 'none'}; failures: {state['failures'] or 'none'})"
        )
    return state


def main():
    parser = argparse.ArgumentParser(prog="convex-data", description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--project", default=installed_project(), help="the compose project's folder")
    parser.add_argument("--timeout", type=int, default=3600, help="seconds to wait for an export or import")
    commands = parser.add_subparsers(dest="command", required=True)
    exporting = commands.add_parser("export")
    exporting.add_argument("--include-file-storage", action="store_true")
    exporting.set_defaults(run=export)
    importing = commands.add_parser("import")
    importing.add_argument("file")
    importing.add_argument("--replace-all", action="store_true")
    importing.set_defaults(run=import_)
    migrating = commands.add_parser("migrations")
    migrating.add_argument("--wait", type=int, default=0, help="seconds to wait for the migrations to finish")
    migrating.set_defaults(run=migrations)
    options = parser.parse_args()
    try:
        print(json.dumps(options.run(options)))
    except (Failed, OSError) as problem:
        print(f"convex-data: FAILED to {options.command}: {problem}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
