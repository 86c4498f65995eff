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


def test_table_from_reports_keys_by_canonical_spec(tmp_path: Path) -> None:
    from sramflow.eval.precision_table import file_sha256, table_from_reports

    ck = tmp_path / "m.safetensors"
    ck.write_bytes(b"x")
    blk = {"accuracy": 0.5, "balanced_accuracy": 0.4}
    ci = {k: {"accuracy": [0.4, 0.6], "balanced_accuracy": [0.3, 0.5]} for k in ("int8", "mixed", "mixed_minus_int8")}
    rep = {"split": "test", "n_images": 7, "resolution": 32, "int8": blk, "mixed": blk, "weight_bits": 4,
           "confidence_intervals": ci}
    t = table_from_reports([rep], ck)
    assert t["checkpoint_sha256"] == file_sha256(ck) and set(t["entries"]) == {"8", "4"}
    assert t["entries"]["4"]["method"] == "PTQ" and t["entries"]["4"]["balanced_accuracy_ci95"] == [0.3, 0.5]
