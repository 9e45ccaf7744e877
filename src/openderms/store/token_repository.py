"""``SqlTokenRepository``: API bearer tokens, each standing for one ``Actor``.

A token is 256 random bits (URL-safe text); the database keeps only its SHA-256, so a leaked
database gives no usable token. Resolving a token is one indexed lookup of that hash.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime
from typing import cast

from sqlalchemy import Engine, insert, select, update

from openderms.registry.domain import Role
from openderms.registry.ports import Actor
from openderms.store.engine import writer
from openderms.store.tables import ApiTokenRow

TOKEN_BYTES = 32  # 256 bits of randomness


def token_sha256(token: str) -> str:
    """The hex SHA-256 under which ``token`` is stored."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class SqlTokenRepository:
    """Tokens in the ``api_token`` table of ``engine``'s database."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._writer = writer(engine)

    def create(self, actor: Actor) -> str:
        """A new token for ``actor`` (shown once: only its hash is stored)."""
        token = secrets.token_urlsafe(TOKEN_BYTES)
        with self._writer.begin() as conn:
            conn.execute(insert(ApiTokenRow), _row(token, actor))
        return token

    def resolve(self, token: str) -> Actor | None:
        """The actor ``token`` stands for (None: unknown or revoked)."""
        stmt = select(ApiTokenRow.actor_id, ApiTokenRow.role, ApiTokenRow.aggregator_id).where(
            ApiTokenRow.token_sha256 == token_sha256(token), ApiTokenRow.revoked.is_(False)
        )
        with self._engine.begin() as conn:
            row = conn.execute(stmt).first()
        if row is None:
            return None
        return Actor(id=row.actor_id, role=cast(Role, row.role), aggregator_id=row.aggregator_id)

    def revoke(self, token: str) -> bool:
        """Refuse ``token`` from now on; True if it was a live token."""
        stmt = (
            update(ApiTokenRow)
            .where(ApiTokenRow.token_sha256 == token_sha256(token), ApiTokenRow.revoked.is_(False))
            .values(revoked=True)
        )
        with self._writer.begin() as conn:
            return conn.execute(stmt).rowcount == 1


def _row(token: str, actor: Actor) -> dict[str, object]:
    return {
        "token_sha256": token_sha256(token),
        "actor_id": actor.id,
        "role": actor.role,
        "aggregator_id": actor.aggregator_id,
        "created_at": datetime.now(UTC),
        "revoked": False,
    }
