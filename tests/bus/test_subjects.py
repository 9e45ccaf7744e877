"""Subjects per substation: builders, parsing, token checks and wildcard matching."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from openderms.bus import subjects
from openderms.errors import ValidationError

tokens = st.text(
    alphabet=st.characters(blacklist_characters=".*>", blacklist_categories=("Z", "C")),
    min_size=1,
    max_size=20,
)


def test_builders_give_one_subject_per_substation() -> None:
    assert subjects.telemetry("sub1", "der-42") == "telemetry.sub1.der-42"
    assert subjects.measurements("sub1") == "measurements.sub1"
    assert subjects.switch_states("sub1") == "switch_states.sub1"
    assert subjects.switching_orders("sub1") == "switching_orders.sub1"
    assert subjects.parse("switching_orders.sub1").substation_id == "sub1"
    assert subjects.SWITCHING_ORDERS in subjects.STORED_FAMILIES
    assert subjects.violations("sub1") == "violations.sub1"
    assert subjects.control_plans("sub1") == "control_plans.sub1"
    assert subjects.responses("sub1") == "responses.sub1"
    assert subjects.registry_der("provisioned") == "registry.der.provisioned"
    assert subjects.rpc("grid", "powerflow") == "rpc.grid.powerflow"
    assert subjects.dead_letter("measurements.sub1") == "dead_letter.measurements.sub1"


@pytest.mark.parametrize("bad", ["", "sub 1", "sub.1", "sub*", ">", "tab\there"])
def test_a_bad_id_is_refused_naming_field_and_value(bad: str) -> None:
    with pytest.raises(ValidationError) as err:
        subjects.telemetry(bad, "der1")
    (issue,) = err.value.issues
    assert issue.field == "substation_id"
    assert issue.value == bad
    assert repr(bad) in str(err.value)
    assert "without whitespace" in str(err.value)


def test_parse_names_the_tokens() -> None:
    parsed = subjects.parse("telemetry.sub1.der9")
    assert parsed.family is subjects.TELEMETRY
    assert (parsed.substation_id, parsed.der_id) == ("sub1", "der9")
    assert subjects.parse("registry.der.approved").tokens["event"] == "approved"
    dead = subjects.parse("dead_letter.responses.sub2")
    assert dead.family is subjects.DEAD_LETTER
    assert (dead.original, dead.substation_id) == ("responses.sub2", "sub2")


@pytest.mark.parametrize(
    ("subject", "match"),
    [
        ("weather.sub1", "'weather'"),
        ("telemetry.sub1", "telemetry.<substation_id>.<der_id>"),
        ("telemetry.sub1.der1.extra", "telemetry.<substation_id>.<der_id>"),
        ("telemetry.sub1.*", "token 2"),
        ("telemetry..der1", "token 1"),
        ("registry.aggregator.created", "'der'"),
        ("dead_letter.dead_letter.measurements.s1", "a stored subject"),
    ],
)
def test_parse_refuses_what_is_not_a_subject(subject: str, match: str) -> None:
    with pytest.raises(ValidationError, match=match):
        subjects.parse(subject)


def test_patterns() -> None:
    assert subjects.family_pattern(subjects.TELEMETRY) == "telemetry.>"
    assert subjects.family_pattern(subjects.TELEMETRY, "s1") == "telemetry.s1.*"
    assert subjects.family_pattern(subjects.VIOLATIONS, "s1") == "violations.s1"
    with pytest.raises(ValidationError, match="keyed by substation"):
        subjects.family_pattern(subjects.REGISTRY, "s1")
    assert subjects.check_pattern("telemetry.*.d1") is subjects.TELEMETRY
    for bad in ("*.s1", ">", "telemetry.>.x", "telemetry.s 1", "nope.>"):
        with pytest.raises(ValidationError):
            subjects.check_pattern(bad)


@pytest.mark.parametrize(
    ("pattern", "subject", "expected"),
    [
        ("telemetry.s1.*", "telemetry.s1.d1", True),
        ("telemetry.s1.*", "telemetry.s2.d1", False),
        ("telemetry.*.d1", "telemetry.s2.d1", True),
        ("telemetry.>", "telemetry.s2.d1", True),
        ("telemetry.s1.>", "telemetry.s1", False),
        ("telemetry.s1", "telemetry.s1.d1", False),
        ("measurements.s1", "measurements.s1", True),
        ("measurements.*", "telemetry.s1", False),
    ],
)
def test_matches_follows_nats_wildcards(pattern: str, subject: str, expected: bool) -> None:
    assert subjects.matches(pattern, subject) is expected


@given(tokens, tokens)
def test_any_valid_ids_round_trip(substation_id: str, der_id: str) -> None:
    subject = subjects.telemetry(substation_id, der_id)
    parsed = subjects.parse(subject)
    assert (parsed.substation_id, parsed.der_id) == (substation_id, der_id)
    assert subjects.matches(subjects.family_pattern(subjects.TELEMETRY, substation_id), subject)
