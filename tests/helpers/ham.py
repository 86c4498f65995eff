"""A tiny synthetic HAM10000 folder (metadata CSV + random JPEGs) for training and evaluation tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from sramflow.data.ham10000 import LABELS


def write_ham(root: Path, n_images: int, per_lesion: int = 2, folder: str = "imgs") -> None:
    """``n_images`` 20x15 random images in ``root/folder``, ``per_lesion`` consecutive images per lesion, the lesions'
    classes cycling through ``LABELS``, and the official metadata CSV."""
    rows = []
    for k in range(n_images):
        lesion = k // per_lesion
        rows.append(f"HAM_{lesion},ISIC_{k:07d},{LABELS[lesion % 7]},histo,50,male,back\n")
        p = root / folder / f"ISIC_{k:07d}.jpg"
        p.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.random.default_rng(k).integers(0, 255, (15, 20, 3), dtype=np.uint8)).save(p)
    (root / "HAM10000_metadata.csv").write_text("lesion_id,image_id,dx,dx_type,age,sex,localization\n" + "".join(rows))
