# redis-tls-runbook: the two commands are `make demo` (main job) and `make test` (whole suite).
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
export RUNBOOK_WORK_DIR ?= $(CURDIR)/build/work

.PHONY: setup setup-dev demo test lint unit unit-py313 notebooks lab screenshots bench clean

setup:
	@scripts/setup.sh

setup-dev:
	@scripts/setup.sh --dev

## main job: every notebook, in order, headless, against a sandbox Redis the runbook starts itself
demo: setup
	$(PY) -m runbook run

## the whole test suite: lint, types, unit + integration tests, notebook regression (nbval), and the unit
## tests on Python 3.13 too; scripts/test.sh runs the last three legs side by side.
## As root, scripts/test.sh starts a private Docker engine (scripts/docker-engine.sh), builds the local
## Redis image and runs nbval against containers (RUNBOOK_BACKEND=docker), stopping the engine after;
## otherwise nbval runs against the binary backend and says why.
test: setup-dev lint
	@PY=$(PY) scripts/test.sh

## the unit tests (no server: not marked integration/browser) on the newest supported Python, in .venv313
## (scripts/setup.sh --dev creates it when python3.13 is found; skipped with a note otherwise)
unit-py313: setup-dev
	@if [ -x .venv313/bin/python ]; then .venv313/bin/python -m pytest tests -q -p no:cacheprovider -m "not integration and not browser"; \
	else echo "unit-py313: skipped: no .venv313 (python3.13 not found by scripts/setup.sh)"; fi

lint: setup-dev
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/ruff format --check src tests benchmarks
	$(VENV)/bin/mypy

## re-execute the notebooks and commit their outputs (the nbval reference)
notebooks: setup-dev
	$(PY) -m runbook notebooks --refresh

## JupyterLab 4 on notebooks/ with this venv's kernel, ipywidgets, and the project's lab settings
## (jupyter/settings/overrides.json: no news pop-up, the notebook's kernel starts without asking).
## Kernels see RUNBOOK_WORK_DIR, so the forms drive the same parameters and work dir as `make demo`.
## Extra server options: make lab LAB_ARGS="--no-browser --port 8899"
LAB_FLAGS := --ServerApp.root_dir=notebooks --LabApp.app_settings_dir=$(CURDIR)/jupyter/settings
lab: setup-dev
	$(VENV)/bin/jupyter lab $(LAB_FLAGS) $(if $(filter 0,$(shell id -u)),--allow-root) $(LAB_ARGS)

## docs/screenshots from a fresh run of the browser test (tests/test_browser.py) on this checkout:
## stale screenshots are removed first, so a skipped notebook fails the copy instead of reusing old images
screenshots: setup-dev
	rm -f build/test-artifacts/browser-*.png
	$(PY) -m pytest tests/test_browser.py -q -p no:cacheprovider -m browser -rs
	$(PY) tests/browser_support.py

bench: setup-dev
	$(PY) benchmarks/run_all.py

clean:
	rm -rf build .pytest_cache .mypy_cache .ruff_cache
