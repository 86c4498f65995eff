"""Pooling on the vector unit (a ``ConvSchedule`` with ``shape.pool_op``): the arithmetic of the integer
reference's MAX_POOL_2D / AVERAGE_POOL_2D, applied to window bytes read back from the SRAM.

The DMA fills the padded window's out-of-image bytes with the op's pad value, chosen so that the plain
reduction over every tap of the window equals the reference:
- max: -128, which never exceeds an in-image tap (the quantizer's PADV2 -128 + VALID decomposition and
  TFLite SAME, which skips padding, give the same maximum);
- average, TFLite SAME padding (``explicit_pad`` False): 0, so the window sum is the in-image sum, divided by
  the in-image tap count of that output pixel (pooling.h);
- average with explicit padding (``count_include_pad``: the quantizer's PAD with the zero point + VALID):
  the zero point, divided by kernel_h x kernel_w; where ceil_mode reaches past that pad (PAD + SAME: those
  taps are not counted) the DMA still writes the zero point, so the accumulator of each such output pixel
  starts at -zero point x its uncounted taps (``offset``, set like a bias) and the divisor is its counted taps.
Rounding of the average: (sum +- count / 2) / count truncated toward zero (ties away from zero), then the
activation clamp, as ``reference.nhwc.average_pool``.

A global average pool fused into a convolution group's output path (``execute_fused_pool``) accumulates running
int32 sums in SRAM words and finishes with the MEAN kernel's arithmetic (``reference.requant.mean_of_sums``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sramflow.errors import UnsupportedOpError
from sramflow.funcsim.sram import FunctionalSimError, Sram
from sramflow.ir.movement import MOVEMENT_OPS
from sramflow.mapping.conv import ConvShape
from sramflow.mapping.epilogue import SUM_BYTES, PoolPlan
from sramflow.mapping.steps_table import OP, STORE
from sramflow.reference.requant import clamp_to_int8, mean_of_sums, wrap_int32

# a "window" movement op (ir.movement: Pad) is a 1 x 1 max whose padded taps hold its int8 fill
POOL_KINDS = {"MAX_POOL_2D": "max", "AVERAGE_POOL_2D": "avg",
              **{m.kind: "max" for m in MOVEMENT_OPS if m.mapping == "window"}}


@dataclass(frozen=True)
class PoolSpec:
    """``op``: "max" or "avg"; ``fill``: the pad value the DMA writes; ``count`` (OH, OW): the divisor of each
    output pixel (average; ones for max)."""

    op: str
    fill: int
    count: np.ndarray
    act_min: int
    act_max: int
    offset: np.ndarray | None = None  # (OH, OW) accumulator start of each output pixel (average), else 0

    def finish(self, total: np.ndarray, h0: int = 0, w0: int = 0) -> np.ndarray:
        """Reduced taps (..., h, w) of the output pixels starting at (h0, w0) -> int8 (max: the maximum,
        avg: the window sum)."""
        t = np.asarray(total, np.int64)
        if self.op == "max":
            return clamp_to_int8(t, self.act_min, self.act_max)
        count = self.count[h0:h0 + t.shape[-2], w0:w0 + t.shape[-1]]
        if self.offset is not None:
            t = t + self.offset[h0:h0 + t.shape[-2], w0:w0 + t.shape[-1]]
        half = count // 2
        q = np.where(t > 0, (t + half) // count, -((-(t - half)) // count))
        return clamp_to_int8(q, self.act_min, self.act_max)

    def reduce(self, taps: np.ndarray, axis: int) -> np.ndarray:
        """Max or sum of raw int8 taps along ``axis`` (int64)."""
        t = np.asarray(taps, np.int64)
        return t.max(axis=axis) if self.op == "max" else t.sum(axis=axis)


def pool_spec(shape: ConvShape, kind: str, attrs: dict, x_zp: int) -> PoolSpec:
    """The spec of a quantized pooling op (``QOp.kind`` / ``attrs``) on the mapper's shape."""
    op = POOL_KINDS.get(kind)
    if op is None or op != shape.pool_op:
        raise UnsupportedOpError(f"node {shape.name!r}: quantized op {kind} does not match the {shape.pool_op!r} "
                                 "pooling schedule")
    if kind not in ("MAX_POOL_2D", "AVERAGE_POOL_2D"):  # a window movement op: one tap, the byte or the fill
        return PoolSpec("max", int(attrs["fill"]), np.ones((shape.out_h, shape.out_w), np.int64), -128, 127)
    lo, hi = int(attrs["act_min"]), int(attrs["act_max"])
    if op == "max":
        return PoolSpec("max", -128, np.ones((shape.out_h, shape.out_w), np.int64), lo, hi)
    if attrs.get("explicit_pad"):  # counted: the image and the PAD (pre_pad) around it
        t, left, b, r = attrs.get("pre_pad", (shape.pad_top, shape.pad_left, 0, 0))
        ch = _in_bounds(shape.out_h, shape.stride_h, shape.kernel_h, shape.pad_top, -t, shape.in_h + b)
        cw = _in_bounds(shape.out_w, shape.stride_w, shape.kernel_w, shape.pad_left, -left, shape.in_w + r)
        count = np.outer(ch, cw)
        if "pre_pad" not in attrs:  # a quantized graph from before pre_pad: the PAD covered all the padding
            count = np.full_like(count, shape.kernel_h * shape.kernel_w)
        uncounted = shape.kernel_h * shape.kernel_w - count
        return PoolSpec("avg", int(x_zp), count, lo, hi, -int(x_zp) * uncounted if uncounted.any() else None)
    ch = _in_bounds(shape.out_h, shape.stride_h, shape.kernel_h, shape.pad_top, 0, shape.in_h)
    cw = _in_bounds(shape.out_w, shape.stride_w, shape.kernel_w, shape.pad_left, 0, shape.in_w)
    return PoolSpec("avg", 0, np.outer(ch, cw), lo, hi)


