"""The IEEE 2030.5 server: clients, EndDevices, FSAs, DER programs, controls, curves, the DER
documents clients report, and run-time settings.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28

Units and bounds are documented on the models in ``openderms.store.tables_2030_5``; this
revision spells the same schema out so that later model changes never rewrite history.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None


def _utc() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "sep_client",
        sa.Column("lfdi", sa.String(length=40), nullable=False, comment="40 hex"),
        sa.Column("sfdi", sa.BigInteger(), nullable=False, comment="SFDI of the certificate"),
        sa.Column("kind", sa.String(length=16), nullable=False, comment="device or aggregator"),
        sa.Column("name", sa.String(length=80), nullable=False, comment="free text"),
        sa.Column("created_at", _utc(), nullable=False, comment="UTC"),
        sa.CheckConstraint("kind IN ('device', 'aggregator')", name=op.f("ck_sep_client_kind")),
        sa.PrimaryKeyConstraint("lfdi", name=op.f("pk_sep_client")),
    )
    op.create_table(
        "sep_end_device",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("lfdi", sa.String(length=40), nullable=False, comment="40 hex"),
        sa.Column("sfdi", sa.BigInteger(), nullable=False, comment="SFDI"),
        sa.Column(
            "aggregator_lfdi",
            sa.String(length=40),
            nullable=True,
            comment="the aggregator managing it; null: itself",
        ),
        sa.Column("device_category", sa.String(length=8), nullable=True, comment="hexBinary32"),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("post_rate_s", sa.Integer(), nullable=True, comment="telemetry period, s"),
        sa.Column("pin", sa.Integer(), nullable=True, comment="registration PIN; null: none"),
        sa.Column("registered_at", _utc(), nullable=True, comment="UTC; null: no PIN yet"),
        sa.Column("der_id", sa.String(length=80), nullable=True, comment="registry DER id"),
        sa.Column("changed_time", _utc(), nullable=False, comment="UTC, last change"),
        sa.CheckConstraint("sfdi >= 0", name=op.f("ck_sep_end_device_sfdi")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sep_end_device")),
        sa.UniqueConstraint("lfdi", name=op.f("uq_sep_end_device_lfdi")),
    )
    with op.batch_alter_table("sep_end_device", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_sep_end_device_aggregator_lfdi"), ["aggregator_lfdi"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_sep_end_device_sfdi"), ["sfdi"], unique=False)

    op.create_table(
        "sep_fsa",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("mrid", sa.String(length=32), nullable=False, comment="32 hex"),
        sa.Column("description", sa.String(length=32), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sep_fsa")),
        sa.UniqueConstraint("mrid", name=op.f("uq_sep_fsa_mrid")),
    )
    op.create_table(
        "sep_setting",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("value", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_sep_setting")),
    )
    op.create_table(
        "sep_der",
        sa.Column("end_device_id", sa.Integer(), nullable=False),
        sa.Column("der_index", sa.Integer(), nullable=False, comment="1, 2, ..."),
        sa.Column("capability", sa.JSON(), nullable=True, comment="DERCapability JSON"),
        sa.Column("settings", sa.JSON(), nullable=True, comment="DERSettings JSON"),
        sa.Column("status", sa.JSON(), nullable=True, comment="DERStatus JSON"),
        sa.Column("availability", sa.JSON(), nullable=True, comment="DERAvailability JSON"),
        sa.Column("updated_at", _utc(), nullable=False, comment="UTC, last PUT"),
        sa.ForeignKeyConstraint(
            ["end_device_id"],
            ["sep_end_device.id"],
            name=op.f("fk_sep_der_end_device_id_sep_end_device"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("end_device_id", "der_index", name=op.f("pk_sep_der")),
    )
    op.create_table(
        "sep_der_program",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("mrid", sa.String(length=32), nullable=False, comment="32 hex"),
        sa.Column("fsa_id", sa.Integer(), nullable=False),
        sa.Column("description", sa.String(length=32), nullable=False),
        sa.Column("primacy", sa.Integer(), nullable=False, comment="0 highest .. 255"),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column(
            "default_control",
            sa.JSON(),
            nullable=True,
            comment="DefaultDERControl wire model as JSON (no href); null: none",
        ),
        sa.CheckConstraint(
            "primacy >= 0 AND primacy <= 255", name=op.f("ck_sep_der_program_primacy")
        ),
        sa.ForeignKeyConstraint(
            ["fsa_id"],
            ["sep_fsa.id"],
            name=op.f("fk_sep_der_program_fsa_id_sep_fsa"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sep_der_program")),
        sa.UniqueConstraint("mrid", name=op.f("uq_sep_der_program_mrid")),
    )
    with op.batch_alter_table("sep_der_program", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sep_der_program_fsa_id"), ["fsa_id"], unique=False)

    op.create_table(
        "sep_end_device_fsa",
        sa.Column("end_device_id", sa.Integer(), nullable=False),
        sa.Column("fsa_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["end_device_id"],
            ["sep_end_device.id"],
            name=op.f("fk_sep_end_device_fsa_end_device_id_sep_end_device"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["fsa_id"],
            ["sep_fsa.id"],
            name=op.f("fk_sep_end_device_fsa_fsa_id_sep_fsa"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("end_device_id", "fsa_id", name=op.f("pk_sep_end_device_fsa")),
    )
    with op.batch_alter_table("sep_end_device_fsa", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sep_end_device_fsa_fsa_id"), ["fsa_id"], unique=False)

    op.create_table(
        "sep_der_control",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("mrid", sa.String(length=32), nullable=False, comment="32 hex"),
        sa.Column("program_id", sa.Integer(), nullable=False),
        sa.Column("description", sa.String(length=32), nullable=False),
        sa.Column("creation_time", _utc(), nullable=False, comment="UTC"),
        sa.Column("start", _utc(), nullable=False, comment="UTC, interval start"),
        sa.Column("duration_s", sa.Integer(), nullable=False, comment="interval length, s"),
        sa.Column("randomize_start_s", sa.Integer(), nullable=True),
        sa.Column("randomize_duration_s", sa.Integer(), nullable=True),
        sa.Column("status", sa.Integer(), nullable=False, comment="EventStatus.currentStatus"),
        sa.Column("status_time", _utc(), nullable=False, comment="UTC, when status was set"),
        sa.Column("controls", sa.JSON(), nullable=False, comment="DERControlBase as JSON"),
        sa.CheckConstraint("duration_s >= 0", name=op.f("ck_sep_der_control_duration_s")),
        sa.CheckConstraint("status >= 0 AND status <= 6", name=op.f("ck_sep_der_control_status")),
        sa.ForeignKeyConstraint(
            ["program_id"],
            ["sep_der_program.id"],
            name=op.f("fk_sep_der_control_program_id_sep_der_program"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sep_der_control")),
        sa.UniqueConstraint("mrid", name=op.f("uq_sep_der_control_mrid")),
    )
    with op.batch_alter_table("sep_der_control", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_sep_der_control_program_id"), ["program_id"], unique=False
        )

    op.create_table(
        "sep_der_curve",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("mrid", sa.String(length=32), nullable=False, comment="32 hex"),
        sa.Column("program_id", sa.Integer(), nullable=False),
        sa.Column("curve", sa.JSON(), nullable=False, comment="DERCurve wire model as JSON"),
        sa.ForeignKeyConstraint(
            ["program_id"],
            ["sep_der_program.id"],
            name=op.f("fk_sep_der_curve_program_id_sep_der_program"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sep_der_curve")),
        sa.UniqueConstraint("mrid", name=op.f("uq_sep_der_curve_mrid")),
    )
    with op.batch_alter_table("sep_der_curve", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_sep_der_curve_program_id"), ["program_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("sep_der_curve", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sep_der_curve_program_id"))

    op.drop_table("sep_der_curve")
    with op.batch_alter_table("sep_der_control", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sep_der_control_program_id"))

    op.drop_table("sep_der_control")
    with op.batch_alter_table("sep_end_device_fsa", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sep_end_device_fsa_fsa_id"))

    op.drop_table("sep_end_device_fsa")
    with op.batch_alter_table("sep_der_program", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sep_der_program_fsa_id"))

    op.drop_table("sep_der_program")
    op.drop_table("sep_der")
    op.drop_table("sep_setting")
    op.drop_table("sep_fsa")
    with op.batch_alter_table("sep_end_device", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sep_end_device_sfdi"))
        batch_op.drop_index(batch_op.f("ix_sep_end_device_aggregator_lfdi"))

    op.drop_table("sep_end_device")
    op.drop_table("sep_client")
