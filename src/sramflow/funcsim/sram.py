"""A model of one SRAM macro: ``words`` x ``word_bytes`` bytes, nothing more (capacity and word width).

Each word carries a tag: the id of the action (a DMA load, or a compute step writing results) whose data
it holds. A reader states which action's data it expects; words holding anything else are clobbers
(overwritten before use, or never written). Reads and writes are counted per word; an optional trace
records every access as (cycle, port, rw, word, data) with one access per cycle on port 0 (1RW order).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from sramflow.errors import SramflowError

READ, WRITE = 0, 1


class FunctionalSimError(SramflowError):
    """The schedule cannot be executed as written (address outside the macro, operand never loaded, ...)."""


@dataclass
class AccessTrace:
    """Accesses in port order; ``cycle`` is the access index on the single RW port."""

    chunks: list[np.ndarray] = field(default_factory=list)  # each (n, 3): rw, word, data

    def add(self, rw: int, words: np.ndarray, data: np.ndarray) -> None:
        rec = np.empty((len(words), 3), np.int64)
        rec[:, 0], rec[:, 1], rec[:, 2] = rw, words, data
        self.chunks.append(rec)

    def records(self) -> np.ndarray:
        return np.concatenate(self.chunks) if self.chunks else np.zeros((0, 3), np.int64)


class Sram:
    def __init__(self, words: int, word_bytes: int, trace: bool = False) -> None:
        self.words, self.word_bytes = words, word_bytes
        self.mem = np.zeros((words, word_bytes), np.uint8)
        self.tag = np.full(words, -1, np.int64)
        self.reads = 0
        self.writes = 0
        self.clobbers = 0
        self.trace = AccessTrace() if trace else None

    def _check(self, idx: np.ndarray, what: str) -> None:
        if idx.size and (idx.min() < 0 or idx.max() >= self.words):
            raise FunctionalSimError(f"{what}: word address {int(idx.min())}..{int(idx.max())} outside the "
                                     f"{self.words}-word macro")

    def write(self, base: int, data: bytes | np.ndarray, tag: int, what: str) -> None:
        """Write ``data`` (a whole number of words of bytes) at words base, base+1, ..."""
        buf = np.frombuffer(data, np.uint8) if isinstance(data, bytes) else np.ascontiguousarray(data, np.uint8)
        n = buf.size // self.word_bytes
        if n * self.word_bytes != buf.size:
            raise FunctionalSimError(f"{what}: {buf.size} bytes is not a whole number of words")
        idx = np.arange(base, base + n)
        self._check(idx, what)
        rows = buf.reshape(n, self.word_bytes)
        self.mem[base:base + n] = rows
        self.tag[base:base + n] = tag
        self.writes += n
        if self.trace is not None:
            self.trace.add(WRITE, idx, self.word_values(rows))

    def read(self, idx: np.ndarray, expect: int, what: str) -> np.ndarray:
        """Read the words ``idx`` (in that order); returns their bytes, shape (len(idx), word_bytes)."""
        idx = np.asarray(idx, np.int64)
        self._check(idx, what)
        self.clobbers += int(np.count_nonzero(self.tag[idx] != expect))
        out = self.mem[idx]
        self.reads += idx.size
        if self.trace is not None:
            self.trace.add(READ, idx, self.word_values(out))
        return out

    def read_range(self, base: int, n: int, expect: int, what: str) -> np.ndarray:
        return self.read(np.arange(base, base + n), expect, what)

    def word_values(self, rows: np.ndarray) -> np.ndarray:
        """Little-endian word values (byte lane i = bits 8i..8i+7)."""
        shifts = (8 * np.arange(self.word_bytes, dtype=np.int64))
        return (rows.astype(np.int64) << shifts).sum(axis=1)
