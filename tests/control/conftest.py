"""Twins shared by the control tests (built once per session; each is deterministic)."""

from __future__ import annotations

import pytest

from openderms.sim.twin import Twin, build_twin


@pytest.fixture(scope="session")
def small() -> Twin:
    return build_twin("small")


@pytest.fixture(scope="session")
def medium() -> Twin:
    return build_twin("medium")


@pytest.fixture(scope="session")
def camden() -> Twin:
    return build_twin("camden")
