# The two setup commands of the README: `make run` and `make test`.
PYTHON ?= python3.11
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export MES_DATA_DIR ?= data

.PHONY: run test lint typecheck pytest bench clean

# uv (from PyPI) installs the same releases as pip in a quarter of the time (18 s against 75 s for a
# new .venv on this machine kind); where uv cannot reach the package index, pip does it.
$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "needs $(PYTHON) on PATH"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	{ $(PY) -m pip install --quiet uv && $(VENV)/bin/uv pip install --quiet --python $(PY) -e '.[dev]'; } || \
	{ echo "uv could not install: pip instead"; $(PY) -m pip install --quiet --upgrade pip && \
	  $(PY) -m pip install --quiet -e '.[dev]'; }
	touch $(STAMP)

# The MES on http://127.0.0.1:8000 and, beside it, a simulated line of station PLCs on
# opc.tcp://127.0.0.1:4840 feeding the demo work order's untouched serials; once all 500 have been
# started, the follow-up order WO-DEMO-R290-2 (-3 …) is released and fed (a failure there stops the
# recipe: a plain assignment keeps its command's exit status under set -e). Security mode None is
# allowed here for the simulator only (production refuses it unless configured).
run: $(STAMP)
	$(VENV)/bin/mes db upgrade
	$(VENV)/bin/mes demo load
	@set -e; FRESH="$$($(VENV)/bin/mes demo fresh-serials --work-order WO-DEMO-R290 --release-more)"; \
	read ORDER FIRST COUNT <<< "$$FRESH"; \
	echo "simulated line: $$COUNT units from serial number $$FIRST of $$ORDER"; \
	$(VENV)/bin/mes simulate --work-order $$ORDER --first-serial $$FIRST --units $$COUNT & SIM=$$!; \
	trap 'kill $$SIM 2>/dev/null || true' EXIT INT TERM; \
	MES_OPCUA__ALLOW_SECURITY_NONE=true MES_SECURITY__ALLOW_DEMO_SECRETS=true $(VENV)/bin/mes serve --host 127.0.0.1 --port 8000

lint: $(STAMP)
	$(VENV)/bin/ruff check app stations tests migrations
	$(VENV)/bin/ruff format --check app stations tests migrations

typecheck: $(STAMP)
	$(VENV)/bin/mypy

# The OPC UA interoperability tests run the MES against a PLC on node-opcua (tests/opcua/interop),
# installed from the npm registry by its lock file. Without npm they are skipped and say so (CI
# requires them: MES_REQUIRE_NODE=1).
INTEROP := tests/opcua/interop
$(INTEROP)/node_modules/.installed: $(INTEROP)/package.json $(INTEROP)/package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
	  cd $(INTEROP) && npm ci --silent --no-audit --no-fund && touch node_modules/.installed; \
	else echo "npm not found: the node-opcua interoperability tests will be skipped"; fi

# Two pytest workers (pytest-xdist) on this two-core machine kind. Each worker creates and drops its own
# uniquely named databases; PYTEST_WORKERS=0 runs the suite in one process. --dist worksteal: xdist's
# default (load) hands a worker up to a quarter of the tests left in one go, and one worker got every
# OPC UA test (330–350 s, mostly waiting) while the other ran out 90–170 s before it (pytest 477–519 s
# against 465 s with worksteal, measured on one working tree). Three workers measured 454 s: no gain.
PYTEST_WORKERS ?= 2
pytest: $(STAMP) $(INTEROP)/node_modules/.installed
	$(PY) -m pytest -q -n $(PYTEST_WORKERS) --dist worksteal

test: lint typecheck pytest

bench: $(STAMP)
	$(PY) tests/benchmarks/run_all.py

clean:
	rm -rf $(VENV) data .pytest_cache .mypy_cache .ruff_cache $(INTEROP)/node_modules
