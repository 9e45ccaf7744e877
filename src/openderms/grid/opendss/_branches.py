"""Series elements of a compiled OpenDSS circuit: lines, switches, transformers, regulators,
reactors. Impedances are read from the compiled circuit, so line codes, geometries, spacings,
wire data and transformer codes are already resolved by OpenDSS.
"""

from __future__ import annotations

import contextlib
from typing import Literal

import numpy as np

from openderms.grid.model import Line, Matrix, Reactor, Regulator, Switch, Transformer, Winding
from openderms.grid.opendss._dss import KM_PER_UNIT, SQRT3, ComplexArray, as_complex
from openderms.grid.opendss._elements import Reader, Terminals, winding_nodes

#: OpenDSS's reverse-mode regulator settings (revvreg, revband, revR, revX) when not given
OPENDSS_REVERSE_DEFAULTS = (120.0, 3.0, 0.0, 0.0)

SwitchKind = Literal["breaker", "recloser", "sectionaliser", "tie", "fuse", "switch"]


def _matrix(values: object, n: int, scale: float) -> Matrix:
    """An ``n x n`` row-major matrix of floats, scaled."""
    arr = np.asarray(values, dtype=np.float64).reshape(n, n) * scale
    return tuple(tuple(float(v) for v in row) for row in arr)


def _open_state(r: Reader, t: Terminals) -> tuple[bool, bool]:
    """(some terminal fully open, some conductor open without its whole terminal)."""
    if not t.enabled:
        return True, False
    e = r.circuit.ActiveCktElement
    full = partial = False
    for term in (1, 2):
        states = [bool(e.IsOpen(term, k)) for k in range(1, t.n_conductors + 1)]
        full = full or all(states)
        partial = partial or (any(states) and not all(states))
    return full, partial


def _series_impedance(r: Reader, t: Terminals, fully_open: bool) -> ComplexArray:
    """The line's total series impedance matrix in ohm at the circuit frequency.

    From the resolved matrices times the length; for a line code defined at another base
    frequency, from the compiled Yprim (OpenDSS then also corrects R for earth return).
    """
    lines = r.circuit.Lines
    n = t.n_conductors
    freq = float(r.circuit.Solution.Frequency)
    base_freq = r.prop_float("basefreq", freq) or freq
    length = float(lines.Length)
    rm = np.asarray(lines.Rmatrix, dtype=np.float64).reshape(n, n) * length
    xm = np.asarray(lines.Xmatrix, dtype=np.float64).reshape(n, n) * length
    if abs(base_freq - freq) <= 1e-9 * freq:
        return (rm + 1j * xm).astype(np.complex128)
    if not fully_open:
        y = as_complex(r.circuit.ActiveCktElement.Yprim).reshape(2 * n, 2 * n)
        with contextlib.suppress(np.linalg.LinAlgError):
            return np.asarray(np.linalg.inv(-y[:n, n:]), dtype=np.complex128)
    return (rm + 1j * xm * freq / base_freq).astype(np.complex128)


