"""One layer's best tiling on one hardware point without building its ``TilingTable``: a lower bound first, then
exact counts only for the candidates that can still win (``simulate``'s path; sweeps and cycle budgets, which price
the same rows at many points, keep building tables).

For every candidate tile (``tiling_table._candidates_steps``) the counts of any loop order are at least those with
every reload factor 1 and no partial-sum spill or keep (``conv.conv_counts`` with ``factors``: every count is a sum
of non-negative terms in them), and its input transactions at least max(tiles, ceil(bytes / burst)). Priced with the
same formulas, per buffering, these bound the objective of every row of the candidate from below: cycles never
decrease when a count grows, and energy neither where ``choose.monotone_pricing`` holds (the only case this path is
used for the energy and edp objectives; latency needs only the cycles). A cheaper bound from the off-chip counts
alone (``_link_bounds``: exact reload factors per loop order, every other count 0) needs no class sums, so it is
computed for every candidate first. The candidates of least bound are priced exactly; their best objective U keeps
every candidate whose bounds are at most U (relative margin ``MARGIN`` for float rounding), so every row tied at the
best objective is priced exactly, and among those the choice is
``choose.best_row``'s: least objective, then the other metric (energy for latency, cycles otherwise), then
enumeration order (loop order, single before double buffering, candidate index). Rows that a table would drop as
duplicates or as dominated lose those ties, so the choice is the table's (tests/test_mapping_search_bounded.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sramflow.cost.model import busy_cycles, energy_pj, objective_value, total_cycles
from sramflow.hw.spec import HardwareSpec
from sramflow.mapping.conv import (
    RELEVANT, ConvShape, HwParams, conv_counts, reload_factor, spills, step_sizes, tile_sums, trips, unit_counts,
)
from sramflow.mapping.search.tiling_table import (
    PRICED, _candidates_steps, _class_sums, _clipped, _in_bursts, _order_counts, _orders, acc_groups, tile_grid,
)

MARGIN = 1e-9  # relative slack on the bound (energies are float sums)
FIRST = 1024  # candidates of least bound priced exactly for the first U; each later batch GROWTH times larger
GROWTH = 4
SMALL = 8192  # up to this many candidates are priced exactly at once, without bounds (cheaper than bounding them)


@dataclass(frozen=True)
class BoundedChoice:
    """The chosen row: tile sizes (g, k, c, h, w), loop order, buffering and accumulator groups."""

    sizes: dict[str, int]
    order: tuple[str, ...]
    double: bool
    group_k: int
    group_h: int


def _price(c: dict, double, hw: HardwareSpec, objective: str, energy: bool):  # noqa: ANN001, ANN202
    """(cycles, objective, energy or None) of rows with counts ``c`` and buffering ``double`` (bool or array)."""
    cyc = total_cycles(busy_cycles(c, hw, serial=double is not True), double)
    size = np.shape(double) or np.shape(cyc)
    cyc = np.broadcast_to(cyc, size)
    if not energy:
        return cyc, objective_value(objective, cyc, 0.0), None
    en = np.broadcast_to(sum(energy_pj(c, hw, cyc).values()), size)
    return cyc, objective_value(objective, cyc, en), en


@dataclass(frozen=True)
class _Candidates:
    """Some candidate tiles of one layer (``index`` into all ``total`` of them) and what their counts need that no
    loop order changes."""

    index: np.ndarray
    total: int
    t: dict  # tile sizes per dimension
    q: dict  # ``conv.step_sizes``
    ak: np.ndarray
    gh: np.ndarray
    cs: dict  # ``conv.class_sums``
    n: dict  # ``conv.trips``
    ts: dict  # ``conv.tile_sums``
    clipped: np.ndarray  # off-chip bytes of all distinct input tiles

    @staticmethod
    def of(shape: ConvShape, hwp: HwParams, t: dict, q: dict | None, ak: np.ndarray, gh: np.ndarray,
           clipped: np.ndarray, idx: np.ndarray) -> _Candidates:
        """Candidates ``idx`` (ascending) of all those in ``t``, with their class sums (and step sizes, when ``q``
        has none)."""
        ts_ = {d: v[idx] for d, v in t.items()}
        cs, _ = _class_sums(shape, hwp, ts_, ak[idx], gh[idx], ())
        n = trips(shape, ts_)
        qs = step_sizes(shape, hwp, ts_, ak[idx], gh[idx]) if q is None else \
            {k: v[idx] if np.ndim(v) else v for k, v in q.items()}
        return _Candidates(idx, int(t["g"].size), ts_, qs, ak[idx], gh[idx], cs, n, tile_sums(n, cs), clipped[idx])

    def take(self, idx: np.ndarray) -> _Candidates:
        def sub(d: dict) -> dict:
            return {k: v[idx] if np.ndim(v) else v for k, v in d.items()}
        return _Candidates(self.index[idx], self.total, sub(self.t), sub(self.q), self.ak[idx], self.gh[idx],
                           sub(self.cs), sub(self.n), sub(self.ts), self.clipped[idx])


def _in_bursts_bound(hwp: HwParams, tiles: np.ndarray, clipped: np.ndarray) -> np.ndarray:
    """At most the off-chip transactions of all distinct input tiles: each is at least one, and together they move
    ``clipped`` bytes."""
    return tiles if hwp.burst_bytes <= 0 else np.maximum(tiles, -(-clipped // hwp.burst_bytes))


def _min_price(c: dict, hwp: HwParams, hw: HardwareSpec, objective: str):  # noqa: ANN202
    """The least objective of counts ``c`` over the bufferings ``hwp`` allows."""
    energy = objective != "latency"
    lb = _price(c, False, hw, objective, energy)[1]
    return np.minimum(lb, _price(c, True, hw, objective, energy)[1]) if hwp.double_buffering else lb


def _link_bounds(shape: ConvShape, hwp: HwParams, hw: HardwareSpec, objective: str, t: dict, clipped: np.ndarray,
                 orders: tuple) -> np.ndarray:
    """Per candidate, a lower bound from the off-chip counts alone (no class sums: cheap for every candidate), per
    loop order: its reload factors and spills exactly (``conv.conv_counts``), the weight tiles' bytes at least the
    layer's packed weight bytes, one transaction at least per weight, input and output tile transfer (and
    ``_in_bursts_bound``); every other count 0."""
    n = trips(shape, t)
    tiles_in = _in_bursts_bound(hwp, n["g"] * n["c"] * n["p"], clipped)
    tiles_w = n["g"] * n["k"] * n["c"] if shape.weight_bytes else 0
    tiles_out = n["g"] * n["k"] * n["p"]
    zero = {f: 0 for f in PRICED}
    lb = np.full(t["g"].shape, np.inf)
    for order in orders:
        f_w = reload_factor(order, RELEVANT["weights"], n)
        f_i = reload_factor(order, RELEVANT["inputs"], n)
        f_b = reload_factor(tuple(x for x in order if x != "c"), RELEVANT["bias"], n)
        psum = np.where(spills(order, n), n["c"] - 1, 0) * shape.output_bytes * shape.psum_bytes
        c = zero | {"offchip_weight_bytes": f_w * shape.weight_bytes + f_b * shape.bias_bytes,
                    "offchip_input_bytes": f_i * clipped, "offchip_output_bytes": shape.output_bytes,
                    "offchip_psum_read_bytes": psum, "offchip_psum_write_bytes": psum,
                    "dma_bursts": f_w * tiles_w + f_i * tiles_in + tiles_out}
        # every other count 0: the serial and the overlapped formula both give the link's cycles
        lb = np.minimum(lb, _price(c, False, hw, objective, objective != "latency")[1])
    return lb


def _bounds(shape: ConvShape, hwp: HwParams, hw: HardwareSpec, objective: str, k: _Candidates) -> np.ndarray:
    """Per candidate, a lower bound of the objective of each of its rows (any loop order, either buffering)."""
    in_b = _in_bursts_bound(hwp, k.n["g"] * k.n["c"] * k.n["p"], k.clipped)
    raw = conv_counts(shape, hwp, k.t, (), k.clipped, in_b, k.ak, k.cs, k.gh, k.n, k.ts,
                      factors=(1, 1, 1, False, False))
    c = {f: v for f, v in unit_counts(shape, hwp, raw).items() if f in PRICED}
    return np.broadcast_to(_min_price(c, hwp, hw, objective), k.t["g"].shape)


@dataclass(frozen=True, eq=False)
class _Tied:
    """The rows of one batch of candidates tied at the batch's least objective."""

    obj: float
    second: np.ndarray  # the other metric
    rank: np.ndarray  # enumeration order
    oi: np.ndarray  # loop order index
    double: np.ndarray
    cand: np.ndarray  # candidate index (among all)


