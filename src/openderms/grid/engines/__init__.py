"""Power-flow engines behind ``openderms.grid.powerflow.PowerFlowEngine``.

- ``pgm``: power-grid-model (LF Energy), fast, three-phase elements only.
- ``opendss``: OpenDSS through dss-python, exact unbalanced (single-phase regulators, delta
  loads), the reference every result is checked against.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from openderms.grid.powerflow import PowerFlowEngine


def get_engine(name: str) -> PowerFlowEngine:
    """The engine called ``name`` ("pgm" or "opendss")."""
    if name == "pgm":
        from openderms.grid.engines.pgm import PgmEngine

        return PgmEngine()
    if name == "opendss":
        from openderms.grid.engines.opendss import OpenDssEngine

        return OpenDssEngine()
    raise ValueError(f"unknown power-flow engine {name!r}; expected 'pgm' or 'opendss'")
