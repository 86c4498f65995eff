"""advise, issue 18 items: banks of characterized macros (hand-checked), the --space YAML, weights held on chip and
their bound, refinement recorded, and a recommended design re-simulated (same figures) and run functionally
(bit-exact)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from helpers.graphs import small_conv_graph
from sramflow.design.advise import Targets, advise, resident_bytes
from sramflow.design.evaluate import EvalOptions
from sramflow.design.outputs import write_outputs
from sramflow.design.space import COARSE, AdviseSpace, boot_cost, design_points, load_space
from sramflow.errors import HardwareSpecError
from sramflow.hw import area
from sramflow.hw.load import offchip_preset, resolve_hw

ROOT = Path(__file__).resolve().parents[1]
SHARED_SRAM = ROOT.parent / "shared" / "sram"
KIB, MIB = 1024, 1024 * 1024
IHP = {m.name: m for m in area.IHP_MACROS}
P256x64, P1024x8, P2_256x8 = (IHP["RM_IHPSG13_1P_256x64_c2_bm_bist"], IHP["RM_IHPSG13_1P_1024x8_c2_bm_bist"],
                              IHP["RM_IHPSG13_2P_256x8_c2_bm_bist"])
TINY = AdviseSpace(sram_bytes=(256, 4096), macs_per_cycle=(16, 64), clock_mhz=(100.0,),
                   offchip=("qspi-psram", "lpddr4"), weight_bits=(8,), fusion=("none",))


# ---------------------------------------------------------------- item 1: banks of macros on file


@pytest.mark.skipif(not SHARED_SRAM.is_dir(), reason="../shared/sram not on this machine")
def test_bank_macros_are_the_liberty_files_numbers() -> None:
    from sramflow.hw.liberty import read_liberty

    for m in area.IHP_MACROS:
        lib = read_liberty(SHARED_SRAM / area.IHP_LIBERTY[m.name])
        assert (lib.word_bits, lib.words, lib.vdd_v) == (m.word_bits, m.words, m.vdd_v), m.name
        for f in ("read_energy_pj", "write_energy_pj", "idle_energy_pj_per_cycle", "leakage_uw", "area_um2"):
            assert getattr(lib, f) == pytest.approx(getattr(m, f), rel=1e-6), (m.name, f)
        assert lib.clk_to_q_ns[1] == pytest.approx(m.clk_to_q_ns, rel=1e-4) and lib.min_period_ns is None


def test_8_mib_is_4096_whole_2_kib_macros_by_hand() -> None:
    c = area.compose(8 * MIB, 256, area.IHP_MACROS)
    assert c.macro is P256x64 and c.macros == 4096
    assert c.parallel_banks == 32 and c.depth == 128  # 256 MACs x 1 B / 8 B words = 32 banks
    assert c.area_um2 == pytest.approx(4096 * 93180.5344 * 1.15)  # 438.9 mm2, not ~3,500 mm2 of 256 B macros
    s = c.sram("l1")
    assert s.size_bytes == 8 * MIB and s.banks == 32 and s.words == 256 * 128
    assert s.read_energy_pj == 49.634 and s.leakage_uw * s.banks == pytest.approx(4096 * 0.1980155)
    assert s.area_um2 * s.banks == pytest.approx(c.area_um2)


def test_small_sizes_use_one_macro_without_overhead_and_refuse_partial_macros() -> None:
    one = area.compose(256, 16, area.IHP_MACROS)
    assert one.macro is P2_256x8 and one.macros == 1 and one.area_um2 == P2_256x8.area_um2
    assert area.compose(1024, 16, area.IHP_MACROS).macro is P1024x8  # 49,419 um2 < 4 x 38,148 x 1.15
    with pytest.raises(HardwareSpecError, match="whole number"):
        area.compose(3000, 16, (P256x64,))
    store = area.compose(3000, 16, (P256x64,), at_least=True)
    assert store.macros == 2 and store.size_bytes == 4096


def test_every_space_point_is_built_from_macros_on_file() -> None:
    names = {m.name for m in area.IHP_MACROS} | {"design1"}
    pts = list(design_points(COARSE))
    assert pts and all(c.macro.name in names for p in pts for c in p.memories)
    assert all(p.hw.cycle_ns >= c.macro.min_period_ns for p in pts for c in p.memories)


# ---------------------------------------------------------------- item 2: the space file


def test_documented_default_space_is_the_coarse_grid() -> None:
    assert load_space(str(ROOT / "docs" / "advise_space.yaml")) == COARSE


@pytest.mark.parametrize(("text", "match"), [
    ("sram_bytes: [256]\nmacs_per_clock: [16]\n", r"space\.yaml: macs_per_clock: unknown key"),
    ("sram_bytes: [256]\nsram_bytes: [512]\n", r"space\.yaml: duplicate key 'sram_bytes' at line 2"),
    ("clock_ghz: [0.1]\n", r"space\.yaml: clock_ghz: wrong unit: expected clock_mhz"),
    ("sram_bytes: [4KiB]\n", r"space\.yaml: sram_bytes: '4KiB' must be a whole number of bytes"),
    ("clock_mhz: ['100MHz']\n", r"space\.yaml: clock_mhz: '100MHz' must be a number of MHz"),
    ("clock_mhz: [-5]\n", r"space\.yaml: .*clock_mhz"),
    ("sram_bytes: [300]\n", r"space\.yaml: .*power of two >= 256"),
    ("macs_per_cycle: []\n", r"space\.yaml: macs_per_cycle: must be a non-empty list"),
    ("weight_bits: [3]\n", r"space\.yaml: weight_bits: 3"),
    ("bank_macro: sram9000\n", r"space\.yaml: .*bank_macro 'sram9000' unknown"),
])
def test_space_file_mistakes_are_refused_naming_key_and_file(tmp_path: Path, text: str, match: str) -> None:
    f = tmp_path / "space.yaml"
    f.write_text(text)
    with pytest.raises(HardwareSpecError, match=match):
        load_space(str(f))


def test_cli_refuses_a_bad_space_file_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from sramflow.cli import main

    f = tmp_path / "space.yaml"
    f.write_text("sram_byte: [256]\n")
    assert main(["advise", "--model", "efficientnet_b0", "--out", str(tmp_path / "o"), "--space", str(f)]) != 0
    err = capsys.readouterr().err
    assert "space.yaml" in err and "sram_byte" in err


# ---------------------------------------------------------------- item 3: weights held on chip


def test_weights_on_chip_point_has_a_store_priced_as_the_outermost_memory() -> None:
    g = small_conv_graph()
    need = resident_bytes(g, 1664)
    assert need == 1664 + 3 * 32 * 12 * 12  # weights + input, output and a residual of the largest tensor
    pts = [p for p in design_points(TINY, {"8": need}) if p.store]
    assert len(pts) == 4  # one per (L1, MACs): not once per off-chip memory
    p = pts[0]
    assert p.store.size_bytes >= need and p.hw.offchip.kind == "onchip-sram"
    m = p.store.macro
    assert p.hw.offchip.read_energy_pj_per_byte == pytest.approx(m.read_energy_pj / (m.word_bits / 8))
    b = boot_cost(p.store, 1664)
    flash = offchip_preset("qspi-flash")
    assert b["energy_mj"] == pytest.approx(1664 * (flash.read_energy_pj_per_byte + m.write_energy_pj
                                                   / (m.word_bits / 8)) * 1e-9)
    assert "not per inference" in b["accounting"]


def test_energy_target_only_on_chip_weights_can_meet_says_so(tmp_path: Path) -> None:
    g = small_conv_graph()
    # simulated on this network: off-chip designs >= 0.0045 mJ (lpddr4), weights-on-chip designs from 0.0023 mJ
    a = advise(g, {"model": "small"}, TINY, Targets(10.0, 0.003, 1000.0), EvalOptions(str(tmp_path), progress=False))
    meeting = [r for r in a.ok if r.energy_mj <= 0.003]
    assert meeting and all(r.point.store for r in meeting)
    assert any(not r.point.store for r in a.ok)
    d, _ = write_outputs(a, tmp_path, "energy")
    assert d["feasible"] and d["designs"][0]["weights_on_chip"] and d["designs"][0]["boot"]["energy_mj"] > 0
    assert set(d["best_per_kind"]) == {"weights_on_chip"}  # no off-chip design meets 0.003 mJ
    # bounds: 239,616 MACs x 4.4 pJ + 1,664 B x 68.35 pJ/B (lpddr4) = 0.0011680 mJ off-chip;
    # + 1,664 B x 49.634 / 8 pJ/B (the store's 2 KiB macro) = 0.0010646 mJ on chip
    a2 = advise(g, {"model": "small"}, TINY, Targets(10.0, 0.0005, 1000.0),
                EvalOptions(str(tmp_path / "b"), progress=False), refine=False)
    b = a2.bounds["energy_mj"]
    assert b["bound_offchip_weights"] == pytest.approx((239_616 * 4.4 + 1_664 * 68.35) * 1e-9)
    assert b["bound_weights_on_chip"] == pytest.approx((239_616 * 4.4 + 1_664 * 49.634 / 8) * 1e-9)
    assert b["provable"] and "designs holding all weights on chip need" in b["why"]
    assert b["mac_energy_mj"] == pytest.approx(239_616 * 4.4e-9) and "MACs alone take" in b["why"]
    assert b["weights_on_chip_store_bytes"] >= 1_664 + 3 * 4_608 and "mm2 of SRAM" in b["why"]
    a3 = advise(g, {"model": "small"}, TINY, Targets(10.0, 0.0011, 1000.0),
                EvalOptions(str(tmp_path / "c"), progress=False), refine=False)
    b3 = a3.bounds["energy_mj"]
    assert not b3["provable"] and "only designs holding all weights on chip can meet it" in b3["why"]


def dataclasses_replace(s: AdviseSpace, **kw: object) -> AdviseSpace:
    import dataclasses

    return dataclasses.replace(s, **kw)


# ---------------------------------------------------------------- item 4: refinement recorded


def test_refinement_searches_neighbours_of_the_front_and_records_them(tmp_path: Path) -> None:
    t = Targets(latency_ms=0.5, energy_mj=0.01, avg_power_mw=100)
    a = advise(small_conv_graph(), {"model": "small"}, dataclasses_replace(TINY, weights_on_chip=(False,)), t,
               EvalOptions(str(tmp_path), progress=False))
    r = a.refined
    assert r["done"] and r["neighbours"] == r["simulated"] + r["pruned"] > 0
    grid = {(p.params["sram_bytes"], p.params["macs_per_cycle"], p.params["clock_mhz"]) for p in
            design_points(dataclasses_replace(TINY, weights_on_chip=(False,)))}
    for q in r["simulated_points"]:
        assert (q["sram_bytes"], q["macs_per_cycle"], q["clock_mhz"]) not in grid  # only new points
    d, _ = write_outputs(a, tmp_path, "energy")
    assert d["searched"]["points"] == len(a.results) + len(a.pruned)
    assert d["searched"]["refined"]["simulated"] == r["simulated"]


# ---------------------------------------------------------------- item 5: re-simulation and --functional


def test_recommended_design_resimulates_to_advise_figures_and_runs_bit_exact(tmp_path: Path) -> None:
    from sramflow.funcsim.run import run_functional
    from sramflow.quant.api import quantize_graph
    from sramflow.reference.run import quantize_input
    from sramflow.sim.api import prepare_graph, simulate_prepared
    from sramflow.sim.results import total_json
    from sramflow.sweep.precision import with_weight_bits

    g = small_conv_graph()
    t = Targets(latency_ms=0.5, energy_mj=0.01, avg_power_mw=100)
    a = advise(g, {"model": "small"}, TINY, t, EvalOptions(str(tmp_path), progress=False))
    d, _ = write_outputs(a, tmp_path, "energy")
    x = d["designs"][0]
    hw = resolve_hw(str(tmp_path / x["hw_yaml"]))
    args = dict(zip(x["simulate_args"][::2], x["simulate_args"][1::2], strict=True))
    prep = with_weight_bits(prepare_graph(g, args["--fusion"]), int(args.get("--weight-bits", 8)))
    res = simulate_prepared(prep, hw, args["--objective"], None)
    tot = total_json(list(res.nodes), hw.clock_mhz)  # what `sramflow simulate --hw <yaml> <simulate_args>` prints
    energy_mj, latency_ms = tot["energy_uj"] / 1e3, tot["time_ms"]
    assert energy_mj == pytest.approx(x["energy_mj"], rel=1e-12)  # one implementation: no gap
    assert latency_ms == pytest.approx(x["latency_ms"], rel=1e-12)
    xin = np.random.default_rng(0).standard_normal((2, *g.shape(g.input)[1:])).astype(np.float32)
    q = quantize_graph(g, xin, "minmax")
    r = run_functional(g, q, res.schedules, quantize_input(q, xin[0]), hw.main_sram.total_words,
                       hw.main_sram.word_bytes)
    assert r.bit_exact and r.mismatches == () and r.clobbers == 0 and r.counts_match
    assert math.isfinite(x["area_mm2"])
