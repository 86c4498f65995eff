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
    """The layer's data as part ``p`` sees it: input rows [in_row0, in_row1) (the band with its halo rows) and
    output rows [row0, row1) of the skip tensor; output channels [ch0, ch1) of the weights, biases,
    requantization (its per-channel multipliers indexed from ch0) and skip tensor, and of the input for a depthwise
    layer (whose groups are its channels)."""
    c0, c1 = p.ch0, p.ch1
    sh = split.shape
    oc0 = first_channel(split, p)
    x = data.x[:, p.in_row0:p.in_row1]
    if sh.groups > 1:
        x = x[c0 * sh.c_per_group:c1 * sh.c_per_group]
    w = data.weights[c0:c1] if sh.groups > 1 else data.weights[:, c0:c1]
    b = None if data.bias is None else (data.bias[c0:c1] if sh.groups > 1 else data.bias[:, c0:c1])
    full = data.requant
    assert full is not None

    def requant(acc: np.ndarray, ch: np.ndarray) -> np.ndarray:
        return full(acc, ch + oc0)

    n = out_channels(p)
    skip = None if data.skip is None else data.skip[oc0:oc0 + n, p.row0:p.row1]
    return dataclasses.replace(data, x=x, weights=w, bias=b, requant=requant, skip=skip)


def run_split_conv(run: Callable[..., np.ndarray], split: SplitSchedule, data: ConvData, m: Machine,
                   outer: tuple[Sram, ...], held: dict) -> np.ndarray:
    """Execute every part of ``split`` on ``data`` (the whole layer's); returns the layer's int8 output
    (G x K, OH, OW), each part's outputs in their rows and channels."""
    sh = split.shape
    out = np.zeros((sh.groups * sh.k_per_group, sh.out_h, sh.out_w), np.int8)
    for p in split.parts:
        conv = p.schedule.conv if isinstance(p.schedule, EpilogueSchedule) else p.schedule
        d = part_data(data, split, p)
        y = run_staged_conv(run, conv, d, m, outer, held) if conv.staged else run(conv, d, m)
        oc0, n = first_channel(split, p), out_channels(p)
        out[oc0:oc0 + n, p.row0:p.row1] = np.asarray(y).reshape(n, p.row1 - p.row0, sh.out_w)
    return out


def first_channel(split: SplitSchedule, p: Part) -> int:
    """The layer's first output channel that part ``p`` computes (``ch0`` counts groups in a grouped layer)."""
    sh = split.shape
    return p.ch0 * (sh.k_per_group if sh.groups > 1 else 1)


def out_channels(p: Part) -> int:
    ps = (p.schedule.conv if isinstance(p.schedule, EpilogueSchedule) else p.schedule).shape
    return ps.groups * ps.k_per_group