def _exact(shape: ConvShape, hwp: HwParams, hw: HardwareSpec, objective: str, k: _Candidates, idx: np.ndarray,
           orders: tuple) -> _Tied | None:
    """The fitting rows of candidates ``idx`` (positions in ``k``) tied at their least objective (None: no row
    fits), priced exactly with the tables' counts (``tiling_table._order_counts``)."""
    s = k.take(idx)
    in_b = _in_bursts(shape, s.t, (hwp.burst_bytes,))[hwp.burst_bytes]
    pre = {"clipped": s.clipped, "ak": s.ak, "gh": s.gh, "in_b": in_b, "cs": s.cs, "q": s.q, "n": s.n, "ts": s.ts}
    cols: dict[str, list] = {f: [] for f in PRICED}
    oi, double, cand = [], [], []
    for o, order in enumerate(orders):
        c, out = _order_counts(shape, hwp, s.t, pre, order)
        for dbl in ((False, True) if hwp.double_buffering else (False,)):
            fp = s.q["b_words"] + (2 if dbl else 1) * (s.q["w_words"] + s.q["i_words"] + out)
            rows = np.flatnonzero(fp <= hwp.capacity_words)
            for f in PRICED:
                cols[f].append(c[f][rows])
            oi.append(np.full(rows.size, o))
            double.append(np.full(rows.size, dbl))
            cand.append(s.index[rows])
    cand_a = np.concatenate(cand)
    if cand_a.size == 0:
        return None
    c = {f: np.concatenate(v) for f, v in cols.items()}
    oi_a, dbl_a = np.concatenate(oi), np.concatenate(double)
    cyc, obj, _ = _price(c, dbl_a, hw, objective, objective != "latency")
    tied = np.flatnonzero(obj == obj.min())
    if objective == "latency":  # energy only for the rows tied at the fewest cycles (``choose.best_row``)
        second = sum(energy_pj({f: v[tied] for f, v in c.items()}, hw, cyc[tied]).values()) * np.ones(tied.size)
    else:
        second = cyc[tied] * 1.0
    rank = (oi_a[tied] * 2 + dbl_a[tied]) * (k.total + 1) + cand_a[tied]
    return _Tied(float(obj[tied[0]]), second, rank, oi_a[tied], dbl_a[tied], cand_a[tied])


