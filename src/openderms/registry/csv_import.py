"""Registrations from and to CSV: the bulk-import format.

One row per DER under a header naming these columns (any order; ``COLUMNS``)::

    der_type, p_export_kw, s_kva, p_import_kw, e_kwh, pf_min, inverter_make, inverter_model,
    inverter_firmware, certifications, service_point_id, service_transformer_id, bus_id,
    latitude_deg, longitude_deg, owner_name, owner_email, application_id, comm_path,
    aggregator_id, programs, device_lfdi

``certifications`` and ``programs`` hold ";"-separated values. An empty cell means the
field's default (or none); ``device_lfdi`` (optional) is the LFDI of the inverter's 2030.5
certificate, 40 hex digits. Powers as in ``Registration``: ``p_export_kw`` the AC export
rating (generator convention, positive = export), ``p_import_kw`` the largest import as a
positive number.

``parse_csv`` returns every registration or raises one ``ValidationError`` listing every
problem of the file: unknown and missing columns (object "header"), and each bad cell of
each row (object "row N", the header being row 1; blank rows count), with the column, the
value and what was expected; also application ids used twice in the file. Nothing is
returned when anything is wrong, so an import is all or nothing.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from typing import Any

from openderms.errors import ValidationError, ValidationIssue
from openderms.registry.domain import Registration, parse_registration

#: the columns of the format, in the order ``to_csv`` writes them
COLUMNS: tuple[str, ...] = (
    "der_type",
    "p_export_kw",
    "s_kva",
    "p_import_kw",
    "e_kwh",
    "pf_min",
    "inverter_make",
    "inverter_model",
    "inverter_firmware",
    "certifications",
    "service_point_id",
    "service_transformer_id",
    "bus_id",
    "latitude_deg",
    "longitude_deg",
    "owner_name",
    "owner_email",
    "application_id",
    "comm_path",
    "aggregator_id",
    "programs",
    "device_lfdi",
)
#: columns every file must have (the location needs one of its three id columns)
REQUIRED: frozenset[str] = frozenset(
    {
        "der_type",
        "p_export_kw",
        "s_kva",
        "inverter_make",
        "inverter_model",
        "owner_name",
        "owner_email",
        "application_id",
    }
)
_LOCATION_IDS = ("service_point_id", "service_transformer_id", "bus_id")
_GROUPS = {
    "nameplate": ("p_export_kw", "s_kva", "p_import_kw", "e_kwh", "pf_min"),
    "inverter": ("inverter_make", "inverter_model", "inverter_firmware", "certifications"),
    "location": (*_LOCATION_IDS, "latitude_deg", "longitude_deg"),
}
_LISTS = frozenset({"certifications", "programs"})


def _nested(row: Mapping[str, str]) -> dict[str, Any]:
    """A row's non-empty cells as the nested mapping ``Registration`` validates."""
    out: dict[str, Any] = {"nameplate": {}, "inverter": {}, "location": {}}
    group_of = {col: g for g, cols in _GROUPS.items() for col in cols}
    for col, raw in row.items():
        cell = raw.strip()
        if not cell:
            continue
        value: Any = [v.strip() for v in cell.split(";") if v.strip()] if col in _LISTS else cell
        group = group_of.get(col)
        if group is None:
            out[col] = value
        else:
            out[group][col.removeprefix("inverter_") if group == "inverter" else col] = value
    return out


def _column_of(field: str) -> str:
    """The CSV column of a dotted ``Registration`` field ("inverter.make" -> inverter_make;
    a whole group's rule names the column it is about)."""
    parts = field.split(".")
    if len(parts) == 1:
        return {"location": "|".join(_LOCATION_IDS), "nameplate": "p_export_kw"}.get(
            parts[0], parts[0]
        )
    if parts[0] == "inverter":
        return "certifications" if parts[1] == "certifications" else "inverter_" + parts[1]
    return parts[1] if parts[0] in _GROUPS else parts[0]


def _row_issue(issue: ValidationIssue, row: Mapping[str, str]) -> ValidationIssue:
    """``issue`` of a parsed row, named by CSV column, with the cell when pydantic gave the
    whole group as the value."""
    column = _column_of(issue.field)
    value = issue.value
    if value == "(object)":
        cells = [row.get(c, "").strip() for c in column.split("|")]
        value = "|".join(cells) if any(cells) else None
    return ValidationIssue("registration", issue.object_id, column, value, issue.expected)


def _header_issues(header: list[str]) -> list[ValidationIssue]:
    issues = []
    seen: set[str] = set()
    for name in header:
        if name not in COLUMNS:
            issues.append(
                ValidationIssue("header", "row 1", name, name, f"one of {', '.join(COLUMNS)}")
            )
        elif name in seen:
            issues.append(ValidationIssue("header", "row 1", name, name, "each column once"))
        seen.add(name)
    for name in sorted(REQUIRED - seen):
        issues.append(ValidationIssue("header", "row 1", name, None, "this column"))
    if not seen.intersection(_LOCATION_IDS):
        issues.append(
            ValidationIssue(
                "header", "row 1", "|".join(_LOCATION_IDS), None, "at least one of these columns"
            )
        )
    return issues


def parse_csv(text: str) -> list[Registration]:
    """Every registration of a CSV text (see the module docstring); ``ValidationError``
    listing every problem otherwise."""
    rows = csv.reader(io.StringIO(text))
    header = [h.strip().lstrip("\ufeff") for h in next(rows, [])]
    if not any(header):
        raise ValidationError(
            [ValidationIssue("header", "row 1", "(header)", "", f"the columns {COLUMNS}")]
        )
    issues = _header_issues(header)
    width = len(header)
    out: list[Registration] = []
    first_row: dict[str, int] = {}
    for n, cells in enumerate(rows, start=2):
        if not any(c.strip() for c in cells):
            continue
        oid = f"row {n}"
        if len(cells) != width:
            issues.append(
                ValidationIssue(
                    "registration", oid, "(row)", len(cells), f"{width} cells, as in the header"
                )
            )
            continue
        row = {h: c for h, c in zip(header, cells, strict=True) if h in COLUMNS}
        app = row.get("application_id", "").strip()
        first = first_row.setdefault(app, n) if app else n
        if first != n:
            issues.append(
                ValidationIssue(
                    "registration",
                    oid,
                    "application_id",
                    app,
                    f"an id not used on another row of the file (row {first} has it)",
                )
            )
        try:
            out.append(parse_registration(_nested(row), oid))
        except ValidationError as exc:
            issues += [_row_issue(i, row) for i in exc.issues]
    if issues:
        raise ValidationError(issues)
    return out


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, tuple | list):
        return ";".join(str(v) for v in value)
    if isinstance(value, float):
        return repr(value)
    return str(value)


def to_csv(registrations: Iterable[Registration]) -> str:
    """The CSV text of ``registrations`` (all ``COLUMNS``; ``parse_csv`` reads it back)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(COLUMNS)
    for reg in registrations:
        plate, inv, loc = reg.nameplate, reg.inverter, reg.location
        values = {
            **plate.model_dump(),
            **{f"inverter_{k}": v for k, v in inv.model_dump().items()},
            **loc.model_dump(),
            **reg.model_dump(exclude={"nameplate", "inverter", "location"}),
        }
        values["certifications"] = inv.certifications
        w.writerow([_cell(values[c]) for c in COLUMNS])
    return buf.getvalue()
