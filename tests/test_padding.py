"""SAME padding (``sramflow.padding``), the one definition behind ``models.arch.tf_same_pads``,
``ir.shapes.tflite_same_pads`` and the ONNX importer's ``auto_pad``: checked against its definition by search."""

from __future__ import annotations

import itertools

from sramflow.ir.shapes import tflite_same_pads
from sramflow.models.arch import tf_same_pads
from sramflow.padding import same_pads, same_pads_2d


def _smallest_same_total(size: int, kernel: int, stride: int, dilation: int) -> int:
    """The least total padding whose output has ceil(size / stride) elements, found by trying totals."""
    span = (kernel - 1) * dilation + 1
    want = -(-size // stride)
    return next(t for t in range(span + stride) if (size + t - span) // stride + 1 >= want)


def test_same_pads_are_the_least_padding_for_ceil_output_odd_element_after() -> None:
    for size, k, s, d in itertools.product(range(1, 20), (1, 2, 3, 5, 7), (1, 2, 3), (1, 2)):
        before, after = same_pads(size, k, s, d)
        total = _smallest_same_total(size, k, s, d)
        assert (before + after, after - before) == (total, total % 2), (size, k, s, d)
        assert same_pads(size, k, s, d, lower=True) == (after, before)  # ONNX SAME_LOWER: odd element before


def test_the_three_callers_share_the_definition() -> None:
    assert tf_same_pads is same_pads and tflite_same_pads is same_pads_2d
    assert same_pads_2d((224, 15), (3, 5), (2, 2)) == (0, 2, 1, 2)
    assert same_pads_2d((6, 6), (3, 3), (2, 2), lower=True) == (1, 1, 0, 0)
