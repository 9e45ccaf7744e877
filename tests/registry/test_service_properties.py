"""Screening invariants over random batches (hypothesis): whatever the order, nothing is
over-allocated, and the store and the screening state agree."""

from __future__ import annotations

import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from openderms.registry.domain import Location
from openderms.registry.ports import Actor
from openderms.sim.twin import Twin
from tests.registry.conftest import Harness, registration

INSTALLER = Actor("inst-1", "installer")
BUSES = ("F1_L03_01_LV", "F1_L03_02_LV", "F1_L04_01_LV", "F2_L10_01_LV", "F2_T02_C1_LV")


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    requests=st.lists(
        st.tuples(st.sampled_from(BUSES), st.floats(0.5, 40.0)), min_size=1, max_size=20
    ),
    order=st.randoms(use_true_random=False),
)
def test_any_order_never_over_allocates(
    small: Twin, requests: list[tuple[str, float]], order: random.Random
) -> None:
    h = Harness(small)
    start = {
        bus: h.service.hosting_capacity_at(Location(bus_id=bus)).export_capacity_kw for bus in BUSES
    }
    shuffled = list(requests)
    order.shuffle(shuffled)
    regs = [
        registration(f"A{k}", round(kw, 2), location={"bus_id": bus})
        for k, (bus, kw) in enumerate(shuffled)
    ]
    records = h.service.register_many(regs, INSTALLER)
    granted = h.repo.granted_export_kw_by_bus()
    for bus, kw in granted.items():
        assert kw <= start[bus] + 1e-6
    assert granted.keys() == h.service.hosting.granted_kw("export").keys()
    for bus, kw in granted.items():
        assert h.service.hosting.granted_kw("export")[bus] == kw
    for r in records:
        s = r.screening
        assert s is not None
        if s.decision == "approve_with_limit":
            assert s.export_limit_kw is not None
            assert s.export_limit_kw >= max(1.0, 0.1 * s.requested_kw)
    assert h.service.hosting.verify("export").v_over_max_pu <= 0.001
