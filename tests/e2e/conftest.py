"""The e2e modules each get a fresh local stage, removed again when the module is done."""

import pytest
from local_stage_tools import local_stage


@pytest.fixture(scope="module")
def fresh_local_stage():
    local_stage("down")
    local_stage("up")
    yield
    local_stage("down")


FLEET = "inventories/local-fleet"


@pytest.fixture(scope="module")
def fresh_local_fleet():
    """The two deployments of inventories/local-fleet on a fresh emulator, each with its host."""
    local_stage("down", inventory=FLEET)
    local_stage("up", inventory=FLEET)
    yield
    local_stage("down", inventory=FLEET)
