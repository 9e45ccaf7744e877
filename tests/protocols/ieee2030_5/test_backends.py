"""The 2030.5 managers and repositories on both SQL backends (SQLite and PostgreSQL): the
internal API and the reads clients make give the same answers on each."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from openderms.errors import ConflictError, NotFoundError, PermissionDeniedError
from openderms.protocols.ieee2030_5.domain import Page
from openderms.protocols.ieee2030_5.mapper.derp import active_power, watts
from openderms.protocols.ieee2030_5.schema.der import DERStatus
from openderms.protocols.ieee2030_5.schema.derp import (
    ActivePower,
    CurveData,
    DERControlBase,
    DERCurve,
)
from openderms.protocols.ieee2030_5.schema.edev import EndDevice as EndDeviceXml
from openderms.protocols.ieee2030_5.security.identity import (
    ClientIdentity,
    sfdi_from_lfdi,
    sfdi_is_valid,
)
from openderms.protocols.ieee2030_5.services import Ieee2030_5Services, build_services
from openderms.store import Store

T0 = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
def services(request: pytest.FixtureRequest) -> Ieee2030_5Services:
    store: Store = request.getfixturevalue(
        f"{'pg' if request.param == 'postgresql' else 'sqlite'}_store"
    )
    return build_services(store.engine, pen=7, clock=lambda: T0)


def _ident(n: int) -> ClientIdentity:
    return ClientIdentity.from_lfdi(f"{n:040x}")


def test_core_the_internal_api_on_each_backend(services: Ieee2030_5Services) -> None:
    agg, dev, other = _ident(1), _ident(2), _ident(3)
    services.end_devices.put_client(agg, "aggregator", "agg")
    device = services.end_devices.ensure(dev, agg.lfdi, pin=111115, der_id="der-9")
    services.end_devices.ensure(other)
    fsa = services.fsas.ensure("node-1")
    services.fsas.assign(device.id, fsa.id)
    program = services.programs.ensure_program(fsa.id, "node-1", 3)
    mrid = services.programs.create_control(
        program_id=program.id,
        start=T0 - timedelta(seconds=5),
        duration_s=60,
        controls=DERControlBase(op_mod_max_lim_w=4000, ramp_tms=100),
    )
    curve = services.programs.add_curve(
        program.id,
        DERCurve(
            mrid="B" * 24 + "00000007",
            creation_time=0,
            curve_data=[CurveData(xvalue=1, yvalue=2)],
            curve_type=11,
            x_multiplier=0,
            y_multiplier=0,
            y_ref_type=2,
        ),
    )
    client = services.end_devices.client(agg)
    assert client.kind == "aggregator"
    devices, total = services.end_devices.page(client, Page(limit=10))
    assert total == 1
    assert devices[0].registered_at == T0
    assert devices[0].der_id == "der-9"
    assert [p.id for p in services.programs.programs(client)] == [program.id]
    controls = services.programs.controls(client, program.id)
    assert [c.mrid for c in controls] == [mrid]
    assert controls[0].start == T0 - timedelta(seconds=5)
    assert controls[0].controls == DERControlBase(op_mod_max_lim_w=4000, ramp_tms=100)
    assert [c.mrid for c in services.programs.active_controls(client, program.id)] == [mrid]
    assert services.programs.curve(client, program.id, curve.id).curve.curve_type == 11
    services.ders.put(client, device.id, 1, "status", DERStatus(reading_time=5))
    info = services.ders.latest(device.id)
    assert info is not None
    assert info.status == DERStatus(reading_time=5)
    stranger = services.end_devices.client(other)
    with pytest.raises(NotFoundError):
        services.programs.controls(stranger, program.id)
    with pytest.raises(NotFoundError):
        services.end_devices.get(stranger, device.id)


def test_agg_registration_rules_on_each_backend(services: Ieee2030_5Services) -> None:
    agg_a, agg_b = _ident(10), _ident(11)
    services.end_devices.put_client(agg_a, "aggregator")
    services.end_devices.put_client(agg_b, "aggregator")
    a = services.end_devices.client(agg_a)
    b = services.end_devices.client(agg_b)
    managed = _ident(12)
    posted = EndDeviceXml(sfdi=managed.sfdi, lfdi=managed.lfdi, changed_time=0)
    first = services.end_devices.register(a, posted)
    assert first.aggregator_lfdi == agg_a.lfdi
    with pytest.raises(ConflictError):  # one EndDevice per LFDI
        services.end_devices.register(a, posted)
    with pytest.raises(PermissionDeniedError):
        services.end_devices.register(b, posted)
    assert services.end_devices.page(b, Page(limit=10)) == ([], 0)


def test_core_poll_and_post_rates_persist(services: Ieee2030_5Services) -> None:
    services.server.set_poll_rate(30)
    services.server.set_post_rate(60)
    assert (services.server.poll_rate_s, services.server.post_rate_s) == (30, 60)


@given(st.text(alphabet="0123456789abcdef", min_size=40, max_size=40))
def test_core_every_lfdi_has_a_valid_sfdi(lfdi: str) -> None:
    """The SFDI of any LFDI carries a correct check digit and at most 12 digits."""
    sfdi = sfdi_from_lfdi(lfdi)
    assert sfdi_is_valid(sfdi)
    assert sfdi <= 999_999_999_999
    assert sfdi // 10 == int(lfdi[:9], 16)


_ACTIVE_POWER = st.builds(
    ActivePower, multiplier=st.integers(-9, 9), value=st.integers(-0x8000, 0x7FFF)
)


@given(
    st.integers(-0x8000 * 10**6, 0x7FFF * 10**6)
    | st.integers(-0x8000, 0x7FFF).map(lambda v: v / 10)
)
def test_core_watts_as_active_power_keep_their_value(w: float) -> None:
    """CSIP-AUS limits in W become ActivePower (value x 10^multiplier, value an Int16): exact
    whenever the value fits, else within half a unit of the multiplier chosen."""
    power = active_power(w)
    assert -0x8000 <= power.value <= 0x7FFF
    assert abs(watts(power) - w) <= 0.5 * 10.0**power.multiplier + 1e-9 * abs(w)
    if float(w).is_integer() and abs(w) <= 0x7FFF:
        assert (power.multiplier, power.value) == (0, w)


@given(
    st.builds(
        DERControlBase,
        op_mod_connect=st.none() | st.booleans(),
        op_mod_fixed_w=st.none() | st.integers(-10_000, 10_000),
        op_mod_max_lim_w=st.none() | st.integers(0, 10_000),
        ramp_tms=st.none() | st.integers(0, 0xFFFF),
        op_mod_exp_lim_w=st.none() | _ACTIVE_POWER,
        op_mod_imp_lim_w=st.none() | _ACTIVE_POWER,
        op_mod_gen_lim_w=st.none() | _ACTIVE_POWER,
        op_mod_load_lim_w=st.none() | _ACTIVE_POWER,
    )
)
def test_core_controls_survive_storage_and_xml(controls: DERControlBase) -> None:
    """What the store keeps (JSON) and what the wire carries (XML) give back the controls,
    the CSIP-AUS limits (csipaus:opModExpLimW ...) among them."""
    stored = DERControlBase.model_validate(controls.model_dump(mode="json", exclude_none=True))
    assert stored == controls
    body = controls.to_xml(skip_empty=True, exclude_none=True)
    assert isinstance(body, bytes)
    assert DERControlBase.from_xml(body) == controls
