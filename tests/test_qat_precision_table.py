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


def test_a_row_added_later_keeps_the_rows_before() -> None:
    """``merged(..., add=True)``: a spec measured later joins the checkpoint's block; without it the block is replaced;
    a re-measured spec is replaced either way, in the top-level block and in ``other_checkpoints``."""
    layer = "stem=8,depthwise=8,pointwise=8,se=8,conv=8,classifier=8,features.6.*=4"
    later = {"checkpoint": "shipped", "checkpoint_sha256": "aaa", "source": "s", "entries": {layer: _entry("PTQ", 0.6)}}
    for doc in (merged(None, _table("shipped", "aaa", "PTQ", 0.55)),
                merged(merged(None, _table("x", "xxx", "PTQ", 0.5)), _table("shipped", "aaa", "PTQ", 0.55))):
        added = merged(doc, later, add=True)
        block = added if added["checkpoint_sha256"] == "aaa" else added["other_checkpoints"][-1]
        assert set(block["entries"]) == {PW4, layer} and block["entries"][PW4]["balanced_accuracy"] == 0.55
        replaced = merged(doc, later)
        block = replaced if replaced["checkpoint_sha256"] == "aaa" else replaced["other_checkpoints"][-1]
        assert set(block["entries"]) == {layer}


def test_a_mixed_column_is_compared_with_another_checkpoints_int8(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    """predictions.csv carries the mixed predictions, and compare_predictions pairs them with another model's INT8
    column: the QAT INT4 model is judged against the shipped INT8 model on the same lesions."""
    import importlib.util

    from helpers.ham import write_ham
    from sramflow.data.ham10000 import LABELS
    from sramflow.eval.evaluate import EvalResult, predictions_csv

    rows = (("ISIC_0000000", 0, 0, 0), ("ISIC_0000001", 1, 2, None))
    plain = EvalResult(2, None, None, None, (), {}, rows)
    assert predictions_csv(plain, LABELS).splitlines()[0] == "image,true,float,int8"
    with_mixed = predictions_csv(EvalResult(2, None, None, None, (), {}, rows, None, (3, 1)), LABELS).splitlines()
    assert with_mixed == ["image,true,float,int8,mixed", "ISIC_0000000,akiec,akiec,akiec,df",
                          "ISIC_0000001,bcc,bkl,,bcc"]

    spec = importlib.util.spec_from_file_location("cmp", Path(__file__).parents[1] / "scripts" / "compare_predictions.py")
    cmp = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cmp)
    write_ham(tmp_path / "ham", 40, per_lesion=2)
    a, b = ["image,true,float,int8"], ["image,true,float,int8,mixed"]
    for k in range(40):
        t, wrong = LABELS[(k // 2) % 7], LABELS[((k // 2) + 1) % 7]
        a.append(f"ISIC_{k:07d},{t},{t},{wrong if k % 4 == 0 else t}")  # shipped INT8: 3 in 4 right
        b.append(f"ISIC_{k:07d},{t},{wrong},{wrong},{t}")  # new model: only its mixed column is right
    (tmp_path / "a.csv").write_text("\n".join(a) + "\n")
    (tmp_path / "b.csv").write_text("\n".join(b) + "\n")
    assert cmp.main([str(tmp_path / "a.csv"), str(tmp_path / "b.csv"), "--data", str(tmp_path / "ham"),
                     "--column", "int8", "--column-b", "mixed", "--names", "int8,mixed", "--out",
                     str(tmp_path / "c.json")]) == 0
    res = json.loads((tmp_path / "c.json").read_text())
    assert res["column"] == "mixed vs int8"
    assert res["point"]["int8"]["accuracy"] == 0.75 and res["point"]["mixed"]["accuracy"] == 1.0
    assert "mixed_minus_int8" in res["intervals"]


def test_a_new_shipped_checkpoint_takes_the_top_level_and_keeps_the_old_rows(tmp_path: Path) -> None:
    """``merged(..., shipped=True)``: the new checkpoint's block becomes the top level; the previous shipped block
    moves to ``other_checkpoints`` with its rows, and each is still found only by its own hash."""
    doc = merged(merged(None, _table("shipped", "aaa", "PTQ", 0.55)), _table("w4pw", "bbb", "QAT", 0.65))
    doc = merged(doc, _table("shipped", "ccc", "PTQ", 0.49), shipped=True)
    assert doc["checkpoint_sha256"] == "ccc" and doc["source"] == "s"
    assert [b["checkpoint_sha256"] for b in doc["other_checkpoints"]] == ["bbb", "aaa"]
    assert all("source" not in b and "other_checkpoints" not in b for b in doc["other_checkpoints"])
    p = tmp_path / "t.json"
    p.write_text(json.dumps(doc))
    assert measured_accuracy("pointwise=4,default=8", "aaa", p).entry["balanced_accuracy"] == 0.55
    assert measured_accuracy("pointwise=4,default=8", "ccc", p).entry["balanced_accuracy"] == 0.49
    again = merged(doc, _table("shipped", "ccc", "PTQ", 0.50), shipped=True)  # re-measured: replaced in place
    assert again["entries"][PW4]["balanced_accuracy"] == 0.50 and len(again["other_checkpoints"]) == 2
