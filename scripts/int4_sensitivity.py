"""Which layers can go INT4? Per-layer sensitivity (``sramflow.eval.sensitivity``) beside each layer's share of the
off-chip weight traffic on a hardware point, and the ``--weight-bits`` spec of the layers under a KL threshold with
the traffic it saves (issue 21: a mix chosen by measurement, HAWQ-style).

    .venv/bin/python scripts/int4_sensitivity.py --checkpoint weights/efficientnet_b0_ham10000.safetensors \
        --data ../shared/data/ham10000 --split val --group pointwise --layers 'features.[4-8].*' --max-kl 0.005 \
        --out build/sensitivity.json

Each layer alone at 4 bits (post-training) on the split's images, against the INT8 model calibrated as ``sramflow
evaluate`` calibrates it; about a minute per layer on one core at 128 px for B0's 856 validation images. Choose on
validation (or folds), never on test; then measure the printed spec as a whole with ``sramflow evaluate
--weight-bits SPEC``. Traffic: B0 at ``--sim-resolution`` on ``--hw`` (default fusion), every layer at 8 bits.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from sramflow.data.dataset import Skipped, iter_batches  # noqa: E402
from sramflow.eval.evaluate import EvalConfig, calibrate_int8, resolve_data  # noqa: E402
from sramflow.eval.sensitivity import layer_sensitivities, least_sensitive, spec_for, weighted_layers  # noqa: E402
from sramflow.frontend.source import ModelSource, load_graph  # noqa: E402
from sramflow.hw.load import resolve_hw  # noqa: E402
from sramflow.ir.precision import WEIGHT_GROUPS, layer_name  # noqa: E402
from sramflow.reference.run import predict_int8  # noqa: E402
from sramflow.sim.api import prepare_graph, simulate_prepared  # noqa: E402
from sramflow.sweep.precision import with_weight_bits  # noqa: E402


def weight_traffic(model: str, num_classes: int, resolution: int, hw_name: str, spec: int | str) -> dict[str, int]:
    """Off-chip weight bytes per layer of ``model`` on ``hw_name`` under ``spec``."""
    g = load_graph(ModelSource(model=model, num_classes=num_classes, resolution=resolution)).graph
    r = simulate_prepared(with_weight_bits(prepare_graph(g, "depth-first"), spec), resolve_hw(hw_name))
    return {layer_name(n.name): int(n.counts.offchip_weight_bytes) for n in r.nodes}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--checkpoint", required=True)
    ap.add_argument("--model", default="efficientnet_b0")
    ap.add_argument("--data", required=True, help="HAM10000 folder (metadata CSV + images)")
    ap.add_argument("--split", default="val", choices=["train", "val"], help="never test: choose on held-out data")
    ap.add_argument("--split-file", default=str(ROOT / "weights" / "ham10000_split.json"))
    ap.add_argument("--group", action="append", choices=WEIGHT_GROUPS, help="layer groups to test (repeatable; "
                    "default pointwise, 99 %% of B0's weight traffic on design1)")
    ap.add_argument("--layers", default="*", help="fnmatch pattern over layer names to test (default all)")
    ap.add_argument("--max-kl", type=float, default=0.005, help="layers at most this sensitive go INT4 in the spec")
    ap.add_argument("--hw", default="sky130-design1")
    ap.add_argument("--sim-resolution", type=int, default=224)
    ap.add_argument("--limit", type=int, help="only the first N images of the split (a quick look)")
    ap.add_argument("--out", type=Path, help="JSON with every layer's figures and the spec")
    a = ap.parse_args()

    import fnmatch

    cfg = EvalConfig(data=a.data, split=a.split, split_file=a.split_file, progress=False, limit=a.limit)
    src = ModelSource(a.model, 7, 128, a.checkpoint)
    graph = load_graph(src).graph
    data = resolve_data(cfg, None)
    items = data.items[: a.limit] if a.limit else data.items
    batches = list(iter_batches(items, 128, 64, Skipped()))
    x, labels = np.concatenate([b.x for b in batches]), np.concatenate([b.labels for b in batches])
    q = calibrate_int8(graph, cfg, 128, Skipped())
    layers = [n for n in weighted_layers(graph, a.group or ["pointwise"]) if fnmatch.fnmatchcase(n, a.layers)]
    if not layers:
        sys.exit(f"no weighted layer of groups {a.group or ['pointwise']} matches --layers {a.layers!r}")
    print(f"{len(layers)} layers x {len(x)} images ({data.description})", flush=True)
    t0 = time.time()

    def tick(layer: str) -> None:
        print(f"  {layer} done ({time.time() - t0:.0f} s)", flush=True)

    rows = layer_sensitivities(graph, q, x, labels, data.class_names, layers,
                               lambda qg, xb: np.asarray(predict_int8(qg, xb)).reshape(len(xb), -1), progress=tick)
    base = weight_traffic(a.model, 7, a.sim_resolution, a.hw, 8)
    total = sum(base.values())
    print(f"\n{'layer':34s} {'group':9s} {'KL':>8s} {'acc':>6s} {'bal':>6s} {'agree':>6s} {'traffic':>8s}")
    for r in sorted(rows, key=lambda r: r.kl):
        print(f"{r.layer:34s} {r.group:9s} {r.kl:8.4f} {r.accuracy:6.3f} {r.balanced_accuracy:6.3f} "
              f"{r.agreement:6.3f} {base.get(r.layer, 0) / total:8.1%}")
    chosen = least_sensitive(rows, a.max_kl)
    spec = spec_for(chosen)
    cut = 1 - sum(weight_traffic(a.model, 7, a.sim_resolution, a.hw, spec).values()) / total
    print(f"\n{len(chosen)} layers with KL <= {a.max_kl:g}: off-chip weight bytes on {a.hw} -{cut:.1%}\nspec: {spec}")
    if a.out:
        a.out.parent.mkdir(parents=True, exist_ok=True)
        a.out.write_text(json.dumps({"checkpoint": a.checkpoint, "split": a.split, "images": int(len(x)),
                                     "hw": a.hw, "max_kl": a.max_kl, "spec": spec, "weight_traffic_cut": cut,
                                     "layers": [dict(r.__dict__, traffic_share=base.get(r.layer, 0) / total)
                                                for r in rows]}, indent=1))
        print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
