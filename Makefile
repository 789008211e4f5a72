# The two commands: `make run` serves the portal, `make test` runs every check.
# Both set up what they need first (a virtual environment in .venv).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PY     := $(BIN)/python
MANAGE := $(PY) manage.py

.DEFAULT_GOAL := help
.PHONY: help run test lint typecheck content-check pytest setup messages clean bench bench-quick bench-heap bench-tools scan

help:
	@echo "make run    set up and serve the portal on http://127.0.0.1:8000 (demo data included)"
	@echo "make test   set up and run ruff, mypy and the whole pytest suite"
	@echo "make scan   run the security scanners (bandit, pip-audit, wapiti, sqlmap) against a live demo portal"
	@echo "make messages  refresh the translation catalogues from the sources and compile them"

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
	$(MANAGE) content sync
	$(MANAGE) load_demo
	$(MANAGE) collectstatic --noinput --verbosity 0
	$(MANAGE) serve

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(VENV)/.installed-dev
	$(BIN)/mypy portal tests security

# The shipped content pages: exit code 1 if a file would be skipped.
content-check: $(VENV)/.installed-base
	$(MANAGE) content check

# The suite runs in PYTEST_WORKERS processes (pytest-xdist; each has its own test
# database and servers). PYTEST_WORKERS=0 runs it in this process.
PYTEST_WORKERS ?= 2
pytest: $(VENV)/.installed-dev
	$(BIN)/pytest -n $(PYTEST_WORKERS) $(PYTEST_ARGS)

test: lint typecheck content-check pytest

# Security scanners, each in its own virtual environment under var/scan/venvs/: bandit on
# the code, pip-audit on the installed dependencies, wapiti and sqlmap against a live portal
# with demo data (docs/scanning.md). Exit code 1 on any finding of medium severity or above.
# SCAN_ARGS="--only wapiti,sqlmap" picks scanners.
scan: $(VENV)/.installed-dev
	$(PY) security/scan.py $(SCAN_ARGS)

# Translations: collect every marked string into portal/locale/<lang>/LC_MESSAGES/django.po
# (new ones arrive untranslated, gone ones are dropped), then compile the .mo files,
# which are committed so that `make run` works without GNU gettext. This target needs
# it (apt-get install gettext). Translate the new entries, then run it again.
LOCALES := de
messages: $(VENV)/.installed-base
	$(MANAGE) makemessages $(addprefix -l ,$(LOCALES)) --no-obsolete --add-location=file \
		--ignore=.venv --ignore=var --ignore=build --ignore=dist --ignore=tests
	$(MANAGE) compilemessages $(addprefix -l ,$(LOCALES)) --ignore=.venv --ignore=var

# Load and latency figures into docs/benchmarks.md (needs PostgreSQL, Redis, wrk and
# Chromium; installs them with apt-get when run as root and they are missing).
bench-tools:
	@command -v wrk >/dev/null && command -v redis-server >/dev/null && ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 \
	  && test -x /usr/bin/chromium && test -x /usr/sbin/nginx \
	  || (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q wrk redis-server postgresql chromium nginx)

bench: $(VENV)/.installed-dev bench-tools
	$(PY) bench/run.py

bench-quick: $(VENV)/.installed-dev bench-tools
	$(PY) bench/run.py --quick

# The garbage collector's pauses in a pages process, before and after it settles its heap.
bench-heap: $(VENV)/.installed-dev
	$(PY) bench/heap.py

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
