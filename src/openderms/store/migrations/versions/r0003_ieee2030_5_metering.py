"""The IEEE 2030.5 server's metering mirrors (MirrorUsagePoint, MirrorMeterReading and the
append-only telemetry table ``sep_reading``) and the Responses clients post about DERControls.

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


def downgrade() -> None:
    op.drop_index(op.f("ix_sep_mirror_meter_reading_mup_id"), table_name="sep_mirror_meter_reading")
    op.drop_table("sep_mirror_meter_reading")
    op.drop_index(
        op.f("ix_sep_mirror_usage_point_end_device_id"), table_name="sep_mirror_usage_point"
    )
    op.drop_table("sep_mirror_usage_point")
    op.drop_index(
        op.f("ix_sep_der_control_response_control_mrid"), table_name="sep_der_control_response"
    )
    op.drop_table("sep_der_control_response")
    op.drop_index(op.f("ix_sep_reading_mmr_id"), table_name="sep_reading")
    op.drop_table("sep_reading")
