# The two commands of the README: `make demo` and `make test`. Both create the
# virtual environment and install everything they need on first use.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: demo test lint typecheck unit redis-server browser screenshots bench bench-resolution bench-workers clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m devtools.demo

lint: $(STAMP)
	$(BIN)/ruff check src tests devtools benchmarks
	$(BIN)/ruff format --check src tests devtools benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy

# The worker tests use Redis as the broker: install Debian's server when missing
# (the tests start their own on a free loopback port; nothing runs as a service).
redis-server:
	@command -v redis-server >/dev/null 2>&1 || { \
		apt-get update -qq && \
		apt-get install -y --no-install-recommends redis-server; }

unit: $(STAMP) redis-server browser
	$(BIN)/python -m pytest

# The browser tests drive Debian's Chromium; Playwright's own browser downloads
# are never used.
browser:
	@test -x /usr/bin/chromium || { apt-get update && \
		apt-get install -y --no-install-recommends chromium; }

# Rewrite the pictures of docs/web-console.md from the browser tests.
screenshots: $(STAMP) browser
	PRIZM_SCREENSHOTS=1 $(BIN)/python -m pytest tests/web/test_browser.py

test: lint typecheck unit

# Measurements, not tests: they write docs/benchmarks.md.
bench: bench-resolution bench-workers

bench-resolution: $(STAMP)
	$(BIN)/python -m benchmarks.resolution

bench-workers: $(STAMP) redis-server
	$(BIN)/python -m benchmarks.workers

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
