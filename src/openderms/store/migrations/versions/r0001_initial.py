"""The registry: DER records, their audit trail, API tokens.

Revision ID: 0001
Revises:
Create Date: 2026-11-28

Units and bounds are documented on the models in ``openderms.store.tables``; this revision
spells the same schema out so that later model changes never rewrite history.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None

_STATUSES = (
    "submitted",
    "screening",
    "approved",
    "approved_with_limit",
    "rejected",
    "provisioned",
    "active",
    "suspended",
    "decommissioned",
)
_ROLES = ("installer", "aggregator", "operator")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _id() -> sa.String:
    return sa.String(80).with_variant(sa.String(80, collation="C"), "postgresql")


def _utc() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "der",
        sa.Column("id", _id(), nullable=False, comment="DER id"),
        sa.Column(
            "installer_id",
            sa.String(80),
            nullable=False,
            comment="the installer who registered it",
        ),
        sa.Column(
            "aggregator_id",
            sa.String(80),
            nullable=True,
            comment="registration.aggregator_id; null: none",
        ),
        sa.Column(
            "application_id",
            sa.String(60),
            nullable=False,
            comment="interconnection application, unique",
        ),
        sa.Column("status", sa.String(24), nullable=False, comment="lifecycle status"),
        sa.Column(
            "bus_id",
            sa.String(80),
            nullable=True,
            comment="bus the screening mapped it to; null: not screened",
        ),
        sa.Column(
            "feeder_id",
            sa.String(80),
            nullable=True,
            comment="feeder from the screening; null: none / unscreened",
        ),
        sa.Column(
            "topology_node_id",
            sa.String(80),
            nullable=True,
            comment="provisioned topology node, else the screened one",
        ),
        sa.Column(
            "granted_export_kw",
            sa.Float(),
            nullable=False,
            comment="export held on bus_id, kW >= 0 (generator convention): the limit, else the "
            "requested kW, while approved / provisioned / active / suspended; 0 otherwise",
        ),
        sa.Column("registration", sa.JSON(), nullable=False, comment="Registration, JSON"),
        sa.Column("screening", sa.JSON(), nullable=True, comment="Screening, JSON"),
        sa.Column("provisioning", sa.JSON(), nullable=True, comment="Provisioning, JSON"),
        sa.Column("created_at", _utc(), nullable=False, comment="UTC"),
        sa.Column("updated_at", _utc(), nullable=False, comment="UTC"),
        sa.Column(
            "version",
            sa.Integer(),
            nullable=False,
            comment="optimistic concurrency, >= 1, bumped on every change",
        ),
        sa.CheckConstraint(_in("status", _STATUSES), name="ck_der_status"),
        sa.CheckConstraint("granted_export_kw >= 0", name="ck_der_granted_export_kw"),
        sa.CheckConstraint("version >= 1", name="ck_der_version"),
        sa.PrimaryKeyConstraint("id", name="pk_der"),
        sa.UniqueConstraint("application_id", name="uq_der_application_id"),
    )
    for column in ("installer_id", "aggregator_id", "status", "bus_id", "feeder_id"):
        op.create_index(f"ix_der_{column}", "der", [column])

    op.create_table(
        "der_audit",
        sa.Column("der_id", _id(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False, comment="1, 2, ... per DER"),
        sa.Column("at", _utc(), nullable=False, comment="UTC"),
        sa.Column("actor", sa.String(80), nullable=False, comment="who acted"),
        sa.Column("action", sa.String(40), nullable=False, comment="what they did"),
        sa.Column("from_status", sa.String(24), nullable=True, comment="null: creation"),
        sa.Column("to_status", sa.String(24), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.CheckConstraint(_in("to_status", _STATUSES), name="ck_der_audit_to_status"),
        sa.CheckConstraint("seq >= 1", name="ck_der_audit_seq"),
        sa.ForeignKeyConstraint(
            ["der_id"], ["der.id"], name="fk_der_audit_der_id_der", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("der_id", "seq", name="pk_der_audit"),
    )

    op.create_table(
        "api_token",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column(
            "token_sha256", sa.String(64), nullable=False, comment="hex SHA-256 of the token"
        ),
        sa.Column("actor_id", sa.String(80), nullable=False, comment="the actor it stands for"),
        sa.Column(
            "role", sa.String(16), nullable=False, comment="installer, aggregator or operator"
        ),
        sa.Column(
            "aggregator_id",
            sa.String(80),
            nullable=True,
            comment="aggregators: the aggregator they act for",
        ),
        sa.Column("created_at", _utc(), nullable=False, comment="UTC"),
        sa.Column("revoked", sa.Boolean(), nullable=False, comment="true: refused"),
        sa.CheckConstraint(_in("role", _ROLES), name="ck_api_token_role"),
        sa.PrimaryKeyConstraint("id", name="pk_api_token"),
        sa.UniqueConstraint("token_sha256", name="uq_api_token_token_sha256"),
    )


def downgrade() -> None:
    op.drop_table("api_token")
    op.drop_table("der_audit")
    for column in ("installer_id", "aggregator_id", "status", "bus_id", "feeder_id"):
        op.drop_index(f"ix_der_{column}", table_name="der")
    op.drop_table("der")
