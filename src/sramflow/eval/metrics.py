"""Classification metrics from a confusion matrix: numpy only, no torch.

Conventions: ``confusion[i][j]`` counts images of true class i predicted as j. A class with no true
images has recall ``None`` and is left out of balanced accuracy (mean recall over present classes);
a class never predicted has precision ``None``. F1 is 0 when precision + recall is 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ClassMetrics:
    name: str
    support: int
    precision: float | None
    recall: float | None
    f1: float | None


@dataclass(frozen=True)
class Metrics:
    n_images: int
    accuracy: float
    balanced_accuracy: float
    per_class: tuple[ClassMetrics, ...]
    confusion: tuple[tuple[int, ...], ...]
    class_names: tuple[str, ...]
    positive_class: str | None
    sensitivity: float | None  # recall of positive_class (melanoma sensitivity)
    specificity: float | None  # of the rest, the fraction not predicted as positive_class

    def to_json(self) -> dict:
        return {
            "n_images": self.n_images,
            "accuracy": self.accuracy,
            "balanced_accuracy": self.balanced_accuracy,
            "per_class": {
                c.name: {"support": c.support, "precision": c.precision, "recall": c.recall, "f1": c.f1}
                for c in self.per_class
            },
            f"{self.positive_class}_sensitivity" if self.positive_class else "sensitivity": self.sensitivity,
            f"{self.positive_class}_specificity" if self.positive_class else "specificity": self.specificity,
            "confusion_matrix": {"rows_true_cols_pred": list(self.class_names), "counts": [list(r) for r in self.confusion]},
        }


def confusion_matrix(y_true: Sequence[int] | np.ndarray, y_pred: Sequence[int] | np.ndarray, num_classes: int) -> np.ndarray:
    t = np.asarray(y_true, dtype=np.int64).ravel()
    p = np.asarray(y_pred, dtype=np.int64).ravel()
    if t.shape != p.shape:
        raise ValueError(f"y_true has {t.size} labels but y_pred {p.size}")
    if t.size and (t.min() < 0 or p.min() < 0 or t.max() >= num_classes or p.max() >= num_classes):
        raise ValueError(f"labels must lie in [0, {num_classes})")
    cm = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(cm, (t, p), 1)
    return cm


def _ratio(num: float, den: float) -> float | None:
    return float(num / den) if den > 0 else None


def metrics_from_confusion(cm: np.ndarray, class_names: Sequence[str], positive_class: str | None = "mel") -> Metrics:
    cm = np.asarray(cm, dtype=np.int64)
    n = int(cm.sum())
    tp = np.diag(cm)
    support, predicted = cm.sum(axis=1), cm.sum(axis=0)
    per: list[ClassMetrics] = []
    for i, name in enumerate(class_names):
        prec, rec = _ratio(tp[i], predicted[i]), _ratio(tp[i], support[i])
        f1 = None if prec is None or rec is None else (0.0 if prec + rec == 0 else 2 * prec * rec / (prec + rec))
        per.append(ClassMetrics(name, int(support[i]), prec, rec, f1))
    recalls = [c.recall for c in per if c.recall is not None]
    sens = spec = None
    if positive_class is not None and positive_class in class_names:
        k = list(class_names).index(positive_class)
        sens = _ratio(tp[k], support[k])
        negatives = n - int(support[k])
        spec = _ratio(negatives - (int(predicted[k]) - int(tp[k])), negatives)
    else:
        positive_class = None
    return Metrics(
        n_images=n,
        accuracy=float(tp.sum() / n) if n else 0.0,
        balanced_accuracy=float(np.mean(recalls)) if recalls else 0.0,
        per_class=tuple(per),
        confusion=tuple(tuple(int(v) for v in row) for row in cm),
        class_names=tuple(class_names),
        positive_class=positive_class,
        sensitivity=sens,
        specificity=spec,
    )


def compute_metrics(
    y_true: Sequence[int] | np.ndarray, y_pred: Sequence[int] | np.ndarray, class_names: Sequence[str],
    positive_class: str | None = "mel",
) -> Metrics:
    return metrics_from_confusion(confusion_matrix(y_true, y_pred, len(class_names)), class_names, positive_class)


def agreement(pred_a: Sequence[int] | np.ndarray, pred_b: Sequence[int] | np.ndarray) -> float:
    """Fraction of images where two models' top-1 predictions agree."""
    a, b = np.asarray(pred_a).ravel(), np.asarray(pred_b).ravel()
    if a.shape != b.shape:
        raise ValueError(f"{a.size} vs {b.size} predictions")
    return float((a == b).mean()) if a.size else 0.0
