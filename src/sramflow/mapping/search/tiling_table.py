"""Exhaustive search over convolution tilings, vectorized with numpy, deterministic.

Search space: tile sizes per loop dimension (g, k, c, h, w), loop orders (permutations of the loops with
more than one tile), single or double buffering. An output tile row (g x w pixels) is bounded by the
accumulators; the tile's rows and k extent are not: the array computes it in accumulator groups (``acc_groups``):
``accumulators // pixels`` output channels at a time when the tile's pixels fit, else groups of whole rows (one
channel over as many rows as fit, or a few channels over fewer rows, whichever reads less; each group re-reads
its weights and input window rows, see ``conv.step_sizes``), so a tile holding more outputs than accumulators
trades SRAM reads for fewer off-chip reloads. Tile sizes are restricted to the balanced values ceil(N / n)
(``conv.balanced_sizes``): any other size t has the same tile count as t' = ceil(N / ceil(N / t)) <= t, hence the
same reload factors, and loads no more bytes and needs no more SRAM with t' (only the per-step rounding of MAC
cycles can differ, by less than one cycle per step). The rows of a ``TilingTable`` are the candidates the choice
(``choose.best_row``) prices.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from sramflow.cost.counts import ceil_div
from sramflow.cost.model import TOTALS
from sramflow.hw.spec import HardwareSpec
from sramflow.mapping.conv import (
    BIAS_BYTES, LOOPS, ConvShape, HwParams, balanced_sizes, buffer_words, bursts, clipped_list, conv_counts,
    footprint_words, order_dma_bursts, step_sizes, tile_classes, tile_sums, trips, unit_counts, weighted_class_sums,
)


def hw_params(hw: HardwareSpec, shape: ConvShape | None = None) -> HwParams:
    """The counting parameters; pooling (``shape.pool_op``) runs on the vector unit: one output per lane.

    ``input_row_bytes`` is the hardware's declared ``mac_array.input_register_bytes`` (each preset names its
    source): input operand registers, loaded from the SRAM word latch, that hold one window row of up to that
    many bytes, from which the array takes each kernel column's inputs (a shift / diagonal broadcast, no extra
    storage); their energy is part of ``energy_pj_per_mac``. 0: every input comes from the SRAM each time. The
    vector unit has none."""
    rf = hw.register_file
    pool = shape is not None and bool(shape.pool_op)
    lanes = hw.vector_unit.lanes
    return HwParams(
        word_bytes=hw.main_sram.word_bytes,
        macs_per_cycle=lanes if pool else hw.mac_array.macs_per_cycle,
        accumulators=lanes if pool else hw.mac_array.accumulators,
        register_window_bytes=rf.bytes_per_lane * hw.mac_array.macs_per_cycle if rf and not pool else 0,
        capacity_words=hw.main_sram.total_words,
        double_buffering=hw.main_sram.double_buffering,
        burst_bytes=hw.offchip.burst_bytes,
        input_row_bytes=0 if pool else hw.mac_array.input_register_bytes,
    )


GROUP_CHANNELS = (2, 4, 8, 16)  # output channels per accumulator group tried beside one for a tile whose pixels
# exceed the accumulators (each with as many whole tile rows as then fit)


def acc_groups(t: dict, hwp: HwParams, shape: ConvShape) -> tuple:
    """(output channels, tile rows) per accumulator group of each tile. A tile whose pixels fit the accumulators
    is one pixel group of ``accumulators // pixels`` channels. A larger one (its rows must fit) runs groups of
    whole rows: one channel over as many rows as fit, or ``GROUP_CHANNELS`` channels over the rows that then fit,
    whichever reads the fewest SRAM words per step (weights and bias once per row group, the input window once
    per channel group: a 7-wide 1x1 tile reads 9 bytes per 14 MACs as 2 channels x 1 row, 15 as 1 channel x 2
    rows). Groups smaller than that never help: the weights and the input window are re-read per group and the
    MAC cycles are rounded per group."""
    acc = hwp.accumulators
    row = t["g"] * t["w"]
    # one pixel group (g h w <= acc) exactly when acc // (g w) >= h, and a larger tile has acc // (g h w) = 0: so
    # neither case needs a mask (ak = 1, gh = the rows that fit; ak = the channels that fit, gh = h)
    ak = np.minimum(t["k"], np.maximum(acc // (row * t["h"]), 1))
    gh = np.minimum(t["h"], np.maximum(acc // row, 1))
    big = np.nonzero(np.logical_and(row * t["h"] > acc, t["k"] > 1))
    if not big[0].size:
        return ak, gh
    sub = {d: v[big] for d, v in t.items()}
    sak, sgh = ak[big], gh[big]
    best = _group_reads(shape, hwp, sub, sak, sgh)
    for channels in GROUP_CHANNELS:
        rows = acc // (sub["g"] * sub["w"] * channels)  # whole rows that fit beside that many channels
        ok = np.logical_and(rows >= 1, sub["k"] >= channels)
        gh2 = np.minimum(sub["h"], np.maximum(rows, 1))
        reads = _group_reads(shape, hwp, sub, np.full_like(sak, channels), gh2)
        better = np.logical_and(ok, reads < best)
        sak, sgh, best = np.where(better, channels, sak), np.where(better, gh2, sgh), np.where(better, reads, best)
    ak, gh = ak.copy(), gh.copy()
    ak[big], gh[big] = sak, sgh
    return ak, gh


def _group_reads(shape: ConvShape, hwp: HwParams, t: dict, ak, gh):  # noqa: ANN001, ANN202
    """SRAM words a step reads with accumulator groups of ``ak`` channels x ``gh`` rows (``conv.step_sizes``)."""
    q = step_sizes(shape, hwp, t, ak, gh)
    return q["w_reads"] + q["i_reads"] + q["b_reads"]


def candidates(shape: ConvShape, hwp: HwParams) -> dict[str, np.ndarray]:
    return _candidates_steps(shape, hwp)[0]


def _candidates_steps(shape: ConvShape, hwp: HwParams) -> tuple[dict[str, np.ndarray], dict]:
    """The candidate tiles (those whose smallest footprint fits) and their ``conv.step_sizes`` (with their
    accumulator groups), computed once for the footprint test."""
    t = tile_grid(shape, hwp)
    q = step_sizes(shape, hwp, t, *acc_groups(t, hwp, shape))
    fp = q["b_words"] + q["w_words"] + q["i_words"] + q["o_words"]  # footprint_words(..., False, False)["total"]
    keep = fp <= hwp.capacity_words
    return {d: v[keep] for d, v in t.items()}, {k: v[keep] if np.ndim(v) else v for k, v in q.items()}


def tile_grid(shape: ConvShape, hwp: HwParams) -> dict[str, np.ndarray]:
    """The balanced tile sizes whose row fits the accumulators and whose smallest footprint's lower bound fits the
    SRAM: a superset of the candidates (those whose smallest footprint fits), in the same order. The bound: each
    buffer packed whole (inputs as ``conv.packed_window``, weights, bias and outputs without the word rounding of
    each accumulator group), no more words than any layout of it."""
    e = shape.extents
    wb = hwp.word_bytes
    axes = [np.array(balanced_sizes(e[d]), dtype=np.int64) for d in "gkchw"]
    # the five axes broadcast (g, k, c, h, w), so no candidate array is built before the filters
    g, k, c, h, w = (a.reshape([-1 if i == j else 1 for j in range(5)]) for i, a in enumerate(axes))
    words = ceil_div(g * c * shape.window_rows(h) * shape.window_cols(w), wb) + ceil_div(g * k * h * w, wb)
    if not shape.pool_op:
        words = words + ceil_div(k * g * c * shape.kernel_h * shape.kernel_w * shape.weight_bits, 8 * wb)
    if shape.has_bias:
        words = words + ceil_div(k * g * BIAS_BYTES, wb)
    # a tile row (g x w pixels) fits the accumulators; in the order of the rows of the (g, k, c, h, w) product
    keep = np.nonzero((words <= hwp.capacity_words) & (g * w <= hwp.accumulators))
    return {d: a[i] for d, a, i in zip("gkchw", axes, keep)}


def min_working_set_bytes(shape: ConvShape, hwp: HwParams) -> int:
    one = {d: 1 for d in "gkchw"}
    return int(footprint_words(shape, hwp, one, False, False)["total"]) * hwp.word_bytes


def _orders(shape: ConvShape) -> list[tuple[str, ...]]:
    e = shape.extents
    active = [x for x in LOOPS if (e["h"] * e["w"] if x == "p" else e[x]) > 1]
    idle = tuple(x for x in LOOPS if x not in active)
    return [idle + p for p in itertools.permutations(active)]


def per_size(extent: int, f) -> np.ndarray:  # noqa: ANN001
    """``f(size)`` for every balanced tile size of ``extent``, indexed by the size (a look-up table: tile sizes
    are few, candidates many)."""
    lut = np.zeros(extent + 1, dtype=np.int64)
    for v in balanced_sizes(extent):
        lut[v] = f(v)
    return lut


def _clipped(shape: ConvShape, t: dict) -> np.ndarray:
    """Off-chip bytes of all distinct input tiles of each candidate (groups x channels x clipped rows x cols)."""
    r = _clipped_lut(shape.out_h, shape.stride_h, shape.span_h, shape.pad_top, shape.in_h)[t["h"]]
    c = _clipped_lut(shape.out_w, shape.stride_w, shape.span_w, shape.pad_left, shape.in_w)[t["w"]]
    return shape.groups * shape.c_per_group * r * c


@lru_cache(maxsize=4096)
def _clipped_lut(out_n: int, stride: int, span: int, pad: int, in_n: int) -> np.ndarray:
    """``per_size`` of the clipped extents summed over an axis's tiles (``ConvShape.clipped_rows`` / ``clipped_cols``),
    memoized per axis geometry (read-only): every search of a layer shape on any hardware reads the same table."""
    lut = per_size(out_n, lambda tile: sum(clipped_list(out_n, tile, stride, span, pad, in_n)))
    lut.flags.writeable = False
    return lut


@lru_cache(maxsize=1 << 14)
def _clipped_runs(out_n: int, tile: int, stride: int, span: int, pad: int, in_n: int) -> tuple[np.ndarray, np.ndarray]:
    """The distinct clipped extents (``conv.clipped_list``) of the tiles of size ``tile`` along one axis and how many
    tiles have each (memoized, read-only: the bounded search prices the same few tile sizes of an axis many times)."""
    v, c = np.unique(np.asarray(clipped_list(out_n, tile, stride, span, pad, in_n), dtype=np.int64),
                     return_counts=True)
    c = c.astype(np.int64)
    v.flags.writeable = c.flags.writeable = False
    return v, c


def _padded_runs(runs: dict[int, tuple[np.ndarray, np.ndarray]], tiles: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per candidate, the distinct clipped extents of its tiles along one axis and how many tiles have each
    (``runs`` per tile size, padded with zero counts to a common width)."""
    width = max(len(v) for v, _ in runs.values())
    vals = np.zeros((len(runs), width), dtype=np.int64)
    cnts = np.zeros((len(runs), width), dtype=np.int64)
    keys = np.array(sorted(runs), dtype=np.int64)
    for i, k in enumerate(keys):
        v, c = runs[int(k)]
        vals[i, :len(v)], cnts[i, :len(c)] = v, c
    pos = np.searchsorted(keys, tiles)
    return vals[pos], cnts[pos]


