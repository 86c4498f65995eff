"""Data-movement operators (ir.movement: Concat, Split/Slice, Pad, channel shuffle) end to end on small networks
built here (helpers.movement_nets): ONNX import, int8 quantization, integer reference bit-exact with LiteRT
BUILTIN_REF on every tensor, mapping (pure addressing where no byte moves, a costed pass where bytes move), and
functional simulation bit-exact with counts equal to the analytical model's and no clobbers."""

from __future__ import annotations

import warnings
from functools import lru_cache

import numpy as np
import pytest

from sramflow.errors import GraphError, QuantizationError, UnsupportedOpError
from sramflow.frontend.onnx_import import import_onnx_model
from sramflow.funcsim.run import run_functional
from sramflow.hw.load import resolve_hw
from sramflow.ir.graph import Graph, Node
from sramflow.mapping.lower import lower_graph
from sramflow.quant.api import quantize_graph
from sramflow.quant.calibrate import Range
from sramflow.quant.quantize import quantize_with_ranges
from sramflow.reference.float_exec import run_float
from sramflow.reference.run import quantize_input, run_int8
from sramflow.sim.api import simulate_graph
from sramflow.tflite.export import tflite_bytes
from sramflow.tflite.verify import verify
from helpers.end_to_end import HWS, assert_bit_exact_with_litert, assert_functional_bit_exact, import_and_quantize
from helpers.mapping import make_hw
from helpers.movement_nets import Net, dense_block_net, height_concat_net, pad_net, shufflenet_unit_net

NETS = {"dense_block": (dense_block_net, {"CONCATENATION", "QUANTIZE"}),
        "shufflenet_unit": (shufflenet_unit_net, {"SLICE", "CONCATENATION", "QUANTIZE", "CHANNEL_SHUFFLE"}),
        "pad": (pad_net, {"PAD"}), "height_concat": (height_concat_net, {"CONCATENATION", "SLICE"})}
MAPPED = ("dense_block", "shufflenet_unit", "pad")


@lru_cache(maxsize=None)
def _prepared(name: str):  # noqa: ANN202
    return import_and_quantize(NETS[name][0](), name)


@pytest.mark.parametrize("name", sorted(NETS))
def test_network_bit_exact_with_litert(name: str) -> None:
    _, q, x = _prepared(name)
    assert NETS[name][1] <= {op.kind for op in q.ops}
    assert_bit_exact_with_litert(q, x)


@pytest.mark.parametrize("hw_name", HWS)
@pytest.mark.parametrize("name", MAPPED)
def test_network_functional_bit_exact_counts_equal(name: str, hw_name: str | None) -> None:
    g, q, x = _prepared(name)
    assert_functional_bit_exact(g, q, x, hw_name, tensors=len(q.ops))


def test_concat_inputs_share_its_scale_or_are_requantized() -> None:
    """A Concat input read only by it, from an op with a free output scale, takes the Concat's scale and zero
    point (no op in between); the block input, also read by the next conv, gets a QUANTIZE in front."""
    g, q, _ = _prepared("dense_block")
    concats = [n for n in g.nodes if n.op == "Concat"]
    assert len(concats) == 2
    for n in concats:
        out = q.tensor(n.output)
        assert all((q.tensor(t).scale, q.tensor(t).zero_point) == (out.scale, out.zero_point) for t in n.inputs)
        first, second = g.node(n.inputs[0]), g.node(n.inputs[1])  # a Requantize node is named as its output
        assert first.op == "Requantize" and second.op == "Relu"
        src = q.tensor(first.inputs[0])
        assert (src.scale, src.zero_point) != (out.scale, out.zero_point)  # a real rescale
    assert sum(op.kind == "QUANTIZE" for op in q.ops) == 2


def test_concat_without_requantize_is_refused_by_name() -> None:
    shape = (1, 2, 4, 4)
    g = Graph("c", "x", "y", {"x": shape, "y": (1, 4, 4, 4)}, (Node("cat", "Concat", ("x", "x"), "y", {"axis": 1}),))
    with pytest.raises(QuantizationError, match="'cat'.*cannot take the Concat's scale"):
        quantize_with_ranges(g, {"x": Range(-1, 1), "y": Range(-1, 1)}, "minmax", "test")


