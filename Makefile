# govmail — the front door. `make lab` runs the main job, `make test` runs every check.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV      ?= .venv
PY        := $(VENV)/bin/python
BIN       := $(VENV)/bin
STAMP     := $(VENV)/.installed
ACCOUNTS  ?= accounts
# Tools installed in the venv (ansible-playbook, molecule …) find each other on PATH.
export PATH := $(abspath $(VENV))/bin:$(PATH)

.PHONY: help venv lint test test-unit test-integration lab lab-down bench clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'

# The venv is rebuilt only when the dependency pins change.
$(STAMP): pyproject.toml bin/bootstrap-host
	bin/bootstrap-host python
	python3 -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

venv: $(STAMP)  ## create .venv with every pinned dependency

lint: $(STAMP)  ## ruff, yamllint, ansible-lint (production profile), ansible-doc of every module and filter
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/yamllint --strict .
	$(BIN)/ansible-lint --profile production
	$(BIN)/check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/*.yml
	$(BIN)/check-jsonschema --builtin-schema vendor.gitlab-ci .gitlab-ci.yml
	$(BIN)/govmail codeowners --check
	$(PY) bin/check-plugin-docs $(BIN)/ansible-doc

test-unit: $(STAMP)  ## pure-Python tests of the engine, CLI and filters
	$(BIN)/pytest -m 'not integration' tests/unit

test-integration: $(STAMP)  ## tests that run real programs (a throwaway slapd, git, ansible-playbook, PDF tools)
	bin/bootstrap-host slapd
	bin/bootstrap-host documents
	bin/bootstrap-host browser
	bin/bootstrap-host wsgi
	$(BIN)/pytest -m integration tests/integration

test: lint test-unit test-integration test-lab molecule test-cluster  ## everything CI runs (the cluster lab last: docs/cluster.md)

validate: $(STAMP)  ## validate the account files
	$(BIN)/govmail validate $(ACCOUNTS)

# PROFILE=cluster: the multi-node lab of docs/cluster.md (inventory/cluster) instead of one container.
PROFILE ?= single
lab: $(STAMP) lab-up  ## the main job: bring up the local lab and converge accounts/ into it (PROFILE=cluster: several nodes)
	PROFILE=$(PROFILE) VENV=$(VENV) bin/lab-accounts $(ACCOUNTS)
	@[ "$(PROFILE)" = cluster ] || bin/lab url

N ?= 5000
bench: $(STAMP)  ## benchmark against a real slapd: make bench N=5000 (last line: JSON figures)
	bin/bootstrap-host bench
	$(BIN)/pip install --quiet -e '.[dev,bench]'
	$(PY) bench/run.py --n $(N)

clean:  ## remove the venv and caches
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis *.egg-info

# --- lab (servers) ---
# The local lab: one container with the real slapd + Postfix + Dovecot (docs/servers.md).
.PHONY: lab-up lab-down test-lab molecule lab-cluster test-cluster bench-cluster

lab-up: $(STAMP)  ## start dockerd, build the image if missing, bring up and converge the lab container(s)
	PROFILE=$(PROFILE) VENV=$(VENV) bin/lab up

lab-down:  ## remove the lab container(s) (PROFILE=cluster: the cluster's)
	PROFILE=$(PROFILE) bin/lab down

test-lab: lab-up  ## idempotence of the lab converge, then tests against the real servers on 127.0.0.1
	VENV=$(VENV) bin/lab idempotence
	$(BIN)/pytest -m integration tests/lab

molecule: $(STAMP)  ## molecule test of the roles (docker driver, locally built image, idempotence)
	bin/lab image
	bin/lab tls
	bin/lab secrets
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/molecule test

# --- the cluster lab (docs/cluster.md) ---
lab-cluster: $(STAMP)  ## the multi-node lab: 2 directory providers and the mail host, converged, accounts/ applied
	$(MAKE) lab PROFILE=cluster

test-cluster: lab-cluster  ## failure tests against the cluster lab (a provider or a backend stopped and back, a mailbox moved)
	$(BIN)/pytest -m integration tests/cluster

bench-cluster: lab-cluster  ## the mail path of the cluster lab: deliveries and logins with 1 and 2 backends, LDAP operations each
	$(PY) bench/mailpath.py
