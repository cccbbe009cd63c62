#!/usr/bin/python
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: files
short_description: Bring several folders and small files on a host to a given state in one step
version_added: 0.1.0
description:
  - Makes each entry of O(files), in order, a folder or a file with the given content, mode and
    owner. Content is rendered by the caller (for example with P(ansible.builtin.template#lookup)).
  - Does with one module run on the host what M(ansible.builtin.template) and
    M(ansible.builtin.file) do with two or more each. Over SSH every run is a round trip, so a
    role's files cost one instead of six.
  - A new content is first checked with O(files[].validate), in a private folder; only then is it
    written beside the live file and renamed over it, so a reader sees the old file or the new one.
  - Runs on the host with Python's standard library alone.
author:
  - Convex self-host maintainers (@convex-selfhost)
options:
  files:
    description:
      - The folders and files, made in the order given, so a folder comes before its files.
    type: list
    elements: dict
    required: true
    suboptions:
      path:
        description:
          - Absolute path. Its parent folder must exist (or come earlier in the list).
        type: path
        required: true
      state:
        description:
          - V(file) or V(directory).
        type: str
        choices: [file, directory]
        default: file
      content:
        description:
          - The file's whole content. Not used for a folder.
        type: str
        default: ""
      replace:
        description:
          - With V(false), a file that exists keeps its content, and only its mode and owner are
            set. For a file another program writes to, such as a log.
        type: bool
        default: true
      mode:
        description:
          - Octal permissions, such as V('0640').
        type: str
        required: true
      owner:
        description:
          - Owning user.
        type: str
        default: root
      group:
        description:
          - Owning group.
        type: str
        default: root
      validate:
        description:
          - A command that checks a new content before it replaces the live file; C(%s) is the
            path of the new content. Not run in check mode, where nothing is written.
        type: str
attributes:
  check_mode:
    support: full
    description: Reports every change a real run would make, without validating or writing.
  diff_mode:
    support: full
    description: Shows each changed file's content before and after.
"""

EXAMPLES = r"""
- name: The compose project's folder and files
  convex_selfhost.aws.files:
    files:
      - path: /opt/convex
        state: directory
        mode: "0750"
      - path: /opt/convex/docker-compose.yml
        content: "{{ lookup('ansible.builtin.template', 'docker-compose.yml.j2') }}"
        mode: "0600"
        validate: docker compose -f %s config --quiet
  register: project_files
"""

RETURN = r"""
changed_paths:
  description: The paths that were (or, in check mode, would be) made or changed, in order.
  returned: always
  type: list
  elements: str
  sample: [/opt/convex/docker-compose.yml]
"""

import grp
import os
import pwd
import shlex
import stat
import tempfile

from ansible.module_utils.basic import AnsibleModule


class Refused(Exception):
    """A file that cannot be brought to its state, with the reason."""


def wanted_ids(module, entry):
    try:
        return pwd.getpwnam(entry["owner"]).pw_uid, grp.getgrnam(entry["group"]).gr_gid
    except KeyError as missing:
        # In check mode the package that makes the user may not be installed yet: the entry is
        # then a change to come, not an error.
        if module.check_mode:
            return -1, -1
        raise Refused(f"{entry['path']}: no such user or group ({missing})") from None


def wanted_mode(entry):
    try:
        mode = int(entry["mode"], 8)
    except ValueError:
        raise Refused(f"{entry['path']}: mode {entry['mode']!r} is not octal, such as '0640'") from None
    if not 0 <= mode <= 0o7777:
        raise Refused(f"{entry['path']}: mode {entry['mode']!r} is out of range")
    return mode


def attributes_differ(found, mode, uid, gid):
    return stat.S_IMODE(found.st_mode) != mode or found.st_uid != uid or found.st_gid != gid


def current(path):
    try:
        return os.lstat(path)
    except FileNotFoundError:
        return None


def validate(module, command, candidate, path):
    if "%s" not in command:
        raise Refused(f"{path}: validate must contain %s, the new content's path")
    rc, out, err = module.run_command(command.replace("%s", shlex.quote(candidate)), use_unsafe_shell=True)
    if rc != 0:
        raise Refused(f"{path}: the new content failed `{command}` (exit {rc}): {(err or out).strip()}")


def validated(module, entry, data):
    """Run the entry's check on the new content, in a private folder under the same name: never
    beside the live file, where a program that reads every file of its folder (apt, for one)
    could read a content that has not passed yet."""
    with tempfile.TemporaryDirectory(prefix="convex-files-") as folder:
        candidate = os.path.join(folder, os.path.basename(entry["path"]))
        with open(candidate, "wb") as out:
            out.write(data)
        validate(module, entry["validate"], candidate, entry["path"])


def write(module, entry, data, mode, uid, gid):
    """The new content, once it has passed its check, beside the live file and renamed over it."""
    if entry["validate"]:
        validated(module, entry, data)
    folder = os.path.dirname(entry["path"])
    handle, candidate = tempfile.mkstemp(dir=folder, prefix=f".{os.path.basename(entry['path'])}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.chown(candidate, uid, gid)
        os.chmod(candidate, mode)
        os.replace(candidate, entry["path"])
    finally:
        if os.path.exists(candidate):
            os.unlink(candidate)


def make_folder(module, entry, found, mode, uid, gid):
    if found is not None and not stat.S_ISDIR(found.st_mode):
        raise Refused(f"{entry['path']}: exists and is not a folder")
    if found is not None and not attributes_differ(found, mode, uid, gid):
        return False
    if not module.check_mode:
        if found is None:
            os.mkdir(entry["path"], mode)
        os.chown(entry["path"], uid, gid)
        os.chmod(entry["path"], mode)
    return True


def make_file(module, entry, found, mode, uid, gid, diffs):
    path = entry["path"]
    if found is not None and not stat.S_ISREG(found.st_mode):
        raise Refused(f"{path}: exists and is not a regular file")
    if found is None and not module.check_mode and not os.path.isdir(os.path.dirname(path)):
        raise Refused(f"{path}: its folder does not exist")
    before = b""
    if found is not None:
        with open(path, "rb") as live:
            before = live.read()
    # replace: false keeps what another program wrote into an existing file.
    data = before if found is not None and not entry["replace"] else entry["content"].encode("utf-8")
    new_content = found is None or before != data
    if not new_content and not attributes_differ(found, mode, uid, gid):
        return False
    if new_content:
        diffs.append(
            {
                "before_header": path,
                "after_header": path,
                "before": before.decode("utf-8", "replace"),
                "after": entry["content"],
            }
        )
        if not module.check_mode:
            write(module, entry, data, mode, uid, gid)
    elif not module.check_mode:
        os.chown(path, uid, gid)
        os.chmod(path, mode)
    return True


def main():
    module = AnsibleModule(
        argument_spec={
            "files": {
                "type": "list",
                "elements": "dict",
                "required": True,
                "options": {
                    "path": {"type": "path", "required": True},
                    "state": {"type": "str", "choices": ["file", "directory"], "default": "file"},
                    "content": {"type": "str", "default": ""},
                    "replace": {"type": "bool", "default": True},
                    "mode": {"type": "str", "required": True},
                    "owner": {"type": "str", "default": "root"},
                    "group": {"type": "str", "default": "root"},
                    "validate": {"type": "str"},
                },
            }
        },
        supports_check_mode=True,
    )
    changed_paths, diffs = [], []
    try:
        for entry in module.params["files"]:
            if not os.path.isabs(entry["path"]):
                raise Refused(f"{entry['path']}: the path must be absolute")
            mode = wanted_mode(entry)
            uid, gid = wanted_ids(module, entry)
            found = current(entry["path"])
            if entry["state"] == "directory":
                made = make_folder(module, entry, found, mode, uid, gid)
            else:
                made = make_file(module, entry, found, mode, uid, gid, diffs)
            if made:
                changed_paths.append(entry["path"])
    except (Refused, OSError) as problem:
        module.fail_json(msg=str(problem), changed=bool(changed_paths), changed_paths=changed_paths)
    result = {"changed": bool(changed_paths), "changed_paths": changed_paths}
    if module._diff:
        result["diff"] = diffs
    module.exit_json(**result)


if __name__ == "__main__":
    main()
