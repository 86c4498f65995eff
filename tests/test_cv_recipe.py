"""scripts/cv_recipe.sh end to end on a tiny synthetic HAM10000 (2 folds, 32 px): pooled out-of-fold figures, resumable."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from helpers.ham import write_ham
from helpers.lite0 import needs_lite0
from sramflow.data.ham10000 import load_ham10000, make_split, write_split

ROOT = Path(__file__).parents[1]

pytestmark = pytest.mark.slow


@needs_lite0
def test_cv_recipe_pools_out_of_fold_predictions_and_resumes(tmp_path: Path) -> None:
    write_ham(tmp_path / "d", 42, per_lesion=1)  # 6 lesions per class: train 28, val 7, test 7 images
    split = make_split(load_ham10000(tmp_path / "d").samples, 0)
    write_split(split, tmp_path / "split.json")
    env = {**os.environ, "PY": sys.executable, "DATA": str(tmp_path / "d"), "WORK": str(tmp_path / "w"), "FOLDS": "2",
           "RES": "32", "SPLIT_FILE": str(tmp_path / "split.json"), "BASE_ARGS": "--epochs 1",
           "QAT_ARGS": "--qat-epochs 0.1", "EXTRA": "--batch-size 8 --warmup-steps 1"}
    run = subprocess.run(["bash", str(ROOT / "scripts" / "cv_recipe.sh")], cwd=ROOT, env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-2000:]
    pooled = json.loads((tmp_path / "w" / "pooled.json").read_text())
    n_fit = len(split.ids["train"]) + len(split.ids["val"])
    assert pooled["column"] == "int8 vs float" and set(pooled["point"]) == {"float", "int8"}
    assert "int8_minus_float" in pooled["intervals"]
    images = set()
    for i in (1, 2):
        rep = json.loads((tmp_path / "w" / f"fold{i}of2" / "eval-val" / "accuracy_report.json").read_text())
        rows = (tmp_path / "w" / f"fold{i}of2" / "eval-val" / "predictions.csv").read_text().split()[1:]
        assert rep["n_images"] == len(rows)
        images |= {r.split(",")[0] for r in rows}
    assert len(images) == n_fit and not images & set(split.ids["test"])  # every train + val image once, no test image
    again = subprocess.run(["bash", str(ROOT / "scripts" / "cv_recipe.sh")], cwd=ROOT, env=env, capture_output=True, text=True)
    assert again.returncode == 0 and again.stdout.count("done before") == 2


@needs_lite0
def test_cv_recipe_continues_a_stage_stopped_mid_way_and_skips_a_finished_one(tmp_path: Path) -> None:
    write_ham(tmp_path / "d", 42, per_lesion=1)
    write_split(make_split(load_ham10000(tmp_path / "d").samples, 0), tmp_path / "split.json")
    work = tmp_path / "w"
    env = {**os.environ, "PY": sys.executable, "DATA": str(tmp_path / "d"), "WORK": str(work), "FOLDS": "2",
           "RES": "32", "SPLIT_FILE": str(tmp_path / "split.json"), "BASE_ARGS": "--epochs 2",
           "QAT_ARGS": "--qat-epochs 0.1", "EXTRA": "--batch-size 8 --warmup-steps 1", "ONLY": "1"}
    subprocess.run([sys.executable, "-m", "sramflow.data.folds", "--data", env["DATA"], "--split-file",
                    env["SPLIT_FILE"], "--folds", "2", "--without-test", "--out", str(work / "splits")], check=True,
                   cwd=ROOT, capture_output=True)
    base = work / "fold1of2" / "base"
    first = subprocess.run([sys.executable, "-m", "sramflow.train", "--data", env["DATA"], "--model", "efficientnet_b0",
                            "--resolution", "32", "--device", "cpu", "--threads", "1", "--split-file",
                            str(work / "splits" / "fold1of2.json"), "--batch-size", "8", "--warmup-steps", "1",
                            "--epochs", "2", "--out", f"{base}/", "--epochs-this-sitting", "1"],
                           cwd=ROOT, capture_output=True, text=True)  # what the script runs, stopped after epoch 1
    assert first.returncode == 0, first.stderr[-2000:]
    assert (base / "train-state.safetensors").exists()
    run = subprocess.run(["bash", str(ROOT / "scripts" / "cv_recipe.sh")], cwd=ROOT, env=env, capture_output=True,
                         text=True)
    assert run.returncode == 0, run.stderr[-2000:]
    log = (work / "fold1of2" / "base.log").read_text()
    assert f"resuming {base}" in log and "resumed from" in log and "after epoch 1/2" in log
    assert not (base / "train-state.safetensors").exists()  # finished
    assert json.loads((base / "efficientnet_b0_ham10000.metrics.json").read_text())["sittings"] == 2
    (work / "fold1of2" / "eval-val" / "accuracy_report.json").unlink()  # the evaluation again, not the training
    stamp = (base / "efficientnet_b0_ham10000.safetensors").stat().st_mtime_ns
    again = subprocess.run(["bash", str(ROOT / "scripts" / "cv_recipe.sh")], cwd=ROOT, env=env, capture_output=True,
                           text=True)
    assert again.returncode == 0, again.stderr[-2000:]
    assert "finished before" in (work / "fold1of2" / "base.log").read_text()
    assert "finished before" in (work / "fold1of2" / "qat.log").read_text()
    assert (base / "efficientnet_b0_ham10000.safetensors").stat().st_mtime_ns == stamp
    assert (work / "fold1of2" / "eval-val" / "accuracy_report.json").exists()
