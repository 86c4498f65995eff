"""A whole graph's schedule choice for one hardware point in one pricing pass (the sweep's hot path).

A ``PointPlan`` holds, for one prepared graph and the numbers the tables depend on (``hw_params``, vector lanes,
whether pricing is monotone), every distinct shape's candidate rows: a Conv/Gemm's ``TilingTable`` (from the tiling
cache; for a smaller SRAM the larger SRAM's table with its fitting rows marked, ``_Seg.fit``) or a vector node's chunk
table (every chunk size, built once for all SRAM sizes, fitting ones marked). It is built once and serves every point
with those numbers (they differ in clock, off-chip memory, energies, ports or banks). ``PointPlan.choose`` picks, for a
point and objective, the same row per shape as ``choose.search_conv`` / ``choose.search_vector``, with the same
``cost.model`` formulas on the same counts (element-wise, so the same values) and the same tie-breaks:
- conv: least objective, then the other metric (energy for latency, cycles otherwise), then enumeration order;
- vector: least objective, then single before double buffering, then the largest chunk.

Small tables are concatenated once and priced whole. A large table is first cut to the rows that can beat a known
row of it: with U that row's objective on this point (``probe`` rows: each table's least off-chip bytes, least
SRAM accesses, least MAC cycles, and the previous point's choice), a row whose objective is at most U has
  off-chip bytes <= U x bandwidth, SRAM accesses <= U x banks x (2 with a read port), max(MAC, vector) cycles <= U
for latency (every cycle formula is at least each of the link, port and unit busy times), and off-chip bytes
<= U / (least off-chip energy per byte), SRAM accesses <= U / (least SRAM access energy) for energy (every energy
term is non-negative; square roots of U x the cycle factor / the energy factor for edp). Every row tied at the
best objective passes, so the choice is exact; thresholds carry a relative margin of 1e-9 for float rounding.
"""

from __future__ import annotations

import dataclasses
import math
from collections import OrderedDict
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from sramflow.cost.counts import COUNT_FIELDS, Counts
from sramflow.cost.model import TOTALS, busy_cycles, energy_pj, objective_value, total_cycles
from sramflow.errors import MappingError
from sramflow.hw.spec import HardwareSpec
from sramflow.mapping.conv import ConvShape, schedule_counts
from sramflow.mapping.fused import FusedShape
from sramflow.mapping.search.choose import conv_table, monotone_pricing, row_schedule
from sramflow.mapping.search.table_cache import DEFAULT_CACHE, TilingCache
from sramflow.mapping.search.tiling_table import hw_params
from sramflow.mapping.vector import VectorShape, footprint, vector_counts, vector_rows, vector_table

# the counts ``cost.model`` reads (with the totals it accepts precomputed)
PRICE_FIELDS = ("offchip_bytes", "offchip_weight_bytes", "offchip_input_bytes", "offchip_output_bytes",
                "offchip_psum_read_bytes", "offchip_psum_write_bytes", "dma_bursts", "sram_reads", "sram_writes",
                "sram_reads_compute", "sram_reads_dma", "sram_writes_compute", "sram_writes_dma", "mac_cycles",
                "vector_cycles", "macs", "vector_ops", "lut_ops", "register_accesses")
WHOLE_ROWS = 4096  # tables up to this many rows are priced whole at every point
PLANS_KEPT = 4  # plans per tiling cache (points are evaluated grouped by plan)
MARGIN = 1e-9
Cols = dict[str, "np.ndarray | int"]


