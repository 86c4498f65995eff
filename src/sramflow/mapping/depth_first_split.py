"""Depth-first bands of one layer (``--fusion depth-first``, issue 17 item 2, the one-layer case of phase 2): a
Conv / Gemm runs as a sequence of sub-convolutions, each small enough that the operands a whole layer could not
stage fit an outer SRAM level.

Two ways to cut a layer (``split_parts``):
- **row bands**: output rows [r0, r1) per part. Its input band is rows [r0 * stride - pad_top, (r1 - 1) * stride
  - pad_top + kernel span), clipped to the image (the clipped rows are the padding of the first / last band). The
  halo: rows shared by two neighbouring bands (kernel span - stride of them) are loaded by both, i.e. re-read (from
  off-chip memory, or from the level the band's input is staged in), never recomputed; ``SplitSchedule.halo_bytes``
  counts them. Weights are per part (staged once per band where the level holds them).
- **channel chunks**: output channels [k0, k1) per part (groups for a depthwise layer, whose inputs are split
  with them). Each chunk's weights can be staged whole; the input is read once per chunk (for a depthwise layer
  once in all).
Each part is a ``ConvShape`` of its own, mapped by ``search_staged`` (tiling and placement in the outer levels),
with the layer's epilogue / SE scale on it (the same element-wise work, on its outputs / inputs). Counts are the
parts' sums; cycles are the sum of the parts' cycles (they run one after the other; ``part_metrics``). Equal parts
share one search (the shape without a name is the key). The mapper keeps a split only where the objective (then
the other metric) improves on the whole layer's schedule: on hardware without an outer level no split can help
and none is searched.

A third cut, ``KEPT_AXIS`` (channel chunks x row bands, chunk-major): every part stages its weights in level 1 (at
the bottom of the level, where parts stage their weights first), and only each chunk's first band fills them from
off-chip memory; its other bands keep them there (``ResidentConvSchedule`` with resident weights: no fill, the
fill's level writes gone). Every weight crosses the link once, and the input once per chunk: for layers whose weights
and input do not fit the level together, where plain row bands x chunks re-read every chunk's weights per band.
Its mirror, ``INPUTS_KEPT_AXIS`` (row bands x channel chunks, band-major; one band: the whole input): each band's
first chunk stages its input band above its own weights, and the band's other chunks keep it there (resident
inputs; they may stage their weights below it and nothing else). The input crosses the link once, each weight chunk
once per band. Both together, ``BOTH_KEPT_AXIS`` (1x1 stride-1 layers, chunk-major): each chunk's weights kept
across its bands as in ``KEPT_AXIS``, and the whole input kept across the chunks in a region above the largest
chunk's weights, which the first chunk's bands fill band after band (resident inputs that are still ``filled``)
and the later chunks read; a held SE vector goes above the whole region (``region_end``). Every operand crosses
the link once at the bands' tilings. The split decision prices these beside the plain cuts.

Not cut: pooling (vector-unit windows), a layer whose Add on the output path loads skip tiles (its schedule may
stage nothing, ``ConvSchedule``). Bands of two layers with the band between them in the level are
``mapping.depth_first_bands`` (which reuses ``split_parts`` / ``band_shape`` / ``chunk_shape``)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property

from sramflow.cost.counts import Counts, ceil_div
from sramflow.hw.spec import HardwareSpec
from sramflow.mapping.conv import ConvShape
from sramflow.mapping.conv_schedule import ConvSchedule
from sramflow.mapping.epilogue import SUM_BYTES, EpilogueSchedule, PoolCarry, pool_plan
from sramflow.mapping.schedule import Schedule, Step
from sramflow.mapping.depth_first import ResidentConvSchedule, as_resident, operand_words, summed_value
from sramflow.mapping.staging import footprint_words
from sramflow.mapping.search.budget import Moves, greedy_moves, sum_priced
from sramflow.mapping.search.choose import (hierarchy, objective_key, schedule_cycles, schedule_metrics,
                                          search_residual, search_staged, search_staged_with, with_free_words)

PART_COUNTS = (2, 4, 8, 16)  # parts tried per axis (equal parts, the last one smaller)
KEPT_CHUNK_CHANNELS = (4, 8)  # output channels per chunk of the finer cuts tried with the whole input kept: chunks
# whose weights fit beside it (B0's 7x7 projections: 56 KB of input in a 64 KiB level), in multiples of 4 so that
# the array's output-channel tiles stay full


@dataclass(frozen=True)
class Part:
    """One sub-convolution: its schedule (a ``ConvSchedule``, or an ``EpilogueSchedule`` around one) and what it
    covers of the layer: output rows [row0, row1) and input rows [in_row0, in_row1) for a band; output channels
    (groups for a depthwise layer) [ch0, ch1) for a chunk."""

    schedule: Schedule
    row0: int
    row1: int
    in_row0: int
    in_row1: int
    ch0: int
    ch1: int


@dataclass(frozen=True)
class SplitSchedule:
    """A layer run as ``parts`` along ``axis`` ("rows" or "channels"); ``whole``: the layer's own schedule (the
    per-layer fallback it was compared with, and what the functional simulator builds the layer's data from)."""

    whole: Schedule
    axis: str
    parts: tuple[Part, ...]

    @property
    def shape(self) -> ConvShape:
        return self.whole.shape

    @property
    def own_parts(self) -> tuple[Part, ...]:
        """The parts of this layer itself: all of ``parts``, except where other layers' parts run among them (a
        recomputing pass B, ``depth_first_recompute.RecomputeSchedule``)."""
        return self.parts

    @cached_property
    def counts(self) -> Counts:
        total = self.parts[0].schedule.counts
        for p in self.parts[1:]:
            total = total + p.schedule.counts
        return total

    @property
    def buffers(self):  # noqa: ANN201 - the first part's (every part's buffers are reported per part)
        return self.own_parts[0].schedule.buffers

    @property
    def double_buffered(self) -> bool:
        return self.own_parts[0].schedule.double_buffered

    @property
    def unit(self) -> str:
        return self.whole.unit

    @property
    def fits_whole(self) -> bool:
        return False

    @property
    def staged(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(o for p in self.parts for o in _conv(p.schedule).staged))

    def staged_in(self, k: int) -> tuple[str, ...]:
        return tuple(dict.fromkeys(o for p in self.parts for o in _conv(p.schedule).staged_in(k)))

    @property
    def halo_bytes(self) -> int:
        """Input bytes the bands read more than once (the rows neighbouring bands share; each part's whole input
        rows counted once per part, less each channel chunk's input counted once); 0 without row bands."""
        sh = self.shape
        once = {}
        read = 0
        for p in self.own_parts:
            ps = _conv(p.schedule).shape
            cin = ps.groups * ps.c_per_group
            read += (p.in_row1 - p.in_row0) * sh.in_w * cin
            once[(p.ch0, p.ch1)] = sh.in_h * sh.in_w * cin
        return read - sum(once.values())

    def describe(self) -> dict[str, object]:
        own = self.own_parts
        return {"axis": self.axis, "parts": len(own), "halo_bytes": self.halo_bytes,
                "bands": len({(p.row0, p.row1) for p in own}), "channel_chunks": len({(p.ch0, p.ch1) for p in own})}

    def cycles(self, hw: HardwareSpec) -> int:
        """The parts run one after the other: the sum of their cycles (``schedule_cycles``)."""
        return schedule_cycles(self, hw)

    def steps(self) -> Iterator[Step]:
        for p in self.parts:
            yield from p.schedule.steps()