class _Best:
    """The rows tied at the least objective found so far (U)."""

    def __init__(self) -> None:
        self.u, self.rows = np.inf, []

    def add(self, got: _Tied | None) -> None:
        if got is not None and got.obj <= self.u:
            self.rows = [b for b in self.rows if b.obj == got.obj] + [got]
            self.u = got.obj

    def limit(self) -> float:
        return self.u * (1 + MARGIN)


def _best_first(shape: ConvShape, hwp: HwParams, hw: HardwareSpec, objective: str, k: _Candidates, lb: np.ndarray,
                orders: tuple, best: _Best, batch: int) -> None:
    """Prices the candidates of ``k`` in batches of least bound ``lb`` (growing) until every unpriced one's bound
    exceeds U."""
    done = np.zeros(lb.size, dtype=bool)
    while True:
        idx = np.flatnonzero(~done & (lb <= best.limit()))
        if idx.size == 0:
            return
        if idx.size > batch:  # the batch of least bound
            idx = np.sort(idx[np.argpartition(lb[idx], batch - 1)[:batch]])
        done[idx] = True
        batch *= GROWTH
        best.add(_exact(shape, hwp, hw, objective, k, idx, orders))


def bounded_choice(shape: ConvShape, hwp: HwParams, hw: HardwareSpec, objective: str) -> BoundedChoice | None:
    """The row ``choose.best_row`` would choose from ``shape``'s table on ``hw`` (see the module text); None when
    no row fits. Only for latency, or for hardware whose pricing is monotone.

    Up to ``SMALL`` candidates are priced at once. More: the ``FIRST`` of least off-chip bound (``_link_bounds``)
    are priced for a first U; the candidates whose off-chip bound is at most U get their class sums and the full
    bound (``_bounds``), and are priced best first (``_best_first``) until every unpriced candidate's bound exceeds
    U, so none of their rows can tie the best."""
    t = tile_grid(shape, hwp)
    size = t["g"].size
    if size == 0:
        return None
    orders = tuple(_orders(shape))
    best = _Best()
    if size <= SMALL:  # the candidates (whose smallest footprint fits), priced at once
        t, q = _candidates_steps(shape, hwp)
        ak, gh = acc_groups(t, hwp)
        k = _Candidates.of(shape, hwp, t, q, ak, gh, _clipped(shape, t), np.arange(t["g"].size))
        best.add(_exact(shape, hwp, hw, objective, k, np.arange(t["g"].size), orders))
    else:  # the grid: its tiles that are no candidates have no fitting row, and it keeps the candidates' order
        ak, gh = acc_groups(t, hwp)
        clipped = _clipped(shape, t)
        link = _link_bounds(shape, hwp, hw, objective, t, clipped, orders)
        m = min(FIRST, size)
        first = np.sort(np.argpartition(link, m - 1)[:m])
        k = _Candidates.of(shape, hwp, t, None, ak, gh, clipped, first)
        best.add(_exact(shape, hwp, hw, objective, k, np.arange(first.size), orders))
        live = np.flatnonzero(link <= best.limit())
        live = live[~np.isin(live, first, assume_unique=True)]
        if live.size:
            k = _Candidates.of(shape, hwp, t, None, ak, gh, clipped, live)
            _best_first(shape, hwp, hw, objective, k, _bounds(shape, hwp, hw, objective, k), orders, best, FIRST)
    if not best.rows:
        return None
    rows = best.rows
    second = np.concatenate([b.second for b in rows])
    rank = np.concatenate([b.rank for b in rows])
    tied = np.flatnonzero(second == second.min())
    i = int(tied[np.argmin(rank[tied])])
    at = np.cumsum([b.rank.size for b in rows])
    m = int(np.searchsorted(at, i, side="right"))
    b, i = rows[m], i - int(at[m] - rows[m].rank.size)
    j = int(b.cand[i])
    return BoundedChoice({d: int(t[d][j]) for d in "gkchw"}, orders[int(b.oi[i])], bool(b.double[i]), int(ak[j]),
                         int(gh[j]))
