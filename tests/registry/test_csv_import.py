"""CSV bulk format: round trip, every bad row named (row, column, value, expectation), header
problems, duplicate application ids, and a hypothesis round trip."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from openderms.errors import ValidationError
from openderms.registry.csv_import import COLUMNS, parse_csv, to_csv
from openderms.registry.domain import Registration
from tests.registry.conftest import registration

HEADER = (
    "der_type,p_export_kw,s_kva,inverter_make,inverter_model,owner_name,owner_email,"
    "application_id,service_point_id,bus_id,certifications,programs,p_import_kw"
)


def _issues(text: str) -> set[tuple[str, str, object]]:
    with pytest.raises(ValidationError) as err:
        parse_csv(text)
    return {(i.object_id, i.field, i.value) for i in err.value.issues}


def test_a_file_parses_with_defaults_lists_and_quotes() -> None:
    text = (
        HEADER + "\n"
        'pv,5,5.5,SunMaker,SM-1,"Smith, Pat",pat@example.org,APP-1,LD_1,,UL1741SB; CSIP,,\n'
        "\n"
        "ev_charger,0,7.2,Charge,C1,Lee,lee@example.org,APP-2,,B7,,dso_market;iso_services,7.2\n"
    )
    a, b = parse_csv(text)
    assert a.owner_name == "Smith, Pat"
    assert a.inverter.certifications == ("UL1741SB", "CSIP")
    assert a.programs == ("constraint_management",)  # empty cell: the default
    assert a.nameplate.p_import_kw == 0.0
    assert a.location.service_point_id == "LD_1"
    assert a.location.bus_id is None
    assert (b.der_type, b.nameplate.p_import_kw, b.location.bus_id) == ("ev_charger", 7.2, "B7")
    assert b.programs == ("dso_market", "iso_services")


def test_every_bad_row_is_listed_with_row_column_value() -> None:
    text = (
        HEADER + "\n"
        "pv,5,5,M,X,O,o@example.org,APP-1,LD_1,,,,\n"  # row 2: good
        "pv,lots,5,M,X,O,o@example.org,APP-2,LD_1,,,,\n"  # row 3
        "solar,5,5,M,X,O,not-an-email,APP-3,LD_1,,,,\n"  # row 4: two problems
        "\n"  # row 5: blank, counted
        "pv,9,5,M,X,O,o@example.org,APP-1,,,UL9999,dso_market;bingo,\n"  # row 6
        "pv,5,5,M\n"  # row 7: short
    )
    got = _issues(text)
    assert got == {
        ("row 3", "p_export_kw", "lots"),
        ("row 4", "der_type", "solar"),
        ("row 4", "owner_email", "not-an-email"),
        ("row 6", "application_id", "APP-1"),
        ("row 6", "p_export_kw", "9"),
        ("row 6", "service_point_id|service_transformer_id|bus_id", None),
        ("row 6", "certifications", "UL9999"),
        ("row 6", "programs", "bingo"),
        ("row 7", "(row)", 4),
    }


def test_expectations_are_in_words() -> None:
    text = (
        HEADER + "\npv,9,5,M,X,O,o@example.org,APP-1,LD_1,,,,\npv,5,5,M,X,O,o@x.org,APP-1,,B,,,\n"
    )
    with pytest.raises(ValidationError) as err:
        parse_csv(text)
    by_row = {i.object_id: i for i in err.value.issues}
    assert by_row["row 2"].expected == "p_export_kw 9.0 exceeds s_kva 5.0"
    assert by_row["row 3"].expected == "an id not used on another row of the file (row 2 has it)"
    assert "row 3" in str(err.value)


def test_unknown_missing_and_repeated_columns_are_named() -> None:
    text = "der_type,p_export_kw,colour,colour,inverter_make\npv,5,red,blue,M\n"
    got = _issues(text)
    header = {(f, v) for oid, f, v in got if oid == "row 1"}
    assert ("colour", "colour") in header
    for missing in ("s_kva", "inverter_model", "owner_name", "owner_email", "application_id"):
        assert (missing, None) in header
    assert ("service_point_id|service_transformer_id|bus_id", None) in header


def test_an_empty_file_says_what_it_needs() -> None:
    assert _issues("") == {("row 1", "(header)", "")}


def test_a_byte_order_mark_is_ignored() -> None:
    text = "\ufeff" + to_csv([registration("APP-1")])
    assert parse_csv(text) == [registration("APP-1")]


def test_to_csv_writes_every_column_and_reads_back() -> None:
    regs = [
        registration("APP-1", 4.5),
        registration(
            "APP-2",
            0.0,
            der_type="battery",
            nameplate={"p_export_kw": 5, "s_kva": 5, "p_import_kw": 5, "e_kwh": 13.5},
            location={"service_transformer_id": "XF_1", "latitude_deg": 34.1},
            comm_path="aggregator",
            aggregator_id="agg-1",
            programs=["dso_market", "iso_services"],
        ),
    ]
    text = to_csv(regs)
    assert text.splitlines()[0] == ",".join(COLUMNS)
    assert parse_csv(text) == regs


# quotes, separators, new lines and non-ASCII inside a value must survive the CSV
_name = st.text(alphabet="abcXYZ019 ,;\"'\n\té日-", max_size=18).map(lambda s: f"A{s}z")
_id = st.text(alphabet="abcdefXYZ0123456789_-", min_size=1, max_size=20)
_email = st.tuples(_id, _id).map(lambda p: f"{p[0]}@{p[1]}.org")


@st.composite
def registrations(draw: st.DrawFn) -> Registration:
    s_kva = draw(st.floats(0.1, 25_000))
    return Registration.model_validate(
        {
            "der_type": draw(st.sampled_from(["pv", "battery", "ev_charger", "other"])),
            "nameplate": {
                "p_export_kw": draw(st.floats(0, min(s_kva, 20_000))),
                "s_kva": s_kva,
                "p_import_kw": draw(st.floats(0, 20_000)),
                "e_kwh": draw(st.floats(0, 200_000)),
                "pf_min": draw(st.floats(0.01, 1.0)),
            },
            "inverter": {
                "make": draw(_name),
                "model": draw(_name),
                "firmware": draw(st.one_of(st.just(""), _id)),
                "certifications": draw(
                    st.lists(st.sampled_from(["UL1741SB", "CSIP", "IEEE1547-2018"]), max_size=3)
                ),
            },
            "location": {
                "bus_id": draw(_id),
                "service_point_id": draw(st.one_of(st.none(), _id)),
                "latitude_deg": draw(st.one_of(st.none(), st.floats(-90, 90))),
            },
            "owner_name": draw(_name),
            "owner_email": draw(_email),
            "application_id": draw(_id),
            "programs": draw(
                st.lists(st.sampled_from(["dso_market", "iso_services"]), min_size=1, max_size=2)
            ),
            "device_lfdi": draw(
                st.one_of(st.none(), st.binary(min_size=20, max_size=20).map(bytes.hex))
            ),
        }
    )


@given(st.lists(registrations(), max_size=5, unique_by=lambda r: r.application_id))
def test_round_trip_keeps_every_field(regs: list[Registration]) -> None:
    assert parse_csv(to_csv(regs)) == regs


def test_the_device_lfdi_column_is_optional_and_checked() -> None:
    lfdi = "3e4f45ab31edfe5b67e343e5e4562e31984e23e5"
    text = (
        HEADER + ",device_lfdi\n"
        f"pv,5,5,M,X,O,o@example.org,APP-1,LD_1,,,,,{lfdi}\n"
        "pv,5,5,M,X,O,o@example.org,APP-2,LD_1,,,,,\n"
    )
    a, b = parse_csv(text)
    assert (a.device_lfdi, b.device_lfdi) == (lfdi.upper(), None)
    bad = HEADER + ",device_lfdi\npv,5,5,M,X,O,o@example.org,APP-1,LD_1,,,,,xyz\n"
    assert _issues(bad) == {("row 2", "device_lfdi", "xyz")}
    assert "device_lfdi" in COLUMNS
