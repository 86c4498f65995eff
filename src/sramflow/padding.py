"""TensorFlow / TFLite SAME padding, the one definition (below models, ir and frontend, which all need it).

SAME: the output has ceil(size / stride) elements along an axis; the padding that needs is split in two, the odd
element after (TensorFlow, TFLite, ONNX ``SAME_UPPER``) or before (ONNX ``SAME_LOWER``).
"""

from __future__ import annotations


def same_pads(size: int, kernel: int, stride: int, dilation: int = 1, lower: bool = False) -> tuple[int, int]:
    """(before, after) along one axis of ``size`` elements; ``lower``: the odd element before (ONNX SAME_LOWER)."""
    total = max((-(-size // stride) - 1) * stride + (kernel - 1) * dilation + 1 - size, 0)
    small = total // 2
    return (total - small, small) if lower else (small, total - small)


def same_pads_2d(in_hw: tuple[int, int], kernel: tuple[int, int], strides: tuple[int, int],
                 dilations: tuple[int, int] = (1, 1), lower: bool = False) -> tuple[int, int, int, int]:
    """(top, left, bottom, right), the order of ONNX ``pads`` and of the IR's ``pads`` attribute."""
    top, bottom = same_pads(in_hw[0], kernel[0], strides[0], dilations[0], lower)
    left, right = same_pads(in_hw[1], kernel[1], strides[1], dilations[1], lower)
    return (top, left, bottom, right)
