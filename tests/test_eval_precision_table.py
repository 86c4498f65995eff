"""The measured-accuracy table: a missing file, an unknown spec or another checkpoint's table all fall back to
the assumption, with a note that says which."""

from __future__ import annotations

import json
from pathlib import Path

from sramflow.eval.precision_table import measured_accuracy, spec_key

ENTRY = {"method": "PTQ", "split": "test", "n_images": 1500, "resolution": 128,
         "accuracy": 0.8, "accuracy_ci95": [0.78, 0.82], "balanced_accuracy": 0.6, "balanced_accuracy_ci95": [0.55, 0.65]}


def write(tmp_path: Path, sha: str = "abc") -> Path:
    p = tmp_path / "t.json"
    p.write_text(json.dumps({"checkpoint_sha256": sha, "entries": {spec_key("pointwise=4,default=8"): ENTRY}}))
    return p


def test_missing_file_is_assumed(tmp_path: Path) -> None:
    m = measured_accuracy("4", "abc", tmp_path / "none.json")
    assert m.entry is None and "no measured accuracy table" in m.note


def test_unknown_spec_is_assumed(tmp_path: Path) -> None:
    m = measured_accuracy("4", "abc", write(tmp_path))
    assert m.entry is None and "not in" in m.note


def test_other_checkpoint_is_not_used(tmp_path: Path) -> None:
    m = measured_accuracy("pointwise=4,default=8", "def", write(tmp_path))
    assert m.entry is None and "not used" in m.note and "abc" in m.note


def test_measured_spec_found_under_any_spelling(tmp_path: Path) -> None:
    m = measured_accuracy("default=8,pointwise=4", "abc", write(tmp_path))
    assert m.entry == ENTRY and m.note.startswith("measured (PTQ, test split, 1500 images)")