def _in_bounds(out_n: int, stride: int, k: int, pad: int, lo: int, hi: int) -> np.ndarray:
    """Taps of each output's window (starting at out * stride - pad) that lie in [lo, hi)."""
    start = np.arange(out_n) * stride - pad
    return (np.clip(start + k, lo, hi) - np.clip(start, lo, hi)).astype(np.int64)


def execute_fused_pool(plan: PoolPlan, table, out: np.ndarray, mean: dict, m,  # noqa: ANN001 - StepTable, Machine
                       buffers_end: int) -> np.ndarray:
    """A global average pool accumulated on a convolution group's output path (``mapping.epilogue.pool_plan``),
    on its step table's output stores in order: each final output tile's int8 elements (``out``, the group's
    written tensor (G, K, OH, OW)) are added per channel to int32 running sums held in the SRAM words at
    ``plan.base_word`` (read back unless it is the channel tile's first pixel tile, written back unless it is the
    last); at the last, the MEAN kernel's arithmetic (``reference.requant.mean_of_sums``, ``mean``: the op's x_zp,
    mult, shift, out_zp) gives the int8 means, written into the same words and stored off-chip. The sums' words must
    lie above every buffer of the schedule (``buffers_end``, checked), so the convolution's steps, executed before,
    never touch them and replaying the pool after them is the interleaved order's result; every access goes
    through ``m`` (counted; a word read that holds anything but what was written last is a clobber).
    Returns the pool's output (G x K,) int8."""
    if plan.base_word < buffers_end:
        raise FunctionalSimError(f"fused pool sums at word {plan.base_word} overlap the convolution's buffers (which "
                                 f"end at word {buffers_end}): the pool must keep its own pass")
    g_, k_, oh, ow = out.shape
    lo, hi = table.lo, table.hi
    d = {name: i for i, name in enumerate(table.dims)}
    rows = np.flatnonzero((table.kind == STORE) & (table.operand == OP["outputs"]))
    box = np.stack([lo[rows, d["g"]], hi[rows, d["g"]], lo[rows, d["k"]], hi[rows, d["k"]]], axis=1)
    runs = _channel_tile_runs(box, plan.pixel_tiles)
    if runs is None or m.sram.trace is not None:  # another order of tiles, or every access traced: one by one
        return _fused_pool_rows(plan, lo, hi, d, rows, out, mean, m)
    result = np.zeros(g_ * k_, np.int8)
    # (G, K, OH + 1, OW + 1) prefix sums over the pixels: any tile's per-channel sum from its four corners
    corner = np.zeros((g_, k_, oh + 1, ow + 1), np.int64)
    np.cumsum(np.cumsum(out, axis=2, dtype=np.int64), axis=3, out=corner[:, :, 1:, 1:])
    h0, h1, w0, w1 = (lo[rows, d["h"]], hi[rows, d["h"]], lo[rows, d["w"]], hi[rows, d["w"]])
    for first in runs:
        g0, g1, k0, k1 = (int(v) for v in box[first])
        at = slice(first, first + plan.pixel_tiles)
        c = corner[g0:g1, k0:k1]
        adds = (c[:, :, h1[at], w1[at]] - c[:, :, h0[at], w1[at]] - c[:, :, h1[at], w0[at]]
                + c[:, :, h0[at], w0[at]]).reshape((g1 - g0) * (k1 - k0), plan.pixel_tiles)
        _pool_channel_tile(plan, adds, (g0, g1, k0, k1), k_, oh * ow, mean, m, result)
    return result


