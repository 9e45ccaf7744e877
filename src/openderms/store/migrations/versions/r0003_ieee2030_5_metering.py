"""The IEEE 2030.5 server's metering mirrors (MirrorUsagePoint, MirrorMeterReading and the
append-only telemetry table ``sep_reading``), the Responses clients post about DERControls,
LogEvents, Subscriptions and the Notifications still to deliver.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28

Units and bounds are documented on the models in ``openderms.store.tables_2030_5``.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None


def _utc() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "sep_reading",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("mmr_id", sa.Integer(), nullable=False, comment="MirrorMeterReading id"),
        sa.Column("end_device_id", sa.Integer(), nullable=False, comment="EndDevice id"),
        sa.Column("reading_time", _utc(), nullable=False, comment="UTC, timePeriod start"),
        sa.Column("value", sa.BigInteger(), nullable=False, comment="Int48, x 10^power_of_ten"),
        sa.Column("power_of_ten", sa.Integer(), nullable=False, comment="-9 .. 9"),
        sa.Column("uom", sa.Integer(), nullable=True, comment="UomType, e.g. 38 W, 63 var"),
        sa.Column("quality_flags", sa.String(length=4), nullable=True, comment="hexBinary16"),
        sa.Column("received_at", _utc(), nullable=False, comment="UTC, when the server got it"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sep_reading")),
    )
    op.create_index(op.f("ix_sep_reading_mmr_id"), "sep_reading", ["mmr_id"], unique=False)
    op.create_table(
        "sep_der_control_response",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("control_mrid", sa.String(length=32), nullable=False, comment="subject"),
        sa.Column("end_device_id", sa.Integer(), nullable=False, comment="endDeviceLFDI's"),
        sa.Column("status", sa.Integer(), nullable=False, comment="ResponseType, table 27"),
        sa.Column(
            "created_time", _utc(), nullable=False, comment="UTC, the client's createdDateTime"
        ),
        sa.Column("received_at", _utc(), nullable=False, comment="UTC, when the server got it"),
        sa.ForeignKeyConstraint(
            ["end_device_id"],
            ["sep_end_device.id"],
            name=op.f("fk_sep_der_control_response_end_device_id_sep_end_device"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sep_der_control_response")),
    )
    op.create_index(
        op.f("ix_sep_der_control_response_control_mrid"),
        "sep_der_control_response",
        ["control_mrid"],
        unique=False,
    )
    op.create_table(
        "sep_log_event",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("end_device_id", sa.Integer(), nullable=False),
        sa.Column("created_time", _utc(), nullable=False, comment="UTC, createdDateTime"),
        sa.Column("details", sa.String(length=32), nullable=True),
        sa.Column("extended_data", sa.BigInteger(), nullable=True, comment="UInt32"),
        sa.Column("function_set", sa.Integer(), nullable=False, comment="UInt8"),
        sa.Column("log_event_code", sa.Integer(), nullable=False, comment="UInt8"),
        sa.Column("log_event_id", sa.Integer(), nullable=False, comment="UInt16"),
        sa.Column("log_event_pen", sa.BigInteger(), nullable=False, comment="IANA PEN, UInt32"),
        sa.Column("profile_id", sa.Integer(), nullable=False, comment="UInt8"),
        sa.Column("received_at", _utc(), nullable=False, comment="UTC"),
        sa.ForeignKeyConstraint(
            ["end_device_id"],
            ["sep_end_device.id"],
            name=op.f("fk_sep_log_event_end_device_id_sep_end_device"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sep_log_event")),
    )
    op.create_index(
        op.f("ix_sep_log_event_end_device_id"), "sep_log_event", ["end_device_id"], unique=False
    )
    op.create_table(
        "sep_mirror_usage_point",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("mrid", sa.String(length=32), nullable=False, comment="32 hex"),
        sa.Column("end_device_id", sa.Integer(), nullable=False),
        sa.Column("description", sa.String(length=32), nullable=False),
        sa.Column(
            "role_flags", sa.String(length=4), nullable=False, comment="RoleFlagsType, hexBinary16"
        ),
        sa.Column("service_category_kind", sa.Integer(), nullable=False, comment="ServiceKind"),
        sa.Column("status", sa.Integer(), nullable=False, comment="0 off, 1 on"),
        sa.Column("post_rate_s", sa.Integer(), nullable=True, comment="telemetry period, s"),
        sa.Column("changed_time", _utc(), nullable=False, comment="UTC, last change"),
        sa.ForeignKeyConstraint(
            ["end_device_id"],
            ["sep_end_device.id"],
            name=op.f("fk_sep_mirror_usage_point_end_device_id_sep_end_device"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sep_mirror_usage_point")),
        sa.UniqueConstraint("mrid", name=op.f("uq_sep_mirror_usage_point_mrid")),
    )
    op.create_index(
        op.f("ix_sep_mirror_usage_point_end_device_id"),
        "sep_mirror_usage_point",
        ["end_device_id"],
        unique=False,
    )
    op.create_table(
        "sep_subscription",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("end_device_id", sa.Integer(), nullable=False),
        sa.Column("subscribed_resource", sa.String(length=255), nullable=False, comment="path"),
        sa.Column("encoding", sa.Integer(), nullable=False, comment="0 XML"),
        sa.Column("level", sa.String(length=16), nullable=False, comment="e.g. +S1"),
        sa.Column("limit", sa.BigInteger(), nullable=False, comment="most list items notified"),
        sa.Column(
            "notification_uri", sa.String(length=255), nullable=False, comment="absolute https URI"
        ),
        sa.Column("created_at", _utc(), nullable=False, comment="UTC"),
        sa.ForeignKeyConstraint(
            ["end_device_id"],
            ["sep_end_device.id"],
            name=op.f("fk_sep_subscription_end_device_id_sep_end_device"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sep_subscription")),
    )
    op.create_index(
        op.f("ix_sep_subscription_end_device_id"),
        "sep_subscription",
        ["end_device_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_sep_subscription_subscribed_resource"),
        "sep_subscription",
        ["subscribed_resource"],
        unique=False,
    )
    op.create_table(
        "sep_mirror_meter_reading",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("mrid", sa.String(length=32), nullable=False, comment="32 hex"),
        sa.Column("mup_id", sa.Integer(), nullable=False),
        sa.Column("description", sa.String(length=32), nullable=False),
        sa.Column("reading_type", sa.JSON(), nullable=False, comment="ReadingType wire model JSON"),
        sa.Column("changed_time", _utc(), nullable=False, comment="UTC, last change"),
        sa.ForeignKeyConstraint(
            ["mup_id"],
            ["sep_mirror_usage_point.id"],
            name=op.f("fk_sep_mirror_meter_reading_mup_id_sep_mirror_usage_point"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sep_mirror_meter_reading")),
        sa.UniqueConstraint("mrid", name=op.f("uq_sep_mirror_meter_reading_mrid")),
    )
    op.create_index(
        op.f("ix_sep_mirror_meter_reading_mup_id"),
        "sep_mirror_meter_reading",
        ["mup_id"],
        unique=False,
    )
    op.create_table(
        "sep_notification",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("subscription_id", sa.Integer(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False, comment="the Notification XML"),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", _utc(), nullable=False, comment="UTC"),
        sa.Column("created_at", _utc(), nullable=False, comment="UTC"),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["sep_subscription.id"],
            name=op.f("fk_sep_notification_subscription_id_sep_subscription"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sep_notification")),
    )
    op.create_index(
        op.f("ix_sep_notification_next_attempt_at"),
        "sep_notification",
        ["next_attempt_at"],
        unique=False,
    )
    op.create_index(
        op.f("ix_sep_notification_subscription_id"),
        "sep_notification",
        ["subscription_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_sep_notification_subscription_id"), table_name="sep_notification")
    op.drop_index(op.f("ix_sep_notification_next_attempt_at"), table_name="sep_notification")
    op.drop_table("sep_notification")
    op.drop_index(op.f("ix_sep_mirror_meter_reading_mup_id"), table_name="sep_mirror_meter_reading")
    op.drop_table("sep_mirror_meter_reading")
    op.drop_index(op.f("ix_sep_subscription_subscribed_resource"), table_name="sep_subscription")
    op.drop_index(op.f("ix_sep_subscription_end_device_id"), table_name="sep_subscription")
    op.drop_table("sep_subscription")
    op.drop_index(
        op.f("ix_sep_mirror_usage_point_end_device_id"), table_name="sep_mirror_usage_point"
    )
    op.drop_table("sep_mirror_usage_point")
    op.drop_index(op.f("ix_sep_log_event_end_device_id"), table_name="sep_log_event")
    op.drop_table("sep_log_event")
    op.drop_index(
        op.f("ix_sep_der_control_response_control_mrid"), table_name="sep_der_control_response"
    )
    op.drop_table("sep_der_control_response")
    op.drop_index(op.f("ix_sep_reading_mmr_id"), table_name="sep_reading")
    op.drop_table("sep_reading")
