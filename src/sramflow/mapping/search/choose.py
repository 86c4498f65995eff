"""Schedule choice for one shape: the best row of a Conv/Gemm's tiling table (``best_row``, via ``search_conv``), the
best chunk of a vector node (``search_vector``), and ``map_shape`` over all shape kinds. Whole graphs for one
hardware point are chosen at once by ``plan.PointPlan`` (the same rows), and under a cycle budget by ``budget``.

Conv/Gemm rows: single- and double-buffered rows are stored apart (``TilingTable.single_rows``), so each part gets
only its own cycle formula (``cost.model.total_cycles``); for latency only the rows tied at the fewest cycles are
priced for energy. Same values and the same choice as pricing every row with both formulas: the row minimizing
(objective, the other metric), first in enumeration order (``TilingTable.rank``) among equals. Vector nodes: the
chunk minimizing the objective; ties: single buffering first, then the largest chunk."""

from __future__ import annotations

import dataclasses
import itertools
from typing import NoReturn

import numpy as np

from sramflow.cost.counts import ceil_div
from sramflow.cost.model import busy_cycles, energy_pj, objective_value, total_cycles
from sramflow.errors import MappingError
from sramflow.hw.spec import HardwareSpec, OffchipMemory, Source
from sramflow.mapping.conv import (
    ConvShape, ConvTiling, HwParams, footprint_words, keeps, remember_counts, several_tiles, spills, trips,
)
from sramflow.mapping.conv_schedule import RESIDUAL_STAGEABLE, ConvSchedule
from sramflow.mapping.fused import FusedSchedule, FusedShape
from sramflow.mapping.schedule import Schedule, allocate
from sramflow.mapping.staging import (
    STAGEABLE, Hierarchy, LevelParams, OperandBytes, fits, level_accesses, staged_counts, transactions,
)
from sramflow.mapping.search.bounded import MEMO_KEPT, bounded_choice, pricing_key
from sramflow.mapping.search.memo import LruMemo
from sramflow.mapping.search.table_cache import DEFAULT_CACHE, TilingCache
from sramflow.mapping.search.tiling_table import (
    TilingTable, candidates, hw_params, min_working_set_bytes, tiling_table,
)
from sramflow.mapping.vector import VectorSchedule, VectorShape, vector_rows, vector_schedule

OBJECTIVES = ("latency", "energy", "edp")


def monotone_pricing(hw: HardwareSpec) -> bool:
    """Whether cycles and energy never decrease when any priced count grows (at fixed buffering).

    Cycles are maxima and sums of counts, so they never decrease. Energy is counts x non-negative energies, plus
    leakage x cycles, plus idle energy x banks x (cycles - port cycles), which falls by at most idle x banks per
    extra port cycle, and an extra port cycle needs at least one more SRAM access; so energy never decreases
    when every access costs more than idle x banks. Then a row dominated by an earlier row is never chosen."""
    m = hw.main_sram
    return min(m.read_energy_pj, m.write_energy_pj) > m.idle_energy_pj_per_cycle * m.banks


def conv_table(shape: ConvShape, hw: HardwareSpec, cache: TilingCache | None = DEFAULT_CACHE,
               larger: bool = False) -> tuple[HwParams, TilingTable]:
    """The counting parameters and the tiling table of ``shape`` on ``hw`` (from ``cache`` when the pricing is
    monotone; None: no cache); ``MappingError`` when no tiling fits. ``larger``: the table may be one built for a
    larger SRAM (``TilingCache.source``), of which only the rows with ``footprint_words <= hwp.capacity_words`` fit."""
    hwp = hw_params(hw, shape)
    prune = monotone_pricing(hw)
    if cache is not None and prune:
        table = cache.source(shape, hwp) if larger else cache.get(shape, hwp)
    else:
        table = tiling_table(shape, hwp, prune)
    if table.capacity_words > hwp.capacity_words:
        fits = bool(np.any(table.footprint_words <= hwp.capacity_words))
    else:
        fits = table.enumerated_rows > 0
    if not fits:
        _no_fit(shape, hwp)
    return hwp, table


def _no_fit(shape: ConvShape, hwp: HwParams) -> NoReturn:
    if candidates(shape, hwp)["g"].size == 0:
        raise MappingError(f"layer {shape.name!r}: no tile fits the {hwp.capacity_words * hwp.word_bytes}-byte "
                           f"SRAM; minimum working set is {min_working_set_bytes(shape, hwp)} bytes")
    raise MappingError(f"layer {shape.name!r}: no tiling fits the SRAM")


