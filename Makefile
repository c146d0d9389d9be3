# CRDA: two commands from a fresh clone.
#   make up     devnet + contracts + migrated database + API on 127.0.0.1:8000 (background)
#   make demo   a day in the city, seeded through the API (after make up)
#   make test   every test (contracts on a throwaway devnet, API, database), lint and types
#   make invariants  the long forge invariant run (>= 10,000 calls per invariant; minutes)
#   make bench  every benchmark once and issue 18's table (installs Debian's wrk when missing)
# Options: DEVNET=anvil (instead of Hardhat), TEST_DATABASE_URL=postgresql+psycopg://...

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DEVNET ?= hardhat
PYTEST_ARGS ?=
export HARDHAT_DISABLE_TELEMETRY_PROMPT := true

.PHONY: up down demo test lint install compile bench clean invariants

up: install
	$(BIN)/crda up --kind $(DEVNET)

demo: install
	$(BIN)/crda demo

down:
	@if [ -x $(BIN)/crda ]; then $(BIN)/crda down; fi

# The slowest 25 tests end every run's log, so CI shows where its time goes.
PYTEST = CRDA_TEST_DEVNET=$(DEVNET) $(if $(TEST_DATABASE_URL),CRDA_TEST_DATABASE_URL=$(TEST_DATABASE_URL)) \
	$(BIN)/python -m pytest --durations=25 $(PYTEST_ARGS)

test: install chromium lint
	$(PYTEST)

# The tests alone, without lint: CI's PostgreSQL pass, run beside `make test` (.ci/run).
.PHONY: pytest
pytest: install
	$(PYTEST)

lint: install
	$(BIN)/ruff check api bench crda_client identity tests
	$(BIN)/ruff format --check api bench crda_client identity tests
	$(BIN)/mypy api bench crda_client identity

compile: install
	$(BIN)/crda compile

# The contracts' invariants, long run (foundry.toml's default profile); make test runs a short one.
invariants: install
	node_modules/.bin/forge test --root . -vv

bench: install wrk
	$(BIN)/crda bench all

# The benchmarks' load generator: Debian's wrk (a compiled generator, so the client is not the
# ceiling; see bench/earning.py and bench/reads.py).
.PHONY: wrk
wrk:
	@command -v wrk >/dev/null || { \
		if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
		$$SUDO apt-get update && $$SUDO apt-get install -y wrk; }

install: $(VENV)/.installed node_modules/.installed

# A headless browser for the page tests (make test only): Debian's chromium, and a Korean font
# (fonts-nanum) so the Korean certificate's screenshot shows Hangul rather than empty boxes;
# and promtool (Debian's prometheus) to check the alert rules (their test loads the YAML
# without it, and runs promtool's checks and unit tests with it).
.PHONY: chromium
chromium:
	@{ command -v chromium >/dev/null && fc-list :lang=ko | grep -q . && command -v promtool >/dev/null; } || { \
		if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
		$$SUDO apt-get update && $$SUDO apt-get install -y chromium fonts-nanum \
		&& { $$SUDO apt-get install -y --no-install-recommends prometheus \
			|| echo "promtool did not install: the alert rules are checked without it"; }; }

# Python: a venv with the project (editable) and its dev tools, redone when pyproject changes.
$(VENV)/.installed: pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "need $(PYTHON) (3.11+)"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

# Node: the pinned compiler, Hardhat, OpenZeppelin and anvil at the versions package-lock.json
# records (`npm ci` refuses this lock file: npm omits the other platforms' optional anvil builds).
node_modules/.installed: package.json package-lock.json
	@command -v npm >/dev/null || { echo "need Node.js 20+ and npm (Debian: apt-get install nodejs npm)"; exit 1; }
	npm install --no-audit --no-fund
	touch $@

clean: down
	rm -rf build var .pytest_cache .mypy_cache .ruff_cache