@dataclass
class _Seg:
    """One shape's candidate rows."""

    shape: ConvShape | VectorShape
    cols: Cols  # PRICE_FIELDS: per row, or one value for every row
    double: np.ndarray  # (rows,) bool: overlapped (double-buffered) cycle formula
    rank: np.ndarray  # (rows,) tie-break position (lower wins)
    secondary: bool  # conv: ties on the objective go to the other metric first
    source: tuple  # conv: (HwParams, TilingTable); vector: (word bytes, lanes, burst bytes, chunk per row)
    keys: tuple = ()  # (off-chip bytes, SRAM accesses, max(MAC, vector) cycles), large tables only
    key_max: tuple = ()
    sample: tuple = ()  # every keys' values on a few evenly spaced rows (to pick the most selective key)
    probes: tuple[int, ...] = ()
    fit: np.ndarray | None = None  # (rows,) bool: the rows that fit this plan's SRAM (None: all)

    @property
    def rows(self) -> int:
        return int(self.double.size)

    @property
    def fitting_rows(self) -> int:
        return self.rows if self.fit is None else int(np.count_nonzero(self.fit))

    def fitting(self) -> np.ndarray:
        return np.arange(self.rows) if self.fit is None else np.flatnonzero(self.fit)


def _gather(segs: list[_Seg], picks: list[np.ndarray]) -> tuple[Cols, np.ndarray, np.ndarray, np.ndarray]:
    """The priced columns, double flag, rank and secondary flag of rows ``picks[i]`` of ``segs[i]``, concatenated."""
    if not segs:
        return {f: 0 for f in PRICE_FIELDS}, np.zeros(0, dtype=bool), np.zeros(0, dtype=np.int64), np.zeros(0, bool)
    cols: Cols = {}
    for f in PRICE_FIELDS:
        vals = [s.cols[f] for s in segs]
        if all(not isinstance(v, np.ndarray) for v in vals) and len(set(vals)) == 1:
            cols[f] = vals[0]
        else:
            cols[f] = np.concatenate([v[p] if isinstance(v, np.ndarray) else np.full(p.size, v, dtype=np.int64)
                                      for v, p in zip(vals, picks)])
    double = np.concatenate([s.double[p] for s, p in zip(segs, picks)])
    rank = np.concatenate([s.rank[p] for s, p in zip(segs, picks)])
    sec = np.concatenate([np.full(p.size, s.secondary) for s, p in zip(segs, picks)])
    return cols, double, rank, sec


def _subset(cols: Cols, idx: np.ndarray) -> Cols:
    return {k: v[idx] if isinstance(v, np.ndarray) else v for k, v in cols.items()}


def _objective(cols: Cols, double: np.ndarray, hw: HardwareSpec, objective: str) -> tuple[np.ndarray, np.ndarray]:
    """(cycles, objective) of every row; energy is priced only when the objective needs it."""
    cyc = np.broadcast_to(total_cycles(busy_cycles(cols, hw), double), double.shape)
    if objective == "latency":
        return cyc, cyc * 1.0
    return cyc, objective_value(objective, cyc, np.broadcast_to(sum(energy_pj(cols, hw, cyc).values()), cyc.shape))


@dataclass
class _Block:
    """Rows of several segments concatenated (segment by segment), with their segment and row numbers."""

    cols: Cols
    double: np.ndarray
    rank: np.ndarray
    secondary: np.ndarray
    seg: np.ndarray
    row: np.ndarray

    @staticmethod
    def of(segs: list[_Seg], ids: list[int], picks: list[np.ndarray]) -> _Block:
        cols, double, rank, sec = _gather([segs[i] for i in ids], picks)
        seg = np.concatenate([np.full(p.size, i, dtype=np.int64) for i, p in zip(ids, picks)]) if ids else \
            np.zeros(0, dtype=np.int64)
        row = np.concatenate(picks) if picks else np.zeros(0, dtype=np.int64)
        return _Block(cols, double, rank, sec, seg, row)

    @staticmethod
    def join(a: _Block, b: _Block) -> _Block:
        n, m = a.seg.size, b.seg.size
        cols = {k: v if not isinstance(v, np.ndarray) and not isinstance(b.cols[k], np.ndarray) and v == b.cols[k]
                else np.concatenate([np.broadcast_to(v, (n,)), np.broadcast_to(b.cols[k], (m,))])
                for k, v in a.cols.items()}
        return _Block(cols, *(np.concatenate([getattr(a, f), getattr(b, f)])
                               for f in ("double", "rank", "secondary", "seg", "row")))


