"""Plain values of constraint management: the DER fleet, limits, violations, controls, plans.

Signs (DESIGN.md): every DER power is in generator convention, positive = export to the grid (a
charging battery or EV charger has negative ``p_kw``); reactive power likewise, positive =
exporting vars (raises voltage), negative = absorbing. The substation's ``p_kw`` is what the
source delivers into the network: positive = import from transmission, negative = reverse flow.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import IntEnum
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from openderms.errors import ValidationError, ValidationIssue
from openderms.grid.model import Network

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]
IntArray = NDArray[np.int64]

ViolationKind = Literal["overvoltage", "undervoltage", "thermal", "net_load_import", "reverse_flow"]
Unit = Literal["pu", "pct", "kw"]
STORAGE_KINDS = frozenset({"battery", "ev_charger", "flexible_load"})


class Priority(IntEnum):
    """Program priority of a DER: the higher, the later it is curtailed or moved."""

    NONE = 0  # no program: curtailed first
    PROGRAM = 1  # enrolled in a utility program
    MARKET = 2  # under a market schedule: respected first, overridden only when required


@dataclass(frozen=True, slots=True)
class DerControl:
    """A control for one DER. ``p_max_kw`` caps export (curtailment), ``p_kw`` sets a target
    (storage, EV chargers), ``q_kvar`` sets reactive power; all generator convention (positive =
    export; negative ``q_kvar`` absorbs vars). ``reason`` names the constraint and the
    sensitivity used. ``priority``: queue priority, higher first. Times are UTC-aware or None."""

    der_id: str
    reason: str
    p_max_kw: float | None = None
    p_kw: float | None = None
    q_kvar: float | None = None
    priority: int = 0
    constraint: str = ""  # "<kind>:<element id>" of the constraint that asked for it
    start: datetime | None = None
    expiry: datetime | None = None


@dataclass(frozen=True, slots=True)
class DerState:
    """One DER as the dispatch sees it (generator convention: positive = export).

    ``p_kw`` is what it would export uncontrolled (PV: its available power) or under its
    schedule; ``p_max_kw``/``p_min_kw`` bound what it can do now (a battery's state of charge
    narrows them; PV has ``p_max_kw == p_kw`` and ``p_min_kw == 0``); ``control`` is the control
    in force, if any.
    """

    id: str
    bus: str
    kind: str
    p_kw: float
    p_max_kw: float
    p_min_kw: float
    s_kva: float
    q_kvar: float = 0.0
    controllable: bool = True
    online: bool = True
    priority: Priority = Priority.NONE
    control: DerControl | None = None


@dataclass(frozen=True, slots=True, eq=False)
class Fleet:
    """Per-DER arrays (one entry per DER, in ``ids`` order; dispatch needs ``net.ders`` order).

    Powers in generator convention (positive = export). ``p_kw``/``q_kvar``: uncontrolled or
    scheduled output (the reference curtailment is counted from); ``p_present_kw`` /
    ``q_present_kvar``: output with the controls in force (the operating point).
    """

    ids: tuple[str, ...]
    bus: tuple[str, ...]
    kind: tuple[str, ...]
    p_kw: FloatArray
    p_max_kw: FloatArray
    p_min_kw: FloatArray
    s_kva: FloatArray
    q_kvar: FloatArray
    controllable: BoolArray
    online: BoolArray
    priority: IntArray
    p_present_kw: FloatArray
    q_present_kvar: FloatArray

    def __post_init__(self) -> None:
        _validate(self)

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def is_storage(self) -> BoolArray:
        """Batteries, EV chargers and flexible loads: moving them shifts energy, loses none."""
        return np.array([k in STORAGE_KINDS for k in self.kind], dtype=bool)

    @classmethod
    def from_states(cls, states: Sequence[DerState]) -> Fleet:
        """Arrays from ``DerState`` values; a control in force sets the present output."""
        p = np.array([s.p_kw for s in states], dtype=np.float64)
        q = np.array([s.q_kvar for s in states], dtype=np.float64)
        p_now, q_now = p.copy(), q.copy()
        for i, s in enumerate(states):
            c = s.control
            if c is None:
                continue
            if c.p_kw is not None:
                p_now[i] = c.p_kw
            if c.p_max_kw is not None:
                p_now[i] = min(p_now[i], c.p_max_kw)
            if c.q_kvar is not None:
                q_now[i] = c.q_kvar
        return cls(
            ids=tuple(s.id for s in states),
            bus=tuple(s.bus for s in states),
            kind=tuple(s.kind for s in states),
            p_kw=p,
            p_max_kw=np.array([s.p_max_kw for s in states], dtype=np.float64),
            p_min_kw=np.array([s.p_min_kw for s in states], dtype=np.float64),
            s_kva=np.array([s.s_kva for s in states], dtype=np.float64),
            q_kvar=q,
            controllable=np.array([s.controllable for s in states], dtype=bool),
            online=np.array([s.online for s in states], dtype=bool),
            priority=np.array([int(s.priority) for s in states], dtype=np.int64),
            p_present_kw=p_now,
            q_present_kvar=q_now,
        )

    @classmethod
    def from_network(
        cls,
        net: Network,
        priority: Mapping[str, Priority] | None = None,
        uncontrollable: Iterable[str] = (),
    ) -> Fleet:
        """The fleet at ``net``'s operating point, uncontrolled, in ``net.ders`` order.

        PV and generators can only lower their export (``p_max_kw`` = present ``p_kw``);
        batteries may move anywhere in their rating (state of charge unknown); an EV charger
        that is charging may charge less or more, one that is idle (``p_kw == 0``) is
        unplugged and cannot move.
        """
        ders = net.ders
        prio = priority or {}
        fixed = set(uncontrollable)
        p = np.array([d.p_kw for d in ders], dtype=np.float64)
        kind = tuple(d.kind for d in ders)
        rating_max = np.array([d.p_max_kw for d in ders], dtype=np.float64)
        rating_min = np.array([d.p_min_kw for d in ders], dtype=np.float64)
        is_gen = np.array([k not in STORAGE_KINDS for k in kind], dtype=bool)
        is_ev = np.array([k == "ev_charger" for k in kind], dtype=bool)
        p_max = np.where(is_gen, np.maximum(p, 0.0), np.maximum(rating_max, p))
        p_min = np.where(is_gen, np.minimum(np.maximum(rating_min, 0.0), p), rating_min)
        p_min = np.minimum(p_min, p)
        idle_ev = is_ev & (p == 0.0)
        p_max = np.where(idle_ev, 0.0, np.where(is_ev, np.minimum(p_max, 0.0), p_max))
        p_min = np.where(idle_ev, 0.0, p_min)
        q = np.array([d.q_kvar for d in ders], dtype=np.float64)
        return cls(
            ids=tuple(d.id for d in ders),
            bus=tuple(d.bus for d in ders),
            kind=kind,
            p_kw=p,
            p_max_kw=p_max,
            p_min_kw=p_min,
            s_kva=np.array([d.s_kva for d in ders], dtype=np.float64),
            q_kvar=q,
            controllable=np.array([d.id not in fixed for d in ders], dtype=bool),
            online=np.ones(len(ders), dtype=bool),
            priority=np.array([int(prio.get(d.id, Priority.NONE)) for d in ders], dtype=np.int64),
            p_present_kw=p.copy(),
            q_present_kvar=q.copy(),
        )


def _validate(f: Fleet) -> None:
    n = len(f.ids)
    issues: list[ValidationIssue] = []
    for name in (
        "bus", "kind", "p_kw", "p_max_kw", "p_min_kw", "s_kva", "q_kvar", "controllable",
        "online", "priority", "p_present_kw", "q_present_kvar",
    ):  # fmt: skip
        if len(getattr(f, name)) != n:
            issues.append(ValidationIssue("fleet", "-", name, len(getattr(f, name)), f"{n} rows"))
    if issues:
        raise ValidationError(issues)
    tol = 1e-6
    checks = (
        ("p_min_kw", f.p_min_kw > f.p_kw + tol, "<= p_kw"),
        ("p_max_kw", f.p_max_kw < f.p_kw - tol, ">= p_kw"),
        ("s_kva", f.s_kva < 0.0, ">= 0"),
    )
    for name, bad, expected in checks:
        for i in np.flatnonzero(bad)[:10].tolist():
            issues.append(
                ValidationIssue("der", f.ids[i], name, float(getattr(f, name)[i]), expected)
            )
    if issues:
        raise ValidationError(issues)


@dataclass(frozen=True, slots=True)
class NetLoadWindow:
    """Net-load limits in force from ``start`` (inclusive) to ``end`` (exclusive), UTC-aware."""

    start: datetime
    end: datetime
    import_max_kw: float | None = None
    reverse_flow_max_kw: float | None = None


@dataclass(frozen=True, slots=True)
class NetLoadLimits:
    """Substation net-load limits: import (positive ``substation_p_kw``) at most
    ``import_max_kw``; reverse flow (export to transmission) at most ``reverse_flow_max_kw``
    (a positive magnitude). ``None``: no limit. A window covering the instant overrides."""

    import_max_kw: float | None = None
    reverse_flow_max_kw: float | None = None
    windows: tuple[NetLoadWindow, ...] = ()

    def at(self, when: datetime | None) -> tuple[float | None, float | None]:
        """``(import_max_kw, reverse_flow_max_kw)`` in force at ``when`` (None: the defaults)."""
        if when is not None:
            for w in self.windows:
                if w.start <= when < w.end:
                    return w.import_max_kw, w.reverse_flow_max_kw
        return self.import_max_kw, self.reverse_flow_max_kw


@dataclass(frozen=True, slots=True)
class Violation:
    """A limit exceeded: ``value`` and ``limit`` in ``unit`` (pu for voltages, pct of rating for
    thermal, kW for net load, where ``value`` of a reverse flow is the exported magnitude);
    ``excess`` is how far beyond, in the same unit, always positive."""

    kind: ViolationKind
    element_id: str  # bus, branch or "substation"
    value: float
    limit: float
    unit: Unit

    @property
    def excess(self) -> float:
        return self.value - self.limit if self.kind != "undervoltage" else self.limit - self.value

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.element_id}"

    def __str__(self) -> str:
        cmp = "<" if self.kind == "undervoltage" else ">"
        return (
            f"{self.kind} at {self.element_id}: {self.value:.4g} {self.unit} {cmp} "
            f"{self.limit:.4g} {self.unit} (by {self.excess:.3g} {self.unit})"
        )


@dataclass(frozen=True, slots=True, eq=False)
class ControlPlan:
    """What a dispatch decided. ``der_p_kw``/``der_q_kvar`` are the resulting set points of
    every DER in fleet order (generator convention), ready for an AC check; ``controls`` holds
    only the DER whose output changes. ``ac_violations`` is None when no AC check was run."""

    controls: tuple[DerControl, ...]
    method: str
    solve_s: float
    phase_s: Mapping[str, float]
    iterations: int
    violations_before: tuple[Violation, ...]
    predicted_violations: tuple[Violation, ...]
    ac_violations: tuple[Violation, ...] | None
    der_p_kw: FloatArray
    der_q_kvar: FloatArray
    curtailed_kw: float  # generation lost: export of PV/generators lowered below the reference
    shifted_kw: float  # storage and EV chargers moved from their reference (either way)
    q_used_kvar: float  # total |q| change from the reference
    objective: float = 0.0
    notes: tuple[str, ...] = field(default=())
    outside_control: tuple[Violation, ...] = ()  # left after: no dispatchable DER can relieve

    @property
    def actionable_ac_violations(self) -> tuple[Violation, ...]:
        """AC violations after the plan that dispatchable DER could act on."""
        if self.ac_violations is None:
            return ()
        outside = {v.key for v in self.outside_control}
        return tuple(v for v in self.ac_violations if v.key not in outside)

    @property
    def ac_feasible(self) -> bool:
        return self.ac_violations is not None and not self.ac_violations


def sum_by(index: IntArray, weights: FloatArray, n: int) -> FloatArray:
    """``out[k]`` = sum of ``weights`` where ``index == k``, for ``k < n`` (float64)."""
    out: FloatArray = np.bincount(index, weights, minlength=n).astype(np.float64, copy=False)
    return out
