"""Every 2030.5 document the models write validates against sep.xsd, with every optional
element the models know filled in (so that element order is checked everywhere), and reads
back equal."""

from __future__ import annotations

import pytest
from lxml import etree
from pydantic_xml import BaseXmlModel

from openderms.protocols.ieee2030_5.schema.base import Link, ListLink
from openderms.protocols.ieee2030_5.schema.dcap import DeviceCapability
from openderms.protocols.ieee2030_5.schema.der import (
    DER,
    ConnectStatus,
    DERAvailability,
    DERCapability,
    DERList,
    DERSettings,
    DERStatus,
    PowerFactor,
    StateOfChargeStatus,
    StatusValue,
    UnsignedQuantity,
)
from openderms.protocols.ieee2030_5.schema.derp import (
    ActivePower,
    CurveData,
    DateTimeInterval,
    DefaultDERControl,
    DERControl,
    DERControlBase,
    DERControlList,
    DERCurve,
    DERCurveList,
    DERProgram,
    DERProgramList,
    EventStatus,
    FixedVar,
    PowerFactorWithExcitation,
    ReactivePower,
)
from openderms.protocols.ieee2030_5.schema.edev import EndDevice, EndDeviceList, Registration
from openderms.protocols.ieee2030_5.schema.error import Error
from openderms.protocols.ieee2030_5.schema.fsa import (
    FunctionSetAssignments,
    FunctionSetAssignmentsList,
)
from openderms.protocols.ieee2030_5.schema.time import Time
from tests.protocols.ieee2030_5.sep_schema import assert_valid

MRID = "0123456789ABCDEF0123456789ABCDEF"
LFDI = "3E4F45AB31EDFE5B67E343E5E4562E31984E23E5"
W = ActivePower(multiplier=3, value=5)
VAR = ReactivePower(multiplier=3, value=-2)
Q = UnsignedQuantity(multiplier=0, value=240)
PF = PowerFactor(displacement=90, multiplier=-2)
PFX = PowerFactorWithExcitation(displacement=95, excitation=True, multiplier=-2)

