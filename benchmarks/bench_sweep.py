"""Sweep throughput for EfficientNet-B0 @224: design points per minute (graph loaded and lowered once).

Run: .venv/bin/python benchmarks/bench_sweep.py [--points 300] [--workers 2]
Random points of a grid over SRAM words/bits/banks/ports, MACs per cycle and off-chip memory; the clock
stays at 100 MHz (faster clocks are infeasible for the sky130 macro and would flatter the rate).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from sramflow.frontend.source import ModelSource, load_graph
from sramflow.sweep.run import SweepOptions, run_sweep
from sramflow.sweep.space import space_from_dict

GRID = {
    "sram_words": [64, 128, 256, 512, 1024, 2048],
    "sram_word_bits": [8, 16, 32, 64],
    "sram_banks": [1, 2, 4],
    "sram_ports": ["1rw", "1rw1r"],
    "macs_per_cycle": [4, 8, 16, 32, 64],
    "offchip": ["qspi-psram", "lpddr4", "zigzag-offchip"],
}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--points", type=int, default=300)
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    t0 = time.perf_counter()
    loaded = load_graph(ModelSource(model="efficientnet_b0", num_classes=7, resolution=224))
    t_load = time.perf_counter() - t0
    space = space_from_dict({**GRID, "random": a.points, "seed": a.seed})
    info = {"model": loaded.model, "num_classes": 7, "resolution": 224, "source": loaded.source}
    with tempfile.TemporaryDirectory() as tmp:
        s = run_sweep(space, loaded.graph, info, SweepOptions(Path(tmp), workers=a.workers, progress=False))
    print(f"graph load (once): {t_load:.1f} s")
    print(f"{s.computed} points ({s.ok} feasible, {s.infeasible} infeasible) in {s.wall_s:.1f} s "
          f"including outputs: {s.points_per_minute:.0f} points per minute")


if __name__ == "__main__":
    main()
