# make run   — set up .venv when needed, then run the service (`publisher run`) on ./config.toml
# make test  — set up .venv with the test dependencies when needed, then run the tests
# make clean — remove everything generated (the venv, feeds/ output, the database, caches)
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
	$(BIN)/publisher --config config.toml run

publish: $(VENV)/.run-installed
	$(BIN)/publisher --config config.toml publish

# Debian packages that some tests and benchmarks use. Installed when this machine can (root
# and apt-get, as in CI); elsewhere the tests that need them skip, saying why.
TEST_DEBS  := nginx-light chromium newsboat
BENCH_DEBS := nginx-light wrk
define install_debs
	@missing=""; for p in $(1); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing Debian packages:$$missing"; \
	    export DEBIAN_FRONTEND=noninteractive; \
	    apt-get install -y -q --no-install-recommends $$missing >/dev/null 2>&1 || \
	    { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q --no-install-recommends $$missing >/dev/null 2>&1; } || \
	    echo "could not install$$missing: the tests that need them will skip"; \
	  else echo "not installed:$$missing (needs root and apt-get): the tests that need them will skip"; fi; \
	fi
endef

$(VENV)/.test-debs: | $(BIN)/python
	$(call install_debs,$(TEST_DEBS))
	@touch $@

test: $(VENV)/.test-installed $(VENV)/.test-debs
	$(BIN)/python -m pytest -q

$(VENV)/.bench-installed: $(VENV)/.test-installed  # the benches use reader and the test dependencies
	$(PIP) -e '.[bench]'
	@touch $@

bench: $(VENV)/.bench-installed
	$(call install_debs,$(BENCH_DEBS))
	$(BIN)/python bench/pipeline.py
	$(BIN)/python bench/dedup.py
	$(BIN)/python bench/understanding.py
	$(BIN)/python bench/serve.py
	$(BIN)/python bench/attack.py
	$(BIN)/python bench/aggregate.py
	$(BIN)/python bench/crash.py
	$(BIN)/python bench/load.py
	$(BIN)/python bench/hostile.py
	$(BIN)/python bench/writefail.py
	$(BIN)/python bench/concurrency.py
	$(BIN)/python bench/feed_fallback.py
	$(BIN)/python bench/realfeeds.py

smoke: $(VENV)/.run-installed
	../shared/tools/smoke

# Everything generated (the venv, what `publisher publish` writes with the shipped [paths], build
# and test caches) and nothing else: feeds/README.md (tracked) and whatever is in sources/ stay.
clean:
	rm -rf $(VENV) publisher.db publisher.db-* publisher.db.*lock .feeds.changes *.egg-info build dist .pytest_cache .hypothesis bench/work
	[ ! -d feeds ] || find feeds -mindepth 1 -maxdepth 1 ! -name README.md -exec rm -rf {} +
	find publisher tests bench -name __pycache__ -type d -prune -exec rm -rf {} +
