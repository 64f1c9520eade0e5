# certops.aws: `make test` runs every test, `make demo` shows the collection at work.
# Both create .venv and install the pinned requirements first; nothing needs to be started by hand.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
LINT_STAMP := $(VENV)/.installed-lint

.PHONY: venv test unit e2e demo emulator lint format sanity docs docs-check benchmark clean

venv: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] >= (3, 11) else "Python 3.11 or later is needed, found " + sys.version.split()[0])'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt -c constraints.txt
	@touch $@

$(LINT_STAMP): $(STAMP) requirements-lint.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-lint.txt -c constraints.txt
	@touch $@

# Unbuffered: piped into a file or CI log, progress shows as it happens rather than minutes later.
test: $(STAMP)
	PYTHONUNBUFFERED=1 $(BIN)/python -m pytest

unit: $(STAMP)
	PYTHONUNBUFFERED=1 $(BIN)/python -m pytest tests/unit

e2e: $(STAMP)
	PYTHONUNBUFFERED=1 $(BIN)/python -m pytest tests/e2e

demo: $(STAMP)
	$(BIN)/python docs/demo/run_demo.py

# A local IAM emulator for your own playbooks: prints what to export, runs until Ctrl-C.
emulator: $(STAMP)
	$(BIN)/python tools/emulator.py

# ruff on the Python code; ansible-lint (production profile) on the role, the docs playbooks and the
# integration targets.
lint: $(LINT_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/ansible-lint roles playbooks docs/examples tests/integration/targets

# ansible-test sanity and units on a copy of the checkout in a real ansible_collections tree; works offline.
sanity: $(LINT_STAMP)
	$(BIN)/python tests/sanity/run_sanity.py sanity
	$(BIN)/python tests/sanity/run_sanity.py units

# The reference in docs/reference/, from the modules' own documentation (antsibull-docs).
docs: $(LINT_STAMP)
	$(BIN)/python tests/sanity/build_docs.py

docs-check: $(LINT_STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/antsibull-docs lint-collection-docs --plugin-docs .
	$(BIN)/python tests/sanity/build_docs.py --check

# Figures for docs/performance.md (about 20 minutes on 2 cores). A measurement, not a test.
benchmark: $(STAMP)
	$(BIN)/python -m tests.benchmarks.run

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache tests/output