def _size_classes(tile: np.ndarray, extent: int, n: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(candidates, classes) tile sizes and numbers of tiles of one dimension: full tiles and the last tile, or
    one class when every candidate's last tile is full (the same sums over tiles)."""
    last = extent - (n - 1) * tile
    if np.array_equal(last, tile):
        return tile[:, None], n[:, None]
    return np.stack([tile, last], axis=1), np.stack([n - 1, np.ones_like(n)], axis=1)


def _in_bursts(shape: ConvShape, t: dict, burst_sizes: tuple[int, ...]) -> dict[int, np.ndarray]:
    """``conv.input_bursts`` of every candidate at once, per burst size: tiles of equal clipped size are grouped,
    so the sum runs over (g class, c class, distinct clipped rows, distinct clipped cols) with the number of such
    tiles (their sizes and numbers computed once for all burst sizes)."""
    n = trips(shape, t)
    out = {b: n["g"] * n["c"] * n["p"] for b in burst_sizes if b <= 0}
    if len(out) == len(burst_sizes):
        return out
    rows = {int(h): _clipped_runs(shape.out_h, int(h), shape.stride_h, shape.span_h, shape.pad_top, shape.in_h)
            for h in np.unique(t["h"])}
    cols = {int(w): _clipped_runs(shape.out_w, int(w), shape.stride_w, shape.span_w, shape.pad_left, shape.in_w)
            for w in np.unique(t["w"])}
    rv, rc = _padded_runs(rows, t["h"])
    cv, cc = _padded_runs(cols, t["w"])
    gs, gn = _size_classes(t["g"], shape.groups, n["g"])
    cs, cn = _size_classes(t["c"], shape.c_per_group, n["c"])
    nbytes = gs[:, :, None, None, None] * cs[:, None, :, None, None] * rv[:, None, None, :, None] \
        * cv[:, None, None, None, :]
    many = gn[:, :, None, None, None] * cn[:, None, :, None, None] * rc[:, None, None, :, None] \
        * cc[:, None, None, None, :]
    for b in burst_sizes:
        if b > 0:
            out[b] = (many * bursts(nbytes, b)).sum(axis=(1, 2, 3, 4))
    return out


# Counts fields the pricing reads (cost.model.busy_cycles / energy_pj); two rows equal in all of them and in the
# buffering cost exactly the same on every hardware point.
PRICED = ("offchip_weight_bytes", "offchip_input_bytes", "offchip_output_bytes", "offchip_psum_read_bytes",
          "offchip_psum_write_bytes", "dma_bursts", "sram_reads_compute", "sram_reads_dma", "sram_writes_compute",
          "sram_writes_dma", "mac_cycles", "vector_cycles", "macs", "vector_ops", "lut_ops", "register_accesses")


@dataclass(frozen=True)
class TilingTable:
    """Every fitting (loop order, buffering, tile sizes) of one layer under one ``HwParams`` with its counts:
    what the search needs that does not depend on energies, bandwidth, latency, clock, ports or banks.

    The enumeration order (loop order, then single before double buffering, then candidate index) is the
    search's tie-break; of rows with equal ``PRICED`` counts and buffering only the first is kept (a later one
    can never be chosen: it prices the same and loses the tie). Rows are stored single-buffered first, then
    double-buffered (``single_rows`` of them first), each part in enumeration order; ``rank`` is a row's
    position in enumeration order. ``counts`` also holds the totals ``TOTALS`` that the pricing reads."""

    orders: tuple[tuple[str, ...], ...]
    sizes: np.ndarray  # (rows, 5): tile g, k, c, h, w
    group_k: np.ndarray  # (rows,) output channels per accumulator group
    group_h: np.ndarray  # (rows,) tile rows per accumulator group
    order_index: np.ndarray  # (rows,) into ``orders``
    double: np.ndarray  # (rows,) bool
    counts: dict[str, np.ndarray | int]  # PRICED field -> (rows,) int64, or one int for all rows (``_compact``)
    enumerated_rows: int  # fitting rows before duplicates were removed
    footprint_words: np.ndarray  # (rows,) SRAM words the row's buffers need
    capacity_words: int  # the SRAM words it was built for
    rank: np.ndarray  # (rows,) position in enumeration order (the tie-break)
    single_rows: int  # the first rows, single-buffered; the rest are double-buffered

    def within(self, capacity_words: int) -> TilingTable:
        """The table for a smaller SRAM (all else equal): the rows that fit it. Exact, because a row is only
        dropped for an earlier row with no larger count and no larger footprint (which fits whenever it does),
        and rows equal in counts but not in footprint are all kept."""
        if capacity_words > self.capacity_words:
            raise ValueError(f"table built for {self.capacity_words} words cannot serve {capacity_words}")
        k = self.footprint_words <= capacity_words
        return TilingTable(self.orders, self.sizes[k], self.group_k[k], self.group_h[k], self.order_index[k],
                           self.double[k],
                           {f: v[k] if isinstance(v, np.ndarray) else v for f, v in self.counts.items()},
                           int(np.count_nonzero(k)), self.footprint_words[k], capacity_words, self.rank[k],
                           int(np.count_nonzero(k[:self.single_rows])))

    @property
    def rows(self) -> int:
        return int(self.double.size)

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in (self.sizes, self.group_k, self.group_h, self.order_index, self.double, self.rank,
                                      self.footprint_words, *self.counts.values()) if isinstance(a, np.ndarray))


