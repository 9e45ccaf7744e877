"""openderms: an open-source DERMS with a built-in DSO market.

See DESIGN.md for the architecture. The package is layered: the core (``grid``, ``control``,
``market``, ``forecast``) is pure computation; services combine it with ports; adapters (CLI,
protocols, store, web, simulator) sit at the edge.
"""

__version__ = "0.1.0"
