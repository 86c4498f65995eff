"""Depth-first band groups (``--fusion depth-first``; issue 17 item 2, phase 2): two layers run part by part with
the intermediate part held in an outer SRAM level, so a tensor too large for the level never leaves the chip.

A band group is a producer Conv (with its fused epilogue; the MBConv expand 1x1, also the stem 3x3 or a project
1x1 feeding the next expand) and the one Conv that reads its output (typically the depthwise kxk). Two cuts:
- **row bands** (``_band_cut``): the consumer's output rows are cut into bands of ``BAND_ROWS`` rows
  (``depth_first_split.split_parts``); band [r0, r1) needs the consumer's input rows [a, b) (``band_shape``: the
  band with its halo rows, clipped to the image), which the producer computes (``band_shape`` of the producer: its
  own input band, read from off-chip memory as today);
- **channel chunks** (``_chunk_cut``, a depthwise consumer of a plain producer only): the producer computes output
  channels [k0, k1) of every row (its whole input read once per chunk) and the consumer the same channels. No halo.
Each part runs as two sub-convolutions, one after the other: the producer's part writes its output into level k
(``ResidentConvSchedule`` with ``outputs`` resident: stored from the first level into level k, never drained); the
consumer's part reads it from there (``inputs`` resident: never filled from off-chip) and writes its output
off-chip as today. Each part is mapped by ``search_staged_with`` (the searched tilings and placements, with the
resident operand required in level k); the parts' other staged operands sit below the band (``depth_first.placed``).

Halo rows (kernel span - stride input rows shared by neighbouring bands) are **cached** where a band row (all
channels of one row) is a whole number of the level's words: the band region (the largest band) sits at the top of
the level with its rows stored one after the other; before band i runs, its halo rows are copied from where band
i-1 left them to the front of the region (``ResidentConvSchedule.copied_words`` level reads and writes on the
consumer's part, reported as ``cached_halo_bytes``), and the producer's part computes only the rows no earlier band
computed and writes them after the halo rows. (The copy, not a ring buffer, keeps the band one contiguous region for
the consumer's input tiles.) Elsewhere they are **recomputed**: the producer's part computes the band's whole input,
its halo rows included (``BandSplitSchedule.recomputed_macs``; their input rows re-read from off-chip, the
producer's ``halo_bytes``), and each band sits at the top of the level.

The SE global average pool fused on the consumer's output path (``mapping.epilogue.PoolPlan``) keeps the int32
running sums of one channel tile in spare words of the first level over every pixel tile of those channels. A
channel chunk computes every row of its channels, so each chunk keeps the pool fused with its own sums (where every
consumer part has room for them). Row bands need every channel's sums kept from band to band while the producer's
part runs in between and owns the first level: they are **carried** in the top words of the level
(``epilogue.PoolCarry``, ``ceil(4 / word bytes)`` words per channel; the band region sits below them). Each band's
channel tiles load their sums from there before their first pixel tile (all but the first band) and store them back
after their last (all but the last band, which finishes the means); the consumer parts store their outputs straight
off-chip, next to the sums. Where that does not fit (the level, or a part's first-level words), the pool is
**unfused** (its own pass again, reading the consumer's output back from off-chip). Both are priced in the
comparison that decides. A pool that the per-layer choice left in a pass of its own (the whole layer's tiling had no
room for the sums, or the objective declined them there) is offered to the group all the same (``PoolOffer``): the
parts are searched anew and may keep it fused. A channel-chunk group is also tried with its consumer parts
re-searched with words left free for the sums (``with_pool``).

Which edges qualify (``band_edges``): the producer's output (after its epilogue) has exactly one reader, the
consumer; every node between them in graph order is an epilogue node fused into the producer; neither is in a
residency group (``depth_first.plan_groups``, which runs first and keeps whole tensors where they fit) nor carries a
residual Add or an SE scale on its input path; both have more than one output row and neither is a pool. Per edge
and level every cut (``_candidates``) is priced as the sum of its parts' (cycles, energy) plus the pool's own pass
where it was unfused, and the best is kept only where the objective (then the other metric) improves on the two
layers' current schedules (whole, or split by ``depth_first_split``) with the pool fused, or with its pass where it
was offered; elsewhere both fall back.
Counts are the parts' sums, cycles the sum of the parts' cycles (they run one after the other).

Not built: chains of more than two layers in one group (project 1x1 + Add -> next expand -> depthwise: the residual
Add reads a skip tensor from off-chip). On one-level hardware band groups run where ``sim.api`` maps the SRAM split
into a tile buffer and a region (``hw.partition``): the region is level k.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass

from sramflow.cost.counts import ceil_div
from sramflow.hw.spec import HardwareSpec
from sramflow.ir.graph import Graph
from sramflow.mapping.conv import ConvShape
from sramflow.mapping.conv_schedule import ConvSchedule
from sramflow.mapping.depth_first import (
    Group, ResidentConvSchedule, as_resident, group_output, operand_words, placed, summed_value,
)
from sramflow.mapping.depth_first_split import (
    KEPT_INPUT_PEERS, PART_COUNTS, Part, SplitSchedule, band_shape, chunk_shape, split_parts,
)
from sramflow.mapping.epilogue import SUM_BYTES, EpilogueSchedule, PoolCarry, pool_plan
from sramflow.mapping.fused import FusedSchedule
from sramflow.mapping.lower import lower
from sramflow.mapping.schedule import Schedule
from sramflow.mapping.staging import footprint_words
from sramflow.mapping.search.choose import (POOL_RESERVE_WORDS, hierarchy, map_shape, search_residual,
                                          search_staged_with, with_free_words)

BAND_ROWS = (28, 16, 14, 8, 7, 4, 2, 1)  # consumer output rows per band tried (coarse first; the last band smaller)
HALO_MODES = ("cache", "recompute")  # how neighbouring bands' shared input rows are produced (``try_bands``)


@dataclass(frozen=True)
class BandSplitSchedule(SplitSchedule):
    """One layer of a band group: its parts are the group's bands (``parts[i]`` of the producer and of the consumer
    run one after the other, band by band), ``role`` "producer" (outputs resident in ``level``) or "consumer"
    (inputs resident there), ``partner`` the other layer's node name."""

    role: str = "producer"
    partner: str = ""
    level: int = 1
    halo: str = "recompute"  # ``HALO_MODES``, or "none" for channel chunks
    # producer parts per consumer part: a channel chunk's producer run in this many row bands (``try_chunk_bands``)
    sub_parts: int = 1

    @property
    def cached_halo_bytes(self) -> int:
        """Bytes of halo rows moved within the level (halo "cache": read and written once each per band that
        reuses them; counted on the consumer's parts, ``ResidentConvSchedule.copied_words``)."""
        h = _conv(self.parts[0].schedule).levels
        words = sum(_conv(p.schedule).copied_words for p in self.parts)
        return 0 if h is None else words * h.level(self.level).word_bytes

    @property
    def recomputed_macs(self) -> int:
        """MACs the bands compute more than the whole layer (the producer's recomputed halo rows; 0 for the
        consumer, whose bands do not overlap in their outputs)."""
        return sum(_conv(p.schedule).shape.macs for p in self.parts) - self.shape.macs

    def describe(self) -> dict[str, object]:
        return {**super().describe(), "band_group": {"role": self.role, "partner": self.partner, "level": self.level,
                                                     "halo": self.halo, "recomputed_macs": self.recomputed_macs,
                                                     "cached_halo_bytes": self.cached_halo_bytes}}


