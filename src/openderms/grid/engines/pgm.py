"""The power-grid-model (LF Energy) engine: fast balanced and three-phase unbalanced power flow.

``PgmEngine`` implements ``openderms.grid.powerflow.PowerFlowEngine``. It converts a
``Network`` once (``PgmModel``, cached per engine instance on the Network object's identity) and
solves it with PGM's Newton-Raphson: the symmetric calculation when every line is transposed
(every other element PGM accepts is balanced), the asymmetric one otherwise.

What PGM cannot represent is listed by ``unsupported`` (see ``pgm_support``); ``pick_engine``
then falls back to OpenDSS. Notable modelling choices, all matching OpenDSS:

- wye windings, capacitors, loads and DER on ``(1, 2, 3)`` are grounded;
- delta/wye transformers shift the second winding by -30° (ANSI, clock 1);
- regulators follow OpenDSS's static RegControl rule (``pgm_regulators``), not PGM's own;
- constant-power loads stay constant power at any voltage (OpenDSS switches a load to constant
  impedance outside its ``vminpu``/``vmaxpu``: the engines agree while voltages stay inside);
- the transformer magnetising branch is split half and half between the terminals (PGM's pi
  model); OpenDSS connects it at winding 1, a difference of order ``%imag``·``x_pct``/10⁴;
- de-energised nodes (isolated by open switches) report ``v_pu = 0.0`` and angle 0, like OpenDSS.

Sign conventions: ``substation_p_kw`` is what the sources deliver into the network (positive =
import from transmission, negative under reverse flow); a branch's ``p_from_kw`` enters it at
terminal 1. ``InjectionSeries`` loads are in load convention, DER in generator convention.
"""

from __future__ import annotations

from collections import OrderedDict

from openderms.grid.engines.pgm_model import ENGINE_NAME, PgmModel
from openderms.grid.engines.pgm_support import unsupported_reasons
from openderms.grid.model import Network
from openderms.grid.powerflow import InjectionSeries, PowerFlowResult, SeriesResult

__all__ = ["PgmEngine", "PgmModel"]


class PgmEngine:
    """power-grid-model behind the ``PowerFlowEngine`` protocol.

    Keeps the last ``cache_size`` converted networks (by object identity, holding a reference
    so an id cannot be reused), so repeated solves of the same ``Network`` do not reconvert.
    For the fastest repeated solves with changing injections use ``model(net)`` directly.
    """

    name = ENGINE_NAME

    def __init__(self, *, cache_size: int = 4) -> None:
        self._cache_size = cache_size
        self._cache: OrderedDict[int, tuple[Network, PgmModel]] = OrderedDict()

    def unsupported(self, net: Network) -> tuple[str, ...]:
        """What PGM cannot represent, one ``"<kind> <id>: <reason>"`` per element; () if none."""
        return unsupported_reasons(net)

    def model(self, net: Network) -> PgmModel:
        """The converted model of ``net`` (cached; raises ``EngineUnsupportedError``)."""
        key = id(net)
        hit = self._cache.get(key)
        if hit is not None and hit[0] is net:
            self._cache.move_to_end(key)
            return hit[1]
        model = PgmModel.from_network(net)
        self._cache[key] = (net, model)
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return model

    def solve(self, net: Network) -> PowerFlowResult:
        """One snapshot at the model's injections (raises ``NotConvergedError`` on failure)."""
        return self.model(net).solve()

    def solve_series(self, net: Network, injections: InjectionSeries) -> SeriesResult:
        """Every row of ``injections`` as a time step, in PGM batch calculations.

        Loads in load convention, DER in generator convention. Regulator taps carry over from
        one step to the next (as the OpenDSS engine's do); steps are otherwise independent.
        """
        return self.model(net).batch(
            injections.load_p_kw,
            injections.load_q_kvar,
            injections.der_p_kw,
            injections.der_q_kvar,
            taps="chronological",
        )
