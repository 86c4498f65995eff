"""Calibration inputs: real images from a folder (HAM10000 or any image folder), or random inputs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sramflow.data.preprocess import IMAGE_SUFFIXES, load_image
from sramflow.errors import DataError


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


def load_calibration(folder: str | Path, count: int, resolution: int, seed: int = 0) -> CalibrationSet:
    """``count`` images in a seeded order over the sorted file list; files that do not decode are
    skipped, counted and named (the next file takes their place)."""
    if count < 1:
        raise DataError(f"--calib-images must be at least 1, got {count}")
    files = image_files(folder)
    order = np.random.default_rng(seed).permutation(len(files))
    images, used, skipped = [], [], []
    for i in order:
        if len(images) == count:
            break
        try:
            images.append(load_image(files[i], resolution))
            used.append(str(files[i]))
        except DataError as exc:
            skipped.append(str(exc))
    if not images:
        raise DataError(f"{folder}: none of the {len(files)} image files decode ({skipped[0] if skipped else ''})")
    desc = f"{len(images)} real images from {folder} (seed {seed}; {len(skipped)} skipped: did not decode)"
    return CalibrationSet(np.stack(images), desc, tuple(used), tuple(skipped))


def random_calibration(count: int, resolution: int, seed: int = 0) -> CalibrationSet:
    """Standard-normal inputs (the preprocessed range): for architecture-only studies, never accuracy."""
    if count < 1:
        raise DataError(f"--calib-random must be at least 1, got {count}")
    x = np.random.default_rng(seed).standard_normal((count, 3, resolution, resolution)).astype(np.float32)
    return CalibrationSet(x, f"{count} random standard-normal inputs (seed {seed}): architecture-only, not real data", (), ())
