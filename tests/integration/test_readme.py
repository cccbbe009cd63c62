"""README.md stays true: every shell command in it is run or checked here, its settings table
matches the dev inventory, its links resolve, and the generated role reference is current.

Commands that need a deployed stage (the "on the host" blocks, and the instance lookup) run in
the e2e suite, on the local stage (tests/e2e/test_local_stage.py). Every other command must
match one of the rules below; a command no rule knows fails the test, so a new README command
cannot go unchecked.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from readme_commands import needs_a_stage, readme_commands

REPO = Path(__file__).resolve().parents[2]
README = (REPO / "README.md").read_text()
CONTROLLER = [c for c in readme_commands() if not needs_a_stage(c)]

# Environment variables the README tells readers to export, and who reads them.
KNOWN_ENVIRONMENT = {
    "AWS_PROFILE": "boto3, hence this collection's modules and amazon.aws",
    "AWS_ENDPOINT_URL": "botocore, for every service client",
    "NODE_EXTRA_CA_CERTS": "Node, hence npx convex, for the local stage's CA",
}
# Convex CLI commands cannot run here (no npm registry); their subcommands and flags are checked
# against the CLI reference (docs.convex.dev/cli), read 2026-11-24.
CONVEX_CLI = {
    "deploy": set(),
    "export": {"--include-file-storage", "--path"},
    "import": {"--replace-all"},
}


def run(command, env=None, timeout=300):
    """Run one command as the README's reader does: from the checkout, with .venv activated."""
    env = dict(env or os.environ)
    env["PATH"] = f"{REPO / '.venv' / 'bin'}:{env.get('PATH', '')}"
    return subprocess.run(
        ["bash", "-c", command], cwd=REPO, capture_output=True, text=True, env=env, timeout=timeout, check=False
    )


def make_targets():
    return set(re.findall(r"^([a-z][a-z0-9-]*):", (REPO / "Makefile").read_text(), re.M))


def check_make(command, _aws):
    words = shlex.split(command)[1:]
    target = next((w for w in words if "=" not in w), None)
    assert target in make_targets(), f"{command}: no make target {target!r}"
    for setting in (w for w in words if "=" in w):
        name = setting.split("=", 1)[0]
        readers = [p for p in ("Makefile", "scripts/local-stage") if name in (REPO / p).read_text()]
        assert readers, f"{command}: nothing reads {name}"
    if target == "help":
        answer = run(command)
        assert answer.returncode == 0, answer.stderr
        for documented in re.findall(r"`make ([a-z0-9-]+)", README):
            assert f"make {documented} " in answer.stdout, f"make help does not list {documented}"
    else:
        # A dry run: make parses the target and its prerequisites without running them.
        answer = run(f"make -n {' '.join(words)}")
        assert answer.returncode == 0, answer.stderr


def check_source(command, _aws):
    answer = run(f"{command} && command -v ansible-playbook")
    assert answer.returncode == 0, answer.stderr
    assert answer.stdout.strip() == str(REPO / ".venv" / "bin" / "ansible-playbook")


def check_export(command, _aws):
    name, value = command.removeprefix("export ").split("=", 1)
    assert name in KNOWN_ENVIRONMENT, f"{command}: who reads {name}?"
    answer = run(f'{command} && printf %s "${name}"')
    assert answer.stdout == run(f'printf %s "{value}"').stdout
    if name == "NODE_EXTRA_CA_CERTS":
        # The very file the local stage writes its CA to (stage_local_ca_file).
        assert answer.stdout == str(REPO / ".cache" / "local" / "ca.crt")
        assert 'LOCAL_CA_FILE="$root/$state/ca.crt"' in (REPO / "scripts" / "local-stage").read_text()


def check_ansible_adhoc(command, aws):
    # Run as written, with the emulator's settings in place of a real profile.
    answer = run(command, env=aws.env())
    assert answer.returncode == 0, answer.stdout + answer.stderr
    assert "SUCCESS" in answer.stdout
    assert '"account_id": "123456789012"' in answer.stdout


def check_playbook(command, _aws):
    words = shlex.split(command)
    playbook = words[1]
    inventory = words[words.index("-i") + 1]
    assert (REPO / playbook).is_file(), f"{command}: no {playbook}"
    assert (REPO / inventory).exists(), f"{command}: no {inventory}"
    read_by_playbooks = "\n".join(p.read_text() for p in (REPO / "playbooks").rglob("*.yml"))
    for index, word in enumerate(words):
        if word == "-e":
            name = words[index + 1].split("=", 1)[0]
            assert re.search(rf"\b{name}\b", read_by_playbooks), f"{command}: no playbook reads {name}"
    answer = run(f"ansible-playbook --syntax-check {' '.join(shlex.quote(w) for w in words[1:])}")
    assert answer.returncode == 0, answer.stdout + answer.stderr


def check_ansible_doc(command, _aws):
    answer = run(command)
    assert answer.returncode == 0, answer.stderr
    if " -l " in command:
        modules = sorted(p.stem for p in (REPO / "plugins" / "modules").glob("[a-z]*.py"))
        assert all(f"convex_selfhost.aws.{m}" in answer.stdout for m in modules), answer.stdout
    else:
        assert "EXAMPLES:" in answer.stdout and "RETURN VALUES:" in answer.stdout


