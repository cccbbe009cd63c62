"""Faults on the local stage, on the AWS side and on the host. Runs interrupted or slowed by
them converge on a re-run, make nothing twice, and a broken Caddy configuration never replaces
the one that serves. Tests run in file order and share one stage."""

from __future__ import annotations

import os
import shutil
import signal
import time

import pytest
from fault_proxy import FaultPolicy, FaultProxy, SlowDatabase
from local_stage_tools import (
    ENDPOINT,
    ONE_STACK,
    REPO,
    api_version,
    local_stage,
    on_host,
    stage_resources,
    start_local_stage,
    unchanged,
)

EMULATOR_PID = REPO / ".cache" / "local" / "moto.pid"


pytestmark = pytest.mark.usefixtures("fresh_local_stage")


def assert_converged():
    """A further run changes nothing, the stage holds exactly one stack, and Convex answers."""
    run = local_stage("site")
    assert unchanged(run.stdout, "local"), run.stdout[-3000:]
    assert stage_resources() == ONE_STACK
    assert api_version() == "standin-1"


def test_rerun_converges_after_the_emulator_is_killed_mid_run():
    # A proxy with no faults, only to see how far the run has got: the kill lands while the
    # deployment module is making the stack, a dozen calls into it.
    policy = FaultPolicy()
    with FaultProxy(ENDPOINT, policy) as proxy:
        run = start_local_stage("site", extra_env={"LOCAL_STAGE_AWS_ENDPOINT": proxy.endpoint})
        assert run.wait_for_line("TASK [steps : Network, buckets, database, host and DNS]"), "".join(run.lines)[-3000:]
        started = policy.seen
        deadline = time.monotonic() + 30
        while policy.seen < started + 12 and time.monotonic() < deadline:
            time.sleep(0.05)
        os.kill(int(EMULATOR_PID.read_text().split()[0]), signal.SIGKILL)
        killed_after = policy.seen
        time.sleep(3)
        # moto keeps no state across a restart: the emulator comes back empty.
        local_stage("up")
        status, output = run.finish()
    print(f"emulator killed after {killed_after} calls; the interrupted run exited {status}")
    assert status != 0, "a run whose AWS endpoint died cannot have succeeded"
    rerun = local_stage("site", check=False)
    assert rerun.returncode == 0, rerun.stdout[-4000:]
    assert_converged()


def task_output(output, task):
    """What a run printed under one task's heading."""
    return output.split(f"TASK [{task}]", 1)[1].split("TASK [", 1)[0] if f"TASK [{task}]" in output else ""


def test_first_run_converges_with_a_fifth_of_aws_calls_failing_and_the_database_slow_to_build():
    local_stage("down")
    local_stage("up")
    policy = FaultPolicy(fail_ratio=0.2, kinds=("throttle", "503"), seed=20)
    # RDS takes minutes to build a database; the emulator's is ready at once. For its first 30 s
    # the proxy reports it "creating", as RDS would, so that the run's wait for it is taken.
    slow = SlowDatabase(30)
    with FaultProxy(ENDPOINT, policy, slow_database=slow) as proxy:
        run = local_stage("site", check=False, extra_env={"LOCAL_STAGE_AWS_ENDPOINT": proxy.endpoint})
    share = policy.failed / max(policy.seen, 1)
    print(f"fault proxy: {policy.seen} calls, {policy.failed} failed ({share:.0%}): {dict(policy.answered)}")
    print(f"the database was reported creating {slow.answered_creating} times")
    assert run.returncode == 0, run.stdout[-4000:]
    assert slow.answered_creating >= 1
    waited = task_output(
        run.stdout, "Wait until RDS reports the database available (often 5 to 15 minutes for a new one)"
    )
    assert "ok: [local" in waited, run.stdout[-4000:]
    assert share >= 0.15, "the proxy must really have failed about a fifth of the calls"
    # EC2's throttle, a bare 503, and a throttle in a JSON or query protocol (which services draw
    # one depends on the order of the calls the random faults land on).
    assert {"RequestLimitExceeded", "503"} <= set(policy.answered)
    assert {"ThrottlingException", "Throttling"} & set(policy.answered)
    assert stage_resources() == ONE_STACK, "faults must not make anything twice"
    assert_converged()


def test_rerun_converges_after_the_backend_is_killed_mid_run():
    local_stage("site")  # a running stage, also when this test runs alone
    run = start_local_stage("site")
    compose_task = "TASK [convex : Write the compose file, the CA bundle and the export timer]"
    assert run.wait_for_line(compose_task), "".join(run.lines)[-3000:]
    killed = on_host("docker", "kill", "convex-backend-1")
    assert killed.returncode == 0, killed.stderr
    status, output = run.finish()
    print(f"the run whose backend was killed exited {status}")
    rerun = local_stage("site", check=False)
    assert rerun.returncode == 0, rerun.stdout[-4000:]
    assert_converged()


def test_broken_caddy_template_never_replaces_the_running_config(tmp_path):
    roles = tmp_path / "roles"
    shutil.copytree(REPO / "roles", roles)
    template = roles / "caddy" / "templates" / "Caddyfile.j2"
    # An unclosed site block: the file renders, and Caddy must refuse it.
    template.write_text(template.read_text() + "\nbroken.{{ caddy_domain }} {\n\treverse_proxy {\n")
    local_stage("site")  # a running stage, also when this test runs alone
    before = on_host("sha256sum", "/etc/caddy/Caddyfile").stdout
    run = local_stage("site", check=False, extra_env={"ANSIBLE_ROLES_PATH": str(roles)})
    output = run.stdout + run.stderr
    assert run.returncode != 0, output[-3000:]
    assert "TASK [caddy : Write the Caddyfile" in output, output[-3000:]
    assert "/etc/caddy/Caddyfile: the new content failed `caddy validate" in output, output[-3000:]
    assert on_host("sha256sum", "/etc/caddy/Caddyfile").stdout == before
    assert on_host("systemctl", "is-active", "caddy").stdout.strip() == "active"
    assert api_version() == "standin-1", "the site must keep answering"
    assert_converged()
