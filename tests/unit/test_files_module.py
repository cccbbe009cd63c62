"""convex_selfhost.aws.files on a real file system, run the way Ansible runs it: check, real,
idempotent check, idempotent; then drift, a failed validation and a file another program writes."""

from __future__ import annotations

import grp
import os
import pwd
import stat

from module_runner import run_module

USER = pwd.getpwuid(os.getuid()).pw_name
GROUP = grp.getgrgid(os.getgid()).gr_name


def entries(folder, compose="services: {}\n"):
    return [
        {"path": str(folder / "project"), "state": "directory", "mode": "0750", "owner": USER, "group": GROUP},
        {
            "path": str(folder / "project" / "compose.yml"),
            "content": compose,
            "mode": "0600",
            "owner": USER,
            "group": GROUP,
            "validate": "grep -q services %s",
        },
        {"path": str(folder / "project" / "ca.pem"), "content": "CA\n", "mode": "0644", "owner": USER, "group": GROUP},
    ]


def run(files, check_mode=False, diff=False):
    return run_module("files", {"files": files}, check_mode=check_mode, diff=diff)


def test_check_real_then_second_run_changes_nothing(tmp_path):
    wanted = entries(tmp_path)
    paths = [entry["path"] for entry in wanted]
    checked = run(wanted, check_mode=True, diff=True)
    assert checked.changed and checked["changed_paths"] == paths, checked
    assert not (tmp_path / "project").exists(), "check mode wrote something"
    assert [d["after"] for d in checked["diff"]] == ["services: {}\n", "CA\n"]

    made = run(wanted)
    assert made["changed_paths"] == paths, made
    assert (tmp_path / "project" / "compose.yml").read_text() == "services: {}\n"
    assert stat.S_IMODE((tmp_path / "project" / "compose.yml").stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "project").stat().st_mode) == 0o750

    assert not run(wanted, check_mode=True).changed
    second_run = run(wanted)
    assert not second_run.changed and second_run["changed_paths"] == [], second_run
    assert sorted(os.listdir(tmp_path / "project")) == ["ca.pem", "compose.yml"], "a temporary file was left"


def test_drift_in_mode_and_content_is_put_back(tmp_path):
    wanted = entries(tmp_path)
    run(wanted)
    (tmp_path / "project" / "ca.pem").chmod(0o666)
    (tmp_path / "project" / "compose.yml").write_text("services: {changed: true}\n")
    repaired = run(wanted, diff=True)
    assert repaired["changed_paths"] == [wanted[1]["path"], wanted[2]["path"]], repaired
    assert [d["before"] for d in repaired["diff"]] == ["services: {changed: true}\n"]
    assert stat.S_IMODE((tmp_path / "project" / "ca.pem").stat().st_mode) == 0o644
    assert (tmp_path / "project" / "compose.yml").read_text() == "services: {}\n"


def test_content_that_fails_validation_never_replaces_the_live_file(tmp_path):
    run(entries(tmp_path))
    refused = run(entries(tmp_path, compose="nothing here\n"))
    assert refused.failed
    assert "compose.yml: the new content failed `grep -q services %s`" in refused["msg"], refused
    assert (tmp_path / "project" / "compose.yml").read_text() == "services: {}\n"
    assert sorted(os.listdir(tmp_path / "project")) == ["ca.pem", "compose.yml"], "a temporary file was left"


def test_a_file_another_program_writes_keeps_its_content(tmp_path):
    log = {"path": str(tmp_path / "access.log"), "replace": False, "mode": "0640", "owner": USER, "group": GROUP}
    assert run([log])["changed_paths"] == [log["path"]]
    (tmp_path / "access.log").write_text("a request\n")
    assert not run([log]).changed
    assert (tmp_path / "access.log").read_text() == "a request\n"


def test_bad_entries_are_refused_by_path(tmp_path):
    missing_folder = {"path": str(tmp_path / "nowhere" / "f"), "content": "x", "mode": "0644", "owner": USER}
    assert "its folder does not exist" in run([missing_folder])["msg"]
    not_octal = {"path": str(tmp_path / "f"), "content": "x", "mode": "rw-r--r--", "owner": USER, "group": GROUP}
    assert "is not octal" in run([not_octal])["msg"]
    no_user = {"path": str(tmp_path / "f"), "content": "x", "mode": "0644", "owner": "no-such-user-here"}
    assert "no such user or group" in run([no_user])["msg"]
    assert not (tmp_path / "f").exists()
    # In check mode a user that a package has yet to make is a change to come, not an error.
    assert run([no_user], check_mode=True)["changed_paths"] == [no_user["path"]]