# Priced counts that depend on the loop order for a given tile (the others, MACs and cycles of the array, do not).
ORDER_DEPENDENT = ("offchip_weight_bytes", "offchip_input_bytes", "offchip_psum_read_bytes",
                   "offchip_psum_write_bytes", "dma_bursts", "sram_reads_compute", "sram_reads_dma",
                   "sram_writes_compute", "sram_writes_dma")


def _order_counts(shape: ConvShape, hwp: HwParams, t: dict, pre: dict, order: tuple[str, ...]):  # noqa: ANN202
    """(priced counts, output-buffer words) of every candidate under one loop order."""
    raw = conv_counts(shape, hwp, t, order, pre["clipped"], pre["in_b"], pre["ak"], pre["cs"], pre["gh"], pre["n"],
                      pre["ts"])
    c = unit_counts(shape, hwp, raw)
    q, size = pre["q"], t["g"].size
    out = np.where(np.logical_or(raw["spill"], raw["keep"]), q["p_words"], q["o_words"])
    return {k: np.broadcast_to(np.asarray(c[k], dtype=np.int64), (size,)) for k in PRICED}, out


def _le_earlier(cols: list[list[np.ndarray]]) -> dict[tuple[int, int], np.ndarray]:
    """For each pair of loop orders a < b, the candidates whose row under order a has no count above its row under
    order b. ``cols``: per order, the (candidates,) order-dependent counts (the other counts are equal within a
    candidate). Field by field on whole columns, so no (candidates, orders, fields) array is built."""
    out = {}
    for b in range(1, len(cols)):
        for a in range(b):
            le = np.less_equal(cols[a][0], cols[b][0])
            tmp = np.empty_like(le)
            for x, y in zip(cols[a][1:], cols[b][1:]):
                le &= np.less_equal(x, y, out=tmp)
            out[a, b] = le
    return out


