"""Sweep throughput for EfficientNet-B0 @224: design points per minute and the tiling-cache hit rate.

Run: .venv/bin/python benchmarks/bench_sweep.py [--space grid|random] [--points 300] [--workers 2]
     [--objective latency] [--tables DIR] [--graph-cache /tmp/sramflow-bench/b0_224.pkl]
``grid`` (default): every combination of a realistic space, 3 x 2 x 2 x 2 x 2 x 2 x 2 = 192 points over SRAM
words, word bits, banks, ports, MACs per cycle, clock (50 / 100 MHz) and off-chip memory. ``random``: random
points of a wider grid (SRAM words 64-2048, word bits 8-64, 1-4 banks, 4-64 MACs, three off-chip memories,
100 MHz). The graph is loaded and lowered once; each worker keeps the tiling counts per (layer shape, tiling
hardware numbers), so points that differ only in clock, off-chip memory, ports or banks at equal words reuse
them. Tables are also written to disk (``--out``/tables, here a temporary folder, so every run starts cold);
``--tables DIR`` keeps them in DIR instead, so a second run with the same DIR reads them (a warm run, as a resumed
or repeated sweep would). Prints the machine's load average and the CPU time of all processes too: the rate
depends on what else runs.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from sramflow.sweep.run import SweepOptions, run_sweep
from sramflow.sweep.space import space_from_dict

GRID = {
    "sram_words": [128, 256, 512],
    "sram_word_bits": [16, 32],
    "sram_banks": [1, 2],
    "sram_ports": ["1rw", "1rw1r"],
    "macs_per_cycle": [8, 16],
    "clock_mhz": [50, 100],
    "offchip": ["qspi-psram", "lpddr4"],
}
WIDE = {
    "sram_words": [64, 128, 256, 512, 1024, 2048],
    "sram_word_bits": [8, 16, 32, 64],
    "sram_banks": [1, 2, 4],
    "sram_ports": ["1rw", "1rw1r"],
    "macs_per_cycle": [4, 8, 16, 32, 64],
    "offchip": ["qspi-psram", "lpddr4", "zigzag-offchip"],
}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--space", choices=("grid", "random"), default="grid")
    ap.add_argument("--points", type=int, default=300, help="random points (--space random)")
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--objective", default="latency")
    ap.add_argument("--tables", default=None, help="on-disk table folder kept between runs (default: cold, temporary)")
    ap.add_argument("--graph-cache", default="/tmp/sramflow-bench/b0_224.pkl")
    a = ap.parse_args()
    sys.path.insert(0, str(Path(__file__).parent))
    from bench_simulate import load_b0

    graph = load_b0(Path(a.graph_cache))
    raw = dict(GRID) if a.space == "grid" else {**WIDE, "random": a.points, "seed": a.seed}
    info = {"model": "efficientnet_b0", "num_classes": 7, "resolution": 224, "source": "random weights (seed 0)"}
    load0 = os.getloadavg()
    cpu0 = os.times()
    with tempfile.TemporaryDirectory() as tmp:
        opts = SweepOptions(Path(tmp), objective=a.objective, workers=a.workers, progress=False,
                            tables_dir=Path(a.tables) if a.tables else None)
        s = run_sweep(space_from_dict(raw), graph, info, opts)
    cpu1 = os.times()
    cpu = sum(cpu1[:4]) - sum(cpu0[:4])
    print(f"space {a.space}: {s.computed} points ({s.ok} feasible, {s.infeasible} infeasible) in {s.wall_s:.1f} s "
          f"including outputs: {s.points_per_minute:.0f} points per minute "
          f"({a.workers or os.cpu_count()} workers, {os.cpu_count()} CPUs)")
    n = s.tiling_cache_hits + s.tiling_cache_derived + s.tiling_cache_misses
    print(f"tiling cache over {n} Conv/Gemm layer searches: {s.tiling_cache_hits} hits ({s.tiling_cache_loaded} "
          f"builds read from disk), {s.tiling_cache_derived} filtered from a larger SRAM's table, "
          f"{s.tiling_cache_misses} enumerated: {s.tiling_cache_hit_rate:.1%} reused")
    print(f"CPU time of this process and its workers: {cpu:.1f} s; "
          f"load average before / after: {load0[0]:.2f} / {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
