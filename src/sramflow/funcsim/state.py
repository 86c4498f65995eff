"""Mutable state shared by the node executors: the SRAM model, action ids, counters, off-chip tensors."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from sramflow.funcsim.sram import Sram


@dataclass
class Tally:
    """What the functional run actually did (compared with the analytical counts)."""

    sram_reads_compute: int = 0
    sram_reads_dma: int = 0
    sram_writes_compute: int = 0
    sram_writes_dma: int = 0
    offchip_read_bytes: int = 0
    offchip_write_bytes: int = 0
    macs: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


@dataclass
class Resident:
    """The last DMA load of an operand: what its buffer holds."""

    tag: int
    base: int
    region: dict[str, tuple[int, int]]


@dataclass
class Machine:
    sram: Sram
    next_tag: int = 0
    tally: Tally = field(default_factory=Tally)
    step_mismatches: list[str] = field(default_factory=list)  # per-step count differences (first few kept)

    def new_tag(self) -> int:
        self.next_tag += 1
        return self.next_tag

    def note(self, msg: str) -> None:
        if len(self.step_mismatches) < 20:
            self.step_mismatches.append(msg)

    def read(self, idx: np.ndarray, expect: int, what: str, compute: bool) -> np.ndarray:
        before = self.sram.reads
        out = self.sram.read(idx, expect, what)
        if compute:
            self.tally.sram_reads_compute += self.sram.reads - before
        else:
            self.tally.sram_reads_dma += self.sram.reads - before
        return out

    def write(self, base: int, data: np.ndarray, tag: int, what: str, compute: bool) -> int:
        before = self.sram.writes
        self.sram.write(base, data, tag, what)
        n = self.sram.writes - before
        if compute:
            self.tally.sram_writes_compute += n
        else:
            self.tally.sram_writes_dma += n
        return n


def region_dict(region: tuple[tuple[str, int, int], ...]) -> dict[str, tuple[int, int]]:
    return {d: (a, b) for d, a, b in region}