def _dominated(le: dict[tuple[int, int], np.ndarray], fp: list[np.ndarray], fits: list[np.ndarray]) -> list[np.ndarray]:
    """Per loop order, the (candidates,) mask: a fitting row of an earlier loop order has no count (``le``, see
    ``_le_earlier``) and no footprint (``fp``, per order) above this row's."""
    out = [np.zeros(fp[0].shape, dtype=bool)]
    for b in range(1, len(fp)):
        dom = np.zeros(fp[b].shape, dtype=bool)
        for a in range(b):
            dom |= le[a, b] & fits[a] & (fp[a] <= fp[b])
        out.append(dom)
    return out


def _burst_class_sums(shape: ConvShape, classes: tuple[dict, dict, dict], burst_bytes: int) -> dict:
    """The four burst quantities of ``conv.class_sums`` (``w_bursts``, ``b_bursts``, ``o_bursts``, ``p_bursts``,
    the only ones that depend on the burst size) for another burst size: the same per-step formulas as
    ``conv.step_sizes`` summed over the same classes (``conv.tile_classes``; integers: the same values)."""
    sizes, counts, trip = classes
    s = sizes
    khw = shape.kernel_h * shape.kernel_w
    pix = s["g"] * s["h"] * s["w"]
    out_n = pix * s["k"]
    w_per_k = 0 if shape.pool_op else s["g"] * s["c"] * khw
    b_per_k = s["g"] * BIAS_BYTES if shape.has_bias else 0 * s["g"]
    q = {"w_bursts": bursts(ceil_div(s["k"] * w_per_k * shape.weight_bits, 8), burst_bytes) * (w_per_k > 0),
         "b_bursts": bursts(s["k"] * b_per_k, burst_bytes) * (b_per_k > 0),
         "o_bursts": bursts(out_n, burst_bytes),
         "p_bursts": bursts(out_n * shape.psum_bytes, burst_bytes)}
    return weighted_class_sums(q, counts, trip)


