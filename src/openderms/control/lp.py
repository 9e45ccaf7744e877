"""The AC-calibrated LinDistFlow LP of the OPF, solved with HiGHS and warm-started.

The network part is LinDistFlow on the *reduced tree*: the watched buses, the buses fed by
watched branches, and all their ancestors. A resource hangs at the deepest reduced-tree bus on
its path (its effect on every modelled quantity passes through it; one with no such bus hangs
at the source). Per internal reduced-tree bus ``a`` fed by branch ``e``:

- flow balance, away from the source: ``dP_e = sum(dP_children) - sum(injection change at a)``
  (and the same for vars);
- voltage, in milli-per-unit: ``dv_a = dv_parent - r_e dP_e - x_e dQ_e``, bounded so that
  ``v_ac + dv`` stays inside the limits tightened by the margins.

A leaf of the reduced tree (a low-voltage bus, typically) is substituted out: its branch flow
is minus the change of its own injections, so its voltage limit is one row over its parent's
voltage and its own resources. A watched branch's loading stays inside a polygon of tangents
to its rating circle around its flow direction when first watched (``FACET_DEG``; corners
exceed the circle by under 1 %, inside the loading margin). A resource's vars are also held
within the headroom of the branch feeding its bus (``sqrt(S_max^2 - P^2) -+ Q``). The
substation row keeps ``P_ac + change`` within the net-load limits (lossless change).

The matrix depends only on the structure (which buses, branches, facet angles); each
linearisation point only moves bounds (``set_point``), so the OPF's re-linearisations
warm-start HiGHS from the previous basis. Variables per resource (generator convention, from
the reference): ``dn`` (export lowered), ``up`` (export raised), ``qi``/``qa`` (vars injected /
absorbed). ``elastic`` puts penalised slacks on every limit, so a best-effort plan comes back
even when the DER cannot clear everything.
"""

from __future__ import annotations

import time

import highspy
import numpy as np
from scipy.sparse import coo_matrix, csr_matrix

from openderms.control.linear import LinearGrid, OperatingPoint
from openderms.control.lp_types import LpInput, LpResult
from openderms.control.resources import Resources
from openderms.control.types import FloatArray, IntArray, sum_by

INF = highspy.kHighsInf
MPU = 1e3  # voltage variables and rows in milli-per-unit (better scaled than pu)
FACET_DEG = (-45.0, -30.0, -15.0, 0.0, 15.0, 30.0, 45.0)  # around the flow direction
PENALTY_PER_MPU = 1e4  # elastic slack costs: far above any curtailment that could avoid them
PENALTY_PER_KVA = 1e3
_LAZY_ROUNDS = 4  # re-solves adding the internal voltage bounds a solution broke


