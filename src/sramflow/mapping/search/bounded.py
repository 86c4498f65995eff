"""One layer's best tiling on one hardware point without building its ``TilingTable``: a lower bound first, then
exact counts only for the candidates that can still win (``simulate``'s path; sweeps and cycle budgets, which price
the same rows at many points, keep building tables).

For every candidate tile (``tiling_table._candidates_steps``) the counts of any loop order are at least those with
every reload factor 1 and no partial-sum spill or keep (``conv.conv_counts`` with ``factors``: every count is a sum
of non-negative terms in them), and its input transactions at least max(tiles, ceil(bytes / burst)). Priced with the
same formulas, per buffering, these bound the objective of every row of the candidate from below: cycles never
decrease when a count grows, and energy neither where ``choose.monotone_pricing`` holds (the only case this path is
used for the energy and edp objectives; latency needs only the cycles). Two cheaper bounds need no class sums: the
order-free bound (``_OrderFree``: the class and tile sums bounded in closed form over the layer's extents,
``sum_bounds``, every reload factor 1), computed for every candidate first, and the cheap bound (``_sharpened``), the
same with the off-chip counts the least over the loop orders of each order's exact ones, computed only for the
candidates whose order-free bound can still win (on B0 at 64 KiB about a tenth for latency). The ``FIRST`` candidates
of least cheap bound are priced exactly; their best objective U keeps every candidate whose bounds are at most U
(relative margin ``MARGIN`` for float rounding), which then get their class sums and the full bound (``_bounds``) and
are priced best first, so every row tied at the best objective is priced exactly, and among
those the choice is ``choose.best_row``'s: least objective, then the other metric (energy for latency, cycles
otherwise), then enumeration order (loop order, single before double buffering, candidate index). Rows that a table
would drop as duplicates or as dominated lose those ties, so the choice is the table's
(tests/test_mapping_search_bounded.py).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from sramflow.cost.counts import Counts
from sramflow.cost.model import busy_cycles, energy_pj, objective_value, total_cycles
from sramflow.cost.table import cost_table
from sramflow.hw.spec import HardwareSpec
from sramflow.mapping.conv import (
    BIAS_BYTES, RELEVANT, ConvShape, HwParams, buffer_words, conv_counts, keeps, reload_factor, spills,
    tile_sums, trips, unit_counts,
)
from sramflow.mapping.search.memo import LruMemo
from sramflow.mapping.search.tiling_table import (
    PRICED, _candidates_steps, _class_sums, _clipped, _in_bursts, _orders, acc_groups, tile_grid,
)

MARGIN = 1e-9  # relative slack on the bound (energies are float sums)
FIRST = 64  # candidates of least bound priced exactly for the first U
BATCH = 1024  # then the candidates left are priced best first in batches of this many, each GROWTH times larger
GROWTH = 4
SHARPEN = 2048  # order-free bounds first sharpened at once (least first, then GROWTH times more each time)
SMALL = 1024  # up to this many candidates are priced exactly at once, without bounds (cheaper than bounding them)


@dataclass(frozen=True)
class BoundedChoice:
    """The chosen row: tile sizes (g, k, c, h, w), loop order, buffering and accumulator groups."""

    sizes: dict[str, int]
    order: tuple[str, ...]
    double: bool
    group_k: int
    group_h: int
    counts: Counts  # its ``conv.schedule_counts``, as priced here


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
        cs, _, qs = _class_sums(shape, hwp, ts_, ak[idx], gh[idx], ())
        n = trips(shape, ts_)
        if q is not None:
            qs = {k: v[idx] if np.ndim(v) else v for k, v in q.items()}
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
    """The least objective of counts ``c`` over the bufferings ``hwp`` allows. With double buffering that is the
    overlapped price alone: ``cost.model.total_cycles`` overlapped is the largest of the link (with the outer
    ports), SRAM port, MAC and vector cycles, each at most the serial max(link, DMA port) + max(MAC + vector,
    compute port) (the port cycles of all accesses are at most those of the DMA's plus the compute's: a ceiling of
    a sum, and a max of sums, are at most the sums of the parts'), and with equal counts energy grows with the
    cycles (leakage and idle energy), so every objective is no larger overlapped."""
    return _price(c, hwp.double_buffering, hw, objective, objective != "latency")[1]


def sum_bounds(shape: ConvShape, hwp: HwParams, t: dict, ak: np.ndarray, gh: np.ndarray, n: dict,
               clipped: np.ndarray) -> tuple[dict, dict]:
    """Per candidate, lower bounds of the class sums (``conv.class_sums``: macs, mac_cycles, w_reads, i_reads) and
    tile sums (``conv.tile_sums``) that ``conv.conv_counts`` reads, in closed form over the layer's extents (no
    tile classes). Each per-step quantity of ``conv.step_sizes`` is at least its exact share of the layer:
      w_words >= k g c kh kw bits / (8 word) (per accumulator group a ceiling), row groups per step
        ceil(h / gh) >= h / gh, so w_reads >= bits kh kw G K C OH n_w / (8 word gh) over all steps;
      input reads per step >= ceil(k / ak) g c h w / word (a window is at least the tile's pixels, each group reads
        each of its rows at least once, and the packed window is read once per k group), so i_reads >= G C K OH OW
        / (ak word); where every window row a group spans is read (a 1 x 1 kernel, or no dilation and stride <=
        kernel height: then a group's kernel rows are no fewer than its window rows), each step's reads are at
        least ceil(k / ak) times its input tile's in-image bytes / word, so i_reads >= K clipped / (ak word);
      MAC cycles, a sum of per-group ceilings, >= ceil(MACs / MACs per cycle);
    and each sum over distinct tiles is at least the layer's bytes in words (a sum of ceilings is at least the
    ceiling of the sum), its transactions at least one per tile and ceil(bytes / burst). Integer floors of these
    real bounds, so still at most the exact integers (tests/test_mapping_search_bounded.py)."""
    e = shape.extents
    wb, burst = hwp.word_bytes, hwp.burst_bytes
    khw = shape.kernel_h * shape.kernel_w
    outs = e["g"] * e["k"] * e["h"] * e["w"]
    w_bits = 0 if shape.pool_op else e["g"] * e["k"] * e["c"] * khw * shape.weight_bits
    macs = outs * e["c"] * khw + (outs * n["c"] if shape.pool_op == "avg" else 0)
    bias = BIAS_BYTES if shape.has_bias else 0

    def transfers(tiles, nbytes: int):  # noqa: ANN001, ANN202 - off-chip transactions of ``tiles`` transfers
        return tiles if burst <= 0 else np.maximum(tiles, -(-nbytes // burst))

    pixels = e["g"] * e["c"] * e["h"] * e["w"]
    # a row group reads every window row it spans unless it reads kernel rows (``conv.step_sizes``' rows_read): at
    # most as many where the kernel is 1 x 1 (read whole) or undilated with stride <= kernel height
    whole_rows = khw == 1 or (shape.span_h == shape.kernel_h and shape.stride_h <= shape.kernel_h)
    # the quantities equal for every candidate stay ints (``conv_counts`` broadcasts them)
    cs = {"macs": macs, "mac_cycles": -(-macs // hwp.macs_per_cycle),
          "w_reads": w_bits * e["h"] * n["w"] // (8 * wb * gh) if w_bits else 0,
          "i_reads": e["k"] * (np.maximum(pixels, clipped) if whole_rows else pixels) // (ak * wb)}
    out_tiles = n["g"] * n["k"] * n["p"]
    ts = {"w_words": w_bits // (8 * wb), "w_bytes": shape.weight_bytes,
          "w_bursts": transfers(n["g"] * n["k"] * n["c"], shape.weight_bytes) if w_bits else 0,
          "i_words": np.maximum(clipped, e["g"] * e["c"] * e["h"] * e["w"]) // wb,
          "b_words": e["g"] * e["k"] * bias // wb,
          "b_reads": bias * e["g"] * e["k"] * e["h"] * n["w"] // (gh * wb) if bias else 0,
          "b_bursts": transfers(n["g"] * n["k"], shape.bias_bytes) if bias else 0,
          "o_words": outs // wb, "p_words": outs * shape.psum_bytes // wb,
          "o_bursts": transfers(out_tiles, outs), "p_bursts": transfers(out_tiles, outs * shape.psum_bytes)}
    return cs, ts


@dataclass(frozen=True, eq=False)
class _OrderFree:
    """Every candidate's priced counts with every reload factor 1 and no partial-sum spill or keep (``sum_bounds``
    for the class and tile sums, ``_in_bursts_bound`` for the input transactions), at most every loop order's, field
    by field; and what the per-order off-chip terms of ``_sharpened`` read."""

    c: dict  # PRICED field -> (candidates,) array or one int for all
    n: dict  # ``conv.trips``
    cs: dict  # ``sum_bounds`` class sums
    ts: dict  # ``sum_bounds`` tile sums
    in_b: np.ndarray
    clipped: np.ndarray

    @staticmethod
    def of(shape: ConvShape, hwp: HwParams, t: dict, ak: np.ndarray, gh: np.ndarray, clipped: np.ndarray) -> _OrderFree:
        n = trips(shape, t)
        cs, ts = sum_bounds(shape, hwp, t, ak, gh, n, clipped)
        in_b = _in_bursts_bound(hwp, n["g"] * n["c"] * n["p"], clipped)
        raw = conv_counts(shape, hwp, t, (), clipped, in_b, ak, cs, gh, n, ts, factors=(1, 1, 1, False, False),
                          priced_only=True)
        return _OrderFree({f: v for f, v in unit_counts(shape, hwp, raw).items() if f in PRICED}, n, cs, ts, in_b,
                          clipped)

    def take(self, idx: np.ndarray) -> _OrderFree:
        def sub(d: dict) -> dict:
            return {k: v[idx] if np.ndim(v) else v for k, v in d.items()}
        return _OrderFree(sub(self.c), sub(self.n), sub(self.cs), sub(self.ts), self.in_b[idx], self.clipped[idx])


def _sharpened(shape: ConvShape, hwp: HwParams, hw: HardwareSpec, objective: str, f: _OrderFree,
               orders: tuple) -> np.ndarray:
    """Per candidate of ``f``, the cheap bound: ``f``'s counts with the off-chip counts replaced by their least over
    the loop orders, each order's read bytes, written bytes and transactions computed as in ``conv.conv_counts``
    (exact reload factors and spills, the ``sum_bounds`` tile sums and ``_in_bursts_bound``). Every order's counts
    are at least these, field by field, and these at least ``f``'s (each factor at least 1, each spill at least 0),
    so this bound is at least the order-free one."""
    n, ts, clipped = f.n, f.ts, f.clipped
    read = bursts = None
    psum_bytes = shape.output_bytes * shape.psum_bytes
    for order in orders:  # ``conv.conv_counts``' off-chip bytes and ``conv._dma_bursts``, term by term
        f_w = reload_factor(order, RELEVANT["weights"], n)
        f_i = reload_factor(order, RELEVANT["inputs"], n)
        f_b = reload_factor(tuple(x for x in order if x != "c"), RELEVANT["bias"], n)
        extra = np.where(spills(order, n), n["c"] - 1, 0)
        r = f_w * shape.weight_bytes + f_b * shape.bias_bytes + f_i * clipped + extra * psum_bytes
        b = f_w * ts["w_bursts"] + f_b * ts["b_bursts"] + f_i * f.in_b + ts["o_bursts"] + 2 * extra * ts["p_bursts"]
        read, bursts = (r, b) if read is None else (np.minimum(read, r), np.minimum(bursts, b))
    # written bytes: the outputs (an order with the reduction loop innermost spills no partial sums)
    c = f.c | {"offchip_weight_bytes": read, "offchip_input_bytes": 0, "offchip_psum_read_bytes": 0,
               "offchip_output_bytes": shape.output_bytes, "offchip_psum_write_bytes": 0, "dma_bursts": bursts}
    return np.broadcast_to(_min_price(c, hwp, hw, objective), clipped.shape)


def _ordered(shape: ConvShape, hwp: HwParams, hw: HardwareSpec, objective: str, f: _OrderFree, t: dict,
             ak: np.ndarray, gh: np.ndarray, orders: tuple) -> np.ndarray:
    """Per candidate of ``f`` (tiles ``t``), the ordered bound: ``conv.conv_counts`` of every loop order with its
    exact reload factors, spill and keep (``_order_factors``) on ``f``'s class and tile sum bounds and input
    transactions, priced per order (all orders in one call on (orders, candidates) arrays), the least over the
    orders. Every count grows with each sum and factor, so each order's rows count at least these field by field
    (on chip too: a spill's partial sums and a reload's words pass through the SRAM port), and these at least
    ``f``'s (each factor at least 1): at least the cheap bound's off-chip terms, and the SRAM traffic of spills and
    reloads besides."""
    fac = _order_factors(orders, f.n, t, ak, gh)
    raw = conv_counts(shape, hwp, t, (), f.clipped, f.in_b, ak, f.cs, gh, f.n, f.ts, factors=fac, priced_only=True)
    c = {k: v for k, v in unit_counts(shape, hwp, raw).items() if k in PRICED}
    return np.broadcast_to(_min_price(c, hwp, hw, objective), (len(orders), f.clipped.size)).min(axis=0)


def _cheap_bounds(shape: ConvShape, hwp: HwParams, hw: HardwareSpec, objective: str, t: dict, ak: np.ndarray,
                  gh: np.ndarray, clipped: np.ndarray, orders: tuple) -> np.ndarray:
    """Per candidate, a lower bound of the objective of each of its rows without class sums: ``_sharpened`` of
    every candidate (the search sharpens only those whose order-free bound can still win)."""
    return _sharpened(shape, hwp, hw, objective, _OrderFree.of(shape, hwp, t, ak, gh, clipped), orders)


def _bounds(shape: ConvShape, hwp: HwParams, hw: HardwareSpec, objective: str, k: _Candidates) -> np.ndarray:
    """Per candidate, a lower bound of the objective of each of its rows (any loop order, either buffering)."""
    in_b = _in_bursts_bound(hwp, k.n["g"] * k.n["c"] * k.n["p"], k.clipped)
    raw = conv_counts(shape, hwp, k.t, (), k.clipped, in_b, k.ak, k.cs, k.gh, k.n, k.ts,
                      factors=(1, 1, 1, False, False), priced_only=True)
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
    counts: dict  # every ``Counts`` field of these rows (``conv.schedule_counts``' integers)


def _order_factors(orders: tuple, n: dict, t: dict, ak: np.ndarray, gh: np.ndarray) -> tuple:
    """``conv.conv_counts``' (weight, input, bias reload factors, spill, keep) of every loop order, stacked on a
    leading axis (orders, candidates): one ``conv_counts`` call prices every order (the same integers per row)."""
    out = tuple(np.empty((len(orders), *ak.shape), dtype=dt) for dt in (np.int64, np.int64, np.int64, bool, bool))
    for i, order in enumerate(orders):
        got = (reload_factor(order, RELEVANT["weights"], n), reload_factor(order, RELEVANT["inputs"], n),
               reload_factor(tuple(x for x in order if x != "c"), RELEVANT["bias"], n), spills(order, n),
               keeps(order, n, t, ak, gh))
        for col, v in zip(out, got):
            col[i] = v  # a factor of 1 for every candidate is the int 1: broadcast on assignment
    return out


def _exact(shape: ConvShape, hwp: HwParams, hw: HardwareSpec, objective: str, k: _Candidates, idx: np.ndarray,
           orders: tuple) -> _Tied | None:
    """The fitting rows of candidates ``idx`` (positions in ``k``) tied at their least objective (None: no row
    fits), priced exactly with the tables' counts (``conv.conv_counts`` of each loop order, all orders in one call
    on (orders, candidates) arrays; the rows' enumeration order is their ``rank``, so the choice does not depend
    on the order they are gathered in)."""
    s = k if idx.size == k.index.size else k.take(idx)  # (positions are distinct: all of them is k itself)
    in_b = _in_bursts(shape, s.t, (hwp.burst_bytes,))[hwp.burst_bytes]
    f = _order_factors(orders, s.n, s.t, s.ak, s.gh)
    raw = conv_counts(shape, hwp, s.t, (), s.clipped, in_b, s.ak, s.cs, s.gh, s.n, s.ts, factors=f)
    full = unit_counts(shape, hwp, raw)
    out = np.where(np.logical_or(f[3], f[4]), s.q["p_words"], s.q["o_words"])  # (orders, candidates)
    oi, double, pos = [], [], []
    for dbl in ((False, True) if hwp.double_buffering else (False,)):
        fp = buffer_words(s.q, s.n, out, dbl)
        o_rows, rows = np.nonzero(fp <= hwp.capacity_words)
        oi.append(o_rows)
        double.append(np.full(rows.size, dbl))
        pos.append(rows)
    oi_a, dbl_a, pos_a = np.concatenate(oi), np.concatenate(double), np.concatenate(pos)
    if pos_a.size == 0:
        return None
    cand_a = s.index[pos_a]
    c = {f: _rows_of(full[f], oi_a, pos_a) for f in PRICED}
    cyc, obj, _ = _price(c, dbl_a, hw, objective, objective != "latency")
    tied = np.flatnonzero(obj == obj.min())
    if objective == "latency":  # energy only for the rows tied at the fewest cycles (``choose.best_row``)
        at = {f: v[tied] if np.ndim(v) else v for f, v in c.items()}
        second = sum(energy_pj(at, hw, cyc[tied]).values()) * np.ones(tied.size)
    else:
        second = cyc[tied] * 1.0
    rank = (oi_a[tied] * 2 + dbl_a[tied]) * (k.total + 1) + cand_a[tied]
    o_t, p_t = oi_a[tied], pos_a[tied]
    counts = {f: np.broadcast_to(_rows_of(v, o_t, p_t), tied.shape) for f, v in full.items()}
    return _Tied(float(obj[tied[0]]), second, rank, o_t, dbl_a[tied], cand_a[tied], counts)


def _rows_of(v, o: np.ndarray, p: np.ndarray):  # noqa: ANN001, ANN202
    """Rows (loop order ``o``, candidate position ``p``) of a count: an (orders, candidates) array, a candidates
    array, or one int for every row (kept an int)."""
    return v[o, p] if np.ndim(v) == 2 else v[p] if np.ndim(v) else int(v)


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


def pricing_key(hw: HardwareSpec) -> tuple:
    """What the pricing of ``hw`` reads (``cost.table.cost_table``: clock, energies, static power, timing, ports, in
    the table's order, which its float sums follow): equal keys price every count identically."""
    t = cost_table(hw)
    return (t.clock_mhz, tuple(t.energy.items()), tuple(t.static_uw.items()), tuple(t.timing.items()),
            tuple((k, p.kind, p.banks) for k, p in t.ports.items()))


def bounded_choice(shape: ConvShape, hwp: HwParams, hw: HardwareSpec, objective: str) -> BoundedChoice | None:
    """``_bounded_choice``, memoized per (shape without its name, ``hwp``, ``pricing_key(hw)``, objective): B0
    repeats layer shapes across calls (each hardware point a process maps, tests and ``simulate`` after ``run``), and
    the choice depends on nothing else."""
    return _memo(dataclasses.replace(shape, name=""), hwp, pricing_key(hw), objective, hw)


MEMO_KEPT = 4096  # choices kept (least recently used dropped)
_MEMO: LruMemo[BoundedChoice | None] = LruMemo(MEMO_KEPT)


def _memo(shape: ConvShape, hwp: HwParams, key: tuple, objective: str, hw: HardwareSpec) -> BoundedChoice | None:
    return _MEMO.get((shape, hwp, key, objective), lambda: _bounded_choice(shape, hwp, hw, objective))


def _bounded_choice(shape: ConvShape, hwp: HwParams, hw: HardwareSpec, objective: str) -> BoundedChoice | None:
    """The row ``choose.best_row`` would choose from ``shape``'s table on ``hw`` (see the module text); None when
    no row fits. Only for latency, or for hardware whose pricing is monotone.

    Up to ``SMALL`` candidates are priced at once. More: the ``FIRST`` of least cheap bound (the order-free bound of
    every candidate, sharpened where it is least, ``least``) are priced for a first U; the candidates whose
    order-free bound is at most U are sharpened, and those whose cheap bound is at most U get their class sums and
    the full bound
    (``_bounds``), and are priced best first (``_best_first``, batches from ``BATCH``) until every unpriced
    candidate's bound exceeds U, so none of their rows can tie the best."""
    t = tile_grid(shape, hwp)
    size = t["g"].size
    if size == 0:
        return None
    orders = tuple(_orders(shape))
    best = _Best()
    if size <= SMALL:  # the candidates (whose smallest footprint fits), priced at once
        t, q = _candidates_steps(shape, hwp)
        ak, gh = acc_groups(t, hwp, shape)
        k = _Candidates.of(shape, hwp, t, q, ak, gh, _clipped(shape, t), np.arange(t["g"].size))
        best.add(_exact(shape, hwp, hw, objective, k, np.arange(t["g"].size), orders))
    else:  # the grid: its tiles that are no candidates have no fitting row, and it keeps the candidates' order
        ak, gh = acc_groups(t, hwp, shape)
        clipped = _clipped(shape, t)
        free = _OrderFree.of(shape, hwp, t, ak, gh, clipped)
        lb = np.array(np.broadcast_to(_min_price(free.c, hwp, hw, objective), (size,)), dtype=np.float64)
        sharp, done, m = np.zeros(size, dtype=bool), np.zeros(size, dtype=bool), FIRST

        def sharpen(idx: np.ndarray) -> np.ndarray:  # ``idx`` with its order-free bounds replaced by the cheap ones
            blunt = idx[~sharp[idx]]
            if blunt.size:
                lb[blunt], sharp[blunt] = _sharpened(shape, hwp, hw, objective, free.take(blunt), orders), True
            return idx

        def least(m: int) -> np.ndarray:
            """The ``m`` unpriced candidates of least bound, each sharpened: the least sharpened ones, once every
            unsharpened candidate's order-free bound exceeds the largest of them (their cheap bound is no less).
            Order-free bounds can rank poorly (energy): those of least bound are sharpened in growing chunks."""
            chunk = SHARPEN
            while True:
                idx = np.flatnonzero(~done & sharp)
                if idx.size > m:
                    idx = np.sort(idx[np.argpartition(lb[idx], m - 1)[:m]])
                top = lb[idx].max() if idx.size == m else np.inf
                blunt = np.flatnonzero(~done & ~sharp & (lb <= top))
                if blunt.size == 0:
                    return idx
                if blunt.size > chunk:
                    blunt = blunt[np.argpartition(lb[blunt], chunk - 1)[:chunk]]
                sharpen(blunt)
                chunk *= GROWTH

        while not best.rows and not done.all():  # the first U: batches of least cheap bound until a row fits
            idx = least(m)
            done[idx], m = True, m * GROWTH
            k = _Candidates.of(shape, hwp, t, None, ak, gh, clipped, idx)
            best.add(_exact(shape, hwp, hw, objective, k, np.arange(idx.size), orders))
        live = sharpen(np.flatnonzero(~done & (lb <= best.limit())))
        live = live[lb[live] <= best.limit()]
        if live.size:  # the ordered bound before any class sums (the cheap one leaves a spill's SRAM traffic out)
            sub = {d: v[live] for d, v in t.items()}
            lb[live] = np.maximum(lb[live], _ordered(shape, hwp, hw, objective, free.take(live), sub, ak[live],
                                                     gh[live], orders))
            live = live[lb[live] <= best.limit()]
        if live.size:
            k = _Candidates.of(shape, hwp, t, None, ak, gh, clipped, live)
            _best_first(shape, hwp, hw, objective, k, np.maximum(lb[live], _bounds(shape, hwp, hw, objective, k)),
                        orders, best, BATCH)
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
                         int(gh[j]), Counts(**{f: int(v[i]) for f, v in b.counts.items()}))
