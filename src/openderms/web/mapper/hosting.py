"""Hosting capacity: the registry's ``HostingAt`` <-> wire model and words."""

from __future__ import annotations

import pydantic

from openderms.errors import ValidationError
from openderms.registry.domain import Location, issues_from_pydantic
from openderms.registry.screening import HostingAt
from openderms.web.schema.hosting import HostingCapacityOut


def location(
    service_point_id: str | None, service_transformer_id: str | None, bus_id: str | None
) -> Location:
    """The location a query names (``ValidationError`` when it names none)."""
    data = {
        "service_point_id": service_point_id,
        "service_transformer_id": service_transformer_id,
        "bus_id": bus_id,
    }
    try:
        return Location.model_validate(data)
    except pydantic.ValidationError as exc:
        raise ValidationError(issues_from_pydantic(exc, "location", "(query)")) from None


def hosting_hint(h: HostingAt) -> str:
    """One sentence for an installer about to apply."""
    feeder = f" on feeder {h.feeder_id}" if h.feeder_id else ""
    if not h.energised:
        return f"Bus {h.bus_id}{feeder} is not energised under the present switching."
    return (
        f"Connects at bus {h.bus_id}{feeder}: room for {h.export_capacity_kw:,.1f} kW more "
        f"export (bound by {h.export_binding}) and {h.import_capacity_kw:,.1f} kW more import "
        f"(bound by {h.import_binding})."
    )


def hosting_out(h: HostingAt) -> HostingCapacityOut:
    return HostingCapacityOut(**h.model_dump(), summary=hosting_hint(h))
