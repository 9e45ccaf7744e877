"""Property tests for unit conversions: round trips and known values."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from openderms.grid import units

finite = st.floats(min_value=1e-6, max_value=1e6, allow_nan=False, allow_infinity=False)


@given(finite, st.sampled_from(sorted(units.LENGTH_M)))
def test_length_and_per_length_are_inverse(value: float, unit: str) -> None:
    km = units.length_to_km(value, unit)
    per_km = units.per_length_to_per_km(value, unit)
    assert km * per_km == pytest.approx(value * value)


@given(finite)
def test_ll_ln_round_trip(v: float) -> None:
    assert units.kv_ln_to_ll(units.kv_ll_to_ln(v)) == pytest.approx(v)


@given(finite, finite, finite)
def test_pu_base_change_preserves_ohms(z_ohm: float, v_kv: float, s_kva: float) -> None:
    z_pu = units.ohm_to_pu(z_ohm, v_kv, s_kva)
    z_pu_new = units.pu_change_base(z_pu, s_kva, 2 * s_kva)
    assert z_pu_new * units.z_base_ohm(v_kv, 2 * s_kva) == pytest.approx(z_ohm)


@given(finite, st.sampled_from([50.0, 60.0]))
def test_susceptance_capacitance_round_trip(b_us: float, f_hz: float) -> None:
    c = units.susceptance_us_to_capacitance_nf(b_us, f_hz)
    assert units.capacitance_nf_to_susceptance_us(c, f_hz) == pytest.approx(b_us)


def test_known_values() -> None:
    assert units.length_to_km(1.0, "mi") == pytest.approx(1.609344)
    assert units.per_length_to_per_km(1.0, "mi") == pytest.approx(1 / 1.609344)
    assert units.z_base_ohm(12.47, 1000.0) == pytest.approx(155.5009)
    # 1 uF at 60 Hz is 377 uS
    assert units.capacitance_nf_to_susceptance_us(1000.0, 60.0) == pytest.approx(2 * math.pi * 60)


def test_unknown_unit_is_named() -> None:
    with pytest.raises(ValueError, match="'furlong'"):
        units.length_to_km(1.0, "furlong")


@given(st.floats(0.01, 10), st.floats(-5, 5))
def test_positive_sequence_of_a_transposed_matrix(z_self: float, z_mutual: float) -> None:
    m = tuple(tuple(z_self if i == j else z_mutual for j in range(3)) for i in range(3))
    assert units.positive_sequence(m) == pytest.approx(z_self - z_mutual)
    assert units.positive_sequence(((z_self,),)) == z_self
