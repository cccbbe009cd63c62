#!/usr/bin/env bash
# Run the named stages in order, record every check as passed or failed, and end with one line:
#   checks: N passed, N failed
# Setup stages (venv, docker-engine, images, host-packages) stop the run when they fail: nothing
# after them could pass. Test stages all run, so one report shows every failure. Exit status is
# non-zero when any check failed.
# An argument "A B | C D" runs lanes side by side: A then B in one, C then D in the other (see
# side_by_side).
set -uo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
case ":$PATH:" in *":$root/.venv/bin:"*) ;; *) export PATH="$root/.venv/bin:$PATH" ;; esac
export ANSIBLE_CONFIG="$root/ansible.cfg"
out=tests/output
mkdir -p "$out"
results="$out/checks.tsv"
: > "$results"

record() { printf '%s\t%s\n' "$1" "$2" >> "$results"; }
heading() { printf '\n=== %s ===\n' "$*"; }

# check NAME COMMAND...: one check, passed when COMMAND exits 0; its time is printed.
check() {
  local name=$1 started=$SECONDS; shift
  heading "$name"
  if "$@"; then record PASS "$name"; else record FAIL "$name"; echo "FAILED: $name"; fi
  echo "time: $name took $((SECONDS - started)) s"
}

# pytest_checks NAME ARGS...: every test case is a check of its own.
pytest_checks() {
  local name=$1 started=$SECONDS; shift
  local junit="$out/junit-$name.xml"
  heading "$name (pytest)"
  rm -f "$junit"
  pytest --junitxml="$junit" "$@"
  local status=$? cases=""
  [ -s "$junit" ] && cases=$(python3 tests/harness/junit_to_checks.py "$junit" "$name")
  [ -n "$cases" ] && printf '%s\n' "$cases" >> "$results"
  # A non-zero exit with no failed case (exit 5: no test ran, or a collection error) proves
  # nothing, so it counts as a failure of its own. (Told from this run's cases, not from the
  # results file, which a lane beside this one may be adding to.)
  if [ $status -ne 0 ] && ! grep -q '^FAIL' <<<"$cases"; then
    record FAIL "$name: pytest exited $status"
  fi
  echo "time: $name took $((SECONDS - started)) s"
}

stage_venv() { heading venv; tests/harness/make-venv.sh .venv || { record FAIL "setup: venv"; return 1; }; }
stage_docker_engine() { heading docker-engine; tests/harness/ensure-docker.sh || { record FAIL "setup: docker engine"; return 1; }; }
stage_images() { heading images; tests/images/build.sh || { record FAIL "setup: test-host images"; return 1; }; }
stage_host_packages() {
  heading host-packages
  tests/harness/ensure-host-packages.sh || { record FAIL "setup: this machine's test packages"; return 1; }
}

stage_lint() {
  check "lint: yamllint" yamllint --strict .
  check "lint: ansible-lint (production profile)" ansible-lint --profile production --offline
  check "lint: ruff check" ruff check .
  check "lint: ruff format" ruff format --check .
}

stage_sanity() { check "sanity: ansible-test sanity" tests/harness/sanity.sh; }

# Unit: the collection's own logic, alone. Integration: real module processes against an AWS
# emulator and a real registry.
stage_unit() { pytest_checks unit tests/unit; }

stage_integration() { pytest_checks integration tests/integration; }

# The app's page test needs a real browser (the host-packages setup stage, which make e2e and
# make test run first); the example app is built by the test itself.
stage_e2e() { pytest_checks e2e tests/e2e; }