def _conv(sch: Schedule) -> ConvSchedule:
    return sch.conv if isinstance(sch, EpilogueSchedule) else sch


def _whole(sch: Schedule) -> Schedule:
    return sch.whole if isinstance(sch, SplitSchedule) else sch


@dataclass(frozen=True)
class BandEdge:
    """A producer -> consumer edge a band group may take: node indices, the tensor, the fused pool on the
    consumer's output path (its node index, -1 none)."""

    producer: int
    consumer: int
    tensor: str
    pool: int


def band_edges(graph: Graph, schedules: tuple[Schedule, ...]) -> list[tuple[BandEdge, str]]:
    """Every Conv -> Conv edge with one reader, and "" or why it cannot be a band group, in graph order."""
    readers = graph.consumers()
    index = {n.name: i for i, n in enumerate(graph.nodes)}
    out = []
    for i, sch in enumerate(schedules):
        if isinstance(sch, (FusedSchedule, BandSplitSchedule)) or not isinstance(_conv(_whole(sch)), ConvSchedule):
            continue
        p = _whole(sch)
        t = group_output(graph, i, p, schedules)
        who = list(dict.fromkeys(readers.get(t, [])))
        if t == graph.output or len(who) != 1:
            continue
        j = index[who[0]]
        c = _whole(schedules[j])
        if isinstance(schedules[j], (FusedSchedule, BandSplitSchedule)) or not isinstance(_conv(c), ConvSchedule):
            continue
        edge = BandEdge(i, j, t, _pool_index(graph, c, index))
        out.append((edge, _why_not(graph, schedules, p, c, i, j)))
    return out


def _pool_index(graph: Graph, c: Schedule, index: dict[str, int]) -> int:
    return index[c.pool] if isinstance(c, EpilogueSchedule) and c.pool else -1


