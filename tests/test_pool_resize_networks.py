"""Ceil-mode / count_include_pad pooling and Resize end to end (issue 22 items 1 and 3), on small networks
exported by torch.onnx.export as a user's would be: a SqueezeNet fire module between ceil-mode max pools (its
expand branches added, as Concat is not used here), a GoogLeNet-style inception pool branch with the average
pool variants TFLite can express, and a tiny U-Net (conv + pool down, nearest and bilinear resize + conv up,
skips added). Each: float import equal to PyTorch, quantize, every tensor bit-exact against LiteRT
BUILTIN_REF on the exported .tflite, and the functional simulation bit-exact with counts equal to the
analytical model and no clobbers."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn import functional as F

from sramflow.errors import UnsupportedOpError
from sramflow.frontend.torch_export import torch_to_graph
from sramflow.funcsim.run import run_functional
from sramflow.hw.load import resolve_hw
from sramflow.quant.api import quantize_graph
from sramflow.reference.float_exec import run_float
from sramflow.sim.api import simulate_graph
from sramflow.tflite.export import tflite_bytes
from sramflow.tflite.verify import verify
from helpers.end_to_end import HWS, assert_bit_exact_with_litert, assert_functional_bit_exact
from helpers.mapping import make_hw


def _conv(cin: int, cout: int, k: int = 3, s: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, k, s, k // 2), nn.ReLU())


class FireNet(nn.Module):
    """SqueezeNet 1.1's stem and first fire module at a small size: conv stride 2, MaxPool(3, 2, ceil_mode)
    on an even size (the ceil adds a row and a column), squeeze 1x1, expand 1x1 and 3x3 (added), a second
    ceil-mode pool on an odd size (k 2), a 1x1 classifier conv and global average pool."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = _conv(3, 8, 3, 2)
        self.squeeze, self.e1, self.e3 = _conv(8, 4, 1), _conv(4, 8, 1), _conv(4, 8, 3)
        self.cls = nn.Conv2d(8, 5, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.max_pool2d(self.stem(x), 3, 2, ceil_mode=True)  # 10 -> 5 (floor mode: 4)
        s = self.squeeze(y)
        y = self.e1(s) + self.e3(s)
        y = F.max_pool2d(y, 2, 2, ceil_mode=True)  # 5 -> 3
        return self.cls(y).mean((2, 3))


class InceptionPools(nn.Module):
    """GoogLeNet's pooling: MaxPool(3, 2, ceil_mode) between stages, the inception pool branch MaxPool(3, 1,
    padding 1, ceil_mode) + 1x1 conv, and the average pools with ceil_mode and count_include_pad both ways
    where ceil_mode reaches one row / column past the padding (TFLite: PAD with the zero point for the counted
    padding, then a SAME pool that skips the rest)."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = _conv(3, 8)
        self.proj = _conv(8, 8, 1)
        self.b1 = _conv(8, 8, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.stem(x)
        y = F.max_pool2d(s, 3, 2, ceil_mode=True)  # 14 -> 7 (floor mode: 6)
        y = y + F.avg_pool2d(s, 3, 2, ceil_mode=True, count_include_pad=False)  # 14 -> 7: SAME
        y = self.b1(y) + self.proj(F.max_pool2d(y, 3, 1, padding=1, ceil_mode=True))  # the pool branch
        a = F.avg_pool2d(y, 3, 2, padding=1, ceil_mode=True, count_include_pad=True)  # 7 -> 4: pad counted
        b = F.avg_pool2d(y, 3, 2, padding=1, ceil_mode=True, count_include_pad=False)  # 7 -> 4: SAME
        d = F.avg_pool2d(y, 2, 2, ceil_mode=True, count_include_pad=True)  # 7 -> 4, last window 1 row
        # on the even 14: PAD 1 counted, then SAME skips ceil's extra row (14 -> 8; floor mode: 7); the max
        # pool's PADV2 -128 covers both
        e = F.avg_pool2d(s, 3, 2, padding=1, ceil_mode=True, count_include_pad=True)
        f = F.max_pool2d(s, 3, 2, padding=1, ceil_mode=True)
        return (a + b + d).mean((2, 3)) + (e + f).mean((2, 3))


class TinyUNet(nn.Module):
    """Two levels: conv, max pool down, conv; nearest x2 up, conv on the sum with the skip; max pool, bilinear
    x2 up (align_corners False), conv on the sum; a 1x1 conv head (per-pixel logits)."""

    def __init__(self) -> None:
        super().__init__()
        self.enc1, self.enc2 = _conv(3, 8), _conv(8, 8)
        self.dec1, self.dec2 = _conv(8, 8), _conv(8, 8)
        self.head = nn.Conv2d(8, 3, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        e1 = self.enc1(x)
        e2 = self.enc2(F.max_pool2d(e1, 2))
        d1 = self.dec1(F.interpolate(e2, scale_factor=2, mode="nearest") + e1)
        up = F.interpolate(F.max_pool2d(d1, 2), scale_factor=2, mode="bilinear", align_corners=False)
        return self.head(self.dec2(up + d1))


NETS = {"fire": (FireNet, 20), "inception_pools": (InceptionPools, 14), "tiny_unet": (TinyUNet, 12)}


@lru_cache(maxsize=None)
def _prepared(name: str):  # noqa: ANN202
    cls, res = NETS[name]
    torch.manual_seed(0)
    net = cls().eval()
    g = torch_to_graph(net, res, name)
    x = np.random.default_rng(0).standard_normal((4, 3, res, res)).astype(np.float32)
    return net, g, quantize_graph(g, x, "minmax"), x


@pytest.mark.parametrize("name", sorted(NETS))
def test_network_float_import_equals_pytorch(name: str) -> None:
    net, g, _, x = _prepared(name)
    with torch.no_grad():
        want = net(torch.from_numpy(x)).numpy()
    got = run_float(g, x)[g.output]
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", sorted(NETS))
def test_network_bit_exact_with_litert(name: str) -> None:
    _, _, q, x = _prepared(name)
    assert_bit_exact_with_litert(q, x)


@pytest.mark.parametrize("hw_name", HWS)
@pytest.mark.parametrize("name", sorted(NETS))
def test_network_functional_bit_exact_counts_equal(name: str, hw_name: str | None) -> None:
    _, g, q, x = _prepared(name)
    res = assert_functional_bit_exact(g, q, x, hw_name)
    moved = [r for r in res.nodes if r.op in ("MaxPool", "AveragePool", "Resize")]
    assert moved and all(r.unit == "vector" and r.cycles > 0 for r in moved)


def test_the_pools_take_every_tflite_form() -> None:
    """What the networks above exercise: ceil_mode's extra rows as SAME's skipped padding, PAD (zero point) +
    VALID and PAD + SAME for counted padding, PADV2 for a max pool's explicit padding."""
    forms = set()
    for name in NETS:
        _, g, q, _ = _prepared(name)
        for op in q.ops:
            if op.kind in ("MAX_POOL_2D", "AVERAGE_POOL_2D"):
                ceil = any(g.node(op.name).attrs["ceil_pads"])
                forms.add((op.kind, ceil, any(op.attrs["pre_pad"]), op.attrs["padding"]))
    assert forms >= {("MAX_POOL_2D", True, False, "SAME"), ("MAX_POOL_2D", True, True, "VALID"),
                     ("AVERAGE_POOL_2D", True, False, "SAME"), ("AVERAGE_POOL_2D", True, True, "SAME"),
                     ("AVERAGE_POOL_2D", False, True, "VALID")}, forms


@pytest.mark.parametrize("n,k,s,p", [(n, k, s, p) for n in range(3, 12) for k in (1, 2, 3, 5) for s in (1, 2, 3)
                                     for p in range(k // 2 + 1) if n + 2 * p >= k])
def test_ceil_mode_output_size_equals_pytorch(n: int, k: int, s: int, p: int) -> None:
    """The importer's ceil_mode output (its ceil_pads added to the bottom / right pad), including PyTorch's rule
    that drops a last window starting past the input and its leading pad."""
    from sramflow.frontend.onnx_import import _ceil_pads
    from sramflow.ir.shapes import infer_shape

    eh, ew = _ceil_pads((n, n), (k, k), (s, s), (p, p, p, p))
    attrs = {"kernel": (k, k), "strides": (s, s), "pads": (p, p, p + eh, p + ew)}
    want = F.max_pool2d(torch.zeros(1, 1, n, n), k, s, p, ceil_mode=True).shape
    assert infer_shape("MaxPool", [(1, 1, n, n)], attrs, {}) == tuple(want)


def test_an_average_pool_tflite_cannot_express_is_refused_by_name() -> None:
    """Kernel 5, stride 4, padding 1 on 8 (ceil: 3 outputs, 3 rows past the padding). Counted padding: after the
    PAD to 10, SAME would skip 1 row before and 2 after, not 3 after; not counted: SAME on 8 gives 2 outputs.
    No TFLite int8 op sequence divides by PyTorch's counts there."""

    for include in (True, False):
        g = torch_to_graph(nn.Sequential(nn.AvgPool2d(5, 4, 1, ceil_mode=True, count_include_pad=include),
                                         nn.Flatten()), 8, "refused")
        with pytest.raises(UnsupportedOpError, match=r"node '[^']*AveragePool' \(AveragePool kernel \(5, 5\) stride "
                           rf"\(4, 4\) on 8x8\).*ceil_mode adds \(3, 3\), count_include_pad={int(include)}.*"
                           "neither VALID nor TFLite SAME"):
            quantize_graph(g, np.zeros((1, 3, 8, 8), np.float32), "minmax")


def _resize_graph(mode: str, align: bool, half: bool, in_hw: tuple[int, int], out_hw: tuple[int, int], c: int = 3):  # noqa: ANN202
    from sramflow.ir.graph import Graph, Node

    attrs = {"mode": mode, "size": out_hw, "align_corners": align, "half_pixel_centers": half}
    return Graph("rs", "x", "y", {"x": (1, c, *in_hw), "y": (1, c, *out_hw)}, (Node("rs", "Resize", ("x",), "y", attrs),))


RESIZE_SIZES = [((5, 7), (10, 14)), ((4, 4), (8, 8)), ((6, 5), (13, 3)), ((3, 8), (7, 17)), ((9, 9), (4, 5)),
                ((1, 3), (2, 6))]
RESIZE_FLAGS = [("nearest", False, False), ("nearest", True, False), ("nearest", False, True),
                ("linear", False, False), ("linear", True, False), ("linear", False, True)]


@pytest.mark.parametrize("mode,align,half", RESIZE_FLAGS)
def test_resize_int8_bit_exact_with_litert_over_sizes_and_flags(mode: str, align: bool, half: bool) -> None:
    """Up, down and uneven factors, each coordinate flag of RESIZE_NEAREST_NEIGHBOR / RESIZE_BILINEAR, every int8
    value in the input, against BUILTIN_REF (one interpreter per graph)."""
    from sramflow.quant.calibrate import Range
    from sramflow.quant.quantize import quantize_with_ranges

    rng = np.random.default_rng(3)
    for in_hw, out_hw in RESIZE_SIZES:
        g = _resize_graph(mode, align, half, in_hw, out_hw)
        q = quantize_with_ranges(g, {"x": Range(-1.3, 2.0), "y": Range(-1.3, 2.0)}, "minmax", "test")
        assert q.ops[0].kind == ("RESIZE_BILINEAR" if mode == "linear" else "RESIZE_NEAREST_NEIGHBOR")
        x = rng.integers(-128, 128, (4, 3, *in_hw)).astype(np.int8)
        x[0].flat[:256 if x[0].size >= 256 else None] = np.arange(-128, 128)[:min(256, x[0].size)]
        r = verify(q, tflite_bytes(q), x)
        assert r.tensors_compared == 8 and r.tensors_mismatched == 0, (in_hw, out_hw, r.first_mismatch)


@pytest.mark.parametrize("mode,align,half", RESIZE_FLAGS)
def test_resize_functional_bit_exact_and_costed_as_a_gather(mode: str, align: bool, half: bool) -> None:
    """On the vector unit, every output's taps fetched from off-chip (nearest 1, bilinear 4), bilinear costing 13
    ops per output; both executors bit-exact with the integer reference, counts equal, no clobbers."""
    from sramflow.quant.calibrate import Range
    from sramflow.quant.quantize import quantize_with_ranges

    for (in_hw, out_hw), hw in zip(RESIZE_SIZES[:4], (resolve_hw("sky130-design1"), make_hw(double=True)) * 2):
        g = _resize_graph(mode, align, half, in_hw, out_hw)
        q = quantize_with_ranges(g, {"x": Range(-1.3, 2.0), "y": Range(-1.3, 2.0)}, "minmax", "test")
        res = simulate_graph(g, hw)
        c = res.schedules[0].counts
        taps = 4 if mode == "linear" else 1
        assert res.nodes[0].unit == "vector"
        assert c.offchip_input_bytes == taps * g.numel("y") and c.offchip_output_bytes == g.numel("y")
        assert c.vector_ops == (13 * g.numel("y") if mode == "linear" else 0)
        x = np.random.default_rng(4).integers(-128, 128, (3, *in_hw)).astype(np.int8)
        for executor in ("bulk", "step"):
            r = run_functional(g, q, res.schedules, x, hw.main_sram.total_words, hw.main_sram.word_bytes,
                               executor=executor)
            assert r.bit_exact and r.clobbers == 0 and r.counts_match and r.step_count_notes == ()


class _Interp(nn.Module):
    def __init__(self, **kw) -> None:  # noqa: ANN003
        super().__init__()
        self.kw = kw

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.interpolate(x, **self.kw)


@pytest.mark.parametrize("kw", [dict(scale_factor=2, mode="nearest"), dict(scale_factor=3, mode="nearest"),
                                dict(scale_factor=2, mode="bilinear", align_corners=False),
                                dict(scale_factor=2, mode="bilinear", align_corners=True),
                                dict(scale_factor=0.5, mode="bilinear", align_corners=False),
                                dict(scale_factor=1.5, mode="bilinear", align_corners=True),
                                dict(scale_factor=1.5, mode="nearest")])
def test_resize_as_torch_exports_it_imports_with_pytorchs_float_semantics(kw: dict) -> None:
    g = torch_to_graph(_Interp(**kw), 6, "interp")
    assert [n.op for n in g.nodes] == ["Resize"]
    x = np.random.default_rng(5).standard_normal((2, 3, 6, 6)).astype(np.float32)
    with torch.no_grad():
        want = F.interpolate(torch.from_numpy(x), **kw).numpy()
    np.testing.assert_allclose(run_float(g, x)[g.output], want, rtol=1e-5, atol=1e-6)


def test_resize_modes_tflite_cannot_compute_are_refused_by_name() -> None:
    with pytest.raises(UnsupportedOpError, match=r"node '[^']*Resize' \(Resize mode=cubic .*no TFLite "
                       "RESIZE_NEAREST_NEIGHBOR / RESIZE_BILINEAR computes these coordinates"):
        torch_to_graph(_Interp(scale_factor=2, mode="bicubic", align_corners=False), 6, "cubic")


@pytest.mark.parametrize("key", sorted(__import__("sramflow.frontend.onnx_import", fromlist=["_RESIZE_FLAGS"])
                                       ._RESIZE_FLAGS))
@pytest.mark.parametrize("in_hw,out_hw", [((4, 6), (8, 12)), ((6, 4), (9, 6)), ((6, 8), (3, 4))])
def test_every_accepted_onnx_resize_mode_imports_with_onnx_semantics(key: tuple, in_hw: tuple, out_hw: tuple) -> None:
    """Each (mode, coordinate_transformation_mode, nearest_mode) the importer maps to TFLite flags: the float
    executor on those flags equals onnxruntime on the ONNX node (sizes given; x2, x1.5, x0.5)."""
    ort = pytest.importorskip("onnxruntime")
    from onnx import TensorProto, helper, numpy_helper

    from sramflow.frontend.onnx_import import import_onnx_model

    mode, coord, nearest = key
    attrs = {"mode": mode, "coordinate_transformation_mode": coord} | ({"nearest_mode": nearest} if nearest else {})
    sizes = numpy_helper.from_array(np.array([1, 2, *out_hw], np.int64), "sizes")
    node = helper.make_node("Resize", ["x", "", "", "sizes"], ["y"], name="rs", **attrs)
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, (1, 2, *in_hw))],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], [sizes])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=8)
    x = np.random.default_rng(6).standard_normal((1, 2, *in_hw)).astype(np.float32)
    want = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    g = import_onnx_model(model, name="resize")
    np.testing.assert_allclose(run_float(g, x)[g.output], want, rtol=1e-5, atol=1e-6)
