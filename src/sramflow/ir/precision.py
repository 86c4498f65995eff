"""Weight precision per layer group: the one parser of ``--weight-bits`` specs (the CLI, the quantizer, the
sweep and the functional simulator all read them through here, so a spec means the same layers everywhere).

A spec is 8, 4, or ``{group: bits}`` over WEIGHT_GROUPS (``default`` fills the groups not named); as text
``"4"`` or ``"pointwise=4,default=8"``. Its canonical form is the int when every group has the same precision,
otherwise ``"stem=8,depthwise=4,..."`` listing every group, so equal settings compare (and hash) equally.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from sramflow.errors import PrecisionError
from sramflow.ir.graph import Graph, Node

WEIGHT_GROUPS = ("stem", "depthwise", "pointwise", "se", "conv", "classifier")
ALLOWED_BITS = (8, 4)
SPEC_HELP = ("8, 4, or GROUP=BITS,... over groups " + ", ".join(WEIGHT_GROUPS)
             + " and default (e.g. pointwise=4,default=8)")


def _bits(v: Any, where: str) -> int:
    if isinstance(v, str) and v.strip().lstrip("-").isdigit():
        v = int(v)
    if isinstance(v, bool) or v not in ALLOWED_BITS:
        raise PrecisionError(f"{where}must be one of {ALLOWED_BITS} bits, got {v!r}")
    return int(v)


def _parse_text(text: str) -> int | dict[str, int]:
    """``"4"`` -> 4; ``"pointwise=4,default=8"`` -> {"pointwise": 4, "default": 8}; each error names its token."""
    text = text.strip()
    if "=" not in text:
        return _bits(text, f"weight bits {text!r}: ")
    out: dict[str, int] = {}
    for token in text.split(","):
        group, sep, bits = (s.strip() for s in token.partition("="))
        if not sep or not group:
            raise PrecisionError(f"weight bits token {token.strip()!r}: expected GROUP=BITS ({SPEC_HELP})")
        if group not in (*WEIGHT_GROUPS, "default"):
            raise PrecisionError(f"weight bits token {token.strip()!r}: unknown layer group {group!r}; groups: "
                                 f"{', '.join(WEIGHT_GROUPS)}, default")
        if group in out:
            raise PrecisionError(f"weight bits token {token.strip()!r}: group {group!r} is given twice")
        out[group] = _bits(bits, f"weight bits token {token.strip()!r}: ")
    return out


def group_bits(value: Any) -> dict[str, int]:
    """Bits of every group for a spec: an int, a ``{group: bits}`` mapping, or its text form."""
    if isinstance(value, str):
        value = _parse_text(value)
    if isinstance(value, Mapping):
        unknown = [k for k in value if k not in (*WEIGHT_GROUPS, "default")]
        if unknown:
            raise PrecisionError(f"unknown layer group {unknown[0]!r}; groups: {', '.join(WEIGHT_GROUPS)}, default")
        default = value.get("default")
        missing = [g for g in WEIGHT_GROUPS if g not in value]
        if missing and default is None:
            raise PrecisionError(f"groups {', '.join(missing)} have no bits (name them or give 'default')")
        return {g: _bits(value.get(g, default), f"{g}: ") for g in WEIGHT_GROUPS}
    b = _bits(value, "")
    return {g: b for g in WEIGHT_GROUPS}


def canonical_weight_bits(value: Any) -> int | str:
    bits = group_bits(value)
    if len(set(bits.values())) == 1:
        return next(iter(bits.values()))
    return ",".join(f"{g}={b}" for g, b in bits.items())


def all_int8(value: Any) -> bool:
    return set(group_bits(value).values()) == {8}


def node_group(graph: Graph, node: Node) -> str | None:
    """The weight group of a node with weights (None for nodes without a weight tensor)."""
    if "W" not in node.weights:
        return None
    if node.op == "Gemm":
        return "classifier"
    if node.inputs and node.inputs[0] == graph.input:
        return "stem"
    if node.is_depthwise:
        return "depthwise"
    _, _, h, w = graph.shape(node.inputs[0])
    if h * w == 1:
        return "se"
    kh, kw = node.attrs["kernel"]
    return "pointwise" if kh * kw == 1 else "conv"


def node_weight_bits(graph: Graph, node: Node, value: Any) -> int:
    """The bits of ``node``'s weights under spec ``value`` (8 for a node without weights)."""
    group = node_group(graph, node)
    return 8 if group is None else group_bits(value)[group]


def pack_int4(values: np.ndarray) -> np.ndarray:
    """Signed 4-bit values (int8-held, in [-8, 7]) packed two per byte in element order, element 2i in the low
    nibble of byte i and 2i + 1 in the high nibble (LiteRT's INT4 tensor packing; the SRAM uses the same), an odd
    count's last high nibble 0. Out-of-range values are an error, never wrapped."""
    v = np.asarray(values, np.int8).ravel()
    if v.size and (v.min() < -8 or v.max() > 7):
        raise PrecisionError(f"a 4-bit weight is outside [-8, 7] (min {int(v.min())}, max {int(v.max())}): "
                             "quantize the layer at 4 bits before packing it")
    n = v.astype(np.uint8) & 0x0F
    if n.size % 2:
        n = np.concatenate([n, np.zeros(1, np.uint8)])
    return (n[0::2] | (n[1::2] << 4)).astype(np.uint8)


def unpack_int4(packed: np.ndarray, count: int | None = None) -> np.ndarray:
    """Inverse of ``pack_int4`` along the last axis: (..., bytes) uint8 -> (..., 2 x bytes) int8 sign-extended,
    cut to ``count`` elements when given."""
    b = np.asarray(packed, np.uint8)
    nib = np.stack([b & 0x0F, b >> 4], axis=-1).reshape(*b.shape[:-1], -1).astype(np.int8)
    nib = np.where(nib >= 8, nib - 16, nib).astype(np.int8)
    return nib if count is None else nib[..., :count]
