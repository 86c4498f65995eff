"""Convolution / Gemm schedules: tiling over (g, k, c, p) with closed-form counts.

Loops: g = group tiles, k = output-channel tiles within a group, c = input-channel tiles within a group
(the reduction; the kernel window is never split), p = output-pixel tiles (rows of tiles, then columns).
Operands depend on: weights {g, k, c}, inputs {g, c, p}, outputs {g, k, p}, bias {g, k}.
A tile stays resident in its buffer while only loops it does not depend on advance, so each operand is
reloaded once per iteration of every loop it does not depend on that encloses a loop it does depend on
(trip count > 1). The counts here are closed forms over the <= 32 classes of tile sizes (full / last
tile per dimension); they work on numpy arrays of candidates (search) and on scalars (reports).

Accumulator groups: the array computes a step's output tile (g x k x h x w) in groups that fit the
accumulators, each doing the full reduction over the step's channels and kernel window: ``group_k`` output
channels x ``group_h`` whole tile rows (g x group_h x w pixels). A tile whose pixels fit the accumulators is
one pixel group (``group_h`` = its rows) and ``group_k`` = accumulators // pixels channels; a tile with more
pixels (its rows, g x w, must still fit) runs one channel at a time over groups of ``group_h`` =
accumulators // (g x w) rows. Per group the array reads its channels' weights and bias (so the weights once per
pixel group), its rows' input window (the window rows its output rows span, whole row words; neighbouring
groups' overlapping rows are re-read from the SRAM, never re-fetched) and its partial sums, and writes its
outputs (int8, or exact partial sums of ``ConvShape.psum_bytes``) to its own word-aligned block of the output
buffer; MAC cycles are rounded per group.
"""

from __future__ import annotations

import dataclasses
import itertools
import threading
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from sramflow.cost.counts import Counts, ceil_div
from sramflow.errors import MappingError

LOOPS = ("g", "k", "c", "p")
RELEVANT = {"weights": "gkc", "inputs": "gcp", "outputs": "gkp", "bias": "gk"}
BIAS_BYTES = 4  # int32
PSUM_BYTES = 4  # the widest partial sum: int32
PSUM_TERM_BOUND = 255 * 128  # |x - zero point| <= 255 (int8 input and zero point), |w| <= 128 (int8 weight)
WEIGHT_BITS = (8, 4)


