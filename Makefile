# certops.aws: `make test` runs every test, `make demo` shows the collection at work.
# Both create .venv and install the pinned requirements first; nothing needs to be started by hand.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
LINT_STAMP := $(VENV)/.installed-lint

.PHONY: venv test unit demo lint format sanity clean

venv: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] >= (3, 11) else "Python 3.11 or later is needed, found " + sys.version.split()[0])'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt -c constraints.txt
	@touch $@

$(LINT_STAMP): $(STAMP) requirements-lint.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-lint.txt -c constraints.txt
	@touch $@

test: $(STAMP)
	$(BIN)/python -m pytest

unit: $(STAMP)
	$(BIN)/python -m pytest tests/unit

demo: $(STAMP)
	$(BIN)/python docs/demo/run_demo.py

lint: $(LINT_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# ansible-test sanity on a copy of the checkout in a real ansible_collections tree; works offline.
sanity: $(LINT_STAMP)
	$(BIN)/python tests/sanity/run_sanity.py

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache tests/output
