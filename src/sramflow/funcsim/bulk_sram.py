"""The SRAM macro for the bulk executors: which action last wrote each word before each step, reconstructed
from a whole node's ``StepTable`` at once, and the bytes those actions wrote.

Writers are table rows (loads, and compute steps that write results); a step's reads see the writes of the
rows before it (a compute step reads its operands before writing its results). For every word read the
executor names the writer it expects (the operand's last load, the step that left the partial sums, the step
whose results a store reads); a word last written by anything else is a clobber, counted once per read as
``Sram.read`` does. Word state is rebuilt per node: a word last written by an earlier node is never what a
step expects, so the per-step executor counts the same clobbers. Data comes from a log of every load's packed
bytes; a word whose writer is a compute step reads as zero here (the executors take results and partial sums
from their accumulation chain once every word of it has been checked).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sramflow.cost.counts import ceil_div
from sramflow.funcsim.sram import FunctionalSimError
from sramflow.funcsim.state import Machine

_CHUNK_ELEMS = 1 << 18  # rows x words of writer state built at a time (int32: fits a core's L2)


def layout_map(extents: tuple[int, ...], eb: int, wb: int, group_size: int = 0, row_aligned: bool = False,
               row_group: int = 0) -> np.ndarray:
    """Payload byte -> tile-local byte (row-major elements, little-endian lanes), -1 for pad bytes; the layouts
    of ``mapping.layout`` (grouped along axis 1, each group also split into blocks of ``row_group`` along axis 2
    when given, or every run along the last axis word-aligned)."""
    n = int(np.prod(extents))
    local = (np.arange(n, dtype=np.int64)[:, None] * eb + np.arange(eb)).reshape(*extents, eb)
    if row_aligned:
        runs = local.reshape(-1, extents[-1] * eb)
        out = np.full((runs.shape[0], ceil_div(extents[-1] * eb, wb) * wb), -1, np.int64)
        out[:, :runs.shape[1]] = runs
        return out.ravel()
    if not group_size or len(extents) < 2:
        return _pad(local.ravel(), wb)
    if row_group:
        return np.concatenate([_pad(local[:, a:a + group_size, r:r + row_group].ravel(), wb)
                               for a in range(0, extents[1], group_size) for r in range(0, extents[2], row_group)])
    return np.concatenate([_pad(local[:, a:a + group_size].ravel(), wb) for a in range(0, extents[1], group_size)])


def _pad(a: np.ndarray, wb: int) -> np.ndarray:
    return np.concatenate([a, np.full((-a.size) % wb, -1, np.int64)])


def inverse_map(pmap: np.ndarray) -> np.ndarray:
    """Tile-local byte -> payload byte."""
    ok = pmap >= 0
    inv = np.empty(int(ok.sum()), np.int64)
    inv[pmap[ok]] = np.flatnonzero(ok)
    return inv


def source_offsets(pmap: np.ndarray, extents: tuple[int, ...], eb: int, strides: tuple[int, ...]) -> np.ndarray:
    """Payload byte -> byte offset in the source tensor (element ``strides``) from the tile's first element;
    -1 for pad bytes."""
    ok = pmap >= 0
    elem, lane = np.divmod(np.where(ok, pmap, 0), eb)
    idx = np.unravel_index(elem, extents)
    off = sum(i * s for i, s in zip(idx, strides)) * eb + lane
    return np.where(ok, off, -1)


def gather_payload(src: np.ndarray, origin: np.ndarray, offsets: np.ndarray, wb: int) -> np.ndarray:
    """Payload words (n, words, wb) of n tiles whose first source byte is ``origin``; pad bytes are 0."""
    flat = np.concatenate([src.reshape(-1).view(np.uint8), np.zeros(1, np.uint8)])
    idx = np.where(offsets[None, :] >= 0, origin[:, None] + offsets[None, :], flat.size - 1)
    return flat[idx].reshape(origin.size, -1, wb)


def check_capacity(name: str, lo: np.ndarray, hi: np.ndarray, capacity: int, what: str) -> None:
    used = hi > lo
    if used.any() and (lo[used].min() < 0 or hi[used].max() > capacity):
        raise FunctionalSimError(f"{name}: {what}: word address {int(lo[used].min())}..{int(hi[used].max()) - 1} "
                                 f"outside the {capacity}-word macro")


@dataclass(frozen=True)
class ReadGroup:
    """Reads by steps ``rows`` of the words ``words`` (n, W), each expecting writer row ``expect``; ``mult``
    (W,): how many times a step reads each word (0: not read)."""

    rows: np.ndarray
    words: np.ndarray
    expect: np.ndarray
    mult: np.ndarray
    compute: bool = True  # a compute step's operand read (False: a store's DMA read)


class NodeSram:
    """Writers of one node: row ``i`` writes words ``[lo[i], hi[i])``; loads' bytes in ``log``."""

    def __init__(self, name: str, m: Machine, lo: np.ndarray, hi: np.ndarray) -> None:
        self.name, self.m = name, m
        self.capacity, self.wb = m.sram.words, m.sram.word_bytes
        check_capacity(name, lo, hi, self.capacity, "write")
        self.lo, self.hi = lo, hi
        self.log_start = np.full(lo.size + 1, -1, np.int64)  # index 0: "no writer"
        self.log = np.zeros((0, self.wb), np.uint8)

    def set_payload(self, blocks: list[tuple[np.ndarray, np.ndarray]]) -> None:
        """``blocks``: (load rows, their bytes (n, words, wb)); all loads with known bytes, given at once."""
        start = 0
        for rows, payload in blocks:
            self.log_start[rows + 1] = start + np.arange(rows.size) * payload.shape[1]
            start += payload.shape[0] * payload.shape[1]
        if blocks:
            self.log = np.concatenate([p.reshape(-1, self.wb) for _, p in blocks])
        self.m.sram.writes += start

    def read(self, groups: list[ReadGroup]) -> list[np.ndarray]:
        """Check and count every group's reads; returns each group's bytes (n, W, wb) as the SRAM holds them."""
        writers = self._writers(groups)
        out = []
        for g, wr in zip(groups, writers):
            check_capacity(self.name, np.atleast_1d(g.words.min(initial=0)), np.atleast_1d(g.words.max(initial=-1) + 1),
                           self.capacity, "read")
            bad = (wr != g.expect[:, None]) & (g.mult[None, :] > 0)
            self.m.sram.clobbers += int((bad * g.mult[None, :]).sum())
            n = int(g.mult.sum()) * g.rows.size
            self.m.sram.reads += n
            if g.compute:
                self.m.tally.sram_reads_compute += n
            else:
                self.m.tally.sram_reads_dma += n
            start = self.log_start[wr + 1]
            ok = start >= 0
            pos = np.where(ok, start + g.words - self.lo[np.maximum(wr, 0)], 0)
            data = self.log[pos] if self.log.size else np.zeros((*pos.shape, self.wb), np.uint8)
            data[~ok] = 0
            out.append(data)
        return out

    def _writers(self, groups: list[ReadGroup]) -> list[np.ndarray]:
        """Writer row of every (read row, word), from the word state before each read row."""
        n_rows, cap = self.lo.size, self.capacity
        step = max(64, _CHUNK_ELEMS // cap)
        out = [np.full(g.words.shape, -1, np.int64) for g in groups]
        carry = np.full(cap, -1, np.int32)
        word = np.arange(cap)
        writes = np.flatnonzero(self.hi > self.lo)
        for a in range(0, n_rows, step):
            b = min(a + step, n_rows)
            wr = writes[np.searchsorted(writes, a):np.searchsorted(writes, b)]
            state = np.full((b - a + 1, cap), -1, np.int32)
            state[0] = carry
            mask = (word[None, :] >= self.lo[wr, None]) & (word[None, :] < self.hi[wr, None])
            state[wr - a + 1] = np.where(mask, wr[:, None].astype(np.int32), np.int32(-1))
            np.maximum.accumulate(state, axis=0, out=state)  # row i - a: the state before row i
            carry = state[-1]
            for g, o in zip(groups, out):
                s0, s1 = np.searchsorted(g.rows, a), np.searchsorted(g.rows, b)
                if s1 > s0:
                    o[s0:s1] = state[(g.rows[s0:s1] - a)[:, None], g.words[s0:s1]]
        return out


def last_of(mask: np.ndarray) -> np.ndarray:
    """For each row, the last row strictly before it where ``mask`` holds (-1 if none)."""
    idx = np.where(mask, np.arange(mask.size), -1)
    prev = np.maximum.accumulate(idx)
    return np.concatenate([[-1], prev[:-1]])


def classes(*keys: np.ndarray) -> list[np.ndarray]:
    """Indices grouped by equal key tuples (one array of positions per class)."""
    if keys[0].size == 0:
        return []
    key = np.zeros(keys[0].size, np.int64)
    for k in keys:  # mixed radix: small non-negative sizes
        k = np.asarray(k, np.int64)
        key = key * (int(k.max()) + 1) + k
    order = np.argsort(key, kind="stable")
    bounds = np.flatnonzero(np.diff(key[order])) + 1
    return np.split(order, bounds)
