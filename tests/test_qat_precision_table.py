"""The measured-accuracy table holds rows of several checkpoints (the shipped one and a QAT INT4 one), each found
only by its own sha256; the writer replaces a checkpoint's block and keeps the others."""

from __future__ import annotations

import json
from pathlib import Path

from sramflow.eval.precision_table import measured_accuracy, merged, spec_key

PW4 = spec_key("pointwise=4,default=8")


def _entry(method: str, bal: float) -> dict:
    return {"method": method, "split": "test", "n_images": 1689, "resolution": 128, "accuracy": 0.7,
            "accuracy_ci95": [0.6, 0.8], "balanced_accuracy": bal, "balanced_accuracy_ci95": [bal - 0.05, bal + 0.05]}


def _table(name: str, sha: str, method: str, bal: float) -> dict:
    return {"checkpoint": name, "checkpoint_sha256": sha, "source": "s", "entries": {PW4: _entry(method, bal)}}


def test_rows_of_each_checkpoint_are_found_by_its_hash(tmp_path: Path) -> None:
    doc = merged(None, _table("shipped", "aaa", "PTQ", 0.55))
    doc = merged(doc, _table("w4pw", "bbb", "QAT", 0.65))
    doc = merged(doc, _table("w4pw", "bbb", "QAT", 0.66))  # re-measured: replaced, not added
    assert len(doc["other_checkpoints"]) == 1
    p = tmp_path / "t.json"
    p.write_text(json.dumps(doc))
    assert measured_accuracy("pointwise=4,default=8", "aaa", p).entry["method"] == "PTQ"
    qat = measured_accuracy("default=8,pointwise=4", "bbb", p).entry
    assert qat["method"] == "QAT" and qat["balanced_accuracy"] == 0.66
    m = measured_accuracy("pointwise=4,default=8", "ccc", p)
    assert m.entry is None and "aaa" in m.note and "bbb" in m.note and "not used" in m.note
    # the shipped block re-measured keeps the other checkpoints
    doc = merged(doc, _table("shipped", "aaa", "PTQ", 0.56))
    assert doc["entries"][PW4]["balanced_accuracy"] == 0.56 and doc["other_checkpoints"][0]["checkpoint"] == "w4pw"
