#!/usr/bin/python
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: release_info
short_description: Check that a Convex release's images are published, before anything changes
version_added: 0.1.0
description:
  - Asks the image registry, through its HTTP API, whether the backend and dashboard images
    exist for O(version), the way a pull on the host would begin. ghcr.io gets an anonymous
    pull token first, as it asks for one even for public images.
  - Fails when either image is missing, saying that upstream publishes images only for commits
    of its C(release) branch, so that a wrong pin costs seconds instead of a provisioning run.
  - Also reports whether this collection was checked against the release, and the C(convex)
    npm CLI version that matches it.
  - Reads only. It runs where it is called, normally the controller, and needs no AWS access.
author:
  - Convex self-host maintainers (@convex-selfhost)
options:
  version:
    description:
      - The image tag both images must have, a commit of upstream's C(release) branch.
    type: str
    required: true
  registry:
    description:
      - Registry and path the images live under, without a scheme, such as C(ghcr.io/get-convex).
    type: str
    default: ghcr.io/get-convex
  images:
    description:
      - Image names under O(registry) that must all exist at O(version).
    type: list
    elements: str
    default: [convex-backend, convex-dashboard]
  insecure:
    description:
      - Talk plain HTTP to the registry, as Docker does for a registry in its C(insecure-registries).
        For test registries only.
    type: bool
    default: false
  timeout:
    description:
      - Seconds to wait for each answer of the registry.
    type: int
    default: 10
attributes:
  check_mode:
    support: full
    description: It only reads, so check mode runs it as usual.
  diff_mode:
    support: none
    description: Nothing changes, so there is nothing to show.
"""

EXAMPLES = r"""
- name: Stop in seconds when the pinned release has no images
  convex_selfhost.aws.release_info:
    version: 652b828b5129e6cdbcaa3c20efa8d116d09ff3bf
  register: convex_release

- name: The CLI version to deploy with
  ansible.builtin.debug:
    msg: "npx convex@{{ convex_release.cli_version }} deploy"
  when: convex_release.cli_version | length > 0
"""

RETURN = r"""
images:
  description: Each image's full reference and the digest the registry gave for it.
  returned: always
  type: dict
  sample:
    convex-backend:
      reference: ghcr.io/get-convex/convex-backend:652b828b5129e6cdbcaa3c20efa8d116d09ff3bf
      digest: sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
checked:
  description: Whether this collection was checked against this release.
  returned: always
  type: bool
cli_version:
  description: The C(convex) npm CLI version of this release; empty when the collection does not know it.
  returned: always
  type: str
  sample: 1.45.0
pinned:
  description: The release this collection pins by default.
  returned: always
  type: str
"""

import re

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.convex_selfhost.aws.plugins.module_utils.convex_releases import check_release, release_facts
from ansible_collections.convex_selfhost.aws.plugins.module_utils.registry import image_reference, split_registry

_TAG = r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$"


def input_problems(params):
    problems = []
    if not re.match(_TAG, params["version"]) or params["version"] == "latest":
        problems.append(f"version '{params['version']}' is not a pinned image tag (never 'latest')")
    host, _path = split_registry(params["registry"])
    if "://" in params["registry"] or not host:
        problems.append(
            f"registry '{params['registry']}' must be a host and path without a scheme, such as ghcr.io/get-convex"
        )
    if not params["images"]:
        problems.append("images must name at least one image")
    if params["timeout"] < 1:
        problems.append(f"timeout {params['timeout']} must be at least 1 second")
    return problems


def main():
    module = AnsibleModule(
        argument_spec={
            "version": {"type": "str", "required": True},
            "registry": {"type": "str", "default": "ghcr.io/get-convex"},
            "images": {"type": "list", "elements": "str", "default": ["convex-backend", "convex-dashboard"]},
            "insecure": {"type": "bool", "default": False},
            "timeout": {"type": "int", "default": 10},
        },
        supports_check_mode=True,
    )
    params = module.params
    problems = input_problems(params)
    if problems:
        module.fail_json(msg="; ".join(problems))

    found, problem = check_release(
        params["registry"], params["version"], params["images"], params["insecure"], params["timeout"]
    )
    if problem:
        missing = [
            image_reference(params["registry"], n, params["version"]) for n in params["images"] if n not in found
        ]
        module.fail_json(msg=problem, missing=missing, unreachable_registry=problem.startswith("Could not check"))
    module.exit_json(changed=False, **release_facts(params["version"], found))


if __name__ == "__main__":
    main()
