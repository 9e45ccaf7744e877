"""How a simulated inverter reacts to a 2030.5 control: pure functions, no I/O.

Powers in W, generator convention (positive = export to the grid). ``opModMaxLimW`` and
``opModFixedW`` are hundredths of a percent of the DER's rated power (setMaxW).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from openderms.protocols.ieee2030_5.schema.derp import DERControlBase


@dataclass(frozen=True, slots=True)
class Behaviour:
    """A device's habits. ``delay_s``: time from receiving a control to applying it;
    ``delivery``: the fraction of a requested curtailment actually delivered (1 = exact);
    ``ignore_p``: probability it ignores a control altogether; ``comm_loss_p``: probability
    that a poll or post cycle is lost (no network); ``comm_loss_s``: how long a loss lasts."""

    delay_s: float = 0.0
    delivery: float = 1.0
    ignore_p: float = 0.0
    comm_loss_p: float = 0.0
    comm_loss_s: float = 60.0

    @staticmethod
    def realistic(rng: random.Random) -> Behaviour:
        """A draw from a fleet in which most devices comply within seconds, some
        deliver only part of a curtailment and a few ignore controls or drop offline."""
        return Behaviour(
            delay_s=rng.uniform(1.0, 10.0),
            delivery=1.0 if rng.random() < 0.85 else rng.uniform(0.6, 0.95),
            ignore_p=0.02,
            comm_loss_p=0.005,
            comm_loss_s=rng.uniform(30.0, 300.0),
        )


def output_w(
    available_w: float,
    rated_w: float,
    control: DERControlBase | None,
    delivery: float = 1.0,
    p_min_w: float = 0.0,
) -> float:
    """The active power (W, export positive) an inverter produces when ``available_w`` is
    what its PV could make and ``control`` is in force (None: free running). A cap is met
    only to ``delivery`` of the curtailment asked for. ``p_min_w`` < 0 makes it a storage
    (or EV charger) inverter: ``available_w`` is then its schedule (negative = charging),
    a cap lowers its export, and ``opModTargetW`` moves it anywhere in [p_min_w, rated_w]."""
    free = max(min(p_min_w, 0.0), min(available_w, rated_w))
    if control is None:
        return free
    if control.op_mod_connect is False or control.op_mod_energize is False:
        return 0.0
    target = free
    if control.op_mod_fixed_w is not None:
        target = min(free, max(0.0, control.op_mod_fixed_w / 10_000 * rated_w))
    if control.op_mod_max_lim_w is not None:
        target = min(target, control.op_mod_max_lim_w / 10_000 * rated_w)
    if control.op_mod_target_w is not None:
        tw = control.op_mod_target_w
        w = tw.value * 10.0**tw.multiplier
        target = max(p_min_w, min(rated_w, w)) if p_min_w < 0 else min(free, max(0.0, w))
    return free - (free - target) * delivery


def reactive_var(rated_w: float, control: DERControlBase | None) -> float:
    """Reactive power (var, injection positive) asked by ``opModFixedVar`` (percent of
    rated) or ``opModTargetVar``; 0 when neither is in force."""
    if control is None:
        return 0.0
    if control.op_mod_target_var is not None:
        tv = control.op_mod_target_var
        return float(tv.value * 10.0**tv.multiplier)
    if control.op_mod_fixed_var is not None:
        return control.op_mod_fixed_var.value / 10_000 * rated_w
    return 0.0
