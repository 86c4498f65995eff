"""HAM10000 loader: bad inputs on synthetic data, split properties, a small slice of the shared images."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from sramflow.data.dataset import Skipped, ham_items, iter_batches, load_arrays
from sramflow.data.ham10000 import (
    LABELS,
    load_ham10000,
    load_or_make_split,
    make_split,
    read_metadata,
    read_split,
    select,
    write_split,
)
from sramflow.errors import DataError

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "ham10000"
HEADER = "lesion_id,image_id,dx,dx_type,age,sex,localization\n"


def _img(path: Path, seed: int = 0) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 255, (15, 20, 3), dtype=np.uint8)).save(path)


def _dataset(root: Path, n_lesions: int = 70, per_lesion: int = 2) -> list[tuple[str, str, str]]:
    """Synthetic HAM10000 layout: images split over two part folders, several images per lesion."""
    rows = []
    k = 0
    for lesion in range(n_lesions):
        dx = LABELS[lesion % len(LABELS)]
        for _ in range(per_lesion):
            rows.append((f"HAM_{lesion:07d}", f"ISIC_{k:07d}", dx))
            _img(root / f"HAM10000_images_part_{1 + k % 2}" / f"ISIC_{k:07d}.jpg", k)
            k += 1
    (root / "HAM10000_metadata.csv").write_text(HEADER + "".join(f"{l},{i},{d},histo,50.0,male,back\n" for l, i, d in rows))
    return rows


def test_official_layout_found_recursively(tmp_path: Path) -> None:
    rows = _dataset(tmp_path, n_lesions=14)
    ds = load_ham10000(tmp_path)
    assert len(ds.samples) == len(rows) and ds.missing == ()
    assert {s.path.parent.name for s in ds.samples} == {"HAM10000_images_part_1", "HAM10000_images_part_2"}
    assert ds.samples[0].label == LABELS.index(rows[0][2])


def test_missing_columns(tmp_path: Path) -> None:
    (tmp_path / "HAM10000_metadata.csv").write_text("lesion_id,image\nHAM_1,ISIC_1\n")
    with pytest.raises(DataError, match="missing column.*image_id.*dx"):
        read_metadata(tmp_path / "HAM10000_metadata.csv")


def test_unknown_labels(tmp_path: Path) -> None:
    (tmp_path / "HAM10000_metadata.csv").write_text(HEADER + "HAM_1,ISIC_1,nv,,,,\nHAM_2,ISIC_2,melanoma,,,,\n")
    with pytest.raises(DataError, match="unknown dx label.*'melanoma'"):
        read_metadata(tmp_path / "HAM10000_metadata.csv")


def test_no_metadata(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no HAM10000 metadata CSV"):
        load_ham10000(tmp_path)
    with pytest.raises(DataError, match="does not exist"):
        load_ham10000(tmp_path / "nope")


def test_images_missing_from_disk_are_reported_not_fatal(tmp_path: Path) -> None:
    rows = _dataset(tmp_path, n_lesions=7)
    gone = tmp_path / "HAM10000_images_part_1" / f"{rows[0][1]}.jpg"
    gone.unlink()
    ds = load_ham10000(tmp_path)
    assert ds.missing == (rows[0][1],)
    assert len(ds.samples) == len(rows) - 1


def test_all_images_missing_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "HAM10000_metadata.csv").write_text(HEADER + "HAM_1,ISIC_1,nv,,,,\n")
    with pytest.raises(DataError, match="none of the 1 images"):
        load_ham10000(tmp_path)


def test_undecodable_image_skipped_by_name(tmp_path: Path) -> None:
    rows = _dataset(tmp_path, n_lesions=7)
    bad = next(tmp_path.rglob(f"{rows[3][1]}.jpg"))
    bad.write_bytes(b"not a jpeg")
    ds = load_ham10000(tmp_path)
    skipped = Skipped()
    batches = list(iter_batches(ham_items(ds.samples), 16, 5, skipped))
    assert skipped.names() == [rows[3][1]] and "does not decode" in skipped.reasons[rows[3][1]]
    assert sum(len(b.names) for b in batches) == len(rows) - 1
    assert batches[0].x.shape == (5, 3, 16, 16) and batches[0].x.dtype == np.float32
    arr = load_arrays(ham_items(ds.samples), 16)
    assert arr.x.shape[0] == len(rows) - 1 == len(arr.labels)


def test_split_grouped_stratified_deterministic(tmp_path: Path) -> None:
    _dataset(tmp_path, n_lesions=140, per_lesion=2)
    ds = load_ham10000(tmp_path)
    a, b, c = make_split(ds.samples, seed=3), make_split(ds.samples, seed=3), make_split(ds.samples, seed=4)
    assert a == b and a != c
    lesion_of = {s.image_id: s.lesion_id for s in ds.samples}
    owner: dict[str, str] = {}
    for name, ids in a.ids.items():
        for i in ids:
            assert owner.setdefault(lesion_of[i], name) == name, "a lesion is in two splits"
    assert sum(a.counts().values()) == len(ds.samples)
    label_of = {s.image_id: LABELS[s.label] for s in ds.samples}
    for name, frac in zip(("train", "val", "test"), (0.7, 0.1, 0.2)):
        per_class = Counter(label_of[i] for i in a.ids[name])
        for lab in LABELS:  # 20 lesions (40 images) per class
            assert per_class[lab] == round(20 * frac) * 2


def test_split_file_roundtrip_and_select(tmp_path: Path) -> None:
    _dataset(tmp_path / "d", n_lesions=28)
    ds = load_ham10000(tmp_path / "d")
    split = make_split(ds.samples, seed=0)
    write_split(split, tmp_path / "split.json")
    assert read_split(tmp_path / "split.json") == split
    assert load_or_make_split(ds, tmp_path / "split.json") == split
    assert len(select(ds, split, "all")) == len(ds.samples)
    assert {s.image_id for s in select(ds, split, "test")} == set(split.ids["test"])
    (tmp_path / "bad.json").write_text(json.dumps({"format": "other"}))
    with pytest.raises(DataError, match="not a sramflow HAM10000 split"):
        read_split(tmp_path / "bad.json")
    with pytest.raises(DataError, match="unknown split"):
        select(ds, split, "holdout")


def test_bad_fractions() -> None:
    with pytest.raises(DataError, match="fractions"):
        make_split([], fractions=(0.5, 0.5, 0.5))


@pytest.mark.skipif(not SHARED.is_dir(), reason="shared HAM10000 images not present")
def test_first_40_real_metadata_rows_load_and_preprocess(tmp_path: Path) -> None:
    """The first 40 rows of the real metadata, with the real images, through loader and preprocessing."""
    lines = (SHARED / "HAM10000_metadata.csv").read_text().splitlines()[:41]
    (tmp_path / "HAM10000_metadata.csv").write_text("\n".join(lines) + "\n")
    for line in lines[1:]:
        image_id = line.split(",")[1]
        (tmp_path / "images").mkdir(exist_ok=True)
        (tmp_path / "images" / f"{image_id}.jpg").symlink_to(SHARED / "images" / f"{image_id}.jpg")
    ds = load_ham10000(tmp_path)
    assert len(ds.samples) == 40 and ds.missing == ()
    arr = load_arrays(ham_items(ds.samples[:8]), 64)
    assert arr.x.shape == (8, 3, 64, 64) and np.isfinite(arr.x).all()
    assert -2.2 < float(arr.x.min()) and float(arr.x.max()) < 2.7  # ImageNet-normalized range


@pytest.mark.skipif(not SHARED.is_dir(), reason="shared HAM10000 images not present")
def test_committed_split_matches_shared_copy() -> None:
    split_file = Path(__file__).resolve().parents[1] / "weights" / "ham10000_split.json"
    if not split_file.exists():
        pytest.skip("no committed split file")
    split = read_split(split_file)
    meta = read_metadata(SHARED / "HAM10000_metadata.csv")
    lesion = {r.image_id: r.lesion_id for r in meta}
    assert sum(split.counts().values()) == len(meta)
    owners: dict[str, set[str]] = {}
    for name, ids in split.ids.items():
        for i in ids:
            owners.setdefault(lesion[i], set()).add(name)
    assert all(len(v) == 1 for v in owners.values())
