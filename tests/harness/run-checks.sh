#!/usr/bin/env bash
# Run the named stages in order, record every check as passed or failed, and end with one line:
#   checks: N passed, N failed
# Setup stages (venv, docker-engine, images) stop the run when they fail: nothing after them
# could pass. Test stages all run, so one report shows every failure. Exit status is non-zero
# when any check failed.
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
  local status=$? before after
  before=$(grep -c '^FAIL' "$results")
  [ -s "$junit" ] && python3 tests/harness/junit_to_checks.py "$junit" "$name" >> "$results"
  after=$(grep -c '^FAIL' "$results")
  # A non-zero exit with no failed case (exit 5: no test ran, or a collection error) proves
  # nothing, so it counts as a failure of its own.
  if [ $status -ne 0 ] && [ "$after" -eq "$before" ]; then
    record FAIL "$name: pytest exited $status"
  fi
  echo "time: $name took $((SECONDS - started)) s"
}

stage_venv() { heading venv; tests/harness/make-venv.sh .venv || { record FAIL "setup: venv"; return 1; }; }
stage_docker_engine() { heading docker-engine; tests/harness/ensure-docker.sh || { record FAIL "setup: docker engine"; return 1; }; }
stage_images() { heading images; tests/images/build.sh || { record FAIL "setup: test-host images"; return 1; }; }

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

# The app's page test needs a real browser; the example app is built by the test itself.
stage_e2e() { tests/harness/ensure-browser.sh && pytest_checks e2e tests/e2e; }

stage_molecule() {
  local scenario
  # Scenarios whose containers reach services on this machine (an AWS emulator, the stand-in
  # images' registry) find them on Docker's bridge address.
  CONVEX_TEST_BRIDGE=$(. scripts/lib/daemons.sh && bridge_address)
  export CONVEX_TEST_BRIDGE
  for scenario in molecule/*/molecule.yml; do
    scenario=$(basename "$(dirname "$scenario")")
    check "molecule: $scenario" molecule test -s "$scenario"
  done
  scripts/standin-registry down
}

started=$SECONDS
for stage in "$@"; do
  fn="stage_${stage//-/_}"
  if ! declare -F "$fn" >/dev/null; then
    echo "run-checks: unknown stage '$stage'" >&2
    exit 2
  fi
  "$fn" || break
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
