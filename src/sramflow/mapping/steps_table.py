"""A schedule's steps as columns of numpy arrays (no per-step Python objects), for the bulk functional
simulator and for fast count checks.

``steps_table(schedule)`` lists exactly the rows ``schedule.steps()`` yields, in the same order (tests check
it row by row via ``StepTable.step(i)``), plus one thing ``Step`` does not carry: for every compute step, the
operand buffers it reads (``StepTable.reads``: operand, first word, words spanned), derived from the last load
of each operand (or, for partial sums kept / reloaded in the output buffer, the step's own output base), so a
wrong operand address is checkable against the SRAM's writers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sramflow.mapping.conv import BIAS_BYTES, ConvSchedule, step_sizes
from sramflow.cost.counts import ceil_div
from sramflow.mapping.schedule import Step, buffer_of
from sramflow.mapping.vector import VectorSchedule

KINDS = ("load", "store", "compute")
LOAD, STORE, COMPUTE = 0, 1, 2
OPERANDS = ("bias", "weights", "inputs", "psums", "outputs", "macs", "vector", "scale", "inputs0", "inputs1")
OP = {name: i for i, name in enumerate(OPERANDS)}
PSUM_ACCESS = ("", "write", "rmw", "read")
CONV_DIMS = ("g", "k", "c", "h", "w", "row", "col")
VECTOR_DIMS = ("seg", "elem")
_CONV_REGION = {"bias": ("g", "k"), "weights": ("g", "k", "c"), "inputs": ("g", "c", "row", "col")}
_VECTOR_REGION = {"scale": ("seg",)}


@dataclass(frozen=True)
class OperandReads:
    """Operand buffers read by compute steps: row ``step`` of the table reads ``words`` words of ``operand``
    from ``base_word`` (the span, not the number of reads: that is the step's ``sram_reads``)."""

    step: np.ndarray
    operand: np.ndarray
    base_word: np.ndarray
    words: np.ndarray


@dataclass(frozen=True)
class StepTable:
    """One row per step. ``lo`` / ``hi``: region bounds on ``dims`` (0 where the operand has no such dim).
    ``words``: the SRAM span at ``base_word`` a load writes, a store reads, a compute step writes (0: none)."""

    dims: tuple[str, ...]
    kind: np.ndarray
    operand: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    base_word: np.ndarray
    words: np.ndarray
    offchip_bytes: np.ndarray
    sram_reads: np.ndarray
    sram_writes: np.ndarray
    macs: np.ndarray
    vector_ops: np.ndarray
    lut_ops: np.ndarray
    element_bytes: np.ndarray
    psum_access: np.ndarray
    reads: OperandReads

    def __len__(self) -> int:
        return int(self.kind.size)

    def take(self, keep: np.ndarray) -> StepTable:
        """The rows where ``keep`` holds (a variant of the schedule, e.g. with a step dropped, for tests)."""
        keep = np.asarray(keep, bool)
        new = np.cumsum(keep) - 1
        r = keep[self.reads.step]
        reads = OperandReads(new[self.reads.step[r]], self.reads.operand[r], self.reads.base_word[r],
                             self.reads.words[r])
        cols = {f: getattr(self, f)[keep] for f in ("kind", "operand", "lo", "hi", "base_word", "words",
                                                    "offchip_bytes", "sram_reads", "sram_writes", "macs",
                                                    "vector_ops", "lut_ops", "element_bytes", "psum_access")}
        return StepTable(self.dims, reads=reads, **cols)

    def region_dims(self, operand: str) -> tuple[str, ...]:
        if self.dims == VECTOR_DIMS:
            return _VECTOR_REGION.get(operand, VECTOR_DIMS)
        return _CONV_REGION.get(operand, ("g", "k", "h", "w"))

    def step(self, i: int) -> Step:
        """Row ``i`` as the ``Step`` that ``steps()`` yields there."""
        op = OPERANDS[int(self.operand[i])]
        region = tuple((d, int(self.lo[i, self.dims.index(d)]), int(self.hi[i, self.dims.index(d)]))
                       for d in self.region_dims(op))
        return Step(KINDS[int(self.kind[i])], op, region, int(self.base_word[i]), int(self.offchip_bytes[i]),
                    int(self.sram_reads[i]), int(self.sram_writes[i]), int(self.macs[i]), int(self.vector_ops[i]),
                    int(self.lut_ops[i]), int(self.element_bytes[i]), PSUM_ACCESS[int(self.psum_access[i])])


def steps_table(schedule: ConvSchedule | VectorSchedule) -> StepTable:
    if isinstance(schedule, ConvSchedule):
        return _conv_table(schedule)
    if isinstance(schedule, VectorSchedule):
        return _vector_table(schedule)
    raise TypeError(f"no step table for {type(schedule).__name__}")


def table_counts(t: StepTable, burst_bytes: int = 0) -> dict[str, int]:
    """Column sums in the terms of ``conv_steps.summed_counts``."""
    ld, stn, cp = t.kind == LOAD, t.kind == STORE, t.kind == COMPUTE
    dma = ~cp
    b = np.maximum(1, -(-t.offchip_bytes[dma] // burst_bytes)) if burst_bytes > 0 else np.ones(int(dma.sum()))
    return {"macs": int(t.macs[cp].sum()), "vector_ops": int(t.vector_ops[cp].sum()),
            "lut_ops": int(t.lut_ops[cp].sum()), "sram_reads_compute": int(t.sram_reads[cp].sum()),
            "sram_writes_compute": int(t.sram_writes[cp].sum()), "sram_writes_dma": int(t.sram_writes[ld].sum()),
            "sram_reads_dma": int(t.sram_reads[stn].sum()), "offchip_load_bytes": int(t.offchip_bytes[ld].sum()),
            "offchip_store_bytes": int(t.offchip_bytes[stn].sum()), "dma_transfers": int(dma.sum()),
            "dma_loads": int(ld.sum()), "steps": int(cp.sum()), "dma_bursts": int(b.sum())}


# ---- assembly: each schedule step expands into a fixed list of candidate rows with a presence mask ---------

def _assemble(dims: tuple[str, ...], rows: list[dict], present: np.ndarray, reads: list[tuple]) -> StepTable:
    """``rows``: one dict of per-step column arrays per candidate row; ``present`` (steps, candidates)."""
    n, m = present.shape
    flat = present.ravel()
    row_of = np.cumsum(flat) - 1  # table row of every present candidate

    def col(key: str, default: int = 0, dtype=np.int64) -> np.ndarray:  # noqa: ANN001
        a = np.empty((n, m), dtype)
        for j, r in enumerate(rows):
            a[:, j] = r.get(key, default)
        return a.ravel()[flat]

    def bounds(which: int) -> np.ndarray:
        a = np.zeros((n, m, len(dims)), np.int64)
        for j, r in enumerate(rows):
            for d, (lo, hi) in r.get("region", {}).items():
                a[:, j, dims.index(d)] = lo if which == 0 else hi
        return a.reshape(n * m, len(dims))[flat]

    cols = {k: col(k) for k in ("kind", "operand", "base_word", "words", "offchip_bytes", "sram_reads",
                                 "sram_writes", "macs", "vector_ops", "lut_ops", "psum_access")}
    cols["element_bytes"] = col("element_bytes", 1)
    r_step, r_op, r_base, r_words = [], [], [], []
    for cand, op, base, words, mask in reads:  # reads of the compute row at candidate index ``cand``
        idx = row_of.reshape(n, m)[:, cand]
        sel = np.broadcast_to(mask, (n,)) & present[:, cand]
        r_step.append(idx[sel])
        r_op.append(np.full(int(sel.sum()), OP[op]))
        r_base.append(np.broadcast_to(base, (n,))[sel])
        r_words.append(np.broadcast_to(words, (n,))[sel])
    order = np.argsort(np.concatenate(r_step), kind="stable") if r_step else np.zeros(0, np.int64)
    cat = (lambda parts: np.concatenate(parts)[order].astype(np.int64)) if r_step else (lambda _: np.zeros(0, np.int64))
    return StepTable(dims, lo=bounds(0), hi=bounds(1), reads=OperandReads(cat(r_step), cat(r_op), cat(r_base),
                                                                          cat(r_words)), **cols)


def _ranges(extent: int, tile: int) -> tuple[np.ndarray, np.ndarray]:
    lo = np.arange(0, extent, tile, dtype=np.int64)
    return lo, np.minimum(lo + tile, extent)


def _changed(*keys: np.ndarray) -> np.ndarray:
    """True where the key tuple differs from the previous position's (and at position 0)."""
    out = np.zeros(keys[0].size, bool)
    out[0] = True
    for k in keys:
        out[1:] |= k[1:] != k[:-1]
    return out


def _slot_base(sch, operand: str, nth_advance: np.ndarray, double: bool) -> np.ndarray:  # noqa: ANN001
    """Base word of the buffer half in use after ``nth_advance`` advances (0: none yet, slot 0)."""
    if not any(b.operand == operand for b in sch.buffers):
        return np.full_like(nth_advance, -1)
    bases = np.array([buffer_of(sch.buffers, operand, s).base_word for s in (0, 1)], np.int64)
    slot = (np.maximum(nth_advance - 1, 0) % 2) if double else np.zeros_like(nth_advance)
    return bases[slot]


def _last_index(mask: np.ndarray) -> np.ndarray:
    """For each position, the last position <= it where ``mask`` holds (-1 before the first)."""
    return np.maximum.accumulate(np.where(mask, np.arange(mask.size), -1))


def _conv_table(sch: ConvSchedule) -> StepTable:
    sh, t, order = sch.shape, sch.tiling.sizes(), sch.tiling.order
    r = {d: _ranges(sh.extents[d], t[d]) for d in "gkchw"}
    n = {d: r[d][0].size for d in "gkchw"}
    n["p"] = n["h"] * n["w"]
    grid = np.indices([n[lp] for lp in order]).reshape(len(order), -1)
    pos = dict(zip(order, grid))
    idx = {"g": pos["g"], "k": pos["k"], "c": pos["c"], "h": pos["p"] // n["w"], "w": pos["p"] % n["w"]}
    lo = {d: r[d][0][idx[d]] for d in "gkchw"}
    hi = {d: r[d][1][idx[d]] for d in "gkchw"}
    s = {d: hi[d] - lo[d] for d in "gkchw"}
    q = {k: np.broadcast_to(np.asarray(v, np.int64), lo["g"].shape) for k, v in
         step_sizes(sh, sch.hw, s, sch.tiling.group_k, sch.tiling.group_h).items()}
    ci = idx["c"]
    first, last = ci == 0, ci == n["c"] - 1
    double = sch.tiling.double_buffered
    psum = sch.spill_psums or sch.keep_psums
    row0, col0 = lo["h"] * sh.stride_h - sh.pad_top, lo["w"] * sh.stride_w - sh.pad_left
    rows, cols = sh.window_rows(s["h"]), sh.window_cols(s["w"])
    clip = (np.clip(row0 + rows, 0, sh.in_h) - np.clip(row0, 0, sh.in_h)).clip(0) \
        * (np.clip(col0 + cols, 0, sh.in_w) - np.clip(col0, 0, sh.in_w)).clip(0)
    out_n = s["g"] * s["k"] * s["h"] * s["w"]
    out_region = {d: (lo[d], hi[d]) for d in "gkhw"}

    # loads: bias only considered at the last reduction step (its key compared with the previous such step)
    bias_ld = np.zeros_like(first)
    if sh.has_bias:
        fi = np.flatnonzero(last)
        bias_ld[fi] = _changed(idx["g"][fi], idx["k"][fi])
    w_ld = _changed(idx["g"], idx["k"], ci) if not sh.pool_op else np.zeros_like(first)
    i_ld = _changed(idx["g"], ci, idx["h"], idx["w"])
    p_ld = np.full_like(first, sch.spill_psums) & ~first
    writes = np.where(psum, True, last)
    store = writes & ~(sch.keep_psums & ~last)
    access = np.where(~np.full_like(first, psum) | (first & last), 0, np.where(first, 1, np.where(last, 3, 2)))
    out_adv = p_ld | (writes & ~(psum & ~first))
    out_base = _slot_base(sch, "outputs", np.cumsum(out_adv), double)
    w_base = _slot_base(sch, "weights", np.cumsum(w_ld), double)
    i_base = _slot_base(sch, "inputs", np.cumsum(i_ld), double)
    b_base = _slot_base(sch, "bias", np.zeros_like(ci), False)
    psum_words = q["p_words"] if psum else np.zeros_like(ci)
    out_words = np.where(last, q["o_words"], psum_words)
    unit = OP["vector"] if sh.pool_op else OP["macs"]
    work = "vector_ops" if sh.pool_op else "macs"
    b_read = q["b_reads"] * last
    p_read = psum_words * ~first
    rows_ = [
        {"kind": LOAD, "operand": OP["bias"], "region": {"g": out_region["g"], "k": out_region["k"]},
         "base_word": b_base, "words": q["b_words"], "offchip_bytes": s["g"] * s["k"] * BIAS_BYTES,
         "sram_writes": q["b_words"], "element_bytes": BIAS_BYTES},
        {"kind": LOAD, "operand": OP["weights"], "region": {"g": out_region["g"], "k": out_region["k"],
                                                          "c": (lo["c"], hi["c"])}, "base_word": w_base,
         "words": q["w_words"], "offchip_bytes": s["g"] * s["k"] * s["c"] * sh.kernel_h * sh.kernel_w,
         "sram_writes": q["w_words"]},
        {"kind": LOAD, "operand": OP["inputs"], "region": {"g": out_region["g"], "c": (lo["c"], hi["c"]),
                                                         "row": (row0, row0 + rows), "col": (col0, col0 + cols)},
         "base_word": i_base, "words": q["i_words"], "offchip_bytes": s["g"] * s["c"] * clip,
         "sram_writes": q["i_words"]},
        {"kind": LOAD, "operand": OP["psums"], "region": out_region, "base_word": out_base, "words": psum_words,
         "offchip_bytes": out_n * sh.psum_bytes, "sram_writes": psum_words, "element_bytes": sh.psum_bytes},
        {"kind": COMPUTE, "operand": unit, "region": out_region, "base_word": np.where(writes, out_base, -1),
         "words": out_words * writes, "sram_reads": q["w_reads"] + q["i_reads"] + b_read + p_read,
         "sram_writes": out_words * writes, work: q["macs"], "psum_access": access},
        {"kind": STORE, "operand": np.where(last, OP["outputs"], OP["psums"]), "region": out_region,
         "base_word": out_base, "words": out_words, "offchip_bytes": out_n * np.where(last, 1, sh.psum_bytes),
         "sram_reads": out_words, "element_bytes": np.where(last, 1, sh.psum_bytes)},
    ]
    present = np.stack([bias_ld, w_ld, i_ld, p_ld, np.ones_like(first), store], axis=1)
    reads = [(4, "weights", w_base, q["w_words"], not sh.pool_op), (4, "inputs", i_base, q["i_words"], True),
             (4, "bias", b_base, q["b_words"], last & sh.has_bias),
             (4, "psums", out_base, psum_words, (access == 2) | (access == 3))]
    return _assemble(CONV_DIMS, rows_, present, reads)


def _vector_table(sch: VectorSchedule) -> StepTable:
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
    return _assemble(VECTOR_DIMS, rows, present, reads)
