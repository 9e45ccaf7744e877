"""DER function set, server side (clause 10.10): DERProgram, DERControl, DefaultDERControl,
DERCurve and the CSIP controls of DERControlBase."""

from __future__ import annotations

from pydantic_xml import attr, element

from openderms.protocols.ieee2030_5.schema.base import (
    HexBinary8,
    HexBinary32,
    Int16,
    Int32,
    Link,
    ListLink,
    PerCent,
    PowerOfTen,
    SepList,
    SepModel,
    SignedPerCent,
    String192,
    SubscribableIdentifiedObject,
    SubscribableList,
    TimeType,
    UInt8,
    UInt16,
    UInt32,
    XmlBool,
)
from openderms.protocols.ieee2030_5.schema.csipaus import NSMAP

#: EventStatus.currentStatus values (clause 12.1.3)
SCHEDULED = 0
ACTIVE = 1
CANCELLED = 2
CANCELLED_WITH_RANDOMIZATION = 3
SUPERSEDED = 4


class PowerFactorWithExcitation(SepModel):
    displacement: UInt16 = element(tag="displacement")
    excitation: XmlBool = element(tag="excitation")
    multiplier: PowerOfTen = element(tag="multiplier")


class FixedVar(SepModel):
    ref_type: UInt8 = element(tag="refType")
    value: SignedPerCent = element(tag="value")


class ActivePower(SepModel):
    """``value`` x 10^``multiplier`` W (generator convention: positive = export)."""

    multiplier: PowerOfTen = element(tag="multiplier")
    value: Int16 = element(tag="value")


class ReactivePower(SepModel):
    """``value`` x 10^``multiplier`` var (positive = injection)."""

    multiplier: PowerOfTen = element(tag="multiplier")
    value: Int16 = element(tag="value")


class DERControlBase(SepModel, tag="DERControlBase", nsmap=NSMAP):
    """The CSIP controls, in sep.xsd order (opModFixedW comes before opModMaxLimW), then the
    CSIP-AUS limits (``csipaus:``, after sep.xsd's elements as csipaus-core.xsd extends it):
    import and export at the connection point, generation (discharge) and load (charge) of
    the DER, in W (``ActivePower``, generator convention: all four are magnitudes)."""

    op_mod_connect: XmlBool | None = element(tag="opModConnect", default=None)
    op_mod_energize: XmlBool | None = element(tag="opModEnergize", default=None)
    op_mod_fixed_pf_absorb_w: PowerFactorWithExcitation | None = element(
        tag="opModFixedPFAbsorbW", default=None
    )
    op_mod_fixed_pf_inject_w: PowerFactorWithExcitation | None = element(
        tag="opModFixedPFInjectW", default=None
    )
    op_mod_fixed_var: FixedVar | None = element(tag="opModFixedVar", default=None)
    op_mod_fixed_w: SignedPerCent | None = element(tag="opModFixedW", default=None)
    op_mod_freq_watt: Link | None = element(tag="opModFreqWatt", default=None)
    op_mod_max_lim_w: PerCent | None = element(tag="opModMaxLimW", default=None)
    op_mod_target_var: ReactivePower | None = element(tag="opModTargetVar", default=None)
    op_mod_target_w: ActivePower | None = element(tag="opModTargetW", default=None)
    op_mod_volt_var: Link | None = element(tag="opModVoltVar", default=None)
    op_mod_volt_watt: Link | None = element(tag="opModVoltWatt", default=None)
    op_mod_watt_pf: Link | None = element(tag="opModWattPF", default=None)
    op_mod_watt_var: Link | None = element(tag="opModWattVar", default=None)
    ramp_tms: UInt16 | None = element(tag="rampTms", default=None)
    op_mod_imp_lim_w: ActivePower | None = element(tag="opModImpLimW", ns="csipaus", default=None)
    op_mod_exp_lim_w: ActivePower | None = element(tag="opModExpLimW", ns="csipaus", default=None)
    op_mod_gen_lim_w: ActivePower | None = element(tag="opModGenLimW", ns="csipaus", default=None)
    op_mod_load_lim_w: ActivePower | None = element(tag="opModLoadLimW", ns="csipaus", default=None)