@dataclass
class PointPlan:
    shapes: tuple  # the distinct shapes (``sim.api.unique_shapes``)
    segs: list[_Seg] = field(default_factory=list)
    seg_of: list[int] = field(default_factory=list)  # per shape: its segment, -1 for a fused shape
    error: MappingError | None = None
    whole: _Block | None = None  # the small segments' rows, priced whole
    large: list[int] = field(default_factory=list)  # segments cut by bounds first
    probe_init: _Block | None = None  # per large segment the rows of least off-chip bytes, SRAM accesses, MAC cycles
    probe: _Block | None = None  # ... and the previous point's choices
    memo: dict[tuple[int, int], tuple[Counts, tuple[int, ...], bool]] = field(default_factory=dict)
    uses_cache: int = 0  # conv shapes whose tables come from the tiling cache

    def choose(self, hw: HardwareSpec, objective: str) -> list[int]:
        """Per segment, the row ``search_conv`` / ``search_vector`` would choose on ``hw`` for ``objective``."""
        if not self.segs:  # only fused nodes
            return []
        assert self.whole is not None
        blocks = [self.whole, _Block.of(self.segs, self.large, self._cut(hw, objective))] if self.large else \
            [self.whole]
        priced = [_objective(b.cols, b.double, hw, objective) for b in blocks]
        cyc = np.concatenate([c for c, _ in priced])
        obj = np.concatenate([o for _, o in priced])
        seg, rank, sec, row = (np.concatenate([getattr(b, f) for b in blocks])
                               for f in ("seg", "rank", "secondary", "row"))
        best = np.full(len(self.segs), np.inf)
        np.minimum.at(best, seg, obj)
        tied = np.flatnonzero(obj == best[seg])
        if objective == "latency":  # the other metric, of the tied rows only
            n0, parts = 0, []
            for b in blocks:
                t = tied[(tied >= n0) & (tied < n0 + b.seg.size)]
                parts.append(sum(energy_pj(_subset(b.cols, t - n0), hw, cyc[t]).values()) * np.ones(t.size))
                n0 += b.seg.size
            second = np.concatenate(parts)
        else:
            second = cyc[tied] * 1.0
        second = np.where(sec[tied], second, 0.0)
        order = tied[np.lexsort((rank[tied], second, seg[tied]))]
        first = order[np.r_[True, seg[order][1:] != seg[order][:-1]]]
        rows = [-1] * len(self.segs)
        for i in first.tolist():
            rows[int(seg[i])] = int(row[i])
        if self.large:  # the next point's probes: the first rows of each large table and this point's choices
            n0 = self.whole.seg.size
            k = first[first >= n0] - n0
            cut = blocks[1]
            assert self.probe_init is not None
            self.probe = _Block.join(self.probe_init, _Block(_subset(cut.cols, k), cut.double[k], cut.rank[k],
                                                             cut.secondary[k], cut.seg[k], cut.row[k]))
        return rows

    def _cut(self, hw: HardwareSpec, objective: str) -> list[np.ndarray]:
        """Per large segment, the rows that can reach the best objective (see the module text): one pass over the
        key a sample of rows says is the most selective, then the other keys on the rows left."""
        p = self.probe
        assert p is not None
        _, obj = _objective(p.cols, p.double, hw, objective)
        u = np.full(len(self.segs), np.inf)
        np.minimum.at(u, p.seg, obj)
        out = []
        for j, lim in zip(self.large, _limits(u[self.large], hw, objective)):
            s = self.segs[j]
            live = [(int((s.sample[i] <= t).sum()), i, int(t)) for i, t in enumerate(lim) if t < s.key_max[i]]
            if not live:
                out.append(s.fitting())
                continue
            live.sort()
            _, i, t = live[0]
            idx = np.flatnonzero(s.keys[i] <= t)
            for _, i, t in live[1:]:
                idx = idx[s.keys[i][idx] <= t]
            out.append(idx if s.fit is None else idx[s.fit[idx]])
        return out

    def counts(self, j: int, row: int) -> tuple[Counts, tuple[int, ...], bool]:
        """(``Counts``, its values in ``COUNT_FIELDS`` order, overlapped) of row ``row`` of segment ``j``, memoized."""
        hit = self.memo.get((j, row))
        if hit is None:
            s = self.segs[j]
            if isinstance(s.shape, ConvShape):
                hwp, table = s.source
                # counts do not depend on the SRAM size: one memo entry (``conv.schedule_counts``) for every size
                sch = row_schedule(s.shape, hwp, table, row)
                c = schedule_counts(dataclasses.replace(s.shape, name=""), dataclasses.replace(hwp, capacity_words=0),
                                    sch.tiling)
            else:
                wb, lanes, burst, chunks = s.source
                c = Counts(**{k: int(v) for k, v in vector_counts(s.shape, wb, lanes, int(chunks[row]), burst).items()})
            hit = self.memo[(j, row)] = (c, tuple(getattr(c, f) for f in COUNT_FIELDS), bool(s.double[row]))
        return hit