def test_requantize_all_256_inputs_bit_exact_with_litert() -> None:
    """QUANTIZE int8 -> int8 for every int8 input, rescaling finer, coarser and across zero points."""
    shape = (1, 4, 8, 8)
    x = np.arange(-128, 128, dtype=np.int8).reshape(shape)
    for (lo, hi), (olo, ohi) in [((-1, 1), (-3, 2)), ((0, 6), (-1, 1)), ((-0.02, 0.5), (-0.02, 0.51)),
                                 ((-8, 1), (-2, 9))]:
        g = Graph("r", "x", "y", {"x": shape, "y": shape}, (Node("rq", "Requantize", ("x",), "y"),))
        q = quantize_with_ranges(g, {"x": Range(lo, hi), "y": Range(olo, ohi)}, "minmax", "test")
        assert q.ops[0].kind == "QUANTIZE"
        r = verify(q, tflite_bytes(q), x)
        assert r.tensors_compared == 2 and r.tensors_mismatched == 0, r.first_mismatch


def test_requantize_to_a_collapsed_range_is_refused_by_name() -> None:
    """A Requantize whose output range is calibrated to almost nothing needs a multiplier LiteRT cannot apply."""
    shape = (1, 4, 8, 8)
    g = Graph("r", "x", "y", {"x": shape, "y": shape}, (Node("rq", "Requantize", ("x",), "y"),))
    with pytest.raises(QuantizationError, match="'rq' \\(Requantize\\).*>= 2\\^30"):
        quantize_with_ranges(g, {"x": Range(-1e4, 1e4), "y": Range(-1e-9, 1e-9)}, "minmax", "test")


def test_addressing_and_data_moving_ops_costed_as_stated() -> None:
    """Channel Concat and Slice are pure addressing (no pass, no bytes); the Requantize, the channel shuffle and
    Pad move every byte once in and once out."""
    for name in MAPPED:
        g, _, _ = _prepared(name)
        res = simulate_graph(g, make_hw(double=True))
        for n, r in zip(g.nodes, res.nodes):
            if n.op in ("Concat", "Slice"):
                assert r.unit == "fused" and r.cycles == 0 and r.counts.offchip_bytes == 0 and "addressing" in r.note
            if n.op in ("Requantize", "ChannelShuffle", "Pad"):
                assert r.cycles > 0 and r.counts.offchip_input_bytes == g.numel(n.inputs[0])
                assert r.counts.offchip_output_bytes == g.numel(n.output)


def test_strided_concat_is_refused_by_the_mapper_by_name() -> None:
    g, _, _ = _prepared("height_concat")
    with pytest.raises(UnsupportedOpError, match="Concat on axis 2.*strided"):
        lower_graph(g)


def test_float_semantics() -> None:
    """Split halves, Concat, the shuffle (output channel o is input channel (o % g) * C/g + o // g), Pad's fill."""
    g, _, x = _prepared("shufflenet_unit")
    acts = run_float(g, x, keep_all=True)
    sh = next(n for n in g.nodes if n.op == "ChannelShuffle")
    v = acts[sh.inputs[0]]
    assert np.array_equal(acts[sh.output], v.reshape(4, 2, 4, 8, 8).transpose(0, 2, 1, 3, 4).reshape(4, 8, 8, 8))
    halves = [n for n in g.nodes if n.op == "Slice"][:2]
    assert [(n.attrs["start"], n.attrs["end"]) for n in halves] == [(0, 4), (4, 8)]
    g, _, x = _prepared("pad")
    acts = run_float(g, x, keep_all=True)
    pads = [n for n in g.nodes if n.op == "Pad"]
    assert [n.attrs["pads"] for n in pads] == [(1, 0, 2, 1), (2, 2, 2, 2)]
    assert np.all(acts[pads[1].output][:, :, :2] == np.float32(0.25))


def test_pad_fill_is_quantized_with_the_input_parameters() -> None:
    g, q, _ = _prepared("pad")
    x = np.random.default_rng(3).integers(-128, 128, (1, 3, 8, 8), dtype=np.int8)
    out = run_int8(q, x)
    for n in (n for n in g.nodes if n.op == "Pad"):
        t, op = q.tensor(n.inputs[0]), q.op(n.name)
        assert (q.tensor(n.output).scale, q.tensor(n.output).zero_point) == (t.scale, t.zero_point)
        want = t.zero_point if n.attrs["value"] == 0 else t.zero_point + round(n.attrs["value"] / t.scale)
        assert op.attrs["fill"] == want and np.all(out[n.output][:, :, 0] == want)


def test_unsupported_forms_are_refused_by_name() -> None:
    n = Net(4, 4, seed=0)
    y = n.op("Reshape", ["x", n.const(np.array([1, 2, 2, 4, 4], np.int64))])
    with pytest.raises(UnsupportedOpError, match="Transpose perm=\\[0, 1, 2, 4, 3\\]"):
        import_onnx_model(n.head(n.op("Transpose", [y], perm=[0, 1, 2, 4, 3]), 4))
    n = Net(4, 4, seed=0)
    with pytest.raises(UnsupportedOpError, match="Pad.*mode 'reflect'"):
        import_onnx_model(n.head(n.op("Pad", ["x", n.const(np.zeros(8, np.int64))], mode="reflect"), 4))
    n = Net(4, 4, seed=0)
    with pytest.raises(UnsupportedOpError, match="Concat.*batch"):
        import_onnx_model(n.head(n.op("Concat", ["x", "x"], axis=0), 4))
    with pytest.raises(GraphError, match="differ off that axis"):
        n = Net(4, 4, seed=0)
        import_onnx_model(n.head(n.op("Concat", ["x", n.conv("x", 4, 2, k=1, relu=False)], axis=2), 4))