@dataclass(frozen=True)
class PoolOffer:
    """An SE pool that the per-layer choice left in a pass of its own (its conv's whole tiling had no room, or the
    objective declined the fused pool for the whole layer), offered to the band group of its conv, whose parts are
    searched anew and may carry its sums: the pool's node index, the conv's whole schedule with the pool fused
    (``pooled``), and the pool node's schedule once fused (``fused``)."""

    pool: int
    pooled: Schedule
    fused: FusedSchedule


def _why_not(graph: Graph, schedules: tuple[Schedule, ...], p: Schedule, c: Schedule, i: int, j: int) -> str:
    pc, cc = _conv(p), _conv(c)
    if isinstance(pc, ResidentConvSchedule) or isinstance(cc, ResidentConvSchedule):
        return "a layer of the edge already keeps a whole tensor in a level (a residency group)"
    if pc.shape.residual or cc.shape.residual or getattr(p, "residual", "") or getattr(c, "residual", ""):
        return "a residual Add on an output path loads skip tiles from off-chip memory"
    if getattr(p, "input_scale", "") or getattr(c, "input_scale", ""):
        return "an SE scale on an input path"
    if pc.shape.pool_op or cc.shape.pool_op or pc.shape.out_h < 2 or cc.shape.out_h < 2:
        return "a pool, or a layer of one output row: no row bands"
    between = [k for k in range(i + 1, j) if not (isinstance(schedules[k], FusedSchedule)
                                                  and schedules[k].shape.epilogue
                                                  and schedules[k].shape.into == graph.nodes[i].name)]
    if between:
        return f"{len(between)} nodes run between the two layers"
    return ""


def _band_cut(p: ConvShape, c: ConvShape, rows: int, halo: str = "recompute") -> list[tuple[tuple, tuple]]:
    """Per band: the producer part and the consumer part as (sub-shape, row0, row1, in_row0, in_row1, ch0, ch1)
    (``depth_first_split.Part``'s fields): the consumer's output rows [r0, r1) read its input rows [a, b); the
    producer computes its output rows [n, b). Halo "recompute": the whole input band of the consumer (n = a);
    "cache": only the rows no earlier band computed (n = the previous band's b, the rows [a, n) being in the level
    already; a last band whose rows were all computed before recomputes its last row, so every part has rows)."""
    bands = ceil_div(c.out_h, rows)
    out = []
    done = None  # the producer's rows computed so far end here
    for sub, r0, r1, a, b, _, _ in split_parts(c, "rows", bands):
        n = a if halo == "recompute" or done is None else min(max(a, done), b - 1)
        psub, pa, pb = band_shape(p, n, b)
        out.append(((psub, n, b, pa, pb, 0, _channels(psub)), (sub, r0, r1, a, b, 0, _channels(sub))))
        done = b
    return out


def chunkable(p: ConvShape, c: ConvShape) -> bool:
    """Whether the group can be cut in channel chunks: a plain producer and a depthwise consumer of its channels
    (each output channel of the consumer reads only the same channel of the producer)."""
    return p.groups == 1 and c.groups == p.k_per_group and c.c_per_group == 1 and c.k_per_group == 1


def _chunk_cut(p: ConvShape, c: ConvShape, chunks: int) -> list[tuple[tuple, tuple]]:
    """Per channel chunk [k0, k1): the producer part (its output channels k0..k1-1, every row; its whole input) and
    the consumer part (the same channels, every row), as in ``_band_cut``. No halo: the chunks share no element."""
    out = []
    for sub, r0, r1, a, b, k0, k1 in split_parts(c, "channels", chunks):
        out.append(((chunk_shape(p, k0, k1), 0, p.out_h, 0, p.in_h, k0, k1), (sub, r0, r1, a, b, k0, k1)))
    return out


class BandSearcher:
    """``search_staged_with`` per (sub-shape, required placement), memoized by the shape without its name, for one
    hardware and objective."""

    def __init__(self, hw: HardwareSpec, objective: str) -> None:
        self.hw, self.objective = hw, objective
        self.memo: dict = {}

    def __call__(self, sub: ConvShape, require: tuple[tuple[str, int], ...], allow: frozenset[str] | None = None
                 ) -> ConvSchedule | None:
        key = (dataclasses.replace(sub, name=""), require, allow)
        if key not in self.memo:
            # a layer whose output path adds a residual's skip tile (a projection run again with its band group,
            # ``depth_first_recompute``) takes only tilings without partial sums in the output buffer
            search = search_residual if sub.residual else search_staged_with
            self.memo[key] = search(sub, self.hw, self.objective, require=require, allow=allow)
        got = self.memo[key]
        return None if got is None else dataclasses.replace(got, shape=sub)


def _rewrap(sch: Schedule, conv: ConvSchedule) -> Schedule:
    return sch.with_conv(conv) if isinstance(sch, EpilogueSchedule) else conv


