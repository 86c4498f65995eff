"""The cost layer: the per-(level, action) table built from a hardware spec, and energy = counts . table +
static power x time + idle energy, on a spec whose every constant is distinct."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from sramflow.cost.counts import COUNT_FIELDS, Counts
from sramflow.cost.model import COMPONENTS, busy_cycles, energy_pj, total_cycles
from sramflow.cost.table import OFFCHIP, SRAM, build_table, cost_table
from sramflow.hw.load import resolve_hw
from sramflow.hw.spec import HardwareSpec, MacArray, OffchipMemory, RegisterFile, SramMacro, Source, VectorUnit

SRC = Source("assumed", "test")


def distinct_hw() -> HardwareSpec:
    sram = SramMacro("t", 32, 64, "1rw1r", 2, 3.0, 5.0, 0.25, 7.0, 1.0, 10.0, 1.0, 1.8, SRC,
                     field_sources={"read_energy_pj": Source("measured", "read file")})
    off = OffchipMemory("o", "abstract", 4.0, 3, 11.0, 13.0, 17.0, SRC)
    mac = MacArray(16, 19.0, 32, 16, 23.0, SRC)
    vec = VectorUnit(4, 29.0, 256, 31.0, SRC)
    return HardwareSpec("t", "test", 50.0, (sram,), off, mac, vec, RegisterFile(4, 37.0, SRC))


def counts() -> Counts:
    return Counts(macs=2, vector_ops=3, lut_ops=5, register_accesses=7, sram_reads_compute=11, sram_writes_compute=13,
                  sram_writes_dma=17, sram_reads_dma=19, offchip_weight_bytes=23, offchip_input_bytes=29,
                  offchip_output_bytes=31, offchip_psum_read_bytes=37, offchip_psum_write_bytes=41, dma_bursts=2,
                  mac_cycles=43, vector_cycles=47)


def test_table_entries_and_provenance() -> None:
    t = build_table(distinct_hw())
    assert t.energy[SRAM, "read"] == 3.0 and t.energy[SRAM, "write"] == 5.0 and t.energy[SRAM, "idle"] == 0.25
    assert t.energy[OFFCHIP, "read_byte"] == 11.0 and t.energy[OFFCHIP, "write_byte"] == 13.0
    assert t.energy["mac", "mac"] == 19.0 and t.energy["vector", "op"] == 29.0 and t.energy["vector", "lut"] == 31.0
    assert t.energy["register", "access"] == 37.0
    assert t.static_uw == {(SRAM, "static"): 7.0, ("mac", "static"): 23.0, (OFFCHIP, "static"): 17.0}
    assert t.timing[OFFCHIP, "bandwidth"] == 4.0 and t.timing[OFFCHIP, "latency"] == 3
    assert t.entry(SRAM, "read").source == Source("measured", "read file")  # the per-field override
    assert t.entry(SRAM, "write").source == SRC
    assert {(lv, a) for lv, a, *_ in t.rows()} == set(t.sources) == set(t.units)
    with pytest.raises(KeyError, match="no cost entry"):
        t.entry(SRAM, "teleport")


def test_energy_is_counts_dot_table_plus_static_power() -> None:
    hw = distinct_hw()
    c = dataclasses.asdict(counts())
    cycles = 1000
    e = energy_pj(c, hw, cycles)
    assert list(e) == list(COMPONENTS)
    assert e["offchip"] == (23 + 29 + 37) * 11.0 + (31 + 41) * 13.0
    assert e["sram_read"] == (11 + 19) * 3.0 and e["sram_write"] == (13 + 17) * 5.0
    assert e["mac"] == 2 * 19.0 and e["vector"] == 3 * 29.0 + 5 * 31.0 and e["register"] == 7 * 37.0
    # 1RW1R, 2 banks: port cycles = ceil(max(30, ceil(60 / 2)) / 2) = 15 per bank
    static_uw = 7.0 * 2 + 23.0 + 17.0
    assert e["leakage"] == pytest.approx(static_uw * cycles / 50e6 * 1e6 + (cycles * 2 - 15 * 2) * 0.25)


def test_spec_and_its_table_price_alike_and_the_table_is_built_once() -> None:
    hw = resolve_hw("sky130-design1")
    assert cost_table(hw) is cost_table(hw)
    c = {k: np.array([getattr(counts(), k), 2 * getattr(counts(), k) + 1]) for k in COUNT_FIELDS}  # scalar fields
    cyc = total_cycles(busy_cycles(c, hw), np.array([False, True]))
    a, b = energy_pj(c, hw, cyc), energy_pj(c, cost_table(hw), cyc)
    for k in COMPONENTS:
        assert np.array_equal(a[k], b[k])
    assert busy_cycles(c, hw)["offchip"].tolist() == busy_cycles(c, cost_table(hw))["offchip"].tolist()