class EventStatus(SepModel):
    current_status: UInt8 = element(tag="currentStatus")
    date_time: TimeType = element(tag="dateTime")
    potentially_superseded: XmlBool = element(tag="potentiallySuperseded")
    potentially_superseded_time: TimeType | None = element(
        tag="potentiallySupersededTime", default=None
    )
    reason: String192 | None = element(tag="reason", default=None)


class DateTimeInterval(SepModel):
    duration: UInt32 = element(tag="duration")
    start: TimeType = element(tag="start")


class DERControl(SubscribableIdentifiedObject, tag="DERControl"):
    reply_to: str | None = attr(name="replyTo", default=None)
    response_required: HexBinary8 | None = attr(name="responseRequired", default=None)
    creation_time: TimeType = element(tag="creationTime")
    event_status: EventStatus = element(tag="EventStatus")
    interval: DateTimeInterval = element(tag="interval")
    randomize_duration: Int16 | None = element(tag="randomizeDuration", default=None)
    randomize_start: Int16 | None = element(tag="randomizeStart", default=None)
    der_control_base: DERControlBase = element(tag="DERControlBase")
    device_category: HexBinary32 | None = element(tag="deviceCategory", default=None)


class DERControlList(SubscribableList, tag="DERControlList"):
    items: list[DERControl] = element(tag="DERControl", default=[])


class DefaultDERControl(SubscribableIdentifiedObject, tag="DefaultDERControl"):
    der_control_base: DERControlBase = element(tag="DERControlBase")
    set_es_delay: UInt32 | None = element(tag="setESDelay", default=None)
    set_es_high_freq: UInt16 | None = element(tag="setESHighFreq", default=None)
    set_es_high_volt: Int16 | None = element(tag="setESHighVolt", default=None)
    set_es_low_freq: UInt16 | None = element(tag="setESLowFreq", default=None)
    set_es_low_volt: Int16 | None = element(tag="setESLowVolt", default=None)
    set_es_ramp_tms: UInt32 | None = element(tag="setESRampTms", default=None)
    set_es_random_delay: UInt32 | None = element(tag="setESRandomDelay", default=None)
    set_grad_w: UInt16 | None = element(tag="setGradW", default=None)
    set_soft_grad_w: UInt16 | None = element(tag="setSoftGradW", default=None)


class CurveData(SepModel):
    excitation: XmlBool | None = element(tag="excitation", default=None)
    xvalue: Int32 = element(tag="xvalue")
    yvalue: Int32 = element(tag="yvalue")


class DERCurve(SubscribableIdentifiedObject, tag="DERCurve"):
    creation_time: TimeType = element(tag="creationTime")
    curve_data: list[CurveData] = element(tag="CurveData", min_length=1, max_length=10)
    curve_type: UInt8 = element(tag="curveType")
    open_loop_tms: UInt16 | None = element(tag="openLoopTms", default=None)
    ramp_dec_tms: UInt16 | None = element(tag="rampDecTms", default=None)
    ramp_inc_tms: UInt16 | None = element(tag="rampIncTms", default=None)
    ramp_pt1_tms: UInt16 | None = element(tag="rampPT1Tms", default=None)
    v_ref: PerCent | None = element(tag="vRef", default=None)
    x_multiplier: PowerOfTen = element(tag="xMultiplier")
    y_multiplier: PowerOfTen = element(tag="yMultiplier")
    y_ref_type: UInt8 = element(tag="yRefType")


class DERCurveList(SepList, tag="DERCurveList"):
    items: list[DERCurve] = element(tag="DERCurve", default=[])


class DERProgram(SubscribableIdentifiedObject, tag="DERProgram"):
    active_der_control_list_link: ListLink | None = element(
        tag="ActiveDERControlListLink", default=None
    )
    default_der_control_link: Link | None = element(tag="DefaultDERControlLink", default=None)
    der_control_list_link: ListLink | None = element(tag="DERControlListLink", default=None)
    der_curve_list_link: ListLink | None = element(tag="DERCurveListLink", default=None)
    primacy: UInt8 = element(tag="primacy")


class DERProgramList(SubscribableList, tag="DERProgramList"):
    poll_rate: UInt32 | None = attr(name="pollRate", default=None)
    items: list[DERProgram] = element(tag="DERProgram", default=[])
