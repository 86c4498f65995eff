"""Output shapes of IR ops (NCHW, batch 1). One small function per op."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from sramflow.errors import GraphError
from sramflow.ir.elementwise import ELEMENTWISE_OPS
from sramflow.ir.movement import MOVEMENT_OPS
# TFLite's SAME padding (ComputePaddingHeightWidth) as (top, left, bottom, right), the extra pixel after: the
# quantizer and the .tflite exporter compare an op's explicit pads against it.
from sramflow.padding import same_pads_2d as tflite_same_pads  # noqa: F401

Shape = tuple[int, ...]


def _spatial(h: int, w: int, attrs: Mapping[str, Any]) -> tuple[int, int]:
    kh, kw = attrs["kernel"]
    sh, sw = attrs["strides"]
    dh, dw = attrs.get("dilations", (1, 1))
    pt, pl, pb, pr = attrs["pads"]
    ho = (h + pt + pb - dh * (kh - 1) - 1) // sh + 1
    wo = (w + pl + pr - dw * (kw - 1) - 1) // sw + 1
    return ho, wo


def _conv(ins: Sequence[Shape], attrs: Mapping[str, Any], weights: Mapping[str, np.ndarray]) -> Shape:
    n, c, h, w = ins[0]
    cout, cin_g = weights["W"].shape[:2]
    if c != cin_g * attrs["groups"]:
        raise GraphError(f"Conv input has {c} channels, weights expect {cin_g} x {attrs['groups']} groups")
    ho, wo = _spatial(h, w, attrs)
    return (n, int(cout), ho, wo)


def _gemm(ins: Sequence[Shape], attrs: Mapping[str, Any], weights: Mapping[str, np.ndarray]) -> Shape:
    fin = int(np.prod(ins[0][1:]))
    if fin != weights["W"].shape[1]:
        raise GraphError(f"Gemm input has {fin} features, weights expect {weights['W'].shape[1]}")
    return (ins[0][0], int(weights["W"].shape[0]))


def _broadcast(ins: Sequence[Shape], attrs: Mapping[str, Any], weights: Mapping[str, np.ndarray]) -> Shape:
    shapes = list(ins) + ([weights["const"].shape] if "const" in weights else [])
    try:
        return tuple(int(d) for d in np.broadcast_shapes(*shapes))
    except ValueError as exc:
        raise GraphError(f"shapes {shapes} do not broadcast") from exc


def _same(ins: Sequence[Shape], attrs: Mapping[str, Any], weights: Mapping[str, np.ndarray]) -> Shape:
    return tuple(ins[0])


def _gap(ins: Sequence[Shape], attrs: Mapping[str, Any], weights: Mapping[str, np.ndarray]) -> Shape:
    return (ins[0][0], ins[0][1], 1, 1)


def _pool(ins: Sequence[Shape], attrs: Mapping[str, Any], weights: Mapping[str, np.ndarray]) -> Shape:
    n, c, h, w = ins[0]
    return (n, c, *_spatial(h, w, attrs))


def _reshape(ins: Sequence[Shape], attrs: Mapping[str, Any], weights: Mapping[str, np.ndarray]) -> Shape:
    shape = tuple(int(d) for d in attrs["shape"])
    if int(np.prod(shape)) != int(np.prod(ins[0])):
        raise GraphError(f"cannot reshape {ins[0]} to {shape}")
    return shape


def _resize(ins: Sequence[Shape], attrs: Mapping[str, Any], weights: Mapping[str, np.ndarray]) -> Shape:
    n, c = ins[0][:2]
    return (n, c, *(int(d) for d in attrs["size"]))


SHAPE_FNS: dict[str, Callable[[Sequence[Shape], Mapping[str, Any], Mapping[str, np.ndarray]], Shape]] = {
    "Conv": _conv, "Gemm": _gemm, **{e.op: (_broadcast if e.arity == 2 else _same) for e in ELEMENTWISE_OPS},
    "Softmax": _same,
    "GlobalAveragePool": _gap, "AveragePool": _pool, "MaxPool": _pool, "Reshape": _reshape,
    "Resize": _resize,
    **{m.op: (lambda ins, attrs, weights, m=m: m.shape(ins, attrs)) for m in MOVEMENT_OPS},
}


def infer_shape(op: str, ins: Sequence[Shape], attrs: Mapping[str, Any], weights: Mapping[str, np.ndarray]) -> Shape:
    return SHAPE_FNS[op](ins, attrs, weights)
