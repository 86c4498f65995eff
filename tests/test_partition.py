"""Depth-first on one SRAM level: the macro split into a tile buffer and a region (``hw.partition``), priced on its
one port, mapped with the outer-level machinery, and executed bit-exact on real bytes."""

from __future__ import annotations

import dataclasses

import pytest

from sramflow.cost.counts import Counts
from sramflow.cost.model import busy_cycles, energy_pj, resources, static_power_uw
from sramflow.cost.table import cost_table
from sramflow.errors import HardwareSpecError
from sramflow.funcsim.run import run_functional
from sramflow.hw.load import resolve_hw
from sramflow.hw.partition import is_partitioned, partitioned, split_candidates
from sramflow.hw.spec import HardwareSpec
from sramflow.sim.api import prepare_graph, simulate_prepared
from sramflow.sim.results import total_json
from helpers.graphs import quantized, resnet_block_graph, se_block_graph


def one_level(size_bytes: int) -> HardwareSpec:
    """design1 with its macro grown to ``size_bytes`` (the user edit the benchmark makes at 64 KiB)."""
    hw = resolve_hw("sky130-design1")
    m = hw.sram[0]
    return dataclasses.replace(hw, name=f"design1-{size_bytes // 1024}k",
                               sram=(dataclasses.replace(m, words=size_bytes // m.word_bytes),))


def test_split_candidates() -> None:
    assert split_candidates(resolve_hw("sky130-design1")) == ()  # 256 B: nothing to split
    assert split_candidates(resolve_hw("sky130-design1-l2")) == ()  # it has an outer level already
    assert split_candidates(one_level(65536)) == (49152, 16384, 8192)
    assert split_candidates(one_level(16384)) == (12288, 4096)
    assert split_candidates(one_level(8192)) == ()  # a quarter is 2 KiB


def test_partitioned_levels_and_errors() -> None:
    hw = partitioned(one_level(65536), 16384)
    tiles, region = hw.sram
    assert (tiles.size_bytes, region.size_bytes, region.partition_of, region.double_buffering) == \
        (16384, 49152, tiles.name, False)
    assert (region.leakage_uw, region.idle_energy_pj_per_cycle, region.area_um2) == (0.0, 0.0, 0.0)
    assert region.source_of("leakage_uw").ref.startswith(f"a window of {tiles.name}")
    assert is_partitioned(hw) and not is_partitioned(one_level(65536))
    with pytest.raises(HardwareSpecError, match="only a one-level SRAM"):
        partitioned(resolve_hw("sky130-design1-l2"), 4096)
    for bad in (0, 65536, 3):
        with pytest.raises(HardwareSpecError, match="design1-64k: a tile buffer"):
            partitioned(one_level(65536), bad)
    with pytest.raises(HardwareSpecError, match="only a window of the first level"):
        dataclasses.replace(hw, sram=(tiles, dataclasses.replace(region, partition_of="other")))


def test_window_accesses_take_the_first_level_port() -> None:
    """A move between the two windows is a read and a write of the one port: the region's accesses join the first
    level's port (and the DMA side of it, without double buffering), it reports no port of its own, and the macro's
    leakage and idle clock are counted once."""
    whole = one_level(65536)
    hw = partitioned(whole, 16384)
    c = dataclasses.asdict(Counts(sram_reads_compute=7, sram_writes_compute=3, sram_reads_dma=10, sram_writes_dma=5,
                                  level_reads=(100,), level_writes=(50,)))
    b = busy_cycles(c, hw)
    assert b["sram_port"] == 7 + 3 + 10 + 5 + 100 + 50
    assert (b["dma_port"], b["compute_port"]) == (10 + 5 + 100 + 50, 7 + 3)
    assert "sram1_port" not in b and "sram1_port" not in resources(hw)
    assert static_power_uw(cost_table(hw)) == static_power_uw(cost_table(whole))
    e = energy_pj(c, hw, 1000)
    m = whole.sram[0]
    assert e["sram1_read"] == pytest.approx(100 * m.read_energy_pj)
    assert e["sram1_write"] == pytest.approx(50 * m.write_energy_pj)
    e_whole = energy_pj(dataclasses.asdict(Counts(sram_reads_compute=7 + 100, sram_writes_compute=3 + 50,
                                                  sram_reads_dma=10, sram_writes_dma=5)), whole, 1000)
    assert e["leakage"] == pytest.approx(e_whole["leakage"])  # the same idle bank-cycles as one array


@pytest.fixture(scope="module")
def se48():  # noqa: ANN201
    g = se_block_graph(48)
    return g, prepare_graph(g, "depth-first")


def test_the_split_is_chosen_by_the_objective(se48) -> None:  # noqa: ANN001
    """On a 16 KiB SRAM the SE block's 18 KiB expand output cannot stay whole; with the SRAM split into 4 KiB of
    tiles and a 12 KiB region, it runs as a band group with the band in the region. Depth-first maps both and keeps
    the better by the objective: under energy the split (less off-chip traffic); the result names its hardware."""
    g, prep = se48
    hw = one_level(16384)
    whole = simulate_prepared(prepare_graph(g, "epilogue"), hw, "energy")
    split = simulate_prepared(prep, partitioned(hw, 4096), "energy")
    got = simulate_prepared(prep, hw, "energy")
    tot = {k: total_json(list(r.nodes), hw.clock_mhz) for k, r in (("whole", whole), ("split", split), ("got", got))}
    assert tot["split"]["energy_uj"] < tot["whole"]["energy_uj"]
    assert is_partitioned(got.hw) and tot["got"] == tot["split"]
    assert sum(tot["split"]["offchip_bytes"].values()) < sum(tot["whole"]["offchip_bytes"].values())
    assert any(x.kept for x in got.groups)
    assert got.fusion_note.startswith(f"{hw.sram[0].name} split into 4,096 B of tiles and a 12,288 B region")
    lat = simulate_prepared(prep, hw, "latency")
    lat_whole = simulate_prepared(prepare_graph(g, "epilogue"), hw, "latency")
    assert total_json(list(lat.nodes), hw.clock_mhz)["cycles"] <= total_json(list(lat_whole.nodes), hw.clock_mhz)[
        "cycles"]


@pytest.mark.parametrize("objective", ["energy", "latency"])
def test_split_runs_bit_exact(se48, objective: str) -> None:  # noqa: ANN001
    """The split mapping on real bytes: every materialized tensor equals the integer reference, the counts equal
    the analytical ones, nothing is clobbered, in two arrays of the two windows' sizes."""
    g, prep = se48
    hw = partitioned(one_level(16384), 4096)
    r = _functional(g, simulate_prepared(prep, hw, objective))
    assert (r.bit_exact, r.counts_match, r.clobbers) == (True, True, 0)
    assert r.tensors_compared > 0


def _functional(g, res):  # noqa: ANN001, ANN202 - a Graph and its SimulationResult; the funcsim's result
    """``res``'s schedules run on real bytes (random weights and input), with the two windows as two arrays."""
    q, x = quantized(g)
    m = res.hw.main_sram
    return run_functional(g, q, res.schedules, x, m.total_words, m.word_bytes)


def test_a_split_written_by_hand_round_trips_and_is_checked() -> None:
    """A YAML may state the split itself (``partition_of`` on the second level); a window of anything but the first
    level is refused, naming the level."""
    from sramflow.hw.load import hw_from_dict, hw_to_dict

    for tile_bytes in (49152, 16384):  # a window may be smaller than the tile buffer
        small = partitioned(one_level(65536), tile_bytes)
        assert hw_from_dict(hw_to_dict(small), "split.yaml") == small
    hw = partitioned(one_level(65536), 16384)
    d = hw_to_dict(hw)
    assert "partition_of" not in str(hw_to_dict(one_level(65536)))  # a macro of its own leaves the key out
    at = next(i for i, e in enumerate(d["memories"]) if isinstance(e.get("sram"), dict)
              and e["sram"].get("partition_of"))
    d["memories"][at]["sram"]["partition_of"] = "l9"
    with pytest.raises(HardwareSpecError, match=r"split.yaml: memories\[\d\].sram.partition_of: names 'l9', but "
                       r"only the first SRAM level's macro can be split into windows \(its name: 'design1'\)"):
        hw_from_dict(d, "split.yaml")


def test_a_budget_on_one_level_maps_the_whole_sram_and_says_so(se48) -> None:  # noqa: ANN001
    g, prep = se48
    hw = one_level(16384)
    res = simulate_prepared(prep, hw, "energy", over_fastest_pct=1.0)
    assert not is_partitioned(res.hw)
    assert "a cycle budget on one SRAM level maps the whole SRAM" in res.fusion_note


@pytest.mark.parametrize("make", [lambda: se_block_graph(40, c=8, e=24, hard_swish="node"),
                                  lambda: resnet_block_graph(c=16, px=40)], ids=["se-hardswish", "resnet"])
@pytest.mark.parametrize("tile_bytes", [4096, 12288])
def test_other_networks_split_bit_exact(make, tile_bytes: int) -> None:  # noqa: ANN001
    """Other blocks (hard-swish as one node, a residual block) on both splits of 16 KiB, under energy: real bytes
    equal the integer reference, counts equal, nothing clobbered."""
    g = make()
    hw = partitioned(one_level(16384), tile_bytes)
    res = simulate_prepared(prepare_graph(g, "depth-first"), hw, "energy")
    assert sum(sum(n.counts.level_access(1)) for n in res.nodes) > 0  # the region is used
    r = _functional(g, res)
    assert (r.bit_exact, r.counts_match, r.clobbers) == (True, True, 0)


def test_tile_bytes_on_the_command_line(tmp_path, capsys) -> None:  # noqa: ANN001
    """``simulate --tile-bytes N`` maps the split asked for, ``whole`` no split, and a size that cannot be split is
    refused naming the flag."""
    import yaml

    from sramflow.cli import main
    from sramflow.hw.load import hw_to_dict

    path = tmp_path / "d16k.yaml"
    path.write_text(yaml.safe_dump(hw_to_dict(one_level(16384)), sort_keys=False))
    base = ["simulate", "--model", "efficientnet_lite0", "--num-classes", "7", "--resolution", "32", "--hw", str(path)]
    assert main([*base, "--tile-bytes", "8192", "--out", str(tmp_path / "a")]) == 0
    out = capsys.readouterr()
    assert "design1 split into 8,192 B of tiles and a 8,192 B region" in out.out
    assert "mapping" not in out.err  # nothing else is tried
    assert main([*base, "--tile-bytes", "whole"]) == 0
    assert "the whole SRAM was asked for (--tile-bytes whole)" in capsys.readouterr().out
    assert main([*base, "--tile-bytes", "16384"]) != 0
    assert "--tile-bytes 16384: design1-16k: a tile buffer of 16384 B must be" in capsys.readouterr().err


@pytest.mark.parametrize("case", ["split", "whole"])
def test_sensitivity_points_keep_the_headlines_layout(se48, case: str, monkeypatch) -> None:  # noqa: ANN001
    """``sramflow run``'s sensitivity step maps each assumed figure's ends on the SRAM layout the headline kept (its
    split, or the whole SRAM where that won), not the whole SRAM and its splits again (four mappings a point); the
    report's sentence says so. A point equals a simulation of that layout with the figure changed. Under energy the
    SE block keeps the 4 KiB split of 16 KiB, the residual block the whole SRAM."""
    from sramflow.report.hardware import sensitivity_sentence
    from sramflow.run import _with_field, held_layout, sensitivity
    from sramflow.sim import api
    from sramflow.sim.writers import report_json
    prep = se48[1] if case == "split" else prepare_graph(resnet_block_graph(c=16, px=40), "depth-first")
    hw, objective = one_level(16384), "energy"
    head = simulate_prepared(prep, hw, objective)
    tiles, text = held_layout(head)
    assert tiles == (4096 if case == "split" else None) and text
    seen = []
    real = api.simulate_prepared

    def spy(p, h, *a, **k):  # noqa: ANN001, ANN002, ANN003, ANN202
        seen.append((h, k.get("splits", True)))
        return real(p, h, *a, **k)

    monkeypatch.setattr(api, "simulate_prepared", spy)
    sens = sensitivity(prep, hw, objective, report_json(head)["total"], None, (tiles, text))
    assert sens.points and len(seen) == len(sens.points)
    assert all((is_partitioned(h) and h.sram[0].size_bytes == tiles) if tiles else (not is_partitioned(h) and not s)
               for h, s in seen)
    p = sens.points[0]
    monkeypatch.setattr(api, "simulate_prepared", real)
    changed = _with_field(hw, p.component, p.field, p.at)
    direct = total_json(list(real(prep, partitioned(changed, tiles) if tiles else changed, objective,
                                  splits=False).nodes), hw.clock_mhz)
    assert (p.time_ms, p.energy_mj) == (direct["time_ms"], direct["energy_uj"] / 1e3)
    assert "Each point keeps the headline's" in sensitivity_sentence(sens)
    assert held_layout(simulate_prepared(prep, partitioned(hw, 4096), objective)) == (None, "")  # no choice made