@dataclass(frozen=True)
class ConvShape:
    """One (grouped) convolution; Gemm is a 1x1 convolution on a 1x1 image."""

    name: str
    groups: int
    k_per_group: int
    c_per_group: int
    in_h: int
    in_w: int
    out_h: int
    out_w: int
    kernel_h: int
    kernel_w: int
    stride_h: int
    stride_w: int
    pad_top: int
    pad_left: int
    dilation_h: int = 1
    dilation_w: int = 1
    has_bias: bool = True
    pool_op: str = ""  # "" for a MAC-array convolution; "max" / "avg": pooling on the vector unit, no weights
    weight_bits: int = 8  # 8, or 4: two weights per byte (packed in off-chip memory and in the SRAM)
    # epilogue fusion (``mapping.epilogue``): vector-unit ops and table look-ups per output element of the
    # element-wise chain applied on the output path (0, 0: none); the tiling's counts do not depend on them
    epilogue_ops: int = 0
    epilogue_lut: int = 0
    # vector-unit ops per input element loaded when an SE channel scale is applied on the input path (0: none)
    input_scale_ops: int = 0
    # a residual Add on the output path (``mapping.epilogue``): before the last reduction step of each output tile
    # the skip tile (int8, the output tile's region and word layout) is loaded into the output buffer, and the
    # vector unit reads it, adds the requantized outputs (its ADD ops are in ``epilogue_ops``) and writes the sum
    # over it; the buffer footprint is unchanged
    residual: bool = False
    # vector-unit ops and look-ups per output element of an activation applied after that residual Add (ResNet's
    # Add -> ReLU, ``ir.fusion.residual_activations``); counted only with ``residual``
    residual_act_ops: int = 0
    residual_act_lut: int = 0

    def __post_init__(self) -> None:
        if self.weight_bits not in WEIGHT_BITS:
            raise MappingError(f"layer {self.name!r}: weight_bits must be one of {WEIGHT_BITS}, got {self.weight_bits}")

    @property
    def span_h(self) -> int:  # dilated kernel extent
        return (self.kernel_h - 1) * self.dilation_h + 1

    @property
    def span_w(self) -> int:
        return (self.kernel_w - 1) * self.dilation_w + 1

    @property
    def extents(self) -> dict[str, int]:
        return {"g": self.groups, "k": self.k_per_group, "c": self.c_per_group, "h": self.out_h, "w": self.out_w}

    @property
    def macs(self) -> int:
        return self.groups * self.k_per_group * self.c_per_group * self.kernel_h * self.kernel_w * self.out_h * self.out_w

    @property
    def weight_bytes(self) -> int:
        """Packed weight bytes: ceil(elements x weight_bits / 8)."""
        if self.pool_op:
            return 0
        return ceil_div(self.groups * self.k_per_group * self.c_per_group * self.kernel_h * self.kernel_w
                        * self.weight_bits, 8)

    @property
    def psum_bytes(self) -> int:
        """Bytes of an exact partial sum in the SRAM or off-chip (two's complement, little-endian). Partial sums
        never include the bias (the accumulators add it at the last reduction step), so one is a sum of at most
        n = c_per_group x kh x kw products with |product| <= ``PSUM_TERM_BOUND``: the fewest whole bytes that
        hold n x 32,640 with its sign (3 bytes up to n = 257), at most int32."""
        n = self.c_per_group * self.kernel_h * self.kernel_w
        return min(PSUM_BYTES, ceil_div((n * PSUM_TERM_BOUND).bit_length() + 1, 8))

    @property
    def bias_bytes(self) -> int:
        return self.groups * self.k_per_group * BIAS_BYTES if self.has_bias else 0

    @property
    def input_bytes(self) -> int:
        return self.groups * self.c_per_group * self.in_h * self.in_w

    @property
    def output_bytes(self) -> int:
        return self.groups * self.k_per_group * self.out_h * self.out_w

    def window_rows(self, rows):  # noqa: ANN001, ANN201 - input rows (padded window) for `rows` output rows
        return (rows - 1) * self.stride_h + self.span_h

    def window_cols(self, cols):  # noqa: ANN001, ANN201
        return (cols - 1) * self.stride_w + self.span_w

    def clipped_rows(self, tile_h: int) -> int:
        """Sum over row tiles of the input rows actually inside the image (what off-chip loads fetch)."""
        return _clipped_sum(self.out_h, tile_h, self.stride_h, self.span_h, self.pad_top, self.in_h)

    def clipped_cols(self, tile_w: int) -> int:
        return _clipped_sum(self.out_w, tile_w, self.stride_w, self.span_w, self.pad_left, self.in_w)


def _clipped_sum(out_n: int, tile: int, stride: int, span: int, pad: int, in_n: int) -> int:
    return sum(clipped_list(out_n, tile, stride, span, pad, in_n))


def clipped_list(out_n: int, tile: int, stride: int, span: int, pad: int, in_n: int) -> list[int]:
    out = []
    for o0 in range(0, out_n, tile):
        o1 = min(o0 + tile, out_n)
        lo = o0 * stride - pad
        hi = lo + (o1 - o0 - 1) * stride + span
        out.append(max(0, min(hi, in_n) - max(lo, 0)))
    return out


