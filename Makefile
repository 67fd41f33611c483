# The two commands of the README: `make demo` and `make test`. Both create the
# virtual environment and install everything they need on first use.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: demo test lint typecheck unit bench clean

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

unit: $(STAMP)
	$(BIN)/python -m pytest

test: lint typecheck unit

bench: $(STAMP)
	$(BIN)/python -m benchmarks.resolution

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
