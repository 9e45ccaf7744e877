# The README's two commands: `make run` and `make test`. Both create .venv when it is missing.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test lint typecheck unit postgres chromium bench lock clean

$(STAMP): pyproject.toml requirements.lock
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c requirements.lock -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(VENV)/bin/openderms run

test: lint typecheck unit

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/ruff format --check src tests bench

typecheck: $(STAMP)
	$(VENV)/bin/mypy

unit: $(STAMP) postgres chromium
	$(PY) -m pytest -q

# The store tests need a real PostgreSQL on 127.0.0.1:5432 (installed and started if missing).
postgres:
	bash scripts/ensure-postgres.sh

# The portal's browser tests drive Debian's chromium (installed if missing; never `playwright install`).
chromium:
	bash scripts/ensure-chromium.sh

# The bus tests need NATS with JetStream at OPENDERMS_TEST_NATS_URL (default 127.0.0.1:4222;
# started from the venv's nats-server, or Debian's, when nothing answers).
.PHONY: nats
unit: nats
nats: $(STAMP)
	bash scripts/ensure-nats.sh

bench: $(STAMP)
	$(PY) bench/powerflow.py

# Re-pin every dependency (run after changing pyproject.toml).
lock:
	$(PY) -m pip freeze --exclude-editable | grep -v '^-e' > requirements.lock

clean:
	rm -rf $(VENV) out .openderms

# cactus-client (independent CSIP harness, own Python 3.12 venv .venv-cactus) runs the generic
# CSIP server procedures against a fresh 2030.5 server on 127.0.0.1; prints "N passed, N failed".
.PHONY: conformance
conformance: $(STAMP)
	bash conformance/run.sh
