"""Wire model of the hosting-capacity resource (``/api/v1/hosting-capacity``).

kW; export in generator convention (positive = export to the grid), import as kW drawn.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class HostingCapacityOut(BaseModel):
    """What a location still takes before anyone applies: the bus it maps to, and the
    export and import that fit there after the DER already granted, with what binds."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    bus_id: str
    feeder_id: str | None
    topology_node_id: str
    energised: bool = Field(description="false: the bus is dead under the present switching")
    export_capacity_kw: float
    export_binding: str = Field(description="what limits more export, in words")
    import_capacity_kw: float
    import_binding: str = Field(description="what limits more import, in words")
    summary: str = Field(description="the same in one sentence")
