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

test: lint typecheck unit conformance-ci

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
.PHONY: conformance conformance-ci
conformance: $(STAMP)
	bash conformance/run.sh

# Part of `make test` (so of CI): every cactus server procedure that finishes in seconds, plus
# S-ALL-06 (readings a postRate apart, about 3 minutes). The five that wait minutes by design
# (S-ALL-04, 41, 42, 44, 46: scheduled controls, retried notifications) and S-ALL-50 (72 hours)
# run only in `make conformance`.
CONFORMANCE_CI := $(foreach n,01 02 03 05 06 07 08 09 10 11 12 13 14 15 16 17 18 19 20 21 22 \
	23 24 25 26 27 28 29 30 31 32 33 34 35 36 37 38 39 40 43 45 47 48 49 51 52 53 55 56 57,S-ALL-$(n)) \
	S-OPT-01 S-OPT-02 S-OPT-03 S-OPT-04 S-OPT-05
conformance-ci: $(STAMP)
	bash conformance/run.sh $(CONFORMANCE_CI)
