"""The single preprocessing definition shared by training, calibration and evaluation.

RGB, resized (bilinear, aspect ratio not kept: HAM10000 images are 600x450 or 200x150 and the
lesion is centred) to ``resolution`` x ``resolution``, scaled to [0, 1], normalized with the ImageNet
mean and standard deviation the pretrained weights were trained with. Output: float32 CHW.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sramflow.errors import DataError

IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")


def decode_image(path: str | Path):  # noqa: ANN201 - returns a PIL image
    """Open and fully decode an image as RGB; a file that does not decode raises DataError naming it."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            im.load()
            return im.convert("RGB")
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise DataError(f"{path}: image does not decode ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})") from None


def to_array(image, resolution: int) -> np.ndarray:  # noqa: ANN001 - PIL image
    from PIL import Image

    im = image.resize((resolution, resolution), Image.Resampling.BILINEAR)
    x = np.asarray(im, dtype=np.float32) / 255.0
    x = (x - IMAGENET_MEAN) / IMAGENET_STD
    return np.ascontiguousarray(x.transpose(2, 0, 1))


def load_image(path: str | Path, resolution: int) -> np.ndarray:
    """Decode and preprocess one image: float32 [3, resolution, resolution]."""
    return to_array(decode_image(path), resolution)
