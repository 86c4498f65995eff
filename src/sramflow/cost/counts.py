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
    # The second SRAM level (``HardwareSpec.sram[1]``, "sram1"), where a node stages whole operands
    # (``mapping.staging``): its word accesses. Zero on one-level hardware.
    sram1_reads: int = 0  # tile refills to the first level, outputs drained off-chip
    sram1_writes: int = 0  # whole operands filled from off-chip, stores and partial sums from the first level

    def __add__(self, other: Counts) -> Counts:
        return Counts(**{f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self)})

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


COUNT_FIELDS = tuple(f.name for f in fields(Counts))


def ceil_div(a, b):  # noqa: ANN001, ANN201 - ints or numpy int arrays
    return -(-a // b)
