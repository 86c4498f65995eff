"""The network-level trade-off between cycles and energy of the Conv/Gemm nodes (what a network-level objective
could reach), from the per-layer tiling tables.

Layers run one after another and each is mapped on its own, so a network's Conv/Gemm cycles and energy are the
sums over its nodes of the chosen rows' cycles and energy. Per distinct shape only its Pareto rows (no row with
fewer or equal cycles has less energy) can be part of a network-level optimum. For a price ``lam`` (pJ per cycle)
the mapping minimizing energy + lam x cycles takes, per layer, the row minimizing it (``lagrangian``); these
points span the lower convex hull of the network's front. They also decide whether a target (C0, E0) is out of
reach: if some lam gives min sum(E + lam C) > E0 + lam C0, no mapping has C <= C0 and E <= E0 (``certificate``).
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from dataclasses import dataclass

import numpy as np

from sramflow.cost.model import energy_pj
from sramflow.errors import MappingError
from sramflow.hw.spec import HardwareSpec
from sramflow.mapping.conv import ConvShape, HwParams
from sramflow.mapping.schedule import Schedule
from sramflow.mapping.search.choose import (conv_table, map_shape, row_schedule, schedule_cycles, schedule_metrics,
                                          table_cycles)
from sramflow.mapping.search.table_cache import DEFAULT_CACHE, TilingCache
from sramflow.mapping.search.tiling_table import TilingTable


REL_TOL = 1e-9  # a certificate's gap must exceed this fraction of the bound (energies are float sums)


@dataclass(frozen=True)
class LayerFront:
    """One distinct Conv/Gemm shape: its node count and its Pareto rows, by cycles ascending (energy
    descending)."""

    name: str
    nodes: int
    cycles: np.ndarray  # int64
    energy_pj: np.ndarray  # float64
    key: ConvShape | None = None  # the shape without its name
    rows: np.ndarray | None = None  # the Pareto rows' indices in ``table``
    source: tuple[HwParams, TilingTable] | None = None  # ``conv_table``'s (HwParams, table)


def layer_fronts(shapes, hw: HardwareSpec,  # noqa: ANN001 - shapes of a prepared graph
                 cache: TilingCache | None = DEFAULT_CACHE) -> list[LayerFront]:
    """The Pareto rows of every distinct MAC-array convolution / Gemm of ``shapes`` on ``hw``."""
    count: Counter = Counter()
    first: dict = {}
    for s in shapes:
        if isinstance(s, ConvShape) and not s.pool_op:
            key = dataclasses.replace(s, name="")
            count[key] += 1
            first.setdefault(key, s)
    out = []
    for key, n in count.items():
        hwp, table = conv_table(first[key], hw, cache)
        c, e, rows = pareto_rows(table, hw)
        out.append(LayerFront(first[key].name, n, c, e, key, rows, (hwp, table)))
    return out


def pareto_rows(table: TilingTable, hw: HardwareSpec) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(cycles, energy pJ, row index) of ``table``'s Pareto rows, cycles ascending: no row with fewer or equal
    cycles has less energy (equal rows: the search's tie-break, enumeration order)."""
    cyc = table_cycles(table, hw)
    en = np.broadcast_to(sum(energy_pj(table.counts, hw, cyc).values()), cyc.shape).astype(np.float64)
    order = np.lexsort((table.rank, en, cyc))
    c, e = cyc[order], en[order]
    keep = np.r_[True, np.minimum.accumulate(e)[:-1] > e[1:]] if e.size else np.zeros(0, bool)
    return c[keep].astype(np.int64), e[keep], order[keep]


Moves = dict[tuple[int, ...], list[tuple[tuple[int, float], tuple[Schedule, ...]]]]


def greedy_moves(schedules: tuple[Schedule, ...], units: Moves, hw: HardwareSpec, spare_cycles: int
                 ) -> tuple[tuple[Schedule, ...], int]:
    """``schedules`` with moves made within ``spare_cycles`` more cycles in all, and how many were made. ``units``:
    per group of node indices, other ways to map those nodes (their (cycles, energy pJ) and schedules). Greedy: the
    move that saves the most energy per added cycle first (one that saves energy at no cost before all), then again
    from the new schedules, while any fits the cycles left; moves that share a node exclude each other once one is
    made."""
    cur = list(schedules)
    units = dict(units)
    now = {u: sum_priced(tuple(cur[k] for k in u), hw) for u in units}
    made: set[tuple[int, ...]] = set()
    while True:
        best: tuple[tuple[float, float], tuple[int, ...], tuple[Schedule, ...], tuple[int, float]] | None = None
        for u, opts in units.items():
            c0, e0 = now[u]
            for (c, e), o in opts:
                if e >= e0 or c - c0 > spare_cycles:
                    continue
                key = ((e0 - e) / max(c - c0, 1), e0 - e)  # pJ saved per added cycle, then pJ saved
                if best is None or key > best[0]:
                    best = (key, u, o, (c, e))
        if best is None:
            return tuple(cur), len(made)
        _, u, o, m = best
        spare_cycles -= m[0] - now[u][0]
        for k, s in zip(u, o):
            cur[k] = s
        now[u] = m
        made.add(u)
        for v in [v for v in units if v != u and set(v) & set(u)]:
            del units[v], now[v]


def sum_priced(scheds: tuple[Schedule, ...], hw: HardwareSpec) -> tuple[int, float]:
    """(cycles, energy pJ) of ``scheds`` together, as ``sim`` prices each (``schedule_metrics``)."""
    cycles, energy = 0, 0.0
    for s in scheds:
        c, e = schedule_metrics(s, hw)
        cycles, energy = cycles + c, energy + e
    return cycles, energy


