"""A second SRAM level in the functional simulator: the operands a conv schedule stages there (``mapping.staging``)
are held in it as real bytes.

Per staged node: weights (int8, then the int32 biases) and inputs are written whole into the level (off-chip ->
second level, counted in its words) and read back through its tags (a word not holding what was written is a
clobber); the node's tile refills are then served from those bytes, so the result is bit-exact only if the level
held them. Outputs are written into the level from the node's result and drained from it. Partial sums that a
schedule spills are counted at the level (their values stay in the executor's spill store). The tile refills and
spills are counted in the level's words per operand and direction of the node (``mapping.staging``'s
convention), from the bytes the executed load / store steps moved."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np

from sramflow.cost.counts import ceil_div
from sramflow.funcsim.exec_conv import ConvData
from sramflow.funcsim.sram import Sram
from sramflow.funcsim.state import Machine
from sramflow.mapping.conv_schedule import ConvSchedule
from sramflow.mapping.steps_table import LOAD, OP, STORE, StepTable

# the step-table operands each staged operand covers, and the step kind moving them from the first level's view
_MOVES = {"weights": ((LOAD, ("weights", "bias")),), "inputs": ((LOAD, ("inputs",)),),
          "outputs": ((STORE, ("outputs",)),), "psums": ((LOAD, ("psums",)), (STORE, ("psums",)))}


def _moved(t: StepTable, kind: int, operands: tuple[str, ...]) -> int:
    m = (t.kind == kind) & np.isin(t.operand, [OP[o] for o in operands])
    return int(t.offchip_bytes[m].sum())


def _padded(blob: bytes, wb: int) -> np.ndarray:
    buf = np.frombuffer(blob, np.uint8)
    return np.concatenate([buf, np.zeros(-buf.size % wb, np.uint8)])


def _through(l2: Sram, m: Machine, base: int, blob: bytes, what: str, count_read: bool) -> tuple[bytes, int]:
    """Write ``blob`` at word ``base`` of the level and read it back (tag-checked); (the bytes read, the next free
    word). ``count_read`` False: the read-back stands for the tile refills, which are counted instead."""
    wb = l2.word_bytes
    data = _padded(blob, wb)
    tag = m.new_tag()
    l2.write(base, data, tag, what)
    n = data.size // wb
    back = l2.read(np.arange(base, base + n), tag, what)
    if not count_read:
        l2.reads -= n
    return np.asarray(back, np.uint8).reshape(-1)[: len(blob)].tobytes(), base + n


def run_staged_conv(run: Callable[..., np.ndarray], sch: ConvSchedule, data: ConvData, m: Machine,
                    l2: Sram) -> np.ndarray:
    """Execute ``sch`` with ``run`` (the bulk executor: it takes the step table) with its staged operands held in
    ``l2``; moves the staged operands' tile traffic from the off-chip tally to the level's counts."""
    t = sch.step_table()
    wb, name, base = l2.word_bytes, f"node {sch.shape.name!r}", 0
    staged = set(sch.staged)
    if "weights" in staged:
        w = np.asarray(data.weights, np.int8)
        b = np.zeros(0, "<i4") if data.bias is None else np.asarray(data.bias, "<i4")
        blob = w.tobytes() + b.tobytes()
        back, base = _through(l2, m, base, blob, f"{name}: weights in {l2.words}-word level",
                              False)
        data = dataclasses.replace(data, weights=np.frombuffer(back[: w.nbytes], np.int8).reshape(w.shape),
                                   bias=None if data.bias is None else
                                   np.frombuffer(back[w.nbytes:], "<i4").astype(np.int64).reshape(b.shape))
    if "inputs" in staged:
        x = np.asarray(data.x, np.int8)
        back, base = _through(l2, m, base, x.tobytes(), f"{name}: inputs in {l2.words}-word level", False)
        data = dataclasses.replace(data, x=np.frombuffer(back, np.int8).reshape(x.shape))
    whole = {"weights": sch.shape.weight_bytes + sch.shape.bias_bytes, "inputs": sch.shape.input_bytes}
    y = run(sch, data, m, t)
    tally = m.tally
    for o in staged:
        moves = {kind: _moved(t, kind, ops) for kind, ops in _MOVES[o]}
        if o in ("weights", "inputs"):  # refills come from the level; the operand crossed the link once
            tally.offchip_read_bytes += whole[o] - moves[LOAD]
            l2.reads += ceil_div(moves[LOAD], wb)
        elif o == "psums":  # spills go to the level and back, never off-chip
            tally.offchip_read_bytes -= moves[LOAD]
            tally.offchip_write_bytes -= moves[STORE]
            l2.reads += ceil_div(moves[LOAD], wb)
            l2.writes += ceil_div(moves[STORE], wb)
    if "outputs" in staged:  # stored into the level from the first, drained off-chip once: the bytes go through it
        out = np.asarray(y, np.int8)
        back, base = _through(l2, m, base, out.tobytes(), f"{name}: outputs in {l2.words}-word level",
                              True)
        y = np.frombuffer(back, np.int8).reshape(out.shape)
    return y