def execute_carried_pool(plan: PoolPlan, table, out: np.ndarray, pixels: int, mean: dict, m,  # noqa: ANN001
                         buffers_end: int, level, prev_tag: int | None) -> tuple[np.ndarray | None, int]:
    """One row band's share of a global average pool whose running sums are carried from band to band in an outer
    SRAM level (``mapping.epilogue.PoolCarry``), store by store (``_fused_pool_rows``): ``out`` is the band's
    output rows (G, K, rows, OW), ``pixels`` the layer's (the means' divisor). A channel tile's first pixel tile
    starts from the sums the band before stored in ``level`` (``carry_in``: read there through ``prev_tag``, the
    previous band's tag, loaded into the sum words and read back); its last stores them there (``carry_out``:
    written into the sum words, read by the DMA, written into the level's words under this band's tag) instead of
    finishing the means. Returns (the pool's int8 output after the last band, else None; this band's tag)."""
    if plan.base_word < buffers_end:
        raise FunctionalSimError(f"fused pool sums at word {plan.base_word} overlap the convolution's buffers (which "
                                 f"end at word {buffers_end}): the pool must keep its own pass")
    if plan.carry.carry_in and prev_tag is None:
        raise FunctionalSimError("a carried pool's band reads sums no band before it stored")
    d = {name: i for i, name in enumerate(table.dims)}
    rows = np.flatnonzero((table.kind == STORE) & (table.operand == OP["outputs"]))
    carried = _Carried(level, prev_tag, m.new_tag())
    return _fused_pool_rows(plan, table.lo, table.hi, d, rows, out, mean, m, pixels, carried), carried.band_tag