def row_schedule(shape: ConvShape, hwp: HwParams, table: TilingTable, i: int) -> ConvSchedule:
    """The schedule of row ``i`` of ``table``."""
    sizes = dict(zip("gkchw", (int(v) for v in table.sizes[i])))
    return make_conv_schedule(shape, hwp, sizes, table.orders[int(table.order_index[i])], bool(table.double[i]),
                              int(table.group_k[i]), int(table.group_h[i]))


def search_conv(shape: ConvShape, hw: HardwareSpec, objective: str,
                cache: TilingCache | None = None) -> ConvSchedule:
    """The best tiling of ``shape`` on ``hw`` for ``objective``. ``cache``: tiling tables to build and reuse (a
    caller that prices the same shape at many points); None: no table, the candidates that can win are priced
    directly (``bounded``: the same choice, a fraction of the work) where that is exact (latency, or monotone
    pricing), else an uncached unpruned table."""
    if cache is None and (objective == "latency" or monotone_pricing(hw)):
        hwp = hw_params(hw, shape)
        got = bounded_choice(shape, hwp, hw, objective)
        if got is None:
            _no_fit(shape, hwp)
        sch = make_conv_schedule(shape, hwp, got.sizes, got.order, got.double, got.group_k, got.group_h)
        remember_counts(dataclasses.replace(shape, name=""), hwp, sch.tiling, got.counts)
        return sch
    hwp, table = conv_table(shape, hw, cache)
    return row_schedule(shape, hwp, table, best_row(table, hw, objective))


def make_conv_schedule(shape: ConvShape, hwp: HwParams, sizes: dict[str, int], order: tuple[str, ...],
                       double: bool, group_k: int = 0, group_h: int = 0) -> ConvSchedule:
    """A schedule for explicit tile sizes; ``group_k`` / ``group_h``: output channels / tile rows per
    accumulator group (0: the whole k tile / all rows; a group must fit the accumulators)."""
    tiling = ConvTiling(sizes["g"], sizes["k"], sizes["c"], sizes["h"], sizes["w"], tuple(order), double,
                        0 if group_k >= sizes["k"] else group_k, 0 if group_h >= sizes["h"] else group_h)
    if tiling.group_k * sizes["g"] * tiling.group_h * sizes["w"] > hwp.accumulators:
        raise MappingError(f"layer {shape.name!r}: an accumulator group of {tiling.group_k} x {sizes['g']} x "
                           f"{tiling.group_h} x {sizes['w']} outputs exceeds the {hwp.accumulators} accumulators")
    n = trips(shape, sizes)
    spill = bool(spills(tiling.order, n))
    keep = bool(keeps(tiling.order, n, sizes, tiling.group_k, tiling.group_h))
    fp = footprint_words(shape, hwp, sizes, spill or keep, False, tiling.group_k, tiling.group_h)
    words = {op: int(fp[op]) for op in ("bias", "weights", "inputs", "outputs") if int(fp[op]) > 0}
    # under double buffering an operand with one tile (loaded once) keeps one slot (``conv.buffer_words``)
    buffers = allocate(words, tuple(op for op in ("weights", "inputs", "outputs")
                                    if op in words and several_tiles(n, op)) if double else ())
    if buffers and buffers[-1].end_word > hwp.capacity_words:
        raise MappingError(f"layer {shape.name!r}: tiling {tiling} needs {buffers[-1].end_word} words, "
                           f"SRAM has {hwp.capacity_words}")
    return ConvSchedule(shape, hwp, tiling, buffers, spill, keep)


def _part(counts: dict, lo: int, hi: int) -> dict:
    return {k: v[lo:hi] if isinstance(v, np.ndarray) else v for k, v in counts.items()}


def _subset(counts: dict, idx: np.ndarray) -> dict:
    return {k: v[idx] if isinstance(v, np.ndarray) else v for k, v in counts.items()}


def table_cycles(table: TilingTable, hw: HardwareSpec) -> np.ndarray:
    """Cycles of every row: serial for the single-buffered part, overlapped for the double-buffered one."""
    c, s, n = table.counts, table.single_rows, table.rows
    parts = []
    if s:
        parts.append(np.broadcast_to(total_cycles(busy_cycles(_part(c, 0, s), hw), False), (s,)))
    if n > s:
        parts.append(np.broadcast_to(total_cycles(busy_cycles(_part(c, s, n), hw, serial=False), True), (n - s,)))
    return np.concatenate(parts) if len(parts) > 1 else np.asarray(parts[0] if parts else np.zeros(0, np.int64))


