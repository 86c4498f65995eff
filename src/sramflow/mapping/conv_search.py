"""Exhaustive search over convolution tilings, vectorized with numpy, deterministic.

Search space: tile sizes per loop dimension (g, k, c, h, w), loop orders (permutations of the loops with
more than one tile), single or double buffering. Tile sizes are restricted to the balanced values
ceil(N / n): any other size t has the same tile count as t' = ceil(N / ceil(N / t)) <= t, hence the same
reload factors, and loads no more bytes and needs no more SRAM with t' (only the per-step rounding of MAC
cycles can differ, by less than one cycle per step). The output tile is bounded by the accumulators.
Ties are broken by the other metric, then by enumeration order.
"""

from __future__ import annotations

import itertools
from functools import lru_cache

import numpy as np

from sramflow.errors import MappingError
from sramflow.hw.spec import HardwareSpec
from sramflow.mapping.conv import (
    LOOPS, ConvSchedule, ConvShape, ConvTiling, HwParams, conv_counts, footprint_words, spills, trips,
)
from sramflow.mapping.schedule import allocate
from sramflow.sim.cost import busy_cycles, energy_pj, objective_value, total_cycles


def hw_params(hw: HardwareSpec) -> HwParams:
    rf = hw.register_file
    return HwParams(
        word_bytes=hw.main_sram.word_bytes,
        macs_per_cycle=hw.mac_array.macs_per_cycle,
        accumulators=hw.mac_array.accumulators,
        register_window_bytes=rf.bytes_per_lane * hw.mac_array.macs_per_cycle if rf else 0,
        capacity_words=hw.main_sram.total_words,
        double_buffering=hw.main_sram.double_buffering,
    )


@lru_cache(maxsize=4096)
def balanced_sizes(extent: int) -> tuple[int, ...]:
    return tuple(sorted({-(-extent // n) for n in range(1, extent + 1)}))


def _candidates(shape: ConvShape, hwp: HwParams) -> dict[str, np.ndarray]:
    acc = hwp.accumulators
    e = shape.extents
    outs = [(g, k, h, w) for g in balanced_sizes(e["g"]) if g <= acc
            for k in balanced_sizes(e["k"]) if g * k <= acc
            for h in balanced_sizes(e["h"]) if g * k * h <= acc
            for w in balanced_sizes(e["w"]) if g * k * h * w <= acc]
    cs = balanced_sizes(e["c"])
    grid = np.array([(g, k, c, h, w) for (g, k, h, w) in outs for c in cs], dtype=np.int64).reshape(-1, 5)
    t = {d: grid[:, i] for i, d in enumerate("gkchw")}
    fp = footprint_words(shape, hwp, t, False, False)["total"]
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


def search_conv(shape: ConvShape, hw: HardwareSpec, objective: str) -> ConvSchedule:
    hwp = hw_params(hw)
    t = _candidates(shape, hwp)
    if t["g"].size == 0:
        raise MappingError(f"layer {shape.name!r}: no tile fits the {hwp.capacity_words * hwp.word_bytes}-byte "
                           f"SRAM; minimum working set is {min_working_set_bytes(shape, hwp)} bytes")
    clipped = _clipped(shape, t)
    zeros = np.zeros_like(t["g"])
    best = None
    for order in _orders(shape):
        c = conv_counts(shape, hwp, t, order, clipped)
        c.update(vector_cycles=zeros, vector_ops=zeros, lut_ops=zeros,
                 register_accesses=c["macs"] if hwp.register_window_bytes else zeros)
        busy = busy_cycles(c, hw)
        for double in ((False, True) if hwp.double_buffering else (False,)):
            fits = footprint_words(shape, hwp, t, c["spill"], double)["total"] <= hwp.capacity_words
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
                best = (key, order, double, {d: int(v[i]) for d, v in t.items()})
    if best is None:
        raise MappingError(f"layer {shape.name!r}: no tiling fits the SRAM")
    _, order, double, sizes = best
    return make_conv_schedule(shape, hwp, sizes, order, double)


def make_conv_schedule(shape: ConvShape, hwp: HwParams, sizes: dict[str, int], order: tuple[str, ...],
                       double: bool) -> ConvSchedule:
    tiling = ConvTiling(sizes["g"], sizes["k"], sizes["c"], sizes["h"], sizes["w"], tuple(order), double)
    spill = bool(spills(tiling.order, trips(shape, sizes)))
    fp = footprint_words(shape, hwp, sizes, spill, False)
    words = {op: int(fp[op]) for op in ("bias", "weights", "inputs", "outputs") if int(fp[op]) > 0}
    buffers = allocate(words, tuple(op for op in ("weights", "inputs", "outputs") if op in words) if double else ())
    if buffers and buffers[-1].end_word > hwp.capacity_words:
        raise MappingError(f"layer {shape.name!r}: tiling {tiling} needs {buffers[-1].end_word} words, "
                           f"SRAM has {hwp.capacity_words}")
    return ConvSchedule(shape, hwp, tiling, buffers, spill)