# molecule_scenario NAME: molecule test, keeping the test host when it fails long enough to print
# what a failure leaves no other trace of (its Docker daemon's journal, the registries' logs).
molecule_scenario() {
  local status=0
  molecule test -s "$1" --destroy=never || status=$?
  if [ $status -ne 0 ]; then
    heading "molecule: $1 failed; what the test host and this machine's daemons say"
    docker exec "convex-$1" journalctl -u docker --no-pager -n 60 2>&1 || true
    docker exec "convex-$1" systemctl --failed --no-pager 2>&1 || true
    # Whether the scenario's own daemons still run and listen, and what the test host sees of them.
    ps -eo pid,pgid,sid,lstart,args | grep -E '[d]ocker-registry|[m]oto_server' || true
    ss -ltnp 2>/dev/null | grep -E ':(45710|45810) ' || echo "nothing listens on 45710 or 45810"
    docker exec "convex-$1" ip -4 -o addr 2>&1 || true
    docker exec "convex-$1" curl -sS -o /dev/null -w "the test host reaches the registry: HTTP %{http_code}\n" \
      "http://${CONVEX_TEST_BRIDGE:-172.17.0.1}:45810/v2/" 2>&1 || true
    tail -n 20 .cache/registry/*/bridge.log 2>/dev/null || true
    dmesg 2>/dev/null | grep -iE 'oom|killed process|segfault' | tail -n 20 || echo "dmesg: no OOM kill and no segfault"
    dmesg 2>/dev/null | tail -n 20 || true
  fi
  molecule destroy -s "$1" >/dev/null 2>&1 || true
  return $status
}

stage_molecule() {
  local scenario
  # Scenarios whose containers reach services on this machine (an AWS emulator, the stand-in
  # images' registry) find them on Docker's bridge address.
  CONVEX_TEST_BRIDGE=$(. scripts/lib/daemons.sh && bridge_address)
  export CONVEX_TEST_BRIDGE
  for scenario in molecule/*/molecule.yml; do
    scenario=$(basename "$(dirname "$scenario")")
    check "molecule: $scenario" molecule_scenario "$scenario"
  done
  # The convex scenario's registry (its own port, molecule/convex/molecule.yml), also after a
  # failed scenario.
  STANDIN_REGISTRY_PORT=45810 scripts/standin-registry down
}

# run_stage NAME: the stage's function (stage_<name>).
run_stage() { "stage_${1//-/_}"; }

# side_by_side "A B | C D": the lanes at once, the stages of each one after another. The first
# lane prints as it goes; each other lane writes to tests/output/lane-N.log, printed whole once
# every lane has finished. Lanes must share nothing but the machine: the local stage's e2e
# suite and the molecule scenarios use containers, emulators and registries of their own.
side_by_side() {
  local lanes lane stage n=0 pids=() logs=()
  IFS='|' read -ra lanes <<<"$1"
  for lane in "${lanes[@]}"; do
    n=$((n + 1))
    if [ $n -eq 1 ]; then
      (for stage in $lane; do run_stage "$stage" || exit 1; done) &
    else
      logs+=("$out/lane-$n.log")
      (for stage in $lane; do run_stage "$stage" || exit 1; done) >"$out/lane-$n.log" 2>&1 &
    fi
    pids+=($!)
  done
  wait "${pids[@]}"
  for lane in "${logs[@]}"; do
    heading "the lane that ran beside it ($lane)"
    cat "$lane"
  done
}

# Every stage name is checked before anything runs.
for stage in $(printf '%s ' "$@" | tr '|' ' '); do
  if ! declare -F "stage_${stage//-/_}" >/dev/null; then
    echo "run-checks: unknown stage '$stage'" >&2
    exit 2
  fi
done

started=$SECONDS
for stage in "$@"; do
  case "$stage" in
    *"|"*) side_by_side "$stage" ;;
    *) run_stage "$stage" || break ;;
  esac
done

passed=$(grep -c '^PASS' "$results")
failed=$(grep -c '^FAIL' "$results")
skipped=$(grep -c '^SKIP' "$results")
heading "summary ($((SECONDS - started)) s)"
grep '^FAIL' "$results" | cut -f2- | sed 's/^/failed: /'
if [ "$skipped" -gt 0 ]; then
  echo "checks: $passed passed, $failed failed, $skipped skipped"
else
  echo "checks: $passed passed, $failed failed"
fi
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
