"""A tiny hand-checkable accelerator (16-bit words = 2 bytes, 16 MACs/cycle, 2 off-chip bytes/cycle), layer
shapes and schedules on it, and the check that a schedule's enumerated steps add up to its closed-form counts."""

from __future__ import annotations

import dataclasses

from sramflow.hw.spec import HardwareSpec, MacArray, OffchipMemory, SramMacro, Source, VectorUnit
from sramflow.mapping.conv import ConvShape
from sramflow.mapping.search.choose import make_conv_schedule
from sramflow.mapping.search.tiling_table import hw_params
from sramflow.mapping.steps_table import steps_table

from helpers.counts import summed_counts, table_counts
from helpers.step_oracle import reference_steps

SRC = Source("assumed", "test")
ONES = {"g": 1, "k": 1, "c": 1, "h": 1, "w": 1}


def make_hw(accumulators: int = 16, words: int = 128, ports: str = "1rw", double: bool = False,
            input_registers: int = 16) -> HardwareSpec:
    """16 input operand registers (one int8 per multiplier, like the sky130 presets) unless told otherwise."""
    sram = SramMacro("t", 16, words, ports, 1, 1.0, 1.0, 0.0, 0.0, 1.0, 10.0, 1.0, 1.8, SRC, double_buffering=double)
    off = OffchipMemory("o", "abstract", 2.0, 0, 10.0, 10.0, 0.0, SRC)
    mac = MacArray(16, 1.0, 32, accumulators, 0.0, SRC, input_register_bytes=input_registers)
    return HardwareSpec("t", "test", 100.0, (sram,), off, mac, VectorUnit(1, 1.0, 256, 1.0, SRC))


def with_bursts(hw: HardwareSpec, burst_bytes: int) -> HardwareSpec:
    off = OffchipMemory("o", "abstract", 2.0, 3, 10.0, 10.0, 0.0, SRC, burst_bytes=burst_bytes)
    return dataclasses.replace(hw, offchip=off)


def pw(k: int = 2, c: int = 4, h: int = 2, w: int = 2) -> ConvShape:
    """A 1x1 convolution: ``k`` outputs, ``c`` inputs, ``h`` x ``w`` pixels."""
    return ConvShape("pw", 1, k, c, h, w, h, w, 1, 1, 1, 1, 0, 0)


def sched(shape, hw, sizes, order=("g", "k", "c", "p"), double=False, group_k=0):  # noqa: ANN001, ANN201
    """The schedule with tile ``sizes`` (missing dimensions 1) in loop ``order``."""
    return make_conv_schedule(shape, hw_params(hw, shape), ONES | sizes, order, double, group_k)


# shape, tile sizes, k per accumulator group, rows per accumulator group (0: all), on 8 accumulators
CONV_CASES = [
    (ConvShape("c3", 1, 7, 5, 7, 9, 4, 5, 3, 3, 2, 2, 1, 1), {"k": 5, "c": 2, "h": 2, "w": 2}, 1, 0),
    (ConvShape("c3b", 1, 7, 3, 7, 9, 4, 5, 3, 3, 2, 2, 1, 1), {"k": 7, "c": 3, "w": 2}, 2, 0),
    (pw(9, 7, 3, 3), {"k": 6, "c": 3, "w": 2}, 2, 0),
    (pw(3, 5, 3, 3), {"k": 2, "c": 3, "w": 2}, 0, 0),
    (ConvShape("g2", 4, 3, 2, 5, 5, 5, 5, 3, 3, 1, 1, 1, 1), {"g": 2, "k": 3, "c": 2}, 2, 0),
    (ConvShape("dw", 6, 1, 1, 5, 5, 5, 5, 3, 3, 1, 1, 1, 1), {"g": 4, "h": 2}, 0, 0),
    (ConvShape("dw5", 3, 1, 1, 9, 9, 5, 5, 5, 5, 2, 2, 2, 2), {"g": 2, "h": 2, "w": 2}, 0, 0),
    (ConvShape("nb", 1, 4, 3, 6, 6, 6, 6, 3, 3, 1, 1, 1, 1, has_bias=False), {"k": 3, "c": 2, "h": 4}, 1, 0),
    # more pixels than accumulators: groups of whole tile rows (uneven last group, strides, dilation, depthwise)
    (ConvShape("c3r", 1, 7, 5, 7, 9, 4, 5, 3, 3, 2, 2, 1, 1), {"k": 3, "c": 2, "h": 4, "w": 3}, 1, 2),
    (pw(9, 7, 5, 5), {"k": 4, "c": 3, "h": 5, "w": 2}, 1, 3),
    (ConvShape("dwr", 6, 1, 1, 5, 5, 5, 5, 3, 3, 1, 1, 1, 1), {"g": 2, "h": 5, "w": 3}, 1, 1),
    (ConvShape("dw5r", 3, 1, 1, 9, 9, 5, 5, 5, 5, 2, 2, 2, 2), {"h": 5, "w": 4}, 1, 2),
    (ConvShape("nbr", 1, 4, 3, 6, 6, 6, 6, 3, 3, 1, 1, 1, 1, has_bias=False), {"k": 2, "c": 2, "h": 6, "w": 3}, 1, 2),
    # ... in groups of several channels over fewer rows (``tiling_table.acc_groups``; uneven last k and row groups)
    (pw(9, 7, 5, 5), {"k": 5, "c": 3, "h": 5, "w": 2}, 2, 2),
    (ConvShape("c3rk", 1, 7, 5, 7, 9, 4, 5, 3, 3, 2, 2, 1, 1), {"k": 3, "c": 2, "h": 3, "w": 4}, 2, 1),
]

