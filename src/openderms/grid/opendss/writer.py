"""Write a ``Network`` as an OpenDSS script (for the ``opendss`` engine and for export).

The script is generated from our model only, never from an imported file. Element and bus ids
are kept as OpenDSS names when OpenDSS can hold them (lower-case, no spaces, dots or
separators); others get a safe unique name, recorded in ``DssScript`` so results map back.

Representation choices:
- a closed ``Switch`` is a ``Line`` with ``switch=yes`` and its ``r_ohm``/``x_ohm`` per phase
  (1 micro-ohm when ideal); an open one is disabled (``enabled=no``), so a section fed only
  through it is de-energised;
- every ``Der`` is a constant-P/Q ``Generator`` (model 1) with ``kW=p_kw`` and
  ``kvar=q_kvar`` in generator convention (positive = export; negative ``kW`` consumes);
- loads keep their voltage dependence (``model`` 1, 2, 5, 8 with ``ZIPV`` or 4 with the CVR
  exponents) and ``vminpu``/``vmaxpu``;
- bus kV bases come from ``Bus.v_base_kv_ln`` (``SetkVBase``), so per-unit values match.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from types import MappingProxyType

from openderms.errors import PowerFlowError
from openderms.grid.model import Load, Matrix, Network, Nodes
from openderms.grid.opendss._elements import phases_of

_SAFE = re.compile(r"^[a-z0-9_\-#+:]+$")
#: resistance standing in for an ideal switch (r_ohm = x_ohm = 0); OpenDSS needs a finite one
IDEAL_SWITCH_OHM = 1e-6


def _f(x: float) -> str:
    return repr(float(x))


def _tri(m: Matrix) -> str:
    """A symmetric matrix as OpenDSS's lower-triangle text."""
    return "[" + " | ".join(" ".join(_f(v) for v in row[: i + 1]) for i, row in enumerate(m)) + "]"


@dataclass(slots=True)
class _Namer:
    """Model id -> OpenDSS name, unique case-insensitively within one namespace."""

    used: set[str] = field(default_factory=set)
    names: dict[str, str] = field(default_factory=dict)

    def __call__(self, model_id: str) -> str:
        if model_id in self.names:
            return self.names[model_id]
        name = model_id.lower()
        if not _SAFE.match(name) or name in self.used:
            stem = re.sub(r"[^a-z0-9_\-#+:]", "_", name) or "x"
            name = f"{stem}_{len(self.used)}"
            while name in self.used:
                name += "_"
        self.used.add(name)
        self.names[model_id] = name
        return name


@dataclass(frozen=True, slots=True)
class DssScript:
    """A generated script and the OpenDSS name of every bus and element, by model id."""

    commands: tuple[str, ...]
    bus: dict[str, str]
    line: dict[str, str]  # lines and switches share OpenDSS's Line class
    transformer: dict[str, str]
    load: dict[str, str]
    der: dict[str, str]
    source: dict[str, str]
    reactor: dict[str, str]

    @property
    def text(self) -> str:
        return "\n".join(self.commands) + "\n"


def to_dss_script(net: Network) -> str:
    """``net`` as an OpenDSS script (compile it with OpenDSS to reproduce our power flow)."""
    return build_script(net).text


def _spec(bus: str, nodes: Nodes) -> str:
    return bus + "".join(f".{n}" for n in nodes)


def _zipv(load: Load) -> str:
    c = list(load.zip_coeffs)
    if len(c) == 3:
        c = c + c + [0.0]
    elif len(c) == 6:
        c = [*c, 0.0]
    if len(c) != 7:
        raise PowerFlowError(f"load {load.id!r}: zip_coeffs needs 3, 6 or 7 values, got {len(c)}")
    return "[" + " ".join(_f(v) for v in c) + "]"


#: our load model -> OpenDSS load model number
_LOAD_MODEL = MappingProxyType(
    {
        "constant_power": 1,
        "constant_impedance": 2,
        "constant_current": 5,
        "zip": 8,
        "exponential": 4,
    }
)