def _conv(sch: Schedule) -> ConvSchedule:
    return sch.conv if isinstance(sch, EpilogueSchedule) else sch


def band_shape(sh: ConvShape, r0: int, r1: int) -> tuple[ConvShape, int, int]:
    """The sub-convolution of output rows [r0, r1) and its input rows [a, b) (clipped to the image)."""
    a = r0 * sh.stride_h - sh.pad_top
    b = (r1 - 1) * sh.stride_h - sh.pad_top + sh.span_h
    lo, hi = max(a, 0), min(b, sh.in_h)
    return dataclasses.replace(sh, in_h=hi - lo, out_h=r1 - r0, pad_top=lo - a), lo, hi


def chunk_shape(sh: ConvShape, c0: int, c1: int) -> ConvShape:
    """Output channels [c0, c1) (groups of a depthwise layer, with their inputs)."""
    if sh.groups > 1:
        return dataclasses.replace(sh, groups=c1 - c0)
    return dataclasses.replace(sh, k_per_group=c1 - c0)


def splittable(sh: ConvShape) -> tuple[str, ...]:
    """The axes ``sh`` can be cut along."""
    if sh.pool_op:
        return ()
    axes = ["rows"] if sh.out_h > 1 else []
    if sh.groups == 1 or sh.k_per_group == 1:  # plain or depthwise: the output channels are independent
        axes.append("channels")
    return tuple(axes)


