"""Error (clause 15.3 of IEEE 2030.5): the body of a 4xx or 5xx response."""

from __future__ import annotations

from pydantic_xml import element

from openderms.protocols.ieee2030_5.schema.base import SepModel, UInt16

#: reasonCode values
INVALID_REQUEST_FORMAT = 0
INVALID_REQUEST_VALUES = 1
RESOURCE_LIMIT_REACHED = 2
CONDITIONAL_SUBSCRIPTION_FIELD_NOT_SUPPORTED = 3
MAXIMUM_REQUEST_FREQUENCY_EXCEEDED = 4


class Error(SepModel, tag="Error"):
    max_retry_duration: UInt16 | None = element(tag="maxRetryDuration", default=None)
    reason_code: UInt16 = element(tag="reasonCode")
