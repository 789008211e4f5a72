# The two commands: `make run` serves the portal, `make test` runs every check.
# Both set up what they need first (a virtual environment in .venv).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PY     := $(BIN)/python
MANAGE := $(PY) manage.py

.DEFAULT_GOAL := help
.PHONY: help run test lint typecheck pytest setup clean

help:
	@echo "make run    set up and serve the portal on http://127.0.0.1:8000 (demo data included)"
	@echo "make test   set up and run ruff, mypy and the whole pytest suite"

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

# A stamp per dependency set, so a changed pyproject.toml reinstalls.
# The base set includes the demo extra: localstripe, which `make run` starts for card payments.
$(VENV)/.installed-base: pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e '.[demo]'
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(VENV)/.installed-base $@

setup: $(VENV)/.installed-base

run: $(VENV)/.installed-base
	$(MANAGE) migrate --noinput
	$(MANAGE) load_demo
	$(MANAGE) collectstatic --noinput --verbosity 0
	$(MANAGE) serve

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(VENV)/.installed-dev
	$(BIN)/mypy portal tests

pytest: $(VENV)/.installed-dev
	$(BIN)/pytest $(PYTEST_ARGS)

test: lint typecheck pytest

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
