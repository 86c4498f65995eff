"""Counts -> cycles -> energy, from the hardware's ``table.CostTable``. Works on ``Counts`` fields given as ints or
numpy arrays (the mapper prices thousands of candidate tilings at once with the same formulas the report uses).

Cycles: each resource's busy time is
  offchip  = off-chip bytes / bandwidth + latency_cycles per off-chip transaction (one per DMA transfer, or
             ceil(bytes / burst_bytes) per transfer when the memory states a burst size)
  sram     = port cycles of all word accesses (1RW: one access per cycle per bank; 1RW1R: writes on the
             RW port, reads on either, so max(writes, ceil((reads + writes) / 2)) per bank)
  mac      = sum of per-step ceil(MACs / MACs per cycle); vector = sum of per-step ceil(ops / lanes)
With double buffering (allowed by the description and fitting the SRAM) transfers overlap compute and
the node takes the busiest resource's cycles. Without it, loads/stores and compute alternate: the node
takes max(offchip, DMA port accesses) + max(mac + vector, compute port accesses).
Energy per component: the sum over its actions (``COMPONENT_ACTIONS``) of action count x the table's energy per
action; leakage: static power (SRAM leakage x banks + MAC leakage + off-chip standby) x time + SRAM idle-clock
energy for bank-cycles without an access.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from sramflow.cost.counts import ceil_div
from sramflow.cost.table import (
    OFFCHIP, SRAM, CostTable, cost_table, outer_levels, own_port_levels, shared_port_levels,
)
from sramflow.hw.spec import HardwareSpec

RESOURCES = ("offchip", "sram_port", "mac", "vector")
# sums of counts that a caller pricing many rows may give precomputed (``mapping.search.tiling_table.TilingTable``)
TOTALS = {"offchip_bytes": ("offchip_weight_bytes", "offchip_input_bytes", "offchip_output_bytes",
                            "offchip_psum_read_bytes", "offchip_psum_write_bytes"),
          "sram_reads": ("sram_reads_compute", "sram_reads_dma"),
          "sram_writes": ("sram_writes_compute", "sram_writes_dma")}
COMPONENTS = ("offchip", "sram_read", "sram_write", "mac", "vector", "register", "leakage")
# the energy components priced as counts x table, each the sum of its actions' energies in this order
COMPONENT_ACTIONS = {
    "offchip": ((OFFCHIP, "read_byte"), (OFFCHIP, "write_byte")),
    "sram_read": ((SRAM, "read"),),
    "sram_write": ((SRAM, "write"),),
    "mac": (("mac", "mac"),),
    "vector": (("vector", "op"), ("vector", "lut")),
    "register": (("register", "access"),),
}
# each outer SRAM level k >= 1 adds its port ("sram<k>_port") as a resource and its accesses ("sram<k>_read",
# "sram<k>_write") as components (only on such hardware, so one-level results keep their keys)
Hw = HardwareSpec | CostTable


def level_resources(t: CostTable) -> tuple[str, ...]:
    """The outer levels' ports as resources; a window of the first level's macro has none (``shared_port_levels``)."""
    return tuple(f"{lv}_port" for lv in own_port_levels(t))


def level_component_actions(t: CostTable) -> dict[str, tuple[tuple[str, str], ...]]:
    return {f"{lv}_{act}": ((lv, act),) for lv in outer_levels(t) for act in ("read", "write")}


def resources(hw: Hw) -> tuple[str, ...]:
    """The resources whose busy cycles a node reports: ``RESOURCES``, plus each outer SRAM level's port."""
    return (*RESOURCES, *level_resources(cost_table(hw)))


def components(hw: Hw) -> tuple[str, ...]:
    """The energy components: ``COMPONENTS``, plus each outer SRAM level's reads and writes."""
    return (*COMPONENTS, *level_component_actions(cost_table(hw)))


def _total(c: Mapping, key: str):  # noqa: ANN202
    return c[key] if key in c else sum(c[p] for p in TOTALS[key])


def action_counts(c: Mapping, t: CostTable | None = None) -> dict[tuple[str, str], object]:
    """How many times each priced action happens, from ``Counts`` fields (ints or arrays); with ``t``, also each of
    its outer SRAM levels' reads and writes (``Counts.level_reads`` / ``level_writes``, zero where absent)."""
    reads, writes = c.get("level_reads", ()), c.get("level_writes", ())
    levels = {}
    for i, lv in enumerate(outer_levels(t) if t is not None else ()):
        levels[lv, "read"] = reads[i] if i < len(reads) else 0
        levels[lv, "write"] = writes[i] if i < len(writes) else 0
    return levels | {
        (OFFCHIP, "read_byte"): c["offchip_weight_bytes"] + c["offchip_input_bytes"] + c["offchip_psum_read_bytes"],
        (OFFCHIP, "write_byte"): c["offchip_output_bytes"] + c["offchip_psum_write_bytes"],
        (SRAM, "read"): _total(c, "sram_reads"),
        (SRAM, "write"): _total(c, "sram_writes"),
        ("mac", "mac"): c["macs"],
        ("vector", "op"): c["vector_ops"],
        ("vector", "lut"): c["lut_ops"],
        ("register", "access"): c["register_accesses"],
    }