def build_script(net: Network) -> DssScript:
    """The OpenDSS commands for ``net`` with the name maps used to read results back."""
    if not net.sources:
        raise PowerFlowError(f"network {net.name!r} has no source; OpenDSS needs one")
    bus, line, xfmr = _Namer(), _Namer(), _Namer()
    load, der, src, rx = _Namer(), _Namer(), _Namer(), _Namer()
    cap, reg = _Namer(), _Namer()
    src.used.add("source")
    cmds: list[str] = ["Clear", f"Set DefaultBaseFrequency={_f(net.frequency_hz)}"]
    for i, s in enumerate(net.sources):
        head = f"New Circuit.{_Namer()(net.name or 'network')}" if i == 0 else "New Vsource."
        name = "source" if i == 0 else src(s.id)
        src.names[s.id] = name
        cmds.append(
            f"{head}{'' if i == 0 else name} bus1={_spec(bus(s.bus), s.nodes)} "
            f"phases={len(s.nodes)} basekv={_f(s.v_base_kv_ll)} pu={_f(s.v_pu)} "
            f"angle={_f(s.angle_deg)} R1={_f(s.r1_ohm)} X1={_f(s.x1_ohm)} "
            f"R0={_f(s.r0_ohm)} X0={_f(s.x0_ohm)}"
        )
    codes: dict[tuple[Matrix, Matrix, Matrix], str] = {}
    for ln in net.lines:
        key = (ln.r_ohm_per_km, ln.x_ohm_per_km, ln.c_nf_per_km)
        code = codes.get(key)
        if code is None:
            code = codes[key] = f"lc{len(codes)}"
            cmds.append(
                f"New LineCode.{code} nphases={ln.n_conductors} units=km "
                f"rmatrix={_tri(key[0])} xmatrix={_tri(key[1])} cmatrix={_tri(key[2])}"
            )
        emerg = f" emergamps={_f(ln.emergency_a)}" if ln.emergency_a else ""
        cmds.append(
            f"New Line.{line(ln.id)} phases={ln.n_conductors} "
            f"bus1={_spec(bus(ln.bus1), ln.nodes1)} bus2={_spec(bus(ln.bus2), ln.nodes2)} "
            f"linecode={code} length={_f(ln.length_km)} units=km "
            f"normamps={_f(ln.ampacity_a)}{emerg}"
        )
    for sw in net.switches:
        r_ohm = sw.r_ohm if sw.r_ohm > 0.0 or sw.x_ohm > 0.0 else IDEAL_SWITCH_OHM
        cmds.append(
            f"New Line.{line(sw.id)} phases={len(sw.nodes1)} "
            f"bus1={_spec(bus(sw.bus1), sw.nodes1)} bus2={_spec(bus(sw.bus2), sw.nodes2)} "
            f"switch=yes r1={_f(r_ohm)} r0={_f(r_ohm)} x1={_f(sw.x_ohm)} x0={_f(sw.x_ohm)} "
            f"c1=0 c0=0 length=1 normamps={_f(sw.ampacity_a)}"
            + ("" if sw.closed else " enabled=no")
        )
    for tr in net.transformers:
        if len(tr.windings) != len(tr.x_pct) + 1 and not (
            len(tr.windings) == 3 and len(tr.x_pct) == 3
        ):
            raise PowerFlowError(f"transformer {tr.id!r}: x_pct does not fit its windings")
        xs = ["XHL", "XHT", "XLT"]
        emerg = f" emerghkva={_f(tr.emergency_kva)}" if tr.emergency_kva else ""
        cmds.append(
            f"New Transformer.{xfmr(tr.id)} phases={tr.phases} windings={len(tr.windings)} "
            + " ".join(f"{xs[k]}={_f(x)}" for k, x in enumerate(tr.x_pct))
            + f" %noloadloss={_f(tr.noload_loss_pct)} %imag={_f(tr.imag_pct)}{emerg}"
        )
        for k, w in enumerate(tr.windings, start=1):
            cmds.append(
                f"~ wdg={k} bus={_spec(bus(w.bus), w.nodes)} conn={w.conn} kv={_f(w.v_kv)} "
                f"kva={_f(w.s_kva)} %r={_f(w.r_pct)} numtaps={w.tap_steps} "
                f"mintap={_f(w.tap_min_pu)} maxtap={_f(w.tap_max_pu)} tap={_f(w.tap_pu)}"
            )
        # kva on one winding also overwrites the others in OpenDSS: set them all at once
        cmds.append("~ kvas=[" + " ".join(_f(w.s_kva) for w in tr.windings) + "]")
    for rg in net.regulators:
        pt = {-1: "MAX", -2: "MIN"}.get(rg.pt_phase, str(rg.pt_phase))
        cmds.append(
            f"New RegControl.{reg(rg.id)} transformer={xfmr(rg.transformer)} "
            f"winding={rg.winding} vreg={_f(rg.v_set_v)} band={_f(rg.band_v)} "
            f"ptratio={_f(rg.pt_ratio)} ctprim={_f(rg.ct_primary_a)} R={_f(rg.r_ldc_v)} "
            f"X={_f(rg.x_ldc_v)} PTphase={pt} maxtapchange={rg.max_tap_change} "
            f"reversible={'yes' if rg.reversible else 'no'}"
        )
    for cp in net.capacitors:
        cmds.append(
            f"New Capacitor.{cap(cp.id)} bus1={_spec(bus(cp.bus), cp.nodes)} "
            f"phases={len(cp.nodes)} conn={cp.conn} kvar={_f(cp.q_kvar)} kv={_f(cp.v_kv)}"
            + ("" if cp.closed else " states=[0]")
        )
    for r in net.reactors:
        where = f"bus1={_spec(bus(r.bus1), r.nodes1)}"
        if r.bus2 is not None:
            where += f" bus2={_spec(bus(r.bus2), r.nodes2)}"
        cmds.append(
            f"New Reactor.{rx(r.id)} phases={len(r.nodes1)} {where} conn={r.conn} "
            f"R={_f(r.r_ohm)} X={_f(r.x_ohm)} normamps={_f(r.ampacity_a)}"
        )
    for ld in net.loads:
        model = _LOAD_MODEL[ld.model]
        zipv = f" zipv={_zipv(ld)}" if model == 8 else ""
        if model == 4:
            zipv = f" cvrwatts={_f(ld.p_exponent)} cvrvars={_f(ld.q_exponent)}"
        cmds.append(
            f"New Load.{load(ld.id)} bus1={_spec(bus(ld.bus), ld.nodes)} "
            f"phases={phases_of(ld.nodes, ld.conn)} conn={ld.conn} kv={_f(ld.v_kv)} "
            f"kw={_f(ld.p_kw)} kvar={_f(ld.q_kvar)} model={model}{zipv} "
            f"vminpu={_f(ld.v_min_pu)} vmaxpu={_f(ld.v_max_pu)} numcust={ld.customers}"
        )
    for d in net.ders:
        kva = f" kva={_f(d.s_kva)}" if d.s_kva > 0.0 else ""
        cmds.append(
            f"New Generator.{der(d.id)} bus1={_spec(bus(d.bus), d.nodes)} "
            f"phases={phases_of(d.nodes, d.conn)} conn={d.conn} kv={_f(d.v_kv)} "
            f"kw={_f(d.p_kw)} kvar={_f(d.q_kvar)} model=1{kva} vminpu=0.5 vmaxpu=1.5"
        )
    cmds.append("MakeBusList")
    cmds += [f"SetkVBase bus={bus(b.id)} kVLN={_f(b.v_base_kv_ln)}" for b in net.buses]
    return DssScript(
        commands=tuple(cmds),
        bus=bus.names,
        line=line.names,
        transformer=xfmr.names,
        load=load.names,
        der=der.names,
        source=src.names,
        reactor=rx.names,
    )
