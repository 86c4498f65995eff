"""Count totals of enumerated schedules, two independent ways, for the tests that check the closed-form counts and
the executors against them: ``summed_counts`` over ``Step`` rows, ``table_counts`` over a ``StepTable``'s columns."""

from __future__ import annotations

import numpy as np

from sramflow.mapping.steps_table import COMPUTE, LOAD, STORE, StepTable


def summed_counts(steps, burst_bytes: int = 0) -> dict[str, int]:  # noqa: ANN001
    """Totals of an enumerated schedule, in the terms of ``Counts`` (the per-step path's oracle).
    ``dma_bursts``: each load / store is ceil(offchip bytes / burst_bytes) transactions (at least 1)."""
    tot = {"macs": 0, "sram_reads_compute": 0, "sram_writes_compute": 0, "sram_writes_dma": 0, "sram_reads_dma": 0,
           "offchip_load_bytes": 0, "offchip_store_bytes": 0, "dma_transfers": 0, "dma_loads": 0, "steps": 0,
           "dma_bursts": 0}
    for st in steps:
        if st.kind != "compute":
            tot["dma_bursts"] += max(1, -(-st.offchip_bytes // burst_bytes)) if burst_bytes > 0 else 1
        if st.kind == "compute":
            tot["macs"] += st.macs
            tot["vector_ops"] = tot.get("vector_ops", 0) + st.vector_ops
            tot["lut_ops"] = tot.get("lut_ops", 0) + st.lut_ops
            tot["sram_reads_compute"] += st.sram_reads
            tot["sram_writes_compute"] += st.sram_writes
            tot["steps"] += 1
        elif st.kind == "load":
            tot["sram_writes_dma"] += st.sram_writes
            tot["offchip_load_bytes"] += st.offchip_bytes
            tot["dma_transfers"] += 1
            tot["dma_loads"] += 1
        else:
            tot["sram_reads_dma"] += st.sram_reads
            tot["offchip_store_bytes"] += st.offchip_bytes
            tot["dma_transfers"] += 1
    return tot


def table_counts(t: StepTable, burst_bytes: int = 0) -> dict[str, int]:
    """Column sums in the terms of ``summed_counts``."""
    ld, stn, cp = t.kind == LOAD, t.kind == STORE, t.kind == COMPUTE
    dma = ~cp
    b = np.maximum(1, -(-t.offchip_bytes[dma] // burst_bytes)) if burst_bytes > 0 else np.ones(int(dma.sum()))
    return {"macs": int(t.macs[cp].sum()), "vector_ops": int(t.vector_ops[cp].sum()),
            "lut_ops": int(t.lut_ops[cp].sum()), "sram_reads_compute": int(t.sram_reads[cp].sum()),
            "sram_writes_compute": int(t.sram_writes[cp].sum()), "sram_writes_dma": int(t.sram_writes[ld].sum()),
            "sram_reads_dma": int(t.sram_reads[stn].sum()), "offchip_load_bytes": int(t.offchip_bytes[ld].sum()),
            "offchip_store_bytes": int(t.offchip_bytes[stn].sum()), "dma_transfers": int(dma.sum()),
            "dma_loads": int(ld.sum()), "steps": int(cp.sum()), "dma_bursts": int(b.sum())}
