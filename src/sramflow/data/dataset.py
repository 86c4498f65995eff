"""Labelled image lists -> batches of preprocessed float32 NCHW arrays, shared by calibration and evaluation.

Images that do not decode are skipped (not fatal); their names are collected in ``Skipped`` so the
caller can report and count them.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from sramflow.data.preprocess import load_image
from sramflow.errors import DataError


@dataclass(frozen=True)
class Item:
    name: str
    path: Path
    label: int


@dataclass(frozen=True)
class Batch:
    x: np.ndarray  # float32 [n, 3, res, res]
    labels: np.ndarray  # int64 [n]
    names: tuple[str, ...]


@dataclass
class Skipped:
    """Images that did not decode: name -> reason."""

    reasons: dict[str, str] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.reasons)

    def names(self) -> list[str]:
        return sorted(self.reasons)


def iter_batches(items: Sequence[Item], resolution: int, batch_size: int, skipped: Skipped | None = None) -> Iterator[Batch]:
    """Yield full batches (the last one may be short); undecodable images go to ``skipped``."""
    if batch_size < 1:
        raise DataError(f"batch size must be >= 1, got {batch_size}")
    xs: list[np.ndarray] = []
    ys: list[int] = []
    names: list[str] = []
    for it in items:
        try:
            xs.append(load_image(it.path, resolution))
        except DataError as exc:
            if skipped is not None:
                skipped.reasons[it.name] = str(exc)
            continue
        ys.append(it.label)
        names.append(it.name)
        if len(xs) == batch_size:
            yield Batch(np.stack(xs), np.asarray(ys, dtype=np.int64), tuple(names))
            xs, ys, names = [], [], []
    if xs:
        yield Batch(np.stack(xs), np.asarray(ys, dtype=np.int64), tuple(names))


def load_arrays(items: Sequence[Item], resolution: int, skipped: Skipped | None = None) -> Batch:
    """All items preprocessed into one array (for small sets: validation, calibration)."""
    batches = list(iter_batches(items, resolution, 256, skipped))
    if not batches:
        return Batch(np.zeros((0, 3, resolution, resolution), np.float32), np.zeros(0, np.int64), ())
    return Batch(np.concatenate([b.x for b in batches]), np.concatenate([b.labels for b in batches]),
                 tuple(n for b in batches for n in b.names))


def ham_items(samples: Sequence) -> list[Item]:  # noqa: ANN001 - ham10000.Sample
    return [Item(s.image_id, s.path, s.label) for s in samples]
