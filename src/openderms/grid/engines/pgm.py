"""The power-grid-model (LF Energy) engine: fast balanced and three-phase unbalanced power flow.

``PgmEngine`` implements ``openderms.grid.powerflow.PowerFlowEngine``. It converts a
``Network`` once (``PgmModel``, cached per engine instance on the Network object's identity) and
solves it with PGM's Newton-Raphson: the symmetric calculation when every line is transposed
(every other element PGM accepts is balanced), the asymmetric one otherwise. The same model
re-solves with new injections (``PgmModel.solve`` / ``batch``) or switch states
(``PgmModel.with_switch_states``) without reconversion: that is the fast path for the control
loop and sensitivities.

What PGM cannot represent is listed by ``unsupported`` (see ``pgm_support``); ``pick_engine``
then falls back to OpenDSS. Where PGM's own models differ from OpenDSS, the conversion follows
OpenDSS (the project's reference), so both engines give the same answer:

- wye windings, capacitors, loads and DER on ``(1, 2, 3)`` are grounded; delta/wye
  transformers put winding 2 at -30° (ANSI, clock 1); every ``r_pct``/``x_pct`` is on winding
  1's kVA; the magnetising branch sits at winding 2 and follows its tap;
- regulators follow OpenDSS's static RegControl rule (``pgm_regulators``), not PGM's own;
- loads follow OpenDSS's laws outside ``v_min_pu``/``v_max_pu`` (``pgm_loads``);
- transformer loading is current-based, against kVA/(√3·kV) per winding;
- de-energised nodes (isolated by open switches) report ``v_pu = 0.0`` and angle 0.

DER stay constant power at any voltage (an inverter does not become an impedance).

Sign conventions: ``substation_p_kw`` is what the sources deliver into the network (positive =
import from transmission, negative under reverse flow); a branch's ``p_from_kw`` enters it at
terminal 1. ``InjectionSeries`` loads are in load convention, DER in generator convention.
"""

from __future__ import annotations

from collections import OrderedDict

from openderms.grid.engines.pgm_controls import TapMode
from openderms.grid.engines.pgm_model import ENGINE_NAME, PgmModel
from openderms.grid.engines.pgm_support import unsupported_reasons
from openderms.grid.model import Network
from openderms.grid.powerflow import InjectionSeries, PowerFlowResult, SeriesResult

__all__ = ["PgmEngine", "PgmModel", "TapMode"]


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
