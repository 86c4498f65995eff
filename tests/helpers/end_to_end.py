"""The end-to-end checks every small operator network goes through: every tensor bit-exact against LiteRT's
BUILTIN_REF (on the calibration inputs and on inputs twice as wide), and functional simulation on a test macro
and on design1, bit-exact with counts equal to the analytical model's and no clobbers."""

from __future__ import annotations

import numpy as np

from sramflow.frontend.onnx_import import import_onnx_model
from sramflow.funcsim.run import run_functional
from sramflow.hw.load import resolve_hw
from sramflow.ir.graph import Graph
from sramflow.ir.qgraph import QuantizedGraph
from sramflow.quant.api import quantize_graph
from sramflow.reference.run import quantize_input
from sramflow.sim.api import SimulationResult, simulate_graph
from sramflow.tflite.export import tflite_bytes
from sramflow.tflite.verify import verify
from helpers.mapping import make_hw

HWS = (None, "sky130-design1")  # a 2048-word test macro (double buffering), the 128-word design1 macro


def import_and_quantize(model: object, name: str) -> tuple[Graph, QuantizedGraph, np.ndarray]:
    """An ONNX model imported, and quantized (min / max) on 4 seeded standard-normal inputs, which it returns."""
    g = import_onnx_model(model, name=name)
    x = np.random.default_rng(0).standard_normal((4, *g.shape(g.input)[1:])).astype(np.float32)
    return g, quantize_graph(g, x, "minmax"), x


def assert_bit_exact_with_litert(q: QuantizedGraph, x: np.ndarray) -> None:
    """Every tensor of ``q`` on ``x`` and on inputs beyond the calibration range equals LiteRT BUILTIN_REF's."""
    test = np.concatenate([x, 2.0 * np.random.default_rng(1).standard_normal(x.shape).astype(np.float32)])
    r = verify(q, tflite_bytes(q), quantize_input(q, test))
    assert r.tensors_compared == len(test) * (len(q.ops) + 1)
    assert r.tensors_mismatched == 0, r.first_mismatch


def assert_functional_bit_exact(g: Graph, q: QuantizedGraph, x: np.ndarray, hw_name: str | None,
                                executors: tuple[str, ...] = ("bulk", "step"), tensors: int | None = None
                                ) -> SimulationResult:
    """Simulate ``g`` on ``hw_name`` (None: the test macro) and execute its schedules on ``x[0]`` with each
    executor: bit-exact (on ``tensors`` tensors where given), counts equal, no clobbers. Returns the simulation
    for op-specific cost checks."""
    hw = resolve_hw(hw_name) if hw_name else make_hw(double=True)
    res = simulate_graph(g, hw)
    for executor in executors:
        r = run_functional(g, q, res.schedules, quantize_input(q, x[0]), hw.main_sram.total_words,
                           hw.main_sram.word_bytes, executor=executor)
        assert r.mismatches == () and r.bit_exact and r.tensors_compared > 0 and r.clobbers == 0
        assert tensors is None or r.tensors_compared == tensors
        assert r.step_count_notes == () and r.counts_functional == r.counts_analytical and r.counts_match
    return res
