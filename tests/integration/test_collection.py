"""The collection as users get it: built tarball, ansible-doc, action group, playbook use."""

import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def ansible_env(extra=None):
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    env.update(extra or {})
    return env


def module_names():
    return sorted(p.stem for p in (REPO / "plugins" / "modules").glob("*.py") if p.stem != "__init__")


def test_built_tarball_holds_no_venv_caches_or_test_artefacts(tmp_path):
    subprocess.run(
        [BIN / "ansible-galaxy", "collection", "build", "--output-path", tmp_path, REPO],
        check=True,
        capture_output=True,
        env=ansible_env(),
    )
    (tarball,) = tmp_path.glob("convex_selfhost-aws-*.tar.gz")
    with tarfile.open(tarball) as archive:
        names = archive.getnames()
    forbidden = (".venv", ".cache", ".git/", "tests/output", "__pycache__", ".pytest_cache", ".ruff_cache")
    assert not [n for n in names if any(part in n + "/" for part in forbidden)]
    assert "MANIFEST.json" in names
    assert "plugins/modules/account_info.py" in names
    assert "meta/runtime.yml" in names


def test_ansible_doc_lists_every_module():
    listed = subprocess.run(
        [BIN / "ansible-doc", "-t", "module", "-l", "convex_selfhost.aws", "--json"],
        check=True,
        capture_output=True,
        text=True,
        env=ansible_env(),
    )
    documented = sorted(name.split(".")[-1] for name in json.loads(listed.stdout))
    assert documented == module_names()


def test_every_module_documentation_renders():
    names = [f"convex_selfhost.aws.{name}" for name in module_names()]
    shown = subprocess.run(
        [BIN / "ansible-doc", "-t", "module", "--json", *names],
        check=False,
        capture_output=True,
        text=True,
        env=ansible_env(),
    )
    assert shown.returncode == 0, shown.stderr
    documented = json.loads(shown.stdout)
    assert sorted(documented) == names
    for name, doc in documented.items():
        assert doc["doc"]["short_description"], name
        assert doc["examples"] and doc["return"], name
        assert doc["doc"]["attributes"]["check_mode"]["support"] == "full", name


def test_action_group_lists_every_aws_module():
    # The group sets the AWS connection; release_info talks to an image registry, not to AWS.
    aws_modules = [
        name
        for name in module_names()
        if "ConvexAWSModule" in (REPO / "plugins" / "modules" / f"{name}.py").read_text()
    ]
    runtime = yaml.safe_load((REPO / "meta" / "runtime.yml").read_text())
    assert sorted(runtime["action_groups"]["aws"]) == aws_modules
    assert "release_info" not in aws_modules


def test_module_defaults_group_points_modules_at_an_endpoint(aws):
    env = aws.env()
    del env["AWS_ENDPOINT_URL"]  # only the group's endpoint_url may reach the emulator
    del env["AWS_REGION"], env["AWS_DEFAULT_REGION"]
    run = subprocess.run(
        [
            BIN / "ansible-playbook",
            REPO / "tests" / "integration" / "playbooks" / "connection_defaults.yml",
            "-e",
            f"test_region={aws.region} test_endpoint={aws.endpoint}",
        ],
        capture_output=True,
        text=True,
        env=ansible_env(env),
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "failed=0" in run.stdout
