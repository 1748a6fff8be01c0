# digilabo: the two commands a new machine needs are `make demo` and `make test`.
# Every target installs what it needs first; `make install` is idempotent.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# Runtime packages (also in the Docker image) and the test-only tools.
APT_PACKAGES := $(shell cat scripts/apt-packages.txt scripts/apt-packages-dev.txt)

.PHONY: install apt demo up test lint bench clean

install: apt $(STAMP)

apt:
	@scripts/install-apt.sh $(APT_PACKAGES)

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) is required"; exit 1; }
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

demo: install
	$(VENV)/bin/digilabo demo

up: install
	$(VENV)/bin/digilabo up

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy jobs config composition services queues worker intake_api monitoring digilabo standin

test: install lint
	$(VENV)/bin/pytest

bench: install
	@for b in bench/[a-z]*.py; do $(PY) $$b || exit 1; done

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache
