"""DER function set, client side (clause 10.10.4): the DER a client reports, with its
DERCapability (nameplate), DERSettings, DERStatus and DERAvailability."""

from __future__ import annotations

from pydantic_xml import attr, element

from openderms.protocols.ieee2030_5.schema.base import (
    HexBinary8,
    HexBinary32,
    Link,
    ListLink,
    PerCent,
    PowerOfTen,
    Resource,
    SepList,
    SepModel,
    SubscribableResource,
    TimeType,
    UInt8,
    UInt16,
    UInt32,
)
from openderms.protocols.ieee2030_5.schema.csipaus import NSMAP
from openderms.protocols.ieee2030_5.schema.derp import ActivePower, ReactivePower


class UnsignedQuantity(SepModel):
    """``value`` x 10^``multiplier`` of the unit the element's name says (VA, Wh, A, V, Ah)."""

    multiplier: PowerOfTen = element(tag="multiplier")
    value: UInt16 = element(tag="value")


class PowerFactor(SepModel):
    displacement: UInt16 = element(tag="displacement")
    multiplier: PowerOfTen = element(tag="multiplier")


class DERCapability(Resource, tag="DERCapability", nsmap=NSMAP):
    modes_supported: HexBinary32 = element(tag="modesSupported")
    rtg_abnormal_category: UInt8 | None = element(tag="rtgAbnormalCategory", default=None)
    rtg_max_a: UnsignedQuantity | None = element(tag="rtgMaxA", default=None)
    rtg_max_ah: UnsignedQuantity | None = element(tag="rtgMaxAh", default=None)
    rtg_max_charge_rate_va: UnsignedQuantity | None = element(
        tag="rtgMaxChargeRateVA", default=None
    )
    rtg_max_charge_rate_w: ActivePower | None = element(tag="rtgMaxChargeRateW", default=None)
    rtg_max_discharge_rate_va: UnsignedQuantity | None = element(
        tag="rtgMaxDischargeRateVA", default=None
    )
    rtg_max_discharge_rate_w: ActivePower | None = element(tag="rtgMaxDischargeRateW", default=None)
    rtg_max_v: UnsignedQuantity | None = element(tag="rtgMaxV", default=None)
    rtg_max_va: UnsignedQuantity | None = element(tag="rtgMaxVA", default=None)
    rtg_max_var: ReactivePower | None = element(tag="rtgMaxVar", default=None)
    rtg_max_var_neg: ReactivePower | None = element(tag="rtgMaxVarNeg", default=None)
    rtg_max_w: ActivePower = element(tag="rtgMaxW")
    rtg_max_wh: UnsignedQuantity | None = element(tag="rtgMaxWh", default=None)
    rtg_min_pf_over_excited: PowerFactor | None = element(tag="rtgMinPFOverExcited", default=None)
    rtg_min_pf_under_excited: PowerFactor | None = element(tag="rtgMinPFUnderExcited", default=None)
    rtg_min_v: UnsignedQuantity | None = element(tag="rtgMinV", default=None)
    rtg_normal_category: UInt8 | None = element(tag="rtgNormalCategory", default=None)
    rtg_v_nom: UnsignedQuantity | None = element(tag="rtgVNom", default=None)
    type: UInt8 = element(tag="type")
    #: CSIP-AUS: the DOE controls the DER implements (bit 0 opModExpLimW, 1 opModImpLimW,
    #: 2 opModGenLimW, 3 opModLoadLimW); csipaus-core.xsd requires it of CSIP-AUS clients
    doe_modes_supported: HexBinary8 | None = element(
        tag="doeModesSupported", ns="csipaus", default=None
    )


