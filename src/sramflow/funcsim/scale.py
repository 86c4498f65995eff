"""The SE scale bytes of an input-scaled convolution group (``mapping.epilogue``: the Mul by the excitation vector
applied on the consumer's input path), run against the SRAM model.

Per input tile load the group either fetches its channels' scale bytes from off-chip memory (tallied from the step
table: ``scale_bytes_loaded``) or, with the vector held in the SRAM (``EpilogueSchedule.scale_plan``), reads the
words holding them. A held vector is written once (a DMA load of its bytes) at its plan's base word, which must lie
above every buffer of the convolution and above a fused pool's sums (checked), so the convolution's steps never touch
those words; its reads, one group of words per input load row of the step table in order, go through the machine
(counted; a word that holds anything but the vector is a clobber) and must return the vector's bytes."""

from __future__ import annotations

import numpy as np

from sramflow.funcsim.sram import FunctionalSimError
from sramflow.funcsim.state import Machine
from sramflow.mapping.epilogue import EpilogueSchedule, scale_bytes_loaded
from sramflow.mapping.steps_table import CONV_DIMS, LOAD, OP


def run_input_scale(group: EpilogueSchedule, scale: np.ndarray, m: Machine) -> None:
    """The scale bytes of one group (or one part of a split layer): ``scale`` holds its input channels' int8
    scales, G x C in (group, channel) order."""
    conv, plan = group.conv, group.scale_plan
    table = conv.step_table()
    if plan is None:
        m.tally.offchip_read_bytes += scale_bytes_loaded(table)
        return
    end = max(b.end_word for b in conv.buffers)
    if group.pool_plan is not None:
        end = max(end, group.pool_plan.base_word + group.pool_plan.tile_channels * group.pool_plan.words_per_channel)
    if plan.base_word < end:
        raise FunctionalSimError(f"{group.shape.name}: the held SE scale vector at word {plan.base_word} overlaps the "
                                 f"group's buffers or pool sums (which end at word {end})")
    sh, wb = group.shape, plan.word_bytes
    if scale.size != plan.channels:
        raise FunctionalSimError(f"{sh.name}: the SE scale vector has {scale.size} values for {plan.channels} input "
                                 "channels")
    data = np.zeros(plan.words * wb, np.uint8)
    data[:plan.channels] = np.asarray(scale, np.int8).reshape(-1).view(np.uint8)
    tag = m.new_tag()
    m.write(plan.base_word, data, tag, "held SE scale vector", compute=False)
    m.tally.offchip_read_bytes += plan.channels
    rows = np.flatnonzero((table.kind == LOAD) & (table.operand == OP["inputs"]))
    g, c = CONV_DIMS.index("g"), CONV_DIMS.index("c")
    ext = np.stack([table.lo[rows, g], table.hi[rows, g], table.lo[rows, c], table.hi[rows, c]], axis=1)
    kinds, which = np.unique(ext, axis=0, return_inverse=True)
    words = [_words(*(int(v) for v in k), sh.c_per_group, wb) for k in kinds]
    idx = np.concatenate([words[i] for i in which.reshape(-1)]) if rows.size else np.zeros(0, np.int64)
    got = m.read(plan.base_word + idx, tag, "held SE scale vector", compute=True)
    if not np.array_equal(got, data.reshape(-1, wb)[idx]):
        raise FunctionalSimError(f"{sh.name}: the held SE scale vector read back other bytes than were loaded")


def _words(g0: int, g1: int, c0: int, c1: int, c_per_group: int, word_bytes: int) -> np.ndarray:
    """The vector's words holding the scales of groups [g0, g1) x channels [c0, c1), relative to its first word
    (``mapping.epilogue.scale_words`` counts them)."""
    idx = np.arange(g0, g1)[:, None] * c_per_group + np.arange(c0, c1)[None, :]
    return np.unique(idx // word_bytes).astype(np.int64)