def _limits(u: np.ndarray, hw: HardwareSpec, objective: str) -> list[tuple[float, float, float]]:
    """Per large segment with best-known objective ``u``: upper limits on (off-chip bytes, SRAM accesses,
    max(MAC, vector) cycles) of any row whose objective can be at most ``u``."""
    m, off = hw.main_sram, hw.offchip
    bw = off.bandwidth_bytes_per_cycle
    ports = m.banks * (2 if m.ports == "1rw1r" else 1)  # SRAM accesses per cycle at most
    e_off = min(off.read_energy_pj_per_byte, off.write_energy_pj_per_byte)
    e_sram = min(m.read_energy_pj, m.write_energy_pj)
    inf = math.inf
    out = []
    for x in u.tolist():
        x *= 1 + MARGIN
        if objective == "latency":
            lim = (x * bw, x * ports, x)
        elif objective == "energy":
            lim = (x / e_off if e_off > 0 else inf, x / e_sram if e_sram > 0 else inf, inf)
        else:
            lim = (math.sqrt(x * bw / e_off) if e_off > 0 else inf,
                   math.sqrt(x * ports / e_sram) if e_sram > 0 else inf, inf)
        out.append(tuple(v * (1 + MARGIN) + 1 for v in lim))
    return out


def _conv_seg(shape: ConvShape, hw: HardwareSpec, cache: TilingCache) -> _Seg:
    """A larger SRAM's table with its fitting rows marked (``fit``) rather than a filtered copy (``within``)."""
    hwp, table = conv_table(shape, hw, cache, larger=True)
    cols = {k: table.counts[k] for k in PRICE_FIELDS}
    fit = table.footprint_words <= hwp.capacity_words if table.capacity_words > hwp.capacity_words else None
    return _Seg(shape, cols, table.double, table.rank, True, (hwp, table), fit=fit)


@lru_cache(maxsize=4096)
def _vector_all(shape: VectorShape, wb: int, lanes: int, burst: int, double_buffering: bool) -> _Seg:
    """Every chunk size's row (``vector_table`` on an unbounded SRAM), for every SRAM size (``_Seg.fit``)."""
    parts = vector_table(shape, wb, 1 << 62, lanes, burst, double_buffering)  # per buffering, chunks ascending
    n = [len(ch) for _, ch, _ in parts]
    cols: Cols = {}
    for f in PRICE_FIELDS:
        if f in TOTALS:
            cols[f] = np.concatenate([sum(np.asarray(c[p], dtype=np.int64) for p in TOTALS[f]) for _, _, c in parts])
        else:
            cols[f] = np.concatenate([np.asarray(c[f], dtype=np.int64) for _, _, c in parts])
    double = np.concatenate([np.full(k, d) for (d, _, _), k in zip(parts, n)])
    # rank: single before double, the largest chunk first
    rank = np.concatenate([np.arange(k)[::-1] + sum(n[:i]) for i, k in enumerate(n)])
    chunks = np.concatenate([ch for _, ch, _ in parts])
    return _Seg(shape, cols, double, rank, False, (wb, lanes, burst, chunks))