class DERSettings(SubscribableResource, tag="DERSettings", nsmap=NSMAP):
    modes_enabled: HexBinary32 | None = element(tag="modesEnabled", default=None)
    set_es_delay: UInt32 | None = element(tag="setESDelay", default=None)
    set_grad_w: UInt16 = element(tag="setGradW")
    set_max_a: UnsignedQuantity | None = element(tag="setMaxA", default=None)
    set_max_ah: UnsignedQuantity | None = element(tag="setMaxAh", default=None)
    set_max_charge_rate_va: UnsignedQuantity | None = element(
        tag="setMaxChargeRateVA", default=None
    )
    set_max_charge_rate_w: ActivePower | None = element(tag="setMaxChargeRateW", default=None)
    set_max_discharge_rate_va: UnsignedQuantity | None = element(
        tag="setMaxDischargeRateVA", default=None
    )
    set_max_discharge_rate_w: ActivePower | None = element(tag="setMaxDischargeRateW", default=None)
    set_max_v: UnsignedQuantity | None = element(tag="setMaxV", default=None)
    set_max_va: UnsignedQuantity | None = element(tag="setMaxVA", default=None)
    set_max_var: ReactivePower | None = element(tag="setMaxVar", default=None)
    set_max_var_neg: ReactivePower | None = element(tag="setMaxVarNeg", default=None)
    set_max_w: ActivePower = element(tag="setMaxW")
    set_max_wh: UnsignedQuantity | None = element(tag="setMaxWh", default=None)
    set_min_pf_over_excited: PowerFactor | None = element(tag="setMinPFOverExcited", default=None)
    set_min_pf_under_excited: PowerFactor | None = element(tag="setMinPFUnderExcited", default=None)
    set_min_v: UnsignedQuantity | None = element(tag="setMinV", default=None)
    set_soft_grad_w: UInt16 | None = element(tag="setSoftGradW", default=None)
    set_v_nom: UnsignedQuantity | None = element(tag="setVNom", default=None)
    set_v_ref: UnsignedQuantity | None = element(tag="setVRef", default=None)
    set_v_ref_ofs: UnsignedQuantity | None = element(tag="setVRefOfs", default=None)
    updated_time: TimeType = element(tag="updatedTime")
    #: CSIP-AUS: the DOE controls enabled on the DER (bits as doeModesSupported)
    doe_modes_enabled: HexBinary8 | None = element(
        tag="doeModesEnabled", ns="csipaus", default=None
    )


class StatusValue(SepModel):
    """A status reading: ``value`` as of ``date_time``."""

    date_time: TimeType = element(tag="dateTime")
    value: UInt8 = element(tag="value")


class ConnectStatus(SepModel):
    date_time: TimeType = element(tag="dateTime")
    value: HexBinary8 = element(tag="value")


class StateOfChargeStatus(SepModel):
    date_time: TimeType = element(tag="dateTime")
    value: PerCent = element(tag="value")


class DERStatus(SubscribableResource, tag="DERStatus"):
    alarm_status: HexBinary32 | None = element(tag="alarmStatus", default=None)
    gen_connect_status: ConnectStatus | None = element(tag="genConnectStatus", default=None)
    inverter_status: StatusValue | None = element(tag="inverterStatus", default=None)
    local_control_mode_status: StatusValue | None = element(
        tag="localControlModeStatus", default=None
    )
    operational_mode_status: StatusValue | None = element(tag="operationalModeStatus", default=None)
    reading_time: TimeType = element(tag="readingTime")
    state_of_charge_status: StateOfChargeStatus | None = element(
        tag="stateOfChargeStatus", default=None
    )
    storage_mode_status: StatusValue | None = element(tag="storageModeStatus", default=None)
    stor_connect_status: ConnectStatus | None = element(tag="storConnectStatus", default=None)


class DERAvailability(SubscribableResource, tag="DERAvailability"):
    availability_duration: UInt32 | None = element(tag="availabilityDuration", default=None)
    max_charge_duration: UInt32 | None = element(tag="maxChargeDuration", default=None)
    reading_time: TimeType = element(tag="readingTime")
    reserve_charge_percent: PerCent | None = element(tag="reserveChargePercent", default=None)
    reserve_percent: PerCent | None = element(tag="reservePercent", default=None)
    stat_var_avail: ReactivePower | None = element(tag="statVarAvail", default=None)
    stat_w_avail: ActivePower | None = element(tag="statWAvail", default=None)


class DER(SubscribableResource, tag="DER"):
    associated_der_program_list_link: ListLink | None = element(
        tag="AssociatedDERProgramListLink", default=None
    )
    current_der_program_link: Link | None = element(tag="CurrentDERProgramLink", default=None)
    der_availability_link: Link | None = element(tag="DERAvailabilityLink", default=None)
    der_capability_link: Link | None = element(tag="DERCapabilityLink", default=None)
    der_settings_link: Link | None = element(tag="DERSettingsLink", default=None)
    der_status_link: Link | None = element(tag="DERStatusLink", default=None)


class DERList(SepList, tag="DERList"):
    poll_rate: UInt32 | None = attr(name="pollRate", default=None)
    items: list[DER] = element(tag="DER", default=[])
