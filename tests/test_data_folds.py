"""Cross-validation folds (``sramflow.data.folds``): a partition of the train + val lesions, stratified, test untouched."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from helpers.ham import write_ham
from sramflow.data.folds import main, make_folds
from sramflow.data.ham10000 import load_ham10000, make_split, read_split, write_split
from sramflow.errors import DataError


def _data(tmp_path: Path, n: int = 280):  # noqa: ANN202
    write_ham(tmp_path / "d", n)  # 2 images per lesion, classes cycling: 20 lesions per class
    ds = load_ham10000(tmp_path / "d")
    return ds, make_split(ds.samples, 0)


def test_folds_partition_train_and_val_by_lesion(tmp_path: Path) -> None:
    ds, split = _data(tmp_path)
    folds = make_folds(ds.samples, split, 4)
    pool = set(split.ids["train"]) | set(split.ids["val"])
    vals = [set(f.ids["val"]) for f in folds]
    assert set().union(*vals) == pool and sum(len(v) for v in vals) == len(pool)  # every image in exactly one fold
    lesion = {s.image_id: s.lesion_id for s in ds.samples}
    label = {s.image_id: s.label for s in ds.samples}
    for f, v in zip(folds, vals):
        assert f.ids["test"] == split.ids["test"]
        assert set(f.ids["train"]) == pool - v
        assert not {lesion[i] for i in v} & {lesion[i] for i in f.ids["train"]}  # no lesion on both sides
        assert f.fold is not None and f.fold.startswith(f"fold {folds.index(f) + 1} of 4")
    for c in range(7):  # stratified: each class's lesions spread over the folds within one lesion
        per_fold = [len({lesion[i] for i in v if label[i] == c}) for v in vals]
        assert max(per_fold) - min(per_fold) <= 1
    sizes = [len({lesion[i] for i in v}) for v in vals]
    assert max(sizes) - min(sizes) <= 1


def test_folds_are_seeded(tmp_path: Path) -> None:
    ds, split = _data(tmp_path)
    a, b, c = make_folds(ds.samples, split, 3, 0), make_folds(ds.samples, split, 3, 0), make_folds(ds.samples, split, 3, 1)
    assert a == b and a != c


def test_fold_files_round_trip_and_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ds, split = _data(tmp_path)
    write_split(split, tmp_path / "split.json")
    args = ["--data", str(tmp_path / "d"), "--split-file", str(tmp_path / "split.json"), "--out", str(tmp_path / "f")]
    assert main([*args, "--folds", "3"]) == 0
    back = read_split(tmp_path / "f" / "fold2of3.json")
    assert back == make_folds(ds.samples, split, 3, 0, str(tmp_path / "split.json"))[1]
    assert Counter(Path(p).name for p in (tmp_path / "f").iterdir()) == Counter(f"fold{i}of3.json" for i in (1, 2, 3))
    assert main([*args, "--folds", "1"]) == 2
    assert "--folds must be at least 2, got 1" in capsys.readouterr().err
    with pytest.raises(DataError, match="train \\+ val lesions on disk, fewer than --folds 1000"):
        make_folds(ds.samples, split, 1000, source="s.json")


def test_folds_without_test_never_hold_a_test_image(tmp_path: Path) -> None:
    ds, split = _data(tmp_path)
    with_test, without = make_folds(ds.samples, split, 3), make_folds(ds.samples, split, 3, with_test=False)
    for a, b in zip(with_test, without):
        assert b.ids["test"] == () and a.ids["test"] == split.ids["test"] and split.ids["test"]
        assert (a.ids["train"], a.ids["val"]) == (b.ids["train"], b.ids["val"])  # the same folds otherwise
        assert b.fold is not None and b.fold.endswith("test left out")
    write_split(split, tmp_path / "split.json")
    out = tmp_path / "f"
    assert main(["--data", str(tmp_path / "d"), "--split-file", str(tmp_path / "split.json"), "--out", str(out),
                 "--folds", "3", "--without-test"]) == 0
    assert read_split(out / "fold1of3.json").ids["test"] == ()
