"""Mixed INT8 / INT4 weights: the spec parser, the quantizer's 4-bit weight path, LiteRT INT4 export."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from helpers.graphs import quantized, randomized, tiny_graph
from sramflow.errors import PrecisionError
from sramflow.ir.precision import (
    all_int8, canonical_weight_bits, check_layers, group_bits, layer_bits, layer_name, node_group, node_weight_bits,
    pack_int4, unpack_int4,
)
from sramflow.quant.weight_bits import op_weight_bits, weight_bits_summary, with_weight_bits
from sramflow.reference.run import run_int8
from sramflow.tflite.export import tflite_bytes
from sramflow.tflite.verify import verify


@pytest.mark.parametrize("text, token", [("pointwise=4,bogus=8", "bogus=8"), ("3", "'3'"),
                                         ("pointwise=3,default=8", "pointwise=3"),
                                         ("pointwise=4,pointwise=8,default=8", "pointwise=8"),
                                         ("pointwise4", "pointwise4"),
                                         ("default=8,features.6.*=3", "features.6.*=3"),
                                         ("default=8,features.6.*=4,features.6.*=8", "features.6.*=8"),
                                         ("default=8,pointwize=4", "pointwize=4")])
def test_bad_specs_name_the_token(text: str, token: str) -> None:
    with pytest.raises(PrecisionError) as e:
        group_bits(text)
    assert token in str(e.value) and "\n" not in str(e.value)


def test_spec_forms() -> None:
    assert group_bits("4") == dict.fromkeys(group_bits(8), 4)
    mixed = group_bits("pointwise=4,default=8")
    assert mixed["pointwise"] == 4 and {b for g, b in mixed.items() if g != "pointwise"} == {8}
    assert canonical_weight_bits("stem=8,classifier=8,default=4") == \
        "stem=8,depthwise=4,pointwise=4,se=4,conv=4,classifier=8"


def test_layer_tokens() -> None:
    """A layer pattern overrides its group; the last matching token wins; the canonical form keeps them in order."""
    spec = "pointwise=4,default=8,features.6.*=8,features.6.1.*=4"
    assert layer_bits(spec) == (("features.6.*", 8), ("features.6.1.*", 4))
    assert canonical_weight_bits(spec) == ("stem=8,depthwise=8,pointwise=4,se=8,conv=8,classifier=8,"
                                           "features.6.*=8,features.6.1.*=4")
    assert canonical_weight_bits(canonical_weight_bits(spec)) == canonical_weight_bits(spec)
    assert canonical_weight_bits({"default": 8, "classifier.1": 8}) != 8  # a named layer keeps the string form
    assert not all_int8("default=8,features.8.0=4") and all_int8("default=8,features.8.0=8")
    assert layer_name("features.6.1.block.0.0/Conv") == "features.6.1.block.0.0"


def test_layer_tokens_pick_layers_of_the_graph(b0_32_int8) -> None:  # noqa: ANN001
    g, q, _ = b0_32_int8
    spec = "default=8,features.6.*=4,features.6.1.block.0.0=8"
    bits = {layer_name(n.name): node_weight_bits(g, n, spec) for n in g.nodes if node_group(g, n)}
    four = {n for n, b in bits.items() if b == 4}
    assert four and all(n.startswith("features.6.") for n in four) and "features.6.1.block.0.0" not in four
    assert "features.6.1.block.3.0" in four  # the project conv of the same block
    q4 = with_weight_bits(g, q, spec)
    got = {layer_name(op.ir_nodes[0]): op_weight_bits(op) for op in q4.ops if "weights" in op.params}
    assert got == bits
    with pytest.raises(PrecisionError, match="features.60"):
        check_layers(g, "default=8,features.60.*=4")
    with pytest.raises(PrecisionError, match="matches no weighted layer"):
        with_weight_bits(g, q, "default=8,features.60.*=4")


def test_int4_packing_is_low_nibble_first_and_round_trips() -> None:
    v = np.array([1, -1, 7, -8, 3], np.int8)
    p = pack_int4(v)
    assert p.tolist() == [0xF1, 0x87, 0x03]
    assert unpack_int4(p, 5).tolist() == v.tolist()
    with pytest.raises(PrecisionError):
        pack_int4(np.array([9], np.int8))


@pytest.mark.parametrize("spec", ["4", "pointwise=4,default=8", "stem=8,classifier=8,default=4"])
def test_quantize_spec_on_b0_structure(b0_32_int8, spec: str) -> None:  # noqa: ANN001
    g, q, _ = b0_32_int8  # B0@32 (seed 3) quantized on two random inputs
    q4 = with_weight_bits(g, q, spec)
    bits = group_bits(spec)
    for op in q4.ops:
        if "weights" not in op.params:
            continue
        want = bits[node_group(g, g.node(op.ir_nodes[0]))]
        w = np.asarray(op.params["weights"])
        assert op_weight_bits(op) == want
        top = 7 if want == 4 else 127
        assert w.dtype == np.int8 and np.abs(w).max() == top  # symmetric per channel: the largest |w| hits qmax
        assert np.abs(w.reshape(w.shape[0], -1)).max(axis=1).min() == top
    assert sum(weight_bits_summary(q4).values()) == sum(weight_bits_summary(q).values())
    assert weight_bits_summary(q) == {"8": weight_bits_summary(q)["8"]}


def test_all8_spec_is_the_int8_model(b0_32_int8) -> None:  # noqa: ANN001
    g, q, _ = b0_32_int8  # B0@32 (seed 3) quantized on two random inputs
    assert with_weight_bits(g, q, "8") is q


@pytest.mark.parametrize("spec", ["4", "pointwise=4,default=8"])
def test_int4_model_matches_litert_reference_kernels(b0_32_int8, spec: str) -> None:  # noqa: ANN001
    g, q, x = b0_32_int8  # B0@32 (seed 3) quantized on two random inputs
    q4 = with_weight_bits(g, q, spec)
    x = x if x.ndim == 4 else x[None]
    r = verify(q4, tflite_bytes(q4), x)
    assert r.tensors_compared > 50 and r.tensors_mismatched == 0, r.first_mismatch


def test_litert_check_is_sensitive_to_the_nibble_order(monkeypatch) -> None:  # noqa: ANN001
    """Swapping the nibbles of every packed weight byte must break the match: the check above can fail."""
    import sramflow.tflite.export as export

    g = randomized(tiny_graph())
    q, x = quantized(g)
    q4 = with_weight_bits(g, q, "4")
    swapped = lambda v: (lambda p: ((p << 4) | (p >> 4)).astype(np.uint8))(pack_int4(v))  # noqa: E731
    monkeypatch.setattr(export, "pack_int4", swapped)
    r = verify(q4, tflite_bytes(q4), x if x.ndim == 4 else x[None])
    assert r.tensors_mismatched > 0


def test_int4_reference_differs_from_int8(b0_32_int8) -> None:  # noqa: ANN001
    g, q, x = b0_32_int8  # B0@32 (seed 3) quantized on two random inputs
    q4 = with_weight_bits(g, q, "4")
    a, b = run_int8(q, x if x.ndim == 4 else x[None]), run_int8(q4, x if x.ndim == 4 else x[None])
    assert not np.array_equal(a[q.output], b[q.output]) or not all(
        np.array_equal(a[op.output], b[op.output]) for op in q.ops)
    assert dataclasses.replace(q4, ops=q.ops) == q  # only ops change: activations keep their quantization