FULL_CONTROLS = DERControlBase(
    op_mod_connect=True,
    op_mod_energize=True,
    op_mod_fixed_pf_absorb_w=PFX,
    op_mod_fixed_pf_inject_w=PFX,
    op_mod_fixed_var=FixedVar(ref_type=2, value=-500),
    op_mod_fixed_w=-2500,
    op_mod_freq_watt=Link(href="/derp/1/dc/1"),
    op_mod_max_lim_w=5000,
    op_mod_target_var=VAR,
    op_mod_target_w=W,
    op_mod_volt_var=Link(href="/derp/1/dc/2"),
    op_mod_volt_watt=Link(href="/derp/1/dc/3"),
    op_mod_watt_pf=Link(href="/derp/1/dc/4"),
    op_mod_watt_var=Link(href="/derp/1/dc/5"),
    ramp_tms=600,
)
CONTROL = DERControl(
    href="/derp/1/derc/1",
    reply_to="/rsps/1/rsp",
    response_required="03",
    subscribable=0,
    mrid=MRID,
    description="curtail",
    version=1,
    creation_time=1_700_000_000,
    event_status=EventStatus(
        current_status=1,
        date_time=1_700_000_000,
        potentially_superseded=True,
        potentially_superseded_time=1_700_000_100,
        reason="overvoltage",
    ),
    interval=DateTimeInterval(duration=900, start=1_700_000_000),
    randomize_duration=30,
    randomize_start=-30,
    der_control_base=FULL_CONTROLS,
    device_category="0200",
)
CURVE = DERCurve(
    href="/derp/1/dc/2",
    mrid=MRID,
    description="volt-var",
    version=0,
    creation_time=1_700_000_000,
    curve_data=[
        CurveData(excitation=False, xvalue=9200, yvalue=3000),
        CurveData(xvalue=10800, yvalue=-3000),
    ],
    curve_type=11,
    open_loop_tms=500,
    ramp_dec_tms=100,
    ramp_inc_tms=100,
    ramp_pt1_tms=10,
    v_ref=10000,
    x_multiplier=-2,
    y_multiplier=-2,
    y_ref_type=2,
)
PROGRAM = DERProgram(
    href="/derp/1",
    subscribable=0,
    mrid=MRID,
    description="feeder 12",
    version=3,
    active_der_control_list_link=ListLink(href="/derp/1/actderc", all=1),
    default_der_control_link=Link(href="/derp/1/dderc"),
    der_control_list_link=ListLink(href="/derp/1/derc", all=1),
    der_curve_list_link=ListLink(href="/derp/1/dc", all=1),
    primacy=2,
)
END_DEVICE = EndDevice(
    href="/edev/1",
    subscribable=0,
    der_list_link=ListLink(href="/edev/1/der", all=1),
    device_category="0200",
    lfdi=LFDI,
    sfdi=167261211391,
    changed_time=1_700_000_000,
    enabled=True,
    function_set_assignments_list_link=ListLink(href="/edev/1/fsa", all=1),
    post_rate=300,
    registration_link=Link(href="/edev/1/rg"),
)
FSA = FunctionSetAssignments(
    href="/edev/1/fsa/1",
    der_program_list_link=ListLink(href="/edev/1/fsa/1/derp", all=1),
    time_link=Link(href="/tm"),
    mrid=MRID,
    description="fsa",
    version=0,
    subscribable=0,
)
CAPABILITY = DERCapability(
    href="/edev/1/der/1/dercap",
    modes_supported="00FF",
    rtg_abnormal_category=2,
    rtg_max_a=Q,
    rtg_max_ah=Q,
    rtg_max_charge_rate_va=Q,
    rtg_max_charge_rate_w=W,
    rtg_max_discharge_rate_va=Q,
    rtg_max_discharge_rate_w=W,
    rtg_max_v=Q,
    rtg_max_va=Q,
    rtg_max_var=VAR,
    rtg_max_var_neg=VAR,
    rtg_max_w=W,
    rtg_max_wh=Q,
    rtg_min_pf_over_excited=PF,
    rtg_min_pf_under_excited=PF,
    rtg_min_v=Q,
    rtg_normal_category=1,
    rtg_v_nom=Q,
    type=4,
)
SETTINGS = DERSettings(
    href="/edev/1/der/1/derg",
    subscribable=0,
    modes_enabled="0001",
    set_es_delay=300,
    set_grad_w=100,
    set_max_a=Q,
    set_max_ah=Q,
    set_max_charge_rate_va=Q,
    set_max_charge_rate_w=W,
    set_max_discharge_rate_va=Q,
    set_max_discharge_rate_w=W,
    set_max_v=Q,
    set_max_va=Q,
    set_max_var=VAR,
    set_max_var_neg=VAR,
    set_max_w=W,
    set_max_wh=Q,
    set_min_pf_over_excited=PF,
    set_min_pf_under_excited=PF,
    set_min_v=Q,
    set_soft_grad_w=50,
    set_v_nom=Q,
    set_v_ref=Q,
    set_v_ref_ofs=Q,
    updated_time=1_700_000_000,
)
STATUS = DERStatus(
    href="/edev/1/der/1/ders",
    subscribable=0,
    alarm_status="00000001",
    gen_connect_status=ConnectStatus(date_time=1_700_000_000, value="01"),
    inverter_status=StatusValue(date_time=1_700_000_000, value=4),
    local_control_mode_status=StatusValue(date_time=1_700_000_000, value=1),
    operational_mode_status=StatusValue(date_time=1_700_000_000, value=2),
    reading_time=1_700_000_000,
    state_of_charge_status=StateOfChargeStatus(date_time=1_700_000_000, value=5000),
    storage_mode_status=StatusValue(date_time=1_700_000_000, value=1),
    stor_connect_status=ConnectStatus(date_time=1_700_000_000, value="01"),
)

