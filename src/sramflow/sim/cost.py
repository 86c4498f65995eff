"""Counts -> cycles -> energy. Works on ``Counts`` fields given as ints or numpy arrays (the mapper prices
thousands of candidate tilings at once with the same formulas the report uses).

Cycles: each resource's busy time is
  offchip  = off-chip bytes / bandwidth + latency_cycles per off-chip transaction (one per DMA transfer, or
             ceil(bytes / burst_bytes) per transfer when the memory states a burst size)
  sram     = port cycles of all word accesses (1RW: one access per cycle per bank; 1RW1R: writes on the
             RW port, reads on either, so max(writes, ceil((reads + writes) / 2)) per bank)
  mac      = sum of per-step ceil(MACs / MACs per cycle); vector = sum of per-step ceil(ops / lanes)
With double buffering (allowed by the description and fitting the SRAM) transfers overlap compute and
the node takes the busiest resource's cycles. Without it, loads/stores and compute alternate: the node
takes max(offchip, DMA port accesses) + max(mac + vector, compute port accesses).
Energy: counts x per-action energies + (SRAM leakage x banks + MAC leakage + off-chip standby) x time
+ SRAM idle-clock energy for cycles without an access (booked under leakage).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from sramflow.hw.spec import HardwareSpec
from sramflow.mapping.counts import ceil_div

RESOURCES = ("offchip", "sram_port", "mac", "vector")
# sums of counts that a caller pricing many rows may give precomputed (``mapping.conv_search.TilingTable``)
TOTALS = {"offchip_bytes": ("offchip_weight_bytes", "offchip_input_bytes", "offchip_output_bytes",
                            "offchip_psum_read_bytes", "offchip_psum_write_bytes"),
          "sram_reads": ("sram_reads_compute", "sram_reads_dma"),
          "sram_writes": ("sram_writes_compute", "sram_writes_dma")}
COMPONENTS = ("offchip", "sram_read", "sram_write", "mac", "vector", "register", "leakage")


def port_cycles(reads, writes, hw: HardwareSpec):  # noqa: ANN001, ANN201
    m = hw.main_sram
    if m.ports == "1rw1r":
        busy = np.maximum(writes, ceil_div(reads + writes, 2))
    else:
        busy = reads + writes
    return ceil_div(busy, m.banks)


def _total(c: Mapping, key: str):  # noqa: ANN202
    return c[key] if key in c else sum(c[p] for p in TOTALS[key])


def busy_cycles(c: Mapping, hw: HardwareSpec, serial: bool = True) -> dict:
    """Busy cycles per resource; ``serial=False`` leaves out the split port cycles only the serial (not double
    buffered) total needs."""
    off = hw.offchip
    link = np.ceil(_total(c, "offchip_bytes") / off.bandwidth_bytes_per_cycle) + off.latency_cycles * c["dma_bursts"]
    out = {
        "offchip": link.astype(np.int64) if isinstance(link, np.ndarray) else int(link),
        "sram_port": port_cycles(_total(c, "sram_reads"), _total(c, "sram_writes"), hw),
        "mac": c["mac_cycles"],
        "vector": c["vector_cycles"],
    }
    if serial:
        out["dma_port"] = port_cycles(c["sram_reads_dma"], c["sram_writes_dma"], hw)
        out["compute_port"] = port_cycles(c["sram_reads_compute"], c["sram_writes_compute"], hw)
    return out


def total_cycles(b: Mapping, overlap):  # noqa: ANN001, ANN201
    """Overlapped where ``overlap`` (a bool or an array of them), serial elsewhere."""
    if overlap is True or overlap is np.True_:
        return np.maximum(np.maximum(b["offchip"], b["sram_port"]), np.maximum(b["mac"], b["vector"]))
    serial = np.maximum(b["offchip"], b["dma_port"]) + np.maximum(b["mac"] + b["vector"], b["compute_port"])
    if overlap is False or overlap is np.False_:
        return serial
    overlapped = np.maximum(np.maximum(b["offchip"], b["sram_port"]), np.maximum(b["mac"], b["vector"]))
    return np.where(overlap, overlapped, serial)


def energy_pj(c: Mapping, hw: HardwareSpec, cycles) -> dict:  # noqa: ANN001
    m, off, mac, vec = hw.main_sram, hw.offchip, hw.mac_array, hw.vector_unit
    reads, writes = _total(c, "sram_reads"), _total(c, "sram_writes")
    time_s = cycles / (hw.clock_mhz * 1e6)
    static_uw = m.leakage_uw * m.banks + mac.leakage_uw + off.standby_power_uw
    idle = np.maximum(cycles * m.banks - port_cycles(reads, writes, hw) * m.banks, 0)
    reg = hw.register_file.energy_pj_per_access if hw.register_file else 0.0
    return {
        "offchip": (c["offchip_weight_bytes"] + c["offchip_input_bytes"] + c["offchip_psum_read_bytes"])
        * off.read_energy_pj_per_byte
        + (c["offchip_output_bytes"] + c["offchip_psum_write_bytes"]) * off.write_energy_pj_per_byte,
        "sram_read": reads * m.read_energy_pj,
        "sram_write": writes * m.write_energy_pj,
        "mac": c["macs"] * mac.energy_pj_per_mac,
        "vector": c["vector_ops"] * vec.energy_pj_per_op + c["lut_ops"] * vec.energy_pj_per_lut,
        "register": c["register_accesses"] * reg,
        "leakage": static_uw * time_s * 1e6 + idle * m.idle_energy_pj_per_cycle,
    }


def objective_value(objective: str, cycles, energy):  # noqa: ANN001, ANN201
    if objective == "latency":
        return cycles * 1.0
    if objective == "energy":
        return energy * 1.0
    return cycles * energy
