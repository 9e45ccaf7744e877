"""The network file store: saves atomically and never leaves a half-written model."""

from __future__ import annotations

from pathlib import Path

import pytest

from openderms.store.network_files import NetworkFileStore
from tests.grid.builders import two_feeders


def test_save_and_load(tmp_path: Path) -> None:
    store = NetworkFileStore(tmp_path / "ws")
    assert not store.exists()
    store.save(two_feeders())
    assert store.load() == two_feeders()


def test_failed_save_keeps_the_previous_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = NetworkFileStore(tmp_path)
    store.save(two_feeders())
    before = store.path.read_bytes()

    def boom(_net: object) -> bytes:
        raise RuntimeError("disk full")

    monkeypatch.setattr("openderms.store.network_files.network_to_json", boom)
    with pytest.raises(RuntimeError):
        store.save(two_feeders())
    assert store.path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["network.json"]
