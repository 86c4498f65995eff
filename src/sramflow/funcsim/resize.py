"""Operands and kernel of a Resize's vector pass (``mapping.lower``: a gather of each output pixel's source taps,
then an element-wise pass over them).

The DMA gathers, for every output pixel of a channel (the segment, IR element order), the taps the reference
kernel reads (``reference.resize``: nearest 1, bilinear 4 as top-left, top-right, bottom-left, bottom-right);
the vector unit combines what it reads back from the SRAM with the weights of each output position, which
depend only on that position (``at``: the elements of the chunk within its segment)."""

from __future__ import annotations

import numpy as np

from sramflow.errors import UnsupportedOpError
from sramflow.funcsim.exec_vector import VectorData
from sramflow.ir.qgraph import QOp
from sramflow.mapping.vector import VectorSchedule
from sramflow.reference.resize import bilinear_combine, bilinear_taps, nearest_index

RESIZE_KINDS = ("RESIZE_NEAREST_NEIGHBOR", "RESIZE_BILINEAR")


def resize_data(sch: VectorSchedule, op: QOp, x: np.ndarray) -> VectorData:
    """``x``: the int8 input (C, H, W)."""
    sh, a = sch.shape, op.attrs
    c, ih, iw = x.shape
    oh, ow = (int(v) for v in a["size"])
    flags = (bool(a["align_corners"]), bool(a["half_pixel_centers"]))
    taps = 1 if op.kind == "RESIZE_NEAREST_NEIGHBOR" else 4
    if (sh.segments, sh.seg_len, sh.full_inputs) != (c, oh * ow, taps):
        raise UnsupportedOpError(f"node {sh.name!r}: {op.kind} to {oh}x{ow} on {c} channels, but the schedule has "
                                 f"{sh.segments} segments of {sh.seg_len} with {sh.full_inputs} operands")
    if taps == 1:
        iy, ix = nearest_index(ih, oh, *flags), nearest_index(iw, ow, *flags)
        gathered = x[:, iy][:, :, ix].reshape(c, oh * ow)
        return VectorData((gathered,), None, (("full", 0),), lambda v: v, False)
    y0, y1, wy = bilinear_taps(ih, oh, *flags)
    x0, x1, wx = bilinear_taps(iw, ow, *flags)
    r0, r1 = x[:, y0], x[:, y1]
    full = tuple(t[:, :, cols].reshape(c, oh * ow) for t, cols in ((r0, x0), (r0, x1), (r1, x0), (r1, x1)))
    wy_e, wx_e = np.repeat(wy, ow), np.tile(wx, oh)  # per output position (row-major)

    def kernel(v00: np.ndarray, v01: np.ndarray, v10: np.ndarray, v11: np.ndarray, at: tuple[int, int]) -> np.ndarray:
        e0, e1 = at
        return bilinear_combine(v00, v01, v10, v11, wy_e[e0:e1], wx_e[e0:e1])

    return VectorData(full, None, tuple(("full", j) for j in range(4)), kernel, False, positional=True)
