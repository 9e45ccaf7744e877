"""Settings for every role of the one ``openderms`` program (pydantic-settings).

Values come from arguments, then ``OPENDERMS_*`` environment variables, then defaults: the
embedded default is SQLite in ``.openderms/`` and the built-in ``camden`` twin. Choosing a
backend is configuration, never a code path of its own.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OPENDERMS_", extra="forbid", frozen=True)

    workspace: Path = Field(Path(".openderms"), description="folder for local state")
    database_url: str = Field("", description="SQLAlchemy URL; empty: SQLite file in the workspace")
    bus_url: str = Field(
        "memory://", description="message bus: memory:// (in-process) or nats://host:4222"
    )
    network_preset: str = Field("camden", description="twin preset when no model is imported")
    network_seed: int = 0
    bootstrap_operator_token: str | None = Field(
        None, description="if set, an operator with this token exists at start (dev, tests)"
    )

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.workspace / 'openderms.db').as_posix()}"
