"""HAM10000: metadata CSV, images found recursively, lesion-grouped stratified seeded splits.

Official layout: ``HAM10000_metadata.csv`` (``lesion_id,image_id,dx,...``, one row per image) and
the JPEGs in one or more folders anywhere below the root (``HAM10000_images_part_1/``, ``_part_2/``,
or ``images/`` as in the shared 200x150 copy). Several images can show the same lesion, so splits
group by ``lesion_id``: a lesion never appears in two splits. The split is written to a JSON file so
training, calibration and evaluation use the same one.
"""

from __future__ import annotations

import csv
import json
import random
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

from sramflow.data.preprocess import IMAGE_SUFFIXES
from sramflow.errors import DataError
from sramflow.jsonio import write_text_atomic

LABELS: tuple[str, ...] = ("akiec", "bcc", "bkl", "df", "mel", "nv", "vasc")
MELANOMA = "mel"
REQUIRED_COLUMNS: tuple[str, ...] = ("lesion_id", "image_id", "dx")
SPLIT_NAMES: tuple[str, ...] = ("train", "val", "test")
DEFAULT_FRACTIONS: tuple[float, float, float] = (0.7, 0.1, 0.2)
SPLIT_FORMAT = "sramflow-ham10000-split-v1"


@dataclass(frozen=True)
class Sample:
    image_id: str
    lesion_id: str
    label: int  # index into LABELS
    path: Path


@dataclass(frozen=True)
class Ham10000:
    root: Path
    metadata: Path
    samples: tuple[Sample, ...]
    missing: tuple[str, ...]  # image_ids listed in the CSV with no file on disk

    @property
    def class_names(self) -> tuple[str, ...]:
        return LABELS


@dataclass(frozen=True)
class Split:
    seed: int
    fractions: tuple[float, float, float]
    ids: dict[str, tuple[str, ...]]  # split name -> sorted image ids
    fold: str | None = None  # cross-validation fold: which split it was derived from and how (sramflow.data.folds)

    def counts(self) -> dict[str, int]:
        return {k: len(v) for k, v in self.ids.items()}


@dataclass(frozen=True)
class _Row:
    lesion_id: str
    image_id: str
    dx: str


def find_metadata(root: Path) -> Path:
    """The metadata CSV: ``HAM10000_metadata.csv`` (or ``*metadata*.csv``) at or below ``root``."""
    if not root.is_dir():
        raise DataError(f"{root}: data folder does not exist")
    direct = root / "HAM10000_metadata.csv"
    if direct.is_file():
        return direct
    found = sorted(p for p in root.rglob("*.csv") if "metadata" in p.name.lower())
    if not found:
        raise DataError(f"{root}: no HAM10000 metadata CSV (expected HAM10000_metadata.csv)")
    return found[0]


def read_metadata(csv_path: Path) -> list[_Row]:
    """Rows of the metadata CSV; missing columns, unknown labels and duplicate ids raise DataError."""
    try:
        text = csv_path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise DataError(f"{csv_path}: cannot read ({exc})") from None
    reader = csv.DictReader(text.splitlines())
    columns = [c.strip() for c in (reader.fieldnames or [])]
    absent = [c for c in REQUIRED_COLUMNS if c not in columns]
    if absent:
        raise DataError(f"{csv_path}: missing column(s) {', '.join(absent)}; found {', '.join(columns) or 'none'}")
    rows: list[_Row] = []
    seen: set[str] = set()
    unknown: Counter[str] = Counter()
    for line_no, raw in enumerate(reader, start=2):
        rec = {(k or "").strip(): (v or "").strip() for k, v in raw.items()}
        if not rec["image_id"] or not rec["lesion_id"]:
            raise DataError(f"{csv_path}:{line_no}: empty lesion_id or image_id")
        if rec["dx"] not in LABELS:
            unknown[rec["dx"]] += 1
            continue
        if rec["image_id"] in seen:
            raise DataError(f"{csv_path}:{line_no}: duplicate image_id {rec['image_id']}")
        seen.add(rec["image_id"])
        rows.append(_Row(rec["lesion_id"], rec["image_id"], rec["dx"]))
    if unknown:
        listed = ", ".join(f"{k!r} ({n})" for k, n in sorted(unknown.items()))
        raise DataError(f"{csv_path}: unknown dx label(s) {listed}; expected one of {', '.join(LABELS)}")
    if not rows:
        raise DataError(f"{csv_path}: no rows")
    return rows


def index_images(root: Path) -> dict[str, Path]:
    """Image stem -> path for every image file below ``root`` (recursively)."""
    out: dict[str, Path] = {}
    for p in sorted(root.rglob("*")):
        if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file():
            out.setdefault(p.stem, p)
    return out


