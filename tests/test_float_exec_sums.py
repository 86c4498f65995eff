"""The float executor's ``float64_sums``: Conv/Gemm results no longer depend on the summation order.

Calibration ranges come from these sums; in float32 the order (torch's thread count and kernels) moved a
range by an ulp and flipped a test image between machines. Reordering the input channels (weights
reordered to match) changes the order of every sum while the exact result stays the same.
"""

from __future__ import annotations

import numpy as np

from sramflow.ir.graph import Graph, Node
from sramflow.quant.calibrate import collect_stats
from sramflow.reference.float_exec import run_float


def _net(perm: np.ndarray | None = None, c: int = 96, k: int = 8, hw_px: int = 12) -> tuple[Graph, np.ndarray]:
    """Conv (c -> k channels) then Gemm; ``perm`` reorders the conv's input channels and the input with them."""
    rng = np.random.default_rng(3)
    w = rng.standard_normal((k, c, 3, 3)).astype(np.float32)
    x = rng.standard_normal((4, c, hw_px, hw_px)).astype(np.float32)
    if perm is not None:
        w, x = w[:, perm], x[:, perm]
    conv = {"kernel": (3, 3), "strides": (1, 1), "dilations": (1, 1), "pads": (1, 1, 1, 1), "groups": 1}
    feat = k * hw_px * hw_px
    nodes = (
        Node("c", "Conv", ("x",), "y", conv, {"W": np.ascontiguousarray(w), "B": rng.standard_normal(k).astype(np.float32)}),
        Node("r", "Reshape", ("y",), "f", {"shape": (1, feat)}, {}),
        Node("g", "Gemm", ("f",), "z", {}, {"W": rng.standard_normal((5, feat)).astype(np.float32),
                                            "B": rng.standard_normal(5).astype(np.float32)}),
    )
    shapes = {"x": (1, c, hw_px, hw_px), "y": (1, k, hw_px, hw_px), "f": (1, feat), "z": (1, 5)}
    return Graph("sums", "x", "z", shapes, nodes), np.ascontiguousarray(x)


def test_float64_sums_do_not_depend_on_the_order() -> None:
    perm = np.random.default_rng(0).permutation(96)
    (g, x), (gp, xp) = _net(), _net(perm)
    f32, f32p = (run_float(a, b, keep_all=True) for a, b in ((g, x), (gp, xp)))
    f64, f64p = (run_float(a, b, keep_all=True, float64_sums=True) for a, b in ((g, x), (gp, xp)))
    assert not np.array_equal(f32["y"], f32p["y"])  # float32: the order shows (what this option is for)
    assert np.allclose(f32["y"], f32p["y"], rtol=1e-5, atol=1e-4)
    assert f64["y"].dtype == np.float32 and np.array_equal(f64["y"], f64p["y"])
    assert np.array_equal(f64["z"], f64p["z"])


def test_calibration_statistics_use_float64_sums() -> None:
    perm = np.random.default_rng(0).permutation(96)
    (g, x), (gp, xp) = _net(), _net(perm)
    s, sp = collect_stats(g, [x]), collect_stats(gp, [xp])
    for t in ("y", "f", "z"):
        assert s.lo[t] == sp.lo[t] and s.hi[t] == sp.hi[t]
        assert np.array_equal(s.sample(t), sp.sample(t))
