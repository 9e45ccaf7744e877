"""Payload encoding: ``bytes`` pass through, mappings become UTF-8 JSON.

Inside a JSON payload a ``datetime`` must be timezone-aware; it is written in UTC as ISO 8601
(``2026-06-01T12:00:00+00:00``), a ``date`` as ``2026-06-01``, an ``Enum`` as its value, a
``UUID`` as its string, tuples and other sequences as arrays. NaN and infinity are refused
(they are not JSON). Decoding gives plain JSON values: parse timestamps with
``datetime.fromisoformat``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from enum import Enum
from typing import Any
from uuid import UUID

from openderms.errors import ValidationError, ValidationIssue


def _default(subject: str) -> Any:
    def convert(value: object) -> object:
        if isinstance(value, datetime):
            if value.tzinfo is None or value.utcoffset() is None:
                raise ValidationError(
                    [
                        ValidationIssue(
                            "payload", subject, "datetime", value, "a timezone-aware datetime"
                        )
                    ]
                )
            return value.astimezone(UTC).isoformat()
        if isinstance(value, date):
            return value.isoformat()
        if isinstance(value, Enum):
            return value.value
        if isinstance(value, UUID):
            return str(value)
        if isinstance(value, Mapping):
            return dict(value)
        if isinstance(value, Sequence) and not isinstance(value, str | bytes):
            return list(value)
        raise ValidationError(
            [
                ValidationIssue(
                    "payload",
                    subject,
                    type(value).__name__,
                    value,
                    "JSON values, aware datetimes, dates, enums or UUIDs",
                )
            ]
        )

    return convert


def encode_payload(subject: str, payload: bytes | Mapping[str, Any]) -> bytes:
    """The bytes to put on the wire for ``payload`` published on ``subject``."""
    if isinstance(payload, bytes):
        return payload
    if not isinstance(payload, Mapping):
        raise ValidationError(
            [
                ValidationIssue(
                    "payload", subject, "type", type(payload).__name__, "bytes or Mapping"
                )
            ]
        )
    try:
        text = json.dumps(
            payload, default=_default(subject), allow_nan=False, separators=(",", ":")
        )
    except (ValueError, TypeError) as exc:
        expected = "finite numbers and string keys"
        raise ValidationError(
            [ValidationIssue("payload", subject, "value", str(exc), expected)]
        ) from exc
    return text.encode()


def decode_json(data: bytes) -> Any:
    """Plain JSON values of a payload encoded by ``encode_payload``."""
    return json.loads(data)
