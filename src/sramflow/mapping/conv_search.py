"""Exhaustive search over convolution tilings, vectorized with numpy, deterministic.

Search space: tile sizes per loop dimension (g, k, c, h, w), loop orders (permutations of the loops with
more than one tile), single or double buffering. The output tile's pixels (g x h x w) are bounded by the
accumulators; its k extent is not: the array computes it in groups of ``acc_k = accumulators // pixels``
output channels (each group re-reads the input window, see ``conv.step_sizes``), so a tile holding more
outputs than accumulators trades SRAM reads for fewer off-chip reloads. Tile sizes are restricted to the balanced values
ceil(N / n): any other size t has the same tile count as t' = ceil(N / ceil(N / t)) <= t, hence the same
reload factors, and loads no more bytes and needs no more SRAM with t' (only the per-step rounding of MAC
cycles can differ, by less than one cycle per step). Ties are broken by the other metric, then by enumeration order.
"""

from __future__ import annotations

import itertools
from functools import lru_cache

import numpy as np

from sramflow.errors import MappingError
from sramflow.hw.spec import HardwareSpec
from sramflow.mapping.conv import (
    LOOPS, ConvSchedule, ConvShape, ConvTiling, HwParams, class_sums, conv_counts, footprint_words, input_bursts,
    keeps, spills, step_sizes, trips, unit_counts,
)
from sramflow.mapping.schedule import allocate
from sramflow.sim.cost import busy_cycles, energy_pj, objective_value, total_cycles


def hw_params(hw: HardwareSpec, shape: ConvShape | None = None) -> HwParams:
    """The counting parameters; pooling (``shape.pool_op``) runs on the vector unit: one output per lane.

    MAC-array model assumption (``input_row_bytes``): every multiplier has an int8 input operand register
    (a 4x4 array: 16), loaded from the SRAM word latch; together they hold one window row of up to
    ``macs_per_cycle`` bytes, from which the array takes each kernel column's inputs (a shift / diagonal
    broadcast, no extra storage). Their energy is part of ``energy_pj_per_mac``. The vector unit has none."""
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
        input_row_bytes=0 if pool else hw.mac_array.macs_per_cycle,
    )