@dataclass
class _Carried:
    """Where a row band's pool sums come from and go (``execute_carried_pool``): the outer level's model, the tag
    the band before wrote them under, and this band's."""

    level: Sram
    prev_tag: int | None
    band_tag: int

    def load(self, plan: PoolPlan, c0: int, ch: int, m) -> int:  # noqa: ANN001 - Machine
        """The channel tile's carried sums into the first level's sum words; the tag they are written under."""
        cy, per = plan.carry, plan.carry.words_per_channel * self.level.word_bytes
        raw = np.asarray(self.level.read(self._words(cy, c0, ch), self.prev_tag, "carried pool sums"), np.uint8)
        sums = raw.reshape(ch, per)[:, :SUM_BYTES].copy().view("<i4").reshape(ch).astype(np.int64)
        tag = m.new_tag()
        m.write(plan.base_word, _sum_words(plan, sums), tag, "carried pool sums", compute=False)
        return tag

    def store(self, plan: PoolPlan, c0: int, sums: np.ndarray, m) -> None:  # noqa: ANN001 - Machine
        """The channel tile's final sums written into the sum words, read by the DMA, written into the level."""
        ch, cy = sums.size, plan.carry
        tag = m.new_tag()
        m.write(plan.base_word, _sum_words(plan, sums), tag, "pool sums", compute=True)
        m.read(np.arange(plan.base_word, plan.base_word + ch * plan.words_per_channel), tag, "carried pool sums "
               "store", compute=False)
        data = np.zeros((ch, cy.words_per_channel * self.level.word_bytes), np.uint8)
        data[:, :SUM_BYTES] = sums.astype("<i4").view(np.uint8).reshape(ch, SUM_BYTES)
        self.level.write(int(self._words(cy, c0, ch)[0]), data.reshape(-1), self.band_tag, "carried pool sums")

    @staticmethod
    def _words(cy, c0: int, ch: int) -> np.ndarray:  # noqa: ANN001 - PoolCarry
        return np.arange(cy.base_word + c0 * cy.words_per_channel, cy.base_word + (c0 + ch) * cy.words_per_channel)


def _channel_tile_runs(box: np.ndarray, pixel_tiles: int) -> np.ndarray | None:
    """The first store row of each channel tile when every channel tile's ``pixel_tiles`` output tiles are stored
    one after another (the order the fused pool is planned for: channel tiles outermost), else None."""
    if box.shape[0] % pixel_tiles:
        return None
    first = np.arange(0, box.shape[0], pixel_tiles)
    same = (box.reshape(-1, pixel_tiles, 4) == box[first][:, None, :]).all()
    distinct = np.unique(box[first], axis=0).shape[0] == first.size
    return first if same and distinct else None


def _pool_channel_tile(plan: PoolPlan, adds: np.ndarray, key: tuple[int, int, int, int], k_: int, pixels: int,
                       mean: dict, m, result: np.ndarray) -> None:  # noqa: ANN001 - Machine
    """One channel tile whose pixel tiles' per-channel sums are ``adds`` (channels, pixel tiles), stored one after
    another. The running sums after each pixel tile are written to the sum words and read back before the next
    one's are added; with nothing else between them in the SRAM, every read returns the previous write, so all but
    the last write-then-read are counted (as ``_fused_pool_rows`` counts them) without moving their bytes, and the
    last partial sums, the means and their store go through ``m`` with their bytes."""
    ch, n = adds.shape
    words = ch * plan.words_per_channel
    sums = adds[:, 0]
    if n > 1:
        silent = n - 2  # write-then-read pairs of pixel tiles 1 .. n - 2, counted only
        m.sram.writes += silent * words
        m.sram.reads += silent * words
        m.tally.sram_writes_compute += silent * words
        m.tally.sram_reads_compute += silent * words
        tag = m.new_tag()
        m.write(plan.base_word, _sum_words(plan, wrap_int32(adds[:, :-1].sum(axis=1))), tag, "pool sums", compute=True)
        raw = m.read(np.arange(plan.base_word, plan.base_word + words), tag, "pool sums", compute=True)
        sums = _word_sums(plan, raw, ch) + adds[:, -1]
    _finish_means(plan, wrap_int32(sums), key, k_, pixels, mean, m, result)


def _sum_words(plan: PoolPlan, sums: np.ndarray) -> np.ndarray:
    """The bytes of the sum words holding ``sums`` (one channel each): int32 little-endian in the first
    ``SUM_BYTES`` of each channel's ``words_per_channel`` words, zeros after."""
    words = np.zeros((sums.size, plan.words_per_channel * plan.word_bytes), np.uint8)
    words[:, :SUM_BYTES] = sums.astype("<i4").view(np.uint8).reshape(sums.size, SUM_BYTES)
    return words.reshape(-1)