PART_MIN = 2048  # candidates from which ``_class_sums`` splits them by which dimensions have one tile class


def _class_sums(shape: ConvShape, hwp: HwParams, t: dict, ak: np.ndarray, gh: np.ndarray,
                extra_bursts: tuple) -> tuple[dict, dict[int, dict], dict]:
    """``conv.class_sums`` of the candidates, ``_burst_class_sums`` per burst size in ``extra_bursts``, and the
    candidates' own ``conv.step_sizes`` (those of their full tiles, the first class of every dimension). A
    dimension whose last tile has the full size has one tile class (``tile_classes(merge=True)``); many candidates
    are split into parts of equal such dimensions, so each part is summed over only the classes it has (the same
    integers, scattered back)."""
    size = t["g"].size
    parts = [np.arange(size)]
    if size >= PART_MIN:
        e = shape.extents
        sig = np.zeros(size, dtype=np.int64)
        for i, d in enumerate("gkchw"):
            sig |= (e[d] % t[d] == 0).astype(np.int64) << i  # the last tile is full (balanced sizes: also one tile)
        values, inv = np.unique(sig, return_inverse=True)
        if values.size > 1:
            order = np.argsort(inv.ravel(), kind="stable")
            parts = np.split(order, np.cumsum(np.bincount(inv.ravel()))[:-1])
    out: dict = {}
    outs: dict[int, dict] = {b: {} for b in extra_bursts}
    full: dict = {}
    for idx in parts:
        whole = idx.size == size
        tp = t if whole else {d: v[idx] for d, v in t.items()}
        classes = tile_classes(shape, tp, merge=True)
        q = step_sizes(shape, hwp, classes[0], ak if whole else ak[idx], gh if whole else gh[idx])
        sums = [(out, weighted_class_sums(q, classes[1], classes[2])),
                (full, {k: v[0, 0, 0, 0, 0] if np.ndim(v) > 5 else v for k, v in q.items()})]
        sums += [(outs[b], _burst_class_sums(shape, classes, b)) for b in extra_bursts]
        for dst, src in sums:
            for k, v in src.items():
                if whole:
                    dst[k] = v
                    continue
                if k not in dst:
                    dst[k] = np.empty(size, dtype=np.int64)
                dst[k][idx] = v
    return out, outs, full


