"""The e2e modules each get a fresh local stage, removed again when the module is done."""

import pytest
from local_stage_tools import local_stage


@pytest.fixture(scope="module")
def fresh_local_stage():
    local_stage("down")
    local_stage("up")
    yield
    local_stage("down")