def _torch_shufflenet_unit_onnx():  # noqa: ANN202
    """A ShuffleNetV2 unit as a PyTorch user writes it (x.chunk, torch.cat, channel_shuffle by view / transpose /
    view, nn.ZeroPad2d, mean over H and W), exported with torch.onnx.export at opset 17: the Shape / Gather / Div /
    ConstantOfShape computations it writes are folded by the importer."""
    import io

    import onnx
    import torch
    from torch import nn

    def channel_shuffle(x: torch.Tensor, groups: int) -> torch.Tensor:
        b, c, h, w = x.size()
        x = x.view(b, groups, c // groups, h, w)
        return torch.transpose(x, 1, 2).contiguous().view(b, -1, h, w)

    class Unit(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU())
            self.branch = nn.Sequential(nn.Conv2d(4, 4, 1), nn.BatchNorm2d(4), nn.ReLU(),
                                        nn.Conv2d(4, 4, 3, padding=1, groups=4), nn.BatchNorm2d(4),
                                        nn.Conv2d(4, 4, 1), nn.ReLU())
            self.pad = nn.ZeroPad2d((0, 1, 0, 1))
            self.fc = nn.Linear(8, 3)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            a, b = self.stem(x).chunk(2, dim=1)
            y = channel_shuffle(torch.cat((a, self.branch(b)), dim=1), 2)
            return self.fc(self.pad(y).mean((2, 3)))

    torch.manual_seed(0)
    f = io.BytesIO()
    with warnings.catch_warnings():  # the exporter warns that it cannot fold its own shape Slices
        warnings.simplefilter("ignore")
        torch.onnx.export(Unit().eval(), torch.randn(1, 3, 8, 8), f, opset_version=17, dynamo=False)
    return onnx.load_from_string(f.getvalue())


def test_torch_exported_shufflenet_unit_end_to_end() -> None:
    g = import_onnx_model(_torch_shufflenet_unit_onnx(), name="torch_unit")
    ops = [n.op for n in g.nodes]
    assert ops.count("Slice") == 2 and "ChannelShuffle" in ops and "Concat" in ops and "Pad" in ops
    assert next(n for n in g.nodes if n.op == "Pad").attrs["pads"] == (0, 0, 1, 1)
    x = np.random.default_rng(0).standard_normal((4, 3, 8, 8)).astype(np.float32)
    q = quantize_graph(g, x, "minmax")
    r = verify(q, tflite_bytes(q), quantize_input(q, x))
    assert r.tensors_mismatched == 0 and r.tensors_compared == 4 * (len(q.ops) + 1), r.first_mismatch
    hw = resolve_hw("sky130-design1")
    res = simulate_graph(g, hw)
    f = run_functional(g, q, res.schedules, quantize_input(q, x[0]), hw.main_sram.total_words, hw.main_sram.word_bytes)
    assert f.bit_exact and f.counts_match and f.clobbers == 0


def test_every_movement_row_is_read_by_every_stage() -> None:
    """Each row of ir.movement reaches the IR ops, shapes, float executor, quantizer, integer reference, exporter,
    mapper (by its mapping style) and the functional simulator's pooling path (window style)."""
    from sramflow.funcsim.pool import POOL_KINDS
    from sramflow.ir.graph import OPS
    from sramflow.ir.movement import MAPPINGS, MOVEMENT_OPS
    from sramflow.ir.qgraph import KINDS
    from sramflow.ir.shapes import SHAPE_FNS
    from sramflow.mapping.fused import HOW
    from sramflow.mapping.lower import MOVEMENT_LOWERING
    from sramflow.reference.float_exec import FLOAT_OPS
    from sramflow.reference.run import RUNNERS
    from sramflow.tflite.export import EMITTERS

    assert set(MOVEMENT_LOWERING) == set(MAPPINGS)
    for m in MOVEMENT_OPS:
        assert m.op in OPS and m.op in SHAPE_FNS and m.op in FLOAT_OPS, m.op
        assert m.kind in KINDS and m.kind in RUNNERS and m.kind in EMITTERS, m.kind
        assert (m.op in HOW) == (m.mapping == "addressing") and (m.kind in POOL_KINDS) == (m.mapping == "window")