def _rows(shape: ConvShape, hwp: HwParams, t: dict, orders: tuple, prune: bool, extra_bursts: tuple = (),
          q: dict | None = None) -> tuple[dict[str, np.ndarray], list[tuple]]:
    """(the priced counts that do not depend on the loop order, per candidate; the fitting rows in enumeration
    order: (order index, double, candidate index, the other priced counts and the footprint) per block).
    ``q``: the candidates' ``conv.step_sizes`` if already computed (``_candidates_steps``).
    ``extra_bursts``: other burst sizes whose ``dma_bursts`` (the only count that depends on the burst size) are
    added as ``dma_bursts@<size>`` columns; they take part in the dominance pruning (a row is dropped only when
    dominated in every burst column)."""
    ak, gh = acc_groups(t, hwp, shape)
    in_b = _in_bursts(shape, t, (hwp.burst_bytes, *extra_bursts))
    cs, cs_extra, _ = _class_sums(shape, hwp, t, ak, gh, extra_bursts)
    q = step_sizes(shape, hwp, t, ak, gh) if q is None else q
    n = trips(shape, t)
    pre = {"clipped": _clipped(shape, t), "ak": ak, "gh": gh, "in_b": in_b[hwp.burst_bytes], "cs": cs, "q": q,
           "n": n, "ts": tile_sums(n, cs)}
    per_order = [_order_counts(shape, hwp, t, pre, order) for order in orders]
    size = t["g"].size
    for b in extra_bursts:
        ts_b = tile_sums(n, cs_extra[b])
        for (c, _), order in zip(per_order, orders):
            c[f"dma_bursts@{b}"] = np.broadcast_to(np.asarray(order_dma_bursts(shape, t, order, {}, in_b[b], n, ts_b),
                                                              dtype=np.int64), (size,))
    dep = (*ORDER_DEPENDENT, *(f"dma_bursts@{b}" for b in extra_bursts))
    le = _le_earlier([[c[k] for k in dep] for c, _ in per_order]) if prune else {}
    blocks, fps = {}, {}
    for double in ((False, True) if hwp.double_buffering else (False,)):
        fp = [buffer_words(q, n, out, double) for _, out in per_order]
        fits = [f <= hwp.capacity_words for f in fp]
        blocks[double] = [f & ~d for f, d in zip(fits, _dominated(le, fp, fits))] if prune else fits
        fps[double] = fp
    out = []
    for oi, (c, _) in enumerate(per_order):
        for double, keep in blocks.items():
            idx = np.flatnonzero(keep[oi])
            out.append((oi, double, idx, {k: c[k][idx] for k in dep} | {"footprint_words": fps[double][oi][idx]}))
    free = {k: np.ascontiguousarray(v) for k, v in per_order[0][0].items() if k in PRICED and k not in ORDER_DEPENDENT}
    return free, out


