"""DER defaults chosen per program: a fallback cap, or no cap (CSIP devices apply their
DefaultDERControl whenever no event is active, so a noon-safe cap would curtail idle DER)."""

from __future__ import annotations

from openderms.services.control_loop import LinkBehaviour, LoopConfig
from openderms.services.control_loop.failsafe import DefaultPolicy
from tests.services.control_loop.conftest import MakeHarness

NO_CAP = LoopConfig(
    default_policy=DefaultPolicy.NO_CAP, control_duration_s=300.0, renew_before_s=120.0
)


def test_no_cap_programs_get_their_rating_and_are_planned_uncapped(
    make_harness: MakeHarness,
) -> None:
    h = make_harness(config=NO_CAP, defaults=False)
    h.loop.provision_defaults(h.clock.now())
    h.run(1)
    defaults = h.fleet.link.defaults
    assert len(defaults) == len(h.fleet.net.ders)
    assert all(d.p_max_kw == d.rated_kw for d in defaults.values())
    assert all(v.fallback_p_max_kw is None for v in h.loop.state.ders.values())
    assert "0 capped" in h.loop.audit.actions("defaults")[0].why


def test_policies_per_program_and_caps_count_uncapped_der_at_full_output(
    make_harness: MakeHarness,
) -> None:
    capped = make_harness(defaults=False)
    capped.loop.provision_defaults(capped.clock.now())
    all_caps = {k: v.fallback_p_max_kw for k, v in capped.loop.state.ders.items()}
    config = LoopConfig(default_policies={"agg0": DefaultPolicy.NO_CAP})
    h = make_harness(config=config, defaults=False)
    h.loop.provision_defaults(h.clock.now())
    views = h.loop.state.ders
    free = {k for k, v in views.items() if v.program_id == "agg0"}
    assert free
    assert all(views[k].fallback_p_max_kw is None for k in free)
    rest = [k for k in views if k not in free]
    assert all(views[k].fallback_p_max_kw is not None for k in rest)
    before = sum(all_caps[k] or 0.0 for k in rest)
    after = sum(views[k].fallback_p_max_kw or 0.0 for k in rest)
    assert after < before  # the others cover for the uncapped ones


def test_no_cap_comm_loss_is_covered_by_the_others(make_harness: MakeHarness) -> None:
    """Out of contact, a no-cap DER runs free once its last control expires: the loop plans it
    so from the moment it is found silent, and the network stays inside its limits."""
    h = make_harness(config=NO_CAP, behaviour=LinkBehaviour(delay_s=5.0))
    h.run(3)
    plan = h.reports[0].plan
    assert plan is not None
    lost = {c.der_id for c in sorted(plan.controls, key=lambda c: -abs(c.q_kvar or 0.0))[:12]}
    h.fleet.link.set_offline(lost)
    h.run(14)  # silent, then past their controls' expiry: uncontrolled, uncapped
    now = h.clock.now()
    assert all(h.fleet.link.in_force(d, now) is None for d in lost)
    assert all(not h.loop.state.ders[d].controllable for d in lost)
    fleet = h.loop.state.fleet()
    index = {d: i for i, d in enumerate(fleet.ids)}
    for d in lost:
        assert fleet.p_kw[index[d]] == h.loop.state.ders[d].p_available_kw
    assert h.ac_violations() == ()
