# Lagoon — the two commands a newcomer needs: `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SAM_VENV := .venv-sam
SAM := $(SAM_VENV)/bin/sam
PORT ?= 3000
TIME ?=
export SAM_CLI_TELEMETRY := 0
export AWS_DEFAULT_REGION ?= us-east-1

.PHONY: help install run tick drain reset test lint format typecheck template test-unit test-integration test-e2e test-fuzz test-all fuzz bench build pr clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

$(BIN)/.installed: requirements-dev.txt layers/dependencies/requirements.txt shared/pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements-dev.txt
	$(BIN)/pip install -q -e shared
	@touch $@

install: $(BIN)/.installed ## Create .venv and install everything (pinned)

$(SAM_VENV)/.installed: requirements-sam.txt
	@test -x $(SAM_VENV)/bin/python || $(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install -q -r requirements-sam.txt
	@touch $@

run: install ## Run the whole system locally (moto as AWS) at http://127.0.0.1:$(PORT)
	PORT=$(PORT) $(BIN)/python -m lagoon.local

tick: install ## Fire every scheduled function once at TIME (ISO 8601; default now): make tick TIME=2026-12-01T00:00:00Z
	$(BIN)/python -m lagoon.local.control tick --port $(PORT) $(if $(TIME),--time $(TIME),)

drain: install ## Wait until every event on the local stream is processed
	$(BIN)/python -m lagoon.local.control drain --port $(PORT)

reset: ## Wipe the local stack's data (.lagoon/)
	rm -rf .lagoon

lint: install ## ruff (lint + format check) and the import contracts of the package's rooms (import-linter)
	$(BIN)/ruff check shared functions tests tools bench
	$(BIN)/ruff format --check shared functions tests tools bench
	$(BIN)/lint-imports --no-cache
	$(BIN)/python tools/check_code_shape.py

format: install ## Apply ruff fixes and formatting
	$(BIN)/ruff check --fix shared functions tests tools bench
	$(BIN)/ruff format shared functions tests tools bench

typecheck: install ## mypy with the pydantic plugin
	$(BIN)/mypy

template: install $(SAM_VENV)/.installed ## sam validate --lint, cfn-lint on the SAM template and on its CloudFormation translation
	$(SAM) validate --lint --template template.yaml
	$(BIN)/python tools/check_template.py

test-unit: install ## Unit tests (no network)
	$(BIN)/pytest tests/unit

test-integration: install ## Handler tests on moto (real API Gateway events, real authorizer)
	$(BIN)/pytest tests/integration

test-e2e: install ## End-to-end tests over HTTP against the local stack
	$(BIN)/pytest tests/e2e

test-fuzz: install ## The fuzz tier of make test: Lago's OpenAPI examples and a few generated cases per operation
	$(BIN)/pytest tests/fuzz

fuzz: install ## Fuzz every Lago operation Lagoon serves (schemathesis, ~6 min): no 5xx, every 4xx in Lago's shape
	LAGOON_FUZZ=deep $(BIN)/pytest tests/fuzz

# The two venvs install side by side, then the checks run beside the test suite: CI's machine has 2 cores and
# pytest mostly uses one. The checks' few output lines may land between pytest's dots.
test: ## Everything CI runs: lint, types, template checks, all test tiers
	@$(MAKE) --no-print-directory -j2 $(BIN)/.installed $(SAM_VENV)/.installed
	@$(MAKE) --no-print-directory -j2 test-all lint typecheck template

test-all: install ## All test tiers (without the checks)
	$(BIN)/pytest tests

bench: install ## Benchmarks (engine, ingestion, billing) — targets are printed next to the numbers
	$(BIN)/python -m bench

build: $(SAM_VENV)/.installed ## sam build (no container)
	$(SAM) build

pr: format test bench ## What a reviewer runs

clean: ## Remove build outputs (keeps .venv)
	rm -rf .aws-sam .pytest_cache .mypy_cache .ruff_cache