def try_bands(p: Schedule, c: Schedule, count: int, k: int, search: BandSearcher, halo: str = "recompute",
              pooled: Schedule | None = None, carry: bool = False, keep_input: bool = False,
              keep_weights: bool = False, reserve: int = 0) -> tuple[BandSplitSchedule, BandSplitSchedule] | None:
    """The band group of ``p`` -> ``c`` (whole-layer schedules; ``c`` without a fused pool) with the part in level
    ``k``: row bands of ``count`` consumer output rows each, their halo rows handled by ``halo`` ("cache" or
    "recompute"), or (``halo`` "none") ``count`` channel chunks; None where a part does not fit the level beside its
    other staged operands (or, for "cache", a band row is not a whole number of the level's words).

    "recompute" and chunks: each part sits at the top of the level (its own size). "cache": the band region (the
    largest band) sits at the top of the level, its rows stored one after the other (each row: all channels of
    it); before band i runs, its halo rows [a, n) are copied from where band i-1 left them to the front of the
    region (the consumer part's ``copied_words``), and the producer part writes its new rows [n, b) right after
    them.

    ``pooled``: the consumer's whole schedule with its fused pool. Channel chunks keep the pool fused where every
    consumer part has room for it (``epilogue.pool_plan``): a chunk computes every row of its channels, so its own
    running sums are those channels' whole pool (the consumer's ``whole`` then carries the pool). ``carry`` (row
    bands): the pool stays fused, every channel's running sum carried from band to band in the top words of the
    level (``epilogue.PoolCarry``; the band region sits below them), where every consumer part has room for its
    channel tile's sums.

    ``keep_input`` (channel chunks): the producer's input, which every chunk reads whole, crosses the link once.
    It sits right below the lowest chunk's band: the first chunk's producer part fills it there, the later chunks'
    producer parts read it (resident inputs; they may stage their weights below it), as ``depth_first_split``'s
    input-kept cut does. Every consumer part's own staged operands (from word 0, between two producer parts) must
    end below it: as searched (its outputs staged too, say), else staging at most its weights.

    ``reserve`` (with ``carry``): every consumer part searched as if the first level had that many words fewer and
    with its outputs stored from the first level (``with_free_words``), for the sums its own tiling leaves no room
    for. Without a reserve, a consumer part keeps whatever its search staged (outputs too: they are drained from
    below the band region, the carried sums sit above it).

    ``keep_weights`` (row bands): both layers' weights cross the link once. Every producer part stages its weights
    at the bottom of level k (parts stage their weights first), the first band's fills them and the later bands'
    keep them (resident weights, as ``depth_first_split``'s weights-kept cut); its other staged operands sit above
    them. Every consumer part stages its weights too, and stages from a floor above the most any producer part
    stages below the band (``floor_words``): the first band's consumer part fills its weights there, the later
    ones keep them, and their other staged operands sit above them. All of it below the band region."""
    h = hierarchy(search.hw)
    assert h is not None
    cap, wb = h.level(k).capacity_words, h.level(k).word_bytes
    psh, csh = _conv(p).shape, _conv(c).shape
    if halo == "none" and not chunkable(psh, csh) or keep_input and (halo != "none" or carry) or \
            keep_weights and halo == "none":
        return None
    carry_wpc = ceil_div(SUM_BYTES, wb)
    if carry:
        if halo == "none" or not (isinstance(pooled, EpilogueSchedule) and pooled.pool):
            return None
        cap -= _channels(csh) * carry_wpc  # the sums at the top of the level, the band region below them
        if cap <= 0:
            return None
    cut = _chunk_cut(psh, csh, count) if halo == "none" else _band_cut(psh, csh, count, halo)
    row_bytes = psh.groups * psh.k_per_group * psh.out_w  # one row of the band: every channel of it
    if len(cut) < 2 or halo == "cache" and row_bytes % wb:
        return None
    region = max(ceil_div(cs[0].input_bytes, wb) for _, cs in cut)
    if region > cap:
        return None
    prod, cons = [], []
    narrow = []  # keep_input: each consumer part staging its weights at most, where its own choice does not fit
    for i, ((psub, *pspan), (csub, *cspan)) in enumerate(cut):
        if keep_input:
            new_p = search(psub, (("outputs", k), ("inputs", k)))
            new_c = search(csub, (("inputs", k),))
            narrow.append(search(csub, (("inputs", k),), KEPT_INPUT_PEERS))
        elif keep_weights:
            new_p = search(psub, (("outputs", k), ("weights", k)))
            new_c = search(csub, (("inputs", k), ("weights", k)))  # staged from the floor: anything
        else:
            new_p, new_c = search(psub, (("outputs", k),)), search(csub, (("inputs", k),))
        if reserve and new_c is not None:  # first-level words left free for the carried sums
            new_c = with_free_words(new_c, search.hw, reserve, search.objective, frozenset({"outputs"}))
        if new_p is None or new_c is None:
            return None
        base = cap - region if halo == "cache" else cap - operand_words(new_p, "outputs", k)
        halo_words = (pspan[0] - cspan[2]) * row_bytes // wb if halo == "cache" else 0  # rows [a, n) in front
        # the producer's other staged operands stay below the whole band (the cached rows included)
        if not (placed(new_p, {"outputs": (k, base)}) and (keep_input or placed(new_c, {"inputs": (k, base)}))):
            return None
        resident = {"outputs": (k, base + halo_words)}
        prod.append((new_p, resident, pspan, base))
        cons.append((new_c, {"inputs": (k, base)}, cspan, halo_words if i else 0))
    if keep_input:
        kept = _kept_input(prod, cons, narrow, k)
        if kept is None:
            return None
        prod, cons = kept
    floor = _keep_weights(prod, cons, k) if keep_weights else None
    if keep_weights and floor is None:
        return None
    prod, cons = _parts(p, prod, cons, k, floor)
    axis = "channels" if halo == "none" else "rows"
    if carry:  # the sums sit above the band region; staged outputs, below it, are drained as usual
        carries = [PoolCarry(k, cap, carry_wpc, i > 0, i < len(cons) - 1) for i in range(len(cons))]
        if any(pool_plan(x.schedule, cy) is None for x, cy in zip(cons, carries)):
            return None
        cons = [dataclasses.replace(x, schedule=dataclasses.replace(pooled, conv=x.schedule, pool_carry=cy))
                for x, cy in zip(cons, carries)]
        return (BandSplitSchedule(p, axis, tuple(prod), "producer", csh.name, k, halo),
                BandSplitSchedule(pooled, axis, tuple(cons), "consumer", psh.name, k, halo))
    keep_pool = halo == "none" and isinstance(pooled, EpilogueSchedule) and bool(pooled.pool) \
        and all(pool_plan(x.schedule) is not None for x in cons)
    whole = pooled if keep_pool else c
    cons = [dataclasses.replace(x, schedule=_rewrap(whole, x.schedule)) for x in cons]
    return (BandSplitSchedule(p, axis, tuple(prod), "producer", csh.name, k, halo),
            BandSplitSchedule(whole, axis, tuple(cons), "consumer", psh.name, k, halo))


