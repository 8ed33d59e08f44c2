# Two commands matter: `make run` (set up and run everything) and `make test` (set up, lint, test).
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt constraints.txt pyproject.toml | cksum | cut -d' ' -f1)
# The first Python >= 3.11 on the PATH.
PYTHON ?= $(shell for p in python3 python3.13 python3.12 python3.11; do \
	command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null \
	&& { echo $$p; break; }; done)
PYTEST_ARGS ?=

.PHONY: help install run test test-fast lint format migrate bench smoke cluster-local chaos clean screenshots

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

$(STAMP): requirements.txt requirements-dev.txt constraints.txt pyproject.toml
	@test -n "$(PYTHON)" || { echo "Python >= 3.11 is required (none found on PATH)"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt -c constraints.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	@rm -f $(VENV)/.installed-* && touch $@

install: $(STAMP) ## create the virtualenv and install the pinned dependencies

migrate: install ## apply database migrations
	$(BIN)/python manage.py migrate --noinput

run: migrate ## set up and run gateway, simulator and worker on http://127.0.0.1:8000 (reloads on code changes)
	$(BIN)/python manage.py dev_bootstrap
	$(BIN)/python manage.py purge_expired_files --schedule
	$(BIN)/python -m scripts.run --reload

lint: install ## run every pre-commit hook on all files
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/pre-commit run --all-files --show-diff-on-failure

format: install ## format the code
	$(BIN)/ruff format . && $(BIN)/ruff check --fix .

test: lint ## set up, lint, and run the whole test suite
	$(BIN)/python -m pytest $(PYTEST_ARGS)

screenshots: install ## render the dashboard's main pages into docs/screenshots/ (needs Chromium)
	$(BIN)/python scripts/screenshots.py

clean: ## remove the virtualenv and local state
	rm -rf $(VENV) var .pytest_cache .ruff_cache

test-fast: install ## the quick tests only (no lint, no slow multi-process suites)
	$(BIN)/python -m pytest -m "not slow" -q $(PYTEST_ARGS)

bench: install ## the gateway benchmark against LiteLLM, auth and tracing cost (needs PostgreSQL, Redis and wrk; QUICK=1 for a short run)
	$(BIN)/python bench/gateway.py
	$(BIN)/python bench/auth.py
	$(BIN)/python bench/tracing.py
	$(BIN)/python bench/validation.py

# The deploy pipeline runs this after every rollout. API_KEY is read from the environment (set on
# the command line, it is exported to the script) so the key never appears in the echoed command.
smoke: install ## smoke-test a running gateway: make smoke URL=https://… [API_KEY=…]
	@test -n "$(URL)" || { echo "usage: make smoke URL=https://gateway.example.com [API_KEY=...]" >&2; exit 2; }
	$(BIN)/python scripts/smoke.py "$(URL)"

chaos: install ## fault scenarios on a private cluster (Redis/PostgreSQL restarts, killed replicas and workers); prints figures, CHAOS_SEED=n replays
	$(BIN)/python -m pytest tests/chaos -s -q -p no:cacheprovider $(PYTEST_ARGS) 2>&1 | grep -oE '\[chaos\].*|[0-9]+ (passed|failed|errors?|skipped).*'; exit $${PIPESTATUS[0]}

cluster-local: install ## 3 gateway replicas + 2 workers behind nginx on :8080 (needs DATABASE_URL, REDIS_URL)
	$(BIN)/python -m scripts.cluster_local
