"""DER, DERList and the DER documents (capability, settings, status, availability)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType

from openderms.protocols.ieee2030_5.domain import DerInfo
from openderms.protocols.ieee2030_5.mapper import links
from openderms.protocols.ieee2030_5.repository.der import DerDocKind, DerDocument
from openderms.protocols.ieee2030_5.schema.base import Link
from openderms.protocols.ieee2030_5.schema.der import DER, DERList

#: the last path segment of each document of a DER
DOCUMENT_PATHS: Mapping[DerDocKind, str] = MappingProxyType(
    {"capability": "dercap", "settings": "derg", "status": "ders", "availability": "dera"}
)


def document_href(end_device_id: int, der_index: int, kind: DerDocKind) -> str:
    return f"{links.der(end_device_id, der_index)}/{DOCUMENT_PATHS[kind]}"


def der(info: DerInfo) -> DER:
    e, n = info.end_device_id, info.der_index
    return DER(
        href=links.der(e, n),
        subscribable=0,
        der_availability_link=Link(href=document_href(e, n, "availability")),
        der_capability_link=Link(href=document_href(e, n, "capability")),
        der_settings_link=Link(href=document_href(e, n, "settings")),
        der_status_link=Link(href=document_href(e, n, "status")),
    )


def der_list(end_device_id: int, items: Sequence[DerInfo], total: int, poll_rate_s: int) -> DERList:
    return DERList(
        href=links.der_list(end_device_id),
        all=total,
        results=len(items),
        poll_rate=poll_rate_s,
        items=[der(i) for i in items],
    )


def document(end_device_id: int, der_index: int, kind: DerDocKind, doc: DerDocument) -> DerDocument:
    return doc.model_copy(update={"href": document_href(end_device_id, der_index, kind)})
