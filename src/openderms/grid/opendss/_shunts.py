"""Shunt elements of a compiled OpenDSS circuit: sources, loads, capacitors and DER.

Signs: ``Load`` powers in load convention (positive = consumed) at the operating point (the
circuit's load multiplier applied to loads that follow it); ``Der`` powers in generator
convention (positive = export), read as the element's solved output.
"""

from __future__ import annotations

import numpy as np

from openderms.grid.model import Capacitor, Conn, Der, DerKind, Load, LoadModel, Source
from openderms.grid.opendss._dss import SQRT3, as_complex
from openderms.grid.opendss._elements import Reader, Terminals, shunt_nodes


def read_vsource(r: Reader, t: Terminals) -> Source | None:
    """A Vsource; its sequence impedances in ohm come from its compiled Yprim."""
    vs = r.circuit.Vsources
    vs.Name = t.name
    n = t.n_conductors
    if n not in (1, 3):
        r.unsupported_element(t.full_name, f"{n}-phase source (only 1 or 3 phases)")
        return None
    if any(t.nodes[1]):
        r.unsupported_element(t.full_name, "source not referenced to ground (bus2 set)")
        return None
    y = as_complex(r.circuit.ActiveCktElement.Yprim).reshape(2 * n, 2 * n)
    z = np.linalg.inv(y[:n, :n])
    zs = complex(np.diag(z).mean())
    zm = complex((z.sum() - np.trace(z)) / (n * n - n)) if n > 1 else 0j
    if n > 1 and float(np.abs(z - (np.full((n, n), zm) + np.eye(n) * (zs - zm))).max()) > (
        1e-6 * abs(zs)
    ):
        r.notes.append(f"{t.full_name}: negative-sequence impedance differs; Z2 set to Z1")
    z1, z0 = zs - zm, zs + 2 * zm
    kv_ll = float(vs.BasekV)
    r.hint_kv(t.buses[0], kv_ll / SQRT3 if n > 1 else kv_ll)
    return Source(
        id=t.name,
        bus=t.buses[0],
        v_base_kv_ll=kv_ll,
        v_pu=float(vs.pu),
        angle_deg=float(vs.AngleDeg),
        r1_ohm=z1.real,
        x1_ohm=z1.imag,
        r0_ohm=z0.real,
        x0_ohm=z0.imag,
        nodes=t.nodes[0][:n],
    )


def _load_model(r: Reader, t: Terminals, model: int) -> tuple[LoadModel, tuple[float, ...]] | None:
    """Our load model and its coefficients (ZIPV, or the two CVR exponents)."""
    loads = r.circuit.Loads
    if model == 1:
        return "constant_power", ()
    if model == 2:
        return "constant_impedance", ()
    if model == 5:
        return "constant_current", ()
    if model == 8:
        return "zip", tuple(float(v) for v in loads.ZIPV)
    if model in (3, 6, 7):
        r.tallies[
            f"load model {model} imported as {'constant power' if model == 6 else 'ZIP'} "
            "(identical between vminpu and vmaxpu, not outside)"
        ] += 1
        if model == 6:  # constant P, fixed Q
            return "constant_power", ()
        return "zip", (0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 0.0)  # constant P, impedance Q
    if model == 4:
        return "exponential", (float(loads.CVRwatts), float(loads.CVRvars))
    r.unsupported_element(t.full_name, f"load model {model} is not represented")
    return None


def read_load(r: Reader, t: Terminals, load_mult: float) -> Load | None:
    """A load at its operating point (``load_mult`` applied unless its status is fixed)."""
    loads = r.circuit.Loads
    loads.Name = t.name
    conn: Conn = "delta" if bool(loads.IsDelta) else "wye"
    shape = shunt_nodes(t, conn)
    if shape is None:
        r.unsupported_element(t.full_name, f"{t.n_phases}-phase {conn} connection")
        return None
    model = _load_model(r, t, int(loads.Model))
    if model is None:
        return None
    exponents = model[1] if model[0] == "exponential" else (1.0, 2.0)
    if float(loads.Rneut) > 0.0 or float(loads.Xneut) > 0.0:
        r.notes.append(f"{t.full_name}: neutral impedance ignored")
    mult = load_mult if int(loads.Status) == 0 else 1.0
    kv = float(loads.kV)
    r.hint_kv(t.buses[0], kv if t.n_phases == 1 and conn == "wye" else kv / SQRT3)
    return Load(
        id=t.name,
        bus=t.buses[0],
        nodes=shape[1],
        conn=shape[0],
        p_kw=float(loads.kW) * mult,
        q_kvar=float(loads.kvar) * mult,
        v_kv=kv,
        model=model[0],
        zip_coeffs=model[1] if model[0] == "zip" else (),
        v_min_pu=float(loads.Vminpu),
        v_max_pu=float(loads.Vmaxpu),
        customers=int(loads.NumCust),
        p_exponent=exponents[0],
        q_exponent=exponents[1],
    )


