"""Communication loss (failsafe, other DER cover), DER ignoring controls, and revert after the
condition clears (hysteresis and hold time), on the ``small`` twin at noon."""

from __future__ import annotations

from openderms.control import CLEARING_HYSTERESIS, detect_violations
from openderms.grid.engines.pgm_model import PgmModel
from openderms.services.control_loop import GridState, LinkBehaviour, LoopConfig
from openderms.services.control_loop.failsafe import safe_default_caps
from openderms.sim.twin import Twin
from tests.services.control_loop.conftest import MakeHarness
from tests.services.control_loop.test_scenarios import controls_text

SHORT = LoopConfig(control_duration_s=300.0, renew_before_s=120.0, hold_s=300.0)


def test_comm_loss_failsafe_others_cover(make_harness: MakeHarness) -> None:
    h = make_harness(config=SHORT)
    first = h.run(3)
    plan = h.reports[0].plan
    assert plan is not None
    assert first.violations == ()
    moved = sorted(plan.controls, key=lambda c: -abs(c.q_kvar or 0.0))[:12]
    lost = {c.der_id for c in moved}
    h.fleet.link.set_offline(lost)
    h.run(4)  # 120 s: more than 3 telemetry periods of silence
    failsafe = h.loop.audit.actions("failsafe")
    assert {e.controls[0] for e in failsafe} == lost
    assert all(not h.loop.state.ders[d].controllable for d in lost)
    after = [r.plan for r in h.reports[3:] if r.plan is not None]
    assert after, "the failsafe re-dispatched the others"
    assert not {c.der_id for c in after[-1].controls} & lost
    h.run(8)  # past the lost DER's control expiry: they run at their default cap now
    now = h.clock.now()
    for d in lost:
        assert h.fleet.link.in_force(d, now) is None
    assert h.ac_violations() == (), controls_text(h)
    assert h.loop.audit.actions("control_renewed")
    h.fleet.link.set_online(lost)
    h.run(1)
    assert {e.controls[0] for e in h.loop.audit.actions("contact_restored")} == lost


def test_der_ignoring_controls_are_replaced(small: Twin, make_harness: MakeHarness) -> None:
    pv = [d.id for d in small.network.ders if d.kind == "pv"]
    ignoring = frozenset(pv[::4])
    h = make_harness(behaviour=LinkBehaviour(delay_s=5.0, ignoring=ignoring))
    h.run(8)
    flagged = {e.controls[0] for e in h.loop.audit.actions("not_followed")}
    assert flagged
    assert flagged <= ignoring
    assert h.ac_violations() == (), controls_text(h)
    assert h.reports[-1].violations == ()


def test_revert_after_clearing_and_hold_time(small: Twin, make_harness: MakeHarness) -> None:
    h = make_harness(config=SHORT)
    h.run(3)
    assert h.loop.queue.open_controls()
    h.fleet.set_available(h.fleet.available_kw * 0.4)  # clouds: the condition clears
    h.run(10)  # 300 s: still held
    assert h.loop.queue.open_controls()
    assert not h.loop.audit.actions("revert")
    h.run(2)
    revert = h.loop.audit.actions("revert")
    assert len(revert) == 1
    assert not h.loop.queue.open_controls()
    assert h.fleet.outputs(h.clock.now())[0].tolist() == h.fleet.available_kw.tolist()
    assert h.ac_violations() == ()
    assert h.loop.audit.actions("cleared")


def _pv_scale_inside_hysteresis(twin: Twin) -> float:
    """A PV scale at which the uncontrolled noon network is inside its voltage limits but
    not by the clearing hysteresis (the highest bus 0.0025 pu under 1.05 pu)."""
    net = twin.network
    model = PgmModel.from_network(net)
    p = [d.p_kw for d in net.ders]

    def worst(scale: float) -> float:
        r = model.solve(der_p_kw=[x * scale if x > 0 else x for x in p], error_tolerance=1e-6)  # type: ignore[arg-type]
        v = r.bus_v_range_pu()
        return max(v[b.id][1] - b.v_max_pu for b in net.buses if v.get(b.id, (0, 0))[1] > 0)

    lo, hi = 0.3, 1.0
    for _ in range(30):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if worst(mid) < -0.0025 else (lo, mid)
    return (lo + hi) / 2


def test_no_revert_inside_the_hysteresis_band(small: Twin, make_harness: MakeHarness) -> None:
    scale = _pv_scale_inside_hysteresis(small)
    h = make_harness(config=SHORT)
    h.run(3)
    avail = h.fleet.available_kw
    h.fleet.set_available([x * scale if x > 0 else x for x in avail.tolist()])  # type: ignore[arg-type]
    h.run(25)  # 750 s, well past the hold time
    assert not h.loop.audit.actions("revert")
    assert h.loop.queue.open_controls()
    net = h.fleet.network(h.clock.now())
    uncontrolled = PgmModel.from_network(net).solve(
        der_p_kw=h.fleet.available_kw, der_q_kvar=0.0 * h.fleet.available_kw, error_tolerance=1e-6
    )
    assert not detect_violations(uncontrolled, net)
    assert detect_violations(uncontrolled, net, margins=CLEARING_HYSTERESIS)
    assert h.ac_violations() == ()


def test_default_caps_are_safe_with_every_der_at_its_default(small: Twin) -> None:
    """If every DER lost contact at clear-sky noon and fell to its default cap at once, the
    AC power flow shows no violation; the caps are shared per service transformer."""
    net = small.network
    caps = safe_default_caps(GridState(net))
    assert set(caps) == {d.id for d in net.ders}
    p = [min(d.p_kw, caps[d.id]) if d.kind == "pv" else d.p_kw for d in net.ders]
    result = PgmModel.from_network(net).solve(der_p_kw=p, error_tolerance=1e-6)  # type: ignore[arg-type]
    assert detect_violations(result, net) == ()
    assert any(caps[d.id] < d.p_kw for d in net.ders)  # noon needs some caps
    assert all(caps[d.id] == d.p_max_kw for d in net.ders if d.kind != "pv")


def test_der_ignoring_controls_are_readmitted_later(small: Twin, make_harness: MakeHarness) -> None:
    pv = [d.id for d in small.network.ders if d.kind == "pv"]
    ignoring = frozenset(pv[::4])
    config = LoopConfig(readmit_after_s=60.0)
    h = make_harness(behaviour=LinkBehaviour(delay_s=5.0, ignoring=ignoring), config=config)
    h.run(10)
    flagged = {e.controls[0] for e in h.loop.audit.actions("not_followed")}
    readmitted = {e.controls[0] for e in h.loop.audit.actions("readmitted")}
    assert readmitted
    assert readmitted <= flagged
    entry = h.loop.audit.actions("readmitted")[0]
    assert entry.actor == "control_loop"
    assert entry.as_json()["controls"] == [entry.controls[0]]
