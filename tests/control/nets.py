"""Hand-built networks for dispatch tests, with their LinDistFlow numbers worked out by hand.

``feeder()``: a 12.47 kV source bus and two 2 km line sections ``src - b1 - b2`` (balanced,
positive-sequence 0.3 + j0.4 ohm/km), PV ``pvA`` at ``b1`` and ``pvB`` at ``b2``. Exporting
lifts ``b2`` above 1.05 pu. Per the LinDistFlow path sums, a kW exported at ``b1`` raises both
buses by ``R1``; one at ``b2`` raises ``b2`` by ``R1 + R2`` (pu per kW, ``R = r * km / kV^2 /
1000``), so ``pvB`` is twice as effective for ``b2``. Generator convention: positive = export.
"""

from __future__ import annotations

import math

from openderms.grid.model import Bus, Der, Line, Load, Matrix, Network, Source

V_KV = 12.47
R_OHM_PER_KM, X_OHM_PER_KM, KM = 0.3, 0.4, 2.0
#: LinDistFlow weights of each section, pu per kW / pu per kvar (the same for both sections)
R_PU_PER_KW = R_OHM_PER_KM * KM / (V_KV**2 * 1000.0)
X_PU_PER_KVAR = X_OHM_PER_KM * KM / (V_KV**2 * 1000.0)
ABC = (1, 2, 3)


def seq_matrix(z1: float, z0: float) -> Matrix:
    """A transposed 3x3 phase matrix with positive-sequence value ``z1``."""
    s, m = (2 * z1 + z0) / 3, (z0 - z1) / 3
    return tuple(tuple(s if i == j else m for j in range(3)) for i in range(3))


def feeder(
    *,
    pv_a_kw: float = 1000.0,
    pv_b_kw: float = 2000.0,
    s_a_kva: float | None = None,
    s_b_kva: float | None = None,
    load_b_kw: float = 100.0,
    battery_b_kw: float | None = None,
    source_v_pu: float = 1.035,
) -> Network:
    """The two-section feeder (see the module docstring); ``s_*_kva`` default to the PV's
    output (an inverter at full output: no vars left); ``battery_b_kw`` adds a battery at
    ``b2`` with that rating (idle)."""
    v_ln = V_KV / math.sqrt(3.0)
    r, x, c = (
        seq_matrix(R_OHM_PER_KM, 3 * R_OHM_PER_KM),
        seq_matrix(X_OHM_PER_KM, 3 * X_OHM_PER_KM),
        seq_matrix(0.0, 0.0),
    )
    lines = (
        Line("l1", "src", "b1", ABC, ABC, KM, r, x, c, 600.0),
        Line("l2", "b1", "b2", ABC, ABC, KM, r, x, c, 600.0),
    )
    ders = [
        Der("pvA", "b1", ABC, "pv", pv_a_kw, 0.0, max(pv_a_kw, 1.0), s_a_kva or pv_a_kw, V_KV),
        Der("pvB", "b2", ABC, "pv", pv_b_kw, 0.0, max(pv_b_kw, 1.0), s_b_kva or pv_b_kw, V_KV),
    ]
    if battery_b_kw is not None:
        ders.append(
            Der(
                "batB", "b2", ABC, "battery", 0.0, 0.0, battery_b_kw, battery_b_kw, V_KV,
                p_min_kw=-battery_b_kw, e_kwh=4 * battery_b_kw,
            )
        )  # fmt: skip
    return Network(
        name="two-section feeder",
        buses=(Bus("src", v_ln), Bus("b1", v_ln), Bus("b2", v_ln)),
        sources=(Source("grid", "src", V_KV, source_v_pu, r1_ohm=1e-4, x1_ohm=1e-3),),
        lines=lines,
        loads=(Load("ldB", "b2", ABC, "wye", load_b_kw, 0.2 * load_b_kw, V_KV),),
        ders=tuple(ders),
    )