def _vector_seg(shape: VectorShape, hw: HardwareSpec) -> _Seg:
    m = hw.main_sram
    s = _vector_all(dataclasses.replace(shape, name=""), m.word_bytes, hw.vector_unit.lanes, hw.offchip.burst_bytes,
                    m.double_buffering)
    fit = footprint(shape, m.word_bytes, s.source[3], s.double) <= m.total_words
    if not fit.any():
        vector_rows(shape, hw)  # raises the search's error
    return dataclasses.replace(s, shape=shape, fit=None if fit.all() else fit)


def _with_keys(s: _Seg) -> _Seg:
    c = s.cols
    off = c["offchip_bytes"]
    rw = c["sram_reads"] + c["sram_writes"]
    mk = c["mac_cycles"] if isinstance(c["vector_cycles"], int) and c["vector_cycles"] == 0 else \
        np.maximum(c["mac_cycles"], c["vector_cycles"])
    keys = tuple(np.broadcast_to(k, (s.rows,)) for k in (off, rw, mk))
    big = np.iinfo(np.int64).max
    probes = tuple(sorted({int(np.argmin(k if s.fit is None else np.where(s.fit, k, big))) for k in keys}))
    few = np.linspace(0, s.rows - 1, min(s.rows, 256)).astype(np.int64)
    return dataclasses.replace(s, keys=keys, key_max=tuple(int(k.max()) for k in keys), probes=probes,
                               sample=tuple(k[few] for k in keys))


def build_plan(shapes: tuple, hw: HardwareSpec, cache: TilingCache = DEFAULT_CACHE) -> PointPlan:
    plan = PointPlan(shapes)
    try:
        for shape in shapes:
            if isinstance(shape, FusedShape):
                plan.seg_of.append(-1)
                continue
            plan.seg_of.append(len(plan.segs))
            if isinstance(shape, ConvShape):
                plan.segs.append(_conv_seg(shape, hw, cache))
                plan.uses_cache += monotone_pricing(hw)
            else:
                plan.segs.append(_vector_seg(shape, hw))
    except MappingError as exc:
        plan.error = exc
        return plan
    small = [j for j, s in enumerate(plan.segs) if s.fitting_rows <= WHOLE_ROWS]
    plan.large = [j for j, s in enumerate(plan.segs) if s.fitting_rows > WHOLE_ROWS]
    plan.whole = _Block.of(plan.segs, small, [plan.segs[j].fitting() for j in small])
    for j in plan.large:
        plan.segs[j] = _with_keys(plan.segs[j])
    if plan.large:
        plan.probe = plan.probe_init = _Block.of(plan.segs, plan.large, [np.array(plan.segs[j].probes)
                                                                         for j in plan.large])
    return plan


class PlanCache:
    """Whole-graph pricing plans (``PointPlan``), least recently used dropped beyond ``kept``, over the tables of one
    ``TilingCache`` (``tables``): the caller owns both (a sweep keeps one per process, ``simulate_totals`` uses
    ``DEFAULT_PLANS``); the tiling cache holds only tables."""

    def __init__(self, tables: TilingCache, kept: int = PLANS_KEPT) -> None:
        self.tables, self.kept = tables, kept
        self.plans: OrderedDict[tuple, PointPlan] = OrderedDict()

    def get(self, shapes: tuple, hw: HardwareSpec) -> PointPlan:
        """The plan for ``shapes`` on ``hw``; a reused plan counts its Conv/Gemm tables as ``tables`` hits."""
        key = (id(shapes), hw_params(hw), hw.vector_unit.lanes, monotone_pricing(hw))
        hit = self.plans.get(key)
        if hit is not None and hit.shapes is shapes:
            self.plans.move_to_end(key)
            self.tables.hits += hit.uses_cache
            return hit
        plan = self.plans[key] = build_plan(shapes, hw, self.tables)
        while len(self.plans) > self.kept:
            self.plans.popitem(last=False)
        return plan


DEFAULT_PLANS = PlanCache(DEFAULT_CACHE)  # for callers that keep none of their own


def point_plan(shapes: tuple, hw: HardwareSpec, plans: PlanCache = DEFAULT_PLANS) -> PointPlan:
    """The plan for ``shapes`` on ``hw`` from ``plans`` (``PlanCache.get``)."""
    return plans.get(shapes, hw)
