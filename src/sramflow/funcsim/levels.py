"""Outer SRAM levels in the functional simulator (any number): the operands a conv schedule stages in level k
(``mapping.staging``) are held in that level as real bytes. Weights or an input kept from the part before (a channel
chunk's row bands, a row band's channel chunks: ``mapping.depth_first_split``) are read where that part wrote
them, through their tags.

Per staged node: weights (int8, then the int32 biases) and inputs are written whole into their level (off-chip ->
level k, counted in its words) and read back through its tags (a word not holding what was written is a
clobber); the node's tile refills are then served from those bytes, so the result is bit-exact only if the level
held them. Outputs are written into their level from the node's result and drained from it. Partial sums that a
schedule spills are counted at their level (their values stay in the executor's spill store). The tile refills and
spills are counted in the level's words per operand and direction of the node (``mapping.staging``'s
convention), from the bytes the executed load / store steps moved; so are the transits through the levels
between level k and the first (each moved byte written into and read out of them once; their bytes are not held,
as a transit buffer only streams them)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Protocol

import numpy as np

from sramflow.cost.counts import ceil_div
from sramflow.funcsim.exec_conv import ConvData
from sramflow.funcsim.sram import FunctionalSimError, Sram
from sramflow.funcsim.state import Machine
from sramflow.mapping.conv_schedule import ConvSchedule
from sramflow.mapping.depth_first import ResidentConvSchedule
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


def _through(level: Sram, m: Machine, base: int, blob: bytes, what: str, count_read: bool) -> tuple[bytes, int]:
    """Write ``blob`` at word ``base`` of the level and read it back (tag-checked); (the bytes read, the next free
    word). ``count_read`` False: the read-back stands for the tile refills, which are counted instead."""
    wb = level.word_bytes
    data = _padded(blob, wb)
    tag = m.new_tag()
    level.write(base, data, tag, what)
    n = data.size // wb
    back = level.read(np.arange(base, base + n), tag, what)
    if not count_read:
        level.reads -= n
    return np.asarray(back, np.uint8).reshape(-1)[: len(blob)].tobytes(), base + n


class ResidentIO(Protocol):
    """How a band group keeps its band in a level when its halo rows are cached (``funcsim.bands``): the resident
    input is read, and the resident output written, by it instead of as one tagged block."""

    def read_input(self, x: np.ndarray, at: tuple[int, int]) -> np.ndarray: ...

    def write_output(self, out: np.ndarray, at: tuple[int, int]) -> None: ...


def run_staged_conv(run: Callable[..., np.ndarray], sch: ConvSchedule, data: ConvData, m: Machine,
                    outer: tuple[Sram, ...], held: dict[tuple[int, int], tuple[int, int]] | None = None,
                    resident_io: ResidentIO | None = None, band_inputs: bool = True, band_outputs: bool = True,
                    input_map: Callable[[np.ndarray], np.ndarray] | None = None) -> np.ndarray:
    """Execute ``sch`` with ``run`` (the bulk executor: it takes the step table) with each staged operand held in its
    level (``outer[k - 1]`` is SRAM level k); moves the staged operands' tile traffic from the off-chip tally to
    the levels' counts. ``held``: the tensors depth-first groups leave in a level, (level, base word) -> (tag,
    bytes) (``mapping.depth_first``): a resident output is written there and stays (no drain), a resident input is
    read from the producer's words (tag-checked: a clobber if anything overwrote them) instead of being filled.
    ``resident_io``: a band group's band region with cached halo rows (``funcsim.bands.BandRegion``), which reads the
    resident input (unless not ``band_inputs``: a producer part's kept input) and writes the resident output row by
    row instead (``held`` is not used for them), unless not ``band_outputs`` (a recomputed depthwise part, whose
    output band goes to ``held`` for the projection part after it). ``input_map``: applied to a resident input read
    through ``held`` (the SE scale on the projection's input path, which the level holds unscaled)."""
    t = sch.step_table()
    name = f"node {sch.shape.name!r}"
    base = [0] * len(outer)  # next free word of each level (the resident tensors sit above, at their own base)
    where = dict(zip(sch.staged, sch.staged_levels))
    kept = {o: sch.resident_in(o) for o in sch.resident} if isinstance(sch, ResidentConvSchedule) else {}
    if isinstance(sch, ResidentConvSchedule) and sch.floor_words:  # a band group's kept producer weights lie below
        base[where["inputs"] - 1] = sch.floor_words
    filled = {o: kept.pop(o) for o in sch.filled} if isinstance(sch, ResidentConvSchedule) else {}
    held = {} if held is None else held

    def hold(o: str, blob: bytes, count_read: bool) -> bytes:
        k = where[o]
        lv, b0 = outer[k - 1], filled[o][1] if o in filled else base[k - 1]
        if b0 < base[k - 1]:
            raise FunctionalSimError(f"{name}: {o} filled at word {b0} of level {k}, below the {base[k - 1]} words "
                                     "this part staged before it")
        back, nxt = _through(lv, m, b0, blob, f"{name}: {o} in {lv.words}-word level {k}", count_read)
        base[k - 1] = max(base[k - 1], nxt)
        if o in ("weights", "inputs"):  # the next parts of a chunk (a band) may keep them (``depth_first_split``)
            held[(where[o], b0)] = (int(lv.tag[b0]), len(blob))
        return back

    if "weights" in where:
        w = np.asarray(data.weights, np.int8)
        b = np.zeros(0, "<i4") if data.bias is None else np.asarray(data.bias, "<i4")
        blob = w.tobytes() + b.tobytes()
        if "weights" in kept:  # left by the part before, at the bottom of the level: read through their tags
            k, b0 = kept["weights"]
            back = resident_read(outer, held, (k, b0), len(blob), f"{name}: kept weights")
            base[k - 1] = b0 + ceil_div(len(blob), outer[k - 1].word_bytes)
        else:
            back = hold("weights", blob, False)
        data = dataclasses.replace(data, weights=np.frombuffer(back[: w.nbytes], np.int8).reshape(w.shape),
                                   bias=None if data.bias is None else
                                   np.frombuffer(back[w.nbytes:], "<i4").astype(np.int64).reshape(b.shape))
    if "inputs" in kept and resident_io is not None and band_inputs:
        data = dataclasses.replace(data, x=resident_io.read_input(np.asarray(data.x, np.int8), kept["inputs"]))
    elif "inputs" in kept:
        x = np.asarray(data.x, np.int8)
        back = resident_read(outer, held, kept["inputs"], x.nbytes, f"{name}: resident inputs")
        x = np.frombuffer(back, np.int8).reshape(x.shape)
        data = dataclasses.replace(data, x=x if input_map is None else np.asarray(input_map(x), np.int8))
    elif "inputs" in where:
        x = np.asarray(data.x, np.int8)
        data = dataclasses.replace(data, x=np.frombuffer(hold("inputs", x.tobytes(), False), np.int8).reshape(x.shape))
    whole = {"weights": sch.shape.weight_bytes + sch.shape.bias_bytes, "inputs": sch.shape.input_bytes}
    y = run(sch, data, m, t)
    tally = m.tally
    for o, k in where.items():
        moves = {kind: _moved(t, kind, ops) for kind, ops in _MOVES[o]}
        load, store = moves.get(LOAD, 0), moves.get(STORE, 0)
        for transit in outer[: k - 1]:  # every moved byte written into and read out of each level in between
            wb = transit.word_bytes
            transit.reads += ceil_div(load, wb) + ceil_div(store, wb)
            transit.writes += ceil_div(load, wb) + ceil_div(store, wb)
        lv = outer[k - 1]
        if o in ("weights", "inputs"):  # refills come from the level; the operand crossed the link once (never
            # when a depth-first group's producer left it there)
            tally.offchip_read_bytes += (0 if o in kept else whole[o]) - load
            lv.reads += ceil_div(load, lv.word_bytes)
        elif o == "psums":  # spills go to the level and back, never off-chip
            tally.offchip_read_bytes -= load
            tally.offchip_write_bytes -= store
            lv.reads += ceil_div(load, lv.word_bytes)
            lv.writes += ceil_div(store, lv.word_bytes)
    if "outputs" in kept:  # stored into the level and left there for the group's consumer: never drained
        out = np.asarray(y, np.int8)
        k, b0 = kept["outputs"]
        lv = outer[k - 1]
        if resident_io is not None and band_outputs:
            resident_io.write_output(out, (k, b0))
        else:
            tag = m.new_tag()
            lv.write(b0, _padded(out.tobytes(), lv.word_bytes), tag, f"{name}: resident outputs in level {k}")
            held[(k, b0)] = (tag, out.nbytes)
        tally.offchip_write_bytes -= _moved(t, STORE, ("outputs",))
    elif "outputs" in where:  # stored into the level from the one inside, drained off-chip once: the bytes pass it
        out = np.asarray(y, np.int8)
        y = np.frombuffer(hold("outputs", out.tobytes(), True), np.int8).reshape(out.shape)
    return y


def resident_read(outer: tuple[Sram, ...], held: dict[tuple[int, int], tuple[int, int]], at: tuple[int, int],
                  nbytes: int, what: str) -> bytes:
    """The bytes a depth-first group's producer left at ``at`` = (level, base word), read through the words' tags
    (the read stands for the consumer's tile refills, which are counted instead)."""
    if at not in held or held[at][1] != nbytes:
        raise FunctionalSimError(f"{what}: no {nbytes}-byte tensor was left at word {at[1]} of level {at[0]} by its "
                                 "producer; the depth-first schedules were made for another graph")
    lv = outer[at[0] - 1]
    n = ceil_div(nbytes, lv.word_bytes)
    back = lv.read(np.arange(at[1], at[1] + n), held[at][0], what)
    lv.reads -= n
    return np.asarray(back, np.uint8).reshape(-1)[:nbytes].tobytes()
