"""Execute a ``VectorSchedule``: chunks of full-size operands (and a per-segment scalar) go through the SRAM,
the vector unit applies the reference kernel to what it reads, results are stored off-chip."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from sramflow.funcsim import layout as L
from sramflow.funcsim.sram import FunctionalSimError
from sramflow.funcsim.state import Machine, Resident, region_dict
from sramflow.mapping.schedule import Step
from sramflow.mapping.vector import VectorSchedule


@dataclass(frozen=True)
class VectorData:
    """``full``: the full-size int8 operands as (segments, seg_len); ``scale``: the per-segment int8 scalars
    (or None); ``order``: the kernel's operand order as ("full", j) / ("scale", 0); ``kernel``: the reference
    kernel on chunks (element-wise) or on a whole segment (reductions), returning int8."""

    full: tuple[np.ndarray, ...]
    scale: np.ndarray | None
    order: tuple[tuple[str, int], ...]
    kernel: Callable[..., np.ndarray]
    reduce: bool
    positional: bool = False  # the kernel also takes ``at`` = (first, end) element of its chunk in the segment


class VectorRun:
    def __init__(self, sch: VectorSchedule, data: VectorData, m: Machine) -> None:
        self.sch, self.d, self.m = sch, data, m
        sh = sch.shape
        self.out = np.zeros((sh.segments, 1 if sh.reduce else sh.seg_len), np.int8)
        self.res: dict[str, Resident] = {}
        self.seg_acc: list[np.ndarray] = []  # a reduction's chunks of the current segment (vector accumulator)
        self.last_write = -1

    def load(self, st: Step) -> None:
        r = region_dict(st.region)
        (s0, _) = r["seg"]
        if st.operand == "scale":
            if self.d.scale is None:
                raise FunctionalSimError(f"node {self.sch.shape.name!r}: scale load but the op has no scalar")
            raw = L.pad_to_words(self.d.scale[s0:s0 + 1].view(np.uint8), self.sch.word_bytes)
            nbytes = 1
        elif st.operand.startswith("inputs"):
            j = int(st.operand[len("inputs"):])
            x0, x1 = r["elem"]
            raw = L.pad_to_words(np.ascontiguousarray(self.d.full[j][s0, x0:x1]).view(np.uint8), self.sch.word_bytes)
            nbytes = x1 - x0
        else:
            raise FunctionalSimError(f"node {self.sch.shape.name!r}: load of unknown operand {st.operand!r}")
        tag = self.m.new_tag()
        n = self.m.write(st.base_word, raw, tag, f"{self.sch.shape.name}: load {st.operand}", compute=False)
        self.m.tally.offchip_read_bytes += nbytes
        if n != st.sram_writes or nbytes != st.offchip_bytes:
            self.m.note(f"{self.sch.shape.name}: load {st.operand} {st.region}: {n} words / {nbytes} B, step says "
                        f"{st.sram_writes} / {st.offchip_bytes}")
        self.res[st.operand] = Resident(tag, st.base_word, r)

    def _operand(self, key: tuple[str, int], region: dict) -> np.ndarray:
        name = self.sch.shape.name
        op = "scale" if key[0] == "scale" else f"inputs{key[1]}"
        res = self.res.get(op)
        if res is None or res.region["seg"] != region["seg"] or (op != "scale" and res.region["elem"] != region["elem"]):
            raise FunctionalSimError(f"node {name!r}: compute on {region} but {op} holds "
                                     f"{None if res is None else res.region}")
        n = 1 if op == "scale" else region["elem"][1] - region["elem"][0]
        words = L.ceil_div(n, self.sch.word_bytes)
        passes = 1 if op == "scale" else self.sch.shape.passes  # a row op loops over the resident row
        rows = self.m.read(np.tile(np.arange(res.base, res.base + words), passes), res.tag, f"{name}: {op}",
                           compute=True)
        return rows[:words].ravel()[:n].view(np.int8)

    def compute(self, st: Step) -> None:
        r = region_dict(st.region)
        reads0, writes0 = self.m.tally.sram_reads_compute, self.m.tally.sram_writes_compute
        args = [self._operand(k, r) for k in self.d.order]
        tag = self.m.new_tag()
        if self.d.reduce:
            self.seg_acc.append(args[0])
            if r["elem"][1] < self.sch.shape.seg_len:
                self._check(st, reads0, writes0)
                return
            y = self.d.kernel(np.concatenate(self.seg_acc))
            self.seg_acc = []
        else:
            y = self.d.kernel(*args, at=r["elem"]) if self.d.positional else self.d.kernel(*args)
        y = np.ascontiguousarray(np.asarray(y, np.int8).ravel())
        self.m.write(st.base_word, L.pad_to_words(y.view(np.uint8), self.sch.word_bytes), tag,
                     f"{self.sch.shape.name}: outputs", compute=True)
        self.last_write = tag
        self._check(st, reads0, writes0)

    def _check(self, st: Step, reads0: int, writes0: int) -> None:
        r = self.m.tally.sram_reads_compute - reads0
        w = self.m.tally.sram_writes_compute - writes0
        if (r, w) != (st.sram_reads, st.sram_writes):
            self.m.note(f"{self.sch.shape.name}: compute {st.region}: {r} reads / {w} writes, step says "
                        f"{st.sram_reads} / {st.sram_writes}")

    def store(self, st: Step) -> None:
        r = region_dict(st.region)
        (s0, _), (x0, x1) = r["seg"], r["elem"]
        n = 1 if self.d.reduce else x1 - x0
        words = L.ceil_div(n, self.sch.word_bytes)
        rows = self.m.read(np.arange(st.base_word, st.base_word + words), self.last_write,
                           f"{self.sch.shape.name}: store", compute=False)
        y = rows.ravel()[:n].view(np.int8)
        self.m.tally.offchip_write_bytes += n
        if n != st.offchip_bytes or words != st.sram_reads:
            self.m.note(f"{self.sch.shape.name}: store {st.region}: {words} words / {n} B, step says "
                        f"{st.sram_reads} / {st.offchip_bytes}")
        if self.d.reduce:
            self.out[s0, 0] = y[0]
        else:
            self.out[s0, x0:x1] = y


def execute_vector(sch: VectorSchedule, data: VectorData, m: Machine, steps: Iterable[Step] | None = None) -> np.ndarray:
    """Run the schedule; returns the int8 output as (segments, seg_len) (or (segments, 1) for a reduction)."""
    run = VectorRun(sch, data, m)
    for st in (sch.steps() if steps is None else steps):
        getattr(run, st.kind)(st) if st.kind in ("load", "compute", "store") else _bad(sch, st)
    return run.out


def _bad(sch: VectorSchedule, st: Step) -> None:
    raise FunctionalSimError(f"node {sch.shape.name!r}: unknown step kind {st.kind!r}")