def _keep_weights(prod: list, cons: list, k: int) -> int | None:
    """The consumer parts' floor in level ``k`` (``try_bands``' ``keep_weights``): above everything any producer
    part stages below its band (its weights from word 0, then the rest); None where a consumer part's own staged
    operands (its weights first) do not end below its band from there, or the parts' weights differ in size."""
    floor = max(_below_band(c, k, "outputs") for c, *_ in prod)
    words = {operand_words(c, "weights", k) for c, *_ in cons}
    if len(words) != 1 or len({operand_words(c, "weights", k) for c, *_ in prod}) != 1 or \
            any(floor + _below_band(c, k, "inputs") > base for (c, *_), (*_, base) in zip(cons, prod)):
        return None
    return floor


def _below_band(sch: ConvSchedule, k: int, band: str) -> int:
    """Words a band group's part stages in level ``k`` besides its ``band`` operand (the producer's resident
    output, the consumer's resident input)."""
    fp = footprint_words(sch.operand_bytes, sch.staged, sch.staged_levels, sch.levels)[k - 1]
    return fp - operand_words(sch, band, k)


def _parts(p: Schedule, prod: list, cons: list, k: int, floor: int | None) -> tuple[list[Part], list[Part]]:
    """The band group's parts from (schedule, resident operands, span, band base / halo words) per band: with a
    consumer ``floor`` (``_keep_weights``), the first band's parts fill both layers' weights and the later ones keep
    them."""
    ps, cs = [], []
    for i, ((new_p, resident, pspan, _, *filled), (new_c, c_res, cspan, copied)) in enumerate(zip(prod, cons)):
        if floor is not None and i:
            resident = {**resident, "weights": (k, 0)}
            c_res = {**c_res, "weights": (k, floor)}
        ps.append(Part(_rewrap(p, as_resident(new_p, resident, *filled)), *pspan))
        consumer = dataclasses.replace(as_resident(new_c, c_res), copied_words=copied, floor_words=floor or 0)
        cs.append(Part(consumer, *cspan))
    return ps, cs


