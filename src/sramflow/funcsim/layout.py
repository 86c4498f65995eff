"""Vectorized packing of whole tiles into buffer words, following ``sramflow.mapping.layout`` (the one
layout definition): packed little-endian elements; weights (g, k, c, ky, kx) and bias (g, k) split along k
(axis 1) into word-aligned accumulator groups of ``ak`` channels, each group (g, k_in_group, ...) row-major;
outputs and partial sums (g, k, h, w) one word-aligned block per accumulator group (``ak`` channels x ``gh``
rows, k groups outermost), each block row-major; input windows (g, c, row, col) with every row on a word, or
packed (``mapping.layout.window_packed``).
Packed 4-bit weights (``ConvShape.weight_bits == 4``): the same groups, each group's elements packed two per
byte in row-major order (``ir.precision.pack_int4``: element 2i in the low nibble), a group of an odd element
count leaving its last high nibble 0; a channel's weights may start mid-byte, and a byte (with the channels
on either side of it) mid-word. ``mapping.conv.grouped_words`` counts exactly these words.
Tests check every element against ``mapping.layout.word_address``.
"""

from __future__ import annotations

import numpy as np

from sramflow.ir.precision import pack_int4, unpack_int4


def ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def pad_to_words(raw: np.ndarray, wb: int) -> np.ndarray:
    """uint8 bytes, zero-extended to a whole number of words."""
    extra = (-raw.size) % wb
    return np.concatenate([raw, np.zeros(extra, np.uint8)]) if extra else raw


def group_bounds(k: int, ak: int) -> list[tuple[int, int]]:
    return [(j, min(j + ak, k)) for j in range(0, k, ak)]


def group_words(k: int, ak: int, per_k: int, wb: int, bits: int = 8) -> list[int]:
    """Word offset of each accumulator group within its buffer, plus the total at the end; ``per_k`` elements of
    ``bits`` bits (8: ``per_k`` bytes) per channel, each group packed."""
    offs = [0]
    for a, b in group_bounds(k, ak):
        offs.append(offs[-1] + ceil_div((b - a) * per_k * bits, 8 * wb))
    return offs


INT24 = "<i3"  # a 3-byte little-endian two's complement integer (partial sums, see ConvShape.psum_bytes)


def psum_dtype(element_bytes: int) -> str:
    """The element type of partial sums of ``element_bytes`` bytes."""
    return {2: "<i2", 3: INT24, 4: "<i4"}[element_bytes]


def dtype_bytes(dtype: str) -> int:
    return 3 if dtype == INT24 else np.dtype(dtype).itemsize


def fits(values: np.ndarray, dtype: str) -> bool:
    """Whether every value is representable in ``dtype`` (a packed partial sum must be exact)."""
    half = 1 << (8 * dtype_bytes(dtype) - 1)
    v = np.asarray(values, np.int64)
    return bool(v.size == 0 or (v.min() >= -half and v.max() < half))


def le_bytes(values: np.ndarray, dtype: str) -> np.ndarray:
    """Elements as packed little-endian bytes (flat uint8); ``INT24``: the low 3 bytes of each int32."""
    if dtype == INT24:
        return np.ascontiguousarray(values, "<i4").view(np.uint8).reshape(-1, 4)[:, :3].ravel()
    return np.ascontiguousarray(values, dtype).view(np.uint8).ravel()


def pack_grouped(tile: np.ndarray, ak: int, wb: int, dtype: str) -> np.ndarray:
    """A tile (g, k, ...) as buffer bytes: groups of ``ak`` channels along axis 1, each word-aligned."""
    parts = [pad_to_words(le_bytes(tile[:, a:b], dtype), wb) for a, b in group_bounds(tile.shape[1], ak)]
    return np.concatenate(parts)