def best_rows(table: TilingTable, hw: HardwareSpec, objective: str, n: int) -> np.ndarray:
    """The ``n`` best rows of ``table`` by ``objective`` on the convolution alone (``objective_key``: the other
    metric on ties, then the table's rank)."""
    cyc = table_cycles(table, hw)
    en = np.broadcast_to(sum(energy_pj(table.counts, hw, cyc).values()), cyc.shape)
    second = en if objective == "latency" else cyc
    return lexsort_head(objective_value(objective, cyc, en), second, table.rank, n)


def lexsort_head(primary: np.ndarray, second: np.ndarray, rank: np.ndarray, n: int) -> np.ndarray:
    """The first ``n`` indices of ``np.lexsort((rank, second, primary))`` without sorting every row: only the rows
    whose ``primary`` is at most the n-th smallest can be among them."""
    primary = np.asarray(primary)
    second, rank = np.broadcast_to(second, primary.shape), np.broadcast_to(rank, primary.shape)
    if primary.size > n > 0:
        idx = np.flatnonzero(primary <= np.partition(primary, n - 1)[n - 1])
        return idx[np.lexsort((rank[idx], second[idx], primary[idx]))][:n]
    return np.lexsort((rank, second, primary))[:n]


def _first_ranked(table: TilingTable, idx: np.ndarray) -> int:
    return int(idx[np.argmin(table.rank[idx])])


def best_row(table: TilingTable, hw: HardwareSpec, objective: str) -> int:
    """The row minimizing (objective, the other metric), first in enumeration order among equals."""
    cyc = table_cycles(table, hw)
    if objective == "latency":
        tied = np.flatnonzero(cyc == cyc.min())
        if tied.size == 1:
            return int(tied[0])
        en = sum(energy_pj(_subset(table.counts, tied), hw, cyc[tied]).values())
        return _first_ranked(table, tied[en == en.min()])
    en = sum(energy_pj(table.counts, hw, cyc).values())
    obj = objective_value(objective, cyc, en)
    tied = np.flatnonzero(obj == obj.min())
    second = cyc[tied]
    return _first_ranked(table, tied[second == second.min()])


def search_vector(sh: VectorShape, hw: HardwareSpec, objective: str) -> VectorSchedule:
    """The chunk minimizing the objective; ties: single buffering first, then the largest chunk."""
    best = None
    for double, chunks, c in vector_rows(sh, hw):
        cyc = total_cycles(busy_cycles(c, hw), double)
        en = 0.0 if objective == "latency" else sum(energy_pj(c, hw, cyc).values())  # latency ties: largest chunk
        obj = objective_value(objective, cyc, en)
        i = np.lexsort((-chunks, obj))[0]
        if best is None or float(obj[i]) < best[0]:
            best = (float(obj[i]), double, int(chunks[i]))
    assert best is not None
    return vector_schedule(sh, hw, best[2], best[1])


# ---------------------------------------------------------------- outer SRAM levels (``mapping.staging``)


def hierarchy(hw: HardwareSpec) -> Hierarchy | None:
    """The outer SRAM levels' staging parameters, or None on one-level hardware."""
    if len(hw.sram) < 2:
        return None
    return Hierarchy(tuple(LevelParams(m.name, m.word_bytes, m.total_words) for m in hw.sram[1:]),
                     hw.main_sram.size_bytes, hw.offchip.burst_bytes)


def objective_key(cycles: float, energy: float, objective: str) -> tuple[float, float]:
    """How schedules are ranked under ``objective``: the objective first, the other metric on ties."""
    return {"latency": (cycles, energy), "energy": (energy, cycles), "edp": (cycles * energy, cycles)}[objective]


def schedule_metrics(sch: Schedule, hw: HardwareSpec) -> tuple[int, float]:
    """(cycles, energy pJ) of one schedule, as ``sim`` prices it: ``schedule_cycles``, and the energy of its counts
    over those cycles."""
    c = sch.counts
    cycles = schedule_cycles(sch, hw)
    return cycles, float(sum(energy_pj({f.name: getattr(c, f.name) for f in dataclasses.fields(c)}, hw,
                                       cycles).values()))


