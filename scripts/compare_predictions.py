"""Is model B better than model A on the same images? Paired lesion bootstrap of two ``predictions.csv`` files.

``python scripts/compare_predictions.py A/predictions.csv B/predictions.csv --data ../shared/data/ham10000
[--column int8] [--column-b mixed] [--names shipped,new]`` prints (and with ``--out F`` writes as JSON) the 95 % intervals of
accuracy, balanced accuracy and melanoma sensitivity of both, and of B minus A, resampling whole lesions
with the same draws for both (``sramflow.eval.bootstrap``). Both sides must list the same images.

Either side may be a comma-separated list of files on disjoint images, pooled into one: the out-of-fold
predictions of a cross-validation (``sramflow.data.folds``; ``sramflow evaluate --split val`` per fold).
With one side only, its float and INT8 columns are compared (INT8 minus float, paired), e.g. a recipe's
pooled cross-validation figures.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import numpy as np

from sramflow.data.ham10000 import LABELS, MELANOMA, find_metadata, read_metadata
from sramflow.eval.bootstrap import bootstrap_intervals, interval_lines
from sramflow.eval.metrics import compute_metrics
from sramflow.jsonio import write_json_atomic


def read_predictions(path: Path, columns: tuple[str, ...]) -> dict[str, dict[str, str]]:
    """image -> its row (true class and the predicted classes of ``columns``, which must all be there)."""
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    for column in columns:
        if not rows or column not in rows[0]:
            raise SystemExit(f"{path}: no column {column!r} (a predictions.csv written by sramflow evaluate?)")
    return {r["image"]: r for r in rows}


def read_pooled(paths: str, columns: tuple[str, ...]) -> dict[str, dict[str, str]]:
    """Comma-separated ``predictions.csv`` files on disjoint images, pooled (e.g. cross-validation folds)."""
    pooled: dict[str, dict[str, str]] = {}
    seen: dict[str, Path] = {}
    for path in (Path(x) for x in paths.split(",") if x):
        part = read_predictions(path, columns)
        twice = next((i for i in part if i in pooled), None)
        if twice is not None:
            raise SystemExit(f"{path}: image {twice} is also in {seen[twice]}; pooled files must hold disjoint images")
        pooled.update(part)
        seen.update(dict.fromkeys(part, path))
    return pooled


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("a", help="predictions.csv (or comma-separated files on disjoint images, pooled)")
    p.add_argument("b", nargs="?", default=None, help="the same for model B; without it: A's INT8 vs its float")
    p.add_argument("--data", required=True, help="HAM10000 folder (its metadata CSV gives the lesion ids)")
    p.add_argument("--column", choices=("float", "int8", "mixed"), default="int8",
                   help="the predictions compared (two sides)")
    p.add_argument("--column-b", choices=("float", "int8", "mixed"), default=None,
                   help="B's column when it differs from A's (e.g. a mixed INT4 model against a shipped INT8 one)")
    p.add_argument("--names", default="a,b", help="two names for the report, comma-separated")
    p.add_argument("--out", type=Path, default=None)
    a = p.parse_args(argv)
    if a.b is None:  # one side: its INT8 column against its float column
        name_a, name_b, column = "float", "int8", "int8 vs float"
        pa = pb = read_pooled(a.a, ("float", "int8"))
        col_a, col_b = "float", "int8"
    else:
        col_a, col_b = a.column, a.column_b or a.column
        (name_a, name_b), column = a.names.split(","), col_a if col_a == col_b else f"{col_b} vs {col_a}"
        pa, pb = read_pooled(a.a, (col_a,)), read_pooled(a.b, (col_b,))
    if set(pa) != set(pb):
        raise SystemExit(f"{a.a} and {a.b} list different images ({len(set(pa) ^ set(pb))} differ)")
    lesion = {r.image_id: r.lesion_id for r in read_metadata(find_metadata(Path(a.data)))}
    images = sorted(pa)
    missing = [i for i in images if i not in lesion]
    if missing:
        raise SystemExit(f"{a.data}: {len(missing)} images have no metadata row, e.g. {missing[0]}")
    idx = {c: k for k, c in enumerate(LABELS)}
    y = np.array([idx[pa[i]["true"]] for i in images])
    preds = {name_a: np.array([idx[pa[i][col_a]] for i in images]), name_b: np.array([idx[pb[i][col_b]] for i in images])}
    ci = bootstrap_intervals(y, preds, [lesion[i] for i in images], len(LABELS), LABELS.index(MELANOMA), MELANOMA,
                             paired=((name_b, name_a),))
    point = {n: {"accuracy": m.accuracy, "balanced_accuracy": m.balanced_accuracy}
             for n, m in ((n, compute_metrics(y, v, LABELS)) for n, v in preds.items())}
    print(f"{len(images)} images, {ci.n_units} lesions, column {column}; point accuracy / balanced accuracy "
          + ", ".join(f"{n} {v['accuracy']:.4f} / {v['balanced_accuracy']:.4f}" for n, v in point.items()))
    print("\n".join(interval_lines(ci, width=24)))
    if a.out:
        write_json_atomic(a.out, {"a": a.a, "b": a.b, "column": column, "point": point,
                                  "intervals": ci.to_json()})
    return 0


if __name__ == "__main__":
    sys.exit(main())
