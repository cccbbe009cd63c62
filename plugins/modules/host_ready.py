#!/usr/bin/python
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: host_ready
short_description: Wait until a host has booted, and report its distribution and architecture
version_added: 0.1.0
description:
  - Waits until systemd has finished starting the host, as C(systemctl is-system-running --wait)
    does. A host that answers may still be booting (cloud-init on EC2, a container just started),
    and the roles start services.
  - Then reports, as facts, what the roles read of the host - its distribution, release, version
    and architecture - with the names and values M(ansible.builtin.setup) gives them on Debian and
    Ubuntu.
  - Does with one module run what a boot wait and a fact gathering do with two. Over SSH every run
    is a round trip, and a run that changes nothing pays for each.
  - Runs on the host with Python's standard library alone.
author:
  - Convex self-host maintainers (@convex-selfhost)
options:
  timeout:
    description:
      - Seconds to wait for the end of the boot.
    type: int
    default: 600
notes:
  - A boot that ends V(degraded) (a unit failed) counts as booted, as the roles then repair what
    they own; any other state fails the task and names it.
attributes:
  check_mode:
    support: full
    description: Changes nothing in either mode; waits and reads the same.
  diff_mode:
    support: none
    description: There is nothing to show a difference of.
"""

EXAMPLES = r"""
- name: Wait until the host has booted, and read what the roles need of it
  convex_selfhost.aws.host_ready:
"""

RETURN = r"""
system_state:
  description: What C(systemctl is-system-running) said once the boot ended.
  returned: success
  type: str
  sample: running
ansible_facts:
  description: The facts, under the names M(ansible.builtin.setup) uses.
  returned: success
  type: dict
  contains:
    distribution:
      description: V(Debian), V(Ubuntu), or the os-release C(NAME)'s first word elsewhere.
      type: str
    distribution_release:
      description: The release's code name, such as V(trixie) or V(noble).
      type: str
    distribution_version:
      description: The version; on Debian the point release of C(/etc/debian_version), such as V(13.2).
      type: str
    distribution_major_version:
      description: The version's first number.
      type: str
    architecture:
      description: The machine's architecture, such as V(x86_64) or V(aarch64).
      type: str
"""

import platform
import shlex

from ansible.module_utils.basic import AnsibleModule

OS_RELEASE_FILES = ("/etc/os-release", "/usr/lib/os-release")
# setup's names for the distributions the roles support; os-release's ID is lower case.
NAMES = {"debian": "Debian", "ubuntu": "Ubuntu"}
BOOTED = ("running", "degraded")


def os_release(text):
    """os-release's KEY=value lines, values unquoted as a shell would (the file's own format)."""
    fields = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip() and not key.startswith("#"):
            words = shlex.split(value, comments=False)
            fields[key.strip()] = words[0] if words else ""
    return fields


def facts(fields, debian_version=""):
    """setup's distribution facts from os-release's fields. On Debian, setup's version is that of
    /etc/debian_version when it holds a number (a point release), else os-release's VERSION_ID."""
    ident = fields.get("ID", "").lower()
    distribution = NAMES.get(ident) or (fields.get("NAME", "").split() or [ident.capitalize()])[0]
    version = fields.get("VERSION_ID", "")
    if ident == "debian" and debian_version[:1].isdigit():
        version = debian_version.strip()
    return {
        "distribution": distribution,
        "distribution_release": fields.get("VERSION_CODENAME") or fields.get("UBUNTU_CODENAME", ""),
        "distribution_version": version,
        "distribution_major_version": version.split(".")[0],
    }


def read_first(paths):
    for path in paths:
        try:
            with open(path, encoding="utf-8") as handle:
                return handle.read()
        except OSError:
            continue
    return ""


def main():
    module = AnsibleModule(argument_spec={"timeout": {"type": "int", "default": 600}}, supports_check_mode=True)
    systemctl = module.get_bin_path("systemctl", required=True)
    timeout = module.get_bin_path("timeout", required=True)
    wait = [timeout, str(module.params["timeout"]), systemctl, "is-system-running", "--wait"]
    rc, out, err = module.run_command(wait)
    state = out.strip().splitlines()[-1] if out.strip() else ""
    if state not in BOOTED:
        module.fail_json(
            msg=f"the host has not finished booting: systemd says '{state or err.strip() or rc}' "
            f"after {module.params['timeout']} s (see systemctl --failed and journalctl -b)",
            system_state=state,
        )
    found = facts(os_release(read_first(OS_RELEASE_FILES)), read_first(["/etc/debian_version"]))
    found["architecture"] = platform.machine()
    module.exit_json(changed=False, system_state=state, ansible_facts=found)


if __name__ == "__main__":
    main()