def pack_grouped_int4(tile: np.ndarray, ak: int, wb: int) -> np.ndarray:
    """A weight tile (g, k, ...) of 4-bit values as buffer bytes: groups of ``ak`` channels, each packed two per
    byte and word-aligned."""
    return np.concatenate([pad_to_words(pack_int4(tile[:, a:b]), wb) for a, b in group_bounds(tile.shape[1], ak)])


def unpack_group_int4(rows: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Words read back (n, word_bytes) -> one packed 4-bit group's int8 elements of ``shape``."""
    return unpack_int4(np.ascontiguousarray(rows).ravel(), int(np.prod(shape))).reshape(shape)


def block_bounds(k: int, ak: int, h: int, gh: int) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """(k range, row range) of every accumulator group of an output tile, in storage (and compute) order."""
    return [(kb, hb) for kb in group_bounds(k, ak) for hb in group_bounds(h, gh)]


def block_words(k: int, ak: int, h: int, gh: int, per_row_bytes: int, wb: int) -> list[int]:
    """Word offset of each output block (``block_bounds`` order) plus the total; ``per_row_bytes``: bytes per
    channel and row (g x w x element bytes)."""
    offs = [0]
    for (a, b), (r0, r1) in block_bounds(k, ak, h, gh):
        offs.append(offs[-1] + ceil_div((b - a) * (r1 - r0) * per_row_bytes, wb))
    return offs


def pack_blocks(tile: np.ndarray, ak: int, gh: int, wb: int, dtype: str) -> np.ndarray:
    """An output / partial-sum tile (g, k, h, w) as buffer bytes: one word-aligned block per accumulator group."""
    parts = [pad_to_words(le_bytes(tile[:, a:b, r0:r1], dtype), wb)
             for (a, b), (r0, r1) in block_bounds(tile.shape[1], ak, tile.shape[2], gh)]
    return np.concatenate(parts)


def unpack_group(rows: np.ndarray, shape: tuple[int, ...], dtype: str) -> np.ndarray:
    """Words read back (n, word_bytes) -> one group's elements of ``shape`` (little-endian ``dtype``; ``INT24``
    sign-extended to int32)."""
    n = int(np.prod(shape)) * dtype_bytes(dtype)
    raw = np.ascontiguousarray(rows).ravel()[:n]
    if dtype == INT24:
        b = raw.reshape(-1, 3)
        sign = np.where(b[:, 2] >= 128, 255, 0).astype(np.uint8)
        return np.concatenate([b, sign[:, None]], axis=1).view("<i4").reshape(shape)
    return raw.view(dtype).reshape(shape)


def window_row_words(cols: int, wb: int) -> int:
    return ceil_div(cols, wb)


def pack_window(win: np.ndarray, wb: int, packed: bool = False) -> np.ndarray:
    """(channels, rows, cols) int8 -> bytes: each row zero-extended to whole words, or (``packed``) all bytes in
    order, the last word zero-extended."""
    if packed:
        return pad_to_words(np.ascontiguousarray(win).view(np.uint8).ravel(), wb)
    ch, rows, cols = win.shape
    rw = window_row_words(cols, wb)
    out = np.zeros((ch, rows, rw * wb), np.uint8)
    out[:, :, :cols] = win.view(np.uint8)
    return out.ravel()


def window_word_index(base: int, channels: int, rows: int, row_words: int, row_sel: np.ndarray | None) -> np.ndarray:
    """Word addresses of the window rows ``row_sel`` (all rows if None) of every channel, channel-major."""
    r = np.arange(rows) if row_sel is None else np.asarray(row_sel)
    ch = np.arange(channels)[:, None, None] * rows
    return (base + (ch + r[None, :, None]) * row_words + np.arange(row_words)[None, None, :]).ravel()


def unpack_window(rows_bytes: np.ndarray, channels: int, nrows: int, row_words: int, cols: int, wb: int) -> np.ndarray:
    return rows_bytes.reshape(channels, nrows, row_words * wb)[:, :, :cols].view(np.int8)