class LpModel:
    """The LP's structure in a live HiGHS model; ``set_point`` then ``solve`` per iteration."""

    def __init__(
        self,
        lg: LinearGrid,
        res: Resources,
        buses: IntArray,
        branches: IntArray,
        op: OperatingPoint,
        *,
        substation: bool,
        elastic: bool = False,
    ) -> None:
        """Build the structure: ``buses`` (indices) whose voltages are modelled, with their
        ancestors; ``branches`` (indices into ``op.branch_index``) watched from the start, their
        facets around ``op``'s flows; ``substation``: a net-load row; ``elastic``: slacks on
        every limit. Bounds come later, from ``set_point``."""
        t0 = time.perf_counter()
        self.lg, self.res, self.elastic = lg, res, elastic
        topo = lg.topology
        n_bus = len(topo.bus_ids)
        fed = op.branch_bus[branches]
        tree = lg.ancestors(np.unique(np.concatenate([buses, fed])))
        in_tree = np.zeros(n_bus, dtype=bool)
        in_tree[tree] = True
        parent = topo.parent[tree]
        has_child = np.zeros(n_bus, dtype=bool)
        has_child[parent[parent >= 0]] = True
        self.in_tree = in_tree
        self.leaf, self.node = tree[~has_child[tree]], tree[has_child[tree]]
        self.pos = np.full(n_bus, -1, dtype=np.int64)
        self.pos[self.node] = np.arange(len(self.node))
        self.lpos = np.full(n_bus, -1, dtype=np.int64)
        self.lpos[self.leaf] = np.arange(len(self.leaf))
        self.att_col = lg.attach(in_tree)  # deepest reduced-tree bus per column, -1: source
        up_bus = np.where(self.att_col >= 0, topo.parent[np.maximum(self.att_col, 0)], -1)
        flow_col = np.where(self.lpos[np.maximum(self.att_col, 0)] >= 0, up_bus, self.att_col)
        self.flow_col = np.where(self.pos[np.maximum(flow_col, 0)] >= 0, flow_col, -1)
        self.att, self.flow = self.att_col[res.col], self.flow_col[res.col]
        self.q_ok = (self.att >= 0) & ((res.q_cap0_kvar > 0) | (res.q_slope > 0))
        self.substation = substation
        self._cols: list[tuple[FloatArray, FloatArray, FloatArray]] = []
        self._trip: list[tuple[IntArray, IntArray, FloatArray]] = []
        self.n_cols = self.n_rows = 0
        self.branches = np.empty(0, dtype=np.int64)
        self.facet_rows = np.empty((0, len(FACET_DEG)), dtype=np.int64)
        self.facet_theta = np.empty((0, len(FACET_DEG)))
        self._structure()
        self.bounded = np.zeros(len(self.node), dtype=bool)
        self.v_node_lo = self.v_node_hi = np.zeros(len(self.node))
        self.highs = self._pass()
        self.add_branches(branches, op)
        self.build_s = time.perf_counter() - t0

    # ---------------------------------------------------------------- structure
    def _col(self, n: int, cost: FloatArray | float = 0.0) -> int:
        start = self.n_cols
        self._cols.append((np.zeros(n), np.zeros(n), np.broadcast_to(cost, (n,)).astype(float)))
        self.n_cols += n
        return start

    def _row(self, n: int) -> int:
        start, self.n_rows = self.n_rows, self.n_rows + n
        return start

    def _add(self, r: IntArray, c: IntArray, v: FloatArray | float) -> None:
        r = np.asarray(r, dtype=np.int64)
        self._trip.append(
            (r, np.asarray(c, dtype=np.int64), np.broadcast_to(v, r.shape).astype(float))
        )

    def _structure(self) -> None:
        lg, res, topo = self.lg, self.res, self.lg.topology
        nr, ns, nl = len(res), len(self.node), len(self.leaf)
        pos, lpos, att, flow, q_ok = self.pos, self.lpos, self.att, self.flow, self.q_ok
        self.c_dn, self.c_up = self._col(nr, res.w_dn), self._col(nr, res.w_up)
        self.c_qi, self.c_qa = self._col(nr, res.w_q), self._col(nr, res.w_q)
        self.c_p, self.c_q, self.c_v = self._col(ns), self._col(ns), self._col(ns)
        k = np.arange(ns)
        par = topo.parent[self.node]
        ppos = np.where(par >= 0, pos[np.maximum(par, 0)], -1)
        self.top = k[ppos < 0]
        inner = ppos >= 0
        self.r_p, self.r_q, self.r_v = self._row(ns), self._row(ns), self._row(ns)
        for r0, c0 in ((self.r_p, self.c_p), (self.r_q, self.c_q)):
            self._add(r0 + k, c0 + k, 1.0)
            self._add(r0 + ppos[inner], c0 + k[inner], -1.0)
        on = np.flatnonzero(flow >= 0)
        self._add(self.r_p + pos[flow[on]], self.c_up + on, 1.0)
        self._add(self.r_p + pos[flow[on]], self.c_dn + on, -1.0)
        qon = np.flatnonzero(q_ok & (flow >= 0))
        self._add(self.r_q + pos[flow[qon]], self.c_qi + qon, 1.0)
        self._add(self.r_q + pos[flow[qon]], self.c_qa + qon, -1.0)
        self._add(self.r_v + k, self.c_v + k, 1.0)
        self._add(self.r_v + k[inner], self.c_v + ppos[inner], -1.0)
        self._add(self.r_v + k, self.c_p + k, MPU * lg.r_pu_per_kw[self.node])
        self._add(self.r_v + k, self.c_q + k, MPU * lg.x_pu_per_kvar[self.node])
        # leaf voltages: dv_parent + r * (own export change) + x * (own vars change)
        lpar = topo.parent[self.leaf]
        lppos = np.where(lpar >= 0, pos[np.maximum(lpar, 0)], -1)
        self.r_l = self._row(nl)
        self._add(self.r_l + np.flatnonzero(lppos >= 0), self.c_v + lppos[lppos >= 0], 1.0)
        lres = np.flatnonzero((att >= 0) & (lpos[np.maximum(att, 0)] >= 0))
        rl, a = self.r_l + lpos[att[lres]], att[lres]
        self._add(rl, self.c_up + lres, MPU * lg.r_pu_per_kw[a])
        self._add(rl, self.c_dn + lres, -MPU * lg.r_pu_per_kw[a])
        lq = q_ok[lres]
        self._add(rl[lq], self.c_qi + lres[lq], MPU * lg.x_pu_per_kvar[a[lq]])
        self._add(rl[lq], self.c_qa + lres[lq], -MPU * lg.x_pu_per_kvar[a[lq]])
        if self.elastic:  # internal voltage limits become rows; every voltage row gets slacks
            self.r_vb = self._row(ns)
            self._add(self.r_vb + k, self.c_v + k, 1.0)
            s = self._col(2 * (ns + nl), PENALTY_PER_MPU)
            rr = np.concatenate([self.r_vb + k, self.r_l + np.arange(nl)])
            self._add(rr, s + np.arange(ns + nl), 1.0)
            self._add(rr, s + ns + nl + np.arange(ns + nl), -1.0)
            self.c_slack = s
        # reactive capability: |q_ref + qi - qa| <= cap0 + slope * dn
        self.coupled = np.flatnonzero(q_ok & ((res.q_slope > 0) | (res.q_ref_kvar != 0)))
        nc = len(self.coupled)
        self.r_c = self._row(2 * nc)
        j, cp = np.arange(nc), self.coupled
        for sign, r0 in ((1.0, self.r_c), (-1.0, self.r_c + nc)):
            self._add(r0 + j, self.c_qi + cp, sign)
            self._add(r0 + j, self.c_qa + cp, -sign)
            self._add(r0 + j, self.c_dn + cp, -res.q_slope[cp])
        # substation: sum(dP of top branches) - (source-attached injection change)
        self.r_sub = -1
        if self.substation:
            self.r_sub = self._row(1)
            free = np.flatnonzero(flow < 0)
            self._add(np.full(len(self.top), self.r_sub), self.c_p + self.top, 1.0)
            self._add(np.full(len(free), self.r_sub), self.c_up + free, -1.0)
            self._add(np.full(len(free), self.r_sub), self.c_dn + free, 1.0)
            if self.elastic:
                s = self._col(2, PENALTY_PER_KVA)
                self._add(np.array([self.r_sub] * 2), s + np.arange(2), np.array([1.0, -1.0]))

    def _pass(self) -> highspy.Highs:
        rows, cols, vals = (np.concatenate(x) for x in zip(*self._trip, strict=True))
        a = coo_matrix((vals, (rows, cols)), shape=(self.n_rows, self.n_cols)).tocsc()
        lp = highspy.HighsLp()
        lp.num_col_, lp.num_row_ = self.n_cols, self.n_rows
        lo, hi, cost = (np.concatenate(x) for x in zip(*self._cols, strict=True))
        lp.col_cost_, lp.col_lower_, lp.col_upper_ = cost, lo, hi
        lp.row_lower_ = lp.row_upper_ = np.zeros(self.n_rows)
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.start_ = a.indptr.astype(np.int32)
        lp.a_matrix_.index_ = a.indices.astype(np.int32)
        lp.a_matrix_.value_ = a.data
        h = highspy.Highs()  # type: ignore[no-untyped-call]
        h.setOptionValue("output_flag", False)
        # Devex pricing: exact steepest-edge weights cost more to set up (for every new basis,
        # as after a re-linearisation) than they save on these network LPs
        h.setOptionValue("simplex_dual_edge_weight_strategy", 1)
        h.passModel(lp)
        return h

    # ---------------------------------------------------------------- branches
    def add_branches(self, branches: IntArray, op: OperatingPoint) -> None:
        """Watch more branches: facet rows around each one's present flow direction."""
        new = np.setdiff1d(branches, self.branches)
        if not len(new):
            return
        nf = len(FACET_DEG)
        theta = np.arctan2(op.q_down_kvar[new], op.p_down_kw[new])[:, None] + np.radians(FACET_DEG)
        cos, sin = np.cos(theta), np.sin(theta)
        first = self.n_rows
        rows = (first + np.arange(len(new) * nf)).reshape(len(new), nf)
        r, c, v = [], [], []
        for b, bus in enumerate(op.branch_bus[new].tolist()):
            if self.pos[bus] >= 0:
                for col, coef in (
                    (self.c_p + self.pos[bus], cos[b]),
                    (self.c_q + self.pos[bus], sin[b]),
                ):
                    r.append(rows[b])
                    c.append(np.full(nf, col))
                    v.append(coef)
                continue
            mine = np.flatnonzero(self.att == bus)  # a leaf: minus its own injection change
            mq = mine[self.q_ok[mine]]
            for cols, coef in (
                (self.c_up + mine, -cos[b]), (self.c_dn + mine, cos[b]),
                (self.c_qi + mq, -sin[b]), (self.c_qa + mq, sin[b]),
            ):  # fmt: skip
                r.append(np.repeat(rows[b], len(cols)))
                c.append(np.tile(cols, nf))
                v.append(np.repeat(coef, len(cols)))
        n_new = len(new) * nf
        m = csr_matrix(
            (np.concatenate(v), (np.concatenate(r) - first, np.concatenate(c))),
            shape=(n_new, self.n_cols),
        )
        self.highs.addRows(
            n_new, np.full(n_new, -INF), np.full(n_new, INF), m.nnz,
            m.indptr[:-1].astype(np.int32), m.indices.astype(np.int32), m.data,
        )  # fmt: skip
        self.n_rows += n_new
        if self.elastic:
            for row in rows.ravel().tolist():
                self.highs.addCol(
                    PENALTY_PER_KVA, 0.0, INF, 1, np.array([row], np.int32), np.array([-1.0])
                )
            self.n_cols += n_new
        self.branches = np.concatenate([self.branches, new])
        self.facet_rows = np.vstack([self.facet_rows, rows])
        self.facet_theta = np.vstack([self.facet_theta, theta])

    # ---------------------------------------------------------------- point and solve
    def set_point(self, inp: LpInput) -> None:
        """Move every bound to the linearisation ``inp`` (the matrix stays: warm start)."""
        lg, res, op, mg = self.lg, self.res, inp.op, inp.margins
        n_bus = len(lg.topology.bus_ids)
        node, leaf, ok = self.node, self.leaf, self.att_col >= 0
        m_at = sum_by(self.att_col[ok], inp.m_it_col_kw[ok], n_bus)
        q_at = sum_by(self.att_col[ok], inp.q_it_col_kvar[ok], n_bus)
        q_at -= sum_by(self.att[self.q_ok], res.q_ref_kvar[self.q_ok], n_bus)
        lpar = np.maximum(lg.topology.parent[leaf], 0)
        m_fl = m_at + sum_by(lpar, m_at[leaf], n_bus)
        q_fl = q_at + sum_by(lpar, q_at[leaf], n_bus)
        v = op.voltages
        v_lo = MPU * (v.limit_min_pu + mg.v_pu - v.v_min_pu)
        v_hi = MPU * (v.limit_max_pu - mg.v_pu - v.v_max_pu)
        v_hi = np.maximum(v_hi, v_lo)
        const = MPU * (-lg.r_pu_per_kw[leaf] * m_at[leaf] - lg.x_pu_per_kvar[leaf] * q_at[leaf])
        ns, nl, nc = len(node), len(leaf), len(self.coupled)
        row_lo = np.zeros(self.n_rows)
        row_hi = np.zeros(self.n_rows)
        for r0, val in ((self.r_p, m_fl[node]), (self.r_q, q_fl[node])):
            row_lo[r0 : r0 + ns] = row_hi[r0 : r0 + ns] = val
        row_lo[self.r_l : self.r_l + nl] = v_lo[leaf] - const
        row_hi[self.r_l : self.r_l + nl] = v_hi[leaf] - const
        cap0, qref = res.q_cap0_kvar[self.coupled], res.q_ref_kvar[self.coupled]
        row_lo[self.r_c : self.r_c + 2 * nc] = -INF
        row_hi[self.r_c : self.r_c + 2 * nc] = np.concatenate([cap0 - qref, cap0 + qref])
        if self.r_sub >= 0:
            const_sub = op.result.substation_p_kw + float(np.sum(inp.m_it_col_kw))
            const_sub -= float(np.sum(m_fl[node]))  # the changes hanging at the source
            imp, rev = inp.import_max_kw, inp.reverse_max_kw
            row_hi[self.r_sub] = INF if imp is None else imp - mg.p_kw - const_sub
            row_lo[self.r_sub] = -INF if rev is None else -(rev - mg.p_kw) - const_sub
        col_lo = np.zeros(self.n_cols)
        col_hi = np.full(self.n_cols, INF)
        col_hi[self.c_dn : self.c_dn + len(res)] = res.dn_max_kw
        col_hi[self.c_up : self.c_up + len(res)] = res.up_max_kw
        qmax = res.q_cap0_kvar + res.q_slope * res.dn_max_kw + np.abs(res.q_ref_kvar)
        qmax = np.where(self.q_ok, qmax, 0.0)
        room_inj, room_abs = op.var_headroom_kvar(lg, 100.0 - mg.loading_pct, mg.v_pu)
        total = sum_by(res.col, qmax, lg.n_cols)
        share = qmax / np.where(total[res.col] > 0, total[res.col], 1.0)
        inj, ab = room_inj[res.col], room_abs[res.col]
        q_inj = np.minimum(qmax, np.where(np.isfinite(inj), share * inj, qmax))
        q_abs = np.minimum(qmax, np.where(np.isfinite(ab), share * ab, qmax))
        col_hi[self.c_qi : self.c_qi + len(res)] = q_inj
        col_hi[self.c_qa : self.c_qa + len(res)] = q_abs
        col_lo[self.c_p : self.c_v + ns] = -INF
        if self.elastic:
            row_lo[self.r_vb : self.r_vb + ns] = v_lo[node]
            row_hi[self.r_vb : self.r_vb + ns] = v_hi[node]
        else:  # internal bounds are lazy: set only where a solution would break them
            self.v_node_lo, self.v_node_hi = v_lo[node], v_hi[node]
            col_lo[self.c_v : self.c_v + ns] = np.where(self.bounded, v_lo[node], -INF)
            col_hi[self.c_v : self.c_v + ns] = np.where(self.bounded, v_hi[node], INF)
        br, rows = self.branches, self.facet_rows
        if len(br):
            p0, q0 = op.p_down_kw[br], op.q_down_kvar[br]
            s_lim = op.s_limit_kva(br, 100.0 - mg.loading_pct, mg.v_pu)
            theta = self.facet_theta
            rhs = s_lim[:, None] - np.cos(theta) * p0[:, None] - np.sin(theta) * q0[:, None]
            leafy = self.pos[op.branch_bus[br]] < 0
            b_bus = op.branch_bus[br]
            rhs[leafy] -= np.cos(theta[leafy]) * m_at[b_bus[leafy], None]
            rhs[leafy] -= np.sin(theta[leafy]) * q_at[b_bus[leafy], None]
            row_lo[rows.ravel()] = -INF
            row_hi[rows.ravel()] = rhs.ravel()
        h = self.highs
        h.changeColsBounds(self.n_cols, np.arange(self.n_cols, dtype=np.int32), col_lo, col_hi)
        h.changeRowsBounds(  # type: ignore[attr-defined]
            self.n_rows, np.arange(self.n_rows, dtype=np.int32), row_lo, row_hi
        )

    def solve(self) -> LpResult:
        """Solve (warm when the model has been solved before). Internal-bus voltage bounds
        are added lazily: low-voltage leaves usually dominate their feeders' voltages, so
        most internal bounds never bind; any a solution breaks is added and the LP re-solved
        from its basis."""
        h, res, nr = self.highs, self.res, len(self.res)
        ns, c_v = len(self.node), self.c_v
        t = time.perf_counter()
        iterations = 0
        for _ in range(1 + _LAZY_ROUNDS):
            h.run()
            iterations += int(h.getInfo().simplex_iteration_count)
            if self.elastic or h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
                break
            dv = np.asarray(h.getSolution().col_value)[c_v : c_v + ns]
            broken = ~self.bounded & ((dv < self.v_node_lo - 1e-9) | (dv > self.v_node_hi + 1e-9))
            if not broken.any():
                break
            self.bounded |= broken
            k = np.flatnonzero(broken)
            h.changeColsBounds(
                len(k), (c_v + k).astype(np.int32), self.v_node_lo[k], self.v_node_hi[k]
            )
        solve_s = time.perf_counter() - t
        status = h.modelStatusToString(h.getModelStatus())
        ok = status == "Optimal"
        sol = h.getSolution()
        x = np.asarray(sol.col_value) if ok else np.zeros(self.n_cols)
        cd = np.asarray(sol.col_dual) if ok else np.zeros(self.n_cols)
        rd = np.asarray(sol.row_dual) if ok else np.zeros(self.n_rows)
        nl = len(self.leaf)
        node_dual = rd[self.r_vb : self.r_vb + ns] if self.elastic else cd[self.c_v : self.c_v + ns]
        facet = rd[self.facet_rows] if len(self.branches) else np.zeros((0, len(FACET_DEG)))
        return LpResult(
            dn_kw=np.clip(x[self.c_dn : self.c_dn + nr], 0.0, res.dn_max_kw),
            up_kw=np.clip(x[self.c_up : self.c_up + nr], 0.0, res.up_max_kw),
            q_kvar=res.q_ref_kvar + x[self.c_qi : self.c_qi + nr] - x[self.c_qa : self.c_qa + nr],
            objective=float(h.getInfo().objective_function_value) if ok else 0.0,
            status=status,
            elastic=self.elastic,
            slack=float(np.sum(x[self.c_v + ns :])) if self.elastic else 0.0,
            n_cols=self.n_cols,
            n_rows=self.n_rows,
            solve_s=solve_s,
            iterations=iterations,
            v_bus=np.concatenate([self.node, self.leaf]),
            v_dual=MPU * np.concatenate([node_dual, rd[self.r_l : self.r_l + nl]]),
            branches=self.branches.copy(),
            branch_dual=facet.min(axis=1) if len(facet) else np.zeros(0),
            sub_dual=float(rd[self.r_sub]) if self.r_sub >= 0 else 0.0,
        )