def _word_sums(plan: PoolPlan, raw: np.ndarray, ch: int) -> np.ndarray:
    """The ``ch`` int32 sums in the sum words ``raw`` read back (``_sum_words``' layout), as int64."""
    per = plan.words_per_channel * plan.word_bytes
    return raw.reshape(ch, per)[:, :SUM_BYTES].copy().view("<i4").reshape(ch).astype(np.int64)


def _finish_means(plan: PoolPlan, sums: np.ndarray, key: tuple[int, int, int, int], k_: int, pixels: int,
                  mean: dict, m, result: np.ndarray) -> None:  # noqa: ANN001 - Machine
    """The MEAN kernel's arithmetic on one channel tile's final sums; the int8 means are written into the sum words,
    read back and stored off-chip into ``result``."""
    g0, g1, k0, k1 = key
    ch, wb = sums.size, plan.word_bytes
    q = mean_of_sums(sums, pixels, int(mean["x_zp"]), int(mean["mult"]), int(mean["shift"]), int(mean["out_zp"]))
    nw = -(-ch // wb)
    packed = np.zeros(nw * wb, np.uint8)
    packed[:ch] = q.astype(np.int8).view(np.uint8)
    tag = m.new_tag()
    m.write(plan.base_word, packed, tag, "pool means", compute=True)
    back = m.read(np.arange(plan.base_word, plan.base_word + nw), tag, "pool means store", compute=False)
    m.tally.offchip_write_bytes += ch
    idx = (np.arange(g0, g1)[:, None] * k_ + np.arange(k0, k1)[None, :]).reshape(-1)
    result[idx] = back.reshape(-1)[:ch].view(np.int8)


def _fused_pool_rows(plan: PoolPlan, lo: np.ndarray, hi: np.ndarray, d: dict, rows: np.ndarray, out: np.ndarray,
                     mean: dict, m, pixels: int | None = None,  # noqa: ANN001 - Machine
                     carried: _Carried | None = None) -> np.ndarray | None:
    """The fused pool store by store, every sum word written and read through ``m`` with its bytes; ``pixels``: the
    means' divisor (default: the pixels of ``out``); ``carried``: a row band's sums carried in an outer level
    (``execute_carried_pool``; None after a band that stores them instead of the means)."""
    g_, k_, oh, ow = out.shape
    wpc = plan.words_per_channel
    cin = carried is not None and plan.carry.carry_in
    cout = carried is not None and plan.carry.carry_out
    result = None if cout else np.zeros(g_ * k_, np.int8)
    seen: dict[tuple[int, ...], int] = {}
    tag = -1
    for r in rows:
        g0, g1, k0, k1 = (int(lo[r, d["g"]]), int(hi[r, d["g"]]), int(lo[r, d["k"]]), int(hi[r, d["k"]]))
        if carried is not None and g1 - g0 > 1 and k1 - k0 < k_:
            raise FunctionalSimError("a carried pool's channel tile must be one run of channels")
        tile = out[g0:g1, k0:k1, lo[r, d["h"]]:hi[r, d["h"]], lo[r, d["w"]]:hi[r, d["w"]]]
        add = tile.astype(np.int64).sum(axis=(2, 3)).reshape(-1)
        key = (g0, g1, k0, k1)
        i = seen[key] = seen.get(key, 0) + 1
        ch = add.size
        sums = np.zeros(ch, np.int64)
        if i == 1 and cin:  # the sums the band before stored
            tag = carried.load(plan, g0 * k_ + k0, ch, m)
        if i > 1 or cin:  # the running sums of this channel tile, written after its previous pixel tile (or loaded)
            raw = m.read(np.arange(plan.base_word, plan.base_word + ch * wpc), tag, "pool sums", compute=True)
            sums = _word_sums(plan, raw, ch)
        sums = wrap_int32(sums + add)
        if i < plan.pixel_tiles:
            tag = m.new_tag()
            m.write(plan.base_word, _sum_words(plan, sums), tag, "pool sums", compute=True)
        elif cout:
            carried.store(plan, g0 * k_ + k0, sums, m)
        else:
            _finish_means(plan, sums, key, k_, oh * ow if pixels is None else pixels, mean, m, result)
    return result
