"""A depth-first band group (``mapping.depth_first_bands``) executed on real bytes, part by part: the producer's part
runs on its slice of the layer's data (``funcsim.split.part_data``: its input band, or its output channels) and
leaves its output in the outer level (``funcsim.levels.run_staged_conv``, resident output: stored, tagged, never
drained); then the consumer's part reads it from there through the writer's word tags and writes its output off-chip.
The next part's producer overwrites those words only after that. Row bands with cached halo rows keep their rows in
a ``BandRegion`` (row after row; the halo rows copied to the front of the next band, each word read and written
once, as the consumer part's ``copied_words`` count them); recomputed halos and channel chunks keep each part's
tensor as one tagged block (``held``, as a residency group's). A read of words that hold anything else is a clobber,
a band not where the consumer part reads it an error. The producer's whole output is put together from its parts
(a recomputed halo row must equal the row an earlier band computed) and compared with the integer reference like
any materialized tensor."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from sramflow.funcsim.exec_conv import ConvData
from sramflow.funcsim.levels import run_staged_conv
from sramflow.funcsim.split import first_channel, out_channels, part_data
from sramflow.funcsim.sram import FunctionalSimError, Sram
from sramflow.funcsim.state import Machine
from sramflow.mapping.depth_first_bands import BandSplitSchedule
from sramflow.mapping.depth_first_split import SplitSchedule
from sramflow.mapping.epilogue import EpilogueSchedule


class BandRegion:
    """The band region of a band group whose halo rows are cached (``mapping.depth_first_bands.try_bands``, halo
    "cache") in level ``lv``: band rows of ``row_words`` words each, each row all its channels (rows one after the
    other, so a row is a whole number of words), at the words the parts' schedules name. Every row is written with
    a tag and read through it where the reader expects it: a row overwritten before it is read is a clobber, a row
    not where the consumer part reads it an error."""

    def __init__(self, lv: Sram, m: Machine, row_words: int, what: str) -> None:
        self.lv, self.m, self.row_words, self.what = lv, m, row_words, what
        self.at: dict[int, tuple[int, int]] = {}  # tensor row -> (its first word, its tag)
        self.a = 0  # the current band's first row

    def band(self, a: int, n: int, base: int) -> None:
        """Start the band of rows [a, ...) whose consumer part reads it from word ``base``: its halo rows [a, n)
        are copied from where the last band left them to the front of the band (each word read and written once:
        the consumer part's ``copied_words``)."""
        missing = [r for r in range(a, n) if r not in self.at]
        if missing:
            raise FunctionalSimError(f"{self.what}: halo rows {missing} are not in the level")
        got = [(r, self.lv.read_range(self.at[r][0], self.row_words, self.at[r][1], f"{self.what}: halo row {r}"))
               for r in range(a, n)]
        tag = self.m.new_tag()
        self.at = {}
        for r, words in got:
            w = base + (r - a) * self.row_words
            self.lv.write(w, words.reshape(-1), tag, f"{self.what}: halo row {r}")
            self.at[r] = (w, tag)
        self.a = a

    def write_output(self, out: np.ndarray, at: tuple[int, int]) -> None:
        """The producer part's output rows (C, rows, W) after the halo rows, stored row after row from ``at``'s
        word."""
        tag = self.m.new_tag()
        rows = np.ascontiguousarray(np.asarray(out, np.int8).transpose(1, 0, 2))
        first = self.a + len(self.at)
        self.lv.write(at[1], rows.view(np.uint8).reshape(-1), tag, f"{self.what}: rows {first}..")
        for i in range(rows.shape[0]):
            self.at[first + i] = (at[1] + i * self.row_words, tag)

    def read_input(self, x: np.ndarray, at: tuple[int, int]) -> np.ndarray:
        """The consumer part's input band (C, rows, W), rows [a, a + rows) from ``at``'s word, each row read through
        the tag of what wrote it (the read stands for the consumer's tile refills, which are counted instead)."""
        c, rows, width = x.shape
        out = np.empty((rows, c * width), np.uint8)
        for i in range(rows):
            w = at[1] + i * self.row_words
            if self.at.get(self.a + i, (None,))[0] != w:
                raise FunctionalSimError(f"{self.what}: row {self.a + i} of the band is not at word {w}, where the "
                                         "consumer part reads it; the schedules' band region does not add up")
            out[i] = self.lv.read_range(w, self.row_words, self.at[self.a + i][1],
                                        f"{self.what}: row {self.a + i}").reshape(-1)
            self.lv.reads -= self.row_words
        return np.ascontiguousarray(out.view(np.int8).reshape(rows, c, width).transpose(1, 0, 2))


def run_band_group(run: Callable[..., np.ndarray], prod: BandSplitSchedule, prod_data: ConvData,
                   cons: BandSplitSchedule, cons_data: ConvData, m: Machine, outer: tuple[Sram, ...],
                   held: dict, last: tuple[SplitSchedule, ConvData, Callable[[np.ndarray], np.ndarray]] | None = None
                   ) -> tuple[np.ndarray, ...]:
    """Execute the group's bands in order; returns (the producer's int8 output, the consumer's), each
    (G x K, OH, OW). ``cons_data.x`` only gives the input's shape: every band of it is read from the level.
    ``last``: a third layer (``mapping.depth_first_recompute.RecomputeSchedule``, whose ``own`` parts pair with the
    consumer's), its data and the map of its resident input (the SE scale): each consumer part leaves its output
    band in the level (``held``) and the third layer's part reads it there; its output is returned third."""
    per = prod.sub_parts  # producer parts per consumer part (a channel chunk's producer in row bands)
    if len(prod.parts) != per * len(cons.parts) or prod.partner != cons.shape.name or \
            cons.partner != prod.shape.name:
        raise FunctionalSimError(f"band group {prod.shape.name!r} -> {cons.shape.name!r}: the two layers' bands do "
                                 "not pair up; the schedules were made for another graph")
    third = () if last is None else (last[0].shape,)
    if last is not None and len(last[0].own) != len(cons.parts):
        raise FunctionalSimError(f"band group {prod.shape.name!r} -> {cons.shape.name!r}: the third layer "
                                 f"{last[0].shape.name!r} has {len(last[0].own)} parts for {len(cons.parts)} bands")
    ys = [np.zeros((s.groups * s.k_per_group, s.out_h, s.out_w), np.int8) for s in (prod.shape, cons.shape, *third)]
    done = np.zeros(ys[0].shape[:2], bool)  # the producer's (channel, row) computed so far
    region = None
    if cons.halo == "cache":
        lv = outer[cons.level - 1]
        sh = prod.shape
        row_bytes = sh.groups * sh.k_per_group * sh.out_w
        region = BandRegion(lv, m, row_bytes // lv.word_bytes,
                            f"band group {sh.name!r} -> {cons.shape.name!r}: level {cons.level}")
    elif per > 1:  # each chunk's rows, written band by band, in a region of the chunk's channels per row
        lv = outer[cons.level - 1]
        row_bytes = out_channels(cons.parts[0]) * prod.shape.out_w
        region = BandRegion(lv, m, row_bytes // lv.word_bytes,
                            f"band group {prod.shape.name!r} -> {cons.shape.name!r}: level {cons.level}")
    for i, cp in enumerate(cons.parts):
        pps = prod.parts[i * per:(i + 1) * per]
        if region is not None:  # a chunk's region starts empty; a row band's starts with its cached halo rows
            region.band(*((0, 0) if per > 1 else (cp.in_row0, pps[0].row0)),
                        _conv(cp.schedule).resident_in("inputs")[1])
        steps = [*((prod, prod_data, pp, ys[0]) for pp in pps), (cons, cons_data, cp, ys[1])]
        if last is not None:
            steps.append((last[0], last[1], last[0].own[i], ys[2]))
        for split, data, part, y in steps:
            conv = _conv(part.schedule)
            if last is not None and split is last[0]:
                got = run_staged_conv(run, conv, part_data(data, split, part), m, outer, held, input_map=last[2])
            else:
                got = run_staged_conv(run, conv, part_data(data, split, part), m, outer, held, region,
                                      band_inputs=split is cons, band_outputs=last is None or split is prod)
            got = np.asarray(got, np.int8)
            oc0, n = first_channel(split, part), out_channels(part)
            band = got.reshape(n, part.row1 - part.row0, split.shape.out_w)
            if split is prod:  # rows an earlier band computed (a recomputed halo) must come out the same
                seen = done[oc0:oc0 + n, part.row0:part.row1]
                if not np.array_equal(y[oc0:oc0 + n, part.row0:part.row1][seen], band[seen]):
                    raise FunctionalSimError(f"node {split.shape.name!r}: a recomputed halo row differs from the "
                                             "band that computed it first")
                seen[...] = True
            y[oc0:oc0 + n, part.row0:part.row1] = band
    return tuple(ys)


def _conv(sch):  # noqa: ANN001, ANN202 - a part's conv schedule
    return sch.conv if isinstance(sch, EpilogueSchedule) else sch
