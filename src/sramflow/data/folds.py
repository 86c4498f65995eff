"""Cross-validation folds over a split's training lesions: a validation set 8x larger than ``val``.

``python -m sramflow.data.folds --data ../shared/data/ham10000 --split-file weights/ham10000_split.json
--folds 5 --out build/folds/`` writes ``fold1of5.json`` ... ``fold5of5.json``: ordinary split files whose
``val`` is one fold of the train + val lesions (stratified by the lesion's class, seeded), whose ``train``
is the other folds, and whose ``test`` is the original split's test, untouched. Every training and
evaluation command takes them with ``--split-file``; ``sramflow evaluate --split val`` on each fold's
checkpoint gives out-of-fold predictions for every train + val image, which
``scripts/compare_predictions.py`` pools (comma-separated files) to choose among recipes without the test split.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from sramflow.data.ham10000 import Sample, Split, load_ham10000, read_split, shuffled_lesions_by_class, write_split
from sramflow.errors import DataError


def make_folds(samples: Sequence[Sample], split: Split, k: int, seed: int = 0, source: str = "the split",
               with_test: bool = True) -> tuple[Split, ...]:
    """``k`` splits: fold i's lesions (of ``split``'s train + val) as val, the rest as train, test unchanged (or
    empty without ``with_test``: a recipe chosen on folds then never evaluates, nor logs, the test split)."""
    if k < 2:
        raise DataError(f"--folds must be at least 2, got {k}")
    pool = set(split.ids["train"]) | set(split.ids["val"])
    fit = [s for s in samples if s.image_id in pool]
    groups = shuffled_lesions_by_class(fit, seed)
    n_lesions = sum(len(g) for g in groups)
    if n_lesions < k:
        raise DataError(f"{source}: {n_lesions} train + val lesions on disk, fewer than --folds {k}")
    fold_of: dict[str, int] = {}
    start = 0  # deal each class round-robin, continuing where the last class stopped: fold sizes differ by <= 1 lesion
    for group in groups:
        for i, lid in enumerate(group):
            fold_of[lid] = (start + i) % k
        start = (start + len(group)) % k
    n = sum(len(v) for v in split.ids.values())
    folds = []
    for f in range(k):
        val = tuple(sorted(s.image_id for s in fit if fold_of[s.lesion_id] == f))
        train = tuple(sorted(s.image_id for s in fit if fold_of[s.lesion_id] != f))
        ids = {"train": train, "val": val, "test": split.ids["test"] if with_test else ()}
        fractions = tuple(round(len(ids[x]) / n, 4) for x in ("train", "val", "test"))
        folds.append(Split(seed, fractions, ids,  # type: ignore[arg-type]
                           f"fold {f + 1} of {k} of the train + val lesions of {source} (seed {seed}); "
                           + ("test unchanged" if with_test else "test left out")))
    return tuple(folds)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m sramflow.data.folds", description=__doc__.split("\n")[0])
    p.add_argument("--data", required=True, help="HAM10000 folder (its metadata CSV gives the lesion ids)")
    p.add_argument("--split-file", default="weights/ham10000_split.json")
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True, help="folder for fold1ofK.json ... foldKofK.json")
    p.add_argument("--without-test", action="store_true",
                   help="leave the test images out of the fold files: training and evaluating on a fold then never "
                        "looks at test (the end-of-training test figure is not computed)")
    a = p.parse_args(argv)
    try:
        split = read_split(a.split_file)
        folds = make_folds(load_ham10000(a.data).samples, split, a.folds, a.seed, a.split_file, not a.without_test)
    except DataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for i, f in enumerate(folds, 1):
        path = Path(a.out) / f"fold{i}of{a.folds}.json"
        write_split(f, path)
        print(f"{path}: train {len(f.ids['train'])}, val {len(f.ids['val'])}, test {len(f.ids['test'])} images")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
