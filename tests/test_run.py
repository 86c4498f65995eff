"""`sramflow run` end to end on a small configuration: every file, determinism, the rendered page."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from helpers.page import assert_page_renders
from sramflow.frontend.source import ModelSource
from sramflow.run import RunConfig, run

TIMING_KEYS = {"simulation_wall_s", "wall_s", "timing_ms_median", "wall_ms"}
EXPECTED = ("model_analysis.json", "quantization_report.json", "verify_report.json", "sram_design.json",
            "layer_mapping.json", "weight_mapping_summary.json", "inference_simulator_report.json",
            "claimed_macro_simulation.json", "baselines.json", "INTEGRATION_SUMMARY.md", "report.html",
            "model_int8.tflite")


def _strip_timing(obj):  # noqa: ANN001, ANN202
    if isinstance(obj, dict):
        return {k: _strip_timing(v) for k, v in obj.items() if k not in TIMING_KEYS}
    if isinstance(obj, list):
        return [_strip_timing(v) for v in obj]
    return obj


@pytest.fixture(scope="module")
def two_runs(lite0_32_runs: tuple[Path, dict[str, str]]) -> tuple[Path, dict[str, str]]:
    """Two runs of Lite0 @32 px (no functional replay, no design search: the section is test_run_advice.py's) into
    the same folder; the first run's JSON is kept in memory to compare (conftest's ``lite0_32_runs``)."""
    return lite0_32_runs


@pytest.mark.slow
def test_every_output_is_written(two_runs: tuple[Path, dict[str, str]]) -> None:
    a, _ = two_runs
    for name in EXPECTED:
        assert (a / name).is_file(), name
    assert list((a / "plots").glob("*.png"))
    assert not list(a.rglob("*.tmp")), "no temporary files left behind"
    sim = json.loads((a / "inference_simulator_report.json").read_text())
    analysis = json.loads((a / "model_analysis.json").read_text())
    assert len(sim["nodes"]) == len(analysis["nodes"]) > 0  # every node of the graph costed
    ver = json.loads((a / "verify_report.json").read_text())
    assert ver["tensors_mismatched"] == 0 and ver["tensors_compared"] > 0
    md = (a / "INTEGRATION_SUMMARY.md").read_text()
    assert "claims vs this run" in md and "random standard-normal" in md  # says plainly what it calibrated on


@pytest.mark.slow
def test_runs_are_deterministic(two_runs: tuple[Path, dict[str, str]]) -> None:
    a, first = two_runs
    assert sorted(first) == sorted(f.name for f in a.glob("*.json"))
    for f in sorted(a.glob("*.json")):
        ja, jb = json.loads(first[f.name]), json.loads(f.read_text())
        assert _strip_timing(ja) == _strip_timing(jb), f.name
        if ja == jb:  # byte-identical apart from timing fields
            assert first[f.name] == f.read_text(), f.name


@pytest.mark.slow
def test_report_renders_in_chromium(two_runs: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    assert_page_renders(two_runs[0] / "report.html", tmp_path)


@pytest.mark.slow
def test_run_with_data_adds_accuracy(ham_dir: Path, tmp_path: Path) -> None:
    cfg = RunConfig(source=ModelSource(model="efficientnet_b0", num_classes=7, resolution=32), out_dir=str(tmp_path),
                    data=str(ham_dir), calib_images=6, eval_limit=10, host_baseline=False, functional=False,
                    advise=False)  # the accuracy outputs only: the design search (~2 min) is test_run_advice.py's
    run(cfg, quiet=True)
    acc = json.loads((tmp_path / "accuracy_report.json").read_text())
    assert acc["n_images"] + acc["n_skipped_undecodable"] == 10
    assert acc["int8"] is not None and "balanced_accuracy" in acc["float"]
    assert "training split" in acc["int8_calibration"]["description"]
    q = json.loads((tmp_path / "quantization_report.json").read_text())
    assert "training split" in q["calibration"]
    assert "Accuracy" in (tmp_path / "report.html").read_text()
    assert "95% intervals (bootstrap over" in (tmp_path / "report.html").read_text()
    assert "95% intervals (bootstrap over" in (tmp_path / "INTEGRATION_SUMMARY.md").read_text()
    assert list((tmp_path / "plots").glob("confusion_*.png"))


@pytest.mark.slow
def test_a_run_with_a_budget_over_the_fastest_mapping(tmp_path: Path) -> None:
    """``run --objective energy --cycle-budget +2%``: the mapping, its report and the summary state the budget as
    given and the cycles it was applied to; the network stays within it."""
    cfg = RunConfig(source=ModelSource(model="efficientnet_lite0", num_classes=7, resolution=32), out_dir=str(tmp_path),
                    host_baseline=False, functional=False, advise=False, objective="energy", cycle_budget_over_pct=2.0)
    run(cfg, quiet=True)
    lm = json.loads((tmp_path / "layer_mapping.json").read_text())
    sim = json.loads((tmp_path / "inference_simulator_report.json").read_text())
    for rep in (lm, sim):
        assert rep["objective"] == "energy" and rep["cycle_budget_over_fastest_pct"] == 2.0
        assert rep["cycle_budget"] == int(rep["fastest_cycles"] * 1.02)
    assert rep["fastest_cycles"] < sim["total"]["cycles"] <= sim["cycle_budget"]
    md = (tmp_path / "INTEGRATION_SUMMARY.md").read_text()
    assert f"| mapping objective | energy within {sim['cycle_budget']:,} cycles (2 % above the latency objective's " \
           f"{sim['fastest_cycles']:,}) |" in md
