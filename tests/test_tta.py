"""Test-time augmentation (``eval.tta``; ``sramflow evaluate --tta``, ``run --tta``): the views, their sum, the
report beside the single pass, and the cost stated as k inferences on the run's hardware."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from helpers.ham import write_ham
from sramflow import cli
from sramflow.data.ham10000 import load_ham10000, make_split, write_split
from sramflow.errors import DataError
from sramflow.eval.evaluate import EvalConfig, evaluate
from sramflow.eval.tta import tta_description, tta_logits, tta_passes
from sramflow.frontend.source import ModelSource
from sramflow.report.rows import tta_sentences


def _probe(x: np.ndarray) -> np.ndarray:
    """A 'model' whose output is the first row of channel 0: flips change it in a known way."""
    return x[:, 0, 0, :].astype(np.float64)


def test_views_are_flips_and_their_outputs_are_summed() -> None:
    x = np.random.default_rng(0).standard_normal((2, 3, 4, 5)).astype(np.float32)
    h = tta_logits(_probe, x, "hflip")
    np.testing.assert_allclose(h, x[:, 0, 0, :] + x[:, 0, 0, ::-1])
    f = tta_logits(_probe, x, "flips")
    np.testing.assert_allclose(f, x[:, 0, 0, :] + x[:, 0, 0, ::-1] + x[:, 0, -1, :] + x[:, 0, -1, ::-1], rtol=1e-6)
    np.testing.assert_allclose(tta_logits(_probe, x, "none"), x[:, 0, 0, :])
    assert [tta_passes(m) for m in ("none", "hflip", "flips")] == [1, 2, 4]
    assert tta_description("flips")["views"] == ["identity", "horizontal flip", "vertical flip", "both flips"]


def test_the_single_pass_output_is_reused_not_recomputed() -> None:
    x = np.ones((1, 3, 2, 2), np.float32)
    seen: list[np.ndarray] = []

    def predict(v: np.ndarray) -> np.ndarray:
        seen.append(v)
        return np.array([[1.0, 0.0]])

    out = tta_logits(predict, x, "hflip", identity=np.array([[5.0, 0.0]]))
    assert len(seen) == 1 and out.tolist() == [[6.0, 0.0]]


def test_an_unknown_mode_is_refused_before_any_work(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="--tta must be one of none, hflip, flips"):
        tta_passes("rotate")
    with pytest.raises(DataError, match="--tta"):  # the data folder does not exist: the mode is checked first
        evaluate(ModelSource(model="efficientnet_lite0", num_classes=7, resolution=32),
                 EvalConfig(data=str(tmp_path / "nowhere"), tta="rotate"))


def test_evaluate_reports_tta_beside_an_unchanged_single_pass(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "ham"
    write_ham(data, 14, per_lesion=1, folder="HAM10000_images_part_1")
    split = tmp_path / "split.json"
    write_split(make_split(load_ham10000(data).samples, seed=0), split)
    common = ["evaluate", "--model", "efficientnet_lite0", "--num-classes", "7", "--resolution", "32",
              "--data", str(data), "--split", "all", "--split-file", str(split), "--float-only", "--no-progress"]
    assert cli.main([*common, "--out", str(tmp_path / "one")]) == 0
    assert cli.main([*common, "--out", str(tmp_path / "tta"), "--tta", "hflip"]) == 0
    assert "test-time augmentation hflip (2 passes" in capsys.readouterr().out
    one = json.loads((tmp_path / "one" / "accuracy_report.json").read_text())
    rep = json.loads((tmp_path / "tta" / "accuracy_report.json").read_text())
    assert rep["float"] == one["float"]  # the single-pass figures do not move
    assert "tta" not in one
    t = rep["tta"]
    assert t["mode"] == "hflip" and t["passes"] == 2 and t["float_tta"]["n_images"] == 14 and "int8_tta" not in t
    ci = rep["confidence_intervals"]
    assert set(ci["float_tta_minus_float"]) == {"accuracy", "balanced_accuracy"}
    lo, hi = ci["float_tta"]["accuracy"]
    assert lo <= t["float_tta"]["accuracy"] <= hi


def test_run_states_tta_as_k_inferences_of_this_hardware() -> None:
    acc = {"tta": {**tta_description("flips"), "int8_tta": {"accuracy": 0.8, "balanced_accuracy": 0.7}}}
    a = SimpleNamespace(accuracy=acc, simulation={"total": {"time_ms": 100.5, "energy_uj": 2500.0}})
    (s,) = tta_sentences(a)  # type: ignore[arg-type]
    assert "int8 0.8000 (balanced 0.7000)" in s
    assert "4 x 100.50 ms = 402.00 ms" in s and "4 x 2.500 mJ = 10.000 mJ" in s
    assert tta_sentences(SimpleNamespace(accuracy={"float": {}}, simulation={})) == []  # type: ignore[arg-type]


def test_run_refuses_tta_without_data(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc = cli.main(["run", "--model", "efficientnet_lite0", "--num-classes", "7", "--resolution", "32",
                   "--out", str(tmp_path / "out"), "--tta", "hflip", "--no-advise"])
    assert rc != 0 and "--tta hflip measures accuracy, which needs --data" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
