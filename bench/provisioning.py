"""Bulk self-provisioning on a digital twin: every DER of the twin registered through the real
bulk path (CSV text -> parse_csv -> RegistryService.register_many -> SQL store).

    .venv/bin/python bench/provisioning.py [--preset camden] [--store sqlite|memory]
        [--dead-band-drift] [--json]

One registration per twin DER: located at the DER's bus (``bus_id``), its type and nameplate
from the DER, a unique application id. The store is the SQLite store (a temporary file,
``openderms.store.open_store``), or the in-memory repository with ``--store memory``.
``--dead-band-drift`` screens with ``HostingRules(regulator_dead_band_drift=True)``.

Timed: ``parse`` (CSV text to registrations), ``screen`` (register_many minus the store
write: mapping to the network, the sensitivity batch, decisions, provisioning, records),
``store`` (the one ``add_many``); ``setup`` (twin aside: building the service, i.e. the AC
worst cases) is reported apart. ``seconds`` = parse + screen + store. Then one AC power flow
of each worst case with everything granted checks the screen (``ac_*``).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from openderms.grid.hosting import HostingRules
from openderms.grid.model import Der
from openderms.registry.csv_import import parse_csv, to_csv
from openderms.registry.domain import DerRecord, DerType, Registration
from openderms.registry.memory import InMemoryDerRepository, RecordingPublisher, SystemClock
from openderms.registry.ports import Actor, DerQuery, DerRepository
from openderms.registry.screening import ScreeningRules
from openderms.registry.service import RegistryService
from openderms.sim.twin import build_twin

_TYPE: Mapping[str, DerType] = {
    "pv": "pv",
    "battery": "battery",
    "ev_charger": "ev_charger",
    "flexible_load": "flexible_load",
}


def registration(k: int, der: Der) -> Registration:
    """The application an installer would file for the twin's DER ``der``."""
    export_kw = round(max(der.p_max_kw, 0.0), 3)
    import_kw = round(max(-der.p_min_kw, 0.0), 3)
    via_aggregator = der.kind in ("battery", "ev_charger")
    return Registration.model_validate(
        {
            "der_type": _TYPE.get(der.kind, "other"),
            "nameplate": {
                "p_export_kw": export_kw,
                "s_kva": max(round(der.s_kva, 3), export_kw, 0.1),
                "p_import_kw": import_kw,
                "e_kwh": der.e_kwh,
            },
            "inverter": {
                "make": "Twin Inverters",
                "model": f"{der.kind.upper()}-{int(max(export_kw, import_kw))}",
                "firmware": "2.1.0",
                "certifications": ["UL1741SB", "CSIP"],
            },
            "location": {"bus_id": der.bus},
            "owner_name": f"Owner of {der.id}",
            "owner_email": f"owner{k}@example.org",
            "application_id": f"APP-{k:06d}",
            "comm_path": "aggregator" if via_aggregator else "ieee2030_5_direct",
            "aggregator_id": "agg-twin" if via_aggregator else None,
            "programs": ["constraint_management", "dso_market"],
        }
    )


class TimedRepository:
    """A repository whose ``add_many`` is timed (the rest passes through)."""

    def __init__(self, inner: DerRepository) -> None:
        self.inner = inner
        self.add_many_s = 0.0

    def add_many(self, records: Sequence[DerRecord]) -> None:
        t = time.perf_counter()
        self.inner.add_many(records)
        self.add_many_s += time.perf_counter() - t

    def get(self, der_id: str) -> DerRecord | None:
        return self.inner.get(der_id)

    def save(self, record: DerRecord, expected_version: int) -> None:
        self.inner.save(record, expected_version)

    def query(self, q: DerQuery) -> tuple[list[DerRecord], int]:
        return self.inner.query(q)

    def granted_export_kw_by_bus(self) -> Mapping[str, float]:
        return self.inner.granted_export_kw_by_bus()


def run(preset: str, seed: int, store: str, workdir: Path, drift: bool) -> dict[str, Any]:
    twin = build_twin(preset, seed)
    regs = [registration(k, d) for k, d in enumerate(twin.network.ders)]
    text = to_csv(regs)

    t = time.perf_counter()
    parsed = parse_csv(text)
    parse_s = time.perf_counter() - t
    assert parsed == regs

    closer = None
    if store == "sqlite":
        from openderms.store import open_store

        sql = open_store(f"sqlite:///{workdir / 'provisioning.db'}")
        closer, inner, label = sql.close, sql.ders, "sqlite (openderms.store.open_store)"
    else:
        inner, label = InMemoryDerRepository(), "memory (InMemoryDerRepository)"
    repo = TimedRepository(inner)
    t = time.perf_counter()
    rules = ScreeningRules(hosting=HostingRules(regulator_dead_band_drift=drift))
    service = RegistryService(
        twin.network,
        repo,
        RecordingPublisher(),
        SystemClock(),
        injections=twin.injections,
        rules=rules,
    )
    setup_s = time.perf_counter() - t

    t = time.perf_counter()
    records = service.register_many(parsed, Actor("bench", "installer"))
    register_s = time.perf_counter() - t
    store_s = repo.add_many_s
    screen_s = register_s - store_s
    total_s = parse_s + register_s

    decisions = Counter(r.screening.decision for r in records if r.screening is not None)
    by_direction = Counter(
        f"{r.screening.direction}:{r.screening.decision}"
        for r in records
        if r.screening is not None
    )
    export_ac = service.hosting.verify("export")
    import_ac = service.hosting.verify("import")
    granted_export = sum(service.hosting.granted_kw("export").values())
    granted_import = sum(service.hosting.granted_kw("import").values())
    if closer is not None:
        closer()
    return {
        "preset": preset,
        "store": label,
        "regulator_dead_band_drift": drift,
        "ders": len(records),
        "seconds": round(total_s, 3),
        "ders_per_s": round(len(records) / total_s, 1),
        "decisions": dict(sorted(decisions.items())),
        "decisions_by_direction": dict(sorted(by_direction.items())),
        "parse_s": round(parse_s, 3),
        "screen_s": round(screen_s, 3),
        "store_s": round(store_s, 3),
        "setup_s": round(setup_s, 3),
        "csv_bytes": len(text.encode()),
        "granted_export_kw": round(granted_export, 1),
        "granted_import_kw": round(granted_import, 1),
        "ac_export_v_max_pu": round(export_ac.v_max_pu, 5),
        "ac_export_v_over_max_pu": round(export_ac.v_over_max_pu, 5),
        "ac_export_loading_max_pct": round(export_ac.loading_max_pct, 1),
        "ac_import_v_under_min_pu": round(import_ac.v_under_min_pu, 5),
        "ac_import_loading_max_pct": round(import_ac.loading_max_pct, 1),
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--preset", default="camden")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--store", choices=("sqlite", "memory"), default="sqlite")
    ap.add_argument("--dead-band-drift", action="store_true")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="openderms-bench-") as tmp:
        out = run(args.preset, args.seed, args.store, Path(tmp), args.dead_band_drift)
    if args.json:
        print(json.dumps(out))
    else:
        for key, value in out.items():
            print(f"{key:<28} {value}")


if __name__ == "__main__":
    main()