def check_npx_convex(command, _aws):
    from ansible_collections.convex_selfhost.aws.plugins.module_utils.convex_releases import (  # noqa: PLC0415
        PINNED,
        release_of,
    )

    words = shlex.split(command)
    package, _at, version = words[1].partition("@")
    assert package == "convex"
    # A pinned CLI must be the pinned release's: an older or newer one breaks deploys.
    assert version in ("", release_of(PINNED)["cli_version"]), f"{command}: not the pinned release's CLI"
    subcommand, flags = words[2], {w for w in words[3:] if w.startswith("--")}
    assert subcommand in CONVEX_CLI, f"{command}: not a Convex CLI command this README expects"
    assert flags <= CONVEX_CLI[subcommand], f"{command}: unknown flags {flags - CONVEX_CLI[subcommand]}"
    # The CLI finds a self-hosted deployment by these two names, which admin_key.yml prints.
    admin_key_playbook = (REPO / "playbooks" / "admin_key.yml").read_text()
    for name in ("CONVEX_SELF_HOSTED_URL=", "CONVEX_SELF_HOSTED_ADMIN_KEY="):
        assert name in admin_key_playbook


def check_galaxy_install(command, _aws):
    # Galaxy is out of reach here; the same requirements are checked against what is installed.
    assert command.endswith("-r requirements.yml")
    wanted = yaml.safe_load((REPO / "requirements.yml").read_text())["collections"]
    answer = run("ansible-galaxy collection list --format json")
    installed = {}
    for found in json.loads(answer.stdout).values():
        installed.update({name: info["version"] for name, info in found.items()})
    for collection in wanted:
        assert collection["name"] in installed, f"{collection['name']} is not installed"
        assert SpecifierSet(collection["version"]).contains(installed[collection["name"]])


def check_pip_install(command, _aws):
    assert command.endswith("-r requirements.txt")
    for line in (REPO / "requirements.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            requirement = Requirement(line)
            assert requirement.specifier.contains(metadata.version(requirement.name)), line


def check_local_stage_playbook(command, _aws):
    # The e2e suite runs this very form (local_stage_tools.local_stage with playbook=...).
    playbook = command.split()[0].split("=", 1)[1]
    assert (REPO / "playbooks" / playbook).is_file(), f"{command}: no playbooks/{playbook}"
    script = (REPO / "scripts" / "local-stage").read_text()
    assert "${PLAYBOOK:-site.yml}" in script, "scripts/local-stage no longer reads PLAYBOOK"
    e2e = (REPO / "tests" / "e2e" / "test_local_stage.py").read_text()
    assert f'playbook="{playbook}"' in e2e, f"the e2e suite does not run {playbook} through local-stage"


RULES = [
    (r"^make( [a-z-]+)?( [A-Z_]+=\S+)*$", check_make),
    (r"^\. \.venv/bin/activate$", check_source),
    (r"^PLAYBOOK=[a-z_]+\.yml scripts/local-stage site$", check_local_stage_playbook),
    (r"^export [A-Z_]+=\S+$", check_export),
    (r"^ansible localhost -m convex_selfhost\.aws\.account_info ", check_ansible_adhoc),
    (r"^ansible-playbook playbooks/\S+\.yml -i ", check_playbook),
    (r"^ansible-doc ", check_ansible_doc),
    (r"^npx convex(@[0-9.]+)? ", check_npx_convex),
    (r"^ansible-galaxy collection install ", check_galaxy_install),
    (r"^pip install ", check_pip_install),
]


def rule_for(command):
    matching = [check for pattern, check in RULES if re.search(pattern, command.text)]
    assert len(matching) == 1, f"{command}: {len(matching)} rules know this command; add one"
    return matching[0]


@pytest.mark.parametrize("command", CONTROLLER, ids=[c.text for c in CONTROLLER])
def test_controller_command(command, aws):
    rule_for(command)(command.text, aws)


def test_the_readme_has_commands_of_both_kinds():
    kinds = {c.where for c in readme_commands()}
    assert kinds == {"controller", "host"}
    assert len(CONTROLLER) >= 15


def test_settings_table_lists_every_dev_setting():
    settings = yaml.safe_load((REPO / "inventories" / "dev" / "host_vars" / "dev.yml").read_text())
    section = README.split("### 3. The stage's settings", 1)[1].split("\n### ", 1)[0]
    rows = re.findall(r"^\| (`[^|]+) \|", section, re.M)
    named = {name for row in rows for name in re.findall(r"`([a-z_0-9]+)`", row)}
    missing, unknown = sorted(set(settings) - named), sorted(named - set(settings))
    assert not missing and not unknown, f"missing from the README: {missing}; not in the inventory: {unknown}"


def test_relative_links_resolve():
    for target in re.findall(r"\]\((?!https?://|#)([^)]+)\)", README):
        assert (REPO / target).exists(), f"README links to {target}, which does not exist"


def test_anchors_resolve():
    headings = {re.sub(r"[^a-z0-9 -]", "", h.lower()).replace(" ", "-") for h in re.findall(r"^#+ (.+)$", README, re.M)}
    for anchor in re.findall(r"\]\(#([^)]+)\)", README):
        assert anchor in headings, f"README links to #{anchor}, which is no heading"


def test_architecture_diagram_names_every_part():
    diagram = README.split("```mermaid", 1)[1].split("```", 1)[0]
    for part in ("Route 53", "Elastic IP", "Caddy", "convex-backend", "convex-dashboard", "RDS", "Private subnets"):
        assert part in diagram, part
    assert "Five S3 buckets" in diagram and "Instance role" in diagram


def test_role_reference_is_current():
    generated = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "role-reference.py"), "--stdout"],
        capture_output=True,
        text=True,
        check=True,
        env=dict(os.environ),
    ).stdout
    written = (REPO / "docs" / "role-variables.md").read_text()
    assert written == generated, "docs/role-variables.md is stale: run `make docs`"
    for spec in (REPO / "roles").glob("*/meta/argument_specs.yml"):
        for entry in yaml.safe_load(spec.read_text())["argument_specs"].values():
            for name in entry["options"]:
                assert f"| `{name}` |" in written
