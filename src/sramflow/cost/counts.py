"""Action counts of one node's schedule: what the analytical cost model prices and what the functional
simulator must reproduce exactly (see ``sramflow.mapping`` for the counting conventions)."""

from __future__ import annotations

from dataclasses import dataclass, fields


@dataclass(frozen=True)
class Counts:
    macs: int = 0
    vector_ops: int = 0  # element operations on the vector unit (add, multiply, compare, requantize)
    lut_ops: int = 0  # vector-unit table look-ups (sigmoid, hard-swish, ...)
    register_accesses: int = 0
    sram_reads_compute: int = 0  # word reads by the MAC array / vector unit
    sram_writes_compute: int = 0  # word writes of results / partial sums
    sram_writes_dma: int = 0  # word writes of DMA loads (off-chip -> SRAM), zero-fill included
    sram_reads_dma: int = 0  # word reads of DMA stores (SRAM -> off-chip)
    offchip_weight_bytes: int = 0  # int8 weights + int32 biases
    offchip_input_bytes: int = 0
    offchip_output_bytes: int = 0
    offchip_psum_read_bytes: int = 0
    offchip_psum_write_bytes: int = 0
    dma_transfers: int = 0
    dma_loads: int = 0  # refills of a tile buffer ("swaps")
    dma_bursts: int = 0  # off-chip transactions: ceil(bytes / burst_bytes) per transfer (1 if burst_bytes is 0)
    mac_cycles: int = 0  # sum over steps of ceil(step MACs / MACs per cycle)
    vector_cycles: int = 0  # sum over steps of ceil(step ops / lanes)
    steps: int = 0
    # The outer SRAM levels (``HardwareSpec.sram[k]``, k >= 1, "sram<k>"), where a node stages whole operands
    # (``mapping.staging``): their word accesses, index 0 = level 1. Empty on one-level hardware and for nodes that
    # stage nothing (read as zeros).
    level_reads: tuple[int, ...] = ()  # tile refills to the level inside, transits, outputs drained off-chip
    level_writes: tuple[int, ...] = ()  # whole operands filled from off-chip, stores and spills from the level inside

    def __add__(self, other: Counts) -> Counts:
        return Counts(**{f: getattr(self, f) + getattr(other, f) for f in COUNT_FIELDS},
                      **{f: _add_levels(getattr(self, f), getattr(other, f)) for f in LEVEL_FIELDS})

    def level_access(self, k: int) -> tuple[int, int]:
        """(word reads, word writes) of SRAM level ``k`` >= 1; zeros where this node does not use it."""
        i = k - 1
        return (self.level_reads[i] if i < len(self.level_reads) else 0,
                self.level_writes[i] if i < len(self.level_writes) else 0)

    @property
    def sram_reads(self) -> int:
        return self.sram_reads_compute + self.sram_reads_dma

    @property
    def sram_writes(self) -> int:
        return self.sram_writes_compute + self.sram_writes_dma

    @property
    def offchip_read_bytes(self) -> int:
        return self.offchip_weight_bytes + self.offchip_input_bytes + self.offchip_psum_read_bytes

    @property
    def offchip_write_bytes(self) -> int:
        return self.offchip_output_bytes + self.offchip_psum_write_bytes

    @property
    def offchip_bytes(self) -> int:
        return self.offchip_read_bytes + self.offchip_write_bytes


# the scalar fields (one int, or one numpy array when many candidates are priced at once) and the per-level ones
LEVEL_FIELDS = ("level_reads", "level_writes")
COUNT_FIELDS = tuple(f.name for f in fields(Counts) if f.name not in LEVEL_FIELDS)


def _add_levels(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...]:
    n = max(len(a), len(b))
    return tuple((a[i] if i < len(a) else 0) + (b[i] if i < len(b) else 0) for i in range(n))


def ceil_div(a, b):  # noqa: ANN001, ANN201 - ints or numpy int arrays
    return -(-a // b)
