"""Bulk insert of DER records into the SQL store: SQLite (a temporary file) and PostgreSQL.

    .venv/bin/python bench/store.py [--records 10000] [--json]

Each backend gets a fresh database (PostgreSQL: a temporary database on the server of
OPENDERMS_TEST_PG_URL, default postgresql+psycopg://postgres@127.0.0.1:5432/openderms_test,
dropped afterwards). Timed: one ``add_many`` of every record (one transaction, all or nothing),
then one 100-record page of a filtered query and the granted export per bus.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine

from openderms.registry.domain import (
    AuditEntry,
    DerRecord,
    Inverter,
    Location,
    Nameplate,
    Provisioning,
    Registration,
    Screening,
)
from openderms.registry.ports import DerQuery
from openderms.store import open_store
from openderms.store.engine import normalise_url

DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/openderms_test"
T0 = datetime(2026, 6, 1, 12, tzinfo=UTC)


def build(n: int) -> DerRecord:
    """An active, screened and provisioned rooftop PV system, as the registry stores one."""
    bus, feeder = f"bus-{n % 4000}", f"F{n % 12}"
    reg = Registration(
        der_type="pv",
        nameplate=Nameplate(p_export_kw=7.6, s_kva=8.0),
        inverter=Inverter(make="Acme", model="SunBox", firmware="1.2", certifications=("CSIP",)),
        location=Location(service_point_id=f"sp-{n}"),
        owner_name=f"Owner {n}",
        owner_email=f"owner{n}@example.com",
        application_id=f"APP-{n:07d}",
        comm_path="aggregator",
        aggregator_id=f"agg-{n % 5}",
    )
    screening = Screening(
        decision="approve",
        reason="within hosting capacity",
        bus_id=bus,
        feeder_id=feeder,
        topology_node_id=f"tn-{bus}",
        requested_kw=7.6,
        export_limit_kw=None,
        hosting_capacity_kw=120.0,
        v_worst_before_pu=1.02,
        v_worst_after_pu=1.021,
        v_limit_pu=1.05,
        binding_constraint=f"voltage at bus {bus}",
        loading_before_pct=40.0,
        loading_after_pct=41.0,
        screened_at=T0,
    )
    provisioning = Provisioning(
        topology_node_id=f"tn-{bus}",
        feeder_id=feeder,
        programs=("constraint_management",),
        comm_path="aggregator",
        der_program_id=f"prog-tn-{bus}",
        provisioned_at=T0,
    )
    audit = (
        AuditEntry(
            at=T0, actor="inst-1", action="register", from_status=None, to_status="submitted"
        ),
        AuditEntry(
            at=T0 + timedelta(seconds=1),
            actor="system",
            action="provision",
            from_status="approved",
            to_status="active",
        ),
    )
    return DerRecord(
        id=f"der-{n:07d}",
        registration=reg,
        status="active",
        installer_id=f"inst-{n % 50}",
        created_at=T0,
        updated_at=T0,
        screening=screening,
        provisioning=provisioning,
        audit=audit,
    )


def _seconds(fn: Callable[[], object]) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def run(url: str, records: list[DerRecord]) -> dict[str, Any]:
    with open_store(url) as store:
        add_s = _seconds(lambda: store.ders.add_many(records))
        query_s = _seconds(lambda: store.ders.query(DerQuery(aggregator_id="agg-1", offset=500)))
        granted_s = _seconds(store.ders.granted_export_kw_by_bus)
        assert store.ders.count() == len(records)
    return {
        "add_many_s": round(add_s, 3),
        "records_per_s": round(len(records) / add_s),
        "query_page_ms": round(query_s * 1e3, 1),
        "granted_by_bus_ms": round(granted_s * 1e3, 1),
    }


def run_sqlite(records: list[DerRecord]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        return run(f"sqlite:///{Path(tmp, 'bench.db').as_posix()}", records)


def run_postgresql(records: list[DerRecord]) -> dict[str, Any]:
    base = normalise_url(os.environ.get("OPENDERMS_TEST_PG_URL", DEFAULT_PG_URL))
    name = f"openderms_bench_{secrets.token_hex(4)}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        try:
            return run(base.set(database=name).render_as_string(hide_password=False), records)
        finally:
            with admin.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        admin.dispose()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--records", type=int, default=10_000)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    t = time.perf_counter()
    records = [build(n) for n in range(args.records)]
    build_s = time.perf_counter() - t
    out: dict[str, Any] = {"records": args.records, "build_records_s": round(build_s, 3)}
    out["sqlite"] = run_sqlite(records)
    out["postgresql"] = run_postgresql(records)

    if args.json:
        print(json.dumps(out, indent=2))
        return
    print(f"{args.records} DER records (built in {build_s:.2f} s), bulk insert in one add_many:")
    for backend in ("sqlite", "postgresql"):
        r = out[backend]
        print(
            f"  {backend:<11} {r['add_many_s']:6.2f} s  ({r['records_per_s']:>6} records/s)"
            f"  query page {r['query_page_ms']:.1f} ms"
            f"  granted by bus {r['granted_by_bus_ms']:.1f} ms"
        )


if __name__ == "__main__":
    main()
