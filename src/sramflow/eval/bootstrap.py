"""Confidence intervals for the accuracy figures: percentile bootstrap over lesions (or images).

HAM10000 has several images of one lesion, and they are not independent: a split is made by lesion,
so the resampling unit is the lesion too (each resample draws as many lesions as the set has, with
replacement, and keeps all images of each drawn lesion). An image folder without lesion ids
resamples images. Float and INT8 are resampled together (paired), so the interval of their
difference is much narrower than either interval alone.

A resample in which a class has no image leaves that class out of its balanced accuracy (the
convention of :func:`sramflow.eval.metrics.metrics_from_confusion`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

LEVEL = 0.95
RESAMPLES = 1000
BLOCK = 100


@dataclass(frozen=True)
class Interval:
    lo: float
    hi: float

    def to_json(self) -> list[float]:
        return [round(self.lo, 6), round(self.hi, 6)]


@dataclass(frozen=True)
class BootstrapResult:
    unit: str  # "lesion" | "image"
    n_units: int
    resamples: int
    level: float
    seed: int
    intervals: Mapping[str, Mapping[str, Interval]]  # model ("float", "int8", "int8_minus_float") -> metric -> interval

    def to_json(self) -> dict:
        return {
            "method": f"percentile bootstrap over {self.unit}s (paired: every model resampled with the same draws)",
            "unit": self.unit, "n_units": self.n_units, "resamples": self.resamples, "level": self.level,
            "seed": self.seed,
            **{model: {k: v.to_json() for k, v in m.items()} for model, m in self.intervals.items()},
        }


def _scores(support: np.ndarray, correct: np.ndarray, positive: int | None, positive_name: str) -> dict[str, np.ndarray]:
    """Accuracy, balanced accuracy and (if ``positive``) its recall per resample, from weighted per-class counts
    ``support`` and ``correct`` [r, k]."""
    with np.errstate(invalid="ignore", divide="ignore"):
        recall = correct / support
    present = support > 0
    out = {"accuracy": correct.sum(1) / support.sum(1),
           "balanced_accuracy": np.where(present, recall, 0.0).sum(1) / present.sum(1)}
    if positive is not None:
        out[f"{positive_name}_sensitivity"] = recall[:, positive]  # nan where the resample holds no positive image
    return out


def _interval(v: np.ndarray, level: float) -> Interval:
    v = v[~np.isnan(v)]
    a = (1.0 - level) / 2.0
    return Interval(float(np.quantile(v, a)), float(np.quantile(v, 1.0 - a)))


def bootstrap_intervals(
    y_true: np.ndarray, preds: Mapping[str, np.ndarray], groups: Sequence[str] | None, num_classes: int,
    positive: int | None = None, positive_name: str = "positive", resamples: int = RESAMPLES, level: float = LEVEL,
    seed: int = 0, paired: Sequence[tuple[str, str]] = (("int8", "float"), ("mixed", "int8"), ("mixed", "float")),
) -> BootstrapResult:
    """Intervals of accuracy, balanced accuracy and the recall of class ``positive`` (key
    ``<positive_name>_sensitivity``) for each model in ``preds``
    (e.g. ``{"float": ..., "int8": ...}``) and, for each pair of ``paired`` whose two models are given, of their difference
    (key ``<a>_minus_<b>``; the same resamples for both, so the difference is paired).

    ``groups``: the resampling unit of each image (lesion ids); ``None`` resamples images.
    """
    y = np.asarray(y_true, dtype=np.int64)
    n = len(y)
    if n == 0:
        raise ValueError("no images to bootstrap")
    if groups is None:
        unit_of, unit = np.arange(n), "image"
    else:
        if len(groups) != n:
            raise ValueError(f"{len(groups)} group ids for {n} images")
        _, unit_of = np.unique(np.asarray(groups), return_inverse=True)
        unit = "lesion"
    n_units = int(unit_of.max()) + 1
    onehot = np.eye(num_classes)[y]  # [n, k]: each image's true class
    hits = {m: onehot * (y == np.asarray(p, dtype=np.int64))[:, None] for m, p in preds.items()}  # right ones only
    rng = np.random.default_rng(seed)
    chunks: dict[str, list[dict[str, np.ndarray]]] = {m: [] for m in preds}
    for start in range(0, resamples, BLOCK):  # blocks of resamples bound the memory of the weight matrix
        r = min(BLOCK, resamples - start)
        counts = np.zeros((r, n_units))
        np.add.at(counts, (np.arange(r)[:, None], rng.integers(0, n_units, size=(r, n_units))), 1.0)
        w = counts[:, unit_of]  # [r, n]: how many times each image is in each resample
        support = w @ onehot  # [r, k], the same for every model
        for m, hit in hits.items():
            chunks[m].append(_scores(support, w @ hit, positive, positive_name))
    scores = {m: {k: np.concatenate([c[k] for c in cs]) for k in cs[0]} for m, cs in chunks.items()}
    intervals: dict[str, dict[str, Interval]] = {  # a sensitivity without any positive image has no interval
        m: {k: _interval(v, level) for k, v in s.items() if not np.isnan(v).all()} for m, s in scores.items()}
    for a, b in paired:
        if a in scores and b in scores:
            intervals[f"{a}_minus_{b}"] = {k: _interval(scores[a][k] - scores[b][k], level)
                                             for k in ("accuracy", "balanced_accuracy")}
    return BootstrapResult(unit, n_units, resamples, level, seed, intervals)


def span(lo: float, hi: float) -> str:
    """How an interval is printed: ``0.767..0.815``."""
    return f"{lo:.3f}..{hi:.3f}"


def interval_lines(ci: BootstrapResult, width: int = 16) -> list[str]:
    """One line per model (and per difference): every metric's interval, names padded to one column."""
    width = max([width, *(len(m) for m in ci.intervals)])
    return [f"  {model:<{width}} " + "  ".join(f"{k.replace('_', ' ')} {span(v.lo, v.hi)}" for k, v in m.items())
            for model, m in ci.intervals.items()]


def interval_sentence(ci: dict | None) -> str:
    """One sentence from a report's ``confidence_intervals`` block (empty when there is none)."""
    if not ci:
        return ""
    parts = [f"{m} accuracy {span(*ci[m]['accuracy'])}, balanced {span(*ci[m]['balanced_accuracy'])}"
             for m in ("float", "int8") if m in ci]
    if "int8_minus_float" in ci:
        d = ci["int8_minus_float"]
        parts.append(f"INT8 - float accuracy {span(*d['accuracy'])}, balanced {span(*d['balanced_accuracy'])}")
    return (f"{ci['level']:.0%} intervals (bootstrap over {ci['n_units']} {ci['unit']}s): " + "; ".join(parts) + ".")
