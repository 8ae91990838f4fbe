# mimamori: the two commands of the README, and the UI.
#   make run    generate the kaga municipality and run the whole nightly on it
#   make test   the whole test suite
#   make check  the quick loop: the import contracts, the unit tests and the dbt unit tests (under a minute)
#   make ui     the Dagster UI on the same home, read-only on 127.0.0.1: runs, lineage, checks
#   make ui-operator   the same UI where an operator may launch, re-run, terminate and switch schedules on

SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

HOME_DIR ?= $(CURDIR)/data
DEMO_DIR ?= $(HOME_DIR)/municipality
PRESET ?= kaga
SEED ?= 20261130
AS_OF ?= $(shell TZ=Asia/Tokyo date +%F)

# No telemetry from any part of the stack.
export DAGSTER_DISABLE_TELEMETRY := 1
export DO_NOT_TRACK := 1
export DBT_SEND_ANONYMOUS_USAGE_STATS := false
export GX_ANALYTICS_ENABLED := false

.PHONY: run test check ui ui-operator dbt-parse clean

# The environment is (re)built only when missing or when pyproject.toml changed.
$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $@

# The styles and scripts of Great Expectations' Data Docs, from the npm registry at pinned versions, so that
# the Data Docs open offline (pipelines/quality/data_docs.py). Without npm the Data Docs keep their CDN links.
VENDOR_STAMP := vendor/data-docs/.fetched
$(VENDOR_STAMP): $(STAMP) pipelines/quality/data_docs.py
	@if ! command -v npm >/dev/null 2>&1; then echo "npm not found: Great Expectations Data Docs will load their styles from CDNs"; \
	 else $(BIN)/python -m pipelines.quality.data_docs fetch >/dev/null && touch $@ \
	   || echo "could not fetch the Data Docs assets from the npm registry: Data Docs will load them from CDNs"; fi

# dagster-dbt loads the dbt manifest at import: produce it before anything imports the definitions.
dbt_project/target/manifest.json: $(STAMP) $(VENDOR_STAMP) $(shell find dbt_project -name '*.sql' -o -name '*.yml' 2>/dev/null | grep -v target/) config/rules.yml
	$(BIN)/mimamori dbt-parse

dbt-parse: dbt_project/target/manifest.json

run: dbt_project/target/manifest.json
	@install -d -m 700 $(HOME_DIR)
	$(BIN)/mimamori generate --preset $(PRESET) --seed $(SEED) --as-of $(AS_OF) --out $(DEMO_DIR)
	$(BIN)/mimamori nightly --landing $(DEMO_DIR)/landing --home $(HOME_DIR) --as-of $(AS_OF)

test: dbt_project/target/manifest.json
	@.ci/system-packages
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

# No night, browser, Spark or long-lived process: what a change of logic needs to know first.
check: dbt_project/target/manifest.json
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -q tests/unit -m "not slow" --dist load $(PYTEST_ARGS)

UI_ENV = DAGSTER_HOME=$(HOME_DIR)/.dagster MIMAMORI_HOME=$(HOME_DIR) MIMAMORI_LANDING=$(DEMO_DIR)/landing \
	MIMAMORI_DUCKDB_EXTENSIONS=$$($(BIN)/python -c "from pipelines.core.duckdb_env import extension_directory as d; print(d())")

# Dagster OSS has no login: read-only unless an operator asks otherwise, and on loopback only (README: Going live).
ui: dbt_project/target/manifest.json
	$(UI_ENV) $(BIN)/dagster-webserver -w workspace.yaml -h 127.0.0.1 -p 3000 --read-only

ui-operator: dbt_project/target/manifest.json
	@echo "operator mode: this UI can launch nights, terminate runs and switch the schedule and sensor on or off"
	$(UI_ENV) $(BIN)/dagster dev -w workspace.yaml -h 127.0.0.1 -p 3000

clean:
	rm -rf $(VENV) dbt_project/target dbt_project/logs