def load_ham10000(root: str | Path) -> Ham10000:
    """Read the metadata and locate every image; images missing from disk are listed, not fatal."""
    r = Path(root)
    meta = find_metadata(r)
    rows = read_metadata(meta)
    files = index_images(r)
    samples, missing = [], []
    for row in rows:
        path = files.get(row.image_id)
        if path is None:
            missing.append(row.image_id)
            continue
        samples.append(Sample(row.image_id, row.lesion_id, LABELS.index(row.dx), path))
    if not samples:
        raise DataError(f"{r}: none of the {len(rows)} images in {meta.name} were found below {r}")
    return Ham10000(r, meta, tuple(samples), tuple(missing))


def _lesion_labels(samples: tuple[Sample, ...] | list[Sample]) -> dict[str, int]:
    """Each lesion's class: the most common label of its images (ties: the lower index)."""
    per: dict[str, Counter[int]] = defaultdict(Counter)
    for s in samples:
        per[s.lesion_id][s.label] += 1
    return {lid: min(c, key=lambda k: (-c[k], k)) for lid, c in per.items()}


def shuffled_lesions_by_class(samples: tuple[Sample, ...] | list[Sample], seed: int) -> list[list[str]]:
    """The lesion ids of each class (in class order), each list shuffled by one seeded generator: the
    stratified, deterministic order that splits and cross-validation folds deal lesions from."""
    lesions = _lesion_labels(samples)
    by_class: dict[int, list[str]] = defaultdict(list)
    for lid in sorted(lesions):
        by_class[lesions[lid]].append(lid)
    rng = random.Random(seed)
    groups = [by_class[label] for label in sorted(by_class)]
    for group in groups:
        rng.shuffle(group)
    return groups


def make_split(
    samples: tuple[Sample, ...] | list[Sample], seed: int = 0, fractions: tuple[float, float, float] = DEFAULT_FRACTIONS
) -> Split:
    """Split by ``lesion_id``, stratified by the lesion's class, deterministic for a seed."""
    if len(fractions) != 3 or any(f < 0 for f in fractions) or abs(sum(fractions) - 1.0) > 1e-6:
        raise DataError(f"split fractions must be three non-negative numbers summing to 1, got {fractions}")
    assign: dict[str, str] = {}
    for group in shuffled_lesions_by_class(samples, seed):
        n = len(group)
        n_test = round(n * fractions[2])
        n_val = round(n * fractions[1])
        for i, lid in enumerate(group):
            assign[lid] = "test" if i < n_test else "val" if i < n_test + n_val else "train"
    ids: dict[str, list[str]] = {k: [] for k in SPLIT_NAMES}
    for s in samples:
        ids[assign[s.lesion_id]].append(s.image_id)
    return Split(seed, tuple(fractions), {k: tuple(sorted(v)) for k, v in ids.items()})  # type: ignore[arg-type]


def write_split(split: Split, path: str | Path) -> None:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    doc = {
        "format": SPLIT_FORMAT,
        "seed": split.seed,
        "fractions": list(split.fractions),
        "grouped_by": "lesion_id",
        "stratified_by": "dx of the lesion",
        "counts": split.counts(),
        "image_ids": {k: list(v) for k, v in split.ids.items()},
    }
    if split.fold is not None:
        doc["fold"] = split.fold
    write_text_atomic(p, json.dumps(doc, indent=1) + "\n")


def read_split(path: str | Path) -> Split:
    p = Path(path)
    try:
        doc = json.loads(p.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise DataError(f"{p}: cannot read split file ({exc})") from None
    if not isinstance(doc, dict) or doc.get("format") != SPLIT_FORMAT:
        raise DataError(f"{p}: not a sramflow HAM10000 split file (format {SPLIT_FORMAT!r})")
    ids = doc.get("image_ids", {})
    if set(ids) != set(SPLIT_NAMES):
        raise DataError(f"{p}: split file must hold image_ids for {', '.join(SPLIT_NAMES)}")
    return Split(int(doc["seed"]), tuple(doc["fractions"]), {k: tuple(ids[k]) for k in SPLIT_NAMES},  # type: ignore[arg-type]
                 doc.get("fold"))


def select(dataset: Ham10000, split: Split | None, name: str) -> list[Sample]:
    """Samples of one split (``all``: every image found). Ids of the split not on disk are skipped."""
    if name == "all":
        return list(dataset.samples)
    if split is None:
        raise DataError(f"--split {name} needs a split file")
    if name not in split.ids:
        raise DataError(f"unknown split {name!r}; expected one of {', '.join((*SPLIT_NAMES, 'all'))}")
    wanted = set(split.ids[name])
    return [s for s in dataset.samples if s.image_id in wanted]


def load_or_make_split(dataset: Ham10000, path: str | Path, seed: int = 0) -> Split:
    """Read the split file if it exists, else make the split and write it there."""
    p = Path(path)
    if p.exists():
        return read_split(p)
    split = make_split(dataset.samples, seed)
    write_split(split, p)
    return split