def read_line(r: Reader, t: Terminals, switch_kinds: dict[str, SwitchKind]) -> Line | Switch:
    """A line, or a switch: ``Switch=yes`` lines and lines out of service (disabled or open).

    A switch keeps the self impedance of its conductors as ``r_ohm``/``x_ohm`` (mutual terms,
    zero for OpenDSS's switch defaults, are dropped). An out-of-service ordinary line becomes
    an *open* switch with its self impedance; a note says so.
    """
    lines = r.circuit.Lines
    lines.Name = t.name
    fully_open, partially_open = _open_state(r, t)
    amps = float(lines.NormAmps)
    emerg = float(lines.EmergAmps)
    n = t.n_conductors
    z_total = _series_impedance(r, t, fully_open)
    if bool(lines.IsSwitch) or fully_open:
        z_self = np.diag(z_total)
        if not bool(lines.IsSwitch):
            r.notes.append(
                f"{t.full_name} is out of service (disabled or open) in the file: imported "
                "as an open switch"
            )
        closed = not fully_open
        return Switch(
            id=t.name,
            bus1=t.buses[0],
            bus2=t.buses[1],
            nodes1=t.nodes[0],
            nodes2=t.nodes[1],
            closed=closed,
            normally_closed=closed,
            ampacity_a=amps,
            kind=switch_kinds.get(t.name, "switch"),
            r_ohm=float(z_self.real.mean()),
            x_ohm=float(z_self.imag.mean()),
        )
    if partially_open:
        r.unsupported_element(
            t.full_name,
            "some (not all) conductors are open (single-pole switching); imported closed",
        )
    units = int(lines.Units)
    km_per_unit = KM_PER_UNIT[units] if 0 <= units < len(KM_PER_UNIT) else 1.0
    length_km = float(lines.Length) * km_per_unit
    per_km = 1.0 / length_km if length_km > 0.0 else 0.0
    cable = (
        r.prop("linetype").lower().startswith("ug")
        or str(lines.Geometry).lower() in r.cable_geometries
        or bool(r.cable_names & set(r.prop("wires").strip("[]").replace(",", " ").split()))
    )
    kind: Literal["overhead", "cable"] = "cable" if cable else "overhead"
    return Line(
        id=t.name,
        bus1=t.buses[0],
        bus2=t.buses[1],
        nodes1=t.nodes[0],
        nodes2=t.nodes[1],
        length_km=length_km,
        r_ohm_per_km=_matrix(z_total.real, n, per_km),
        x_ohm_per_km=_matrix(z_total.imag, n, per_km),
        c_nf_per_km=_matrix(lines.Cmatrix, n, 1.0 / km_per_unit),
        ampacity_a=amps,
        emergency_a=emerg if emerg > 0.0 else None,
        kind=kind,
    )


def read_transformer(r: Reader, t: Terminals, regulated: set[str]) -> Transformer | None:
    """A two- or three-winding transformer (``None`` and reported otherwise)."""
    tr = r.circuit.Transformers
    tr.Name = t.name
    n_w = int(tr.NumWindings)
    if n_w not in (2, 3):
        r.unsupported_element(t.full_name, f"{n_w} windings (only 2 or 3 are represented)")
        return None
    ph = t.n_phases
    windings: list[Winding] = []
    for w in range(1, n_w + 1):
        tr.Wdg = w
        conn: Literal["wye", "delta"] = "delta" if bool(tr.IsDelta) else "wye"
        if conn == "wye" and (float(tr.Rneut) > 0.0 or float(tr.Xneut) > 0.0):
            r.notes.append(
                f"{t.full_name} winding {w}: neutral impedance ignored (solidly grounded)"
            )
        kv = float(tr.kV)
        bus = t.buses[w - 1]
        r.hint_kv(bus, kv / SQRT3 if ph > 1 else kv)
        windings.append(
            Winding(
                bus=bus,
                nodes=winding_nodes(t.nodes[w - 1], ph, conn),
                conn=conn,
                v_kv=kv,
                s_kva=float(tr.kVA),
                r_pct=float(tr.R),
                tap_pu=float(tr.Tap),
                tap_min_pu=float(tr.MinTap),
                tap_max_pu=float(tr.MaxTap),
                tap_steps=int(tr.NumTaps),
            )
        )
    x_pct = (float(tr.Xhl),) if n_w == 2 else (float(tr.Xhl), float(tr.Xht), float(tr.Xlt))
    if r.prop("leadlag").lower().startswith(("lead", "euro")):
        r.notes.append(f"{t.full_name}: LeadLag=Lead (IEC phase shift) imported as ANSI lag")
    kvs = [w.v_kv for w in windings]
    if t.name in regulated:
        kind: Literal["substation", "service", "regulator", "other"] = "regulator"
    elif r.prop("sub").lower().startswith(("y", "t")) or (ph == 3 and max(kvs) >= 30.0):
        kind = "substation"
    elif min(kvs) < 1.0:
        kind = "service"
    else:
        kind = "other"
    emerg = r.prop_float("emerghkva")
    return Transformer(
        id=t.name,
        phases=ph,
        windings=tuple(windings),
        x_pct=x_pct,
        noload_loss_pct=r.prop_float("%noloadloss"),
        imag_pct=r.prop_float("%imag"),
        kind=kind,
        emergency_kva=emerg if emerg > 0.0 else None,
    )


