"""The model zoo of ``helpers.zoo`` (issue 22 item 4) stays working end to end: three of its small networks,
exported with torch.onnx.export as a user would, import, quantize, match LiteRT's BUILTIN_REF on every tensor
(calibration inputs and inputs twice as wide) and run bit-exact through the functional simulator on
sky130-design1 with counts equal to the analytical model's. ``benchmarks/bench_zoo.py`` runs the whole zoo."""

from __future__ import annotations

from pathlib import Path

import onnx
import pytest

from helpers import zoo
from helpers.end_to_end import assert_bit_exact_with_litert, assert_functional_bit_exact, import_and_quantize

# Concat / channel split / shuffle; fire modules with ceil-mode max pools; dense blocks with a BN after Concat
NETS = ("shufflenet_v2", "squeezenet1_1", "densenet")


@pytest.mark.slow
@pytest.mark.parametrize("name", NETS)
def test_zoo_network_end_to_end(name: str, tmp_path: Path) -> None:
    """The bulk executor on each; the per-step one (the bulk one's oracle, ~20 s on the other two at 64 px) on the
    ShuffleNet only: fire modules between ceil-mode pools (test_pool_resize_networks) and dense blocks
    (test_movement_ops) run through both executors in the small networks of their own tests."""
    model = onnx.load(zoo.export(name, tmp_path, resolution=64))
    g, q, x = import_and_quantize(model, name)
    assert_bit_exact_with_litert(q, x)
    executors = ("bulk", "step") if name == "shufflenet_v2" else ("bulk",)
    res = assert_functional_bit_exact(g, q, x, "sky130-design1", executors=executors)
    assert res.uncosted_nodes == ()
