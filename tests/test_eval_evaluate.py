"""``sramflow evaluate`` end to end on a synthetic HAM10000 folder with a random-weight model (float half)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from helpers.ham import write_ham
from sramflow import cli
from sramflow.data.ham10000 import load_ham10000, make_split, write_split


def main(argv: list[str]) -> int:
    return cli.main(argv)


def test_evaluate_float_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "ham"
    write_ham(data, 21, per_lesion=1, folder="HAM10000_images_part_1")
    (data / "HAM10000_images_part_1" / "ISIC_0000005.jpg").write_bytes(b"broken")
    split = tmp_path / "split.json"
    write_split(make_split(load_ham10000(data).samples, seed=0), split)
    out = tmp_path / "out"
    rc = main(["evaluate", "--model", "efficientnet_lite0", "--num-classes", "7", "--resolution", "32",
               "--data", str(data), "--split", "all", "--split-file", str(split), "--out", str(out),
               "--float-only", "--no-progress"])
    assert rc == 0
    text = capsys.readouterr().out
    assert "balanced accuracy" in text and "ISIC_0000005" in text
    rep = json.loads((out / "accuracy_report.json").read_text())
    assert rep["n_images"] == 20 and rep["n_skipped_undecodable"] == 1
    assert set(rep["float"]) >= {"accuracy", "balanced_accuracy", "per_class", "mel_sensitivity",
                                  "mel_specificity", "confusion_matrix", "top1_agreement_float_vs_int8"}
    assert sum(map(sum, rep["float"]["confusion_matrix"]["counts"])) == 20
    assert rep["int8"] is None


def test_evaluate_image_folder_needs_split_all(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "nv").mkdir()
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "nv" / "a.png")
    rc = main(["evaluate", "--data", str(tmp_path), "--split", "test", "--float-only", "--no-progress"])
    assert rc == 2 and "use --split all" in capsys.readouterr().err


def _ham_with_split(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A synthetic HAM10000 folder, its seeded lesion split file and an output folder path."""
    data = tmp_path / "ham"
    write_ham(data, 28, per_lesion=1, folder="HAM10000_images_part_1")
    split = tmp_path / "split.json"
    write_split(make_split(load_ham10000(data).samples, seed=0), split)
    return data, split, tmp_path / "out"


@pytest.mark.slow
def test_evaluate_int8_calibrated_on_train_split(tmp_path: Path) -> None:
    data, split, out = _ham_with_split(tmp_path)
    rc = main(["evaluate", "--model", "efficientnet_lite0", "--num-classes", "7", "--resolution", "32",
               "--data", str(data), "--split", "test", "--split-file", str(split), "--out", str(out),
               "--calib-images", "4", "--no-progress"])
    assert rc == 0
    rep = json.loads((out / "accuracy_report.json").read_text())
    assert rep["n_images"] == 7 and rep["int8"]["n_images"] == 7
    assert 0.0 <= rep["int8"]["top1_agreement_float_vs_int8"] <= 1.0
    assert rep["int8_calibration"]["source"] == "train split of the split file"
    ci = rep["confidence_intervals"]
    assert ci["unit"] == "lesion" and ci["n_units"] == 7 and ci["level"] == 0.95
    for model in ("float", "int8"):
        lo, hi = ci[model]["accuracy"]
        assert lo <= rep[model]["accuracy"] <= hi
    assert set(ci["int8_minus_float"]) == {"accuracy", "balanced_accuracy"}
    rows = (out / "predictions.csv").read_text().splitlines()
    assert rows[0] == "image,true,float,int8" and len(rows) == 8
    cm = np.array(rep["int8"]["confusion_matrix"]["counts"])
    classes = rep["classes"]
    for line in rows[1:]:  # the per-image file reproduces the INT8 confusion matrix
        _, t, _, q = line.split(",")
        cm[classes.index(t), classes.index(q)] -= 1
    assert not cm.any()


def test_evaluate_calibration_needs_training_images(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data, other = tmp_path / "ham", tmp_path / "other"
    write_ham(data, 21, per_lesion=1, folder="HAM10000_images_part_1")
    write_ham(other, 7, per_lesion=1, folder="HAM10000_images_part_1")
    split = tmp_path / "split.json"
    write_split(make_split(load_ham10000(data).samples, seed=0), split)
    for p in (other / "HAM10000_images_part_1").glob("*.jpg"):  # ids of `other` are only test/val ids here
        p.rename(p.with_name(p.name.replace("ISIC_00000", "ISIC_99999")))
    meta = (other / "HAM10000_metadata.csv").read_text().replace("ISIC_00000", "ISIC_99999")
    (other / "HAM10000_metadata.csv").write_text(meta)
    rc = main(["evaluate", "--model", "efficientnet_lite0", "--num-classes", "7", "--resolution", "32",
               "--data", str(other), "--split", "all", "--split-file", str(split), "--no-progress"])
    assert rc == 2 and "--calib-data" in capsys.readouterr().err


@pytest.mark.slow
def test_evaluate_weight_bits_adds_a_paired_mixed_column(tmp_path: Path) -> None:
    data, split, out = _ham_with_split(tmp_path)
    rc = main(["evaluate", "--model", "efficientnet_lite0", "--num-classes", "7", "--resolution", "32",
               "--data", str(data), "--split", "test", "--split-file", str(split), "--out", str(out),
               "--calib-images", "4", "--no-progress", "--weight-bits", "4"])
    assert rc == 0
    rep = json.loads((out / "accuracy_report.json").read_text())
    assert rep["weight_bits"] == 4 and rep["mixed"]["n_images"] == 7 and rep["mixed"]["method"].startswith("PTQ")
    ci = rep["confidence_intervals"]
    lo, hi = ci["mixed"]["balanced_accuracy"]
    assert lo <= rep["mixed"]["balanced_accuracy"] <= hi
    assert set(ci["mixed_minus_int8"]) == {"accuracy", "balanced_accuracy"} and "mixed_minus_float" in ci
