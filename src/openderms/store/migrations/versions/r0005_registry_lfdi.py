"""The registry's certificate identities: a DER's ``device_lfdi`` (the LFDI of its
inverter's 2030.5 certificate, unique) and the ``aggregator`` table (each aggregator and the
LFDI of its client certificate, unique).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("der") as batch:
        batch.add_column(
            sa.Column(
                "device_lfdi",
                sa.String(40),
                nullable=True,
                comment="registration.device_lfdi: its 2030.5 certificate's LFDI, 40 "
                "upper-case hex digits, unique; null: none given",
            )
        )
        batch.create_unique_constraint("uq_der_device_lfdi", ["device_lfdi"])
    op.create_table(
        "aggregator",
        sa.Column(
            "id",
            sa.String(80).with_variant(sa.String(80, collation="C"), "postgresql"),
            nullable=False,
            comment="aggregator id",
        ),
        sa.Column("name", sa.String(120), nullable=False, comment="display name"),
        sa.Column(
            "lfdi",
            sa.String(40),
            nullable=False,
            comment="its certificate's LFDI, 40 upper-case hex digits, unique",
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, comment="UTC"),
        sa.PrimaryKeyConstraint("id", name="pk_aggregator"),
        sa.UniqueConstraint("lfdi", name="uq_aggregator_lfdi"),
    )


def downgrade() -> None:
    op.drop_table("aggregator")
    with op.batch_alter_table("der") as batch:
        batch.drop_constraint("uq_der_device_lfdi", type_="unique")
        batch.drop_column("device_lfdi")
