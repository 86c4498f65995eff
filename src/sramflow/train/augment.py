"""Training-only augmentation, applied to the decoded PIL image before ``preprocess.to_array``.

Dermatoscopic images have no canonical orientation: any of the 8 flips/rotations by 90 degrees, a
small extra rotation, a random crop of 70-100% of the area, and mild colour jitter.
"""

from __future__ import annotations

import math
import random

from PIL import Image, ImageEnhance

_DIHEDRAL = (None, Image.Transpose.FLIP_LEFT_RIGHT, Image.Transpose.FLIP_TOP_BOTTOM, Image.Transpose.ROTATE_90,
             Image.Transpose.ROTATE_180, Image.Transpose.ROTATE_270, Image.Transpose.TRANSPOSE,
             Image.Transpose.TRANSVERSE)


def augment(im: Image.Image, rng: random.Random) -> Image.Image:
    t = rng.choice(_DIHEDRAL)
    if t is not None:
        im = im.transpose(t)
    angle = rng.uniform(-15.0, 15.0)
    im = im.rotate(angle, resample=Image.Resampling.BILINEAR)
    w, h = im.size
    area = rng.uniform(0.7, 1.0) * w * h
    ratio = math.exp(rng.uniform(math.log(3 / 4), math.log(4 / 3)))
    cw, ch = min(w, int(round(math.sqrt(area * ratio)))), min(h, int(round(math.sqrt(area / ratio))))
    x0, y0 = rng.randint(0, w - cw), rng.randint(0, h - ch)
    im = im.crop((x0, y0, x0 + cw, y0 + ch))
    for enhancer in (ImageEnhance.Brightness, ImageEnhance.Contrast, ImageEnhance.Color):
        im = enhancer(im).enhance(rng.uniform(0.8, 1.2))
    return im