def try_chunk_bands(p: Schedule, c: Schedule, chunks: int, bands: int, k: int, search: BandSearcher,
                    pooled: Schedule | None = None) -> tuple[BandSplitSchedule, BandSplitSchedule] | None:
    """Channel chunks of a 1x1 stride-1 producer and its depthwise consumer, each chunk's producer run in ``bands``
    row bands with every operand kept in level ``k`` (``depth_first_split``'s both-kept cut: a row band gets a
    tiling of its own, which can beat one tiling of every row, e.g. 4 + 3 rows of a 7x7 map): its weights at the
    bottom of the level, filled by the chunk's first band and kept for its others; the whole input above the
    largest chunk's weights, laid out band after band by the first chunk's bands and read there by the later ones.
    Each band's output rows go into the chunk's band region at the top of the level (rows one after the other, each
    row the chunk's channels: ``funcsim.bands.BandRegion``); then the consumer's part reads the whole chunk there,
    staging anything else from a floor above the input (``floor_words``). The SE pool stays fused per chunk where
    every consumer part has room for its sums (elsewhere ``with_pool`` may give it room later). Every operand of
    both layers crosses the link once (the consumer's weights once per chunk, each its own channels). None where it
    does not apply or fit."""
    h = hierarchy(search.hw)
    assert h is not None
    cap, wb = h.level(k).capacity_words, h.level(k).word_bytes
    psh, csh = _conv(p).shape, _conv(c).shape
    n = _channels(psh)
    if not chunkable(psh, csh) or (psh.kernel_h, psh.kernel_w, psh.stride_h, psh.stride_w) != (1, 1, 1, 1) or \
            not 1 < chunks < n or n % chunks or not 1 < bands <= psh.out_h or (n // chunks * psh.out_w) % wb:
        return None
    row_words = n // chunks * psh.out_w // wb  # one row of a chunk's band region
    region = psh.out_h * row_words
    top = cap - region
    cut = sorted(split_parts(psh, "rows", bands, chunks), key=lambda x: (x[5], x[1]))  # chunk-major
    staged = []
    for sub, *span in cut:
        got = search(sub, (("weights", k), ("inputs", k), ("outputs", k)), frozenset({"weights", "inputs", "outputs"}))
        if got is None:
            return None
        staged.append((got, span))
    offset: dict[int, int] = {}  # a band's first row -> the first word of its input rows
    end = max(operand_words(x, "weights", k) for x, _ in staged)
    for x, span in staged:
        if span[0] not in offset:
            offset[span[0]] = end
            end += operand_words(x, "inputs", k)
    prod = []
    for x, (r0, r1, a, b, k0, k1) in staged:
        resident = {"inputs": (k, offset[r0]), "outputs": (k, top + r0 * row_words)}
        if r0:  # not the chunk's first band: its weights are in the level already
            resident["weights"] = (k, 0)
        prod.append(Part(_rewrap(p, as_resident(x, resident, ("inputs",) if k0 == cut[0][5] else ())),
                         r0, r1, a, b, k0, k1))
    cons = []
    for sub, *span in split_parts(csh, "channels", chunks):
        got = search(sub, (("inputs", k),))
        if got is None or end + _below_band(got, k, "inputs") > top:
            return None
        cons.append(Part(dataclasses.replace(as_resident(got, {"inputs": (k, top)}), floor_words=end), *span))
    keep_pool = isinstance(pooled, EpilogueSchedule) and bool(pooled.pool) \
        and all(pool_plan(x.schedule) is not None for x in cons)
    whole = pooled if keep_pool else c
    cons = [dataclasses.replace(x, schedule=_rewrap(whole, x.schedule)) for x in cons]
    return (BandSplitSchedule(p, "channels", tuple(prod), "producer", csh.name, k, "none", bands),
            BandSplitSchedule(whole, "channels", tuple(cons), "consumer", psh.name, k, "none"))


def with_pool(cons: BandSplitSchedule, pooled: EpilogueSchedule, hw: HardwareSpec, objective: str, reserve: int
              ) -> BandSplitSchedule | None:
    """A channel-chunk consumer with the SE pool of ``pooled`` (its whole schedule with the pool fused) on every
    part's output path: each part re-searched as if the first level had ``reserve`` words fewer
    (``with_free_words``), its outputs stored off-chip from the first level, its resident input (and floor) unchanged;
    None where a part still has no room for its sums, or its staged operands no longer fit where the old ones did:
    between its floor and its band (``try_chunk_bands``), else within the words the old part staged below the band
    (``try_bands``' chunks, whose producer may keep its input just above them)."""
    if cons.role != "consumer" or cons.halo != "none":
        return None
    parts = []
    for x in cons.parts:
        rc = _conv(x.schedule)
        if not isinstance(rc, ResidentConvSchedule) or tuple(rc.resident) != ("inputs",):
            return None
        k, band = rc.resident_in("inputs")
        got = with_free_words(rc, hw, reserve, objective, frozenset({"outputs"}))  # the pool reads stored tiles
        room = band - rc.floor_words if rc.floor_words else _below_band(rc, k, "inputs")
        if got is None or _below_band(got, k, "inputs") > room:
            return None
        new = dataclasses.replace(as_resident(got, {"inputs": (k, band)}), floor_words=rc.floor_words)
        if pool_plan(new) is None:
            return None
        parts.append(dataclasses.replace(x, schedule=_rewrap(pooled, new)))
    return dataclasses.replace(cons, whole=pooled, parts=tuple(parts))


def _kept_input(prod: list, cons: list, narrow: list, k: int) -> tuple[list, list] | None:
    """``try_bands``' parts with the producer's input kept in level ``k`` (``keep_input``): right below the lowest
    chunk's band, filled by the first chunk's producer part and read there by the later ones. None where a producer
    part stages anything but its weights below it, or a consumer part's own staged operands (from word 0, its
    resident input excluded) reach into it both as searched and staging at most its weights (``narrow``)."""
    words = operand_words(prod[0][0], "inputs", k)
    at = min(base for *_, base in prod) - words
    out_p, out_c = [], []
    for i, ((new_p, resident, pspan, base), (new_c, *rest), small) in enumerate(zip(prod, cons, narrow)):
        if set(new_p.staged_in(k)) - {"weights", "inputs", "outputs"} or \
                not placed(new_p, {**resident, "inputs": (k, at)}):
            return None
        fit = next((c for c in (new_c, small) if c is not None and _below_band(c, k, "inputs") <= at), None)
        if fit is None:
            return None
        out_p.append((new_p, {**resident, "inputs": (k, at)}, pspan, base, () if i else ("inputs",)))
        out_c.append((fit, *rest))
    return out_p, out_c


def _channels(sh: ConvShape) -> int:
    return sh.groups if sh.groups > 1 else sh.k_per_group


def _unpooled(c: Schedule) -> Schedule:
    """The consumer's whole schedule without its fused pool (``EpilogueSchedule`` only if something else is fused)."""
    if not (isinstance(c, EpilogueSchedule) and c.pool):
        return c
    return dataclasses.replace(c, pool="") if c.members or c.input_scale or c.residual else c.conv


def plan_bands(graph: Graph, schedules: tuple[Schedule, ...], groups: tuple[Group, ...], hw: HardwareSpec,
               objective: str, search: BandSearcher | None = None, offers: dict[int, PoolOffer] | None = None
               ) -> tuple[tuple[Schedule, ...], tuple[Group, ...]]:
    """The schedules with every band group the objective favours (``BandSplitSchedule`` on both layers, a row-band
    consumer's fused pool back in a pass of its own; edges decided largest tensor first, a layer in one group at
    most), and ``groups`` (``depth_first.plan_groups``' edges) with each
    band-group edge's decision: an edge already listed is replaced where it is kept in bands, else its reason says
    why bands did not win either; an edge not listed there (a split layer's) is added. One-level hardware: nothing
    changes. ``search``: the part searches, shared with a later step that tries the same cuts
    (``depth_first_recompute``). ``offers``: per consumer node index, an SE pool in a pass of its own that the
    consumer's band group may fuse (``PoolOffer``; the pass is priced on both sides of the comparison)."""
    h = hierarchy(hw)
    if h is None:
        return schedules, groups
    cur = list(schedules)
    out = list(groups)
    at = {(g.producer, g.consumer): n for n, g in enumerate(out)}
    search = BandSearcher(hw, objective) if search is None else search
    # the largest tensors first: a layer joins one band group at most, so an expand 1x1 between a small edge (from
    # the project before it) and a large one (to its depthwise) is kept for the large one
    edges = sorted(band_edges(graph, tuple(cur)), key=lambda e: -graph.numel(e[0].tensor))
    for edge, why in edges:
        i, j = edge.producer, edge.consumer
        pname, cname = graph.nodes[i].name, graph.nodes[j].name
        nbytes = graph.numel(edge.tensor)
        if (pname, cname) in at and out[at[(pname, cname)]].kept:
            continue
        if not why and (isinstance(cur[i], BandSplitSchedule) or isinstance(cur[j], BandSplitSchedule)):
            why = "a layer of the edge is in a band group already (of a larger tensor)"
        offer = (offers or {}).get(j) if edge.pool < 0 else None
        if offer is not None:
            edge = dataclasses.replace(edge, pool=offer.pool)
        decided = _decide(graph, cur, edge, why, hw, objective, search, len(h.outer), offer)
        if decided[0] is not None:
            prod, cons, pool = decided[0]
            cur[i], cur[j] = prod, cons
            if pool is not None:
                cur[edge.pool] = pool
            elif offer is not None:
                cur[edge.pool] = offer.fused
            band_at = _conv(cons.parts[0].schedule).resident_in("inputs")[1]
            g = Group(edge.tensor, pname, cname, nbytes, prod.level, band_at,
                      True, "", bands=len(prod.parts), halo=prod.halo, recomputed_macs=prod.recomputed_macs,
                      cached_halo_bytes=cons.cached_halo_bytes, pool_pass=pool is not None and offer is None,
                      pool_carried=any(getattr(x.schedule, "pool_carry", None) for x in cons.parts))
        else:
            g = Group(edge.tensor, pname, cname, nbytes, 0, 0, False, decided[1])
        if (pname, cname) in at:
            old = out[at[(pname, cname)]]
            out[at[(pname, cname)]] = g if g.kept else dataclasses.replace(old, reason=f"{old.reason}; in bands: "
                                                                                        f"{decided[1]}")
        else:
            out.append(g if g.kept else dataclasses.replace(g, reason=f"in bands: {decided[1]}"))
    return tuple(cur), tuple(out)


def _candidates(p: Schedule, c: Schedule, pooled: Schedule, k: int, search: BandSearcher
                ) -> Iterator[tuple[BandSplitSchedule, BandSplitSchedule]]:
    """Every band group ``try_bands`` makes of the edge in level ``k``: row bands of each ``BAND_ROWS`` count with
    their halo rows cached, or recomputed where caching does not fit (the recomputing producer parts compute a
    superset of the caching ones' rows, so they are searched only then), and channel chunks of each
    ``PART_COUNTS`` count."""
    for rows in BAND_ROWS:
        for carry in (True, False):  # the pool's sums carried across the bands, or the pool in a pass of its own
            for keep in (False, True):  # weights staged per part, or kept in the level from band to band
                # carried sums: the consumer parts' own tilings, else ones that leave first-level words for them
                for reserve in (0, *POOL_RESERVE_WORDS) if carry else (0,):
                    got = next((g for g in (try_bands(p, c, rows, k, search, m, pooled, carry, keep_weights=keep,
                                                      reserve=reserve) for m in HALO_MODES) if g is not None), None)
                    if got is not None:
                        yield got
                        break
    for chunks in PART_COUNTS:
        for keep_input in (False, True):  # the producer's whole input read per chunk, or kept in the level
            got = try_bands(p, c, chunks, k, search, "none", pooled, keep_input=keep_input)
            if got is not None:
                yield got
        for bands in PART_COUNTS:  # each chunk's producer in row bands, both its operands kept
            got = try_chunk_bands(p, c, chunks, bands, k, search, pooled)
            if got is not None:
                yield got


def _with_chunk_pools(groups: Iterator[tuple[BandSplitSchedule, BandSplitSchedule]], pooled: Schedule,
                      hw: HardwareSpec, objective: str) -> Iterator[tuple[BandSplitSchedule, BandSplitSchedule]]:
    """``groups``, and after each channel-chunk group, the same group with its consumer parts re-searched with words
    left free for the pool's sums, for each of ``POOL_RESERVE_WORDS`` that gives every part room (``with_pool``).
    Where the parts had no room, the objective then weighs the pool fused per chunk against its own pass; where they
    had, a tiling that stores its outputs from the first level may still be the better one."""
    for got in groups:
        yield got
        if got[1].halo != "none" or not (isinstance(pooled, EpilogueSchedule) and pooled.pool):
            continue
        for reserve in POOL_RESERVE_WORDS:
            fused = with_pool(got[1], pooled, hw, objective, reserve)
            if fused is not None:
                yield got[0], fused


def _decide(graph: Graph, cur: list[Schedule], edge: BandEdge, why: str, hw: HardwareSpec, objective: str,
            search: BandSearcher, levels: int, offer: PoolOffer | None = None
            ) -> tuple[tuple[BandSplitSchedule, BandSplitSchedule, Schedule | None] | None, str]:
    """The best band group of ``edge`` (with the pool's own pass, or None without a pool or with it fused), or why
    none is kept. ``offer``: the consumer's pool is in a pass of its own now (``PoolOffer``)."""
    if why:
        return None, why
    i, j = edge.producer, edge.consumer
    p, c = _whole(cur[i]), _unpooled(_whole(cur[j]))
    pooled = offer.pooled if offer is not None else _whole(cur[j])
    own = None if edge.pool < 0 else cur[edge.pool] if offer is not None else \
        map_shape(lower(graph, graph.nodes[edge.pool]), hw, objective)
    before = summed_value([cur[i], cur[j], *([own] if offer is not None else [])], hw, objective)
    best = None
    for k in range(1, levels + 1):
        for got in _with_chunk_pools(_candidates(p, c, pooled, k, search), pooled, hw, objective):
            pool = own if own is not None and not getattr(got[1].whole, "pool", "") else None  # unfused: its pass
            val = summed_value([*got, *([pool] if pool is not None else [])], hw, objective)
            if best is None or val < best[0]:
                best = (val, got, pool)
    if best is None:
        return None, "no band fits an outer level beside its parts' staged operands"
    if not best[0] < before:
        return None, f"per-layer mapping is as good for {objective}" + (" (with the pool fused)" if own else "")
    return (*best[1], best[2]), ""