def port_cycles(reads, writes, hw: Hw, level: str = SRAM):  # noqa: ANN001, ANN201
    port = cost_table(hw).ports[level]
    if port.kind == "1rw1r":
        busy = np.maximum(writes, ceil_div(reads + writes, 2))
    else:
        busy = reads + writes
    return ceil_div(busy, port.banks)


def busy_cycles(c: Mapping, hw: Hw, serial: bool = True) -> dict:
    """Busy cycles per resource; ``serial=False`` leaves out the split port cycles only the serial (not double
    buffered) total needs."""
    t = cost_table(hw)
    link = np.ceil(_total(c, "offchip_bytes") / t.timing[OFFCHIP, "bandwidth"]) \
        + t.timing[OFFCHIP, "latency"] * c["dma_bursts"]
    n = action_counts(c, t)
    # a window of the first level's macro (``hw.partition``): its accesses are transfers on the first level's port
    win_r, win_w = _window_accesses(n, t)
    out = {
        "offchip": link.astype(np.int64) if isinstance(link, np.ndarray) else int(link),
        "sram_port": port_cycles(_total(c, "sram_reads") + win_r, _total(c, "sram_writes") + win_w, t),
        "mac": c["mac_cycles"],
        "vector": c["vector_cycles"],
    }
    for lv in own_port_levels(t):
        out[f"{lv}_port"] = port_cycles(n[lv, "read"], n[lv, "write"], t, lv)
    if serial:
        out["dma_port"] = port_cycles(c["sram_reads_dma"] + win_r, c["sram_writes_dma"] + win_w, t)
        out["compute_port"] = port_cycles(c["sram_reads_compute"], c["sram_writes_compute"], t)
    return out


def _window_accesses(n: Mapping, t: CostTable) -> tuple[object, object]:
    """(reads, writes) of the levels that are windows of the first level's macro, in its words (the same macro)."""
    reads = writes = 0
    for lv in shared_port_levels(t):
        reads, writes = reads + n[lv, "read"], writes + n[lv, "write"]
    return reads, writes
def total_cycles(b: Mapping, overlap):  # noqa: ANN001, ANN201
    """Overlapped where ``overlap`` (a bool or an array of them), serial elsewhere. An outer SRAM level's port
    moves data while the off-chip link does (both are transfers): it joins the link's term."""
    outer = [k for k in b if k.startswith("sram") and k.endswith("_port") and k[4:-5].isdigit()]
    if outer:
        link = b["offchip"]
        for k in outer:
            link = np.maximum(link, b[k])
        b = {**b, "offchip": link}
    if overlap is True or overlap is np.True_:
        return np.maximum(np.maximum(b["offchip"], b["sram_port"]), np.maximum(b["mac"], b["vector"]))
    serial = np.maximum(b["offchip"], b["dma_port"]) + np.maximum(b["mac"] + b["vector"], b["compute_port"])
    if overlap is False or overlap is np.False_:
        return serial
    overlapped = np.maximum(np.maximum(b["offchip"], b["sram_port"]), np.maximum(b["mac"], b["vector"]))
    return np.where(overlap, overlapped, serial)


def static_power_uw(t: CostTable):  # noqa: ANN201
    """Power drawn every cycle: each level's static entry, per bank for a banked SRAM level."""
    total = 0.0
    for i, ((level, _), uw) in enumerate(t.static_uw.items()):
        term = uw * t.ports[level].banks if level in t.ports else uw
        total = term if i == 0 else total + term
    return total


def energy_pj(c: Mapping, hw: Hw, cycles) -> dict:  # noqa: ANN001
    """Energy per component (``COMPONENTS``) in pJ: counts x the table's energies, plus leakage x time."""
    t = cost_table(hw)
    n = action_counts(c, t)
    out = {}
    levels = level_component_actions(t)
    for comp, actions in (COMPONENT_ACTIONS | levels).items():
        e = n[actions[0]] * t.energy[actions[0]]
        for a in actions[1:]:
            e = e + n[a] * t.energy[a]
        out[comp] = e
    banks = t.ports[SRAM].banks
    time_s = cycles / (t.clock_mhz * 1e6)
    win_r, win_w = _window_accesses(n, t)
    idle = np.maximum(cycles * banks - port_cycles(n[SRAM, "read"] + win_r, n[SRAM, "write"] + win_w, t) * banks, 0)
    out["leakage"] = static_power_uw(t) * time_s * 1e6 + idle * t.energy[SRAM, "idle"]
    for lv in own_port_levels(t):  # each outer level's bank-cycles without an access, in level order
        banks_k = t.ports[lv].banks
        busy_k = port_cycles(n[lv, "read"], n[lv, "write"], t, lv)
        out["leakage"] = out["leakage"] + np.maximum(cycles * banks_k - busy_k * banks_k, 0) * t.energy[lv, "idle"]
    # the components in ``components(hw)`` order (leakage before the outer levels', as the dict was built)
    return {k: out[k] for k in (*COMPONENTS, *levels)}


def objective_value(objective: str, cycles, energy):  # noqa: ANN001, ANN201
    if objective == "latency":
        return cycles * 1.0
    if objective == "energy":
        return energy * 1.0
    return cycles * energy
