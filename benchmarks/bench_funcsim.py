"""Functional simulation time for EfficientNet-B0 and the integer reference's time for the same input.

usage: .venv/bin/python benchmarks/bench_funcsim.py [--resolution 224] [--checkpoint FILE|none] [--image FILE]
                                                     [--executor bulk|step]
The trained checkpoint weights/efficientnet_b0_ham10000.safetensors is used when present (else random weights).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--resolution", type=int, default=224)
    default_ckpt = Path("weights/efficientnet_b0_ham10000.safetensors")
    ap.add_argument("--checkpoint", default=str(default_ckpt) if default_ckpt.exists() else None)
    ap.add_argument("--executor", default="bulk", choices=("bulk", "step"))
    ap.add_argument("--image", default=None)
    ap.add_argument("--hw", default="sky130-design1")
    a = ap.parse_args()
    a.checkpoint = None if a.checkpoint in (None, "none") else a.checkpoint
    from sramflow.frontend.source import ModelSource, load_graph
    from sramflow.funcsim.run import run_functional
    from sramflow.hw.load import resolve_hw
    from sramflow.quant.api import quantize_graph
    from sramflow.reference.run import quantize_input
    from sramflow.sim.api import simulate_graph

    lg = load_graph(ModelSource(resolution=a.resolution, checkpoint=a.checkpoint, num_classes=None if a.checkpoint else 7))
    hw = resolve_hw(a.hw)
    t0 = time.perf_counter()
    res = simulate_graph(lg.graph, hw)
    t_map = time.perf_counter() - t0
    if a.image:
        from sramflow.data.preprocess import load_image

        x = load_image(a.image, a.resolution)
    else:
        x = np.random.default_rng(0).standard_normal((3, a.resolution, a.resolution)).astype(np.float32)
    q = quantize_graph(lg.graph, x[None])
    r = run_functional(lg.graph, q, res.schedules, quantize_input(q, x), hw.main_sram.total_words,
                       hw.main_sram.word_bytes, executor=a.executor)
    steps = sum(n.counts.steps for n in res.nodes)
    weights = a.checkpoint or "random weights"
    print(f"B0@{a.resolution} ({weights}, {a.executor} executor) on {hw.name}: mapping {t_map:.1f} s; functional {r.wall_s:.1f} s "
          f"({steps} compute steps, {r.sram_accesses} SRAM accesses); integer reference {r.reference_wall_s:.2f} s; "
          f"bit_exact={r.bit_exact} counts_match={r.counts_match} clobbers={r.clobbers}")


if __name__ == "__main__":
    main()
