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


def resize_rgb(image, resolution: int) -> np.ndarray:  # noqa: ANN001 - PIL image
    """The geometric half of the preprocessing: bilinear resize, uint8 HWC."""
    from PIL import Image

    return np.asarray(image.resize((resolution, resolution), Image.Resampling.BILINEAR), dtype=np.uint8)


def normalize(x: np.ndarray) -> np.ndarray:
    """The arithmetic half: uint8 [..., H, W, 3] -> float32 [..., 3, H, W] (/255, ImageNet mean/std)."""
    y = x.astype(np.float32) / 255.0
    y = (y - IMAGENET_MEAN) / IMAGENET_STD
    return np.ascontiguousarray(np.moveaxis(y, -1, -3))


def normalize_torch(x):  # noqa: ANN001, ANN201 - torch uint8 [N, H, W, 3] -> float32 [N, 3, H, W] channels-last
    """:func:`normalize` on a torch tensor (on the training device), the same float32 operations in the same order.

    Training uses it to move uint8 batches (4x fewer bytes) and normalise on the GPU; a test checks it
    equals :func:`normalize` bit for bit on CPU.
    """
    import torch

    mean = torch.from_numpy(IMAGENET_MEAN).to(x.device)
    std = torch.from_numpy(IMAGENET_STD).to(x.device)
    y = (x.to(torch.float32) / 255.0 - mean) / std
    return y.permute(0, 3, 1, 2)


def to_array(image, resolution: int) -> np.ndarray:  # noqa: ANN001 - PIL image
    return normalize(resize_rgb(image, resolution))


def load_image(path: str | Path, resolution: int) -> np.ndarray:
    """Decode and preprocess one image: float32 [3, resolution, resolution]."""
    return to_array(decode_image(path), resolution)