@lru_cache(maxsize=4096)
def balanced_sizes(extent: int) -> tuple[int, ...]:
    """The tile sizes ceil(extent / n) for n = 1..extent: any other size has the same tile count as one of them
    and needs no less storage (see ``mapping.search.tiling_table``)."""
    return tuple(sorted({-(-extent // n) for n in range(1, extent + 1)}))


@dataclass(frozen=True)
class ConvTiling:
    tile_g: int
    tile_k: int
    tile_c: int
    tile_h: int
    tile_w: int
    order: tuple[str, ...]  # tile loops, outermost first (a permutation of LOOPS)
    double_buffered: bool
    acc_k: int = 0  # output channels per accumulator group (0: the whole k tile, one group per step)
    acc_h: int = 0  # tile rows per accumulator group (0: all the tile's rows, one pixel group per step)

    @property
    def group_k(self) -> int:
        return self.acc_k or self.tile_k

    @property
    def group_h(self) -> int:
        return self.acc_h or self.tile_h

    def sizes(self) -> dict[str, int]:
        return {"g": self.tile_g, "k": self.tile_k, "c": self.tile_c, "h": self.tile_h, "w": self.tile_w}


@dataclass(frozen=True)
class HwParams:
    """The few hardware numbers the counts depend on."""

    word_bytes: int
    macs_per_cycle: int
    accumulators: int
    register_window_bytes: int  # per-channel input window the array can hold in registers (0: none)
    capacity_words: int
    double_buffering: bool
    burst_bytes: int = 0  # off-chip bytes per transaction (0: one transaction per DMA transfer)
    # the hardware's mac_array.input_register_bytes (see search.tiling_table.hw_params): the array can hold one input
    # window row of up to this many bytes and apply every kernel column to it (a row is read from the SRAM once
    # per kernel row instead of once per kernel offset); 0: no such registers
    input_row_bytes: int = 0


def trips(shape: ConvShape, t: dict):  # noqa: ANN201 - trip counts per loop (arrays or ints)
    e = shape.extents
    n = {d: _trips_of(e[d])[t[d]] if isinstance(t[d], np.ndarray) and t[d].size >= LOOKUP_MIN else ceil_div(e[d], t[d])
         for d in "gkchw"}
    n["p"] = n["h"] * n["w"]
    return n


LOOKUP_MIN = 256  # from this many tiles a look-up of each tile size's trips is faster than dividing


@lru_cache(maxsize=1024)
def _trips_of(extent: int) -> np.ndarray:
    """ceil(extent / size) at index size (1..extent; index 0 unused)."""
    lut = ceil_div(extent, np.maximum(np.arange(extent + 1, dtype=np.int64), 1))
    lut.flags.writeable = False
    return lut


def reload_factor(order: tuple[str, ...], relevant: str, n: dict):  # noqa: ANN201
    """How many times each distinct tile of an operand is loaded under loop ``order``."""
    factor = 1
    for i, loop in enumerate(order):
        if loop in relevant:
            continue
        inner = [n[r] > 1 for r in order[i + 1:] if r in relevant]
        if inner:
            factor = factor * np.where(np.logical_or.reduce(inner), n[loop], 1) if len(inner) > 1 else \
                factor * np.where(inner[0], n[loop], 1)
    return factor


def spills(order: tuple[str, ...], n: dict):  # noqa: ANN201
    """Partial sums leave the accumulators when the reduction loop encloses an output loop with trips > 1."""
    i = order.index("c")
    inner = [n[r] > 1 for r in order[i + 1:] if r in RELEVANT["outputs"]]
    if not inner:
        return np.zeros_like(n["c"] > 1)
    return np.logical_and(n["c"] > 1, np.logical_or.reduce(inner))


def keeps(order: tuple[str, ...], n: dict, t: dict, ak, gh=None):  # noqa: ANN001, ANN201
    """Partial sums stay in the SRAM (the output buffer) across reduction tiles: the reduction is tiled,
    the output tile stays resident across it (no spill) and it holds more than one accumulator group (``ak``
    channels x ``gh`` rows; None: all rows), so the accumulators cannot carry it from one reduction step to the
    next. Each later reduction step reads a group's psums back into the accumulators and, unless it is the
    last, writes them again (read-modify-write through the port)."""
    groups = np.asarray(ak) < t["k"]
    if gh is not None:
        groups = np.logical_or(groups, np.asarray(gh) < t["h"])
    return np.logical_and(np.logical_and(n["c"] > 1, np.logical_not(spills(order, n))), groups)


def _classes(extent: int, tile):  # noqa: ANN001, ANN202 - [(size, count)] for full and last tiles
    n = ceil_div(extent, tile)
    return [(tile, n - 1), (extent - (n - 1) * tile, 1)]


def bursts(nbytes, burst_bytes: int):  # noqa: ANN001, ANN201 - off-chip transactions of one DMA transfer
    if burst_bytes <= 0:
        return 1 + 0 * nbytes
    return np.maximum(ceil_div(nbytes, burst_bytes), 1)


def grouped_words(per_k, k, ak, wb: int, bits: int = 8):  # noqa: ANN001, ANN201
    """Words of a tile split along k into groups of ``ak`` channels, each group starting on a word; ``per_k``
    elements of ``bits`` bits (8: bytes) per channel, packed."""
    kg = ceil_div(k, ak)
    last = k - (kg - 1) * ak
    return (kg - 1) * ceil_div(ak * per_k * bits, 8 * wb) + ceil_div(last * per_k * bits, 8 * wb)


def group_classes(extent, size) -> list:  # noqa: ANN001 - [(size, count)] of full groups and the last one
    n = ceil_div(extent, size)
    return [(size, n - 1), (extent - (n - 1) * size, 1)]


def block_words(kcls: list, hcls: list, per_row_elems, element_bytes: int, wb: int):  # noqa: ANN001, ANN201
    """Words of an output / partial-sum tile stored as one word-aligned block per accumulator group: ``kcls`` /
    ``hcls`` the (size, count) classes of its k and row groups, ``per_row_elems`` elements per channel and row."""
    return _per_group_sum(_group_outputs(kcls, hcls, per_row_elems), lambda n: ceil_div(n * element_bytes, wb))


def _group_outputs(kcls: list, hcls: list, per_row_elems) -> list:  # noqa: ANN001
    """[(outputs of one group, number of such groups)] over the (k class, row class) combinations."""
    return [(ks * hs * per_row_elems, kn * hn) for ks, kn in kcls for hs, hn in hcls]


def _per_group_sum(groups: list, f):  # noqa: ANN001, ANN202 - sum over groups of f(outputs of the group)
    return sum(n * f(x) for x, n in groups if np.ndim(n) or n)  # (a scalar count of 0 adds nothing)


def packed_window(shape: ConvShape, hw: HwParams, h, cols, gh=None):  # noqa: ANN001, ANN201
    """Whether the input window of a step with ``h`` output rows and ``cols`` window columns is stored packed
    (its (g, c, row, col) bytes consecutive, rows not word-aligned; ``mapping.layout``): exactly when every
    accumulator group reads the whole window once, i.e. the step is one row group (``gh`` None or at least
    ``h``) and the group reads its window rows once (a 1x1 kernel, or a window that fits the register file).
    Then packing only removes the pad bytes of row-aligned rows, from the SRAM footprint, the DMA writes and the
    compute reads alike; otherwise groups read single window rows and row-aligned rows keep each row read to
    its own words."""
    one = True if gh is None else np.asarray(h) <= gh
    reuse = np.logical_or(shape.kernel_h * shape.kernel_w == 1, shape.window_rows(h) * cols <= hw.register_window_bytes)
    return np.logical_and(one, reuse)


def step_sizes(shape: ConvShape, hw: HwParams, s: dict, ak=None, gh=None) -> dict:  # noqa: ANN001
    """Per-step quantities for tiles of sizes ``s`` (ints or arrays); ``ak``: output channels per accumulator
    group (None: the whole k tile), ``gh``: tile rows per accumulator group (None: all rows). The array
    computes the step's output tile one (k group, row group) at a time, each with the full reduction over the
    step's channels: per group it reads that group's weights and bias, the input window rows its output rows
    span (whole, once per kernel row or once per kernel offset, see ``mapping``), and its partial sums."""
    wb = hw.word_bytes
    ak = s["k"] if ak is None else ak
    kcls = group_classes(s["k"], ak)
    hcls = [(s["h"], 1)] if gh is None else group_classes(s["h"], gh)  # one row group: the tile's rows
    kg, ph = kcls[0][1] + 1, (1 if gh is None else hcls[0][1] + 1)  # k groups, row (pixel) groups per step
    rows, cols = shape.window_rows(s["h"]), shape.window_cols(s["w"])
    row_words = ceil_div(cols, wb)
    khw = shape.kernel_h * shape.kernel_w
    packed = packed_window(shape, hw, s["h"], cols, gh)
    in_words = np.where(packed, ceil_div(s["g"] * s["c"] * rows * cols, wb), s["g"] * s["c"] * rows * row_words)

    def rows_read(r):  # noqa: ANN001, ANN202 - window rows one group of r output rows reads per channel
        reuse = np.logical_or(khw == 1, shape.window_rows(r) * cols <= hw.register_window_bytes)
        return np.where(reuse, shape.window_rows(r), np.where(cols <= hw.input_row_bytes, shape.kernel_h, khw) * r)

    pix = s["g"] * s["h"] * s["w"]
    out_n = pix * s["k"]
    avg = 1 if shape.pool_op == "avg" else 0  # average pool: one requantize per output
    macs = out_n * (s["c"] * khw + avg)
    w_per_k = 0 if shape.pool_op else s["g"] * s["c"] * khw
    b_per_k = s["g"] * BIAS_BYTES if shape.has_bias else 0 * s["g"]
    w_words = grouped_words(w_per_k, s["k"], ak, wb, shape.weight_bits)
    b_words = grouped_words(b_per_k, s["k"], ak, wb)
    gw = s["g"] * s["w"]
    groups = _group_outputs(kcls, hcls, gw)
    return {
        "w_words": w_words,
        "w_reads": ph * w_words,
        "w_bytes": ceil_div(s["k"] * w_per_k * shape.weight_bits, 8),  # packed off-chip bytes of the tile
        "i_words": in_words,
        "i_reads": kg * np.where(packed, in_words,  # a packed window is read whole, once per k group
                                 s["g"] * s["c"] * row_words * sum(hn * rows_read(hs) for hs, hn in hcls)),
        "b_words": b_words,
        "b_reads": ph * b_words,  # each group adds its bias at the last reduction step
        "o_words": _per_group_sum(groups, lambda n: ceil_div(n, wb)),
        "p_words": _per_group_sum(groups, lambda n: ceil_div(n * shape.psum_bytes, wb)),
        "macs": macs,
        "mac_cycles": _per_group_sum(groups, lambda n: ceil_div(n * (s["c"] * khw + avg), hw.macs_per_cycle)),
        "w_bursts": bursts(ceil_div(s["k"] * w_per_k * shape.weight_bits, 8), hw.burst_bytes) * (w_per_k > 0),
        "b_bursts": bursts(s["k"] * b_per_k, hw.burst_bytes) * (b_per_k > 0),
        "o_bursts": bursts(out_n, hw.burst_bytes),
        "p_bursts": bursts(out_n * shape.psum_bytes, hw.burst_bytes),
    }


def tile_classes(shape: ConvShape, t: dict, merge: bool = False) -> tuple[dict, dict, dict]:
    """Per loop dimension: (sizes, counts) of its two tile classes (full tiles, the last tile) on five
    broadcast axes (one per dimension, candidates after them), and its trip count. ``merge``: a dimension
    whose last tile has the full size for every candidate has one class instead (its axis of size 1, its size
    the tile's, weighted by the trip count in ``weighted_class_sums``): the same sums, half the work."""
    e = shape.extents
    sizes, counts, trip = {}, {}, {}
    for i, d in enumerate("gkchw"):
        tile = np.asarray(t[d])
        n = ceil_div(e[d], tile)
        last = e[d] - (n - 1) * tile
        shp = [1] * 5 + list(tile.shape)
        trip[d] = n
        if merge and np.array_equal(last, tile):
            sizes[d], counts[d] = tile.reshape(shp), n.reshape(shp)
            continue
        shp[i] = 2
        sizes[d] = np.stack([tile, last]).reshape(shp)
        counts[d] = np.stack([n - 1, np.ones_like(n)]).reshape(shp)
    return sizes, counts, trip


def class_sums(shape: ConvShape, hw: HwParams, t: dict, ak=None, gh=None) -> dict:  # noqa: ANN001
    """Sum over all steps (every (g, k, c, h, w) tile) of each per-step quantity. The 2^5 classes (full or
    last tile per dimension) sit on five broadcast axes; a quantity that does not depend on a dimension is
    priced once and weighted by that dimension's trip count instead of its class counts."""
    sizes, counts, trip = tile_classes(shape, t)
    q = step_sizes(shape, hw, sizes, ak, gh)
    return weighted_class_sums(q, counts, trip)


def weighted_class_sums(q: dict, counts: dict, trip: dict) -> dict:
    """Sum each per-step quantity over the tile classes of ``tile_classes``: a quantity that depends on a
    dimension (class axis of size 2) is weighted by the class counts, otherwise by the trip count. The class
    axes are contracted one at a time (full tiles x their count + last tile x its count), the trip counts of
    the other dimensions multiplied in once at the end (integers: the same sums as weighting every class)."""
    out, trips_of = {}, {}
    for key, v in q.items():
        v = np.asarray(v)
        if v.ndim < 5:  # not on the class axes (a scalar): every step has it
            sig = tuple(v.ndim > i and v.shape[i] == 2 for i in range(5))
            w = 1
            for d, on in zip("gkchw", sig):
                w = w * (counts[d] if on else trip[d])
            prod = np.asarray(w * v)
            out[key] = prod.sum(axis=tuple(range(min(5, prod.ndim)))) if prod.ndim else prod
            continue
        sig = tuple(v.shape[i] == 2 for i in range(5))  # the class axes this quantity has
        if sig not in trips_of:  # quantities on the same class axes share the trip weights
            w = 1
            for d, on in zip("gkchw", sig):
                if not on:
                    w = w * trip[d]
            trips_of[sig] = w
        for i, d in enumerate("gkchw"):  # axis i is now the leading one
            c = counts[d]
            if sig[i]:
                c = c.reshape((2,) + (1,) * (4 - i) + c.shape[5:])
                v = v[0] * c[0] + v[1] * c[1]
            else:
                v = v[0]
        out[key] = trips_of[sig] * v
    return out


def footprint_words(shape: ConvShape, hw: HwParams, t: dict, spill, double, ak=None, gh=None) -> dict:  # noqa: ANN001
    q = step_sizes(shape, hw, t, ak, gh)
    out = np.where(spill, q["p_words"], q["o_words"])
    total = buffer_words(q, trips(shape, t) if np.any(double) else None, out, double)
    return {"bias": q["b_words"], "weights": q["w_words"], "inputs": q["i_words"], "outputs": out, "total": total}


def buffer_words(q: dict, n: dict | None, out, double):  # noqa: ANN001, ANN201
    """Words of a step's buffers (``step_sizes`` ``q``, trips ``n``; ``out``: output or partial-sum words): the
    bias once; weights, inputs and outputs twice under ``double`` buffering where the operand has more than one
    tile, else once (a tile loaded once, before the first step, has no next tile to prefetch into a second
    slot). ``n`` may be None where nothing is double-buffered (the hot single-buffer footprints skip the trips)."""
    total = q["b_words"]
    if not np.any(double):
        return total + q["w_words"] + q["i_words"] + out
    for words, operand in ((q["w_words"], "weights"), (q["i_words"], "inputs"), (out, "outputs")):
        total = total + np.where(np.logical_and(double, several_tiles(n, operand)), 2, 1) * words
    return total


def several_tiles(n: dict, operand: str):  # noqa: ANN201
    """Whether ``operand`` ("weights", "inputs" or "outputs") has more than one distinct tile under trips ``n``."""
    count = 1
    for loop in RELEVANT[operand]:
        count = count * n[loop]
    return count > 1


# Per-step quantities summed over the distinct tiles of their operand (``tile_sums``): the sum over all steps
# divided by the trip counts of the loops the operand does not depend on (the steps that revisit a tile).
TILE_SUM_DIVISORS = {"w_words": ("p",), "w_bytes": ("p",), "w_bursts": ("p",), "i_words": ("k",),
                     "b_words": ("c", "p"), "b_bursts": ("c", "p"), "b_reads": ("c",), "o_words": ("c",),
                     "p_words": ("c",), "o_bursts": ("c",), "p_bursts": ("c",)}


def tile_sums(n: dict, cs: dict) -> dict:
    """The loop-order independent sums over distinct tiles of ``conv_counts``, from the class sums ``cs`` (those of
    its keys in ``TILE_SUM_DIVISORS``) and the trip counts ``n``. Exact: a quantity that does not depend on a
    loop is summed with that loop's trip count as a factor (``weighted_class_sums``)."""
    out = {}
    for k, loops in TILE_SUM_DIVISORS.items():
        if k in cs:
            div = 1
            for loop in loops:
                div = div * n[loop]
            out[k] = cs[k] // div
    return out


def conv_counts(shape: ConvShape, hw: HwParams, t: dict, order: tuple[str, ...], clipped_in_bytes,
                in_bursts=None, ak=None, cs=None, gh=None, n=None, ts=None, factors=None,
                priced_only: bool = False) -> dict:  # noqa: ANN001
    """Closed-form totals of a tiling (arrays over candidates or scalars). ``clipped_in_bytes``: the
    off-chip bytes of all distinct input tiles (groups x channels x clipped rows x clipped cols);
    ``in_bursts``: their off-chip transactions (None: one per tile); ``ak`` / ``gh``: k / rows per accumulator
    group; ``cs``: ``class_sums`` of these tiles if already computed, ``n``: their ``trips``, ``ts``: their
    ``tile_sums`` (none of them depends on the loop order). ``factors``: (weight, input, bias reload factors,
    spill, keep) in place of those of ``order``; every count grows with each of them (non-negative terms), so
    (1, 1, 1, False, False) gives a lower bound of every loop order's counts (``search.bounded``).
    ``priced_only``: without the counts the pricing does not read (steps, DMA transfers and loads), and a count
    equal for every tile stays one int (the bounded search's bounds)."""
    n = trips(shape, t) if n is None else n
    cs = class_sums(shape, hw, t, ak, gh) if cs is None else cs
    ts = tile_sums(n, cs) if ts is None else ts
    if factors is None:
        spill = spills(order, n)
        keep = keeps(order, n, t, t["k"] if ak is None else ak, gh)
        f_w = reload_factor(order, RELEVANT["weights"], n)
        f_i = reload_factor(order, RELEVANT["inputs"], n)
        f_b = reload_factor(tuple(x for x in order if x != "c"), RELEVANT["bias"], n)
    else:
        f_w, f_i, f_b, spill, keep = factors
    p_words = ts["p_words"]
    # psum stores (= psum loads) per output tile; psum reads (= psum writes) in the SRAM per output tile, no DMA
    # (a bound's factors give False: 0, so no array of zeros is built for every candidate)
    extra = 0 if spill is False else np.where(spill, n["c"] - 1, 0)
    rmw = 0 if keep is False else np.where(keep, n["c"] - 1, 0)
    spilled = extra * p_words
    psums = spilled if keep is False else (extra + rmw) * p_words  # spilled and kept partial sums, SRAM side
    out_bytes = shape.output_bytes
    in_tiles = n["g"] * n["c"] * n["p"]
    priced = {
        "sram_reads_compute": cs["w_reads"] + cs["i_reads"] + ts["b_reads"] + psums,  # bias: last reduction step
        "sram_writes_compute": ts["o_words"] + psums,
        "sram_writes_dma": _times(f_w, ts["w_words"]) + _times(f_i, ts["i_words"]) + _times(f_b, ts["b_words"])
        + spilled,
        "sram_reads_dma": ts["o_words"] + spilled,
        "offchip_weight_bytes": _times(f_w, ts["w_bytes"]) + _times(f_b, shape.bias_bytes),
        "offchip_input_bytes": _times(f_i, clipped_in_bytes),
        "offchip_output_bytes": out_bytes,
        "offchip_psum_read_bytes": extra * out_bytes * shape.psum_bytes,
        "offchip_psum_write_bytes": extra * out_bytes * shape.psum_bytes,
    }
    bursts_ = _dma_bursts(shape, n, ts, in_tiles if in_bursts is None else in_bursts, (f_w, f_i, f_b), extra)
    if priced_only:
        return {"macs": cs["macs"], "mac_cycles": cs["mac_cycles"]} | priced | {"dma_bursts": bursts_}
    steps = n["g"] * n["k"] * n["c"] * n["p"]
    out_tiles = n["g"] * n["k"] * n["p"]
    b_loads = f_b * n["g"] * n["k"] if shape.has_bias else 0 * n["k"]
    w_tiles = n["g"] * n["k"] * n["c"] if shape.weight_bytes else 0 * n["k"]
    priced["offchip_output_bytes"] = out_bytes + 0 * steps
    return {"macs": cs["macs"], "mac_cycles": cs["mac_cycles"], "steps": steps, "spill": spill, "keep": keep} \
        | priced | {
        "dma_transfers": f_w * w_tiles + f_i * in_tiles + b_loads + out_tiles * (1 + 2 * extra),
        "dma_loads": f_w * w_tiles + f_i * in_tiles + b_loads + out_tiles * extra,
        "dma_bursts": bursts_,
    }


def _times(factor, x):  # noqa: ANN001, ANN202
    """``factor * x``; a reload factor of the int 1 (a bound's) returns ``x`` itself (no copy of an array)."""
    return x if type(factor) is int and factor == 1 else factor * x


def _dma_bursts(shape: ConvShape, n: dict, ts: dict, in_b, f: tuple, extra):  # noqa: ANN001, ANN202
    """Off-chip transactions of all transfers: ``ts`` the burst ``tile_sums``, ``f`` the weight, input and bias
    reload factors, ``extra`` the psum spills per output tile, ``in_b`` the transactions of all distinct input
    tiles."""
    by = _bursts_by_operand(shape, n, ts, in_b, f, extra)
    return by["weights"] + by["inputs"] + by["outputs"] + by["psums"]


def _bursts_by_operand(shape: ConvShape, n: dict, ts: dict, in_b, f: tuple, extra) -> dict:  # noqa: ANN001
    f_w, f_i, f_b = f
    w_b = ts["w_bursts"] if shape.weight_bytes else 0 * n["k"]
    b_b = ts["b_bursts"] if shape.has_bias else 0 * n["k"]
    return {"weights": f_w * w_b + f_b * b_b, "inputs": f_i * in_b, "outputs": ts["o_bursts"],
            "psums": 2 * extra * ts["p_bursts"]}


def dma_bursts_by_operand(shape: ConvShape, hw: HwParams, tiling: ConvTiling) -> dict[str, int]:
    """``schedule_counts(...).dma_bursts`` split by operand (weights with their biases, inputs, outputs, partial
    sums): what a level between the SRAM and off-chip memory takes off the link when it holds an operand."""
    return dict(_dma_bursts_by_operand(dataclasses.replace(shape, name=""), hw, tiling))


@lru_cache(maxsize=1 << 14)
def _dma_bursts_by_operand(shape: ConvShape, hw: HwParams, tiling: ConvTiling) -> tuple[tuple[str, int], ...]:
    """Memoized (as ``schedule_counts``): the staging search prices each searched tiling's placements, and depth-first
    parts repeat tilings."""
    t = tiling.sizes()
    n = trips(shape, t)
    ts = tile_sums(n, class_sums(shape, hw, t, tiling.group_k, tiling.group_h))
    order = tiling.order
    f = (reload_factor(order, RELEVANT["weights"], n), reload_factor(order, RELEVANT["inputs"], n),
         reload_factor(tuple(x for x in order if x != "c"), RELEVANT["bias"], n))
    by = _bursts_by_operand(shape, n, ts, input_bursts(shape, t, hw.burst_bytes), f,
                            np.where(spills(order, n), n["c"] - 1, 0))
    return tuple((k, int(v)) for k, v in by.items())


def order_dma_bursts(shape: ConvShape, t: dict, order: tuple[str, ...], cs: dict, in_bursts,  # noqa: ANN001, ANN201
                     n=None, ts=None):
    """``conv_counts(...)["dma_bursts"]`` alone (what another burst size changes), from the burst sums ``cs``
    (or their ``tile_sums`` ``ts``); ``n``: the ``trips`` if already computed."""
    n = trips(shape, t) if n is None else n
    ts = tile_sums(n, cs) if ts is None else ts
    f = (reload_factor(order, RELEVANT["weights"], n), reload_factor(order, RELEVANT["inputs"], n),
         reload_factor(tuple(x for x in order if x != "c"), RELEVANT["bias"], n))
    return _dma_bursts(shape, n, ts, in_bursts, f, np.where(spills(order, n), n["c"] - 1, 0))


def input_bursts(shape: ConvShape, t: dict, burst_bytes: int) -> int:
    """Off-chip transactions of all distinct input tiles: each tile's clipped window split into bursts."""
    n = trips(shape, t)
    if burst_bytes <= 0:
        return int(n["g"] * n["c"] * n["p"])
    rows = np.array(clipped_list(shape.out_h, t["h"], shape.stride_h, shape.span_h, shape.pad_top, shape.in_h))
    cols = np.array(clipped_list(shape.out_w, t["w"], shape.stride_w, shape.span_w, shape.pad_left, shape.in_w))
    area = np.outer(rows, cols)
    total = 0
    for (gs, gn), (cs_, cn) in itertools.product(_classes(shape.groups, t["g"]), _classes(shape.c_per_group, t["c"])):
        total += gn * cn * int(bursts(gs * cs_ * area, burst_bytes).sum())
    return total


def unit_counts(shape: ConvShape, hw: HwParams, c: dict) -> dict:
    """Counts dict in ``Counts`` terms: pooling runs on the vector unit (its taps are vector ops)."""
    out = {k: v for k, v in c.items() if k not in ("spill", "keep")}
    zero = 0 * out["macs"]
    if shape.pool_op:
        out.update(vector_ops=out.pop("macs"), vector_cycles=out.pop("mac_cycles"), macs=zero, mac_cycles=zero,
                   lut_ops=zero, register_accesses=zero)
    else:
        out.update(vector_ops=zero, vector_cycles=zero, lut_ops=zero,
                   register_accesses=out["macs"] if hw.register_window_bytes else zero)
    return out


_COUNTS: dict[tuple, Counts] = {}  # (shape without its name, hw, tiling) -> counts, oldest first
COUNTS_KEPT = 1 << 16
_COUNTS_LOCK = threading.Lock()  # threads of a Dask worker share the memo


def schedule_counts(shape: ConvShape, hw: HwParams, tiling: ConvTiling) -> Counts:
    """Closed-form counts of one tiling (memoized: a sweep prices the same schedules at many points, and the
    bounded search leaves the counts it priced its choice at, ``remember_counts``)."""
    key = (shape, hw, tiling)
    got = _COUNTS.get(key)
    if got is None:
        t = tiling.sizes()
        clipped = shape.groups * shape.c_per_group * shape.clipped_rows(t["h"]) * shape.clipped_cols(t["w"])
        c = conv_counts(shape, hw, t, tiling.order, clipped, input_bursts(shape, t, hw.burst_bytes),
                        tiling.group_k, gh=tiling.group_h)
        got = Counts(**{k: int(v) for k, v in unit_counts(shape, hw, c).items()})
        remember_counts(shape, hw, tiling, got)
    return got


def remember_counts(shape: ConvShape, hw: HwParams, tiling: ConvTiling, counts: Counts) -> None:
    """Memoizes ``counts`` as ``schedule_counts(shape, hw, tiling)``: for a caller that computed the same closed
    form on arrays (``search.bounded``; tests/test_mapping_search_bounded.py checks they are equal)."""
    with _COUNTS_LOCK:
        _COUNTS[(shape, hw, tiling)] = counts
        while len(_COUNTS) > COUNTS_KEPT:
            del _COUNTS[next(iter(_COUNTS))]


def _forget_counts() -> None:
    with _COUNTS_LOCK:
        _COUNTS.clear()


schedule_counts.cache_clear = _forget_counts  # type: ignore[attr-defined]  # as ``functools.lru_cache``'s
