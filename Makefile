# The two commands of the README. Each installs what it needs first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The JavaScript clients of the interop tests, pinned by their lock file.
INTEROP_NODE := tests/interop/node
INTEROP_NODE_DEPS := $(INTEROP_NODE)/node_modules/.package-lock.json

.PHONY: install run test lint typecheck clean

$(BIN)/authpi: pyproject.toml sdk/python/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]' -e 'sdk/python[starlette]'
	touch $(BIN)/authpi

$(INTEROP_NODE_DEPS): $(INTEROP_NODE)/package.json $(INTEROP_NODE)/package-lock.json
	npm ci --prefix $(INTEROP_NODE) --no-audit --no-fund --loglevel=error
	touch $@

install: $(BIN)/authpi

run: install
	$(BIN)/authpi dev

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

test: lint typecheck $(INTEROP_NODE_DEPS)
	$(BIN)/pytest

clean:
	rm -rf $(VENV) $(INTEROP_NODE)/node_modules .authpi-dev .pytest_cache .mypy_cache .ruff_cache
