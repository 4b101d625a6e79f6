# mlportfolio developer entry points. Everything installs into ./.venv.
PYTHON ?= python3
VENV := .venv
BIN := $(abspath $(VENV))/bin
# The CPU build of PyTorch (the rag and finetune templates need it). Installing it
# first keeps pip from pulling a multi-GB CUDA build as an unpinned dependency.
TORCH := torch==2.13.0
DEMO := demo/credit-risk

.DEFAULT_GOAL := help

help:  ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.dev-installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet $(TORCH)
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed  ## Install the `mlportfolio` command into .venv

install-dev: $(VENV)/.dev-installed  ## Install mlportfolio, every template's stack and dev tools

SYSTEM_DEPS := chromium wrk postgresql

system-deps:  ## Install the Debian packages the tests drive (chromium, wrk, postgresql), as root
	@missing=""; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	command -v wrk >/dev/null || missing="$$missing wrk"; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
	if [ -z "$$missing" ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	else echo "note: install$$missing (Debian: apt-get install$$missing) for the browser, load and server tests"; fi

demo: install  ## Render the classifier, train it and serve it on http://127.0.0.1:8000
	test -d $(DEMO) || $(BIN)/mlportfolio new classifier $(DEMO) --defaults
	$(MAKE) -C $(DEMO) install train serve PYTHON=$(BIN)/python

lint: install-dev  ## Ruff and mypy --strict on the generator
	$(BIN)/ruff check generator tests
	$(BIN)/ruff format --check generator tests
	$(BIN)/mypy --strict generator

test: install-dev system-deps lint  ## Lint, then every test (slow end-to-end ones included)
	$(BIN)/python -m pytest

test-fast: install-dev  ## Only the quick generator tests
	$(BIN)/python -m pytest -m "not slow"

examples: install  ## Regenerate examples/ from the templates
	$(BIN)/python -m mlportfolio.examples

clean:  ## Remove build outputs and the demo project (keeps .venv)
	rm -rf dist build demo .pytest_cache .mypy_cache .ruff_cache

.PHONY: help install install-dev system-deps demo lint test test-fast examples clean
