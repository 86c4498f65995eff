"""sramflow advise on a tiny network: space generation, cheapest feasible design, the bound when none meets."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from helpers.graphs import small_conv_graph
from sramflow.design.advise import AdviseError, Targets, advise
from sramflow.design.evaluate import EvalOptions
from sramflow.design.outputs import answer_lines, write_outputs
from sramflow.design.space import COARSE, FINE, AdviseSpace, design_points
from sramflow.errors import HardwareSpecError
from sramflow.hw.load import resolve_hw

SPACE = AdviseSpace(sram_bytes=(256, 4096), macs_per_cycle=(16, 64), clock_mhz=(100.0,),
                    offchip=("qspi-psram", "lpddr4"), weight_bits=(8,), fusion=("none",),
                     weights_on_chip=(False,))


def test_default_spaces_span_the_issue_ranges() -> None:
    for s in (COARSE, FINE):
        assert min(s.sram_bytes) == 256 and max(s.sram_bytes) >= 8 * 2**20
        assert min(s.macs_per_cycle) == 16 and max(s.macs_per_cycle) >= 1024
        assert {"qspi-psram", "qspi-flash", "lpddr4"} <= set(s.offchip)
    pts = list(design_points(COARSE))
    big = [p for p in pts if p.params["sram_bytes"] == 8 * 2**20][0]
    assert big.hw.sram[0].size_bytes == 8 * 2**20  # whole copies of the least-area macro on file (IHP 2 KiB)
    assert big.memories[0].macro.name == "RM_IHPSG13_1P_256x64_c2_bm_bist" and big.memories[0].macros == 4096
    assert big.hw.sram[0].read_energy_pj == big.memories[0].macro.read_energy_pj  # one macro per word access
    assert all(p.hw.cycle_ns >= p.hw.sram[0].min_period_ns for p in pts)


def test_space_refuses_bad_values() -> None:
    with pytest.raises(HardwareSpecError, match="offchip"):
        AdviseSpace(offchip=("floppy",))
    with pytest.raises(HardwareSpecError, match="fusion"):
        AdviseSpace(fusion=("sideways",))
    with pytest.raises(HardwareSpecError, match="256"):
        AdviseSpace(sram_bytes=(100,))


@pytest.mark.parametrize("bad", [0, -1.0, float("nan")])
def test_impossible_targets_are_refused(bad: float) -> None:
    with pytest.raises(AdviseError, match="energy_mj"):
        Targets(10, bad, 10)


def test_some_designs_meet_the_cheapest_is_reported_and_bounds_hold(tmp_path: Path) -> None:
    t = Targets(latency_ms=0.5, energy_mj=0.01, avg_power_mw=100)
    a = advise(small_conv_graph(), {"model": "small"}, SPACE, t, EvalOptions(str(tmp_path), progress=False), refine=False)
    ok = a.ok
    assert len(ok) == 8
    meets = [r for r in ok if r.latency_ms <= 0.5 and r.energy_mj <= 0.01 and r.avg_power_mw <= 100]
    assert 0 < len(meets) < len(ok)
    assert a.feasible[0].area_mm2 == min(r.area_mm2 for r in meets)
    # the lower bounds are below every simulated figure
    assert a.space_bounds["energy_mj"] <= min(r.energy_mj for r in ok)
    assert a.space_bounds["latency_ms"] <= min(r.latency_ms for r in ok)
    d, paths = write_outputs(a, tmp_path, "energy")
    assert d["feasible"] and d["bounds"] == {}
    hw = resolve_hw(str(tmp_path / d["designs"][0]["hw_yaml"]))
    assert hw.sram[0].size_bytes == d["designs"][0]["params"]["sram_bytes"]
    assert all(p.exists() for p in paths)
    assert json.loads((tmp_path / "advise.json").read_text())["area_model"]["mac_area"]["kind"] == "scaled"


def test_no_design_meets_gives_the_energy_bound(tmp_path: Path) -> None:
    t = Targets(latency_ms=0.5, energy_mj=0.001, avg_power_mw=100)
    a = advise(small_conv_graph(), {"model": "small"}, SPACE, t, EvalOptions(str(tmp_path), progress=False), refine=False)
    assert a.feasible == []
    b = a.bounds["energy_mj"]
    assert b["provable"] and b["bound"] > 0.001 and "weights" in b["why"]
    assert len(a.results) == 8 and not a.pruned  # nothing hopeful: every point simulated for the closest designs
    d, _ = write_outputs(a, tmp_path, "energy")
    assert not d["feasible"] and d["designs"]
    assert any("rules it out" in line for line in answer_lines(d))


def test_pruned_points_are_counted_not_simulated(tmp_path: Path) -> None:
    # 239,616 MACs at 16 MACs/cycle and 100 MHz take >= 0.15 ms: the 16-MAC points are pruned at 0.1 ms
    t = Targets(latency_ms=0.1, energy_mj=0.01, avg_power_mw=100)
    a = advise(small_conv_graph(), {"model": "small"}, SPACE, t, EvalOptions(str(tmp_path), progress=False), refine=False)
    assert len(a.results) + len(a.pruned) == 8
    assert {p.params["macs_per_cycle"] for p, _ in a.pruned} == {16}
    assert all(b.latency_ms > 0.1 for _, b in a.pruned)
    assert {r.point.params["macs_per_cycle"] for r in a.results} == {64}
    d, _ = write_outputs(a, tmp_path, "energy")
    assert d["searched"]["pruned_bound_misses"]["latency_ms"] == len(a.pruned) == 4


def test_help_does_not_import_torch() -> None:
    code = ("import sys; from sramflow.cli import build_parser; build_parser(); "
            "assert 'torch' not in sys.modules, 'torch imported'")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parents[1])


def test_a_second_run_reuses_the_stored_points(tmp_path: Path) -> None:
    from sramflow.sweep.store import PointStore

    t = Targets(latency_ms=0.5, energy_mj=0.01, avg_power_mw=100)
    first = advise(small_conv_graph(), {"model": "small"}, SPACE, t, EvalOptions(str(tmp_path), progress=False), refine=False)
    again = advise(small_conv_graph(), {"model": "small"}, SPACE, t, EvalOptions(str(tmp_path), progress=False), refine=False)
    with PointStore(tmp_path / "points.sqlite") as store:
        runs = store.runs()
    assert [r["points_todo"] for r in runs] == [8, 0]
    assert [r.energy_mj for r in again.results] == [r.energy_mj for r in first.results]


@pytest.mark.parametrize("bad", ["0", "-2", "nan", "abc"])
def test_cli_refuses_impossible_targets_in_one_line(bad: str, capsys: pytest.CaptureFixture[str]) -> None:
    from sramflow.cli import main

    assert main(["advise", "--model", "efficientnet_b0", "--out", "x", "--target-energy-mj", bad]) == 2
    assert "--target-energy-mj" in capsys.readouterr().err