def lagrangian(fronts: list[LayerFront], lam: float) -> tuple[int, float]:
    """(cycles, energy in pJ) of the network whose every layer minimizes energy + ``lam`` x cycles (ties: fewer
    cycles, the earlier row)."""
    cyc, en = 0, 0.0
    for f in fronts:
        i = int(np.argmin(f.energy_pj + lam * f.cycles))
        cyc += f.nodes * int(f.cycles[i])
        en += f.nodes * float(f.energy_pj[i])
    return cyc, en


def certificate(fronts: list[LayerFront], cycles_max: float, energy_max_pj: float,
                lams: np.ndarray | None = None) -> tuple[float, float] | None:
    """A (lam, gap) with gap = min sum(E + lam C) - (``energy_max_pj`` + lam ``cycles_max``) > 0 (beyond ``REL_TOL``
    of the bound), proving that no mapping of these layers has cycles <= ``cycles_max`` and energy <=
    ``energy_max_pj`` (the largest relative gap over ``lams``, default 0 and a log grid around energy_max /
    cycles_max); None if no lam proves it."""
    if lams is None:
        lams = np.r_[0.0, np.logspace(-6, 6, 241) * energy_max_pj / cycles_max]
    best = None
    for lam in lams.tolist():
        cyc, en = lagrangian(fronts, lam)
        bound = energy_max_pj + lam * cycles_max
        gap = en + lam * cyc - bound
        if gap > REL_TOL * bound and (best is None or gap / bound > best[2]):  # above float rounding
            best = (lam, gap, gap / bound)
    return None if best is None else (best[0], best[1])


def hull(fronts: list[LayerFront], lams: np.ndarray) -> list[tuple[int, float]]:
    """The distinct ``lagrangian`` points over ``lams``, by cycles ascending."""
    return sorted({lagrangian(fronts, float(lam)) for lam in lams})


def _lower_hull(c: np.ndarray, e: np.ndarray) -> list[int]:
    """Indices of the lower convex hull of Pareto points (cycles ascending, energy descending)."""
    h: list[int] = []
    for i in range(c.size):
        while len(h) >= 2:
            o, a = h[-2], h[-1]
            if (c[a] - c[o]) * (e[i] - e[o]) - (e[a] - e[o]) * (c[i] - c[o]) > 0:
                break
            h.pop()
        h.append(i)
    return h


def budget_rows(fronts: list[LayerFront], cycles_budget: int, other_cycles: int = 0) -> dict[ConvShape, int]:
    """Per distinct shape (``LayerFront.key``), the table row of the least-energy point of the network's lower
    convex hull whose Conv/Gemm cycles are at most ``cycles_budget`` - ``other_cycles`` (the cycles of the nodes
    off the MAC array): every layer starts at its fewest cycles and takes, in order of energy saved per extra
    cycle, the steps along its own hull while the total fits (the greedy of the Lagrangian relaxation; exact on
    the hull, so within one layer's step of the least energy of any choice within the budget). ``MappingError``
    naming the least feasible budget when the fewest cycles exceed it."""
    hulls = [_lower_hull(f.cycles, f.energy_pj) for f in fronts]
    fastest = sum(f.nodes * int(f.cycles[0]) for f in fronts)
    if other_cycles + fastest > cycles_budget:
        raise MappingError(f"--cycle-budget {cycles_budget:,} is below the {other_cycles + fastest:,} cycles of the "
                           f"least feasible mapping ({fastest:,} for the Conv/Gemm nodes at their fastest mappings + "
                           f"{other_cycles:,} for the other nodes mapped for energy): raise the budget or use "
                           "--objective latency")
    total = other_cycles + fastest
    steps = []
    for li, (f, h) in enumerate(zip(fronts, hulls)):
        for j in range(len(h) - 1):
            dc, de = int(f.cycles[h[j + 1]] - f.cycles[h[j]]), float(f.energy_pj[h[j]] - f.energy_pj[h[j + 1]])
            steps.append((-de / dc, li, j, f.nodes * dc))
    at = [0] * len(fronts)
    for _, li, j, dc in sorted(steps):  # per layer the rates fall along its hull, so its steps come in order
        if total + dc > cycles_budget:
            break
        total += dc
        at[li] = j + 1
    return {f.key: int(f.rows[h[i]]) for f, h, i in zip(fronts, hulls, at)}


def budget_schedules(shapes, hw: HardwareSpec, cycle_budget: int,  # noqa: ANN001 - shapes of a prepared graph
                     cache: TilingCache | None = DEFAULT_CACHE) -> dict[object, Schedule]:
    """The Conv/Gemm schedules (by shape without name) of the least energy within ``cycle_budget`` cycles, the
    cycles of the other nodes (mapped for energy) taken off the budget first."""
    fronts = layer_fronts(shapes, hw, cache)
    keys = {f.key for f in fronts}
    other = 0
    for shape in shapes:
        if dataclasses.replace(shape, name="") not in keys:
            other += schedule_cycles(map_shape(shape, hw, "energy", cache), hw)
    rows = budget_rows(fronts, cycle_budget, other)
    out: dict[object, Schedule] = {}
    for f in fronts:
        assert f.source is not None
        hwp, table = f.source
        out[f.key] = row_schedule(f.key, hwp, table, rows[f.key])
    return out
