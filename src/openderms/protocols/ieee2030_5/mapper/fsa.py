"""FunctionSetAssignments documents."""

from __future__ import annotations

from collections.abc import Sequence

from openderms.protocols.ieee2030_5.domain import Fsa
from openderms.protocols.ieee2030_5.mapper import links
from openderms.protocols.ieee2030_5.schema.base import Link, ListLink
from openderms.protocols.ieee2030_5.schema.fsa import (
    FunctionSetAssignments,
    FunctionSetAssignmentsList,
)


def fsa(end_device_id: int, item: Fsa) -> FunctionSetAssignments:
    return FunctionSetAssignments(
        href=links.fsa(end_device_id, item.id),
        der_program_list_link=ListLink(href=links.fsa_programs(end_device_id, item.id)),
        time_link=Link(href=links.TIME),
        mrid=item.mrid,
        description=item.description or None,
        version=item.version,
        subscribable=0,
    )


def fsa_list(
    end_device_id: int, items: Sequence[Fsa], total: int, poll_rate_s: int
) -> FunctionSetAssignmentsList:
    return FunctionSetAssignmentsList(
        href=links.fsa_list(end_device_id),
        subscribable=1,  # clients may subscribe to it
        all=total,
        results=len(items),
        poll_rate=poll_rate_s,
        items=[fsa(end_device_id, i) for i in items],
    )
