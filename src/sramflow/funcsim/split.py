"""A layer run in depth-first parts (``mapping.depth_first_split.SplitSchedule``): each part's sub-convolution is
executed by the conv executor on its slice of the layer's data (an input band with its halo rows, or the weights,
biases and requantization of its output channels), staged operands through their levels (``funcsim.levels``),
and the parts' outputs are put together. The tallies are the parts' own, so they must sum to the split's counts."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np

from sramflow.funcsim.exec_conv import ConvData
from sramflow.funcsim.levels import run_staged_conv
from sramflow.funcsim.sram import Sram
from sramflow.funcsim.state import Machine
from sramflow.mapping.depth_first_split import Part, SplitSchedule
from sramflow.mapping.epilogue import EpilogueSchedule


def part_data(data: ConvData, split: SplitSchedule, p: Part) -> ConvData:
    """The layer's data as part ``p`` sees it: rows [in_row0, in_row1) of the input (and its output rows of the skip
    tensor) for a band; channels [ch0, ch1) of the weights, biases, requantization (its per-channel multipliers are
    indexed from ch0) and skip tensor for a chunk, and of the input for a depthwise layer."""
    if split.axis == "rows":
        skip = None if data.skip is None else data.skip[:, p.row0:p.row1]
        return dataclasses.replace(data, x=data.x[:, p.in_row0:p.in_row1], skip=skip)
    c0, c1 = p.ch0, p.ch1
    sh = split.shape
    x = data.x[c0 * sh.c_per_group:c1 * sh.c_per_group] if sh.groups > 1 else data.x
    w = data.weights[c0:c1] if sh.groups > 1 else data.weights[:, c0:c1]
    b = None if data.bias is None else (data.bias[c0:c1] if sh.groups > 1 else data.bias[:, c0:c1])
    full = data.requant
    assert full is not None

    def requant(acc: np.ndarray, ch: np.ndarray) -> np.ndarray:
        return full(acc, ch + c0)

    skip = None if data.skip is None else data.skip[c0:c1]
    return dataclasses.replace(data, x=x, weights=w, bias=b, requant=requant, skip=skip)


def run_split_conv(run: Callable[..., np.ndarray], split: SplitSchedule, data: ConvData, m: Machine,
                   outer: tuple[Sram, ...], held: dict) -> np.ndarray:
    """Execute every part of ``split`` on ``data`` (the whole layer's); returns the layer's int8 output
    (G x K, OH, OW)."""
    ys = []
    for p in split.parts:
        conv = p.schedule.conv if isinstance(p.schedule, EpilogueSchedule) else p.schedule
        d = part_data(data, split, p)
        y = run_staged_conv(run, conv, d, m, outer, held) if conv.staged else run(conv, d, m)
        ys.append(np.asarray(y).reshape(-1, conv.shape.out_h, conv.shape.out_w))
    return np.concatenate(ys, axis=1 if split.axis == "rows" else 0)