def _hash(cols: list[np.ndarray], mult: np.ndarray) -> np.ndarray:
    h = np.zeros(cols[0].size, dtype=np.uint64)
    tmp = np.empty_like(h)
    for col, m in zip(cols, mult):
        h += np.multiply(np.ascontiguousarray(col, dtype=np.int64).view(np.uint64), m, out=tmp)
    return h


def _first_of_equal_rows(cols: list[np.ndarray], keyed: list[np.ndarray] = (),
                         key: np.ndarray | None = None) -> np.ndarray:
    """Indices (ascending) of the first of each set of equal rows of the int64 matrix with columns ``cols`` and
    ``c[key]`` for each ``c`` in ``keyed`` (columns given per key, e.g. per candidate, never gathered whole): a
    hash of each row, rows of equal hash checked column by column, whole rows compared only on a collision."""
    if cols[0].size == 0:
        return np.zeros(0, dtype=np.int64)
    mult = (np.random.default_rng(0).integers(1, 2**62, size=len(cols) + len(keyed), dtype=np.int64) * 2 + 1
            ).astype(np.uint64)
    h = _hash(cols, mult[:len(cols)])
    if keyed:
        h += _hash(keyed, mult[len(cols):])[key]
    _, first, inv = np.unique(h, return_index=True, return_inverse=True)
    rep = first[inv.ravel()]
    dup = np.flatnonzero(rep != np.arange(rep.size))  # rows with an earlier row of equal hash
    same = all(np.array_equal(col[dup], col[rep[dup]]) for col in cols)
    if keyed and same:
        kd, kr = key[dup], key[rep[dup]]
        same = all(np.array_equal(col[kd], col[kr]) for col in keyed)
    if not same:  # a hash collision: compare whole rows instead
        _, first = np.unique(np.stack([*cols, *(col[key] for col in keyed)], axis=1), axis=0, return_index=True)
    return np.sort(first)


def tiling_table(shape: ConvShape, hwp: HwParams, prune: bool = True) -> TilingTable:
    """``prune``: drop rows dominated in every priced count by a fitting row of an earlier loop order of the
    same tile (valid for hardware on which the pricing is monotone, see ``monotone_pricing``)."""
    return tiling_tables(shape, hwp, (hwp.burst_bytes,), prune)[hwp.burst_bytes]


