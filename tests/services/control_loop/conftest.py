"""A loop on the ``small`` twin at solar noon with the in-memory link and a fake clock; the
bus tests' ``make_bus`` (in-process and a real NATS JetStream server)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from openderms.grid.model import Network
from openderms.services.control_loop import (
    ControlLoop,
    FakeClock,
    GridState,
    InMemoryDelivery,
    LinkBehaviour,
    LoopConfig,
)
from openderms.services.control_loop.sim import Harness, SimulatedFleet
from openderms.sim.twin import Twin, build_twin
from tests.bus.conftest import make_bus  # noqa: F401 (the bus tests' fixture: memory and NATS)

MakeHarness = Callable[..., Harness]


@pytest.fixture(scope="session")
def small() -> Twin:
    return build_twin("small")


@pytest.fixture
def make_harness(small: Twin) -> MakeHarness:
    def make(
        net: Network | None = None,
        behaviour: LinkBehaviour | None = None,
        config: LoopConfig | None = None,
        *,
        defaults: bool = True,
        seed: int = 0,
    ) -> Harness:
        net = net or small.network
        clock = FakeClock(small.timestamps[small.noon_step])
        link = InMemoryDelivery(clock, behaviour or LinkBehaviour(delay_s=5.0), seed=seed)
        state = GridState(net, {d.id: f"agg{i % 3}" for i, d in enumerate(net.ders)})
        loop = ControlLoop(state, link, link, config or LoopConfig())
        if defaults:
            loop.provision_defaults(clock.now())
        return Harness(loop, SimulatedFleet(net, link), clock)

    return make
