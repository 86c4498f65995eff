"""The SE scale bytes of an input-scaled convolution group (``mapping.epilogue``: the Mul by the excitation vector
applied on the consumer's input path), run against the SRAM model.

Per input tile load the group either fetches its channels' scale bytes from off-chip memory (tallied from the step
table: ``scale_bytes_loaded``) or, with the vector held in an SRAM level (``EpilogueSchedule.scale_plan``), reads
the words holding them there. A held vector is written once (a load of its bytes from off-chip memory) at its plan's
base word: in the first level above every buffer of the convolution and a fused pool's sums, in level 1 above the
operands the schedule stages there (both checked), so nothing else of the layer writes those words; its reads, one
group of words per input load row of the step table in order, go through the level's model (counted; a word that
holds anything but the vector is a clobber) and must return the vector's bytes."""

from __future__ import annotations

import numpy as np

from sramflow.cost.counts import ceil_div
from sramflow.funcsim.sram import FunctionalSimError, Sram
from sramflow.funcsim.state import Machine
from sramflow.mapping.epilogue import EpilogueSchedule, scale_bytes_loaded
from sramflow.mapping.steps_table import CONV_DIMS, LOAD, OP


def run_input_scale(group: EpilogueSchedule, scale: np.ndarray, m: Machine, outer: tuple[Sram, ...] = (),
                    loaded: dict[tuple[int, int], int] | None = None) -> None:
    """The scale bytes of one group (or one part of a split layer): ``scale`` holds its input channels' int8
    scales, G x C in (group, channel) order; ``outer``: the SRAM levels 1, 2, ... (``funcsim.levels``);
    ``loaded``: (level, base word) -> tag of the vectors the parts before this one wrote, which a part whose plan
    keeps its vector reads instead of writing its own (its reads must return this part's scales)."""
    conv, plan = group.conv, group.scale_plan
    table = conv.step_table()
    if plan is None:
        m.tally.offchip_read_bytes += scale_bytes_loaded(table)
        return
    end = _first_free_word(group, plan.level, outer)
    if plan.base_word < end:
        raise FunctionalSimError(f"{group.shape.name}: the held SE scale vector at word {plan.base_word} of SRAM "
                                 f"level {plan.level} overlaps the group's buffers, pool sums or staged operands "
                                 f"(which end at word {end})")
    sh, wb = group.shape, plan.word_bytes
    if scale.size != plan.channels:
        raise FunctionalSimError(f"{sh.name}: the SE scale vector has {scale.size} values for {plan.channels} input "
                                 "channels")
    data = np.zeros(plan.words * wb, np.uint8)
    data[:plan.channels] = np.asarray(scale, np.int8).reshape(-1).view(np.uint8)
    what = f"{sh.name}: held SE scale vector"
    loaded = {} if loaded is None else loaded
    if plan.kept:
        if (plan.level, plan.base_word) not in loaded:
            raise FunctionalSimError(f"{sh.name}: the SE scale vector is kept at word {plan.base_word} of SRAM level "
                                     f"{plan.level}, but no part before this one loaded it there")
        tag = loaded[(plan.level, plan.base_word)]
    else:
        tag = m.new_tag()
        if plan.level:
            outer[plan.level - 1].write(plan.base_word, data, tag, what)
        else:
            m.write(plan.base_word, data, tag, what, compute=False)
        m.tally.offchip_read_bytes += plan.channels
        loaded[(plan.level, plan.base_word)] = tag
    rows = np.flatnonzero((table.kind == LOAD) & (table.operand == OP["inputs"]))
    g, c = CONV_DIMS.index("g"), CONV_DIMS.index("c")
    ext = np.stack([table.lo[rows, g], table.hi[rows, g], table.lo[rows, c], table.hi[rows, c]], axis=1)
    kinds, which = np.unique(ext, axis=0, return_inverse=True)
    words = [_words(*(int(v) for v in k), sh.c_per_group, wb) for k in kinds]
    idx = np.concatenate([words[i] for i in which.reshape(-1)]) if rows.size else np.zeros(0, np.int64)
    got = outer[plan.level - 1].read(plan.base_word + idx, tag, what) if plan.level else \
        m.read(plan.base_word + idx, tag, what, compute=True)
    if not np.array_equal(got, data.reshape(-1, wb)[idx]):
        raise FunctionalSimError(f"{sh.name}: the held SE scale vector read back other bytes than were loaded")


def _first_free_word(group: EpilogueSchedule, level: int, outer: tuple[Sram, ...]) -> int:
    """The first word of SRAM ``level`` that the layer leaves free: above the first level's buffers and a fused
    pool's sums; above the operands ``funcsim.levels.run_staged_conv`` writes into level 1 (weights with their
    biases, inputs, outputs, each from the next free word) and above any resident region there."""
    conv = group.conv
    if level == 0:
        end = max(b.end_word for b in conv.buffers)
        pool = group.pool_plan
        return end if pool is None else max(end, pool.base_word + pool.tile_channels * pool.words_per_channel)
    if level > len(outer):
        raise FunctionalSimError(f"{group.shape.name}: the SE scale vector is held in SRAM level {level}, which this "
                                 f"run does not have ({len(outer)} outer levels)")
    sh, wb = conv.shape, outer[level - 1].word_bytes
    size = {"weights": sh.weight_bytes + sh.bias_bytes, "inputs": sh.input_bytes, "outputs": sh.output_bytes}
    end = 0
    for o in ("weights", "inputs", "outputs"):  # run_staged_conv's order; a resident region where it was left
        at = conv.resident_in(o) if hasattr(conv, "resident_in") else None
        if at is not None and at[0] == level:
            end = max(end, at[1] + ceil_div(size[o], wb))
        elif o in conv.staged_in(level):
            end += ceil_div(size[o], wb)
    return max(end, getattr(conv, "region_end", 0) if level == 1 else 0)


def _words(g0: int, g1: int, c0: int, c1: int, c_per_group: int, word_bytes: int) -> np.ndarray:
    """The vector's words holding the scales of groups [g0, g1) x channels [c0, c1), relative to its first word
    (``mapping.epilogue.scale_words`` counts them)."""
    idx = np.arange(g0, g1)[:, None] * c_per_group + np.arange(c0, c1)[None, :]
    return np.unique(idx // word_bytes).astype(np.int64)
