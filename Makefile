# make run   — set up .venv when needed, then run publisher on ./config.toml
# make test  — set up .venv with the test dependencies when needed, then run the tests
# Python: python3.11 when installed (what the pins are tested with), else python3 (3.11 or newer).
PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt

.PHONY: run test publish bench smoke clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "publisher needs Python 3.11 or newer, got " + sys.version.split()[0])'
	$(PYTHON) -m venv $(VENV)

$(VENV)/.run-installed: $(BIN)/python pyproject.toml constraints.txt
	$(PIP) -e .
	@touch $@

$(VENV)/.test-installed: $(VENV)/.run-installed
	$(PIP) -e '.[test]'
	@touch $@

run: $(VENV)/.run-installed
	$(BIN)/publisher --config config.toml publish

test: $(VENV)/.test-installed
	$(BIN)/python -m pytest -q

$(VENV)/.bench-installed: $(VENV)/.run-installed
	$(PIP) -e '.[bench]'
	@touch $@

bench: $(VENV)/.bench-installed
	$(BIN)/python bench/pipeline.py
	$(BIN)/python bench/dedup.py

smoke: $(VENV)/.run-installed
	../shared/tools/smoke

clean:
	rm -rf $(VENV) feeds/*/ publisher.db publisher.db-* publisher.db.lock
