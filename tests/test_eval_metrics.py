from __future__ import annotations

import pytest

from sramflow.eval.metrics import agreement, compute_metrics, confusion_matrix


def test_hand_computed_three_classes() -> None:
    names = ("a", "mel", "c")
    y_true = [0, 0, 0, 1, 1, 2]
    y_pred = [0, 0, 1, 1, 2, 2]
    m = compute_metrics(y_true, y_pred, names, positive_class="mel")
    assert m.confusion == ((2, 1, 0), (0, 1, 1), (0, 0, 1))
    assert m.accuracy == pytest.approx(4 / 6)
    assert m.balanced_accuracy == pytest.approx((2 / 3 + 1 / 2 + 1) / 3)
    a, mel, c = m.per_class
    assert (a.precision, a.recall, a.support) == (1.0, pytest.approx(2 / 3), 3)
    assert a.f1 == pytest.approx(0.8)
    assert (mel.precision, mel.recall) == (0.5, 0.5) and mel.f1 == pytest.approx(0.5)
    assert (c.precision, c.recall) == (0.5, 1.0) and c.f1 == pytest.approx(2 / 3)
    assert m.sensitivity == 0.5
    assert m.specificity == pytest.approx(3 / 4)  # 4 non-mel images, 1 predicted mel
    j = m.to_json()
    assert j["mel_sensitivity"] == 0.5 and j["confusion_matrix"]["counts"][0] == [2, 1, 0]


def test_absent_and_never_predicted_classes() -> None:
    m = compute_metrics([0, 0], [0, 0], ("x", "y"), positive_class=None)
    assert m.per_class[1].recall is None and m.per_class[1].precision is None and m.per_class[1].f1 is None
    assert m.balanced_accuracy == 1.0 and m.sensitivity is None
    z = compute_metrics([0, 1], [1, 0], ("x", "y"))
    assert z.per_class[0].f1 == 0.0 and z.accuracy == 0.0


def test_bad_inputs_and_agreement() -> None:
    with pytest.raises(ValueError):
        confusion_matrix([0, 1], [0], 2)
    with pytest.raises(ValueError):
        confusion_matrix([0, 2], [0, 1], 2)
    assert agreement([1, 2, 3, 4], [1, 2, 0, 4]) == 0.75
