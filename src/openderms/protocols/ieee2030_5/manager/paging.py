"""List paging (IEEE 2030.5 clause 8.2.1.4): query ``s`` (start index), ``a`` (after time),
``l`` (limit). A missing ``l`` means 1, as the standard says."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TypeVar

from openderms.errors import ValidationError, ValidationIssue
from openderms.protocols.ieee2030_5.domain import Page

T = TypeVar("T")

#: the most items one page holds, whatever ``l`` asks
MAX_LIMIT = 1000


def parse_page(query: Mapping[str, str], default_limit: int = 1) -> Page:
    """``s``, ``a`` and ``l`` from a query string (``ValidationError`` when not whole
    numbers >= 0)."""
    values = {"s": 0, "a": 0, "l": default_limit}
    issues = []
    for key in values:
        raw = query.get(key)
        if raw is None:
            continue
        if not raw.isdigit():
            issues.append(ValidationIssue("query", key, key, raw, "a whole number >= 0"))
            continue
        values[key] = int(raw)
    if issues:
        raise ValidationError(issues)
    return Page(start=values["s"], after=values["a"], limit=min(values["l"], MAX_LIMIT))


def paged(items: Sequence[T], page: Page) -> tuple[list[T], int]:
    """The page's items of ``items`` and how many there are in all."""
    return list(items[page.start : page.start + page.limit]), len(items)