def _staged_value(sch: ConvSchedule, hw: HardwareSpec, objective: str) -> tuple[float, float]:
    """(objective, the other metric), as ``best_row`` ranks rows: under latency a placement that ties on cycles
    (a MAC-bound layer) but moves fewer off-chip bytes wins on energy instead of the tie going to staging less."""
    cycles, energy = schedule_metrics(sch, hw)
    return float(objective_value(objective, cycles, energy)), float(energy if objective == "latency" else cycles)


def level_as_link(hw: HardwareSpec, k: int = 1) -> HardwareSpec:
    """``hw`` with SRAM level ``k`` (>= 1) in place of the off-chip memory (for the tiling search only: the chosen
    schedules are priced on ``hw`` itself)."""
    m = hw.sram[k]
    link = OffchipMemory(
        name=m.name, kind="sram", bandwidth_bytes_per_cycle=float(m.word_bytes * m.banks), latency_cycles=0,
        read_energy_pj_per_byte=m.read_energy_pj / m.word_bytes, write_energy_pj_per_byte=m.write_energy_pj / m.word_bytes,
        standby_power_uw=0.0, source=Source("assumed", f"search stand-in: {m.name} as the refill link"))
    return dataclasses.replace(hw, sram=hw.sram[:1], offchip=link)


def _placements(useful: list[str], levels: int):  # noqa: ANN202 - yields (operands, their levels)
    """Every non-empty set of ``useful`` operands with a level (1..``levels``) for each: fewer operands first."""
    for n in range(1, len(useful) + 1):
        for combo in itertools.combinations(useful, n):
            for where in itertools.product(range(1, levels + 1), repeat=n):
                yield combo, where


def _staged_options(sch: ConvSchedule, hw: HardwareSpec, h: Hierarchy, objective: str, rank: int,
                    require: tuple[tuple[str, int], ...] = (), allow: frozenset[str] | None = None
                    ) -> tuple[ConvSchedule | None, tuple]:
    """The best placement of ``sch``'s operands; ``require``: (operand, level) pairs every placement must hold
    (a depth-first group's resident tensors, ``mapping.depth_first``); ``allow``: the operands a placement may
    stage (None: any); (None, ()) when none fits."""
    base = dataclasses.replace(sch, staged=(), staged_levels=(), levels=h)
    ops = base.operand_bytes
    need = dict(require)
    if sch.shape.residual:
        allow = RESIDUAL_STAGEABLE if allow is None else allow & RESIDUAL_STAGEABLE
    useful = [o for o in STAGEABLE if ops[o].tile_read + ops[o].tile_write > 0 or o in need]
    best: ConvSchedule | None = None if need else base
    best_key: tuple = () if need else (_staged_value(base, hw, objective), rank, 0, (), ())
    for combo, where in _placements(useful, len(h.outer)):
        placed = dict(zip(combo, where))
        if any(placed.get(o) != k for o, k in need.items()) or not fits(ops, combo, where, h) or \
                (allow is not None and not allow.issuperset(combo)):
            continue
        cand, key = _placed(base, combo, where, hw, h, objective, rank)
        if best is None or key < best_key:
            best, best_key = cand, key
    return best, best_key


def search_staged(shape: ConvShape, hw: HardwareSpec, objective: str,
                  cache: TilingCache | None = None) -> ConvSchedule:
    """The conv schedule for ``objective``: ``search_conv``'s, and on hardware with outer SRAM levels the best
    (tiling, staged operands and their levels) pair. ``search_conv`` runs once on the hardware as it is (every
    refill from off-chip memory) and once per outer level k with that level standing in for the off-chip link
    (``level_as_link``: every refill from level k). For each of these tilings every placement of operands in
    levels that fits (``staging.fits``) is priced on the real hardware (``mapping.staging`` counts, the cost
    model) and the least (objective, other metric) kept, as ``best_row`` ranks rows (ties: the earlier tiling,
    fewer staged operands, ``STAGEABLE`` order, inner levels). Beside these, ``placement_tilings``: per placement
    that fits, the tiling table's rows that price best with that placement's operands staged, each priced exactly
    with its own placement (ranked after the link searches' tilings on ties). A joint search over tilings and
    placements, except that the table ranking estimates the staged operands' off-chip transactions and only the
    ``PLACEMENT_ROWS`` best rows per placement are priced exactly. Any number of SRAM levels; with two this is the
    two-level choice."""
    got = search_staged_with(shape, hw, objective, cache)
    assert got is not None  # nothing required: the unstaged placement always exists
    return got