def _ranges(n: int, parts: int) -> list[tuple[int, int]]:
    step = -(-n // parts)
    return [(a, min(n, a + step)) for a in range(0, n, step)]


def split_parts(sh: ConvShape, axis: str, parts: int, chunks: int = 1
                ) -> list[tuple[ConvShape, int, int, int, int, int, int]]:
    """(sub-shape, row0, row1, in_row0, in_row1, ch0, ch1) of each part: ``parts`` row bands for ``axis`` "rows"
    (times ``chunks`` channel chunks each), ``parts`` channel chunks for "channels"; band-major order."""
    bands, chunks = (parts, chunks) if axis == "rows" else (1, parts)
    n = sh.groups if sh.groups > 1 else sh.k_per_group
    out = []
    for r0, r1 in _ranges(sh.out_h, bands):
        band, a, b = band_shape(sh, r0, r1)
        for c0, c1 in _ranges(n, chunks):
            out.append((chunk_shape(band, c0, c1) if (c0, c1) != (0, n) else band, r0, r1, a, b, c0, c1))
    return out


def _cuts(sh: ConvShape) -> list[tuple[str, int, int]]:
    """(axis, bands or chunks, chunks per band) of every cut tried: row bands, channel chunks and both."""
    axes = splittable(sh)
    n = sh.groups if sh.groups > 1 else sh.k_per_group
    rows = [r for r in (1, *PART_COUNTS) if r <= sh.out_h] if "rows" in axes else [1]
    chans = [c for c in (1, *PART_COUNTS) if c <= n] if "channels" in axes else [1]
    return [("rows", r, c) if r > 1 else ("channels", c, 1) for r in rows for c in chans if (r, c) != (1, 1)]


def _whole_bytes(sh: ConvShape) -> int:
    return sh.input_bytes + sh.weight_bytes + sh.bias_bytes + sh.output_bytes


def _wasted(sch: Schedule) -> bool:
    """Whether the layer moves more off-chip bytes than its compulsory ones (inputs, weights, outputs once):
    otherwise no cut can save any."""
    sh = sch.shape
    return sch.counts.offchip_bytes > sh.input_bytes + sh.weight_bytes + sh.bias_bytes + sh.output_bytes


def choose_split(sch: Schedule, hw: HardwareSpec, objective: str, memo: dict) -> Schedule:
    """``sch`` (a Conv / Gemm's per-layer schedule) or the split of it that the objective favours most."""
    seen = memo.get(("cut", id(sch)))  # this very schedule cut before (``sim.api.decide_input_scales``)
    if seen is not None and seen[0] is sch:
        return seen[1]
    got = _choose_split(sch, hw, objective, memo)
    memo[("cut", id(sch))] = (sch, got)  # the schedule kept alive with its id
    return got


def _choose_split(sch: Schedule, hw: HardwareSpec, objective: str, memo: dict) -> Schedule:
    conv = _conv(sch)
    if not isinstance(conv, ConvSchedule) or hierarchy(hw) is None or not _wasted(sch):
        return sch
    if isinstance(sch, EpilogueSchedule) and sch.pool:  # its running sums span every output tile of the whole layer
        return sch
    base = objective_key(*schedule_metrics(sch, hw), objective)
    best: tuple[tuple[float, float], SplitSchedule] | None = None
    options: list[Schedule] = [sch]  # every way to run the layer that was priced, for ``trade_cuts``
    memo[("options", id(sch))] = (sch, options)  # the schedule kept alive with its id
    room = max((m.size_bytes for m in hw.sram[1:]), default=hw.main_sram.size_bytes)
    whole: list[tuple[int, int]] = []  # (bands, chunks) whose every part fits the largest level with all operands
    for axis, parts, chunks in _cuts(conv.shape):
        bands, chunks = (parts, chunks) if axis == "rows" else (1, parts)
        if any(bands >= b and chunks >= c for b, c in whole):
            continue  # a finer cut of one whose parts already fit whole only adds halo rows and reloads
        cut = split_parts(conv.shape, "rows", bands, chunks) if bands > 1 else split_parts(conv.shape, axis, chunks)
        if len(cut) < 2:
            continue
        if all(_whole_bytes(sub) <= room for sub, *_ in cut):
            whole.append((bands, chunks))
        got = []
        for sub, *span in cut:
            key = dataclasses.replace(sub, name="")
            if key not in memo:
                memo[key] = search_residual(sub, hw, objective) if sub.residual else search_staged(sub, hw, objective)
            part_conv = memo[key]
            if part_conv is None:  # no tiling of the part can carry its residual's skip tiles
                break
            if part_conv.shape.name != conv.shape.name:  # an equal part of another layer: the same schedule
                part_conv = dataclasses.replace(part_conv, shape=sub)
            got.append(Part(_grouped(sch, part_conv, memo), *span))
        if len(got) < len(cut):
            continue
        got = keep_scales(got, conv.shape, memo)
        val = summed_value([p.schedule for p in got], hw, objective)
        label = "channels" if bands == 1 else "rows" if chunks == 1 else "rows x channels"
        options.append(SplitSchedule(sch, label, tuple(got)))
        if val < base and (best is None or val < best[0]):
            best = (val, options[-1])
    cuts = [(a, m, b, c) for b, c in _kept_cuts(conv.shape)
            for a, m in ((KEPT_AXIS, _weights_kept), (INPUTS_KEPT_AXIS, _inputs_kept))]
    cuts += [(BOTH_KEPT_AXIS, _both_kept, b, c) for b, c in _both_kept_cuts(conv.shape)]
    for axis, make, bands, chunks in cuts:
        got = make(sch, conv, bands, chunks, hw, objective, memo)
        if got is None:
            continue
        got = keep_scales(got, conv.shape, memo)
        val = summed_value([p.schedule for p in got], hw, objective)
        options.append(SplitSchedule(sch, axis, tuple(got)))
        if val < base and (best is None or val < best[0]):
            best = (val, options[-1])
    return sch if best is None else best[1]


def trade_cuts(final: tuple[Schedule, ...], chosen: tuple[Schedule, ...], before: tuple[Schedule, ...],
               memos: tuple[dict, ...], hw: HardwareSpec, spare_cycles: int,
               pairs: list[tuple[tuple[int, ...], tuple[Schedule, ...]]] = ()) -> tuple[tuple[Schedule, ...], int]:
    """``final`` with layers re-cut for energy within ``spare_cycles`` more cycles in all, and how many moves were
    made.

    ``before``: the per-layer schedules ``choose_splits`` was given, ``chosen`` what it returned for them (under
    the latency objective), ``memos`` the memos of ``choose_split`` calls on them (each layer's priced cuts,
    ``_choose_split``: its parts searched for latency, and for energy where a memo of that objective is given),
    ``final`` the schedules after the cross-layer groups. Only a layer that no group changed (``final[i] is
    chosen[i]``) is re-cut: its other cuts are the same layer's operands in the same levels, part by part, so
    nothing around it moves. ``pairs``: other ways to map a few nodes together (node indices and their schedules,
    e.g. an SE pool put on its depthwise conv's output path), whose nodes no group changed either. Greedy: the move that
    saves the most energy per added cycle first (one that saves energy at no cost before all), then again from the
    new schedules, while any fits the cycles left; moves that share a node exclude each other once one is made."""
    units: Moves = {}
    for i, (f, c, b) in enumerate(zip(final, chosen, before)):
        recs = [m.get(("options", id(b))) for m in memos]
        found = [o for r in recs if r is not None and r[0] is b for o in r[1]]
        if f is c and len(found) > 1:
            units[(i,)] = [(schedule_metrics(o, hw), (o,)) for o in found]
    for nodes, scheds in pairs:
        units[nodes] = [(sum_priced(scheds, hw), scheds)]
    return greedy_moves(final, units, hw, spare_cycles)


def keep_scales(parts: list[Part], whole: ConvShape, memo: dict | None = None) -> list[Part]:
    """``parts`` (of a layer of shape ``whole``) with each part's held SE scale vector kept from the part before
    where that part held the same vector (the same input channels: all of them, or a grouped layer's chunk of
    groups) at the same words of the same outer level: the parts run one after the other and each stages its
    operands below its vector's base word, so nothing between them writes those words and the vector crosses the
    link once for the run of parts. First-level vectors are reloaded (each part's tiles reuse the first level's
    words)."""
    out, before = [], None
    for p in parts:
        plan = getattr(p.schedule, "scale_plan", None)
        first = p.ch0 if whole.groups > 1 else 0  # a grouped layer's chunk scales its own groups' channels
        key = None if plan is None or plan.level == 0 else (plan.level, plan.base_word, plan.channels, first)
        if key is not None and key == before:
            kept = _identical((p.schedule,), ("kept",), memo,
                              lambda s=p.schedule: dataclasses.replace(s, scale_kept=True))
            p = dataclasses.replace(p, schedule=kept)
        out.append(p)
        before = key
    return out


KEPT_AXIS = "channels x rows"  # channel chunks outermost, each chunk's weights kept in the level across its rows
INPUTS_KEPT_AXIS = "rows x channels, input kept"  # row bands outermost, each band's input kept across its chunks


def _kept_cuts(sh: ConvShape) -> list[tuple[int, int]]:
    """(bands, chunks) of the cuts that keep an operand in the level from part to part: weights across a chunk's
    row bands (one chunk: all the layer's weights, for layers whose weights fit the level beside a band while the
    input does not), or a band's input across its channel chunks (one band: the whole input); not grouped layers,
    whose chunks read their own input channels."""
    if "channels" not in splittable(sh) or sh.groups > 1:
        return []
    rows = [r for r in (1, *PART_COUNTS) if r <= sh.out_h] if "rows" in splittable(sh) else [1]
    fine = sorted({ceil_div(sh.k_per_group, c) for c in KEPT_CHUNK_CHANNELS} - set(PART_COUNTS))
    return [(r, c) for r in rows for c in (1, *PART_COUNTS) if c <= sh.k_per_group and (r, c) != (1, 1)] + \
        [(1, c) for c in fine if 1 < c <= sh.k_per_group]


def _weights_kept(sch: Schedule, conv: ConvSchedule, bands: int, chunks: int, hw: HardwareSpec, objective: str,
                  memo: dict) -> list[Part] | None:
    """The parts of ``bands`` row bands x ``chunks`` channel chunks, chunk-major, each chunk's weights staged in
    level 1 by its first band (from the bottom of the level, where every part stages its weights first) and kept
    there for its other bands (``ResidentConvSchedule`` with resident weights: no fill); None where a part cannot
    stage its weights."""
    if bands < 2:
        return None
    cut = sorted(split_parts(conv.shape, "rows", bands, chunks), key=lambda x: (x[5], x[1]))  # chunk-major
    if len({x[1] for x in cut}) < 2:
        return None
    out = []
    for sub, *span in cut:
        part_conv = _staging(sub, "weights", hw, objective, memo)
        if part_conv is None:
            return None
        if span[0] > 0:  # not the chunk's first band: its weights are in the level already
            part_conv = _resident(part_conv, {"weights": (1, 0)}, memo)
        out.append(Part(_grouped(sch, part_conv, memo), *span))
    return out


KEPT_INPUT_PEERS = frozenset({"weights", "inputs"})  # what a part beside a kept input may stage: its weights
BOTH_KEPT_AXIS = "channels x rows, both kept"  # chunk-major; each chunk's weights kept across its row bands, and
# the input kept across the chunks, laid out band by band by the first chunk


def _both_kept_cuts(sh: ConvShape) -> list[tuple[int, int]]:
    """(bands, chunks) of the cuts that keep both operands: 1x1 stride-1 layers (their bands' inputs are disjoint
    rows, so the bands tile the input without halo), at least two of each; the chunk counts of ``_kept_cuts`` and
    the finer ones of ``KEPT_CHUNK_CHANNELS`` (small weight chunks beside a whole input)."""
    if "channels" not in splittable(sh) or "rows" not in splittable(sh) or sh.groups > 1 or \
            (sh.kernel_h, sh.kernel_w, sh.stride_h) != (1, 1, 1):
        return []
    fine = {ceil_div(sh.k_per_group, c) for c in KEPT_CHUNK_CHANNELS}
    chunks = sorted(c for c in {*PART_COUNTS, *fine} if 1 < c <= sh.k_per_group)
    return [(r, c) for r in PART_COUNTS if r <= sh.out_h for c in chunks]


def _both_kept(sch: Schedule, conv: ConvSchedule, bands: int, chunks: int, hw: HardwareSpec, objective: str,
               memo: dict) -> list[Part] | None:
    """The parts of ``bands`` row bands x ``chunks`` channel chunks, chunk-major, every part staging its weights and
    its input band in level 1 and nothing else. Each chunk's weights go to the bottom of the level, filled by its
    first band and kept for its other bands (as ``_weights_kept``); the input lies above the largest chunk's
    weights, band after band: the first chunk's parts fill their band there (resident and ``filled``), the later
    chunks read it (resident inputs). Weights and input cross the link once each. None where a part cannot stage
    both, or the region does not fit the level."""
    h = hierarchy(hw)
    sh = conv.shape
    if h is None:
        return None
    wb, k_chunk = h.level(1).word_bytes, ceil_div(sh.k_per_group, chunks)
    chunk_bytes = (sh.weight_bytes + sh.bias_bytes) * k_chunk // sh.k_per_group  # at most what a chunk stages
    if ceil_div(sh.input_bytes, wb) + chunk_bytes // wb > h.level(1).capacity_words:
        return None  # the whole input and one chunk's weights cannot share the level: no part is searched
    cut = sorted(split_parts(sh, "rows", bands, chunks), key=lambda x: (x[5], x[1]))  # chunk-major
    if len({x[5] for x in cut}) < 2 or len({x[1] for x in cut}) < 2:
        return None
    staged = []
    for sub, *span in cut:
        part_conv = _staging(sub, ("weights", "inputs"), hw, objective, memo, KEPT_INPUT_PEERS)
        if part_conv is None:
            return None
        staged.append((part_conv, span))
    base = max(operand_words(c, "weights", 1) for c, _ in staged)
    offset: dict[int, tuple[int, int]] = {}  # band's first row -> (first word, words) of its input in the region
    end = base
    for c, span in staged:
        words = operand_words(c, "inputs", 1)
        if span[0] not in offset:
            offset[span[0]] = (end, words)
            end += words
        elif offset[span[0]][1] != words:
            return None  # the chunks must read the band as the first chunk laid it out
    if end > staged[0][0].levels.level(1).capacity_words:
        return None
    out = []
    first_chunk = cut[0][5]
    for c, span in staged:
        resident = {"inputs": (1, offset[span[0]][0])}
        if span[0] > 0:  # not the chunk's first band: its weights are in the level already
            resident["weights"] = (1, 0)
        part_conv = _resident(c, resident, memo, ("inputs",) if span[4] == first_chunk else (), end)
        out.append(Part(_grouped(sch, part_conv, memo), *span))
    return out


def _inputs_kept(sch: Schedule, conv: ConvSchedule, bands: int, chunks: int, hw: HardwareSpec, objective: str,
                 memo: dict) -> list[Part] | None:
    """The parts of ``bands`` row bands x ``chunks`` channel chunks, band-major, every part staging its input band
    in level 1; each band's first chunk fills it from off-chip memory (above that part's weights where it stages
    them: parts stage their weights first), the band's other chunks keep it there (``ResidentConvSchedule`` with a
    resident input: no fill); None where a part cannot stage its input, stages more weights than fit below it, or
    stages anything else in the level."""
    cut = split_parts(conv.shape, "rows", bands, chunks) if bands > 1 else split_parts(conv.shape, "channels", chunks)
    if len({x[5] for x in cut}) < 2:
        return None
    out = []
    at = 0
    for sub, *span in cut:  # band-major
        part_conv = _staging(sub, "inputs", hw, objective, memo, KEPT_INPUT_PEERS)
        if part_conv is None:
            return None
        weights = operand_words(part_conv, "weights", 1) if "weights" in part_conv.staged_in(1) else 0
        if span[4] == 0:  # the band's first chunk: its input lands above its weights
            at = weights
        elif weights > at or set(part_conv.staged) - {"weights", "inputs"} or \
                at + operand_words(part_conv, "inputs", 1) > part_conv.levels.level(1).capacity_words:
            return None  # the kept input sits where the first chunk put it: only this part's weights below it
        else:
            part_conv = _resident(part_conv, {"inputs": (1, at)}, memo)
        out.append(Part(_grouped(sch, part_conv, memo), *span))
    return out


def _identical(objects: tuple[Schedule, ...], values: tuple, memo: dict | None, make):  # noqa: ANN001, ANN202
    """``make()``, built once per schedule ``objects`` (by identity) and plain ``values``, and shared: the equal
    parts of a cut (and the same part in every option priced) then compute their counts once, since a schedule's
    counts are a cached property of the object."""
    if memo is None:
        return make()
    key = ("same", *map(id, objects), *values)
    got = memo.get(key)
    if got is None or any(a is not b for a, b in zip(got[0], objects)):
        got = (objects, make())  # the objects kept alive with their ids
        memo[key] = got
    return got[1]


def _grouped(sch: Schedule, part_conv: ConvSchedule, memo: dict) -> Schedule:
    """A part's schedule: ``part_conv`` inside ``sch``'s epilogue group where ``sch`` has one."""
    if not isinstance(sch, EpilogueSchedule):
        return part_conv
    return _identical((sch, part_conv), ("group",), memo, lambda: sch.with_conv(part_conv))


def _resident(sch: ConvSchedule, resident: dict[str, tuple[int, int]], memo: dict, filled: tuple[str, ...] = (),
              region_end: int = 0) -> ConvSchedule:
    values = ("resident", tuple(sorted(resident.items())), filled, region_end)
    return _identical((sch,), values, memo, lambda: as_resident(sch, resident, filled, region_end))


def _staging(sub: ConvShape, operands: str | tuple[str, ...], hw: HardwareSpec, objective: str, memo: dict,
             allow: frozenset[str] | None = None) -> ConvSchedule | None:
    """``sub``'s best schedule with ``operands`` (one or several) staged in level 1 and nothing but ``allow``
    staged (None: anything) (None where it cannot be), memoized by shape."""
    required = (operands,) if isinstance(operands, str) else operands
    named = (sub, required, allow)  # this layer's part again (another option of the same layer): its schedule as
    if named in memo:  # built before, with the counts it has computed
        return memo[named]
    key = (dataclasses.replace(sub, name=""), required, allow)
    if key not in memo:
        search = search_residual if sub.residual else search_staged_with
        memo[key] = search(sub, hw, objective, require=tuple((o, 1) for o in required), allow=allow)
    got = memo[key]
    memo[named] = None if got is None else dataclasses.replace(got, shape=sub)
    return memo[named]


def choose_splits(schedules: tuple[Schedule, ...], hw: HardwareSpec, objective: str, memo: dict | None = None
                  ) -> tuple[Schedule, ...]:
    """Every Conv / Gemm's schedule, split where that wins (``choose_split``); one-level hardware: unchanged.
    ``memo``: the parts' searches of earlier ``choose_split`` calls for the same hardware and objective."""
    if hierarchy(hw) is None:
        return schedules
    memo = {} if memo is None else memo
    return tuple(choose_split(s, hw, objective, memo) for s in schedules)


def split_with_pool(split: SplitSchedule, pooled: EpilogueSchedule, hw: HardwareSpec, objective: str,
                    reserve: int) -> SplitSchedule | None:
    """``split`` (a layer cut into parts, chunk-major) with the global average pool of ``pooled`` (the layer's whole
    schedule with the pool fused) on every part's output path; None where a part has no room for it.

    Each part is re-searched as if the first level had ``reserve`` words fewer (``with_free_words``, its outputs
    stored from the first level), keeping the operands it staged and those it keeps in level 1 where they were (the
    same words: a later band reads the weights its chunk's first band left, a later chunk the input the first one
    laid out). A part that covers all its channels' rows keeps its pool to itself; a chunk cut into row bands
    carries its channels' int32 sums from band to band in the top words of level 1 (``epilogue.PoolCarry``, above
    everything every part stages or keeps there). Where the pool is the output's only reader and ``pooled`` removes
    the output stores, every part must remove them too (``epilogue.output_stores``): the layer's output is then in
    no memory at all."""
    h = hierarchy(hw)
    if h is None or not pooled.pool:
        return None
    k, wb = 1, h.level(1).word_bytes
    chunks: list[list[Part]] = []  # the parts of each channel chunk, in order; a chunk's parts run one after another
    for p in split.parts:
        if chunks and (chunks[-1][0].ch0, chunks[-1][0].ch1) == (p.ch0, p.ch1):
            chunks[-1].append(p)
        elif any((c[0].ch0, c[0].ch1) == (p.ch0, p.ch1) for c in chunks):
            return None  # band-major: a chunk's sums would have to wait while other chunks run
        else:
            chunks.append([p])
    wpc = ceil_div(SUM_BYTES, wb)
    base = h.level(1).capacity_words - max(_channels(c[0]) for c in chunks) * wpc
    searched: dict[int, ConvSchedule | None] = {}  # equal parts share one schedule object
    parts = []
    for chunk in chunks:
        for i, p in enumerate(chunk):
            rc = _conv(p.schedule)
            if id(rc) not in searched:
                searched[id(rc)] = with_room(rc, hw, reserve, objective)
            new = searched[id(rc)]
            if new is None or len(chunk) > 1 and _level_top(new, k) > base:
                return None
            carry = PoolCarry(k, base, wpc, i > 0, i < len(chunk) - 1) if len(chunk) > 1 else None
            plan = pool_plan(new, carry, pooled.pool_sole_reader)
            if plan is None or (plan.stores is None) != (pooled.pool_plan.stores is None):
                return None
            parts.append(dataclasses.replace(p, schedule=dataclasses.replace(pooled.with_conv(new), pool_carry=carry)))
    return dataclasses.replace(split, whole=pooled, parts=tuple(parts))


def _channels(p: Part) -> int:
    sh = _conv(p.schedule).shape
    return sh.groups * sh.k_per_group


def with_room(rc: ConvSchedule, hw: HardwareSpec, reserve: int, objective: str) -> ConvSchedule | None:
    """``rc`` re-searched with ``reserve`` first-level words free (``with_free_words``, e.g. for a fused pool's sums),
    with its resident operands where ``rc`` has them (a depth-first part's, or a residency group's kept tensor);
    None where its staged operands could move: every one must take no more words of its level than in ``rc``
    (resident ones the same), so that each still lies where ``rc``'s did."""
    got = with_free_words(rc, hw, reserve, objective, frozenset({"outputs"}))
    if got is None or not isinstance(rc, ResidentConvSchedule) or not rc.resident:
        return got
    levels = {rc.resident_in(o)[0] for o in rc.resident}
    if rc.copied_words or rc.floor_words or len(levels) != 1:
        return None
    k = levels.pop()
    was = dict(zip(rc.staged, rc.staged_levels))
    for o, lv in zip(got.staged, got.staged_levels):
        if was.get(o) != lv or operand_words(got, o, lv) > operand_words(rc, o, lv) or \
                o in rc.resident and operand_words(got, o, lv) != operand_words(rc, o, lv):
            return None
    if set(rc.resident) - set(got.staged) or _level_top(got, k) > _level_top(rc, k):
        return None
    return as_resident(got, {o: rc.resident_in(o) for o in rc.resident}, rc.filled, rc.region_end)


def _level_top(sch: ConvSchedule, k: int) -> int:
    """The first word of level ``k`` above everything ``sch`` stages or keeps there."""
    fp = footprint_words(sch.operand_bytes, sch.staged, sch.staged_levels, sch.levels)[k - 1] if sch.staged else 0
    if not isinstance(sch, ResidentConvSchedule):
        return fp
    ends = [b + operand_words(sch, o, lv) for o in sch.resident for lv, b in [sch.resident_in(o)] if lv == k]
    return max([fp, sch.region_end, *ends])
