"""JSON payloads: aware datetimes as ISO 8601 in UTC, a few extra types, clear refusals."""

from __future__ import annotations

import enum
import uuid
from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from openderms.bus.codec import decode_json, encode_payload
from openderms.errors import ValidationError


class Mode(enum.Enum):
    CURTAIL = "curtail"


def test_types_a_payload_may_carry() -> None:
    ident = uuid.UUID(int=7)
    at = datetime(2026, 6, 1, 5, 0, tzinfo=timezone(timedelta(hours=-7)))
    data = encode_payload(
        "control_plans.s1",
        {
            "at": at,
            "day": date(2026, 6, 1),
            "mode": Mode.CURTAIL,
            "id": ident,
            "ders": ("d1", "d2"),
            "limits": {"p_kw": 5.0},
        },
    )
    assert decode_json(data) == {
        "at": "2026-06-01T12:00:00+00:00",
        "day": "2026-06-01",
        "mode": "curtail",
        "id": str(ident),
        "ders": ["d1", "d2"],
        "limits": {"p_kw": 5.0},
    }
    assert datetime.fromisoformat(decode_json(data)["at"]) == at.astimezone(UTC)


def test_bytes_are_not_touched() -> None:
    assert encode_payload("measurements.s1", b"\xff") == b"\xff"


@pytest.mark.parametrize(
    ("payload", "match"),
    [
        ({"at": datetime(2026, 6, 1, 12)}, "timezone-aware"),
        ({"p_kw": float("nan")}, "finite"),
        ({"x": object()}, "object"),
        ({(1, 2): "x"}, "string keys"),
    ],
)
def test_refusals_name_the_subject_and_value(payload: dict[object, object], match: str) -> None:
    with pytest.raises(ValidationError, match=match) as err:
        encode_payload("measurements.s1", payload)  # type: ignore[arg-type]
    assert "measurements.s1" in str(err.value)


def test_only_bytes_or_mappings() -> None:
    with pytest.raises(ValidationError, match="bytes or Mapping"):
        encode_payload("measurements.s1", ["a"])  # type: ignore[arg-type]
