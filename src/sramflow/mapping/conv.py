"""Convolution / Gemm schedules: tiling over (g, k, c, p) with closed-form counts.

Loops: g = group tiles, k = output-channel tiles within a group, c = input-channel tiles within a group
(the reduction; the kernel window is never split), p = output-pixel tiles (rows of tiles, then columns).
Operands depend on: weights {g, k, c}, inputs {g, c, p}, outputs {g, k, p}, bias {g, k}.
A tile stays resident in its buffer while only loops it does not depend on advance, so each operand is
reloaded once per iteration of every loop it does not depend on that encloses a loop it does depend on
(trip count > 1). The counts here are closed forms over the <= 32 classes of tile sizes (full / last
tile per dimension); they work on numpy arrays of candidates (search) and on scalars (reports).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from sramflow.mapping.counts import Counts, ceil_div
from sramflow.mapping.schedule import Buffer

LOOPS = ("g", "k", "c", "p")
RELEVANT = {"weights": "gkc", "inputs": "gcp", "outputs": "gkp", "bias": "gk"}
BIAS_BYTES = 4  # int32
PSUM_BYTES = 4  # int32 partial sums when spilled


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
        return self.groups * self.k_per_group * self.c_per_group * self.kernel_h * self.kernel_w

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
    total = 0
    for o0 in range(0, out_n, tile):
        o1 = min(o0 + tile, out_n)
        lo = o0 * stride - pad
        hi = lo + (o1 - o0 - 1) * stride + span
        total += max(0, min(hi, in_n) - max(lo, 0))
    return total


@dataclass(frozen=True)
class ConvTiling:
    tile_g: int
    tile_k: int
    tile_c: int
    tile_h: int
    tile_w: int
    order: tuple[str, ...]  # tile loops, outermost first (a permutation of LOOPS)
    double_buffered: bool

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


def trips(shape: ConvShape, t: dict):  # noqa: ANN201 - trip counts per loop (arrays or ints)
    e = shape.extents
    n = {d: ceil_div(e[d], t[d]) for d in "gkchw"}
    n["p"] = n["h"] * n["w"]
    return n


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


def _classes(extent: int, tile):  # noqa: ANN001, ANN202 - [(size, count)] for full and last tiles
    n = ceil_div(extent, tile)
    return [(tile, n - 1), (extent - (n - 1) * tile, 1)]


def step_sizes(shape: ConvShape, hw: HwParams, s: dict) -> dict:
    """Per-step quantities for tiles of sizes ``s`` (ints or arrays)."""
    wb = hw.word_bytes
    rows, cols = shape.window_rows(s["h"]), shape.window_cols(s["w"])
    row_words = ceil_div(cols, wb)
    in_words = s["g"] * s["c"] * rows * row_words
    khw = shape.kernel_h * shape.kernel_w
    reuse = np.logical_or(khw == 1, rows * cols <= hw.register_window_bytes)
    out_n = s["g"] * s["k"] * s["h"] * s["w"]
    macs = out_n * s["c"] * khw
    return {
        "w_words": ceil_div(s["g"] * s["k"] * s["c"] * khw, wb),
        "i_words": in_words,
        "i_reads": np.where(reuse, in_words, khw * s["g"] * s["c"] * s["h"] * row_words),
        "b_words": ceil_div(s["g"] * s["k"] * BIAS_BYTES, wb) if shape.has_bias else 0 * s["k"],
        "o_words": ceil_div(out_n, wb),
        "p_words": ceil_div(out_n * PSUM_BYTES, wb),
        "macs": macs,
        "mac_cycles": ceil_div(macs, hw.macs_per_cycle),
    }


def class_sums(shape: ConvShape, hw: HwParams, t: dict) -> dict:
    """Sum over all steps (every (g, k, c, h, w) tile) of each per-step quantity."""
    e = shape.extents
    total: dict = {}
    for combo in itertools.product(*[_classes(e[d], t[d]) for d in "gkchw"]):
        cnt = 1
        for _, c in combo:
            cnt = cnt * c
        q = step_sizes(shape, hw, {d: sz for d, (sz, _) in zip("gkchw", combo)})
        for key, v in q.items():
            total[key] = total.get(key, 0) + cnt * v
    return total


def footprint_words(shape: ConvShape, hw: HwParams, t: dict, spill, double) -> dict:  # noqa: ANN001
    q = step_sizes(shape, hw, t)
    nbuf = np.where(double, 2, 1)
    out = np.where(spill, q["p_words"], q["o_words"])
    total = q["b_words"] + nbuf * (q["w_words"] + q["i_words"] + out)
    return {"bias": q["b_words"], "weights": q["w_words"], "inputs": q["i_words"], "outputs": out, "total": total}


def conv_counts(shape: ConvShape, hw: HwParams, t: dict, order: tuple[str, ...], clipped_in_bytes) -> dict:
    """Closed-form totals of a tiling (arrays over candidates or scalars). ``clipped_in_bytes``: the
    off-chip bytes of all distinct input tiles (groups x channels x clipped rows x clipped cols)."""
    n = trips(shape, t)
    cs = class_sums(shape, hw, t)
    spill = spills(order, n)
    steps = n["g"] * n["k"] * n["c"] * n["p"]
    out_tiles = n["g"] * n["k"] * n["p"]
    f_w = reload_factor(order, RELEVANT["weights"], n)
    f_i = reload_factor(order, RELEVANT["inputs"], n)
    f_b = reload_factor(tuple(x for x in order if x != "c"), RELEVANT["bias"], n)
    w_loads_words = f_w * cs["w_words"] // n["p"]
    i_loads_words = f_i * cs["i_words"] // n["k"]
    b_words_per_out = cs["b_words"] // (n["c"] * n["p"])  # sum over distinct bias tiles
    b_loads = f_b * n["g"] * n["k"] if shape.has_bias else 0 * n["k"]
    o_words = cs["o_words"] // n["c"]  # sum over distinct output tiles
    p_words = cs["p_words"] // n["c"]
    extra = np.where(spill, n["c"] - 1, 0)  # psum stores (= psum loads) per output tile
    out_bytes = shape.output_bytes
    return {
        "macs": cs["macs"],
        "mac_cycles": cs["mac_cycles"],
        "steps": steps,
        "spill": spill,
        "sram_reads_compute": cs["w_words"] + cs["i_reads"] + b_words_per_out * n["p"] + extra * p_words,
        "sram_writes_compute": o_words + extra * p_words,
        "sram_writes_dma": w_loads_words + i_loads_words + f_b * b_words_per_out + extra * p_words,
        "sram_reads_dma": o_words + extra * p_words,
        "offchip_weight_bytes": f_w * shape.weight_bytes + f_b * shape.bias_bytes,
        "offchip_input_bytes": f_i * clipped_in_bytes,
        "offchip_output_bytes": out_bytes + 0 * steps,
        "offchip_psum_read_bytes": extra * out_bytes * PSUM_BYTES,
        "offchip_psum_write_bytes": extra * out_bytes * PSUM_BYTES,
        "dma_transfers": f_w * n["g"] * n["k"] * n["c"] + f_i * n["g"] * n["c"] * n["p"] + b_loads
        + out_tiles * (1 + 2 * extra),
        "dma_loads": f_w * n["g"] * n["k"] * n["c"] + f_i * n["g"] * n["c"] * n["p"] + b_loads + out_tiles * extra,
    }


@dataclass(frozen=True)
class ConvSchedule:
    shape: ConvShape
    hw: HwParams
    tiling: ConvTiling
    buffers: tuple[Buffer, ...]
    spill_psums: bool

    @cached_property
    def counts(self) -> Counts:
        t = self.tiling.sizes()
        clipped = self.shape.groups * self.shape.c_per_group * self.shape.clipped_rows(t["h"]) \
            * self.shape.clipped_cols(t["w"])
        c = conv_counts(self.shape, self.hw, t, self.tiling.order, clipped)
        reg = c["macs"] if self.hw.register_window_bytes else 0
        return Counts(**{k: int(v) for k, v in c.items() if k != "spill"}, register_accesses=int(reg))

    @property
    def fits_whole(self) -> bool:
        """One tile per dimension: the whole layer is in the SRAM at once."""
        n = trips(self.shape, self.tiling.sizes())
        return all(int(n[d]) == 1 for d in "gkchw")

    def steps(self):  # noqa: ANN201 - generator of Step; see conv_steps
        from sramflow.mapping.conv_steps import conv_steps

        return conv_steps(self)
