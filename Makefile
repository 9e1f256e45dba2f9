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

# uv installs the same pinned packages pip would: `make install` into a fresh .venv took 3 s here, against pip's
# 84 s. It compiles no bytecode: compiling every installed module took 28 s more (torch alone is thousands),
# while Python compiles what is imported, once, as it first imports it (below). Where uv cannot (no uv wheel,
# an index only pip is configured for), pip does it.
# uv reads no pip configuration: where pip is told to look (its environment, else its configuration files:
# a mirror, a folder of wheels such as a CPU build of torch) is passed on.
UV := uv==0.13.8
pip_setting = $(or $(PIP_$(1)),$(shell $(PYTHON) -m pip config get global.$(2) 2>/dev/null))
INDEX_URL = $(call pip_setting,INDEX_URL,index-url)
FIND_LINKS = $(call pip_setting,FIND_LINKS,find-links)
UV_INSTALL = $(BIN)/uv pip install --quiet --python $(BIN)/python --system-certs \
	$(if $(INDEX_URL),--index-url $(INDEX_URL)) $(foreach link,$(FIND_LINKS),--find-links $(link))
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	{ $(BIN)/pip install --quiet '$(UV)' && UV_HTTP_TIMEOUT=30 $(UV_INSTALL) -e '.[dev]'; } \
		|| { echo "uv could not install the dependencies; pip installs them"; $(BIN)/pip install --quiet -e '.[dev]'; }
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

# The whole suite twice, both at once: on SQLite (the embedded default) and on a real PostgreSQL that pgserver
# starts. One pass after the other left the cores idle an eighth of the time (tests waiting on a server, a
# timeout, a browser); side by side they keep both busy: 505 s against 561 s one after the other, measured here
# on two cores (fresh-clone runs of the same suite vary by more than that). `bash .ci/run` on a fresh clone,
# installing included (the aim is 7 minutes), run in turn with the code before the last round of changes:
# 7:39 and 7:48 against 8:49 and 9:19; after the install was lightened, 8:42 against 9:11 in a slower hour;
# with quicker starts (libraries loaded on first use, the model exported from the first step) 7:29 and 7:52
# against 7:29 and 7:52, then 7:14 and 7:32 against 7:46 and 7:51: inside the noise. The machine is 96 % busy.
# The PostgreSQL pass reports as it goes, the SQLite pass into build/test-sqlite.log, printed when both are done.
# `make test SERIAL=1`: one pass after the other, both reporting as they go.
SQLITE_LOG := build/test-sqlite.log
# Python writes the bytecode of what it imports once (paperfeed, the tests, the installed packages), for the
# processes after it to read: with PYTHONDONTWRITEBYTECODE set (some shells and images set it) each of the
# hundreds of `paperfeed` processes and test workers compiled them again (0.17 s of a core for a server's
# imports alone, when only paperfeed's own modules were left to compile).
run test test-fast bench: export PYTHONDONTWRITEBYTECODE =
# --dist loadgroup: the tests of a module that starts one server (or one browser) for all of them run in one
# worker (pytest.mark.xdist_group), not in both, each starting its own (tests/support/xdist_groups.py keeps that
# working under pytest 9.2). `make test-fast` keeps plain load: grouped, it took 1:51 against 1:48.
PYTEST := PAPERFEED_TEST_MODELS=$(TEST_MODELS) $(BIN)/python -m pytest -n $(JOBS) --dist loadgroup
test: $(STAMP) $(CHROMIUM)
	rm -rf $(TEST_MODELS)
	mkdir -p build
	@# The model is exported in the background from the start (tests/support/model.py: the passes' first tests
	@# wait for it) while ruff checks and one process compiles what collecting the tests imports (about 1,500
	@# modules, 6 s of a core after a fresh install) before the passes start six processes at once, each of which
	@# would compile them all again. A failed check stops the export. Its output (transformers' progress bar, or
	@# why it failed, which the fixture then says again) goes to build/test-model-export.log.
	@$(BIN)/python -m tests.support.model $(TEST_MODELS) > build/test-model-export.log 2>&1 & export=$$!; \
	{ $(BIN)/ruff check src tests bench && $(BIN)/python -m pytest --collect-only -q -p no:cacheprovider > /dev/null; } \
		|| { kill $$export; exit 1; }
ifdef SERIAL
	$(PYTEST)
	$(PYTEST) --store postgresql
else
	@echo "SQLite pass: started, its report follows the PostgreSQL pass's ($(SQLITE_LOG))"
	@$(PYTEST) > $(SQLITE_LOG) 2>&1 & sqlite=$$!; \
	trap 'kill $$sqlite 2>/dev/null' INT TERM; \
	$(PYTEST) --store postgresql; postgresql=$$?; \
	wait $$sqlite; sqlite=$$?; \
	echo; echo "SQLite pass ($(SQLITE_LOG)):"; cat $(SQLITE_LOG); \
	test $$sqlite = 0 -a $$postgresql = 0 || { echo "make test: failed (SQLite pass exit $$sqlite, PostgreSQL pass exit $$postgresql)"; exit 1; }
endif

# The inner loop: SQLite only, no browser, no test that reads the whole corpus, none that starts, kills or floods
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
