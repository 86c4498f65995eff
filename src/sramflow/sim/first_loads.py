"""What the overlapped cycle model leaves out: the first loads of each double-buffered schedule.

A double-buffered schedule is priced as max(link, SRAM port, MAC, vector) busy cycles (``cost.model.total_cycles``):
every transfer overlaps compute. Its first tiles, though, come in before any compute can start. Per schedule run
(a layer, or each part of a layer run in parts, ``mapping.depth_first_split``) this counts the off-chip loads before
its first compute step: their bytes over the link's bandwidth plus one transaction latency per burst, as the link's
busy cycles are counted. Loads of an operand that sits resident in an outer SRAM level (kept there by the producer
or by the part before) come from that level, not over the link, and are left out; a staged operand's first tile
still comes from off-chip memory on its way into the level, so it counts.

These cycles are not added to any figure: they bound how optimistic the latency is (the true figure lies between
the model's and the model's plus these), they are reported beside it, and ``sim.api`` counts them when it compares
mappings whose first loads differ much (the whole SRAM against its splits, ``hw.partition``)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from sramflow.hw.spec import HardwareSpec
from sramflow.mapping.conv import bursts
from sramflow.mapping.schedule import Schedule

# step operands whose first load reads an SRAM level (carried pool sums) or has no bytes of its own
_NEVER_OFFCHIP = frozenset({"pool"})


def _runs(sch: Schedule) -> Iterable[Schedule]:
    """The schedules that start from empty buffers one after the other: each part of a layer run in parts."""
    parts = getattr(sch, "parts", None)
    return [p.schedule for p in parts] if parts else [sch]


def _from_level(sch: Schedule, operand: str) -> bool:
    """Whether ``operand``'s loads in ``sch`` read an outer SRAM level where the operand is already resident."""
    conv = getattr(sch, "conv", sch)
    resident = getattr(conv, "resident", ())
    name = "weights" if operand == "bias" else operand  # biases are staged with their weights
    return name in resident and name not in getattr(conv, "filled", ())


def first_load_bytes(sch: Schedule, burst_bytes: int) -> tuple[int, int]:
    """(off-chip bytes, transactions) of the loads before the first compute step (of the MACs, or of a fused pool or
    epilogue) of one schedule run."""
    nbytes = n = 0
    for step in sch.steps():
        # a held SE vector's words read before an input load are that load's scaling, not the first MAC step
        if step.kind == "compute" and step.operand != "scale":
            break
        if step.kind != "load" or not step.offchip_bytes or step.operand in _NEVER_OFFCHIP \
                or _from_level(sch, step.operand):
            continue
        nbytes += step.offchip_bytes
        n += int(bursts(step.offchip_bytes, burst_bytes))
    return nbytes, n


def first_load_cycles(schedules: Sequence[Schedule], overlapped: Sequence[bool], hw: HardwareSpec) -> int:
    """Link cycles of the first loads of every double-buffered schedule run (``overlapped``: per schedule, whether
    the model overlapped its transfers with compute; serial schedules already count every load)."""
    bw, lat, burst = hw.offchip.bandwidth_bytes_per_cycle, hw.offchip.latency_cycles, hw.offchip.burst_bytes
    total = 0
    for sch, ov in zip(schedules, overlapped):
        if not ov:
            continue
        for run in _runs(sch):
            if not run.double_buffered:
                continue
            nbytes, n = first_load_bytes(run, burst)
            total += math.ceil(nbytes / bw) + lat * n if nbytes else 0
    return total
