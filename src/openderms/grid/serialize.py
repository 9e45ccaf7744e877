"""Network <-> JSON, validated on the way in (pydantic over the model's dataclasses).

Bad JSON never yields a half-built model: ``network_from_json`` raises ``ValidationError``
whose issues name the table, the row, the field and the value.
"""

from __future__ import annotations

from functools import cache

import pydantic

from openderms.errors import ValidationError, ValidationIssue
from openderms.grid.model import Network


@cache
def _adapter() -> pydantic.TypeAdapter[Network]:
    return pydantic.TypeAdapter(Network)


def network_to_json(net: Network) -> bytes:
    """Serialise ``net`` to JSON bytes."""
    return _adapter().dump_json(net)


def network_from_json(data: bytes | str) -> Network:
    """Parse and type-check a network; raises ``ValidationError`` naming every bad field."""
    try:
        return _adapter().validate_json(data)
    except pydantic.ValidationError as exc:
        issues = []
        for err in exc.errors():
            loc = [str(p) for p in err["loc"]]
            table = ".".join(loc[:2]) if len(loc) >= 2 else (loc[0] if loc else "network")
            field = ".".join(loc[2:]) or (loc[-1] if loc else "")
            value = err.get("input")
            value = (
                value
                if isinstance(value, str | int | float | bool | None)
                else type(value).__name__
            )
            issues.append(ValidationIssue(table, "", field, value, err["msg"]))
        raise ValidationError(issues) from None
