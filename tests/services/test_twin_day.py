"""The main job on a small twin: noon and day solved, pictures written, summary sensible."""

from __future__ import annotations

from pathlib import Path

from openderms.services.twin_day import run_twin_day


def test_small_twin_day(tmp_path: Path) -> None:
    report = run_twin_day("small", 0, tmp_path)
    assert report.noon.converged
    assert report.day.v_pu.shape[0] == 96
    assert report.noon.v_pu.max() > 1.05  # uncontrolled noon PV: the pilot's problem
    assert report.n_topology_nodes > 10
    # the DERMS clears noon: an AC power flow of its plan shows no violation DER can act on
    assert report.plan.violations_before
    assert report.plan.controls
    assert report.plan.actionable_ac_violations == ()
    assert report.noon_controlled.v_pu.max() < report.noon.v_pu.max()
    assert len(report.pictures) == 3
    for picture in report.pictures:
        assert picture.stat().st_size > 20_000
    rows = dict(report.lines())
    assert rows["customers / DER"].endswith("/ 300")
    assert "pgm" in rows["noon solve"]
