"""The registry's SQL tables (SQLAlchemy 2 declarative, ``Mapped[...]``).

Each column says its unit and bounds. A DER row keeps the whole record: the installer's
registration, the screening outcome and the provisioning as JSON documents (the pydantic
models of ``openderms.registry.domain``, dumped in JSON mode), plus the fields the queries
filter on copied out into indexed columns. The audit trail is its own append-only table.

Times are timezone-aware UTC: ``UtcDateTime`` refuses naive datetimes on the way in, stores UTC
(``timestamptz`` on PostgreSQL, ISO text on SQLite) and always returns aware UTC datetimes.

The Alembic migrations under ``migrations/versions`` create exactly these tables; a test
compares the two on SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar, get_args

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from openderms.registry.domain import Role, Status

#: every lifecycle status, as the ``status`` check constraints list them
STATUS_VALUES: tuple[str, ...] = get_args(Status)
#: every actor role, as the ``api_token.role`` check constraint lists them
ROLE_VALUES: tuple[str, ...] = get_args(Role)

ID_LEN = 80  # ids of DER, buses, feeders, topology nodes, installers, aggregators
APPLICATION_ID_LEN = 60  # the interconnection application id (domain limit)
LFDI_LEN = 40  # a certificate's LFDI in hex digits


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def id_type() -> String:
    """Ids order by code point on every backend (``COLLATE "C"`` on PostgreSQL), as Python
    sorts strings, so that pages are the same whatever the database."""
    return String(ID_LEN).with_variant(String(ID_LEN, collation="C"), "postgresql")


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC instant (naive datetimes are refused, not guessed)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value.isoformat()}: give a timezone-aware one")
        utc = value.astimezone(UTC)
        # SQLite has no time zones: keep the UTC wall clock, read back as UTC below
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    """Constraint and index names follow one convention (the migrations spell them out)."""

    metadata = MetaData(
        naming_convention={
            "pk": "pk_%(table_name)s",
            "uq": "uq_%(table_name)s_%(column_0_name)s",
            "ix": "ix_%(table_name)s_%(column_0_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
        }
    )
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UtcDateTime,
        dict[str, Any]: JSON,
    }


class DerRow(Base):
    """One registered DER (``openderms.registry.domain.DerRecord``)."""

    __tablename__ = "der"
    __table_args__ = (
        CheckConstraint(_in("status", STATUS_VALUES), name="status"),
        CheckConstraint("granted_export_kw >= 0", name="granted_export_kw"),
        CheckConstraint("version >= 1", name="version"),
    )

    id: Mapped[str] = mapped_column(id_type(), primary_key=True, comment="DER id")
    installer_id: Mapped[str] = mapped_column(
        String(ID_LEN), index=True, comment="the installer who registered it"
    )
    aggregator_id: Mapped[str | None] = mapped_column(
        String(ID_LEN), index=True, comment="registration.aggregator_id; null: none"
    )
    application_id: Mapped[str] = mapped_column(
        String(APPLICATION_ID_LEN), unique=True, comment="interconnection application, unique"
    )
    status: Mapped[str] = mapped_column(String(24), index=True, comment="lifecycle status")
    device_lfdi: Mapped[str | None] = mapped_column(
        String(LFDI_LEN),
        unique=True,
        comment="registration.device_lfdi: its 2030.5 certificate's LFDI, 40 upper-case hex "
        "digits, unique; null: none given",
    )
    bus_id: Mapped[str | None] = mapped_column(
        String(ID_LEN), index=True, comment="bus the screening mapped it to; null: not screened"
    )
    feeder_id: Mapped[str | None] = mapped_column(
        String(ID_LEN), index=True, comment="feeder from the screening; null: none / unscreened"
    )
    topology_node_id: Mapped[str | None] = mapped_column(
        String(ID_LEN), comment="provisioned topology node, else the screened one"
    )
    granted_export_kw: Mapped[float] = mapped_column(
        Float,
        comment="export held on bus_id, kW >= 0 (generator convention): the limit, else the "
        "requested kW, while approved / provisioned / active / suspended; 0 otherwise",
    )
    registration: Mapped[dict[str, Any]] = mapped_column(comment="Registration, JSON")
    screening: Mapped[dict[str, Any] | None] = mapped_column(comment="Screening, JSON")
    provisioning: Mapped[dict[str, Any] | None] = mapped_column(comment="Provisioning, JSON")
    created_at: Mapped[datetime] = mapped_column(comment="UTC")
    updated_at: Mapped[datetime] = mapped_column(comment="UTC")
    version: Mapped[int] = mapped_column(
        Integer, comment="optimistic concurrency, >= 1, bumped on every change"
    )


class DerAuditRow(Base):
    """One entry of a DER's audit trail; ``seq`` counts from 1 in the order of the trail."""

    __tablename__ = "der_audit"
    __table_args__ = (
        CheckConstraint(_in("to_status", STATUS_VALUES), name="to_status"),
        CheckConstraint("seq >= 1", name="seq"),
    )

    der_id: Mapped[str] = mapped_column(
        id_type(), ForeignKey("der.id", ondelete="CASCADE"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, comment="1, 2, ... per DER")
    at: Mapped[datetime] = mapped_column(comment="UTC")
    actor: Mapped[str] = mapped_column(String(ID_LEN), comment="who acted")
    action: Mapped[str] = mapped_column(String(40), comment="what they did")
    from_status: Mapped[str | None] = mapped_column(String(24), comment="null: creation")
    to_status: Mapped[str] = mapped_column(String(24))
    detail: Mapped[str] = mapped_column(Text, default="")


class ApiTokenRow(Base):
    """An API bearer token: only its SHA-256 is kept, never the token itself."""

    __tablename__ = "api_token"
    __table_args__ = (CheckConstraint(_in("role", ROLE_VALUES), name="role"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    token_sha256: Mapped[str] = mapped_column(
        String(64), unique=True, comment="hex SHA-256 of the token"
    )
    actor_id: Mapped[str] = mapped_column(String(ID_LEN), comment="the actor it stands for")
    role: Mapped[str] = mapped_column(String(16), comment="installer, aggregator or operator")
    aggregator_id: Mapped[str | None] = mapped_column(
        String(ID_LEN), comment="aggregators: the aggregator they act for"
    )
    created_at: Mapped[datetime] = mapped_column(comment="UTC")
    revoked: Mapped[bool] = mapped_column(Boolean, default=False, comment="true: refused")


class AggregatorRow(Base):
    """An aggregator and the LFDI of its 2030.5 client certificate
    (``openderms.registry.aggregators.Aggregator``)."""

    __tablename__ = "aggregator"

    id: Mapped[str] = mapped_column(id_type(), primary_key=True, comment="aggregator id")
    name: Mapped[str] = mapped_column(String(120), default="", comment="display name")
    lfdi: Mapped[str] = mapped_column(
        String(LFDI_LEN),
        unique=True,
        comment="its certificate's LFDI, 40 upper-case hex digits, unique",
    )
    created_at: Mapped[datetime] = mapped_column(comment="UTC")


# the 2030.5 server's tables live in their own module, in this metadata
from openderms.store import tables_2030_5 as _tables_2030_5  # noqa: E402, F401
