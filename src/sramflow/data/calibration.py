"""Which inputs calibrate INT8: real images from a folder (HAM10000 or any image folder), or random inputs.

This module chooses and decodes the images; ``sramflow.flow.calibration`` turns them into a quantized graph.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sramflow.data.dataset import Item, ham_items
from sramflow.data.ham10000 import Sample, load_ham10000, read_split, select
from sramflow.data.imagefolder import is_ham10000
from sramflow.data.preprocess import IMAGE_SUFFIXES, load_image
from sramflow.errors import DataError

# the committed split beside the checkpoint, found from the package (not the working directory) so commands work
# from any folder of a checkout or editable install
DEFAULT_SPLIT_FILE = str(Path(__file__).resolve().parents[3] / "weights" / "ham10000_split.json")


@dataclass(frozen=True)
class CalibrationSet:
    images: np.ndarray  # float32 [N, 3, R, R], preprocessed
    source: str  # how it is described in reports
    files: tuple[str, ...]
    skipped: tuple[str, ...]  # files that did not decode, with the reason


def image_files(folder: str | Path) -> list[Path]:
    root = Path(folder)
    if not root.is_dir():
        raise DataError(f"{root}: calibration folder does not exist")
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise DataError(f"{root}: no images ({', '.join(IMAGE_SUFFIXES)}) found for calibration")
    return files


def training_calibration_samples(root: str | Path, split_file: str | Path, count: int, seed: int = 0) -> list[Sample]:
    """``count`` training images of HAM10000 ``root`` (a seeded sample of the split file's ``train`` ids
    found on disk), sorted by image id. The one definition of INT8 calibration data on HAM10000, used by
    ``sramflow quantize`` and ``sramflow evaluate``: test and validation images never calibrate."""
    train = select(load_ham10000(root), read_split(split_file), "train")
    if not train:
        raise DataError(f"{root}: holds none of the split file's training images; pass --calib-data with the training "
                        "images (e.g. ../shared/data/ham10000)")
    picked = random.Random(seed).sample(train, min(count, len(train)))
    return sorted(picked, key=lambda s: s.image_id)


def training_items(root: str | Path, split_file: str | Path | None, count: int, seed: int = 0) -> list[Item]:
    """``training_calibration_samples`` as data-set items, for ``sramflow evaluate`` and ``sramflow run --data``:
    ``root`` must be HAM10000 and the split file (``split_file``, else the default one) must exist."""
    sf = given_or_default_split_file(split_file)
    if not is_ham10000(root) or sf is None:
        raise DataError(f"INT8 calibration needs training images: a HAM10000 folder (--calib-data, now {root}) "
                        f"and the split file ({DEFAULT_SPLIT_FILE} or --split-file)")
    return ham_items(training_calibration_samples(root, sf, count, seed))


def given_or_default_split_file(split_file: str | Path | None) -> Path | None:
    """The split file given (it must exist), else the default one if present."""
    if split_file is not None:
        p = Path(split_file)
        if not p.is_file():
            raise DataError(f"{p}: split file not found")
        return p
    p = Path(DEFAULT_SPLIT_FILE)
    return p if p.is_file() else None


def _split_file_for(folder: str | Path, split_file: str | Path | None) -> Path | None:
    """The split file to use when ``folder`` is HAM10000: the one given (it must exist), else the default
    one if present; None for other folders."""
    return given_or_default_split_file(split_file) if is_ham10000(folder) else None


def load_calibration(folder: str | Path, count: int, resolution: int, seed: int = 0,
                     split_file: str | Path | None = None) -> CalibrationSet:
    """Calibration images. A HAM10000 folder with a split file (``split_file`` or the default
    weights/ham10000_split.json): training-split images only (``training_calibration_samples``).
    Otherwise ``count`` images in a seeded order over the sorted file list. Files that do not decode
    are skipped, counted and named (the next file takes their place)."""
    if count < 1:
        raise DataError(f"--calib-images must be at least 1, got {count}")
    sf = _split_file_for(folder, split_file)
    if sf is not None:
        samples = training_calibration_samples(folder, sf, count, seed)
        return _decode(folder, [s.path for s in samples], count, resolution,
                       f"training split of HAM10000 {folder} (split file {sf}, seed {seed})")
    files = image_files(folder)
    order = np.random.default_rng(seed).permutation(len(files))
    return _decode(folder, [files[i] for i in order], count, resolution, f"{folder} (seeded order, seed {seed})")


def _decode(folder: str | Path, files: list[Path], count: int, resolution: int, origin: str) -> CalibrationSet:
    images, used, skipped = [], [], []
    for f in files:
        if len(images) == count:
            break
        try:
            images.append(load_image(f, resolution))
            used.append(str(f))
        except DataError as exc:
            skipped.append(str(exc))
    if not images:
        raise DataError(f"{folder}: none of the {len(files)} image files decode ({skipped[0] if skipped else ''})")
    desc = f"{len(images)} real images from the {origin}; {len(skipped)} skipped: did not decode"
    return CalibrationSet(np.stack(images), desc, tuple(used), tuple(skipped))


def random_calibration(count: int, resolution: int, seed: int = 0) -> CalibrationSet:
    """Standard-normal inputs (the preprocessed range): for architecture-only studies, never accuracy."""
    if count < 1:
        raise DataError(f"--calib-random must be at least 1, got {count}")
    x = np.random.default_rng(seed).standard_normal((count, 3, resolution, resolution)).astype(np.float32)
    return CalibrationSet(x, f"{count} random standard-normal inputs (seed {seed}): architecture-only, not real data", (), ())