def acc_k(t: dict, hwp: HwParams):  # noqa: ANN201 - output channels per accumulator group
    return np.minimum(t["k"], np.maximum(hwp.accumulators // (t["g"] * t["h"] * t["w"]), 1))


@lru_cache(maxsize=4096)
def balanced_sizes(extent: int) -> tuple[int, ...]:
    return tuple(sorted({-(-extent // n) for n in range(1, extent + 1)}))


def _candidates(shape: ConvShape, hwp: HwParams) -> dict[str, np.ndarray]:
    acc = hwp.accumulators
    e = shape.extents
    axes = [np.array(balanced_sizes(e[d]), dtype=np.int64) for d in "gkchw"]
    grid = np.stack([m.ravel() for m in np.meshgrid(*axes, indexing="ij")], axis=1)
    grid = grid[grid[:, 0] * grid[:, 3] * grid[:, 4] <= acc]
    t = {d: np.ascontiguousarray(grid[:, i]) for i, d in enumerate("gkchw")}
    fp = footprint_words(shape, hwp, t, False, False, acc_k(t, hwp))["total"]
    keep = fp <= hwp.capacity_words
    return {d: v[keep] for d, v in t.items()}


def min_working_set_bytes(shape: ConvShape, hwp: HwParams) -> int:
    one = {d: 1 for d in "gkchw"}
    return int(footprint_words(shape, hwp, one, False, False)["total"]) * hwp.word_bytes


def _orders(shape: ConvShape) -> list[tuple[str, ...]]:
    e = shape.extents
    active = [x for x in LOOPS if (e["h"] * e["w"] if x == "p" else e[x]) > 1]
    idle = tuple(x for x in LOOPS if x not in active)
    return [idle + p for p in itertools.permutations(active)]


def _clipped(shape: ConvShape, t: dict) -> np.ndarray:
    rows = {int(h): shape.clipped_rows(int(h)) for h in np.unique(t["h"])}
    cols = {int(w): shape.clipped_cols(int(w)) for w in np.unique(t["w"])}
    r = np.array([rows[int(h)] for h in t["h"]], dtype=np.int64)
    c = np.array([cols[int(w)] for w in t["w"]], dtype=np.int64)
    return shape.groups * shape.c_per_group * r * c


def _in_bursts(shape: ConvShape, t: dict, burst_bytes: int) -> np.ndarray:
    n = trips(shape, t)
    tiles = n["g"] * n["c"] * n["p"]
    window = t["g"] * t["c"] * shape.window_rows(t["h"]) * shape.window_cols(t["w"])
    big = np.flatnonzero(window > burst_bytes) if burst_bytes > 0 else np.array([], dtype=np.int64)
    out = tiles.copy()
    for i in big:  # only tiles that can exceed one burst need the exact per-tile sum
        out[i] = input_bursts(shape, {d: int(v[i]) for d, v in t.items()}, burst_bytes)
    return out


def search_conv(shape: ConvShape, hw: HardwareSpec, objective: str) -> ConvSchedule:
    hwp = hw_params(hw, shape)
    t = _candidates(shape, hwp)
    if t["g"].size == 0:
        raise MappingError(f"layer {shape.name!r}: no tile fits the {hwp.capacity_words * hwp.word_bytes}-byte "
                           f"SRAM; minimum working set is {min_working_set_bytes(shape, hwp)} bytes")
    clipped = _clipped(shape, t)
    ak = acc_k(t, hwp)
    in_b = _in_bursts(shape, t, hwp.burst_bytes)
    cs = class_sums(shape, hwp, t, ak)
    q = step_sizes(shape, hwp, t, ak)
    best = None
    for order in _orders(shape):
        raw = conv_counts(shape, hwp, t, order, clipped, in_b, ak, cs)
        c = unit_counts(shape, hwp, raw)
        busy = busy_cycles(c, hw)
        for double in ((False, True) if hwp.double_buffering else (False,)):
            out = np.where(np.logical_or(raw["spill"], raw["keep"]), q["p_words"], q["o_words"])
            fits = q["b_words"] + (2 if double else 1) * (q["w_words"] + q["i_words"] + out) <= hwp.capacity_words
            if not fits.any():
                continue
            cyc = total_cycles(busy, double)
            en = sum(energy_pj(c, hw, cyc).values())
            obj = objective_value(objective, cyc, en)
            second = en if objective == "latency" else cyc
            idx = np.flatnonzero(fits)
            i = idx[np.lexsort((idx, second[idx], obj[idx]))[0]]
            key = (float(obj[i]), float(second[i]))
            if best is None or key < best[0]:
                best = (key, order, double, {d: int(v[i]) for d, v in t.items()}, int(ak[i]))
    if best is None:
        raise MappingError(f"layer {shape.name!r}: no tiling fits the SRAM")
    _, order, double, sizes, group_k = best
    return make_conv_schedule(shape, hwp, sizes, order, double, group_k)


def make_conv_schedule(shape: ConvShape, hwp: HwParams, sizes: dict[str, int], order: tuple[str, ...],
                       double: bool, group_k: int = 0) -> ConvSchedule:
    """A schedule for explicit tile sizes; ``group_k``: output channels per accumulator group (0: the whole
    k tile, which must then fit the accumulators with the tile's pixels)."""
    tiling = ConvTiling(sizes["g"], sizes["k"], sizes["c"], sizes["h"], sizes["w"], tuple(order), double,
                        0 if group_k >= sizes["k"] else group_k)
    if tiling.group_k * sizes["g"] * sizes["h"] * sizes["w"] > hwp.accumulators:
        raise MappingError(f"layer {shape.name!r}: an accumulator group of {tiling.group_k} x {sizes['g']} x "
                           f"{sizes['h']} x {sizes['w']} outputs exceeds the {hwp.accumulators} accumulators")
    n = trips(shape, sizes)
    spill = bool(spills(tiling.order, n))
    keep = bool(keeps(tiling.order, n, sizes, tiling.group_k))
    fp = footprint_words(shape, hwp, sizes, spill or keep, False, tiling.group_k)
    words = {op: int(fp[op]) for op in ("bias", "weights", "inputs", "outputs") if int(fp[op]) > 0}
    buffers = allocate(words, tuple(op for op in ("weights", "inputs", "outputs") if op in words) if double else ())
    if buffers and buffers[-1].end_word > hwp.capacity_words:
        raise MappingError(f"layer {shape.name!r}: tiling {tiling} needs {buffers[-1].end_word} words, "
                           f"SRAM has {hwp.capacity_words}")
    return ConvSchedule(shape, hwp, tiling, buffers, spill, keep)
