"""Quantization end to end on tiny inputs, save/load, the CLI, and bad inputs with clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from sramflow.cli import main
from sramflow.data.calibration import load_calibration
from sramflow.errors import DataError, UnsupportedOpError
from sramflow.frontend.torch_export import torch_to_graph, torch_to_onnx_bytes
from sramflow.ir.qgraph import load_qgraph, save_qgraph
from sramflow.quant.api import predict_int8, quantize_graph, quantize_input, run_int8
from sramflow.quant.calibrate import choose_range

SHARED = Path(__file__).resolve().parents[2] / "shared"
HAM_IMAGES = SHARED / "data" / "ham10000" / "images"


def _tiny_net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 8, 3, 1, 1), nn.ReLU(), nn.Conv2d(8, 8, 3, 2, 1, groups=8), nn.SiLU(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 4)).eval()


def test_tiny_network_end_to_end_and_roundtrip(tmp_path: Path) -> None:
    g = torch_to_graph(_tiny_net(), 16, "tiny")
    x = np.random.default_rng(0).standard_normal((6, 3, 16, 16)).astype(np.float32)
    q = quantize_graph(g, x, "percentile")
    logits = predict_int8(q, x)
    with torch.no_grad():
        ref = _tiny_net()(torch.from_numpy(x)).numpy()
    assert logits.shape == (6, 4)
    assert np.abs(logits - ref).max() < 0.1 * np.abs(ref).max() + 1e-3
    save_qgraph(q, tmp_path)
    q2 = load_qgraph(tmp_path)
    xq = quantize_input(q, x[:2])
    a, b = run_int8(q, xq), run_int8(q2, xq)
    assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)
    assert all(v.dtype == np.int8 for v in a.values())


def test_methods_choose_different_ranges() -> None:
    s = np.concatenate([np.random.default_rng(0).standard_normal(20000), [40.0]]).astype(np.float32)
    mm, pc, mse = (choose_range(m, float(s.min()), float(s.max()), s) for m in ("minmax", "percentile", "mse"))
    assert mm.hi == 40.0 and pc.hi < 10.0 and mse.hi < 40.0


def test_unquantizable_op_names_the_node() -> None:
    net = nn.Sequential(nn.Conv2d(3, 4, 1), nn.Softmax(dim=2)).eval()  # over H: not TFLite's last NHWC axis
    g = torch_to_graph(net, 8, "sm")
    node = next(n.name for n in g.nodes if n.op == "Softmax")
    with pytest.raises(UnsupportedOpError, match=f"{node}.*Softmax axis=2"):
        quantize_graph(g, np.zeros((1, 3, 8, 8), np.float32))


def test_empty_and_missing_calibration_folders(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no images"):
        load_calibration(tmp_path, 4, 16)
    with pytest.raises(DataError, match="does not exist"):
        load_calibration(tmp_path / "nope", 4, 16)


def test_images_that_do_not_decode_are_skipped_and_named(tmp_path: Path) -> None:
    from PIL import Image

    Image.new("RGB", (20, 20), (200, 100, 50)).save(tmp_path / "good.png")
    (tmp_path / "bad.jpg").write_bytes(b"not a jpeg")
    cal = load_calibration(tmp_path, 4, 16)
    assert cal.images.shape == (1, 3, 16, 16)
    assert len(cal.skipped) == 1 and "bad.jpg" in cal.skipped[0]
    (tmp_path / "good.png").unlink()
    with pytest.raises(DataError, match="decode"):
        load_calibration(tmp_path, 4, 16)


def test_cli_quantize_onnx_random_then_verify(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    onnx_path = tmp_path / "tiny.onnx"
    onnx_path.write_bytes(torch_to_onnx_bytes(_tiny_net(), 16))
    out = tmp_path / "q"
    assert main(["quantize", "--onnx", str(onnx_path), "--calib-random", "8", "--method", "mse", "--out", str(out),
                 "--export-tflite", str(tmp_path / "m.tflite")]) == 0
    rep = json.loads((out / "quantization_report.json").read_text())
    assert rep["calibration_random"] is True and "random" in rep["calibration"]
    assert rep["layers"][0]["weight_bytes"] == 8 * 3 * 9 and rep["layers"][0]["sqnr_db"] > 20
    assert rep["totals"]["compression_ratio"] > 3 and 0 <= rep["end_to_end"]["top1_agreement"] <= 1
    assert main(["verify", "--quantized", str(out), "--images", "3", "--tflite", str(tmp_path / "m.tflite"),
                 "--out", str(out / "verify")]) == 0
    v = json.loads((out / "verify" / "verify_report.json").read_text())
    assert v["tensors_mismatched"] == 0 and v["tensors_compared"] == 3 * 7 and v["first_mismatch"] is None


@pytest.mark.slow
def test_cli_empty_calibration_folder_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "empty").mkdir()
    rc = main(["quantize", "--resolution", "32", "--calib-data", str(tmp_path / "empty"), "--out", str(tmp_path / "o")])
    assert rc == 2 and "no images" in capsys.readouterr().err


@pytest.mark.skipif(not HAM_IMAGES.is_dir(), reason="../shared/data/ham10000 is absent")
def test_real_images_calibration_order_is_seeded() -> None:
    a = load_calibration(HAM_IMAGES.parent, 3, 16, seed=0)
    b = load_calibration(HAM_IMAGES.parent, 3, 16, seed=0)
    assert a.files == b.files and np.array_equal(a.images, b.images)


def test_ham10000_calibration_uses_training_split_only(ham_dir: Path) -> None:  # noqa: F811
    from sramflow.data.ham10000 import read_split

    split_file = Path(__file__).resolve().parents[1] / "weights" / "ham10000_split.json"
    if not split_file.is_file():
        pytest.skip("weights/ham10000_split.json is absent")
    cal = load_calibration(ham_dir, 6, 16, seed=0, split_file=split_file)
    train = set(read_split(split_file).ids["train"])
    assert cal.images.shape[0] == 6 and "training split" in cal.source
    assert all(Path(f).stem in train for f in cal.files)


def test_avgpool_padding_that_tflite_cannot_express_names_the_node() -> None:
    net = nn.Sequential(nn.Conv2d(3, 4, 1), nn.AvgPool2d(3, 2, padding=1, count_include_pad=False)).eval()
    g = torch_to_graph(net, 8, "ap")
    with pytest.raises(UnsupportedOpError, match="AveragePool.*count_include_pad=0"):
        quantize_graph(g, np.zeros((1, 3, 8, 8), np.float32))
