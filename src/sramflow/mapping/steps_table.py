"""A schedule's steps as columns of numpy arrays (no per-step Python objects): the one step enumeration. Each
schedule kind defines its table (``ConvSchedule.step_table``, ``VectorSchedule.step_table``, built with
``assemble``); ``schedule.steps()`` is the ``Step`` view of its rows (``StepTable.step(i)``), for the step
executor. The closed-form counts are tested equal to the table's sums. Each row also carries what ``Step`` does
not: for every compute step, the operand buffers it reads (``StepTable.reads``: operand, first word, words spanned), derived from the last load
of each operand (or, for partial sums kept / reloaded in the output buffer, the step's own output base), so a
wrong operand address is checkable against the SRAM's writers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sramflow.mapping.schedule import Schedule, Step, buffer_of

KINDS = ("load", "store", "compute")
LOAD, STORE, COMPUTE = 0, 1, 2
OPERANDS = ("bias", "weights", "inputs", "psums", "outputs", "macs", "vector", "scale", "inputs0", "inputs1",
            "inputs2", "inputs3",  # a bilinear resize gathers 4 taps per output (mapping.lower)
            "skip")  # the skip tile of a residual Add on a convolution's output path (mapping.epilogue)
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


def steps_table(schedule: Schedule) -> StepTable:
    """The schedule's steps as one table (``step_table()``: the enumeration each schedule kind defines)."""
    table = getattr(schedule, "step_table", None)
    if table is None:
        raise TypeError(f"no step table for {type(schedule).__name__}")
    return table()


# ---- assembly: each schedule step expands into a fixed list of candidate rows with a presence mask ---------

def assemble(dims: tuple[str, ...], rows: list[dict], present: np.ndarray, reads: list[tuple]) -> StepTable:
    """``rows``: one dict of per-step column arrays per candidate row; ``present`` (steps, candidates)."""
    n, m = present.shape
    flat = present.ravel()
    row_of = np.cumsum(flat) - 1  # table row of every present candidate
    total = int(row_of[-1]) + 1 if row_of.size else 0
    # Scatter each candidate's present rows straight into the table by integer index: filling an (n, m) grid and
    # masking it costs n * m per column, and most candidates (a tile load) are present on few steps.
    grid = row_of.reshape(n, m)
    at = [np.flatnonzero(present[:, j]) for j in range(m)]  # the steps where candidate j is present
    dest = [grid[at[j], j] for j in range(m)]

    def picked(value, j: int):  # noqa: ANN001, ANN202
        v = np.asarray(value)
        if v.size == 1:
            return v.reshape(())
        return (v if v.shape == (n,) else np.broadcast_to(v, (n,)))[at[j]]

    def col(key: str, default: int = 0, dtype=np.int64) -> np.ndarray:  # noqa: ANN001
        a = np.empty(total, dtype)
        for j, r in enumerate(rows):
            if dest[j].size:
                a[dest[j]] = picked(r.get(key, default), j)
        return a

    def bounds(which: int) -> np.ndarray:
        a = np.zeros((len(dims), total), np.int64)  # dimension-major: each scatter writes one contiguous row
        for j, r in enumerate(rows):
            if dest[j].size:
                for d, lo_hi in r.get("region", {}).items():
                    a[dims.index(d)][dest[j]] = picked(lo_hi[which], j)
        return a.T  # (rows, dims), column-major: every dimension's column contiguous for the executors

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


def tile_ranges(extent: int, tile: int) -> tuple[np.ndarray, np.ndarray]:
    lo = np.arange(0, extent, tile, dtype=np.int64)
    return lo, np.minimum(lo + tile, extent)


def changed(*keys: np.ndarray) -> np.ndarray:
    """True where the key tuple differs from the previous position's (and at position 0)."""
    out = np.zeros(keys[0].size, bool)
    out[0] = True
    for k in keys:
        out[1:] |= k[1:] != k[:-1]
    return out


def slot_base(sch, operand: str, nth_advance: np.ndarray, double: bool) -> np.ndarray:  # noqa: ANN001
    """Base word of the buffer half in use after ``nth_advance`` advances (0: none yet, slot 0)."""
    if not any(b.operand == operand for b in sch.buffers):
        return np.full_like(nth_advance, -1)
    bases = np.array([buffer_of(sch.buffers, operand, s).base_word for s in (0, 1)], np.int64)
    slot = (np.maximum(nth_advance - 1, 0) % 2) if double else np.zeros_like(nth_advance)
    return bases[slot]
