# Kura — `make run` starts the embedded stack with demo data; `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
RUNTIME_STAMP := $(VENV)/.runtime-installed
DEV_STAMP := $(VENV)/.dev-installed
# The real dvc tool, 3 and 2 (each in its own environment), for the tests that check Kura against what DVC
# writes and keeps. DVC 2 predates pathspec 0.12 and dulwich 0.22, whose changes it cannot work with.
DVC_TOOL_ENV := $(VENV)/dvc-tool
DVC_TOOL_STAMP := $(DVC_TOOL_ENV)/.installed
DVC_TOOL_PINS := 'dvc==3.67.1'
DVC2_TOOL_ENV := $(VENV)/dvc2-tool
DVC2_TOOL_STAMP := $(DVC2_TOOL_ENV)/.installed
DVC2_TOOL_PINS := 'dvc==2.58.2' 'pathspec<0.12' 'dulwich<0.22'
# mlcroissant, the Croissant reference validator, for the tests that check Kura's Croissant exports.
CROISSANT_TOOL_ENV := $(VENV)/croissant-tool
CROISSANT_TOOL_STAMP := $(CROISSANT_TOOL_ENV)/.installed
CROISSANT_TOOL_PINS := 'mlcroissant==1.1.1'
PROD_CHECK_ENV := DJANGO_SETTINGS_MODULE=kura.settings.production \
	KURA_SECRET_KEY=ci-only-dummy-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz \
	DATABASE_URL=postgres://postgres@127.0.0.1:5432/kura

.PHONY: run test lint services chromium dvc-tool croissant-tool compose-check wrk bench-lookup bench-access bench-lineage bench-dvc bench-scan clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(RUNTIME_STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e .
	touch $@

$(DEV_STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(RUNTIME_STAMP) $@

run: $(RUNTIME_STAMP)
	$(PY) -m kura.launcher

services:
	scripts/ensure-services.sh

chromium:
	@command -v chromium >/dev/null 2>&1 || (apt-get update && apt-get install -y chromium)

$(DVC_TOOL_STAMP):
	$(PYTHON) -m venv $(DVC_TOOL_ENV)
	$(DVC_TOOL_ENV)/bin/python -m pip install --quiet $(DVC_TOOL_PINS)
	touch $@

$(DVC2_TOOL_STAMP):
	$(PYTHON) -m venv $(DVC2_TOOL_ENV)
	$(DVC2_TOOL_ENV)/bin/python -m pip install --quiet $(DVC2_TOOL_PINS)
	touch $@

dvc-tool: $(DVC_TOOL_STAMP) $(DVC2_TOOL_STAMP)

$(CROISSANT_TOOL_STAMP):
	$(PYTHON) -m venv $(CROISSANT_TOOL_ENV)
	$(CROISSANT_TOOL_ENV)/bin/python -m pip install --quiet $(CROISSANT_TOOL_PINS)
	touch $@

croissant-tool: $(CROISSANT_TOOL_STAMP)

test: $(DEV_STAMP) services chromium dvc-tool croissant-tool
	KURA_TEST_DVC=$(abspath $(DVC_TOOL_ENV))/bin/dvc KURA_TEST_DVC2=$(abspath $(DVC2_TOOL_ENV))/bin/dvc \
	KURA_TEST_MLCROISSANT=$(abspath $(CROISSANT_TOOL_ENV))/bin/mlcroissant $(PY) -m pytest

compose-check:
	@command -v docker-compose >/dev/null 2>&1 || (apt-get update && apt-get install -y docker-compose)
	KURA_SECRET_KEY=validate-only POSTGRES_PASSWORD=validate-only docker-compose config --quiet

lint: $(DEV_STAMP) services compose-check
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy .
	$(PY) manage.py makemigrations --check --dry-run
	$(PY) manage.py spectacular --validate --fail-on-warn --file /dev/null
	$(PROD_CHECK_ENV) $(PY) manage.py check --deploy --fail-level WARNING

wrk:
	@command -v wrk >/dev/null 2>&1 || apt-get install -y wrk || (apt-get update && apt-get install -y wrk)

# Both benchmarks share the database kura_bench (built once with COPY, reused while its fingerprint matches).
bench-lookup: $(DEV_STAMP) services wrk
	$(PY) -m bench.lookup

bench-lineage: $(DEV_STAMP) services
	$(PY) -m bench.lineage

bench-access: $(DEV_STAMP) services wrk
	$(PY) -m bench.access

bench-dvc: $(DEV_STAMP) services
	$(PY) -m bench.dvc_index

bench-scan: $(DEV_STAMP) services
	$(PY) -m bench.scan

clean:
	rm -rf var/ .mypy_cache .ruff_cache .pytest_cache