def read_regcontrol(r: Reader, full_name: str) -> Regulator | None:
    """A RegControl as a ``Regulator`` (``winding`` is 1-based as in OpenDSS).

    ``pt_phase`` is the monitored phase, or -1 for OpenDSS's MAX and -2 for MIN.
    """
    name = full_name.partition(".")[2].lower()
    rc = r.circuit.RegControls
    rc.Name = name
    r.circuit.SetActiveElement(full_name)
    if str(rc.MonitoredBus).strip():
        r.unsupported_element(
            full_name,
            f"regulates remote bus {rc.MonitoredBus!s}; "
            f"Transformer.{rc.Transformer!s} kept at its solved tap",
        )
        return None
    if int(rc.TapWinding) != int(rc.Winding):
        r.unsupported_element(
            full_name, "taps a different winding than it monitors; transformer kept at its tap"
        )
        return None
    pt = r.prop("ptphase").strip().lower()
    pt_phase = -1 if pt == "max" else -2 if pt == "min" else int(float(pt or "1"))
    forward = (float(rc.ForwardVreg), float(rc.ForwardBand), float(rc.ForwardR), float(rc.ForwardX))
    reverse = (float(rc.ReverseVreg), float(rc.ReverseBand), float(rc.ReverseR), float(rc.ReverseX))
    if bool(rc.IsReversible) and reverse != OPENDSS_REVERSE_DEFAULTS:
        r.notes.append(f"{full_name}: reverse-mode settings {reverse} not represented")
    if float(rc.VoltageLimit) > 0.0:
        r.notes.append(f"{full_name}: voltage limit (vlimit) not represented")
    return Regulator(
        id=name,
        transformer=str(rc.Transformer).lower(),
        winding=int(rc.Winding),
        v_set_v=forward[0],
        band_v=forward[1],
        pt_ratio=float(rc.PTratio),
        ct_primary_a=float(rc.CTPrimary),
        r_ldc_v=forward[2],
        x_ldc_v=forward[3],
        pt_phase=pt_phase,
        max_tap_change=int(rc.MaxTapChange),
        reversible=bool(rc.IsReversible),
    )


def read_reactor(r: Reader, t: Terminals) -> Reactor | None:
    """A series or shunt reactor with equal, uncoupled phase impedances (from its Yprim)."""
    e = r.circuit.ActiveCktElement
    n = t.n_conductors
    y_flat = as_complex(e.Yprim)
    rx = r.circuit.Reactors
    rx.Name = t.name
    delta = bool(rx.IsDelta)
    shunt = delta or t.buses[1] == t.buses[0] or y_flat.size == n * n
    y = y_flat.reshape(n, n) if y_flat.size == n * n else y_flat.reshape(2 * n, 2 * n)
    if shunt and not delta and any(t.nodes[1]):
        r.unsupported_element(t.full_name, "ungrounded-wye shunt reactor")
        return None
    try:
        if delta:
            z = np.array([[1.0 / -y[0, 1]]]) if n > 1 else np.linalg.inv(y[:n, :n])
        elif shunt:
            z = np.linalg.inv(y[:n, :n])
        else:
            z = np.linalg.inv(-y[:n, n:])
    except (np.linalg.LinAlgError, ZeroDivisionError):
        r.unsupported_element(t.full_name, "zero or singular impedance")
        return None
    diag = np.diag(z)
    off = z - np.diag(diag)
    scale = float(np.abs(diag).max()) or 1.0
    if (not delta and float(np.abs(off).max(initial=0.0)) > 1e-9 * scale) or float(
        np.abs(diag - diag[0]).max()
    ) > 1e-9 * scale:
        r.unsupported_element(t.full_name, "coupled or unequal phase impedances")
        return None
    return Reactor(
        id=t.name,
        bus1=t.buses[0],
        nodes1=t.nodes[0][: t.n_phases],
        r_ohm=float(diag[0].real),
        x_ohm=float(diag[0].imag),
        bus2=None if shunt else t.buses[1],
        nodes2=() if shunt else t.nodes[1][: t.n_phases],
        conn="delta" if delta else "wye",
        ampacity_a=float(e.NormalAmps),
    )