def read_capacitor(r: Reader, t: Terminals) -> Capacitor | None:
    """A shunt capacitor in its present state; a multi-step bank keeps its closed steps."""
    caps = r.circuit.Capacitors
    caps.Name = t.name
    conn: Conn = "delta" if bool(caps.IsDelta) else "wye"
    if conn == "wye" and (t.buses[1] != t.buses[0] or any(t.nodes[1])):
        r.unsupported_element(t.full_name, "ungrounded-wye or series capacitor")
        return None
    steps = [float(v) for v in r.prop("kvar").strip("[]() ").replace(",", " ").split()]
    states = [int(s) for s in caps.States]
    if len(steps) != len(states):
        steps = [float(caps.kvar) / len(states)] * len(states)
    closed_kvar = sum(k for k, s in zip(steps, states, strict=True) if s)
    if len(states) > 1:
        r.notes.append(f"{t.full_name}: {len(states)}-step bank imported as its closed steps")
    if r.prop_float("r") > 0.0 or r.prop_float("xl") > 0.0:
        r.notes.append(f"{t.full_name}: series R/XL of the bank ignored")
    kv = float(caps.kV)
    r.hint_kv(t.buses[0], kv if t.n_phases == 1 and conn == "wye" else kv / SQRT3)
    return Capacitor(
        id=t.name,
        bus=t.buses[0],
        nodes=t.nodes[0][: t.n_phases],
        conn=conn,
        q_kvar=closed_kvar if closed_kvar > 0.0 else sum(steps),
        v_kv=kv,
        closed=closed_kvar > 0.0,
    )


DER_KINDS: tuple[tuple[str, DerKind], ...] = (
    ("generator", "generator"),
    ("pvsystem", "pv"),
    ("storage", "battery"),
)


def read_der(r: Reader, t: Terminals) -> Der | None:
    """A Generator, PVSystem or Storage with its solved output (generator convention)."""
    kind = dict(DER_KINDS)[t.cls]
    conn_text = r.prop("conn").lower()
    conn: Conn = "delta" if conn_text.startswith(("d", "ll")) else "wye"
    shape = shunt_nodes(t, conn)
    if shape is None:
        r.unsupported_element(t.full_name, f"{t.n_phases}-phase {conn} connection")
        return None
    s_export = -complex(as_complex(r.circuit.ActiveCktElement.Powers).sum())
    kv = r.prop_float("kv")
    p_min = 0.0
    e_kwh = 0.0
    if t.cls == "generator":
        gens = r.circuit.Generators
        gens.Name = t.name
        s_kva = float(gens.kva)
        p_max = float(gens.kW) if float(gens.kW) > 0.0 else s_kva
        if int(gens.Model) != 1:
            r.notes.append(
                f"{t.full_name}: generator model {int(gens.Model)} imported as fixed P/Q "
                "at its solved output"
            )
    elif t.cls == "pvsystem":
        s_kva = r.prop_float("kva")
        p_max = min(r.prop_float("pmpp"), s_kva) if s_kva > 0.0 else r.prop_float("pmpp")
    else:
        s_kva = r.prop_float("kva")
        p_max = r.prop_float("kwrated")
        p_min = -p_max
        e_kwh = r.prop_float("kwhrated")
    r.hint_kv(t.buses[0], kv if t.n_phases == 1 and conn == "wye" else kv / SQRT3)
    return Der(
        id=t.name,
        bus=t.buses[0],
        nodes=shape[1],
        kind=kind,
        p_kw=s_export.real,
        q_kvar=s_export.imag,
        p_max_kw=p_max,
        s_kva=s_kva,
        v_kv=kv,
        p_min_kw=p_min,
        e_kwh=e_kwh,
        conn=shape[0],
    )
