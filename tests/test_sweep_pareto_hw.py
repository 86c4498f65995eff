"""Pareto fronts on hand-made points, and the per-point hardware scaling rules."""

from __future__ import annotations

import random

import pytest

from sramflow.hw.load import offchip_preset, resolve_hw
from sramflow.sweep.hwpoint import READ_DEPTH_EXP, point_hw, timing_problem
from sramflow.sweep.pareto import pareto_front


def test_pareto_front_by_hand() -> None:
    pts = [(1, 9), (2, 5), (3, 5), (2, 7), (4, 1), (5, 1), (4, 1), (0.5, 20), (6, 0.5)]
    #        0       1       2       3       4       5       6       7        8
    assert pareto_front(pts) == [7, 0, 1, 4, 6, 8]


def test_pareto_front_matches_brute_force() -> None:
    rng = random.Random(0)
    pts = [(rng.randint(0, 20), rng.randint(0, 20)) for _ in range(300)]

    def dominated(q: tuple) -> bool:
        return any(p[0] <= q[0] and p[1] <= q[1] and p != q for p in pts)

    assert sorted(pareto_front(pts)) == [i for i, q in enumerate(pts) if not dominated(q)]


def test_base_values_leave_the_preset_unchanged() -> None:
    base = resolve_hw("sky130-design1")
    ph = point_hw(base, {"sram_words": 128, "sram_word_bits": 16, "clock_mhz": 100.0, "macs_per_cycle": 16})
    assert ph.hw == base and ph.assumptions == ()


def test_scaling_rules_and_recorded_assumptions() -> None:
    base = resolve_hw("sky130-design1")
    ph = point_hw(base, {"sram_words": 512, "sram_ports": "1rw1r", "macs_per_cycle": 64})
    m = ph.hw.main_sram
    assert m.words == 512 and m.read_energy_pj == pytest.approx(base.main_sram.read_energy_pj * 4 ** READ_DEPTH_EXP)
    assert m.area_um2 > base.main_sram.area_um2 * 4 ** 0.5
    assert m.source_of("read_energy_pj").kind == "scaled"
    assert ph.hw.mac_array.accumulators == 64
    assert ph.hw.mac_array.input_register_bytes == 64  # one input register byte per lane, as the base's 16 / 16
    assert point_hw(resolve_hw("zigzag-tiny"), {"macs_per_cycle": 64}).hw.mac_array.input_register_bytes == 0
    assert any("scaled" in a for a in ph.assumptions) and any("1rw1r" in a for a in ph.assumptions)


def test_clock_keeps_offchip_bytes_per_second() -> None:
    base = resolve_hw("sky130-design1")
    ph = point_hw(base, {"clock_mhz": 50.0, "offchip": "lpddr4"})
    lp = offchip_preset("lpddr4")
    assert ph.hw.offchip.bandwidth_bytes_per_cycle == pytest.approx(2 * lp.bandwidth_bytes_per_cycle)
    assert ph.hw.offchip.latency_cycles == 5
    assert timing_problem(ph.hw) is None
    assert "faster than the SRAM's minimum period" in timing_problem(point_hw(base, {"clock_mhz": 400.0}).hw)
