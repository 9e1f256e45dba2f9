# paperfeed: `make run` serves it, `make test` tests it, `make bench` measures it.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
export PAPERFEED_DATA_DIR ?= data

CHROMIUM := /usr/bin/chromium
.PHONY: run test test-fast bench lint audit screenshots install clean
# Test processes (pytest-xdist): two, the cores CI has (`make test JOBS=1`: one process; more cores: JOBS=N).
JOBS ?= 2

# The browser tests drive Debian's chromium (never a downloaded one).
$(CHROMIUM):
	if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

install: $(STAMP)

# Serves as soon as the demo is imported; the server indexes it for search in the background.
run: $(STAMP)
	$(BIN)/paperfeed init --demo --no-index
	$(BIN)/paperfeed serve --with-scheduler

# The model the tests embed with, exported once for both runs and all their workers, and the sample's vectors
# it made (tests/conftest.py, model_cache): `make test` empties it first, so nothing outlives one run.
TEST_MODELS := $(abspath build/test-models)

# The whole suite twice: on SQLite (the embedded default), then on a real PostgreSQL that pgserver starts.
test: $(STAMP) $(CHROMIUM)
	$(BIN)/ruff check src tests bench
	rm -rf $(TEST_MODELS)
	PAPERFEED_TEST_MODELS=$(TEST_MODELS) $(BIN)/python -m pytest -n $(JOBS)
	PAPERFEED_TEST_MODELS=$(TEST_MODELS) $(BIN)/python -m pytest -n $(JOBS) --store postgresql

# The inner loop: SQLite only, no browser, not the whole-corpus import, no test that starts, kills or floods
# paperfeed processes; stops at the first failure. It keeps the exported model between runs (its file is named
# by the export's version, as the product's own cache is), never the vectors.
test-fast: $(STAMP)
	rm -f $(TEST_MODELS)/sample-vectors.npz
	PAPERFEED_TEST_MODELS=$(TEST_MODELS) $(BIN)/python -m pytest -n $(JOBS) -x -m "not slow and not browser and not process"

# Refresh docs/screenshots/ from the demo that `make run` serves (the browser tests write theirs under build/).
screenshots: $(STAMP) $(CHROMIUM)
	$(BIN)/python tools/screenshots.py

bench: $(STAMP)
	$(BIN)/python bench/run_all.py

# Known vulnerabilities in the installed dependencies (needs the network: the advisory database is online).
PIP_AUDIT := pip-audit==2.10.1
audit: $(STAMP)
	$(BIN)/pip install --quiet '$(PIP_AUDIT)'
	$(BIN)/pip-audit --progress-spinner off --skip-editable

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

clean:
	rm -rf $(VENV) build src/*.egg-info .pytest_cache