def search_staged_with(shape: ConvShape, hw: HardwareSpec, objective: str, cache: TilingCache | None = None,
                       require: tuple[tuple[str, int], ...] = (), allow: frozenset[str] | None = None
                       ) -> ConvSchedule | None:
    """``search_staged`` with ``require``: (operand, level) pairs the placement must hold, and ``allow``: the only
    operands it may stage (None: any) (None: no placement fits)."""
    sch = search_conv(shape, hw, objective, cache)
    h = hierarchy(hw)
    if h is None:
        return None if require else sch
    alts = [dataclasses.replace(search_conv(shape, level_as_link(hw, k), objective, cache), hw=sch.hw)
            for k in range(1, len(hw.sram))]
    options = [o for o in (_staged_options(s, hw, h, objective, rank, require, allow)
                           for rank, s in enumerate((sch, *alts))) if o[0] is not None]
    rank = len(alts) + 1
    for s, combo, where in placement_tilings(shape, hw, h, objective, require):
        if allow is not None and not allow.issuperset(combo):
            continue
        options.append(_placed(s, combo, where, hw, h, objective, rank))
        rank += 1
    return min(options, key=lambda o: o[1])[0] if options else None


def _placed(sch: ConvSchedule, combo: tuple[str, ...], where: tuple[int, ...], hw: HardwareSpec, h: Hierarchy,
            objective: str, rank: int) -> tuple[ConvSchedule, tuple]:
    """``sch`` (an unstaged schedule) with ``combo`` staged in levels ``where``, and its key: (objective, other
    metric), then ``rank`` (which searched tiling), fewer staged operands, ``STAGEABLE`` order, inner levels."""
    cand = dataclasses.replace(sch, staged=combo, staged_levels=where, levels=h)
    ops = cand.__dict__["operand_bytes"] = sch.operand_bytes  # the tiling's, computed once (cached_property slots)
    cand.__dict__["counts"] = staged_counts(sch.counts, ops, combo, where, h)
    return cand, (_staged_value(cand, hw, objective), rank, len(combo), tuple(STAGEABLE.index(o) for o in combo),
                  where)


RESIDUAL_ROWS = 8  # tilings of the table's best tried for a conv that adds a residual's skip tile (``search_residual``)
RESIDUAL_SCAN = 256  # of the table's best rows, those without partial sums in the output buffer are taken


def search_residual(shape: ConvShape, hw: HardwareSpec, objective: str, require: tuple[tuple[str, int], ...] = (),
                    allow: frozenset[str] | None = None) -> ConvSchedule | None:
    """The best schedule of a conv whose output path adds a residual's skip tile (``shape.residual``) on hardware
    with outer levels (None on one level, or where no tiling qualifies). The tiling search does not know the skip
    tile, so the tilings tried are those the search finds for the conv without it (the two link searches', the
    placement tilings', and the table's ``RESIDUAL_ROWS`` best of those), each without partial sums in the output
    buffer, where the skip tile goes; each is priced with the skip loads and every placement of weights and inputs
    (``RESIDUAL_STAGEABLE``: the outputs go straight off-chip) that holds ``require`` and stages only ``allow``
    (``search_staged_with``)."""
    h = hierarchy(hw)
    if h is None or not shape.residual:
        return None
    plain = dataclasses.replace(shape, residual=False)
    hwp, table = conv_table(plain, hw)
    tilings = [search_conv(plain, hw, objective), *(search_conv(plain, level_as_link(hw, k), objective)
                                                    for k in range(1, len(hw.sram)))]
    tilings += [s for s, _, _ in placement_tilings(plain, hw, h, objective)]
    free = (t for t in (row_schedule(plain, hwp, table, int(r)) for r in best_rows(table, hw, objective, RESIDUAL_SCAN))
            if not (t.spill_psums or t.keep_psums))
    tilings += itertools.islice(free, RESIDUAL_ROWS)  # built in rank order until that many qualify
    options = []
    seen = set()
    for rank, t in enumerate(tilings):
        if t.spill_psums or t.keep_psums or t.tiling in seen:
            continue
        seen.add(t.tiling)
        base = dataclasses.replace(t, shape=shape, hw=hwp, staged=(), staged_levels=(), levels=None)
        got = _staged_options(base, hw, h, objective, rank, require, allow)
        if got[0] is not None:
            options.append(got)
    return min(options, key=lambda o: o[1])[0] if options else None


