"""Per-layer INT4 sensitivity (``sramflow.eval.sensitivity``): the KL measure, one layer at a time, exact specs."""

from __future__ import annotations

import numpy as np
import pytest

from helpers.graphs import quantized, randomized, tiny_graph
from sramflow.eval.sensitivity import (
    layer_sensitivities, least_sensitive, mean_kl, spec_for, weighted_layers, with_layer_at,
)
from sramflow.ir.precision import layer_bits, layer_name, weight_bits_of
from sramflow.quant.weight_bits import op_weight_bits
from sramflow.reference.run import predict_int8


def test_mean_kl() -> None:
    z = np.array([[1.0, 2.0, 0.5], [0.0, 0.0, 3.0]])
    assert mean_kl(z, z) == pytest.approx(0.0, abs=1e-15)
    assert mean_kl(z, z + 5.0) == pytest.approx(0.0, abs=1e-12)  # a shift of the logits is the same softmax
    p, q = np.array([[np.log(0.5), np.log(0.5)]]), np.array([[np.log(0.9), np.log(0.1)]])
    assert mean_kl(p, q) == pytest.approx(0.5 * np.log(0.5 / 0.9) + 0.5 * np.log(0.5 / 0.1))
    assert mean_kl(z, z[:, ::-1]) > 0


def test_spec_for_names_exactly_its_layers() -> None:
    names = ["features.6.1.block.0.0", "conv1", "odd*name"]
    spec = spec_for(names)
    for n in names:
        assert weight_bits_of(n + "/Conv", "pointwise", spec) == 4
    for other in ("features.6.1.block.0.00", "conv10", "oddXname", "features.6.1.block.3.0"):
        assert weight_bits_of(other + "/Conv", "pointwise", spec) == 8
    assert len(layer_bits(spec)) == 3


def test_one_layer_at_a_time() -> None:
    g = randomized(tiny_graph())  # a stem conv and a classifier, 3 outputs
    q, _ = quantized(g)
    layers = weighted_layers(g)
    assert layers == ["c", "fc"] and weighted_layers(g, ["classifier"]) == ["fc"]
    one = with_layer_at(g, q, "fc")
    bits = {layer_name(op.ir_nodes[0]): op_weight_bits(op) for op in one.ops if "weights" in op.params}
    assert bits == {"c": 8, "fc": 4}

    def predict(qg, xb):  # noqa: ANN001, ANN202
        return np.asarray(predict_int8(qg, xb)).reshape(len(xb), -1)

    xs = np.random.default_rng(0).standard_normal((4, *g.shape(g.input)[1:])).astype(np.float32)
    rows = layer_sensitivities(g, q, xs, np.array([0, 1, 2, 0]), ["a", "b", "c"], layers, predict)
    assert [(r.layer, r.group) for r in rows] == [("c", "stem"), ("fc", "classifier")]
    assert all(r.kl > 0 and 0 <= r.agreement <= 1 for r in rows)  # 4-bit weights move the logits
    assert rows[0].kl == pytest.approx(mean_kl(predict(q, xs), predict(with_layer_at(g, q, "c"), xs)))
    assert least_sensitive(rows, -1.0) == [] and least_sensitive(rows, np.inf) == layers
