"""`sramflow run`'s "What it would take" section: on a small run with a small design space the section and
advise/ appear, their figures are those design.advise returns for the same model, and --no-advise skips it all.
The section's sentences are checked by hand on typed inputs for both branches (a design meets / a bound rules out)."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from helpers.page import assert_page_renders
from sramflow.design.advise import Targets, advise
from sramflow.design.evaluate import EvalOptions
from sramflow.design.outputs import advice_dict
from sramflow.design.space import AdviseSpace
from sramflow.frontend.source import ModelSource, load_graph
from sramflow.hw.load import resolve_hw
from sramflow.report import advice as section
from sramflow.report.inputs import DesignFigures, TargetBound, WhatItWouldTake
from sramflow.run import ADVISE_SHOWN, RunConfig, advice_from_dict, hardware_text, run

SOURCE = ModelSource(model="efficientnet_lite0", num_classes=7, resolution=32)
# 8 designs: small enough for a test, two off-chip memories so the closest designs differ in kind
SPACE = AdviseSpace(sram_bytes=(256, 4096), macs_per_cycle=(16, 64), clock_mhz=(100.0,),
                    offchip=("qspi-psram", "lpddr4"), weight_bits=(8,), fusion=("none",), weights_on_chip=(False,))


def _cfg(out: Path, **kw: object) -> RunConfig:
    return RunConfig(source=SOURCE, out_dir=str(out), host_baseline=False, functional=False, advise_space=SPACE,
                     advise_workers=1, **kw)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory, lite0_32_runs: tuple[Path, dict]) -> tuple[Path, Path]:
    """One run with the section, one told to skip it (the same model and options less the design search:
    conftest's ``lite0_32_runs``, which test_run.py checks too)."""
    on = tmp_path_factory.mktemp("advise_on")
    run(_cfg(on), quiet=True)
    return on, lite0_32_runs[0]


@pytest.fixture(scope="module")
def direct(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """design.advise itself on the same model, space, default targets and objective, in a folder of its own."""
    out = tmp_path_factory.mktemp("advise_direct")
    g = load_graph(SOURCE).graph
    a = advise(g, {"model": "direct"}, SPACE, Targets(), EvalOptions(str(out), "energy", 1, progress=False))
    return advice_dict(a, out, "energy")


@pytest.mark.slow
def test_section_and_outputs_appear(runs: tuple[Path, Path]) -> None:
    on, _ = runs
    md, page = (on / "INTEGRATION_SUMMARY.md").read_text(), (on / "report.html").read_text()
    assert "## What it would take" in md and "<h2>What it would take</h2>" in page
    for text in (md, page):
        assert "design1 (this run, modelled)" in text and "(estimate)" in text and "Estimates:" in text
        assert "sramflow simulate --model efficientnet_lite0 --num-classes 7 --resolution 32 --hw" in text
    doc = json.loads((on / "advise" / "advise.json").read_text())
    assert {"targets", "feasible", "designs", "bounds", "searched"} <= set(doc)
    assert doc["targets"] == Targets().as_dict()
    assert doc["provenance"]["command"].startswith("sramflow.run.run(")  # the run's provenance, as every output
    assert doc["searched"]["points"] >= 8  # the space's 8 (and any the refinement around the front adds)
    for d in doc["designs"]:
        assert (on / "advise" / d["hw_yaml"]).is_file()
    assert (on / "plots" / "what_it_would_take.png").is_file()
    assert not list(on.rglob("*.tmp")) and not list((on / "advise").glob(".staging-*"))


@pytest.mark.slow
def test_page_with_the_section_renders_in_chromium(runs: tuple[Path, Path], tmp_path: Path) -> None:
    assert_page_renders(runs[0] / "report.html", tmp_path)


@pytest.mark.slow
def test_figures_are_what_design_advise_returns(runs: tuple[Path, Path], direct: dict) -> None:
    on, _ = runs
    doc = json.loads((on / "advise" / "advise.json").read_text())
    keys = ("area_mm2", "latency_ms", "energy_mj", "avg_power_mw", "offchip_bytes", "binding", "simulate_args")
    assert [{k: d[k] for k in keys} for d in doc["designs"]] == [{k: d[k] for k in keys} for d in direct["designs"]]
    assert doc["feasible"] == direct["feasible"] and doc["searched"]["points"] == direct["searched"]["points"]
    assert json.loads(json.dumps(direct["bounds"])) == doc["bounds"]
    md = (on / "INTEGRATION_SUMMARY.md").read_text()
    rows = [line for line in md.splitlines() if line.startswith("| closest #") or line.startswith("| cheapest ")]
    rows = [r for r in rows if "(estimate) | SRAM" in r]
    assert len(rows) == min(ADVISE_SHOWN, len(direct["designs"])) > 0
    for row, d in zip(rows, direct["designs"], strict=False):
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert cells[2:7] == [f"{d['area_mm2']:.3g}", f"{d['latency_ms']:,.2f}", f"{d['energy_mj']:,.3f}",
                              f"{d['avg_power_mw']:,.2f}", f"{d['offchip_bytes'] / 1e6:,.2f}"]
        assert cells[8] == d["binding"]
    for target, b in direct["bounds"].items():
        assert f"{b['bound']:.4g} {section.TARGET_UNITS[target]}" in md


@pytest.mark.slow
def test_design1_row_is_this_runs_headline(runs: tuple[Path, Path]) -> None:
    on, _ = runs
    t = json.loads((on / "inference_simulator_report.json").read_text())["total"]
    row = next(line for line in (on / "INTEGRATION_SUMMARY.md").read_text().splitlines()
               if line.startswith("| design1 (this run"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[3:7] == [f"{t['time_ms']:,.2f}", f"{t['energy_uj'] / 1e3:,.3f}", f"{t['avg_power_mw']:,.2f}",
                          f"{sum(t['offchip_bytes'].values()) / 1e6:,.2f}"]


@pytest.mark.slow
def test_no_advise_skips_the_section(runs: tuple[Path, Path]) -> None:
    _, off = runs
    assert not (off / "advise").exists()
    assert "What it would take" not in (off / "INTEGRATION_SUMMARY.md").read_text()
    assert "What it would take" not in (off / "report.html").read_text()
    assert not (off / "plots" / "what_it_would_take.png").exists()


def test_no_advise_removes_an_earlier_runs_section_outputs(tmp_path: Path) -> None:
    from sramflow.run import drop_stale_advice

    (tmp_path / "advise" / "hw").mkdir(parents=True)
    (tmp_path / "advise" / "advise.json").write_text("{}")
    (tmp_path / "advise" / "hw" / "design1.yaml").write_text("x: 1")
    (tmp_path / "plots").mkdir()
    (tmp_path / "plots" / "what_it_would_take.png").write_bytes(b"png")
    (tmp_path / "plots" / "roofline.png").write_bytes(b"png")
    drop_stale_advice(tmp_path)
    assert not (tmp_path / "advise").exists() and not (tmp_path / "plots" / "what_it_would_take.png").exists()
    assert (tmp_path / "plots" / "roofline.png").is_file()  # the run's other outputs are left alone
    (tmp_path / "advise").mkdir()
    (tmp_path / "advise" / "notes.txt").write_text("the user's")
    drop_stale_advice(tmp_path)  # a folder without our advise.json is not ours to remove
    assert (tmp_path / "advise" / "notes.txt").is_file()


def test_cli_flags() -> None:
    from sramflow.cli import build_parser

    p = build_parser()
    assert p.parse_args(["run"]).advise is True
    a = p.parse_args(["run", "--no-advise", "--advise-grid", "fine", "--advise-workers", "1"])
    assert a.advise is False and a.advise_grid == "fine" and a.advise_workers == 1


# ------------------------------------------------------------------ the section's words, checked by hand

def _run_inputs(time_ms: float, energy_uj: float, offchip_bytes: int) -> SimpleNamespace:
    """The part of ReportInputs the section reads: this run's simulation total."""
    total = {"time_ms": time_ms, "energy_uj": energy_uj, "avg_power_mw": energy_uj / time_ms,
             "offchip_bytes": {"weights": offchip_bytes}, "energy_uj_by_component": {"offchip": 0.75 * energy_uj,
                                                                                      "sram": 0.25 * energy_uj}}
    return SimpleNamespace(simulation={"hw": "sky130-design1", "total": total}, hw=resolve_hw("sky130-design1"))


def _design(area: float, ms: float, mj: float) -> DesignFigures:
    return DesignFigures("SRAM 4 KiB", area, ms, mj, mj / ms * 1e3, 1.0, "b", "sramflow simulate --hw x.yaml")


def test_feasible_section_names_the_cheapest_and_its_area_ratio() -> None:
    a = _run_inputs(1000.0, 20_000.0, 5_000_000)  # 1 s, 20 mJ, 20 mW
    w = WhatItWouldTake(Targets().as_dict(), True, (_design(2.0, 30.0, 0.36),), (), "8 designs", "out/advise", 0.5,
                        10.0)
    head, est, _ = section.advice_paragraphs(a, w)  # type: ignore[arg-type]
    assert "takes 2 mm2 of silicon (4x design1's 0.5 mm2)" in head and "30.00 ms, 0.360 mJ, 12.00 mW" in head
    leak = resolve_hw("sky130-design1").mac_array.leakage_uw
    assert f"this run's 20.000 mJ would move by {(10.0 - leak) * 1e-3:+.3g} mJ" in est  # (10 uW - preset's) x 1 s
    rows = section.design_rows(a, w)  # type: ignore[arg-type]
    # 20 / 0.45 is further from its target than 1000 / 36.6
    assert rows[0][2:] == ["0.5", "1,000.00", "20.000", "20.00", "5.00", "none",
                           "energy_mj at 4444% of its target; energy dominated by offchip (75%)"]
    assert rows[0][:2] == ["design1 (this run, modelled)",
                           "sky130-design1: SRAM 256 B, 16 MACs/cycle, 100 MHz, qspi-psram"]
    assert rows[1][0] == "cheapest meeting every claim #1 (estimate)" and rows[1][7] == "latency, energy, average power"


def test_infeasible_section_gives_the_bound_and_why() -> None:
    a = _run_inputs(1000.0, 20_000.0, 5_000_000)
    b = TargetBound("energy_mj", 0.45, 1.855, True, "weights from off-chip")
    w = WhatItWouldTake(Targets().as_dict(), False, (_design(3.3, 224.0, 7.9),), (b,), "480 designs", "o", 0.2, 0.0)
    head = section.advice_paragraphs(a, w)[0]  # type: ignore[arg-type]
    assert head.startswith("No design of the searched space meets")
    assert "Energy 0.45 mJ is below the lower bound of every design, 1.855 mJ: weights from off-chip." in head
    assert "The closest design is 3.3 mm2" in head
    assert section.bound_rows(w) == [["energy", "0.45 mJ", "1.855 mJ", "yes", "weights from off-chip"]]


def test_section_input_from_the_advise_json_contract_keys_only() -> None:
    """Only the contract keys (issue 18 item 4) are required; unknown parameters are shown as they are."""
    from sramflow.hw.area import area_power

    d = {"targets": {"latency_ms": 36.6, "energy_mj": 0.45, "avg_power_mw": 12.4}, "feasible": False,
         "designs": [{"hw_yaml": "hw/design1.yaml", "simulate_args": ["--fusion", "none"], "area_mm2": 1.5,
                      "latency_ms": 50.0, "energy_mj": 2.0, "avg_power_mw": 40.0, "binding": "b",
                      "params": {"sram_bytes": 65536, "macro": "sky130_sram_1kbyte"}}],
         "bounds": {"energy_mj": {"bound": 1.0, "why": "w"}}, "searched": {"points": 3}}
    ap = area_power(resolve_hw("sky130-design1"))
    w = advice_from_dict(d, "out/advise", "coarse", ["sramflow", "simulate", "--model", "m"], ap)
    assert w.designs[0].rerun == "sramflow simulate --model m --hw out/advise/hw/design1.yaml --fusion none"
    assert w.designs[0].hardware == "SRAM 64 KiB, macro sky130_sram_1kbyte" and w.designs[0].offchip_mb is None
    assert w.bounds == (TargetBound("energy_mj", 0.45, 1.0, True, "w"),)
    assert w.design1_area_mm2 == ap.total_mm2 and w.searched == "points 3"


def test_hardware_text_says_mixed_weights_plainly() -> None:
    p = {"sram_bytes": 4096, "l2_bytes": 1 << 20, "macs_per_cycle": 256, "clock_mhz": 175.0, "offchip": "lpddr4",
         "fusion": "depth-first", "weight_bits": "stem=8,depthwise=8,pointwise=4,se=8,conv=4,classifier=8"}
    assert hardware_text(p) == ("SRAM 4 KiB + L2 1 MiB, 256 MACs/cycle, 175 MHz, lpddr4, fusion depth-first, "
                                "weights 4 bit: pointwise, conv; 8 bit elsewhere")
    assert hardware_text({"sram_bytes": 256, "weights_on_chip": True, "x": 1}) == (
        "SRAM 256 B, all weights held on chip (loaded once at boot), x 1")
    assert hardware_text({"sram_bytes": 256, "weights_on_chip": False}) == "SRAM 256 B"
