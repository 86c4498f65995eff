"""Mixup and CutMix for the base stage (``--mixup ALPHA`` / ``--cutmix ALPHA``): each training batch is blended
with a permutation of itself and the loss takes the matching soft targets (Zhang et al. 2018, mixup; Yun et al.
2019, CutMix). With both on, each batch takes one of the two, drawn 50 / 50 (as timm does). Every draw comes from
the run's numpy generator, whose state a resumed run restores, so a resumed run mixes as the uninterrupted one."""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F


def mix_batch(x: torch.Tensor, y: torch.Tensor, num_classes: int, rng: np.random.Generator, mixup_alpha: float,
              cutmix_alpha: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(images, targets) of batch ``x`` (N, C, H, W) with labels ``y``: ``x`` and ``y`` themselves when both
    alphas are 0 (the loss takes class indices, bit for bit the unmixed run); else the soft targets of mixup
    (``lam x + (1 - lam) x[perm]``) or CutMix (a box of area ~``1 - lam`` pasted from ``x[perm]``, ``lam`` then
    recomputed from the box as clipped), lam ~ Beta(alpha, alpha)."""
    modes = [(m, a) for m, a in (("mixup", mixup_alpha), ("cutmix", cutmix_alpha)) if a > 0]
    if not modes:
        return x, y
    target = F.one_hot(y, num_classes).to(x.dtype)
    mode, alpha = modes[int(rng.integers(len(modes)))] if len(modes) > 1 else modes[0]
    lam = float(rng.beta(alpha, alpha))
    perm = torch.from_numpy(rng.permutation(len(y))).to(x.device)
    if mode == "mixup":
        mixed = lam * x + (1.0 - lam) * x[perm]
    else:
        h, w = x.shape[-2:]
        bh, bw = round(h * math.sqrt(1.0 - lam)), round(w * math.sqrt(1.0 - lam))
        cy, cx = int(rng.integers(h)), int(rng.integers(w))
        y0, y1 = max(cy - bh // 2, 0), min(cy + bh - bh // 2, h)
        x0, x1 = max(cx - bw // 2, 0), min(cx + bw - bw // 2, w)
        mixed = x.clone()
        mixed[..., y0:y1, x0:x1] = x[perm][..., y0:y1, x0:x1]
        lam = 1.0 - (y1 - y0) * (x1 - x0) / (h * w)
    return mixed, lam * target + (1.0 - lam) * target[perm]
