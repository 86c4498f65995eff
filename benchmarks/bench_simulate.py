"""Whole-network analytical simulation of EfficientNet-B0 @224: wall time, totals, lower bounds, and the
ratio of our Conv/Gemm totals to ZigZag 3.9.1's best (../shared/anchors/zigzag/README.md).

    .venv/bin/python benchmarks/bench_simulate.py [--graph-cache PATH]
"""

from __future__ import annotations

import argparse
import json
import pickle
import time
from pathlib import Path

ZIGZAG_CYCLES = 2.898e8  # summary_search.json latency_cc: 289,834,501
ZIGZAG_ENERGY_UJ = 18620.976  # 18.62 mJ, 82 Conv/Gemm nodes, 815 CPU-s of search
ZIGZAG_SUMMARY = Path(__file__).resolve().parents[2] / "shared/anchors/zigzag/summary_search.json"
WRITEUP = {"time_ms": 36.6, "reads_ms": 20.29, "compute_ms": 3.90, "swaps_ms": 12.40, "power_mw": 12.4,
           "energy_mj": 0.45}


def zigzag_tiny():  # noqa: ANN201 - the preset when hw/ ships it, else the same numbers built here
    from sramflow.hw.load import list_presets, resolve_hw

    if "zigzag-tiny" in list_presets():
        return resolve_hw("zigzag-tiny")
    from sramflow.hw.spec import HardwareSpec, MacArray, OffchipMemory, SramMacro, Source, VectorUnit

    src = Source("assumed", "ZigZag anchor tiny_sram_accel.yaml (../shared/anchors/zigzag)")
    sram = SramMacro("sram_256B", 16, 128, "1rw", 1, 3.0, 3.5, 0.0, 0.0, 0.0, 10.0, 0.0, 1.8, src)
    off = OffchipMemory("offchip_4MB", "abstract", 2.0, 0, 160.0, 160.0, 0.0, src)
    mac = MacArray(16, 1.0, 16, 4, 0.0, src)  # reg_O: one 16-bit accumulator per D1 column
    return HardwareSpec("zigzag-tiny", "ZigZag anchor hardware", 100.0, (sram,), off, mac, VectorUnit(1, 0.5, 256, 0.5, src))


def load_b0(cache: Path):  # noqa: ANN201
    if cache.exists():
        return pickle.loads(cache.read_bytes())
    from sramflow.frontend.source import ModelSource, load_graph

    g = load_graph(ModelSource()).graph
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_bytes(pickle.dumps(g))
    return g


def per_layer_vs_zigzag(res) -> list[str]:  # noqa: ANN001
    if not ZIGZAG_SUMMARY.exists():
        return []
    zz = json.loads(ZIGZAG_SUMMARY.read_text())["layers"]
    ours = [r for r in res.nodes if r.unit == "mac"]
    lines = []
    for z, r in zip(zz, ours):
        worse = [k for k, a, b in (("cycles", r.cycles, z["latency_cc"]), ("energy", r.energy_uj, z["energy_pJ"] * 1e-6))
                 if a > b]
        if worse:
            lines.append(f"    worse on {'+'.join(worse)}: {r.name} ours {r.cycles:,} cyc {r.energy_uj:.1f} uJ, "
                         f"zigzag {z['latency_cc']:,.0f} cyc {z['energy_pJ'] * 1e-6:.1f} uJ; bound by "
                         f"{r.binding_resource}, off-chip {r.counts.offchip_bytes:,} B")
    return lines


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--graph-cache", default="/tmp/sramflow-bench/b0_224.pkl")
    ap.add_argument("--objective", default="latency")
    a = ap.parse_args()
    from sramflow.hw.load import resolve_hw
    from sramflow.sim.api import prepare_graph, simulate_prepared
    from sramflow.sim.results import total_json

    g = load_b0(Path(a.graph_cache))
    prep = prepare_graph(g)
    for name in ("sky130-design1", "sky130-design1-claimed", "zigzag-tiny"):
        hw = zigzag_tiny() if name == "zigzag-tiny" else resolve_hw(name)
        t0 = time.perf_counter()
        res = simulate_prepared(prep, hw, a.objective)
        wall = time.perf_counter() - t0
        t = total_json(list(res.nodes), hw.clock_mhz)
        print(f"{name}: {wall:.3f} s for {t['nodes']} nodes; {t['cycles']:,} cycles = {t['time_ms']:.2f} ms, "
              f"{t['energy_uj'] / 1e3:.3f} mJ, {t['avg_power_mw']:.2f} mW; lower bound {t['lower_bound_cycles']:,} "
              f"cycles (ratio {t['ratio_to_lower_bound']:.2f}); binding {t['binding_resource_counts']}")
        print(f"  Conv/Gemm: {t['conv_gemm_cycles']:,} cycles, {t['conv_gemm_energy_uj'] / 1e3:.3f} mJ "
              f"(lower bound {t['conv_gemm_lower_bound_cycles']:,} cycles)")
        if name == "zigzag-tiny":
            print(f"  vs ZigZag best ({ZIGZAG_CYCLES:.4g} cycles, {ZIGZAG_ENERGY_UJ / 1e3:.2f} mJ, 815 CPU-s): "
                  f"cycles x{t['conv_gemm_cycles'] / ZIGZAG_CYCLES:.3f}, energy "
                  f"x{t['conv_gemm_energy_uj'] / ZIGZAG_ENERGY_UJ:.3f}, search time x{wall / 815:.5f}")
            lines = per_layer_vs_zigzag(res)
            print(f"  layers where we are worse than ZigZag: {len(lines)}")
            print("\n".join(lines[:20]))
        else:
            e = t["energy_uj_by_component"]
            print(f"  write-up: {WRITEUP['time_ms']} ms ({WRITEUP['reads_ms']} reads + {WRITEUP['compute_ms']} compute"
                  f" + {WRITEUP['swaps_ms']} swaps), {WRITEUP['power_mw']} mW, {WRITEUP['energy_mj']} mJ | ours: "
                  f"{t['time_ms']:.1f} ms, {t['avg_power_mw']:.2f} mW, {t['energy_uj'] / 1e3:.2f} mJ; "
                  f"off-chip {e['offchip'] / 1e3:.2f} mJ, SRAM {(e['sram_read'] + e['sram_write']) / 1e3:.2f} mJ, "
                  f"MAC {e['mac'] / 1e3:.2f} mJ")


if __name__ == "__main__":
    main()
