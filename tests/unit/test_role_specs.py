"""Every role's meta/argument_specs.yml mirrors its defaults/main.yml, option for option."""

from pathlib import Path

import pytest
import yaml

ROLES = sorted(p.parent.parent for p in Path(__file__).resolve().parents[2].glob("roles/*/defaults/main.yml"))


@pytest.mark.parametrize("role", ROLES, ids=[r.name for r in ROLES])
def test_argument_specs_mirror_defaults(role):
    defaults = yaml.safe_load((role / "defaults" / "main.yml").read_text()) or {}
    specs = yaml.safe_load((role / "meta" / "argument_specs.yml").read_text())
    options = specs["argument_specs"]["main"]["options"]
    documented_with_default = {name: spec["default"] for name, spec in options.items() if "default" in spec}
    assert documented_with_default == defaults, "defaults/main.yml and the specs' defaults must agree"
    required = {name for name, spec in options.items() if spec.get("required")}
    assert set(options) == set(defaults) | required, "every option is either defaulted or required"
    for name, spec in options.items():
        assert name.startswith(f"{role.name}_"), f"{name} must carry the role's prefix"
        assert spec.get("description"), f"{name} needs a description"


def test_there_are_roles_to_check():
    assert ROLES