def tiling_tables(shape: ConvShape, hwp: HwParams, burst_sizes: tuple[int, ...],
                  prune: bool = True) -> dict[int, TilingTable]:
    """One table per burst size in ``burst_sizes`` (``hwp.burst_bytes`` among them), built once: the rows are
    shared and only ``dma_bursts`` differs. Rows are pruned (duplicates, dominated rows) only when that holds in
    every burst column, so each table is a superset of the single-burst ``tiling_table``; its extra rows are
    never chosen (each is equal to or dominated by a row of lower rank for its own burst size, which prices no
    worse and wins the tie-break), so ``best_row`` picks the same row."""
    if hwp.burst_bytes not in burst_sizes:
        raise ValueError(f"burst size {hwp.burst_bytes} not among {burst_sizes}")
    extra = tuple(sorted({b for b in burst_sizes if b != hwp.burst_bytes}))
    t, q = _candidates_steps(shape, hwp)
    orders = tuple(_orders(shape))
    ak, gh = acc_groups(t, hwp, shape)
    free, parts = _rows(shape, hwp, t, orders, prune, extra, q) if t["g"].size else ({}, [])
    cand = np.concatenate([p[2] for p in parts]) if parts else np.zeros(0, dtype=np.int64)
    order_index = np.concatenate([np.full(p[2].size, p[0]) for p in parts]) if parts else cand.copy()
    double = np.concatenate([np.full(p[2].size, p[1]) for p in parts]) if parts else np.zeros(0, dtype=bool)
    names = (*ORDER_DEPENDENT, *(f"dma_bursts@{b}" for b in extra), "footprint_words")
    cols = {k: np.concatenate([p[3][k] for p in parts]) if parts else cand.copy() for k in names}
    keep = _first_of_equal_rows([double.astype(np.int64), *cols.values()], list(free.values()), cand)
    grid = np.stack([t[d] for d in "gkchw"], axis=1) if t["g"].size else np.zeros((0, 5), dtype=np.int64)
    fp = cols.pop("footprint_words")
    dk = double[keep]
    keep = np.concatenate([keep[~dk], keep[dk]])  # single-buffered rows first (``TilingTable``), each in order
    by_burst = {hwp.burst_bytes: cols["dma_bursts"]} | {b: cols.pop(f"dma_bursts@{b}") for b in extra}
    sizes = grid[cand[keep]].astype(np.int32)
    group_k = (ak[cand[keep]] if t["g"].size else cand).astype(np.int32)
    group_h = (gh[cand[keep]] if t["g"].size else cand).astype(np.int32)
    oi, dbl, fpk = order_index[keep].astype(np.int8), double[keep], fp[keep].astype(np.int32)
    rank, single = keep.astype(np.int32), int(np.count_nonzero(~double[keep]))
    kept = {k: free[k][cand[keep]] if k in free else cols[k][keep] if k in cols else cand[keep]  # (no rows)
            for k in PRICED}
    shared = _compact(kept)  # all but dma_bursts is shared by the burst sizes' tables
    return {b: TilingTable(orders, sizes, group_k, group_h, oi, dbl,
                           shared | _compact({"dma_bursts": by_burst[b][keep]}, totals=False),
                           int(cand.size), fpk, hwp.capacity_words, rank, single)
            for b in (hwp.burst_bytes, *extra)}


BY_OPERAND = ("offchip_weight_bytes", "offchip_input_bytes", "offchip_output_bytes", "offchip_psum_read_bytes",
              "offchip_psum_write_bytes")


def _compact(c: dict[str, np.ndarray], totals: bool = True) -> dict[str, np.ndarray | int]:
    """The priced counts in fewer arrays, priced identically by ``cost.model``: off-chip bytes only as read
    (weights + inputs + psums) and write (outputs + psums) totals, whose integer sums are exact; a count equal on
    every row as one int. ``totals``: False for counts that are none of those (only the last step). The off-chip
    bytes per operand stay as ``tile_<operand>_bytes`` (``tile_psum_read_bytes``, ...), which the pricing does not
    read: ``choose.placement_tilings`` stages operands row by row."""
    out: dict[str, np.ndarray | int] = dict(c)
    if totals:
        for k in BY_OPERAND:  # kept apart for pricing a row with operands staged in outer levels
            out[f"tile_{k[len('offchip_'):]}"] = c[k]
        for total, parts in TOTALS.items():
            out[total] = sum(c[p] for p in parts)
        out["offchip_weight_bytes"] = (c["offchip_weight_bytes"] + c["offchip_input_bytes"]
                                       + c["offchip_psum_read_bytes"])
        out["offchip_output_bytes"] = c["offchip_output_bytes"] + c["offchip_psum_write_bytes"]
        for k in ("offchip_input_bytes", "offchip_psum_read_bytes", "offchip_psum_write_bytes"):
            out[k] = 0
    for k, v in out.items():
        if isinstance(v, np.ndarray) and v.size and v.min() == v.max():
            out[k] = int(v[0])
    return out

