"""The tiling search as it was before its counts were cached and de-duplicated (commit 7d58370): one loop over
loop orders and buffering, pricing every fitting candidate. Kept as the test oracle for
``sramflow.mapping.search.choose.search_conv``, which must choose exactly the same schedule.

Not yet independent: it still prices candidates with the vectorized closed forms of ``mapping.conv`` and the
candidate set of ``mapping.search.tiling_table``, so it checks the caching, pruning and de-duplication, not those counts (they are
checked against the enumerated steps in test_mapping_steps_table.py and test_mapping_search_cache.py)."""

from __future__ import annotations

import numpy as np

from sramflow.errors import MappingError
from sramflow.hw.spec import HardwareSpec
from sramflow.mapping.conv import (
    ConvShape, class_sums, conv_counts, input_bursts, step_sizes, trips, unit_counts,
)
from sramflow.mapping.conv_schedule import ConvSchedule
from sramflow.mapping.search.choose import make_conv_schedule
from sramflow.mapping.search.tiling_table import _clipped, _orders, acc_groups, candidates, hw_params
from sramflow.cost.model import busy_cycles, energy_pj, objective_value, total_cycles


def _in_bursts(shape: ConvShape, t: dict, burst_bytes: int) -> np.ndarray:
    n = trips(shape, t)
    tiles = n["g"] * n["c"] * n["p"]
    window = t["g"] * t["c"] * shape.window_rows(t["h"]) * shape.window_cols(t["w"])
    big = np.flatnonzero(window > burst_bytes) if burst_bytes > 0 else np.array([], dtype=np.int64)
    out = tiles.copy()
    for i in big:  # one candidate at a time, through the scalar closed form
        out[i] = input_bursts(shape, {d: int(v[i]) for d, v in t.items()}, burst_bytes)
    return out


def search_conv_reference(shape: ConvShape, hw: HardwareSpec, objective: str) -> ConvSchedule:
    hwp = hw_params(hw, shape)
    t = candidates(shape, hwp)
    if t["g"].size == 0:
        raise MappingError(f"layer {shape.name!r}: no tile fits")
    clipped = _clipped(shape, t)
    ak, gh = acc_groups(t, hwp)
    in_b = _in_bursts(shape, t, hwp.burst_bytes)
    cs = class_sums(shape, hwp, t, ak, gh)
    q = step_sizes(shape, hwp, t, ak, gh)
    best = None
    for order in _orders(shape):
        raw = conv_counts(shape, hwp, t, order, clipped, in_b, ak, cs, gh)
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
                best = (key, order, double, {d: int(v[i]) for d, v in t.items()}, int(ak[i]), int(gh[i]))
    if best is None:
        raise MappingError(f"layer {shape.name!r}: no tiling fits the SRAM")
    _, order, double, sizes, group_k, group_h = best
    return make_conv_schedule(shape, hwp, sizes, order, double, group_k, group_h)
