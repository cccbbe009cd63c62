"""The whole stack's no-op provisioning run stays within its AWS API call budget."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

from provisioning_calls import NOOP_BUDGET, measure  # noqa: E402


def test_noop_provisioning_changes_nothing_within_the_call_budget():
    figures = measure()
    print(f"AWS API calls: first run {figures['first']['calls']}, no-op re-run {figures['noop']['calls']}")
    assert "changed=0" in figures["noop"]["recap"]
    assert "failed=0" in figures["noop"]["recap"]
    assert figures["noop"]["calls"] <= NOOP_BUDGET
    # Counted from the emulator's log: a first run that made nothing would mean it never ran.
    assert figures["first"]["calls"] > figures["noop"]["calls"]
