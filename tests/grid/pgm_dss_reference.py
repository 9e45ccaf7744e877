"""A small, independent OpenDSS reference for the PGM engine tests.

Writes the three-phase subset of a ``Network`` as an OpenDSS script (the same semantics the
model documents) and solves it with dss-python, so the PGM engine is checked against OpenDSS
even where the project's own OpenDSS engine is not used. Loads keep their model and
``vminpu``/``vmaxpu`` (``Load.v_min_pu``/``v_max_pu``); DER are constant-power negative loads at
any voltage (inverters do not turn into impedances outside a band).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from openderms.grid.model import Matrix, Network, Nodes

_MODEL = {
    "constant_power": 1,
    "constant_impedance": 2,
    "constant_current": 5,
    "zip": 8,
    "exponential": 4,
}


@dataclass(frozen=True)
class DssResult:
    """OpenDSS voltages by lower-case ``"bus.phase"`` and the circuit totals."""

    v_pu: dict[str, float]
    v_angle_deg: dict[str, float]
    substation_p_kw: float
    substation_q_kvar: float
    losses_kw: float
    taps: dict[str, float]


def _bus(name: str, nodes: Nodes) -> str:
    return name + "".join(f".{n}" for n in nodes)


def _lower(m: Matrix, scale: float = 1.0) -> str:
    rows = [" ".join(f"{m[i][j] * scale:.12g}" for j in range(i + 1)) for i in range(len(m))]
    return "(" + " | ".join(rows) + ")"


def script(net: Network) -> list[str]:
    """OpenDSS commands building ``net`` (three-phase elements only)."""
    src = net.sources[0]
    cmds = [
        "clear",
        f"set defaultbasefrequency={net.frequency_hz:g}",
        (
            f"new circuit.{net.name} bus1={_bus(src.bus, src.nodes)} "
            f"basekv={src.v_base_kv_ll:.12g} "
            f"pu={src.v_pu:.12g} angle={src.angle_deg:.12g} r1={src.r1_ohm:.12g} "
            f"x1={src.x1_ohm:.12g} r0={src.r0_ohm:.12g} x0={src.x0_ohm:.12g}"
        ),
    ]
    for s in net.sources[1:]:
        cmds.append(
            f"new vsource.{s.id} bus1={_bus(s.bus, s.nodes)} basekv={s.v_base_kv_ll:.12g} "
            f"pu={s.v_pu:.12g} angle={s.angle_deg:.12g} r1={s.r1_ohm:.12g} x1={s.x1_ohm:.12g} "
            f"r0={s.r0_ohm:.12g} x0={s.x0_ohm:.12g}"
        )
    for ln in net.lines:
        n = len(ln.nodes1)
        cmds.append(
            f"new linecode.lc_{ln.id} nphases={n} units=km rmatrix={_lower(ln.r_ohm_per_km)} "
            f"xmatrix={_lower(ln.x_ohm_per_km)} cmatrix={_lower(ln.c_nf_per_km)}"
        )
        cmds.append(
            f"new line.{ln.id} bus1={_bus(ln.bus1, ln.nodes1)} bus2={_bus(ln.bus2, ln.nodes2)} "
            f"phases={n} linecode=lc_{ln.id} length={ln.length_km:.12g} units=km"
        )
    for sw in net.switches:
        r_sw, x_sw = (sw.r_ohm, sw.x_ohm) if sw.r_ohm or sw.x_ohm else (1e-7, 1e-7)  # ~ideal
        cmds.append(
            f"new line.{sw.id} bus1={_bus(sw.bus1, sw.nodes1)} bus2={_bus(sw.bus2, sw.nodes2)} "
            f"phases={len(sw.nodes1)} switch=yes r1={r_sw:.12g} x1={x_sw:.12g} r0={r_sw:.12g} "
            f"x0={x_sw:.12g} c1=0 c0=0 length=1 enabled={'yes' if sw.closed else 'no'}"
        )
    for tr in net.transformers:
        w = tr.windings
        x = dict(zip(("xhl", "xht", "xlt"), tr.x_pct, strict=False))
        cmds.append(
            f"new transformer.{tr.id} phases={tr.phases} windings={len(w)} "
            f"buses=[{' '.join(_bus(k.bus, k.nodes) for k in w)}] "
            f"conns=[{' '.join(k.conn for k in w)}] kvs=[{' '.join(f'{k.v_kv:.12g}' for k in w)}] "
            f"kvas=[{' '.join(f'{k.s_kva:.12g}' for k in w)}] "
            f"%rs=[{' '.join(f'{k.r_pct:.12g}' for k in w)}] "
            f"taps=[{' '.join(f'{k.tap_pu:.12g}' for k in w)}] "
            + " ".join(f"{k}={v:.12g}" for k, v in x.items())
            + f" %noloadloss={tr.noload_loss_pct:.12g} %imag={tr.imag_pct:.12g}"
        )
        for i, k in enumerate(w, start=1):
            cmds.append(
                f"transformer.{tr.id}.wdg={i} maxtap={k.tap_max_pu:.12g} "
                f"mintap={k.tap_min_pu:.12g} numtaps={k.tap_steps}"
            )
    for reg in net.regulators:
        cmds.append(
            f"new regcontrol.{reg.id} transformer={reg.transformer} winding={reg.winding} "
            f"vreg={reg.v_set_v:.12g} band={reg.band_v:.12g} ptratio={reg.pt_ratio:.12g} "
            f"ctprim={reg.ct_primary_a:.12g} r={reg.r_ldc_v:.12g} x={reg.x_ldc_v:.12g} "
            f"ptphase={ {-1: 'max', -2: 'min'}.get(reg.pt_phase, reg.pt_phase) } "
            f"maxtapchange={reg.max_tap_change} reversible=no"
        )
    for cap in net.capacitors:
        cmds.append(
            f"new capacitor.{cap.id} bus1={_bus(cap.bus, cap.nodes)} phases={len(cap.nodes)} "
            f"kvar={cap.q_kvar:.12g} kv={cap.v_kv:.12g} conn={cap.conn} "
            f"enabled={'yes' if cap.closed else 'no'}"
        )
    for rx in net.reactors:
        bus2 = f" bus2={_bus(rx.bus2, rx.nodes2 or rx.nodes1)}" if rx.bus2 else ""
        cmds.append(
            f"new reactor.{rx.id} bus1={_bus(rx.bus1, rx.nodes1)}{bus2} phases={len(rx.nodes1)} "
            f"r={rx.r_ohm:.12g} x={rx.x_ohm:.12g} conn={rx.conn}"
        )
    for ld in net.loads:
        law = ""
        if ld.model == "zip":
            c = list(ld.zip_coeffs)
            c = c + c if len(c) == 3 else c
            law = f" zipv=({' '.join(f'{x:.12g}' for x in ([*c, 0.0])[:7])})"
        elif ld.model == "exponential":
            law = f" cvrwatts={ld.p_exponent:.12g} cvrvars={ld.q_exponent:.12g}"
        cmds.append(
            f"new load.{ld.id} bus1={_bus(ld.bus, ld.nodes)} phases={len(ld.nodes)} "
            f"conn={ld.conn} kv={ld.v_kv:.12g} kw={ld.p_kw:.12g} kvar={ld.q_kvar:.12g} "
            f"model={_MODEL[ld.model]}{law} vminpu={ld.v_min_pu:.12g} vmaxpu={ld.v_max_pu:.12g}"
        )
    for der in net.ders:
        cmds.append(
            f"new load.der_{der.id} bus1={_bus(der.bus, der.nodes)} phases={len(der.nodes)} "
            f"conn={der.conn} kv={der.v_kv:.12g} kw={-der.p_kw:.12g} kvar={-der.q_kvar:.12g} "
            f"model=1 vminpu=0.3 vmaxpu=2 vlowpu=0.1"
        )
    bases = sorted({round(b.v_base_kv_ln * math.sqrt(3.0), 9) for b in net.buses})
    cmds += [
        f"set voltagebases=[{' '.join(f'{v:.12g}' for v in bases)}]",
        "calcvoltagebases",
        "set tolerance=1e-10",
        "set maxiterations=200",
        "set maxcontroliter=100",
        "solve",
    ]
    return cmds


def solve(net: Network) -> DssResult:
    """Run ``net`` through OpenDSS (dss-python) and read voltages and totals."""
    from dss import DSS

    text = DSS.Text
    for cmd in script(net):
        text.Command = cmd
    ckt = DSS.ActiveCircuit
    if not ckt.Solution.Converged:
        raise RuntimeError("OpenDSS did not converge")
    base = {b.id.lower(): b.v_base_kv_ln * 1e3 for b in net.buses}
    names = [str(n) for n in ckt.AllNodeNames]
    volts: NDArray[np.float64] = np.asarray(ckt.AllBusVolts, dtype=np.float64)
    v = volts[0::2] + 1j * volts[1::2]
    v_pu = {n: abs(x) / base[n.split(".")[0]] for n, x in zip(names, v, strict=True)}
    ang = {n: math.degrees(math.atan2(x.imag, x.real)) for n, x in zip(names, v, strict=True)}
    p, q = ckt.TotalPower
    taps: dict[str, float] = {}
    for reg in net.regulators:
        ckt.Transformers.Name = reg.transformer
        ckt.Transformers.Wdg = reg.winding
        taps[reg.transformer] = float(ckt.Transformers.Tap)
    return DssResult(
        v_pu=v_pu,
        v_angle_deg=ang,
        substation_p_kw=-float(p),
        substation_q_kvar=-float(q),
        losses_kw=float(ckt.Losses[0]) / 1e3,
        taps=taps,
    )
