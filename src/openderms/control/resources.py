"""Dispatchable resources: DER grouped by injection bus and class, and split back per DER.

DER at the same bus have the same LinDistFlow sensitivities, so both dispatch tiers decide per
*resource* (one injection column, one program priority, one cost class: generation or
storage) and split the result back to the DER in proportion to what each can give. That is
exact for the linear model and the objective, and it keeps every DER inside its own limits:

- active power, generator convention (positive = export): a resource can lower its export by
  up to ``dn_max_kw`` and raise it by up to ``up_max_kw``, both counted from the reference
  (``Fleet.p_kw``: uncontrolled or scheduled output); each DER moves the same fraction of its
  own range;
- reactive power: ``|q|`` stays within ``q_cap0_kvar + q_slope * dn`` (an inner chord of each
  inverter's circle ``p^2 + q^2 <= s^2``: curtailing PV frees capacity for vars); the
  resource's vars are split in proportion to each DER's capacity, so each stays inside its own.

DER that are offline, not controllable or de-energised are not resources: they stay at their
present output. Inverters below ``q_min_p_share`` of their rating (IEEE 1547-2018 requires
reactive capability from 5 % of rated active power) and EV chargers offer no vars.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from openderms.control.options import CostWeights, DispatchOptions
from openderms.control.types import BoolArray, Fleet, FloatArray, IntArray, sum_by


@dataclass(frozen=True, slots=True, eq=False)
class Resources:
    """Resources (see the module docstring); per-column offsets in generator convention."""

    col: IntArray
    priority: IntArray
    storage: BoolArray
    dn_max_kw: FloatArray
    up_max_kw: FloatArray
    q_cap0_kvar: FloatArray
    q_slope: FloatArray
    q_ref_kvar: FloatArray
    w_dn: FloatArray
    w_up: FloatArray
    w_q: FloatArray
    der_res: IntArray  # per DER: its resource, -1 when it is not dispatchable
    der_dn_kw: FloatArray  # per DER: its own range down, up, q capacity and slope
    der_up_kw: FloatArray
    der_q_cap0_kvar: FloatArray
    der_q_slope: FloatArray
    p_offset_kw: FloatArray  # per column: reference minus present export of the resources
    q_offset_kvar: FloatArray

    def __len__(self) -> int:
        return len(self.col)

    @classmethod
    def for_dispatch(
        cls, fleet: Fleet, der_col: IntArray, n_cols: int, opt: DispatchOptions
    ) -> Resources:
        """``build`` as a dispatcher configured by ``opt`` needs it (costs, aggregation,
        reactive power offered or not)."""
        return cls.build(
            fleet,
            der_col,
            n_cols,
            opt.costs,
            per_der=opt.aggregate == "der",
            reactive=opt.use_reactive,
        )

    @classmethod
    def build(
        cls,
        fleet: Fleet,
        der_col: IntArray,
        n_cols: int,
        costs: CostWeights,
        *,
        per_der: bool = False,
        reactive: bool = True,
    ) -> Resources:
        """Group the dispatchable DER of ``fleet`` (aligned with ``der_col``) into resources
        (``per_der``: one resource per DER; ``reactive=False``: no vars offered)."""
        ok = fleet.controllable & fleet.online & (der_col >= 0)
        storage = fleet.is_storage
        p_ref = fleet.p_kw
        dn = np.where(ok, np.maximum(p_ref - fleet.p_min_kw, 0.0), 0.0)
        up = np.where(ok, np.maximum(fleet.p_max_kw - p_ref, 0.0), 0.0)
        s = fleet.s_kva
        worst_p = np.where(
            up > 0.0, np.maximum(np.abs(fleet.p_max_kw), np.abs(fleet.p_min_kw)), p_ref
        )
        q0 = np.sqrt(np.maximum(s**2 - worst_p**2, 0.0))
        q_at_min = np.sqrt(np.maximum(s**2 - fleet.p_min_kw**2, 0.0))
        chord = (up <= 0.0) & (dn > 1e-9) & (fleet.p_min_kw >= 0.0)
        slope = np.where(chord, (q_at_min - q0) / np.where(dn > 1e-9, dn, 1.0), 0.0)
        q_ok = ok & (np.abs(p_ref) >= costs.q_min_p_share * s) & reactive
        q_ok &= np.array([k != "ev_charger" for k in fleet.kind], dtype=bool)
        q0 = np.where(q_ok, q0, 0.0)
        slope = np.where(q_ok, np.maximum(slope, 0.0), 0.0)

        members = np.flatnonzero(ok)
        if per_der:
            key = members
        else:
            key = der_col[members] * 16 + np.clip(fleet.priority[members], 0, 7) * 2
            key += storage[members]
        _, first, der_res = np.unique(key, return_index=True, return_inverse=True)
        res_of = np.full(len(fleet), -1, dtype=np.int64)
        res_of[ok] = der_res
        n = len(first)
        lead = members[first]

        def total(a: FloatArray) -> FloatArray:
            return sum_by(der_res, a[members], n)

        col = der_col[lead]
        prio = fleet.priority[lead]
        is_storage = storage[lead]
        dn_max, up_max = total(dn), total(up)
        q_slope = total(slope * dn) / np.where(dn_max > 0, dn_max, 1.0)
        weight = costs.weight(prio)
        p_off = np.where(ok, p_ref - fleet.p_present_kw, 0.0)
        q_off = np.where(ok, fleet.q_kvar - fleet.q_present_kvar, 0.0)
        cols = np.maximum(der_col, 0)
        return cls(
            col=col,
            priority=prio,
            storage=is_storage,
            dn_max_kw=dn_max,
            up_max_kw=up_max,
            q_cap0_kvar=total(q0),
            q_slope=q_slope,
            q_ref_kvar=total(np.where(q_ok, fleet.q_kvar, 0.0)),
            w_dn=weight * np.where(is_storage, costs.shift_per_kw, costs.curtail_per_kw),
            w_up=weight * costs.shift_per_kw,
            w_q=np.full(n, costs.q_per_kvar),
            der_res=res_of,
            der_dn_kw=dn,
            der_up_kw=up,
            der_q_cap0_kvar=q0,
            der_q_slope=slope,
            p_offset_kw=sum_by(cols, p_off, n_cols),
            q_offset_kvar=sum_by(cols, q_off, n_cols),
        )

    def q_cap_kvar(self, dn_kw: FloatArray) -> FloatArray:
        """Reactive capacity of each resource after lowering its export by ``dn_kw``."""
        return self.q_cap0_kvar + self.q_slope * dn_kw

    def disaggregate(
        self, fleet: Fleet, dn_kw: FloatArray, up_kw: FloatArray, q_kvar: FloatArray
    ) -> tuple[FloatArray, FloatArray]:
        """Per-DER set points ``(p_kw, q_kvar)`` (generator convention) from per-resource
        decisions: export lowered / raised from the reference and the resource's total vars.

        Non-dispatchable DER keep their present output.
        """
        r = self.der_res
        ok = r >= 0
        rr = np.maximum(r, 0)
        f_dn = np.where(
            self.dn_max_kw > 0, dn_kw / np.where(self.dn_max_kw > 0, self.dn_max_kw, 1), 0
        )
        f_up = np.where(
            self.up_max_kw > 0, up_kw / np.where(self.up_max_kw > 0, self.up_max_kw, 1), 0
        )
        f_dn, f_up = np.clip(f_dn, 0.0, 1.0), np.clip(f_up, 0.0, 1.0)
        der_dn = self.der_dn_kw * f_dn[rr]
        p = np.where(ok, fleet.p_kw - der_dn + self.der_up_kw * f_up[rr], fleet.p_present_kw)
        cap = self.der_q_cap0_kvar + self.der_q_slope * der_dn
        cap_total = sum_by(rr[ok], cap[ok], len(self))
        share = np.where(ok, cap / np.where(cap_total[rr] > 0, cap_total[rr], 1.0), 0.0)
        q_res = np.clip(q_kvar, -cap_total, cap_total)
        capable = ok & (self.der_q_cap0_kvar + self.der_q_slope * self.der_dn_kw > 0)
        q = np.where(capable, q_res[rr] * share, np.where(ok, fleet.q_kvar, fleet.q_present_kvar))
        return p, q
