# digilabo: the two commands a new machine needs are `make demo` and `make test`.
# Every target installs what it needs first; `make install` is idempotent.
SHELL := /bin/bash
PYTHON ?= python3.11
# Overridable for trying the install elsewhere: make install VENV=/tmp/v
VENV ?= .venv
PY := $(VENV)/bin/python
# `make install` prints one line per stage; everything else goes here.
INSTALL_LOG ?= var/install.log
STAGE := scripts/stage.sh $(INSTALL_LOG)
# Runtime packages (also in the Docker image) and the test-only tools.
APT_PACKAGES := $(shell cat scripts/apt-packages.txt scripts/apt-packages-dev.txt)

.PHONY: install apt python runtime-check demo up test lint check-build bench clean

install: apt python runtime-check

apt:
	@$(STAGE) "system packages" scripts/install-apt.sh $(APT_PACKAGES)

python: apt
	@$(STAGE) "Python packages" scripts/install-python.sh $(PYTHON) $(VENV)

runtime-check: python
	@$(STAGE) "browser, fonts and models" $(PY) scripts/check-runtime.py

demo: install
	$(VENV)/bin/digilabo demo

up: install
	$(VENV)/bin/digilabo up

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy jobs config composition services queues worker intake_api monitoring digilabo standin

# The sdist and wheel build with the newest setuptools allowed, without a warning.
check-build: install
	scripts/check-build.sh $(PY)

test: install lint check-build
	$(VENV)/bin/pytest

bench: install
	@for b in bench/[a-z]*.py; do $(PY) $$b || exit 1; done

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache
