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
    flat = np.ascontiguousarray(src).reshape(-1).view(np.uint8)
    pad = offsets < 0
    out = _windows(flat, np.asarray(origin, np.int64), np.where(pad, 0, offsets))  # a reloaded tile: gathered once
    if pad.any():
        out[:, pad] = 0
    return out.reshape(origin.size, -1, wb)


def pack_int4_payload(src: np.ndarray, origin: np.ndarray, offsets: np.ndarray, wb: int) -> np.ndarray:
    """Payload words (n, words, wb) of n packed 4-bit weight tiles: ``offsets`` maps payload nibbles (2 x wb per
    word) to source elements (-1: a pad nibble, 0); nibble 2i is byte i's low half (``ir.precision.pack_int4``).
    A value outside [-8, 7] would not survive the packing: an error, not a wrapped weight."""
    vals = gather_payload(np.asarray(src, np.int8), origin, offsets, 1).reshape(origin.size, -1).view(np.int8)
    if vals.size and (vals.min() < -8 or vals.max() > 7):
        raise FunctionalSimError(f"4-bit weights outside [-8, 7] (min {int(vals.min())}, max {int(vals.max())}): "
                                 "quantize the layer at 4 bits")
    nib = vals.view(np.uint8) & 0x0F
    return (nib[:, 0::2] | (nib[:, 1::2] << 4)).reshape(origin.size, -1, wb)


def check_capacity(name: str, lo: np.ndarray, hi: np.ndarray, capacity: int, what: str) -> None:
    used = hi > lo
    if used.any() and (lo[used].min() < 0 or hi[used].max() > capacity):
        raise FunctionalSimError(f"{name}: {what}: word address {int(lo[used].min())}..{int(hi[used].max()) - 1} "
                                 f"outside the {capacity}-word macro")


@dataclass(frozen=True)
class ReadGroup:
    """Reads by steps ``rows`` of the words ``base[i] .. base[i] + W - 1`` (each step one contiguous span), each
    expecting writer row ``expect``; ``mult`` (W,): how many times a step reads each word (0: not read)."""

    rows: np.ndarray
    base: np.ndarray
    expect: np.ndarray
    mult: np.ndarray
    compute: bool = True  # a compute step's operand read (False: a store's DMA read)
    byte_order: np.ndarray | None = None  # the span's bytes to return, in this order (None: all, (n, W, wb))

    @property
    def width(self) -> int:
        return int(self.mult.size)

    @property
    def words(self) -> np.ndarray:
        """(n, W) word addresses."""
        return self.base[:, None] + np.arange(self.width)


class NodeSram:
    """Writers of one node: row ``i`` writes words ``[lo[i], hi[i])``; loads' bytes in ``log``.

    Word state is kept per atom (a run of words that every write covers whole or not at all: the words between
    consecutive write boundaries), not per word: a node writes a handful of buffers, so a few atoms stand for
    the macro's words and the last writer of a word is its atom's."""

    def __init__(self, name: str, m: Machine, lo: np.ndarray, hi: np.ndarray) -> None:
        self.name, self.m = name, m
        self.capacity, self.wb = m.sram.words, m.sram.word_bytes
        check_capacity(name, lo, hi, self.capacity, "write")
        self.lo, self.hi = lo, hi
        self.log_start = np.full(lo.size + 1, -1, np.int64)  # index 0: "no writer"
        self.log = np.zeros((0, self.wb), np.uint8)
        writes = hi > lo
        self.bounds = np.unique(np.concatenate([lo[writes], hi[writes], [0, self.capacity]]))
        self.atom_of_word = (np.searchsorted(self.bounds, np.arange(self.capacity), side="right") - 1).astype(np.intp)

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
        """Check and count every group's reads; returns each group's bytes as the SRAM holds them: (n, W, wb), or
        (n, len(byte_order)) for a group with a ``byte_order``."""
        for g in groups:
            check_capacity(self.name, np.atleast_1d(g.base.min(initial=0)),
                           np.atleast_1d(g.base.max(initial=-1) + g.width), self.capacity, "read")
        states = self._atom_states(groups)
        words_of = _word_view(self.log)
        return [self._read_group(g, st, words_of) for g, st in zip(groups, states)]

    def _read_group(self, g: ReadGroup, state: np.ndarray, words_of: np.ndarray | None) -> np.ndarray:
        """``state`` (n, atoms): the writer of every atom before each read row."""
        n_reads = int(g.mult.sum()) * g.rows.size
        self.m.sram.reads += n_reads
        if g.compute:
            self.m.tally.sram_reads_compute += n_reads
        else:
            self.m.tally.sram_reads_dma += n_reads
        shape = (g.rows.size, g.width)
        out_shape = (*shape, self.wb) if g.byte_order is None else (shape[0], g.byte_order.size)
        if not g.width or not g.rows.size:
            return np.zeros(out_shape, np.uint8)
        a0, a1 = self.atom_of_word[g.base], self.atom_of_word[g.base + g.width - 1]
        other = np.zeros((state.shape[0], state.shape[1] + 1), np.int32)
        np.cumsum(state != g.expect[:, None], axis=1, out=other[:, 1:])
        rows = np.arange(shape[0])
        if not (other[rows, a1 + 1] - other[rows, a0]).any():  # every word of every span holds what is expected
            start = self.log_start[g.expect + 1]
            ok = start >= 0
            if words_of is None or not ok.any():
                return np.zeros(out_shape, np.uint8)
            offset = np.where(ok, start - self.lo[np.maximum(g.expect, 0)] + g.base, 0)
            if g.byte_order is None:
                data = _windows(words_of, offset, np.arange(g.width)).view(np.uint8).reshape(out_shape)
            else:  # word offset o, byte j of the span: log byte o * wb + j
                data = _windows(self.log.reshape(-1), offset * self.wb, g.byte_order)
            if not ok.all():
                data[~ok] = 0
            return data
        wr = state[rows[:, None], self.atom_of_word[g.words]]
        bad = (wr != g.expect[:, None]) & (g.mult[None, :] > 0)
        self.m.sram.clobbers += int((bad * g.mult[None, :]).sum())
        start = self.log_start[wr + 1]
        ok = start >= 0
        pos = np.where(ok, start + g.words - self.lo[np.maximum(wr, 0)], 0)
        data = np.zeros((*shape, self.wb), np.uint8) if words_of is None else \
            words_of[pos].view(np.uint8).reshape(*shape, self.wb)
        data[~ok] = 0
        return data if g.byte_order is None else data.reshape(shape[0], -1)[:, g.byte_order]

    def _atom_states(self, groups: list[ReadGroup]) -> list[np.ndarray]:
        """For each group, the writer row of every atom before each of its read rows, (n, atoms)."""
        n_rows, n_atoms = self.lo.size, self.bounds.size - 1
        step = max(64, _CHUNK_ELEMS // n_atoms)
        out = [np.full((g.rows.size, n_atoms), -1, np.int32) for g in groups]
        carry = np.full(n_atoms, -1, np.int32)
        writes = np.flatnonzero(self.hi > self.lo)
        first_word = self.bounds[:-1]
        for a in range(0, n_rows, step):
            b = min(a + step, n_rows)
            wr = writes[np.searchsorted(writes, a):np.searchsorted(writes, b)]
            state = np.full((b - a + 1, n_atoms), -1, np.int32)
            state[0] = carry
            mask = (first_word[None, :] >= self.lo[wr, None]) & (first_word[None, :] < self.hi[wr, None])
            state[wr - a + 1] = np.where(mask, wr[:, None].astype(np.int32), np.int32(-1))
            np.maximum.accumulate(state, axis=0, out=state)  # row i - a: the state before row i
            carry = state[-1]
            for g, o in zip(groups, out):
                s0, s1 = np.searchsorted(g.rows, a), np.searchsorted(g.rows, b)
                if s1 > s0:
                    o[s0:s1] = state[g.rows[s0:s1] - a]
        return out


def _windows(items: np.ndarray, offset: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """``items[offset[i] + cols[j]]``, shape (n, len(cols)); repeated windows (a resident tile read by many
    steps) are gathered once and copied as rows."""
    uniq, inverse = np.unique(offset, return_inverse=True)
    if uniq.size * 2 > offset.size:
        return items[offset[:, None] + cols]
    return items[uniq[:, None] + cols][inverse.reshape(-1)]


def _word_view(log: np.ndarray) -> np.ndarray | None:
    """The load log as one item per word (a 1-D array indexable by word position), or None when empty."""
    if not log.size:
        return None
    wb = log.shape[1]
    dtype = {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}.get(wb, np.dtype((np.void, wb)))
    return np.ascontiguousarray(log).view(dtype).reshape(-1)


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
