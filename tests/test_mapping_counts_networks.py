"""The closed-form counts (``ConvSchedule.counts`` / ``VectorSchedule.counts``, what the analytical simulator
prices) equal the step enumeration's sums (``steps_table``, row for row what ``schedule.steps()`` yields) on every
distinct layer shape of EfficientNet-B0 and -Lite0 at 224 on the shipped presets, as chosen by the simulator."""

from __future__ import annotations

import dataclasses

import pytest

from sramflow.cost.counts import Counts
from sramflow.frontend.source import ModelSource, load_graph
from sramflow.hw.load import resolve_hw
from sramflow.mapping.steps_table import steps_table
from sramflow.sim.api import prepare_graph, simulate_prepared

from helpers.counts import table_counts


def enumerated(sch, burst_bytes: int) -> dict[str, int]:  # noqa: ANN001 - a conv or vector schedule
    return table_counts(steps_table(sch), burst_bytes)


def closed(c: Counts) -> dict[str, int]:
    """``c`` in the terms of ``table_counts``."""
    return {"macs": c.macs, "vector_ops": c.vector_ops, "lut_ops": c.lut_ops,
            "sram_reads_compute": c.sram_reads_compute, "sram_writes_compute": c.sram_writes_compute,
            "sram_writes_dma": c.sram_writes_dma, "sram_reads_dma": c.sram_reads_dma,
            "offchip_load_bytes": c.offchip_read_bytes, "offchip_store_bytes": c.offchip_write_bytes,
            "dma_transfers": c.dma_transfers, "dma_loads": c.dma_loads, "steps": c.steps,
            "dma_bursts": c.dma_bursts}


@pytest.mark.parametrize("model", ["efficientnet_b0", "efficientnet_lite0"])
@pytest.mark.parametrize("hw_name", ["sky130-design1"])
def test_closed_forms_equal_step_enumeration_on_every_layer_shape(model: str, hw_name: str) -> None:
    graph = load_graph(ModelSource(model=model, num_classes=7, resolution=224)).graph
    hw = resolve_hw(hw_name)
    seen, checked = set(), 0
    for sch in simulate_prepared(prepare_graph(graph), hw, "latency").schedules:
        key = dataclasses.replace(sch.shape, name="")
        if sch.unit == "fused" or key in seen:
            continue
        seen.add(key)
        assert enumerated(sch, hw.offchip.burst_bytes) == closed(sch.counts), sch.shape.name
        checked += 1
    assert checked >= 20  # every distinct Conv/Gemm, pooling and vector shape of the network
