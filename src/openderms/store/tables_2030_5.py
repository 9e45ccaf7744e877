"""SQL tables of the IEEE 2030.5 server (``openderms.protocols.ieee2030_5``), in the store's
one metadata (``openderms.store.tables.Base``); revision ``0002`` creates them.

Identities are LFDIs (40 lower-case hex digits, the certificate's hash); times are aware UTC
(``UtcDateTime``); durations are whole seconds. Control settings are kept as the JSON of the
2030.5 wire model (``DERControlBase`` and friends, ``model_dump(mode="json")``), so what a
client reads back is exactly what was created.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Integer, String, Text, true
from sqlalchemy.orm import Mapped, mapped_column

from openderms.store.tables import ID_LEN, Base

LFDI_LEN = 40
MRID_LEN = 32


class SepClientRow(Base):
    """A certificate the server knows: its kind decides what it may see. A certificate of the
    trusted CA that is not listed here acts as a device."""

    __tablename__ = "sep_client"
    __table_args__ = (CheckConstraint("kind IN ('device', 'aggregator')", name="kind"),)

    lfdi: Mapped[str] = mapped_column(String(LFDI_LEN), primary_key=True, comment="40 hex")
    sfdi: Mapped[int] = mapped_column(BigInteger, comment="SFDI of the certificate")
    kind: Mapped[str] = mapped_column(String(16), comment="device or aggregator")
    name: Mapped[str] = mapped_column(String(ID_LEN), default="", comment="free text")
    created_at: Mapped[datetime] = mapped_column(comment="UTC")
    # revision 0004
    access_granted: Mapped[bool] = mapped_column(
        default=True,
        server_default=true(),
        comment="false: every request of this certificate is refused (403)",
    )


class SepEndDeviceRow(Base):
    """An EndDevice (``/edev/{id}``): a device's own, or one an aggregator manages."""

    __tablename__ = "sep_end_device"
    __table_args__ = (CheckConstraint("sfdi >= 0", name="sfdi"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    lfdi: Mapped[str] = mapped_column(String(LFDI_LEN), unique=True, comment="40 hex")
    sfdi: Mapped[int] = mapped_column(BigInteger, index=True, comment="SFDI")
    aggregator_lfdi: Mapped[str | None] = mapped_column(
        String(LFDI_LEN), index=True, comment="the aggregator managing it; null: itself"
    )
    device_category: Mapped[str | None] = mapped_column(String(8), comment="hexBinary32")
    enabled: Mapped[bool] = mapped_column(default=True)
    post_rate_s: Mapped[int | None] = mapped_column(Integer, comment="telemetry period, s")
    pin: Mapped[int | None] = mapped_column(Integer, comment="registration PIN; null: none")
    registered_at: Mapped[datetime | None] = mapped_column(comment="UTC; null: no PIN yet")
    der_id: Mapped[str | None] = mapped_column(String(ID_LEN), comment="registry DER id")
    changed_time: Mapped[datetime] = mapped_column(comment="UTC, last change")
    # revision 0004
    connection_point_id: Mapped[str | None] = mapped_column(
        String(32), comment="CSIP-AUS ConnectionPoint id (NMI); null: none given"
    )


class SepFsaRow(Base):
    """A FunctionSetAssignments: a group of programs handed to the EndDevices linked to it."""

    __tablename__ = "sep_fsa"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    mrid: Mapped[str] = mapped_column(String(MRID_LEN), unique=True, comment="32 hex")
    description: Mapped[str] = mapped_column(String(32), default="")
    version: Mapped[int] = mapped_column(Integer, default=0)


class SepEndDeviceFsaRow(Base):
    """Which FSAs an EndDevice sees."""

    __tablename__ = "sep_end_device_fsa"

    end_device_id: Mapped[int] = mapped_column(
        ForeignKey("sep_end_device.id", ondelete="CASCADE"), primary_key=True
    )
    fsa_id: Mapped[int] = mapped_column(
        ForeignKey("sep_fsa.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class SepDerProgramRow(Base):
    """A DERProgram (``/derp/{id}``) in one FSA."""

    __tablename__ = "sep_der_program"
    __table_args__ = (CheckConstraint("primacy >= 0 AND primacy <= 255", name="primacy"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    mrid: Mapped[str] = mapped_column(String(MRID_LEN), unique=True, comment="32 hex")
    fsa_id: Mapped[int] = mapped_column(ForeignKey("sep_fsa.id", ondelete="CASCADE"), index=True)
    description: Mapped[str] = mapped_column(String(32), default="")
    primacy: Mapped[int] = mapped_column(Integer, comment="0 highest .. 255")
    version: Mapped[int] = mapped_column(Integer, default=0)
    default_control: Mapped[dict[str, Any] | None] = mapped_column(
        comment="DefaultDERControl wire model as JSON (no href); null: none"
    )


class SepDerControlRow(Base):
    """A DERControl event of a program."""

    __tablename__ = "sep_der_control"
    __table_args__ = (
        CheckConstraint("duration_s >= 0", name="duration_s"),
        CheckConstraint("status >= 0 AND status <= 6", name="status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    mrid: Mapped[str] = mapped_column(String(MRID_LEN), unique=True, comment="32 hex")
    program_id: Mapped[int] = mapped_column(
        ForeignKey("sep_der_program.id", ondelete="CASCADE"), index=True
    )
    description: Mapped[str] = mapped_column(String(32), default="")
    creation_time: Mapped[datetime] = mapped_column(comment="UTC")
    start: Mapped[datetime] = mapped_column(comment="UTC, interval start")
    duration_s: Mapped[int] = mapped_column(Integer, comment="interval length, s")
    randomize_start_s: Mapped[int | None] = mapped_column(Integer)
    randomize_duration_s: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[int] = mapped_column(Integer, comment="EventStatus.currentStatus")
    status_time: Mapped[datetime] = mapped_column(comment="UTC, when status was set")
    controls: Mapped[dict[str, Any]] = mapped_column(comment="DERControlBase as JSON")


class SepDerCurveRow(Base):
    """A DERCurve of a program (volt-var, volt-watt, freq-watt, watt-PF...)."""

    __tablename__ = "sep_der_curve"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    mrid: Mapped[str] = mapped_column(String(MRID_LEN), unique=True, comment="32 hex")
    program_id: Mapped[int] = mapped_column(
        ForeignKey("sep_der_program.id", ondelete="CASCADE"), index=True
    )
    curve: Mapped[dict[str, Any]] = mapped_column(comment="DERCurve wire model as JSON")


class SepDerRow(Base):
    """A DER an EndDevice reports (``/edev/{id}/der/{der}``) and its latest documents."""

    __tablename__ = "sep_der"

    end_device_id: Mapped[int] = mapped_column(
        ForeignKey("sep_end_device.id", ondelete="CASCADE"), primary_key=True
    )
    der_index: Mapped[int] = mapped_column(Integer, primary_key=True, comment="1, 2, ...")
    capability: Mapped[dict[str, Any] | None] = mapped_column(comment="DERCapability JSON")
    settings: Mapped[dict[str, Any] | None] = mapped_column(comment="DERSettings JSON")
    status: Mapped[dict[str, Any] | None] = mapped_column(comment="DERStatus JSON")
    availability: Mapped[dict[str, Any] | None] = mapped_column(comment="DERAvailability JSON")
    updated_at: Mapped[datetime] = mapped_column(comment="UTC, last PUT")


class SepSettingRow(Base):
    """Server settings changed at run time (poll and post rates, seconds)."""

    __tablename__ = "sep_setting"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[int] = mapped_column(Integer)


# -- revision 0003: metering mirrors, responses, log events, subscriptions ------------------


class SepMirrorUsagePointRow(Base):
    """A MirrorUsagePoint (``/mup/{id}``) a client posted for one of its EndDevices."""

    __tablename__ = "sep_mirror_usage_point"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    mrid: Mapped[str] = mapped_column(String(MRID_LEN), unique=True, comment="32 hex")
    end_device_id: Mapped[int] = mapped_column(
        ForeignKey("sep_end_device.id", ondelete="CASCADE"), index=True
    )
    description: Mapped[str] = mapped_column(String(32), default="")
    role_flags: Mapped[str] = mapped_column(String(4), comment="RoleFlagsType, hexBinary16")
    service_category_kind: Mapped[int] = mapped_column(Integer, comment="ServiceKind")
    status: Mapped[int] = mapped_column(Integer, comment="0 off, 1 on")
    post_rate_s: Mapped[int | None] = mapped_column(Integer, comment="telemetry period, s")
    changed_time: Mapped[datetime] = mapped_column(comment="UTC, last change")


class SepMirrorMeterReadingRow(Base):
    """A MirrorMeterReading of a MirrorUsagePoint: one measured quantity."""

    __tablename__ = "sep_mirror_meter_reading"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    mrid: Mapped[str] = mapped_column(String(MRID_LEN), unique=True, comment="32 hex")
    mup_id: Mapped[int] = mapped_column(
        ForeignKey("sep_mirror_usage_point.id", ondelete="CASCADE"), index=True
    )
    description: Mapped[str] = mapped_column(String(32), default="")
    reading_type: Mapped[dict[str, Any]] = mapped_column(comment="ReadingType wire model JSON")
    changed_time: Mapped[datetime] = mapped_column(comment="UTC, last change")


class SepReadingRow(Base):
    """Telemetry: every Reading clients post, append-only, written in batches. ``value`` x
    10^``power_of_ten`` in the unit ``uom`` (UomType) of the reading's ReadingType."""

    __tablename__ = "sep_reading"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    mmr_id: Mapped[int] = mapped_column(Integer, index=True, comment="MirrorMeterReading id")
    end_device_id: Mapped[int] = mapped_column(Integer, comment="EndDevice id")
    reading_time: Mapped[datetime] = mapped_column(comment="UTC, timePeriod start")
    value: Mapped[int] = mapped_column(BigInteger, comment="Int48, x 10^power_of_ten")
    power_of_ten: Mapped[int] = mapped_column(Integer, comment="-9 .. 9")
    uom: Mapped[int | None] = mapped_column(Integer, comment="UomType, e.g. 38 W, 63 var")
    quality_flags: Mapped[str | None] = mapped_column(String(4), comment="hexBinary16")
    received_at: Mapped[datetime] = mapped_column(comment="UTC, when the server got it")


class SepDerControlResponseRow(Base):
    """A Response (DERControlResponse) a client posted about a DERControl."""

    __tablename__ = "sep_der_control_response"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    control_mrid: Mapped[str] = mapped_column(String(MRID_LEN), index=True, comment="subject")
    end_device_id: Mapped[int] = mapped_column(
        ForeignKey("sep_end_device.id", ondelete="CASCADE"), comment="endDeviceLFDI's"
    )
    status: Mapped[int] = mapped_column(Integer, comment="ResponseType, table 27")
    created_time: Mapped[datetime] = mapped_column(comment="UTC, the client's createdDateTime")
    received_at: Mapped[datetime] = mapped_column(comment="UTC, when the server got it")


class SepLogEventRow(Base):
    """A LogEvent a client posted for its EndDevice (``/edev/{id}/lel``)."""

    __tablename__ = "sep_log_event"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    end_device_id: Mapped[int] = mapped_column(
        ForeignKey("sep_end_device.id", ondelete="CASCADE"), index=True
    )
    created_time: Mapped[datetime] = mapped_column(comment="UTC, createdDateTime")
    details: Mapped[str | None] = mapped_column(String(32))
    extended_data: Mapped[int | None] = mapped_column(BigInteger, comment="UInt32")
    function_set: Mapped[int] = mapped_column(Integer, comment="UInt8")
    log_event_code: Mapped[int] = mapped_column(Integer, comment="UInt8")
    log_event_id: Mapped[int] = mapped_column(Integer, comment="UInt16")
    log_event_pen: Mapped[int] = mapped_column(BigInteger, comment="IANA PEN, UInt32")
    profile_id: Mapped[int] = mapped_column(Integer, comment="UInt8")
    received_at: Mapped[datetime] = mapped_column(comment="UTC")


class SepSubscriptionRow(Base):
    """A Subscription of an EndDevice (``/edev/{id}/sub/{n}``) to a list resource."""

    __tablename__ = "sep_subscription"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    end_device_id: Mapped[int] = mapped_column(
        ForeignKey("sep_end_device.id", ondelete="CASCADE"), index=True
    )
    subscribed_resource: Mapped[str] = mapped_column(String(255), index=True, comment="path")
    encoding: Mapped[int] = mapped_column(Integer, comment="0 XML")
    level: Mapped[str] = mapped_column(String(16), comment="e.g. +S1")
    limit: Mapped[int] = mapped_column(BigInteger, comment="most list items notified")
    notification_uri: Mapped[str] = mapped_column(String(255), comment="absolute https URI")
    created_at: Mapped[datetime] = mapped_column(comment="UTC")
    # revision 0004
    cancelled_at: Mapped[datetime | None] = mapped_column(
        comment="UTC; set: cancelled by the server, kept until its last Notification is sent"
    )


class SepNotificationRow(Base):
    """A Notification not yet delivered: kept until its subscriber answers 2xx, so delivery
    survives a restart; ``next_attempt_at`` backs off exponentially."""

    __tablename__ = "sep_notification"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    subscription_id: Mapped[int] = mapped_column(
        ForeignKey("sep_subscription.id", ondelete="CASCADE"), index=True
    )
    body: Mapped[str] = mapped_column(Text, comment="the Notification XML")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(index=True, comment="UTC")
    created_at: Mapped[datetime] = mapped_column(comment="UTC")
