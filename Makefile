# One entry point for everything the project checks. `make test` is what CI runs.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

VENV ?= .venv
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
HARNESS := tests/harness

.PHONY: help test venv docker-engine images host-packages lint sanity unit integration e2e molecule local local-down example bench docs build clean

help: ## List the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

# After the setup, two lanes side by side: the local stage's e2e suite, which mostly waits on its
# hosts and uses about one core, beside the controller's checks and then the molecule scenarios.
test: ## Every check from a fresh machine; ends with one "checks: N passed, N failed" line
	@$(HARNESS)/run-checks.sh venv docker-engine images host-packages "e2e | lint sanity unit integration molecule"

venv: ## Create .venv from requirements-dev.txt (again only when that file changes)
	@$(HARNESS)/make-venv.sh $(VENV)

docker-engine: ## Make sure a Docker engine answers (installs docker.io and starts dockerd if needed)
	@$(HARNESS)/ensure-docker.sh

images: docker-engine ## Build the local test-host images from Debian packages (cached by recipe)
	@tests/images/build.sh

host-packages: ## Install the Debian packages the tests use on this machine (chromium, docker-registry, ...)
	@tests/harness/ensure-host-packages.sh

lint: venv ## yamllint, ansible-lint (production profile) and ruff
	@$(HARNESS)/run-checks.sh lint

sanity: venv ## ansible-test sanity in a temporary ansible_collections tree
	@$(HARNESS)/run-checks.sh sanity

unit: venv ## pytest unit tests: the collection's own logic, alone
	@$(HARNESS)/run-checks.sh unit

integration: venv images host-packages ## pytest integration tests: the modules against a moto server and a real registry; the capacity role on real storage
	@$(HARNESS)/run-checks.sh integration

e2e: venv images host-packages ## The whole stage lifecycle on the local stage (emulator + container host + stand-ins)
	@$(HARNESS)/run-checks.sh e2e

local: venv images ## Run site.yml on the embedded local stage (CONVEX_IMAGES=standin for the test stand-ins)
	@scripts/local-stage up
	@scripts/local-stage site

# The API the example app is built for: the local stage's, unless told (site.yml prints the line).
VITE_CONVEX_URL ?= https://api.convex.localhost

example: ## Build examples/chat (npm ci, vite build) into examples/chat/dist for VITE_CONVEX_URL
	@cd examples/chat && npm ci --no-audit --no-fund --loglevel=error && VITE_CONVEX_URL=$(VITE_CONVEX_URL) npm run build --silent
	@echo "example: examples/chat/dist is built for VITE_CONVEX_URL=$(VITE_CONVEX_URL)"

local-down: ## Remove everything `make local` made
	@scripts/local-stage down

molecule: venv images ## Every molecule scenario on the Debian 13 systemd test host
	@$(HARNESS)/run-checks.sh molecule

bench: venv images ## Measure AWS calls, run times and upgrade availability on the local stage; writes bench/results.json
	@python3 tests/bench/stage_bench.py

docs: venv ## Rewrite docs/role-variables.md from the roles' meta/argument_specs.yml
	@python3 scripts/role-reference.py

build: venv ## Build the collection tarball into build/
	@mkdir -p build && ansible-galaxy collection build --force --output-path build .

clean: ## Remove build output and test results (keeps .venv and the image cache)
	rm -rf build tests/output .cache/sanity .pytest_cache