DOCUMENTS: list[BaseXmlModel] = [
    DeviceCapability(
        href="/dcap",
        poll_rate=900,
        der_program_list_link=ListLink(href="/derp", all=1),
        time_link=Link(href="/tm"),
        end_device_list_link=ListLink(href="/edev", all=1),
        mirror_usage_point_list_link=ListLink(href="/mup", all=0),
        self_device_link=Link(href="/sdev"),
    ),
    Time(
        href="/tm",
        poll_rate=900,
        current_time=1_700_000_000,
        dst_end_time=0,
        dst_offset=3600,
        dst_start_time=0,
        local_time=1_700_000_000,
        quality=4,
        tz_offset=-28800,
    ),
    END_DEVICE,
    EndDeviceList(
        href="/edev", subscribable=0, all=2, results=1, poll_rate=900, items=[END_DEVICE]
    ),
    Registration(href="/edev/1/rg", poll_rate=900, date_time_registered=1_700_000_000, pin=111115),
    FSA,
    FunctionSetAssignmentsList(
        href="/edev/1/fsa", subscribable=0, all=1, results=1, poll_rate=900, items=[FSA]
    ),
    PROGRAM,
    DERProgramList(href="/derp", subscribable=0, all=1, results=1, poll_rate=900, items=[PROGRAM]),
    CONTROL,
    DERControlList(href="/derp/1/derc", subscribable=0, all=1, results=1, items=[CONTROL]),
    DefaultDERControl(
        href="/derp/1/dderc",
        subscribable=0,
        mrid=MRID,
        description="default",
        version=0,
        der_control_base=FULL_CONTROLS,
        set_es_delay=300,
        set_es_high_freq=6050,
        set_es_high_volt=10500,
        set_es_low_freq=5950,
        set_es_low_volt=9170,
        set_es_ramp_tms=3000,
        set_es_random_delay=60,
        set_grad_w=100,
        set_soft_grad_w=50,
    ),
    CURVE,
    DERCurveList(href="/derp/1/dc", all=1, results=1, items=[CURVE]),
    DER(
        href="/edev/1/der/1",
        subscribable=0,
        associated_der_program_list_link=ListLink(href="/edev/1/der/1/derp", all=1),
        current_der_program_link=Link(href="/derp/1"),
        der_availability_link=Link(href="/edev/1/der/1/dera"),
        der_capability_link=Link(href="/edev/1/der/1/dercap"),
        der_settings_link=Link(href="/edev/1/der/1/derg"),
        der_status_link=Link(href="/edev/1/der/1/ders"),
    ),
    DERList(href="/edev/1/der", all=1, results=0, poll_rate=900, items=[]),
    CAPABILITY,
    SETTINGS,
    STATUS,
    DERAvailability(
        href="/edev/1/der/1/dera",
        subscribable=0,
        availability_duration=3600,
        max_charge_duration=7200,
        reading_time=1_700_000_000,
        reserve_charge_percent=1000,
        reserve_percent=2000,
        stat_var_avail=VAR,
        stat_w_avail=W,
    ),
    Error(max_retry_duration=60, reason_code=1),
]


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda d: type(d).__name__)
def test_core_every_document_validates_against_sep_xsd(
    document: BaseXmlModel, sep_schema: etree.XMLSchema
) -> None:
    """IEEE 2030.5: resources are exchanged as XML conforming to the sep.xsd schema (element
    order of each sequence included)."""
    body = document.to_xml(skip_empty=True, exclude_none=True)
    assert isinstance(body, bytes)
    assert_valid(sep_schema, body)
    assert type(document).from_xml(body) == document


def test_core_fixed_w_comes_before_max_lim_w(sep_schema: etree.XMLSchema) -> None:
    """sep.xsd orders DERControlBase: opModFixedW precedes opModMaxLimW, and opModTargetVar
    precedes opModTargetW."""
    body = DERControlBase(op_mod_max_lim_w=5000, op_mod_fixed_w=100).to_xml()
    assert isinstance(body, bytes)
    assert body.index(b"opModFixedW") < body.index(b"opModMaxLimW")


def test_core_booleans_are_written_as_xml_booleans() -> None:
    body = DERControlBase(op_mod_connect=False, op_mod_energize=True).to_xml()
    assert isinstance(body, bytes)
    assert b"<opModConnect>false</opModConnect>" in body
    assert b"<opModEnergize>true</opModEnergize>" in body
