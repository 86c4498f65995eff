"""Column views of one convolution ``StepTable`` shared by the bulk executor's load and compute halves."""

from __future__ import annotations

import numpy as np

from sramflow.funcsim.sram import FunctionalSimError
from sramflow.mapping.conv_schedule import ConvSchedule
from sramflow.mapping.steps_table import OP, StepTable


class ConvNode:
    def __init__(self, sch: ConvSchedule, t: StepTable) -> None:
        self.sch, self.t, self.sh = sch, t, sch.shape
        self.name = f"node {sch.shape.name!r}"
        self.wb, self.ak, self.gh = sch.hw.word_bytes, sch.tiling.group_k, sch.tiling.group_h
        self.lo = {d: t.lo[:, i] for i, d in enumerate(t.dims)}
        self.hi = {d: t.hi[:, i] for i, d in enumerate(t.dims)}
        self.ext = {d: self.hi[d] - self.lo[d] for d in t.dims}
        self.kind, self.op = t.kind, t.operand

    def rows(self, kind: int, operand: str | None = None) -> np.ndarray:
        m = self.kind == kind
        return np.flatnonzero(m if operand is None else m & (self.op == OP[operand]))

    def same_region(self, a: np.ndarray, b: np.ndarray, dims: str) -> np.ndarray:
        ok = np.ones(a.shape, bool)
        for d in dims:
            ok &= (self.lo[d][a] == self.lo[d][b]) & (self.hi[d][a] == self.hi[d][b])
        return ok

    def fail(self, rows: np.ndarray, msg: str) -> None:
        """Raise naming the first of ``rows`` (no-op when empty)."""
        if rows.size:
            i = int(np.min(rows))
            raise FunctionalSimError(f"{self.name}: step {i} ({self.t.step(i)}): {msg}")


def tile_key(node: ConvNode, rows: np.ndarray) -> np.ndarray:
    """One integer per output tile (its first element's flat index in (G*K, OH, OW))."""
    sh, lo = node.sh, node.lo
    return ((lo["g"][rows] * sh.k_per_group + lo["k"][rows]) * sh.out_h + lo["h"][rows]) * sh.out_w + lo["w"][rows]