# one layer of each kind the tiling search handles, small enough for an exhaustive search
SEARCH_SHAPES = (
    ConvShape("pw", 1, 24, 16, 8, 8, 8, 8, 1, 1, 1, 1, 0, 0),
    ConvShape("dw", 12, 1, 1, 9, 9, 5, 5, 3, 3, 2, 2, 1, 1),
    ConvShape("conv", 1, 8, 6, 7, 7, 7, 7, 3, 3, 1, 1, 1, 1),
    ConvShape("fc", 1, 20, 48, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0),
    ConvShape("pool", 6, 1, 1, 6, 6, 3, 3, 2, 2, 2, 2, 0, 0, has_bias=False, pool_op="avg"),
)


def assert_steps_match(s, burst_bytes: int = 0) -> None:  # noqa: ANN001
    """The schedule's enumerated steps add up to its closed-form counts."""
    got, c = summed_counts(s.steps(), burst_bytes), s.counts
    assert (got["macs"], got.get("vector_ops", 0), got["steps"]) == (c.macs, c.vector_ops, c.steps)
    assert (got["sram_reads_compute"], got["sram_writes_compute"]) == (c.sram_reads_compute, c.sram_writes_compute)
    assert (got["sram_writes_dma"], got["sram_reads_dma"]) == (c.sram_writes_dma, c.sram_reads_dma)
    assert (got["offchip_load_bytes"], got["offchip_store_bytes"]) == (c.offchip_read_bytes, c.offchip_write_bytes)
    assert (got["dma_transfers"], got["dma_loads"], got["dma_bursts"]) == (c.dma_transfers, c.dma_loads, c.dma_bursts)


def assert_table_is_steps(sch, burst: int = 0) -> None:  # noqa: ANN001
    """The schedule's step table equals the independent step oracle row by row, and its column sums equal the closed form."""
    t = steps_table(sch)
    steps = reference_steps(sch)
    assert len(t) == len(steps)
    assert [t.step(i) for i in range(len(t))] == steps
    got, want = table_counts(t, burst), summed_counts(steps, burst)
    assert {k: got[k] for k in want} == want
    c = sch.counts
    assert (got["macs"], got["vector_ops"], got["steps"]) == (c.macs, c.vector_ops, c.steps)
    assert (got["sram_reads_compute"], got["sram_writes_compute"]) == (c.sram_reads_compute, c.sram_writes_compute)
    assert (got["sram_writes_dma"], got["sram_reads_dma"]) == (c.sram_writes_dma, c.sram_reads_dma)
    assert (got["offchip_load_bytes"], got["offchip_store_bytes"]) == (c.offchip_read_bytes, c.offchip_write_bytes)
    assert (got["dma_transfers"], got["dma_loads"], got["dma_bursts"]) == (c.dma_transfers, c.dma_loads, c.dma_bursts)


def small_l2(banks: int):  # noqa: ANN201 - a HardwareSpec
    """sky130-design1-l2 with its 64 KiB level cut to ``banks`` 2 KiB banks (depth-first tests on small networks)."""
    from sramflow.hw.load import _preset_dir, hw_from_dict
    from sramflow.hw.yamlio import load_yaml_text

    d = load_yaml_text(_preset_dir().joinpath("sky130-design1-l2.yaml").read_text(encoding="utf-8"), "test")
    at = next(i for i, e in enumerate(d["memories"]) if isinstance(e.get("sram"), dict) and e["sram"]["name"] == "l2")
    d["memories"][at]["sram"]["banks"] = banks
    d["name"] = f"design1-l2-{2 * banks}k"
    return hw_from_dict(d, "design1-l2-small.yaml")
