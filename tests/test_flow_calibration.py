"""The one calibrate -> quantize path: inputs or stored ranges -> the same QuantizedGraph as the library call."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from sramflow.flow.calibration import (SAMPLE_INPUTS, calibrate, calibration_file, from_ranges, save_ranges,
                                       stored_ranges)
from sramflow.frontend.torch_export import torch_to_graph
from sramflow.ir.qgraph import QuantizedGraph
from sramflow.quant.api import quantize_graph


def _tiny_graph():  # noqa: ANN202 - ir.Graph
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 8, 3, 1, 1), nn.ReLU(), nn.Conv2d(8, 8, 3, 2, 1, groups=8), nn.SiLU(),
                        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 4)).eval()
    return torch_to_graph(net, 16, "tiny")


def _same(a: QuantizedGraph, b: QuantizedGraph) -> bool:
    return (a.tensors == b.tensors and [o.attrs for o in a.ops] == [o.attrs for o in b.ops]
            and all(np.array_equal(pa[k], pb[k]) for pa, pb in zip((o.params for o in a.ops), (o.params for o in b.ops))
                    for k in pa))


def test_calibrate_equals_the_library_quantizer_and_keeps_its_inputs() -> None:
    g = _tiny_graph()
    x = np.random.default_rng(1).standard_normal((20, 3, 16, 16)).astype(np.float32)  # two batches of 16 and 4
    cal = calibrate(g, x, "percentile", seed=3)
    assert _same(cal.qgraph, quantize_graph(g, x, "percentile", seed=3))
    assert cal.description == cal.qgraph.calibration == "20 inputs"
    assert np.array_equal(cal.sample, x[:SAMPLE_INPUTS])
    assert set(cal.ranges) >= {n.output for n in g.nodes}
    one = calibrate(g, x[0], description="one image")  # a single CHW input is one batch of one
    assert one.sample.shape == (1, 3, 16, 16) and one.qgraph.calibration == "one image"


def test_stored_ranges_give_the_same_model_without_images(tmp_path: Path) -> None:
    g = _tiny_graph()
    x = np.random.default_rng(2).standard_normal((8, 3, 16, 16)).astype(np.float32)
    cal = calibrate(g, x, "mse", description="8 random inputs")
    path = calibration_file(str(tmp_path / "net.safetensors"), 16, "mse")
    assert path == tmp_path / "net.calibration-16px-mse.json"
    save_ranges(cal, path)
    found = stored_ranges(path, g)
    assert found is not None and found[1] == "8 random inputs"
    again = from_ranges(g, found[0], "mse", "stored", x[:1], "one input")
    assert _same(again.qgraph, cal.qgraph)
    assert stored_ranges(tmp_path / "absent.json", g) is None
    partial = tmp_path / "partial.json"
    partial.write_text(path.read_text().replace(f'"{g.nodes[-1].output}"', '"renamed"'))
    assert stored_ranges(partial, g) is None  # ranges for another graph: calibrate afresh
