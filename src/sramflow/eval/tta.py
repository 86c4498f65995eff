"""Test-time augmentation (issue 20 item 3): each image is classified from k flipped views and the k output vectors
are summed before the argmax.

Dermoscopy images have no preferred orientation, so flips are label-preserving. The sum is what an accelerator would
compute: k full inferences (k x the latency and energy ``sramflow simulate`` reports for one) and an elementwise add of
the k int8 output vectors into int32 (7 adds per extra pass for HAM10000, not simulated: under a microsecond). On the
integer reference we sum the dequantized logits, which orders the classes exactly as the int32 sum of the int8
values does: dequantization is one positive scale and one zero point for the whole output tensor.

TTA is reported beside the single-pass figures, never instead of them: a deployment that does not pay k passes
gets the single-pass accuracy.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from sramflow.errors import DataError

# name -> views; each view flips the [n, 3, h, w] batch along the given axes (identity first)
TTA_MODES: dict[str, tuple[tuple[int, ...], ...]] = {
    "none": ((),),
    "hflip": ((), (3,)),
    "flips": ((), (3,), (2,), (2, 3)),
}
VIEW_NAMES = {(): "identity", (3,): "horizontal flip", (2,): "vertical flip", (2, 3): "both flips"}


def tta_passes(mode: str) -> int:
    """How many inferences one prediction costs under ``mode``."""
    return len(_views_of(mode))


def _views_of(mode: str) -> tuple[tuple[int, ...], ...]:
    try:
        return TTA_MODES[mode]
    except KeyError:
        raise DataError(f"--tta must be one of {', '.join(TTA_MODES)}, got {mode!r}") from None


def tta_logits(predict: Callable[[np.ndarray], np.ndarray], x: np.ndarray, mode: str,
               identity: np.ndarray | None = None) -> np.ndarray:
    """The sum over ``mode``'s views of ``predict(view)`` ([n, classes]); ``x`` is a float batch [n, 3, h, w].
    ``identity``: ``predict(x)`` when the caller has it already (the single-pass prediction), so it is not rerun."""
    total = np.zeros((len(x), 0))
    for axes in _views_of(mode):
        if not axes and identity is not None:
            out = identity
        else:
            out = predict(np.ascontiguousarray(np.flip(x, axes)) if axes else x)
        out = np.asarray(out, dtype=np.float64).reshape(len(x), -1)
        total = out if total.shape[1] == 0 else total + out
    return total


def tta_description(mode: str) -> dict[str, object]:
    """What the report says about a TTA mode: its views, passes, how they are combined and what they cost."""
    views = _views_of(mode)
    return {
        "mode": mode,
        "passes": len(views),
        "views": [VIEW_NAMES[v] for v in views],
        "combine": "sum of the k output vectors, then argmax (the integer model: dequantized logits, which rank "
                   "classes as the int32 sum of the int8 outputs does)",
        "cost": f"{len(views)} inferences per image: {len(views)} x the latency and energy of one inference "
                "(sramflow simulate / run report one), plus an int32 add of the output vectors (not simulated)",
    }