PLACEMENT_ROWS = 2  # per placement: the tiling table's rows best under its pricing, then priced exactly


def placement_tilings(shape: ConvShape, hw: HardwareSpec, h: Hierarchy, objective: str,
                      require: tuple[tuple[str, int], ...] = ()
                      ) -> list[tuple[ConvSchedule, tuple[str, ...], tuple[int, ...]]]:
    """The tilings that are best for a placement rather than for one link, each with its placement: for every
    placement of operands in the outer levels that fits (and holds ``require``), the ``PLACEMENT_ROWS`` rows of the
    tiling table that price best with those operands staged (``_placement_counts``, every row at once). The link
    searches miss these: with the partial sums held in level 1, a reduction-outermost tiling reads each weight once
    and spills its partial sums to level 1, where either link's pricing sees the spills cross its link."""
    if shape.residual:  # the table's rows are priced without its skip tile loads: ``search_residual`` takes the
        return []  # placement tilings of its shape without the residual instead
    unnamed, required = dataclasses.replace(shape, name=""), tuple(o for o, _ in require)
    got = _PLACEMENT_MEMO.get((unnamed, hw_params(hw, shape), pricing_key(hw), h, objective, required),
                              lambda: _placement_rows(unnamed, hw, h, objective, required))
    need = dict(require)
    return [(_named(sch, shape), combo, where) for sch, combo, where in got
            if all(dict(zip(combo, where)).get(o) == k for o, k in need.items())]


def _named(sch: ConvSchedule, shape: ConvShape) -> ConvSchedule:
    """``sch`` for ``shape`` (equal but for its name), with the counts it has computed: they do not read the name."""
    out = dataclasses.replace(sch, shape=shape)
    out.__dict__.update({k: sch.__dict__[k] for k in ("counts", "operand_bytes") if k in sch.__dict__})
    return out


_PLACEMENT_MEMO: LruMemo[tuple] = LruMemo(MEMO_KEPT)


def _placement_rows(shape: ConvShape, hw: HardwareSpec, h: Hierarchy, objective: str, required: tuple[str, ...]
                    ) -> tuple[tuple[ConvSchedule, tuple[str, ...], tuple[int, ...]], ...]:
    """``placement_tilings`` of every placement that fits, for a shape without its name: of the operands that
    move (in some row) and the ``required`` ones."""
    hwp, table = conv_table(shape, hw)
    if not table.rank.size:
        return ()
    sh = shape
    whole = {"weights": sh.weight_bytes + sh.bias_bytes, "inputs": sh.input_bytes, "outputs": sh.output_bytes,
             "psums": 0}
    footprint = {**whole, "psums": sh.output_bytes * sh.psum_bytes}
    ops = {o: OperandBytes(0, 0, whole[o], footprint[o], 0) for o in STAGEABLE}
    tiles = _tile_bytes(table.counts)
    picked: list[tuple[int, tuple[str, ...], tuple[int, ...]]] = []
    useful = [o for o in STAGEABLE if np.any(tiles[o][0] + tiles[o][1] > 0) or o in required]
    for combo, where in _placements(useful, len(h.outer)):
        if not fits(ops, combo, where, h):
            continue
        c = _placement_counts(table.counts, tiles, whole, dict(zip(combo, where)), h)
        cyc = total_cycles(busy_cycles(c, hw), table.double)
        en = sum(energy_pj(c, hw, cyc).values())
        second = en if objective == "latency" else cyc
        for i in lexsort_head(objective_value(objective, cyc, en), second, table.rank, PLACEMENT_ROWS):
            picked.append((int(i), combo, where))
    rows = {i: row_schedule(shape, hwp, table, i) for i in dict.fromkeys(i for i, _, _ in picked)}
    return tuple((rows[i], combo, where) for i, combo, where in picked)


def _tile_bytes(counts: dict) -> dict[str, tuple]:
    """(bytes into the first level, bytes out of it) per operand, per table row (``staging.operand_bytes``)."""
    return {"weights": (counts["tile_weight_bytes"], 0), "inputs": (counts["tile_input_bytes"], 0),
            "outputs": (0, counts["tile_output_bytes"]),
            "psums": (counts["tile_psum_read_bytes"], counts["tile_psum_write_bytes"])}


