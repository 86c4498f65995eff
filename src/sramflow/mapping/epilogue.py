"""Epilogue fusion: a Conv / Gemm and the element-wise chain on its output path (``ir.fusion.epilogue_chains``)
are one group with one schedule, the convolution's.

The chain runs on the vector unit between the requantize stage and the SRAM write of each output tile: the
accumulators' requantized int8 outputs pass through the chain's table look-ups and ALU ops (each link with the
int8 rounding of its own TFLite kernel) and only the chain's last tensor is written, so the SRAM words, DMA
transfers and off-chip bytes are the convolution's own (its output has the chain's output size: every link is
element-wise). What the group adds is the vector unit's work: ``ConvShape.epilogue_ops`` ALU ops and
``epilogue_lut`` look-ups per output element, priced by the same cost model (vector energy per op / look-up;
vector cycles = ceil(work / lanes) over the layer's output stream, added to the compute time like any vector
work). The chain's tensors other than the last are never materialized.

An SE channel scale (``ir.fusion.input_scales``: Mul of the feature map x by the excitation vector) is applied on
its consumer Conv's input path instead: each input tile load reads x and, in one more transfer, the scale bytes
of the tile's channels (one per channel; the DMA streams a tile channel by channel, so one scale byte is in use at
a time), and the vector unit multiplies every loaded element with the int8 rounding of the MUL
(``ConvShape.input_scale_ops`` ops per element) before it is written to the SRAM. The scaled tensor is never
written; the SRAM words are the convolution's own. Where an SRAM level has the words to spare, the excitation
vector is instead held there whole for the layer (``scale_plan``): in the first level above the convolution's
buffers (and a fused pool's sums), or in the next level out above the operands the schedule stages there. One load
of its bytes from off-chip memory, then each input tile load reads the words holding its channels' bytes (on the
first level's port, or with one transfer from the outer level) instead of a transfer from off-chip memory with a
burst of its own. ``sim.api.decide_input_scales`` takes the held vector, the per-load transfers or the scale's own
pass, whichever the objective prefers.

A global average pool of the group's output (``ir.fusion.fused_pools``: the SE squeeze, the classifier's pool) is
accumulated on the output path (``pool_plan``): where the tiling visits every pixel tile of a channel tile before
the next channel tile (no g / k loop inside the pixel loop), only that channel tile's int32 running sums are live,
and they are held in ``ceil(4 / word_bytes)`` SRAM words per channel above the convolution's buffers (the mapper
chose those buffers without them, so the pool is fused only where the macro has that many words to spare; else it
keeps its own pass). Each final output tile: the vector unit adds its requantized elements per channel (one op per
element), reading the running sums before (all but the channel tile's first pixel tile) and writing them back after
(all but its last); at the last, one op per channel turns the sum into the MEAN kernel's int8 (``reference.requant.
mean_of_sums``: the sum less zero point x count, times the multiplier with 1 / count folded in), written into the
same words and stored off-chip (one DMA transfer of the channel tile's bytes). The pool's input is never read
back. A layer run in row bands carries every channel's sum from band to band in an outer level (``PoolCarry``,
``mapping.depth_first_bands``; a channel chunk cut into bands carries its own channels' sums,
``depth_first_split.split_with_pool``). Where the pool is the output's only reader (the classifier's pool after
the head conv) and the outputs go straight off-chip from the first level, the output tiles are not stored at all
(``PoolPlan.stores``): the group moves the means, not the feature map.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from sramflow.cost.counts import Counts, ceil_div
from sramflow.errors import MappingError
from sramflow.ir.elementwise import BY_OP
from sramflow.mapping.conv import (RELEVANT, ConvShape, bursts, dma_bursts_by_operand, group_classes, reload_factor,
                                   trips)
from sramflow.mapping.schedule import Buffer, Step
from sramflow.mapping.staging import footprint_words
from sramflow.mapping.steps_table import CONV_DIMS, LOAD, OP, StepTable

FUSION_MODES = ("none", "epilogue", "depth-first")
DEPTH_FIRST_NOTE = ("depth-first groups keep tensors, whole or band by band, in an outer SRAM level "
                    "(mapping.depth_first, mapping.depth_first_bands), or in a region split from the one SRAM beside "
                    "its tile buffer (hw.partition)")


def output_path_ops(shape: ConvShape) -> tuple[int, int]:
    """Vector ops and look-ups per output element on the output path: the chain's, plus the ADD of a residual Add
    (``ConvShape.residual``; its skip loads are in the convolution's own counts, ``conv_schedule.residual_counts``)
    and the activation after it."""
    add = BY_OP["Add"].vector
    if not shape.residual:
        return shape.epilogue_ops, shape.epilogue_lut
    return (shape.epilogue_ops + add.ops_per_elem + shape.residual_act_ops,
            shape.epilogue_lut + add.lut_per_elem + shape.residual_act_lut)


def epilogue_delta(shape: ConvShape, lanes: int) -> dict[str, int]:
    """The counts the epilogue adds to the convolution's (zero without one)."""
    n = shape.output_bytes  # int8 outputs: one per element
    ops, lut = output_path_ops(shape)
    work = (ops + lut) * n
    return {"vector_ops": ops * n, "lut_ops": lut * n,
            "vector_cycles": ceil_div(work, lanes) if work else 0}


def input_scale_delta(conv, lanes: int, burst_bytes: int,  # noqa: ANN001 - a ConvSchedule
                      held: ScalePlan | None = None) -> dict[str, int]:
    """The counts an SE scale on the input path adds to the convolution's schedule ``conv`` (zero without one):
    ``input_scale_ops`` vector ops per loaded element (the loads into the first SRAM level, wherever they come
    from), and per input tile load one off-chip transfer of its channels' scale bytes, or with the vector ``held``
    in the SRAM its one load and the words each input tile load reads (``ScalePlan.delta``)."""
    sh = conv.shape
    if not sh.input_scale_ops:
        return {}
    skip = sh.output_bytes if sh.residual else 0  # skip tile loads are not scaled (``residual_counts``)
    work = sh.input_scale_ops * (conv.first_level_counts.offchip_input_bytes - skip)
    out = {"vector_ops": work, "vector_cycles": ceil_div(work, lanes)}
    if held is not None:
        return out | held.delta(burst_bytes)
    t = conv.tiling.sizes()
    n = trips(sh, t)
    f_i = int(reload_factor(conv.tiling.order, RELEVANT["inputs"], n))
    per_pixel_tile = [(gs * cs, gn * cn) for gs, gn in group_classes(sh.groups, t["g"])
                      for cs, cn in group_classes(sh.c_per_group, t["c"]) if gn and cn]
    loads = f_i * int(n["p"]) * sum(cnt for _, cnt in per_pixel_tile)
    nbytes = f_i * int(n["p"]) * sh.groups * sh.c_per_group
    nburst = f_i * int(n["p"]) * sum(cnt * int(bursts(b, burst_bytes)) for b, cnt in per_pixel_tile)
    return out | {"offchip_input_bytes": nbytes, "dma_transfers": loads, "dma_loads": loads, "dma_bursts": nburst}


def scale_words(g0: int, g1: int, c0: int, c1: int, c_per_group: int, word_bytes: int) -> int:
    """The words of a held excitation vector (byte g x C + c for group g, channel c) that hold the scale bytes of
    groups [g0, g1) x channels [c0, c1): what one input tile load reads."""
    if g1 - g0 == 1 or c1 - c0 == c_per_group:  # one contiguous run of bytes
        first, last = g0 * c_per_group + c0, (g1 - 1) * c_per_group + c1 - 1
        return last // word_bytes - first // word_bytes + 1
    idx = np.arange(g0, g1)[:, None] * c_per_group + np.arange(c0, c1)[None, :]
    return int(np.unique(idx // word_bytes).size)


@dataclass(frozen=True)
class ScalePlan:
    """An SE excitation vector held whole for one layer (``scale_plan``): ``channels`` bytes (one per input channel,
    G x C) in SRAM level ``level`` from word ``base_word`` (level 0: the first level, above the convolution's buffers;
    level 1: the next level out, above the operands the schedule stages there), loaded once; each of the ``loads``
    input tile loads reads the words holding its channels' bytes, ``word_reads`` in all. ``kept``: the part of a
    split layer before this one left the same vector at the same words of the same outer level (``keep_scales``),
    so this part reads it there without loading it again."""

    level: int
    base_word: int
    word_bytes: int
    channels: int
    loads: int
    word_reads: int
    kept: bool = False

    @property
    def words(self) -> int:
        return ceil_div(self.channels, self.word_bytes)

    @property
    def fill_bytes(self) -> int:
        """The bytes this plan loads from off-chip memory: the vector, or nothing where it is kept."""
        return 0 if self.kept else self.channels

    def delta(self, burst_bytes: int) -> dict[str, object]:
        """The vector's one load from off-chip memory into its words, and the reads: on the first level's port (the
        vector unit reads the words), or from level 1 with one transfer per input tile load (no off-chip burst)."""
        fill = {"offchip_input_bytes": self.channels, "dma_transfers": 1, "dma_loads": 1,
                "dma_bursts": int(bursts(self.channels, burst_bytes))}
        if self.level == 0:
            return fill | {"sram_writes_dma": self.words, "sram_reads_compute": self.word_reads}
        at = (0,) * (self.level - 1)
        if self.kept:
            return {"dma_transfers": self.loads, "dma_loads": self.loads, "level_reads": (*at, self.word_reads)}
        return fill | {"dma_transfers": 1 + self.loads, "dma_loads": 1 + self.loads,
                       "level_reads": (*at, self.word_reads), "level_writes": (*at, self.words)}


SCALE_LEVELS = (0, 1)  # where a held vector may sit: the first level, or the next one out (no transit levels)


def scale_plan(conv, pool: PoolPlan | None = None, level: int = 0) -> ScalePlan | None:  # noqa: ANN001
    """Where an input-scaled convolution ``conv`` (a ``ConvSchedule``) can hold its excitation vector in SRAM level
    ``level``, or None where that level has fewer words to spare (the tiling and the staging were chosen without
    them): level 0 above its buffers (and a fused ``pool``'s sums), level 1 above its staged operands there (a
    schedule holding a depth-first group's resident tensor keeps none: the tensor's words are the group's)."""
    sh, hw = conv.shape, conv.hw
    if not sh.input_scale_ops or not conv.buffers:
        return None
    channels = sh.groups * sh.c_per_group
    if level == 0:
        base = max(b.end_word for b in conv.buffers)
        if pool is not None:
            base = max(base, pool.base_word + pool.tile_channels * pool.words_per_channel)
        wb, capacity = hw.word_bytes, hw.capacity_words
    else:
        h = getattr(conv, "levels", None)
        if h is None or level > len(h.outer):
            return None
        lv = h.level(level)
        base = footprint_words(conv.operand_bytes, conv.staged, conv.staged_levels, h)[level - 1]
        for o in getattr(conv, "resident", ()):  # a resident region has its own words: the vector goes above it
            k, at = conv.resident_in(o)
            if k == level:
                base = max(base, at + ceil_div(conv.operand_bytes[o].footprint, lv.word_bytes))
        if level == 1:  # a cut's region of kept input bands spans more than this part's band
            base = max(base, getattr(conv, "region_end", 0))
        wb, capacity = lv.word_bytes, lv.capacity_words
    if base + ceil_div(channels, wb) > capacity:
        return None
    t = conv.tiling.sizes()
    n = trips(sh, t)
    f_i = int(reload_factor(conv.tiling.order, RELEVANT["inputs"], n))
    tiles = [(g0, min(g0 + t["g"], sh.groups), c0, min(c0 + t["c"], sh.c_per_group))
             for g0 in range(0, sh.groups, t["g"]) for c0 in range(0, sh.c_per_group, t["c"])]
    per_load = sum(scale_words(*e, sh.c_per_group, wb) for e in tiles)
    return ScalePlan(level, base, wb, channels, f_i * int(n["p"]) * len(tiles), f_i * int(n["p"]) * per_load)


def scale_bytes_loaded(table: StepTable) -> int:
    """The scale bytes an input-scaled convolution's step table loads: one per channel of every input tile load
    (what the functional simulator tallies for the scale transfers, ``input_scale_delta``)."""
    rows = (table.kind == LOAD) & (table.operand == OP["inputs"])
    g, c = CONV_DIMS.index("g"), CONV_DIMS.index("c")
    ext = (table.hi[rows, g] - table.lo[rows, g]) * (table.hi[rows, c] - table.lo[rows, c])
    return int(np.sum(ext, dtype=np.int64))


SUM_BYTES = 4  # a pool's running sum per channel: int32, as TFLite's QuantizedMeanOrSum accumulates


@dataclass(frozen=True)
class PoolCarry:
    """A fused pool's running sums carried between the row bands of a layer (``mapping.depth_first_bands``): every
    channel's int32 sum in ``words_per_channel`` words of SRAM level ``level`` from word ``base_word`` (channel c at
    ``base_word + c * words_per_channel``); ``carry_in``: this band's channel tiles start from the sums the band
    before left there (loaded into the first level's sum words) instead of zero; ``carry_out``: they end by storing
    the sums back there instead of the means off-chip (every band but the last)."""

    level: int
    base_word: int
    words_per_channel: int
    carry_in: bool
    carry_out: bool


@dataclass(frozen=True)
class PoolPlan:
    """Where and how a fused global average pool accumulates (``pool_plan``): the running sums of one channel tile
    (``tile_channels`` channels, ``words_per_channel`` words each) at ``base_word``; ``pixel_tiles`` final output
    tiles per channel tile; the channel tiles' sizes and counts (edge tiles are smaller); ``carry``: the sums carried
    across row bands in an outer level (None: the layer's whole pool); ``stores``: the convolution's output stores
    this plan removes (the pool is the only reader of the output, ``output_stores``; None: the outputs are stored)."""

    base_word: int
    words_per_channel: int
    word_bytes: int
    tile_channels: int
    pixel_tiles: int
    channel_tiles: tuple[tuple[int, int], ...]  # (channels, how many such tiles)
    elements: int  # output elements the sums add (G x K x OH x OW)
    carry: PoolCarry | None = None
    stores: Counts | None = None

    @property
    def channels(self) -> int:
        return sum(s * n for s, n in self.channel_tiles)

    def delta(self, lanes: int, burst_bytes: int) -> dict[str, object]:
        """The counts the pool adds to its group: the sum words' reads and writes, the result words, one DMA store
        per channel tile, one op per element and one per channel. Carried sums: per channel tile one transfer in
        from the outer level (its words read there, written into the sum words, read by the first pixel tile) and
        / or one out (the last pixel tile writes sums, not means; the DMA reads them and writes the level's words)
        instead of the means' store and their ops."""
        words = self.channels * self.words_per_channel
        tiles = sum(n for _, n in self.channel_tiles)
        cin, cout = (self.carry.carry_in, self.carry.carry_out) if self.carry is not None else (False, False)
        reads = (self.pixel_tiles - (0 if cin else 1)) * words
        if cout:
            writes, dma_reads = self.pixel_tiles * words, words
        else:
            result = sum(n * ceil_div(s, self.word_bytes) for s, n in self.channel_tiles)
            writes, dma_reads = (self.pixel_tiles - 1) * words + result, result
        work = self.elements + (0 if cout else self.channels)
        out = {"sram_reads_compute": reads, "sram_writes_compute": writes, "sram_reads_dma": dma_reads,
               "vector_ops": work, "vector_cycles": ceil_div(work, lanes), "dma_transfers": tiles}
        if not cout:
            out |= {"offchip_output_bytes": self.channels,
                    "dma_bursts": sum(n * int(bursts(s, burst_bytes)) for s, n in self.channel_tiles)}
        if self.carry is not None:
            at = (0,) * (self.carry.level - 1)
            level_words = self.channels * self.carry.words_per_channel
            out |= {"level_reads": (*at, level_words if cin else 0), "level_writes": (*at, level_words if cout else 0)}
        if cin:
            out |= {"sram_writes_dma": words, "dma_transfers": 2 * tiles, "dma_loads": tiles}
        if self.stores is not None:  # the output tiles are never stored
            for f in ("sram_reads_dma", "offchip_output_bytes", "dma_transfers", "dma_bursts"):
                out[f] = int(out.get(f, 0)) - getattr(self.stores, f)
        return out


def output_stores(conv) -> Counts | None:  # noqa: ANN001 - a ConvSchedule
    """The counts of ``conv``'s output stores (one per output tile, from the first level straight off-chip: the DMA's
    word reads, the bytes, the transfers and their bursts), or None where its outputs or partial sums go anywhere
    else (staged in an outer level, partial sums spilled, a residual's skip loads mirroring the stores)."""
    sh = conv.shape
    if sh.residual or set(getattr(conv, "staged", ())) - {"weights", "inputs"}:
        return None
    c = conv.first_level_counts
    if c.offchip_psum_read_bytes or c.offchip_psum_write_bytes:
        return None
    return Counts(sram_reads_dma=c.sram_reads_dma, offchip_output_bytes=c.offchip_output_bytes,
                  dma_transfers=c.dma_transfers - c.dma_loads,
                  dma_bursts=dma_bursts_by_operand(sh, conv.hw, conv.tiling)["outputs"])


def pool_plan(conv, carry: PoolCarry | None = None, sole_reader: bool = False  # noqa: ANN001 - a ConvSchedule
              ) -> PoolPlan | None:
    """The running-sum plan of a global average pool fused into the output path of ``conv``, or None where it does
    not fit: a pooling schedule, a g / k loop (of more than one trip) inside the pixel loop (every channel's sum
    would stay live), or fewer free words above the schedule's buffers than one channel tile's sums need. The means
    go off-chip from the first level whatever the schedule stages in outer levels (staged outputs are drained from
    there; the sums never leave the first level). ``carry``: the sums carried across row bands (``PoolCarry``).
    ``sole_reader``: the pool is the only reader of the output, whose stores the plan then removes where they go
    straight off-chip (``output_stores``)."""
    sh, hw = conv.shape, conv.hw
    if sh.pool_op or not conv.buffers:
        return None
    t = conv.tiling.sizes()
    n = trips(sh, t)
    loops = [d for d in conv.tiling.order if int(n[d]) > 1]
    if "p" in loops and any(d in "gk" for d in loops[loops.index("p") + 1:]):
        return None
    wpc = ceil_div(SUM_BYTES, hw.word_bytes)
    base = max(b.end_word for b in conv.buffers)
    if base + t["g"] * t["k"] * wpc > hw.capacity_words:
        return None
    tiles = tuple((gs * ks, gn * kn) for gs, gn in group_classes(sh.groups, t["g"])
                  for ks, kn in group_classes(sh.k_per_group, t["k"]) if gn and kn)
    stores = output_stores(conv) if sole_reader else None
    return PoolPlan(base, wpc, hw.word_bytes, t["g"] * t["k"], int(n["p"]), tiles, sh.output_bytes, carry, stores)


def with_epilogue(c: Counts, shape: ConvShape, lanes: int, conv=None, burst_bytes: int = 0,  # noqa: ANN001
                  pool: PoolPlan | None = None, scale: ScalePlan | None = None) -> Counts:
    deltas = [epilogue_delta(shape, lanes)]
    if conv is not None:
        deltas.append(input_scale_delta(conv, lanes, burst_bytes, scale))
    if pool is not None:
        deltas.append(pool.delta(lanes, burst_bytes))
    for d in deltas:  # Counts' sum adds the per-level counts level by level
        c = c + Counts(**d)
    return c


@dataclass(frozen=True)
class EpilogueSchedule:
    """A fused group's schedule: the convolution's (``conv``, any of its schedule types) with the epilogue's vector
    work on every compute step that writes int8 outputs. ``members``: the fused nodes, in order."""

    conv: object  # ConvSchedule
    members: tuple[str, ...]  # the output-path chain, in order
    lanes: int
    input_scale: str = ""  # the SE scale Mul applied on the input path ("" none)
    burst_bytes: int = 0  # off-chip bytes per transaction (0: one per transfer)
    residual: str = ""  # the residual Add whose skip tile the output path adds ("" none; ``ConvShape.residual``)
    pool: str = ""  # the global average pool accumulated on the output path ("" none; ``pool_plan``)
    scale_level: int | None = None  # the SRAM level holding the input scale's excitation vector (``scale_plan``)
    pool_carry: PoolCarry | None = None  # a row band's pool sums carried to and from an outer level
    scale_kept: bool = False  # the held vector was left in its outer level by the part before (``keep_scales``)
    pool_sole_reader: bool = False  # the pool is the output's only reader: its stores go (``pool_plan``)
    residual_act: str = ""  # the activation applied after the residual Add (``ir.fusion.residual_activations``)

    def __post_init__(self) -> None:
        if self.pool and self.pool_plan is None:
            raise MappingError(f"layer {self.shape.name!r}: the global average pool {self.pool!r} cannot be "
                               "accumulated on its output path (a g / k loop inside the pixel loop, staged outputs, "
                               "or no free SRAM words for one channel tile's int32 sums): map the pool as its own pass")
        if self.scale_level is not None and self.scale_plan is None:
            raise MappingError(f"layer {self.shape.name!r}: no SE scale vector to hold, or no free words for it in "
                               f"SRAM level {self.scale_level}: load the scale bytes with each input tile instead")

    @cached_property
    def pool_plan(self) -> PoolPlan | None:
        return pool_plan(self.conv, self.pool_carry, self.pool_sole_reader) if self.pool else None

    @property
    def scale_held(self) -> bool:
        return self.scale_level is not None

    @cached_property
    def scale_plan(self) -> ScalePlan | None:
        if self.scale_level is None or not self.input_scale:
            return None
        got = scale_plan(self.conv, self.pool_plan, self.scale_level)
        return dataclasses.replace(got, kept=True) if got is not None and self.scale_kept else got

    def with_conv(self, conv) -> EpilogueSchedule:  # noqa: ANN001 - a ConvSchedule
        """The group around another schedule of its convolution (a part, a re-tiling, a group's resident form); the
        vector stays held where that schedule has the words for it in the same level."""
        lv = self.scale_level
        pool = pool_plan(conv, self.pool_carry, self.pool_sole_reader) if self.pool else None
        if lv is not None and scale_plan(conv, pool, lv) is None:
            lv = None
        return dataclasses.replace(self, conv=conv, scale_level=lv, scale_kept=False)

    @property
    def shape(self) -> ConvShape:
        return self.conv.shape

    @property
    def buffers(self) -> tuple[Buffer, ...]:
        return self.conv.buffers

    @property
    def double_buffered(self) -> bool:
        return self.conv.double_buffered

    @property
    def unit(self) -> str:
        return self.conv.unit

    @property
    def fits_whole(self) -> bool:
        return self.conv.fits_whole

    @cached_property
    def counts(self) -> Counts:
        return with_epilogue(self.conv.counts, self.shape, self.lanes, self.conv, self.burst_bytes, self.pool_plan,
                             self.scale_plan)

    def __getattr__(self, name: str):  # noqa: ANN204 - the conv schedule's other attributes (tiling, staged, ...)
        if name.startswith("__") or name == "conv":
            raise AttributeError(name)
        return getattr(self.conv, name)

    def steps(self) -> Iterator[Step]:
        """The convolution's steps; each compute step that writes int8 outputs also runs the epilogue on them; with
        an input scale, each input load is preceded by the load of its channels' scale bytes (with the vector held:
        its one load first, then per input load the read of the words holding them) and scales its elements; with a
        fused pool, each output store is preceded by the pool's work on its tile (``pool_steps``)."""
        sh, held = self.shape, self.scale_plan
        steps = self.conv.steps()
        if held is not None and not held.kept:
            yield Step("load", "scale", (("g", 0, sh.groups), ("c", 0, sh.c_per_group)),
                       held.base_word if held.level == 0 else -1, offchip_bytes=held.channels,
                       sram_writes=held.words if held.level == 0 else 0)
        for st in (pool_steps(steps, self.pool_plan) if self.pool_plan is not None else steps):
            if st.kind == "load" and st.operand == "inputs" and sh.input_scale_ops:
                gc = tuple(r for r in st.region if r[0] in "gc")
                if held is None:
                    ch = _extent(st.region, "g") * _extent(st.region, "c")
                    yield Step("load", "scale", gc, -1, offchip_bytes=ch)
                elif held.level > 0:  # one transfer from the level (its word reads are the level's counts)
                    yield Step("load", "scale", gc, -1)
                else:
                    (g0, g1), (c0, c1) = _span(st.region, "g"), _span(st.region, "c")
                    yield Step("compute", "scale", gc, held.base_word + (g0 * sh.c_per_group + c0) // held.word_bytes,
                               sram_reads=scale_words(g0, g1, c0, c1, sh.c_per_group, held.word_bytes))
                st = dataclasses.replace(st, vector_ops=st.vector_ops + sh.input_scale_ops * st.offchip_bytes)
            if st.kind == "compute" and st.operand != "pool" and st.psum_access in ("", "read") and st.sram_writes:
                n = _region_elems(st.region)
                ops, lut = output_path_ops(sh)
                st = dataclasses.replace(st, vector_ops=st.vector_ops + ops * n, lut_ops=st.lut_ops + lut * n)
            yield st


def pool_steps(steps: Iterator[Step], plan: PoolPlan) -> Iterator[Step]:
    """``steps`` with a fused pool's work before each output store (a final output tile): a vector compute step that
    adds the tile's elements to its channels' running sums (reading them unless it is the channel tile's first pixel
    tile, writing them back unless it is the last); after the last, the MEAN of each channel (written into the sum
    words) and the DMA store of the channel tile's int8 means. Carried sums (``PoolCarry``): before the first pixel
    tile a DMA load of the channel tile's sums from the outer level (the first then reads them too); at the last,
    the sums written back and stored to the level instead of the means. Where the plan removes the output stores
    (``PoolPlan.stores``), the pool's work takes their place."""
    seen: dict[tuple, int] = {}
    cin, cout = (plan.carry.carry_in, plan.carry.carry_out) if plan.carry is not None else (False, False)
    unwritten = plan.stores is not None
    for st in steps:
        if st.kind == "store" and st.operand == "outputs":
            key = tuple(r for r in st.region if r[0] in "gk")
            i = seen[key] = seen.get(key, 0) + 1
            ch = _extent(st.region, "g") * _extent(st.region, "k")
            first, last = i == 1, i == plan.pixel_tiles
            sums = ch * plan.words_per_channel
            res = sums if cout else ceil_div(ch, plan.word_bytes)
            if first and cin:
                yield Step("load", "pool", key, plan.base_word, sram_writes=sums)
            yield Step("compute", "pool", st.region, plan.base_word, sram_reads=0 if first and not cin else sums,
                       sram_writes=res if last else sums,
                       vector_ops=_region_elems(st.region) + (ch if last and not cout else 0))
            if last:
                yield Step("store", "pool", key, plan.base_word, offchip_bytes=0 if cout else ch, sram_reads=res)
            if unwritten:
                continue
        yield st


def _extent(region: tuple[tuple[str, int, int], ...], dim: str) -> int:
    return next((b - a for d, a, b in region if d == dim), 1)


def _span(region: tuple[tuple[str, int, int], ...], dim: str) -> tuple[int, int]:
    return next(((a, b) for d, a, b in region if d == dim), (0, 1))


def _region_elems(region: tuple[tuple[str, int, int], ...]) -> int:
    n = 1
    for _, a, b in region:
        n *= b - a
    return n
