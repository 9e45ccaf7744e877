"""The IEEE 2030.5 server's run-time access list and the CSIP-AUS ConnectionPoint: whether a
known certificate may still use the server (``sep_client.access_granted``, checked on every
request), the connection point identifier (by default the NMI) an EndDevice's client PUT
(``sep_end_device.connection_point_id``), and when the server cancelled a subscription
(``sep_subscription.cancelled_at``: kept until its cancellation Notification is sent).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("sep_client") as batch:
        batch.add_column(
            sa.Column(
                "access_granted",
                sa.Boolean(),
                nullable=False,
                server_default=sa.true(),
                comment="false: every request of this certificate is refused (403)",
            )
        )
    with op.batch_alter_table("sep_end_device") as batch:
        batch.add_column(
            sa.Column(
                "connection_point_id",
                sa.String(32),
                nullable=True,
                comment="CSIP-AUS ConnectionPoint id (NMI); null: none given",
            )
        )

    with op.batch_alter_table("sep_subscription") as batch:
        batch.add_column(
            sa.Column(
                "cancelled_at",
                sa.DateTime(timezone=True),
                nullable=True,
                comment="UTC; set: cancelled by the server, kept until its last Notification "
                "is sent",
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("sep_subscription") as batch:
        batch.drop_column("cancelled_at")
    with op.batch_alter_table("sep_end_device") as batch:
        batch.drop_column("connection_point_id")
    with op.batch_alter_table("sep_client") as batch:
        batch.drop_column("access_granted")
