"""``scripts/ensure-postgres.sh`` (what ``make test`` runs before pytest) is idempotent: on a
machine whose server is up it only checks, and leaves the tests' database in place."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from sqlalchemy import create_engine, text

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "ensure-postgres.sh"


def test_ensure_postgres_runs_twice_and_leaves_the_test_database() -> None:
    for _ in range(2):
        done = subprocess.run(
            ["bash", str(SCRIPT)],
            env={**os.environ, "OPENDERMS_TEST_PG_DB": "openderms_test"},
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        assert done.returncode == 0, done.stderr
    engine = create_engine("postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    try:
        with engine.connect() as conn:
            found = conn.scalar(
                text("SELECT count(*) FROM pg_database WHERE datname = 'openderms_test'")
            )
    finally:
        engine.dispose()
    assert found == 1
