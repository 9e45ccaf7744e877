"""Server settings changed at run time (poll and post rates, seconds)."""

from __future__ import annotations

from sqlalchemy import Engine, insert, select, update

from openderms.store.engine import writer
from openderms.store.tables_2030_5 import SepSettingRow


class SettingsRepository:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._writer = writer(engine)

    def all(self) -> dict[str, int]:
        with self._engine.begin() as conn:
            return {r.name: r.value for r in conn.execute(select(SepSettingRow))}

    def put(self, name: str, value: int) -> None:
        with self._writer.begin() as conn:
            done = conn.execute(
                update(SepSettingRow).where(SepSettingRow.name == name).values(value=value)
            )
            if done.rowcount == 0:
                conn.execute(insert(SepSettingRow).values(name=name, value=value))
