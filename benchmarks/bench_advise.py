"""The default `sramflow advise` run timed (issue 18: <= 3 minutes on the 2-core development machine), printing its
answer: EfficientNet-B0 @224, 7 classes, the write-up's targets, the coarse grid (docs/advise_space.yaml), refinement
on, a fresh output folder (nothing read back from an earlier run's points.sqlite).

Run: PYTHONPATH=src .venv/bin/python benchmarks/bench_advise.py [--workers N]
"""

from __future__ import annotations

import argparse
import tempfile
import time

from sramflow.design.advise import Targets, advise
from sramflow.design.evaluate import EvalOptions
from sramflow.design.outputs import answer_lines, write_outputs
from sramflow.design.space import COARSE
from sramflow.frontend.source import ModelSource, load_graph

LIMIT_S = 180.0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--workers", type=int, default=1)
    workers = ap.parse_args().workers
    from pathlib import Path

    t0, c0 = time.perf_counter(), time.process_time()
    loaded = load_graph(ModelSource(model="efficientnet_b0", num_classes=7, resolution=224))
    info = {"model": loaded.model, "num_classes": loaded.num_classes, "resolution": loaded.resolution,
            "source": loaded.source}
    t1 = time.perf_counter()
    with tempfile.TemporaryDirectory() as out:
        a = advise(loaded.graph, info, COARSE, Targets(), EvalOptions(out, workers=workers, progress=False))
        d, _ = write_outputs(a, Path(out), "energy")
    t2, c2 = time.perf_counter(), time.process_time()
    print("\n".join(answer_lines(d)))
    s = d["searched"]
    print(f"model load {t1 - t0:.1f} s; advise {t2 - t1:.1f} s ({s['points']} designs, {s['simulated']} simulated, "
          f"{s['refined']['simulated']} of them by refinement; {workers} worker(s)); total {t2 - t0:.1f} s "
          f"({'within' if t2 - t0 <= LIMIT_S else 'OVER'} the {LIMIT_S:.0f} s target); CPU time of this process "
          f"{c2 - c0:.1f} s (with 1 worker, the wall time on an otherwise idle machine)")


if __name__ == "__main__":
    main()