def _placement_counts(counts: dict, tiles: dict[str, tuple], whole: dict[str, int], placed: dict[str, int],
                      h: Hierarchy) -> dict:
    """Table counts (arrays over rows) with the operands of ``placed`` staged in their levels, as
    ``staging.staged_counts`` counts one schedule, except the off-chip transactions: a staged operand's tile
    bursts are taken as its share of the row's bytes (a ranking estimate; the chosen rows are priced exactly)."""
    c = {k: v for k, v in counts.items() if k != "offchip_bytes"}  # the totals are recounted from the operands
    for o, f in (("weights", "offchip_weight_bytes"), ("inputs", "offchip_input_bytes")):
        c[f] = tiles[o][0]
    c["offchip_output_bytes"] = tiles["outputs"][1]
    c["offchip_psum_read_bytes"], c["offchip_psum_write_bytes"] = tiles["psums"]
    tile_total = sum(r + w for r, w in tiles.values())
    staged_tiles = sum(tiles[o][0] + tiles[o][1] for o in placed)
    share = np.divide(staged_tiles, tile_total, out=np.zeros(np.shape(tile_total)), where=np.asarray(tile_total) > 0)
    bursts = c["dma_bursts"] - np.floor(c["dma_bursts"] * share).astype(np.int64)
    combo, where = tuple(placed), tuple(placed.values())
    ops = {o: OperandBytes(tiles[o][0], tiles[o][1], whole[o], 0, 0) for o in combo}  # arrays over the rows
    reads, writes = level_accesses(ops, combo, where, h)
    for o in combo:
        bursts = bursts + transactions(whole[o], h.offchip_burst_bytes)
    field = {"weights": "offchip_weight_bytes", "inputs": "offchip_input_bytes", "outputs": "offchip_output_bytes"}
    for o in placed:
        if o == "psums":
            c["offchip_psum_read_bytes"] = 0
            c["offchip_psum_write_bytes"] = 0
        else:
            c[field[o]] = whole[o]
    c["dma_bursts"] = bursts
    c["level_reads"], c["level_writes"] = reads, writes
    return c


def map_shape(shape: ConvShape | VectorShape | FusedShape, hw: HardwareSpec, objective: str,
              cache: TilingCache | None = None) -> Schedule:
    if isinstance(shape, FusedShape):
        return FusedSchedule(shape)
    if isinstance(shape, ConvShape):
        return search_staged(shape, hw, objective, cache)
    return search_vector(shape, hw, objective)  # a vector node moves each operand once: staging saves nothing


def schedule_cycles(sch: Schedule, hw: HardwareSpec) -> int:
    """The cycles ``sim`` prices ``sch`` at (0 for a fused activation). A layer run in parts (a schedule with
    ``parts``, ``mapping.depth_first_split``) takes the sum of its parts' cycles: they run one after the other."""
    if sch.unit == "fused":
        return 0
    parts = getattr(sch, "parts", None)
    if parts is not None:
        return sum(schedule_cycles(p.schedule, hw) for p in parts)
    c = sch.counts
    busy = {k: int(v) for k, v in busy_cycles({f.name: getattr(c, f.name) for f in dataclasses.fields(c)}, hw).items()}
    return int(total_cycles(busy, sch.double_buffered))


POOL_RESERVE_WORDS = (2, 4, 8, 16)  # first-level words left free for an SE pool's running sums, tried in turn


def with_free_words(conv: ConvSchedule, hw: HardwareSpec, words: int, objective: str,
                    unstaged: frozenset[str] = frozenset()) -> ConvSchedule | None:
    """``conv``'s best schedule for ``objective`` with its staged operands in the same levels (less ``unstaged``),
    searched as if the first level had ``words`` words fewer (its buffers leave them free, e.g. for a fused pool's
    running sums), priced on ``hw`` itself."""
    m = hw.sram[0]
    fewer = ceil_div(words, m.banks)
    if fewer >= m.words:
        return None
    small = dataclasses.replace(hw, sram=(dataclasses.replace(m, words=m.words - fewer, power_of_two_words=False),
                                          *hw.sram[1:]))
    keep = tuple((o, lv) for o, lv in zip(conv.staged, conv.staged_levels) if o not in unstaged)
    got = search_staged_with(conv.shape, small, objective, require=keep, allow=frozenset(o for o, _ in keep)) \
        if keep else search_conv(conv.shape, small, objective)
    if got is None:
        return None
    return dataclasses.replace(got, hw=conv.hw, levels=conv.levels)
