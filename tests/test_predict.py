"""`sramflow predict`: images or tensors in, float and INT8 classes and logits out, one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from sramflow.cli import main
from sramflow.models.efficientnet import build_model

HAM = Path("/work/shared/data/ham10000")
CKPT = Path("weights/efficientnet_b0_ham10000.safetensors")
RES = 32
TINY = ["--model", "efficientnet_lite0", "--num-classes", "7", "--resolution", str(RES), "--calib-random", "4"]


def _write_images(folder: Path, n: int = 2) -> list[Path]:
    rng = np.random.default_rng(0)
    paths = []
    for i in range(n):
        p = folder / f"img{i}.png"
        Image.fromarray(rng.integers(0, 256, (40 + 8 * i, 50, 3), dtype=np.uint8)).save(p)
        paths.append(p)
    return paths


def _by_hand(path: Path) -> np.ndarray:
    """The evaluation preprocessing written out: RGB, bilinear resize, /255, ImageNet mean and std, CHW."""
    rgb = np.asarray(Image.open(path).convert("RGB").resize((RES, RES), Image.Resampling.BILINEAR), np.float32)
    x = (rgb / 255.0 - np.array([0.485, 0.456, 0.406], np.float32)) / np.array([0.229, 0.224, 0.225], np.float32)
    return x.transpose(2, 0, 1)


def _run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    rc = main(["predict", *args])
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_images_float_logits_match_the_torch_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    imgs = _write_images(tmp_path)
    rc, out, _ = _run([*TINY, "--image", *map(str, imgs), "--out", str(tmp_path / "o")], capsys)
    assert rc == 0
    preds = json.loads((tmp_path / "o" / "predictions.json").read_text())["predictions"]
    assert [p["input"] for p in preds] == [str(p) for p in imgs]
    with torch.no_grad():
        expected = build_model("efficientnet_lite0", 7, seed=0)(torch.from_numpy(np.stack([_by_hand(p) for p in imgs])))
    got = np.array([p["float_logits"] for p in preds])
    np.testing.assert_allclose(got, expected.numpy(), atol=1e-4)
    labels = ("akiec", "bcc", "bkl", "df", "mel", "nv", "vasc")  # 7 classes: HAM10000's names
    for p in preds:
        assert p["float_class"] == labels[int(np.argmax(p["float_logits"]))]
        assert p["int8_class"] == labels[int(np.argmax(p["int8_logits"]))]
        assert len(p["int8_logits"]) == 7 and abs(sum(p["int8_probabilities"].values()) - 1) < 1e-4
    assert f"{imgs[0]}: float {preds[0]['float_class']}" in out


def test_tensor_batch_and_int8_close_to_float(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    x = np.random.default_rng(1).standard_normal((3, 3, RES, RES)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    rc, _, _ = _run([*TINY, "--tensor", str(tmp_path / "x.npy"), "--out", str(tmp_path)], capsys)
    assert rc == 0
    preds = json.loads((tmp_path / "predictions.json").read_text())["predictions"]
    assert [p["input"] for p in preds] == [f"{tmp_path / 'x.npy'}[{i}]" for i in range(3)]
    f, q = np.array([p["float_logits"] for p in preds]), np.array([p["int8_logits"] for p in preds])
    assert not np.array_equal(f, q) and np.abs(f - q).max() < 0.5 * np.abs(f).max() + 0.5


def test_onnx_model_and_resolution_from_the_tensor(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from sramflow.frontend.torch_export import torch_to_onnx_bytes

    net = build_model("efficientnet_lite0", 4, seed=2)
    (tmp_path / "m.onnx").write_bytes(torch_to_onnx_bytes(net, RES))
    x = np.random.default_rng(2).standard_normal((2, 3, RES, RES)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    rc, out, _ = _run(["--onnx", str(tmp_path / "m.onnx"), "--tensor", str(tmp_path / "x.npy"), "--calib-random", "4",
                       "--out", str(tmp_path)], capsys)
    assert rc == 0
    preds = json.loads((tmp_path / "predictions.json").read_text())["predictions"]
    with torch.no_grad():
        np.testing.assert_allclose([p["float_logits"] for p in preds], net(torch.from_numpy(x)).numpy(), atol=1e-4)
    assert preds[0]["float_class"].startswith("class")  # 4 classes: no known names


def test_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not a jpeg at all")
    good = _write_images(tmp_path, 1)[0]
    np.save(tmp_path / "wrong.npy", np.zeros((2, 3, RES + 1, RES + 1), np.float32))
    np.save(tmp_path / "rank2.npy", np.zeros((3, RES), np.float32))
    np.save(tmp_path / "ints.npy", np.zeros((1, 3, RES, RES), np.int64))
    cases = [
        (["--image", str(good), str(bad)], "bad.jpg: image does not decode"),
        (["--image", str(tmp_path / "missing.png")], "missing.png: no such image file"),
        (["--tensor", str(tmp_path / "missing.npy")], "missing.npy: no such tensor file"),
        (["--tensor", str(tmp_path / "wrong.npy")], f"wrong.npy: inputs are (3, {RES + 1}, {RES + 1}) but the model takes (3, {RES}, {RES})"),
        (["--tensor", str(tmp_path / "rank2.npy")], "rank2.npy: shape (3, 32) is not [N, 3, R, R]"),
        (["--tensor", str(tmp_path / "ints.npy")], "ints.npy: holds int64 values"),
        (["--tensor", str(bad)], "bad.jpg: not a readable .npy"),
        ([], "give --image FILE"),
    ]
    for extra, message in cases:
        rc, _, err = _run([*TINY, *extra], capsys)
        assert rc == 2, extra
        assert message in err and err.strip().count("\n") == 0 and "Traceback" not in err, err


def test_no_calibration_is_a_named_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    img = _write_images(tmp_path, 1)[0]
    rc, _, err = _run(["--model", "efficientnet_lite0", "--resolution", str(RES), "--image", str(img)], capsys)
    assert rc == 2 and "--calib-data FOLDER" in err and "--calib-random N" in err


@pytest.mark.skipif(not (HAM / "images").is_dir() or not CKPT.is_file(), reason="HAM10000 images or checkpoint absent")
def test_real_ham10000_images_with_stored_ranges(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    imgs = sorted((HAM / "images").glob("*.jpg"))[:2]
    rc, out, _ = _run(["--checkpoint", str(CKPT), "--resolution", "224", "--image", *map(str, imgs),
                       "--out", str(tmp_path)], capsys)
    assert rc == 0
    report = json.loads((tmp_path / "predictions.json").read_text())
    assert report["class_names"] == ["akiec", "bcc", "bkl", "df", "mel", "nv", "vasc"]
    assert "ranges stored in" in report["int8_calibration"] and report["checkpoint_layout"] == "torchvision"
    for p in report["predictions"]:
        assert p["float_class"] in report["class_names"] and p["int8_class"] in report["class_names"]
        f, q = np.array(p["float_logits"]), np.array(p["int8_logits"])
        assert np.abs(f - q).max() < 0.5  # a real calibration: INT8 tracks the float logits
    assert "INT8 calibration: ranges stored in" in out
