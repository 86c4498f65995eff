"""EfficientNet-B0 and -Lite0 at a small resolution: every tensor bit-exact with LiteRT BUILTIN_REF."""

from __future__ import annotations

import numpy as np
import pytest

from sramflow.frontend.source import ModelSource, load_graph
from sramflow.quant.api import quantize_graph, quantize_input
from sramflow.tflite.export import tflite_bytes
from sramflow.tflite.verify import verify

pytestmark = pytest.mark.slow


@pytest.mark.parametrize(("model", "classes"), [("efficientnet_b0", 7), ("efficientnet_lite0", 1000)])
def test_efficientnet_bit_exact(model: str, classes: int) -> None:
    g = load_graph(ModelSource(model=model, num_classes=classes, resolution=32)).graph
    x = np.random.default_rng(0).standard_normal((4, 3, 32, 32)).astype(np.float32)
    q = quantize_graph(g, x, "percentile")
    r = verify(q, tflite_bytes(q), quantize_input(q, x[:1]))
    assert r.tensors_compared == len(q.ops) + 1
    assert r.tensors_mismatched == 0, r.first_mismatch
