"""Check our import and power flow of an OpenDSS file against OpenDSS solving the file itself.

``validate_against_opendss(path)`` imports ``path`` with our importer, solves the imported
``Network`` with one of our engines, solves the *original* file in a separate OpenDSS context
and compares phase-node voltages by name ("bus.phase"). The reference is re-solved with a
tight tolerance (1e-9 pu) after its own controls have settled, so the comparison measures the
model, not OpenDSS's default convergence tolerance (1e-4).

Signs in the returned figures: ``substation_p_kw``/``q`` are what the source delivers into the
network (positive = import from transmission), for ours and for the reference alike.
"""

from __future__ import annotations

import contextlib
import math
import time
from pathlib import Path
from typing import Any

import numpy as np

from openderms.grid.opendss._dss import (
    DSSException,
    as_complex,
    compile_and_solve,
    new_context,
)
from openderms.grid.opendss.importer import import_dss
from openderms.grid.powerflow import EngineName, solve

REFERENCE_TOLERANCE_PU = 1e-9
DEAD_NODE_PU = 1e-3


def reference_voltages(path: str | Path) -> tuple[dict[str, tuple[float, float]], dict[str, Any]]:
    """OpenDSS's own solution of ``path``: node -> (v_pu, angle_deg), and summary figures.

    Only phase nodes (1-3) of buses with a kV base are returned.
    """
    started = time.perf_counter()
    ctx = new_context()
    compile_and_solve(ctx, Path(path).expanduser().resolve())
    c = ctx.ActiveCircuit
    ctx.Text.Command = f"set tolerance={REFERENCE_TOLERANCE_PU!r}"
    with contextlib.suppress(DSSException):  # controls not settling is reported by the import
        c.Solution.Solve()
    base: dict[str, float] = {}
    for i, bus in enumerate(str(b).lower() for b in c.AllBusNames):
        c.SetActiveBusi(i)
        base[bus] = float(c.ActiveBus.kVBase) * 1000.0
    volts = as_complex(c.AllBusVolts)
    out: dict[str, tuple[float, float]] = {}
    for name, v in zip((str(n).lower() for n in c.AllNodeNames), volts, strict=True):
        bus, _, phase = name.rpartition(".")
        if phase in ("1", "2", "3") and base.get(bus, 0.0) > 0.0:
            out[name] = (abs(v) / base[bus], math.degrees(math.atan2(v.imag, v.real)))
    p_kw, q_kvar = (float(x) for x in c.TotalPower)
    summary = {
        "substation_p_kw": -p_kw,
        "substation_q_kvar": -q_kvar,
        "losses_kw": float(c.Losses[0]) / 1000.0,
        "converged": bool(c.Solution.Converged),
        "solve_s": time.perf_counter() - started,
    }
    return out, summary


def validate_against_opendss(path: str | Path, engine: EngineName = "auto") -> dict[str, Any]:
    """Import, solve with ``engine`` and compare with OpenDSS on the original file.

    Returns a JSON-serialisable dict: ``max_abs_dv_pu``, ``worst_node``, ``max_abs_dangle_deg``,
    ``nodes_compared``, ``nodes_missing`` (reference phase nodes absent from our result),
    ``engine``, ``file``, ``unsupported``, ``ignored``, ``notes``, ``import_s``, ``solve_s``,
    ``reference_solve_s``, substation power and losses (ours and the reference's).
    """
    report = import_dss(path)
    result = solve(report.network, engine)
    ref, ref_summary = reference_voltages(report.file)
    ours = {
        node: (float(v), float(a))
        for node, v, a in zip(
            result.node_ids, result.v_pu.tolist(), result.v_angle_deg.tolist(), strict=True
        )
    }
    common = [n for n in ref if n in ours]
    dv = np.array([abs(ours[n][0] - ref[n][0]) for n in common])
    live = [n for n in common if ref[n][0] > DEAD_NODE_PU]  # a dead node's angle means nothing
    da = np.array([abs((ours[n][1] - ref[n][1] + 180.0) % 360.0 - 180.0) for n in live])
    worst = common[int(dv.argmax())] if common else ""
    return {
        "file": report.file,
        "engine": result.engine,
        "converged": result.converged,
        "nodes_compared": len(common),
        "nodes_missing": len(ref) - len(common),
        "max_abs_dv_pu": float(dv.max()) if common else None,
        "worst_node": worst,
        "max_abs_dangle_deg": float(da.max()) if live else None,
        "substation_p_kw": result.substation_p_kw,
        "substation_q_kvar": result.substation_q_kvar,
        "losses_kw": result.losses_kw,
        "reference_substation_p_kw": ref_summary["substation_p_kw"],
        "reference_substation_q_kvar": ref_summary["substation_q_kvar"],
        "reference_losses_kw": ref_summary["losses_kw"],
        "unsupported": list(report.unsupported),
        "ignored": list(report.ignored),
        "notes": list(report.network.notes),
        "import_s": report.import_s,
        "solve_s": result.solve_s,
        "reference_solve_s": ref_summary["solve_s"],
    }
