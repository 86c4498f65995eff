"""A depth-first band group (``mapping.depth_first_bands``) executed on real bytes: band by band, the producer's part
runs on its input band (``funcsim.split.part_data``) and leaves its output band in the outer level
(``funcsim.levels.run_staged_conv``, resident output: stored, tagged, never drained); then the consumer's part reads
that band through the producer's word tags (a clobber, or a missing band, if anything overwrote it) and writes its
output band. The next band's producer part overwrites the same words only after that. The producer's whole output
is put together from its bands (a halo row is recomputed by the next band; both computations must agree) so the
run compares it with the integer reference like any materialized tensor."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from sramflow.funcsim.exec_conv import ConvData
from sramflow.funcsim.levels import run_staged_conv
from sramflow.funcsim.split import first_channel, out_channels, part_data
from sramflow.funcsim.sram import FunctionalSimError, Sram
from sramflow.funcsim.state import Machine
from sramflow.mapping.depth_first_bands import BandSplitSchedule
from sramflow.mapping.epilogue import EpilogueSchedule


def run_band_group(run: Callable[..., np.ndarray], prod: BandSplitSchedule, prod_data: ConvData,
                   cons: BandSplitSchedule, cons_data: ConvData, m: Machine, outer: tuple[Sram, ...],
                   held: dict) -> tuple[np.ndarray, np.ndarray]:
    """Execute the group's bands in order; returns (the producer's int8 output, the consumer's), each
    (G x K, OH, OW). ``cons_data.x`` only gives the input's shape: every band of it is read from the level."""
    if len(prod.parts) != len(cons.parts) or prod.partner != cons.shape.name or cons.partner != prod.shape.name:
        raise FunctionalSimError(f"band group {prod.shape.name!r} -> {cons.shape.name!r}: the two layers' bands do "
                                 "not pair up; the schedules were made for another graph")
    ys = [np.zeros((s.groups * s.k_per_group, s.out_h, s.out_w), np.int8) for s in (prod.shape, cons.shape)]
    prev_end = 0  # the producer's output rows computed so far
    for pp, cp in zip(prod.parts, cons.parts):
        for split, data, part, y in ((prod, prod_data, pp, ys[0]), (cons, cons_data, cp, ys[1])):
            conv = part.schedule.conv if isinstance(part.schedule, EpilogueSchedule) else part.schedule
            got = np.asarray(run_staged_conv(run, conv, part_data(data, split, part), m, outer, held), np.int8)
            oc0, n = first_channel(split, part), out_channels(part)
            band = got.reshape(n, part.row1 - part.row0, split.shape.out_w)
            if split is prod:  # rows an earlier band computed: the recomputed halo
                done = min(part.row1, prev_end) - part.row0
                if done > 0 and not np.array_equal(y[oc0:oc0 + n, part.row0:part.row0 + done], band[:, :done]):
                    raise FunctionalSimError(f"node {split.shape.name!r}: a recomputed halo row differs from the "
                                             "band that computed it first")
            y[oc0:oc0 + n, part.row0:part.row1] = band
            if split is prod:
                prev_end = part.row1
    return ys[0], ys[1]
