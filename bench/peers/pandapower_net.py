"""Build a pandapower network equal to a balanced three-phase openderms ``Network``.

Only for benchmarks and cross-checks (pandapower is a peer here, not one of our engines):
positive-sequence line parameters from our phase matrices, the source impedance as a
pandapower ``impedance`` behind an ideal ``ext_grid``, transformer taps folded into the rated
voltages, bus-bus switches.
"""

from __future__ import annotations

import math
from typing import Any

import pandapower as pp

from openderms.grid.model import Matrix, Network


def _seq1(m: Matrix) -> float:
    n = len(m)
    if n == 1:
        return m[0][0]
    diag = sum(m[i][i] for i in range(n)) / n
    off = (sum(sum(r) for r in m) - diag * n) / (n * n - n)
    return diag - off


def to_pandapower(net: Network) -> tuple[Any, dict[str, int], dict[str, int], dict[str, int]]:
    """Return (pandapower net, bus index by id, load index by id, sgen index by id)."""
    pnet = pp.create_empty_network(name=net.name, f_hz=net.frequency_hz)
    bus = {
        b.id: pp.create_bus(pnet, vn_kv=b.v_base_kv_ln * math.sqrt(3.0), name=b.id)
        for b in net.buses
    }
    for s in net.sources:
        inner = pp.create_bus(pnet, vn_kv=s.v_base_kv_ll, name=f"{s.id}_thevenin")
        pp.create_ext_grid(pnet, inner, vm_pu=s.v_pu, va_degree=s.angle_deg)
        z_base = s.v_base_kv_ll**2 / 1.0  # ohm on 1 MVA
        pp.create_impedance(
            pnet,
            inner,
            bus[s.bus],
            rft_pu=s.r1_ohm / z_base,
            xft_pu=s.x1_ohm / z_base,
            sn_mva=1.0,
        )
    for ln in net.lines:
        pp.create_line_from_parameters(
            pnet,
            bus[ln.bus1],
            bus[ln.bus2],
            length_km=ln.length_km,
            r_ohm_per_km=_seq1(ln.r_ohm_per_km),
            x_ohm_per_km=_seq1(ln.x_ohm_per_km),
            c_nf_per_km=_seq1(ln.c_nf_per_km),
            max_i_ka=ln.ampacity_a / 1000.0,
            name=ln.id,
        )
    for sw in net.switches:
        pp.create_switch(pnet, bus[sw.bus1], bus[sw.bus2], et="b", closed=sw.closed, name=sw.id)
    for tr in net.transformers:
        hv, lv = tr.windings[0], tr.windings[1]
        vkr = hv.r_pct + lv.r_pct
        shift = 30.0 if hv.conn != lv.conn else 0.0
        pp.create_transformer_from_parameters(
            pnet,
            bus[hv.bus],
            bus[lv.bus],
            sn_mva=hv.s_kva / 1000.0,
            vn_hv_kv=hv.v_kv * hv.tap_pu,
            vn_lv_kv=lv.v_kv * lv.tap_pu,
            vkr_percent=vkr,
            vk_percent=math.hypot(vkr, tr.x_pct[0]),
            pfe_kw=tr.noload_loss_pct / 100.0 * hv.s_kva,
            i0_percent=tr.imag_pct,
            shift_degree=shift,
            name=tr.id,
        )
    for c in net.capacitors:
        if c.closed:
            pp.create_shunt(pnet, bus[c.bus], q_mvar=-c.q_kvar / 1000.0, vn_kv=c.v_kv, name=c.id)
    loads = {
        ld.id: pp.create_load(pnet, bus[ld.bus], p_mw=ld.p_kw / 1000, q_mvar=ld.q_kvar / 1000)
        for ld in net.loads
    }
    sgens = {
        d.id: pp.create_sgen(pnet, bus[d.bus], p_mw=d.p_kw / 1000, q_mvar=d.q_kvar / 1000)
        for d in net.ders
    }
    return pnet, bus, loads, sgens
