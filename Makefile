# The two commands: `make run` (the main job) and `make test` (the test suite). Both set up first.
SHELL := /bin/bash
VENV := .venv
APE := $(VENV)/bin/ape
ANVIL_NETWORK := ethereum:local:foundry
# ape-foundry looks for anvil on PATH; setup links it into .venv/bin.
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
# py-solc-x finds the solc adapter in this checkout's own folder (never the user's ~/.solcx).
export SOLCX_BINARY_PATH := $(CURDIR)/.solcx

.PHONY: setup run test coverage bench check lint slither format clean help wheel explorer

help:  ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

setup:  ## Install everything (idempotent): virtualenv, Python and npm pins, solc adapter, anvil, compile
	@bash tools/setup.sh

run: setup  ## The main job: a local network of 7 worker processes with fault scenarios (ARGS="--sealed" ...)
	$(APE) run demo --network $(ANVIL_NETWORK) $(ARGS)

explorer: setup  ## The read-only explorer of a deployment (ARGS="--network energyweb:volta:node --manifest deployments/energyweb-volta.json")
	$(VENV)/bin/python -m worker.cli explorer $(ARGS)

test: setup check  ## Quality gates, then all tests: the embedded chain (contract coverage, 100% required) and the anvil set, side by side (TEST_SERIAL=1: one after the other)
	@bash tools/test.sh

coverage: setup  ## Contract coverage of the contract tests alone: table, .build/coverage/{lcov.info,coverage.json}
	$(APE) test tests/contracts tests/coverage -q --contract-coverage

bench: setup  ## Benchmarks (gas of voting and rewards; worker latency, memory, Merkle, RPC budget; matching workflows): bench/results.json, bench/REPORT.md
	$(APE) run bench_gas --network $(ANVIL_NETWORK)
	$(APE) run bench_rewards --network $(ANVIL_NETWORK)
	$(APE) run bench_worker
	$(APE) run bench_rpc
	$(VENV)/bin/python scripts/bench_matching.py
	$(VENV)/bin/python scripts/bench_plots.py

wheel:  ## The operator's wheel in dist/ (worker, ABIs, network definitions; installs without Node or solc)
	@bash tools/build_wheel.sh dist

check: setup lint slither  ## Static gates: ruff (lint, format), Slither (no unjustified High/Medium); coverage runs in make test

slither:  ## Slither static analysis of the contracts (own virtualenv .venv-slither)
	@mkdir -p .build && bash tools/slither.sh > .build/slither.txt 2>&1 || { cat .build/slither.txt; exit 1; }
	@tail -n 1 .build/slither.txt

lint:  ## ruff lint and format check
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

format:  ## Apply ruff formatting and fixes
	$(VENV)/bin/ruff check --fix . && $(VENV)/bin/ruff format .

clean:  ## Remove build outputs and caches (keeps .venv and node_modules)
	rm -rf .build contracts/.cache .pytest_cache .ruff_cache .hypothesis dist build
