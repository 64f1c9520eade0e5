# certops.aws: `make test` runs every test, `make demo` shows the collection at work.
# Both create .venv and install the pinned requirements first; nothing needs to be started by hand.
#
# The Python: the newest that runs the newest ansible-core, found by tools/pythons.py ($(pyenv root)/versions
# first, then PATH): 3.13 or 3.12 with ansible-core 2.21, else 3.11 with ansible-core 2.19. `make PYTHON=...`
# chooses another. Everything installed is pinned by requirements/lock/default-<series>.txt.

PYTHON ?= $(shell python3 tools/pythons.py)
SERIES := $(if $(PYTHON),$(shell $(PYTHON) tools/pythons.py --series))
VENV := .venv
BIN := $(VENV)/bin
CORE := requirements/ansible-core-$(SERIES).txt
LOCK := requirements/lock/default-$(SERIES).txt
STAMP := $(VENV)/.installed-$(SERIES)
LINT_STAMP := $(VENV)/.installed-lint-$(SERIES)
PIP_INSTALL := $(BIN)/python -m pip install --quiet --disable-pip-version-check
# galaxy-importer (make lint's Galaxy import check) in a venv of its own: it wants attrs<24, which .venv's tools do
# not allow. Inside .venv, so .venv's rebuild (--clear) removes it, and its dependency on $(STAMP) rebuilds it.
IMPORTER := $(VENV)/importer
IMPORTER_STAMP := $(IMPORTER)/.installed
# Where community.crypto is extracted for tests, lint and docs (ansible_collections/ below it).
COLLECTIONS := $(VENV)/collections
# `make matrix CELLS="controller-2.17 floors-3.9"` runs only those cells (python3 tools/matrix.py list);
# `make matrix FRESH=1` runs again the cells that already passed on this commit.
CELLS ?=
FRESH ?=
# Test files run on this many pytest-xdist workers (a file's tests stay together, in order, on one worker): the
# end-to-end tests mostly wait for ansible and the emulator, so two workers on 2 cores take two thirds of the time.
# `make test TEST_WORKERS=0` runs everything in one process.
TEST_WORKERS ?= 2
PYTEST := PYTHONUNBUFFERED=1 $(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile

.PHONY: venv test unit e2e demo emulator lint format sanity docs docs-check matrix matrix-lock benchmark clean

venv: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt $(CORE) $(LOCK) requirements-collections.txt tools/dependencies.py
	@test -n "$(SERIES)" || { echo "no usable Python found (see above); run make with PYTHON=/path/to/python3.13" >&2; exit 1; }
	@echo "Python $$($(PYTHON) -c 'import platform; print(platform.python_version())') ($(PYTHON)), ansible-core $(SERIES)"
	$(PYTHON) -m venv --clear $(VENV)
	$(PIP_INSTALL) -r requirements-dev.txt -r $(CORE) -c $(LOCK)
	# The collections galaxy.yml depends on (community.crypto), offline: see requirements-collections.txt.
	$(BIN)/python -m tools.dependencies $(COLLECTIONS)
	@touch $@

$(LINT_STAMP): $(STAMP) requirements-lint.txt
	$(PIP_INSTALL) -r requirements-lint.txt -r $(CORE) -c $(LOCK)
	@touch $@

$(IMPORTER_STAMP): $(STAMP) requirements/galaxy-importer.txt requirements/ansible-core-2.19.txt \
  requirements/lock/galaxy-importer.txt
	$(PYTHON) -m venv --clear $(IMPORTER)
	$(IMPORTER)/bin/python -m pip install --quiet --disable-pip-version-check \
	  -r requirements/galaxy-importer.txt -c requirements/lock/galaxy-importer.txt
	@touch $@

# Unbuffered: piped into a file or CI log, progress shows as it happens rather than minutes later.
# The lint tools and the importer's venv are there for the tests of make lint's own checks (tests/tools/: the Galaxy
# import check, antsibull-nox's extra checks); CI's make lint right after reuses both.
test: $(STAMP) $(LINT_STAMP) $(IMPORTER_STAMP)
	$(PYTEST)

unit: $(STAMP)
	$(PYTEST) tests/unit

e2e: $(STAMP)
	$(PYTEST) tests/e2e

demo: $(STAMP)
	$(BIN)/python docs/demo/run_demo.py

# A local IAM emulator for your own playbooks: prints what to export, runs until Ctrl-C.
emulator: $(STAMP)
	$(BIN)/python tools/emulator.py

# ruff on the Python code; antsibull-nox's extra checks (antsibull-nox.toml); ansible-lint (production profile) on
# the role, the docs playbooks and the integration targets; the execution environment definition through
# `ansible-builder create`; Galaxy's import check (galaxy-importer on the built tarball, offline), which fails on any
# warning or error it reports.
lint: $(LINT_STAMP) $(IMPORTER_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	# --no-venv: the checks run on .venv's Python, nox creates no venv and installs nothing; --envdir keeps the
	# session's scratch files (the checks' inputs) inside .venv rather than in a .nox/ of the checkout.
	$(BIN)/nox --no-venv --envdir $(VENV)/nox -s extra-checks
	# ansible-lint installs galaxy.yml's dependencies unless they are found: community.crypto is, offline.
	PATH="$(CURDIR)/$(BIN):$$PATH" ANSIBLE_COLLECTIONS_PATH="$(CURDIR)/$(COLLECTIONS)" \
	  $(BIN)/ansible-lint roles playbooks docs/examples tests/integration/targets
	$(BIN)/python tools/check_ee.py
	$(BIN)/python tools/check_galaxy_import.py

# ansible-test sanity and units on a copy of the checkout in a real ansible_collections tree; works offline.
# ansible-test's HOME is $(VENV)/ansible-test-home, never yours.
sanity: $(LINT_STAMP)
	$(BIN)/python tools/run_sanity.py sanity
	$(BIN)/python tools/run_sanity.py units

# The reference in docs/reference/, from the modules' own documentation (antsibull-docs).
docs: $(LINT_STAMP)
	$(BIN)/python tools/build_docs.py

docs-check: $(LINT_STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" ANSIBLE_COLLECTIONS_PATH="$(CURDIR)/$(COLLECTIONS)" \
	  $(BIN)/antsibull-docs lint-collection-docs --plugin-docs .
	$(BIN)/python tools/build_docs.py --check

# The version matrix (ansible-core 2.17-2.21, target Pythons 3.9-3.13, the SDK floors), each cell in venvs of
# its own under .matrix/; the summary goes to .matrix/summary.md. See tools/matrix.py.
matrix:
	python3 tools/matrix.py run $(if $(FRESH),--fresh) $(CELLS)

# Re-resolve requirements/lock/*.txt to the newest versions the package index gives (then run `make matrix`).
matrix-lock:
	python3 tools/matrix.py lock

# Figures for docs/performance.md (about 20 minutes on 2 cores). A measurement, not a test.
benchmark: $(STAMP)
	$(BIN)/python -m tests.benchmarks.run

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) .matrix .pytest_cache .ruff_cache tests/output
