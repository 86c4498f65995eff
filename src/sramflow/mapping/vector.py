"""Vector-unit schedules for non-MAC nodes (activations, add, multiply, SE channel scale, pooling).

Data is treated as ``segments`` (channels, or one flat segment) of ``seg_len`` int8 elements, processed
in chunks of ``chunk`` elements within a segment. Per chunk of x elements: each full-size input is
loaded (x bytes, ceil(x / word_bytes) word writes) and read by the vector unit (same words); a per-segment
scalar (SE scale) is loaded once per segment (1 byte, 1 word) and read once per chunk (1 word); an
element-wise result is written (ceil(x / word_bytes) words), read by the store DMA and sent off-chip;
a reduction (global average pool) keeps its sum in the vector unit's accumulator and writes, stores and
sends one byte per segment. Vector cycles per chunk = ceil((ops + lut look-ups) / lanes); a reduction
adds its requantize op to the last chunk of each segment.

A row op (``whole_segment``: softmax) needs a whole segment resident: the chunk is the segment, its compute
step reads the segment's words ``passes`` times (one pass per loop over the row: softmax's max, sum of
exponentials, outputs) and adds ``seg_ops`` per segment (softmax's reciprocal of the sum). A segment that does
not fit raises ``MappingError`` with the minimum working set.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property, lru_cache

import numpy as np

from sramflow.cost.counts import Counts, ceil_div
from sramflow.errors import MappingError
from sramflow.hw.spec import HardwareSpec
from sramflow.mapping.conv import balanced_sizes, bursts
from sramflow.mapping.schedule import Buffer, Step, allocate, buffer_of
from sramflow.mapping.steps_table import COMPUTE, LOAD, OP, STORE, VECTOR_DIMS, StepTable, assemble


@dataclass(frozen=True)
class VectorShape:
    name: str
    op: str
    segments: int
    seg_len: int
    full_inputs: int  # full-size int8 operands (1 or 2)
    const_inputs: int  # how many of them are constants (booked as weights)
    scale: bool  # a per-segment scalar operand (channel broadcast)
    reduce: bool  # one output per segment (global average pool)
    ops_per_elem: int
    lut_per_elem: int
    whole_segment: bool = False  # a row op: the chunk is the whole segment
    passes: int = 1  # reads of each resident chunk by its compute step (> 1 only with whole_segment)
    seg_ops: int = 0  # vector ops once per segment (on its last chunk)

    def __post_init__(self) -> None:
        if self.passes < 1 or (self.passes > 1 and not self.whole_segment):
            raise ValueError(f"node {self.name!r}: {self.passes} passes over a chunk need a whole-segment op")


@dataclass(frozen=True)
class VectorSchedule:
    shape: VectorShape
    word_bytes: int
    lanes: int
    chunk: int
    double_buffered: bool
    buffers: tuple[Buffer, ...]
    burst_bytes: int = 0  # off-chip bytes per transaction (0: one per transfer)

    @cached_property
    def counts(self) -> Counts:
        return Counts(**{k: int(v) for k, v in vector_counts(self.shape, self.word_bytes, self.lanes,
                                                              self.chunk, self.burst_bytes).items()})

    @property
    def unit(self) -> str:
        return "vector"

    @property
    def fits_whole(self) -> bool:
        return self.chunk >= self.shape.seg_len and self.shape.segments == 1

    def step_table(self) -> StepTable:
        return vector_step_table(self)

    def steps(self) -> Iterator[Step]:
        t = self.step_table()
        return (t.step(i) for i in range(len(t)))


def vector_counts(sh: VectorShape, wb: int, lanes: int, chunk, burst_bytes: int = 0) -> dict:  # noqa: ANN001
    n = ceil_div(sh.seg_len, chunk)
    last = sh.seg_len - (n - 1) * chunk
    words = (n - 1) * ceil_div(chunk, wb) + ceil_div(last, wb)  # per segment, one operand
    S, L = sh.segments, sh.seg_len
    per_chunk = sh.ops_per_elem + sh.lut_per_elem
    red = 1 if sh.reduce else 0
    vcyc = (n - 1) * ceil_div(per_chunk * chunk, lanes) + ceil_div(per_chunk * last + red + sh.seg_ops, lanes)
    const_bytes = S * L * sh.const_inputs
    out_words = S * red + (1 - red) * S * words
    seg_bursts = (n - 1) * bursts(chunk, burst_bytes) + bursts(last, burst_bytes)  # one operand, one segment
    return {
        "vector_ops": S * (sh.ops_per_elem * L + red + sh.seg_ops) + 0 * n,
        "lut_ops": S * L * sh.lut_per_elem + 0 * n,
        "sram_reads_compute": S * (sh.full_inputs * words * sh.passes + (n if sh.scale else 0)),
        "sram_writes_compute": out_words,
        "sram_writes_dma": S * (sh.full_inputs * words + (1 if sh.scale else 0)),
        "sram_reads_dma": out_words,
        "offchip_weight_bytes": const_bytes + 0 * n,
        "offchip_input_bytes": S * L * sh.full_inputs - const_bytes + (S if sh.scale else 0) + 0 * n,
        "offchip_output_bytes": (S if sh.reduce else S * L) + 0 * n,
        "offchip_psum_read_bytes": 0 * n,
        "offchip_psum_write_bytes": 0 * n,
        "dma_transfers": S * (sh.full_inputs * n + (1 if sh.scale else 0) + (1 if sh.reduce else n)),
        "dma_loads": S * (sh.full_inputs * n + (1 if sh.scale else 0)),
        "dma_bursts": S * (sh.full_inputs * seg_bursts + (1 if sh.scale else 0) + (1 if sh.reduce else seg_bursts)),
        "vector_cycles": S * vcyc,
        "mac_cycles": 0 * n,
        "macs": 0 * n,
        "register_accesses": 0 * n,
        "steps": S * n,
    }


def footprint(sh: VectorShape, wb: int, chunk, double):  # noqa: ANN001, ANN201
    nbuf = np.where(double, 2, 1)
    out = 1 if sh.reduce else ceil_div(chunk, wb)
    return (1 if sh.scale else 0) + nbuf * (sh.full_inputs * ceil_div(chunk, wb) + out)


@lru_cache(maxsize=1 << 14)
def vector_table(sh: VectorShape, wb: int, cap: int, lanes: int, burst_bytes: int, double_buffering: bool) -> tuple:
    """Per buffering: (double, fitting chunk sizes, their counts); memoized by shape (without its name) and the
    numbers the counts depend on, so sweep points reuse it."""
    chunks = np.array((sh.seg_len,) if sh.whole_segment else balanced_sizes(sh.seg_len), dtype=np.int64)
    out = []
    for double in ((False, True) if double_buffering else (False,)):
        ok = footprint(sh, wb, chunks, double) <= cap
        if ok.any():
            out.append((double, chunks[ok], vector_counts(sh, wb, lanes, chunks[ok], burst_bytes)))
    return tuple(out)


def vector_rows(sh: VectorShape, hw: HardwareSpec) -> tuple:
    """``vector_table`` of ``sh`` on ``hw`` (per buffering: double, fitting chunks, counts); ``MappingError`` when
    no chunk fits."""
    wb, cap = hw.main_sram.word_bytes, hw.main_sram.total_words
    parts = vector_table(dataclasses.replace(sh, name=""), wb, cap, hw.vector_unit.lanes, hw.offchip.burst_bytes,
                         hw.main_sram.double_buffering)
    if not parts:
        what = (f"a whole row of {sh.seg_len} elements ({sh.op}) does not fit" if sh.whole_segment
                else "no chunk fits")
        need = int(footprint(sh, wb, sh.seg_len if sh.whole_segment else 1, False)) * wb
        raise MappingError(f"node {sh.name!r}: {what} the {cap * wb}-byte SRAM; minimum working set is {need} bytes")
    return parts


def vector_schedule(sh: VectorShape, hw: HardwareSpec, chunk: int, double: bool) -> VectorSchedule:
    wb = hw.main_sram.word_bytes
    sizes = {"inputs": sh.full_inputs * ceil_div(chunk, wb), "outputs": 1 if sh.reduce else ceil_div(chunk, wb)}
    if sh.scale:
        sizes = {"scale": 1} | sizes
    buffers = allocate(sizes, ("inputs", "outputs") if double else ())
    return VectorSchedule(sh, wb, hw.vector_unit.lanes, chunk, double, buffers, hw.offchip.burst_bytes)


def vector_step_table(sch: VectorSchedule) -> StepTable:
    sh, wb = sch.shape, sch.word_bytes
    x0 = np.arange(0, sh.seg_len, sch.chunk, dtype=np.int64)
    seg = np.repeat(np.arange(sh.segments, dtype=np.int64), x0.size)
    x0 = np.tile(x0, sh.segments)
    x = np.minimum(sch.chunk, sh.seg_len - x0)
    t = np.arange(x0.size)
    slot = (t + 1) % 2 if sch.double_buffered else np.zeros_like(t)
    base_in = np.array([buffer_of(sch.buffers, "inputs", k).base_word for k in (0, 1)], np.int64)[slot]
    base_out = np.array([buffer_of(sch.buffers, "outputs", k).base_word for k in (0, 1)], np.int64)[slot]
    per = ceil_div(x, wb)
    last = x0 + x >= sh.seg_len
    writes = np.where(last, 1, 0) if sh.reduce else per
    region = {"seg": (seg, seg + 1), "elem": (x0, x0 + x)}
    scale_base = buffer_of(sch.buffers, "scale", 0).base_word if sh.scale else -1
    rows = [{"kind": LOAD, "operand": OP["scale"], "region": {"seg": (seg, seg + 1)}, "base_word": scale_base,
             "words": 1, "offchip_bytes": 1, "sram_writes": 1}]
    stride = ceil_div(sch.chunk, wb)
    for j in range(sh.full_inputs):
        rows.append({"kind": LOAD, "operand": OP[f"inputs{j}"], "region": region, "base_word": base_in + j * stride,
                     "words": per, "offchip_bytes": x, "sram_writes": per})
    rows.append({"kind": COMPUTE, "operand": OP["vector"], "region": region, "base_word": base_out,
                 "words": writes, "sram_reads": sh.full_inputs * per * sh.passes + (1 if sh.scale else 0),
                 "sram_writes": writes,
                 "vector_ops": sh.ops_per_elem * x + last * ((1 if sh.reduce else 0) + sh.seg_ops),
                 "lut_ops": sh.lut_per_elem * x})
    rows.append({"kind": STORE, "operand": OP["outputs"], "region": region, "base_word": base_out, "words": writes,
                 "offchip_bytes": np.where(sh.reduce, 1, x), "sram_reads": writes})
    ones = np.ones(x0.size, bool)
    present = np.stack([(x0 == 0) & sh.scale] + [ones] * sh.full_inputs + [ones, writes > 0], axis=1)
    cp = 1 + sh.full_inputs
    reads = [(cp, f"inputs{j}", base_in + j * stride, per, True) for j in range(sh.full_inputs)]
    if sh.scale:
        reads.append((cp, "scale", scale_base, 1, True))
    return assemble(VECTOR_DIMS, rows, present, reads)
