"""Pooling layers (``ConvShape.pool_op``) in both executors: equal to the integer reference's MAX_POOL_2D /
AVERAGE_POOL_2D in every padding mode (SAME, the quantizer's PADV2 -128 / PAD zero-point decompositions,
none), over tilings, loop orders, buffering and input-row registers; counts equal to steps(), the step
table and the closed form; no MACs; a step whose window was never loaded is an error."""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np
import pytest

from sramflow.funcsim.bulk_conv import execute_conv_bulk
from sramflow.funcsim.exec_conv import ConvData, execute_conv
from sramflow.funcsim.pool import pool_spec
from sramflow.funcsim.sram import FunctionalSimError, Sram
from sramflow.funcsim.state import Machine
from sramflow.mapping.conv import ConvShape
from sramflow.mapping.search.choose import make_conv_schedule
from sramflow.mapping.search.tiling_table import hw_params
from sramflow.mapping.steps_table import steps_table
from sramflow.reference import kernels as K

from helpers.counts import summed_counts, table_counts
from helpers.mapping import make_hw

ZP = 5
# (name, kind, kernel, stride, (top, left, bottom, right), explicit_pad), on a 3 x 7 x 8 input
MODES = [
    ("max_same", "MAX_POOL_2D", 3, 1, (1, 1, 1, 1), False),
    ("max_padv2", "MAX_POOL_2D", 3, 2, (1, 1, 1, 1), True),
    ("avg_same", "AVERAGE_POOL_2D", 3, 2, (1, 1, 1, 1), False),  # SAME on the odd side only; in-bounds count
    ("avg_pad_zp", "AVERAGE_POOL_2D", 3, 2, (1, 1, 1, 1), True),
    ("avg_valid", "AVERAGE_POOL_2D", 2, 2, (0, 0, 0, 0), False),
    ("max_asym", "MAX_POOL_2D", 2, 2, (0, 0, 1, 0), False),
]
C, H, W = 3, 7, 8


def _case(mode: tuple):  # noqa: ANN202 - (shape, spec, reference output (C, OH, OW), input)
    _, kind, k, s, pads, explicit = mode
    t, left, b, r = pads
    oh, ow = (H + t + b - k) // s + 1, (W + left + r - k) // s + 1
    shape = ConvShape("pool", C, 1, 1, H, W, oh, ow, k, k, s, s, t, left, has_bias=False,
                      pool_op="max" if kind == "MAX_POOL_2D" else "avg")
    x = np.random.default_rng(7).integers(-128, 128, (C, H, W)).astype(np.int8)
    x[0, :2, :2] = -128  # a corner of minima: max over padding must not win
    attrs = {"act_min": -128, "act_max": 127, "explicit_pad": explicit}
    spec = pool_spec(shape, kind, attrs, ZP)
    if kind == "MAX_POOL_2D":
        want = K.max_pool(x[None], (k, k), (s, s), pads, -128, 127)
    elif explicit:  # the quantizer's PAD with the zero point, then a VALID pool
        xp = np.pad(x, ((0, 0), (t, b), (left, r)), constant_values=ZP)
        want = K.average_pool(xp[None], (k, k), (s, s), (0, 0, 0, 0), -128, 127)
    else:
        want = K.average_pool(x[None], (k, k), (s, s), pads, -128, 127)
    return shape, spec, want[0], x


def _schedules(shape: ConvShape):  # noqa: ANN202
    """Tilings x loop orders x buffering x window reads: per kernel offset (the mapper's vector unit), and, with
    registers the counting parameters allow, once per kernel row or once per window."""
    hw = make_hw(words=512, double=True)
    hw = dataclasses.replace(hw, vector_unit=dataclasses.replace(hw.vector_unit, lanes=64))
    reads = ({}, {"input_row_bytes": 16}, {"register_window_bytes": 64})
    for sizes, order, double, regs in itertools.product(
            ({"g": 1, "h": 1, "w": 1}, {"g": 2, "h": 2, "w": 3}, {"g": 1, "h": 8, "w": 8}),
            (("g", "k", "c", "p"), ("p", "c", "k", "g")), (False, True), reads):
        hwp = dataclasses.replace(hw_params(hw, shape), **regs)
        yield make_conv_schedule(shape, hwp, {"g": 1, "k": 1, "c": 1, "h": 1, "w": 1} | sizes, order, double)


def _run(run, sch, data: ConvData):  # noqa: ANN001, ANN202
    m = Machine(Sram(512, 2))
    y = run(sch, data, m)
    return y, m


@pytest.mark.parametrize("mode", MODES, ids=[m[0] for m in MODES])
def test_pool_layers_equal_the_reference_in_both_executors(mode: tuple) -> None:
    shape, spec, want, x = _case(mode)
    data = ConvData(x, spec.fill, None, None, None, spec)
    for sch in _schedules(shape):
        (y1, m1), (y2, m2) = _run(execute_conv, sch, data), _run(execute_conv_bulk, sch, data)
        assert np.array_equal(y1, want) and np.array_equal(y2, want)
        assert m1.tally.as_dict() == m2.tally.as_dict() and m1.sram.clobbers == m2.sram.clobbers == 0
        assert m1.step_mismatches == [] and m2.step_mismatches == []
        c = sch.counts
        t = m1.tally
        assert t.macs == c.macs == 0 and c.vector_ops > 0
        assert (t.sram_reads_compute, t.sram_writes_compute) == (c.sram_reads_compute, c.sram_writes_compute)
        assert (t.sram_writes_dma, t.sram_reads_dma) == (c.sram_writes_dma, c.sram_reads_dma)
        assert (t.offchip_read_bytes, t.offchip_write_bytes) == (c.offchip_read_bytes, c.offchip_write_bytes)


@pytest.mark.parametrize("mode", MODES[:3], ids=[m[0] for m in MODES[:3]])
def test_pool_steps_table_and_closed_form_agree(mode: tuple) -> None:
    shape = _case(mode)[0]
    for sch in _schedules(shape):
        steps = list(sch.steps())
        t = steps_table(sch)
        assert [t.step(i) for i in range(len(t))] == steps
        got, want = table_counts(t), summed_counts(steps)
        assert {k: got[k] for k in want} == want
        c = sch.counts
        assert (got["vector_ops"], got["macs"], got["steps"]) == (c.vector_ops, 0, c.steps)
        assert (got["sram_reads_compute"] + got["sram_reads_dma"], got["sram_writes_compute"] + got["sram_writes_dma"]) \
            == (c.sram_reads, c.sram_writes)
        assert (got["offchip_load_bytes"], got["offchip_store_bytes"]) == (c.offchip_read_bytes, c.offchip_write_bytes)


@pytest.mark.parametrize("executor", ["step", "bulk"])
def test_pool_step_without_its_window_is_an_error(executor: str) -> None:
    shape, spec, _, x = _case(MODES[2])
    sch = next(iter(_schedules(shape)))
    steps = list(sch.steps())
    i = [j for j, st in enumerate(steps) if st.kind == "load" and st.operand == "inputs"][1]
    keep = np.arange(len(steps)) != i
    m = Machine(Sram(512, 2))
    data = ConvData(x, spec.fill, None, None, None, spec)
    with pytest.raises(FunctionalSimError, match="input window"):
        if executor == "step":
            execute_conv(sch, data, m, steps[:i] + steps[i + 1:])
        else:
            execute_conv_bulk(sch, data, m, steps_table(sch).take(keep))
