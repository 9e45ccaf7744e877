"""``/api/v1/hosting-capacity``: what a location still takes, before applying."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from openderms.web.auth import ApiActor
from openderms.web.deps import RegistryDep
from openderms.web.mapper import hosting as mapper
from openderms.web.schema.hosting import HostingCapacityOut

router = APIRouter(tags=["hosting capacity"])

_Id = Annotated[str | None, Query(max_length=80)]


@router.get(
    "/hosting-capacity",
    response_model=HostingCapacityOut,
    summary="Hosting capacity at a service point, service transformer or bus",
)
def hosting_capacity(
    actor: ApiActor,
    service: RegistryDep,
    service_point_id: _Id = None,
    service_transformer_id: _Id = None,
    bus_id: _Id = None,
) -> HostingCapacityOut:
    """Export and import (kW) that still fit where the location connects, after the DER
    already granted; any authenticated role may ask."""
    location = mapper.location(service_point_id, service_transformer_id, bus_id)
    return mapper.hosting_out(service.hosting_capacity_at(location))
