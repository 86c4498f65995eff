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
