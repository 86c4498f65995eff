"""Weight precision per layer group and per layer: the one parser of ``--weight-bits`` specs (the CLI, the
quantizer, the sweep, QAT and the functional simulator all read them through here, so a spec means the same layers
everywhere).

A spec is 8, 4, or ``{group: bits}`` over WEIGHT_GROUPS (``default`` fills the groups not named); as text
``"4"`` or ``"pointwise=4,default=8"``. Layer tokens pick single layers (a sensitivity-chosen mix, as HAWQ): a
name that is no group and has a ``.``, ``/`` or glob character (``*?[``) is an ``fnmatch`` pattern over the layers'
names (``layer_name``: the node name before its first ``/``, which for the built-in models is the PyTorch module
path of the conv, e.g. ``features.6.*=4``); a layer takes the bits of the last layer token it matches, else its
group's. A layer token that matches no weighted layer of the graph is an error (``check_layers``). The canonical
form is the int when every group has the same precision and there are no layer tokens, otherwise
``"stem=8,depthwise=4,..."`` listing every group and then the layer tokens in their order, so equal settings
compare (and hash) equally.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from typing import Any

import numpy as np

from sramflow.errors import PrecisionError
from sramflow.ir.graph import Graph, Node

WEIGHT_GROUPS = ("stem", "depthwise", "pointwise", "se", "conv", "classifier")
ALLOWED_BITS = (8, 4)
SPEC_HELP = ("8, 4, or GROUP=BITS,... over groups " + ", ".join(WEIGHT_GROUPS)
             + " and default (e.g. pointwise=4,default=8), and LAYER=BITS with LAYER a name pattern "
               "(e.g. pointwise=8,default=8,features.6.*=4)")
LAYER_MARKS = "./*?["  # a token name with one of these is a layer pattern (no group name has any)


def _bits(v: Any, where: str) -> int:
    if isinstance(v, str) and v.strip().lstrip("-").isdigit():
        v = int(v)
    if isinstance(v, bool) or v not in ALLOWED_BITS:
        raise PrecisionError(f"{where}must be one of {ALLOWED_BITS} bits, got {v!r}")
    return int(v)


def is_layer_pattern(name: str) -> bool:
    return name not in (*WEIGHT_GROUPS, "default") and any(c in name for c in LAYER_MARKS)


def _parse_text(text: str) -> int | dict[str, int]:
    """``"4"`` -> 4; ``"pointwise=4,default=8"`` -> {"pointwise": 4, "default": 8} (layer tokens as further keys, in
    their order); each error names its token."""
    text = text.strip()
    if "=" not in text:
        return _bits(text, f"weight bits {text!r}: ")
    out: dict[str, int] = {}
    for token in text.split(","):
        name, sep, bits = (s.strip() for s in token.partition("="))
        if not sep or not name:
            raise PrecisionError(f"weight bits token {token.strip()!r}: expected GROUP=BITS or LAYER=BITS ({SPEC_HELP})")
        if name not in (*WEIGHT_GROUPS, "default") and not is_layer_pattern(name):
            raise PrecisionError(f"weight bits token {token.strip()!r}: unknown layer group {name!r}; groups: "
                                 f"{', '.join(WEIGHT_GROUPS)}, default; a layer pattern has a '.', '/' or glob "
                                 "character (e.g. features.6.*)")
        if name in out:
            raise PrecisionError(f"weight bits token {token.strip()!r}: {name!r} is given twice")
        out[name] = _bits(bits, f"weight bits token {token.strip()!r}: ")
    return out


def _mapping(value: Any) -> Mapping | None:
    if isinstance(value, str):
        value = _parse_text(value)
    return value if isinstance(value, Mapping) else None


def group_bits(value: Any) -> dict[str, int]:
    """Bits of every group for a spec: an int, a ``{group: bits}`` mapping (layer patterns as further keys), or its
    text form. Layer tokens are not in it (``layer_bits``)."""
    m = _mapping(value)
    if m is not None:
        unknown = [k for k in m if k not in (*WEIGHT_GROUPS, "default") and not is_layer_pattern(str(k))]
        if unknown:
            raise PrecisionError(f"unknown layer group {unknown[0]!r}; groups: {', '.join(WEIGHT_GROUPS)}, default")
        default = m.get("default")
        missing = [g for g in WEIGHT_GROUPS if g not in m]
        if missing and default is None:
            raise PrecisionError(f"groups {', '.join(missing)} have no bits (name them or give 'default')")
        return {g: _bits(m.get(g, default), f"{g}: ") for g in WEIGHT_GROUPS}
    b = _bits(value, "")
    return {g: b for g in WEIGHT_GROUPS}


def layer_bits(value: Any) -> tuple[tuple[str, int], ...]:
    """The spec's layer tokens: (pattern, bits) in their order (a later one wins where several match)."""
    m = _mapping(value)
    if m is None:
        return ()
    group_bits(m)  # the group part is valid
    return tuple((str(k), _bits(v, f"{k}: ")) for k, v in m.items() if is_layer_pattern(str(k)))


def canonical_weight_bits(value: Any) -> int | str:
    bits, layers = group_bits(value), layer_bits(value)
    if len(set(bits.values())) == 1 and not layers:
        return next(iter(bits.values()))
    return ",".join([f"{g}={b}" for g, b in bits.items()] + [f"{p}={b}" for p, b in layers])


def spec_bit_widths(value: Any) -> set[int]:
    """Every precision the spec gives some group or layer."""
    return set(group_bits(value).values()) | {b for _, b in layer_bits(value)}


def all_int8(value: Any) -> bool:
    return spec_bit_widths(value) == {8}


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


def layer_name(node_name: str) -> str:
    """The name layer patterns match: the node name before its first ``/`` (the built-in models' conv module path,
    ``features.6.1.block.0.0`` of ``features.6.1.block.0.0/Conv``)."""
    return node_name.split("/", 1)[0]


def weight_bits_of(name: str, group: str | None, value: Any) -> int:
    """The bits of a weighted layer named ``name`` (a node name, or a module path) in ``group`` under ``value``:
    the last layer token matching it, else its group's (8 for no group: no weights)."""
    if group is None:
        return 8
    bits = group_bits(value)[group]
    for pattern, b in layer_bits(value):
        if fnmatch.fnmatchcase(layer_name(name), pattern):
            bits = b
    return bits


def node_weight_bits(graph: Graph, node: Node, value: Any) -> int:
    """The bits of ``node``'s weights under spec ``value`` (8 for a node without weights)."""
    return weight_bits_of(node.name, node_group(graph, node), value)


def check_layers(graph: Graph, value: Any) -> None:
    """``PrecisionError`` naming a layer token that matches no weighted layer of ``graph`` (a typo would otherwise
    quantize nothing it names)."""
    check_layer_names([layer_name(n.name) for n in graph.nodes if node_group(graph, n) is not None], value,
                      repr(graph.name), "node names before their first '/'")


def check_layer_names(names: list[str], value: Any, model: str, naming: str) -> None:
    """``PrecisionError`` naming a layer token of ``value`` that matches none of the layer ``names`` of ``model``
    (``naming``: how its layers are named, for the message)."""
    for pattern, _ in layer_bits(value):
        if not any(fnmatch.fnmatchcase(n, pattern) for n in names):
            raise PrecisionError(f"weight bits token {pattern!r}: matches no weighted layer of {model} (layer names are "
                                 f"{naming}, e.g. {', '.join(names[:3])}, ...)")


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
