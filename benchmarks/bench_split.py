"""Depth-first on one SRAM level (``hw.partition``): B0 @224 on the 64 KiB edit of design1, mapped with the whole SRAM
as tile buffer and split into 16 or 8 KiB of tiles and a region on the same port, under latency and energy.

    PYTHONPATH=src .venv/bin/python benchmarks/bench_split.py [--hw FILE]

Prints each mapping's totals, which one ``simulate --fusion depth-first`` keeps, and what a choice per MBConv block
(the better of the mappings for each block's nodes, summed) would give: the bound on what choosing the split per
group instead of per network could gain.

Measured (this tree, one thread; cycles / mJ / off-chip MB / first-load cycles; tiles of 64 KiB = the whole SRAM):
  latency  whole 121,352,962 / 26.764 / 21.88 / 3,854,007   48 KiB 121,127,002 / 27.491 / 22.64 / 9,859,818
           16 KiB 125,403,430 / 33.157 / 28.44 / 4,641,272   8 KiB 131,357,729 / 39.268 / 34.74 / 1,011,925
           kept: whole; per block: 121,312,456 / 26.770 / 21.89 / 3,841,809 (0.04 % fewer with first loads)
  energy   whole 137,292,812 / 24.168 / 18.87 / 3,004,142   48 KiB 135,389,787 / 22.946 / 17.34 / 5,323,252
           16 KiB 157,336,406 / 16.814 /  9.24 / 4,012,347   8 KiB 162,318,630 / 17.135 /  9.33 / 463,065
           kept: 16 KiB; per block: 157,188,544 / 16.751 / 9.19 / 3,940,339
  (energy before the SE barrier could be crossed by recomputation: 16 KiB 141,379,585 / 17.258 / 10.68, 8 KiB
  145,711,687 / 17.551 / 10.77; the first loads grew where a held SE vector's read had ended them early)
Under latency a kept byte's two extra trips through the one 16-bit port cost about what the link time it saves is
worth: the 48 KiB split is 0.19 % faster than the whole SRAM in the model and moves more, and its channel chunks,
each loading its first tiles before any compute, make it 4.6 % slower with first loads counted, as ``simulate``
compares them. Under energy the 16 KiB split halves the traffic and cuts 29 % of the energy. Per block, the choice
gains little either way (each split, mapped ~1-3 min, wins almost everywhere it wins at all). With 16 or 8 KiB of
tiles the region holds the bands of a recomputed block (``mapping.depth_first_recompute``: features.1.0's and 2.1's
depthwise outputs never leave the chip), which takes the energy objective below 10 MB; the 48 KiB split's 16 KiB
region holds none. What is left at 9.24 MB: the weights (4.30 MB), the blocks' boundary tensors and the depthwise
outputs of the blocks that still spill at the SE barrier (features.2.0 and 4.0 for energy, 3.0 where no pass B
fits, and every channel-chunk group).
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT.parent / "src"))
sys.path.insert(0, str(ROOT))

from bench_fusion import yaml_64k  # noqa: E402 - the 64 KiB user edit, as bench_fusion builds it
from sramflow.frontend.source import ModelSource, load_graph  # noqa: E402
from sramflow.hw.load import resolve_hw  # noqa: E402
from sramflow.hw.partition import partitioned, split_candidates  # noqa: E402
from sramflow.mapping.search.choose import objective_key  # noqa: E402
from sramflow.sim.api import SimulationResult, prepare_graph, simulate_prepared  # noqa: E402
from sramflow.sim.first_loads import first_load_cycles  # noqa: E402
from sramflow.sim.results import NodeResult, total_json  # noqa: E402


def block(name: str) -> str:
    """B0's MBConv block of a node ("features.2.1"), the stem ("features.0") or the head conv ("features.8") with
    their activations, else the node's own name (pool, classifier)."""
    m = re.search(r"features\.(\d+)\.(\d+)", name)
    if m is None:
        return name
    return f"features.{m.group(1)}" if m.group(1) in ("0", "8") else f"features.{m.group(1)}.{m.group(2)}"


def totals(nodes: list[NodeResult]) -> tuple[int, float, int]:
    return (sum(n.cycles for n in nodes), sum(n.energy_uj for n in nodes),
            sum(n.counts.offchip_bytes for n in nodes))


def _block_metrics(res: SimulationResult, idx: list[int]) -> tuple[int, float]:
    """(cycles with their first loads, energy) of the nodes ``idx`` of one mapping."""
    nodes = [res.nodes[i] for i in idx]
    c, e, _ = totals(nodes)
    return c + first_load_cycles([res.schedules[i] for i in idx], [n.overlapped and n.cycles > 0 for n in nodes],
                                 res.hw), e


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hw", default=None, help="a one-level preset or YAML (default: design1 with 64 KiB)")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        hw = resolve_hw(a.hw or str(yaml_64k(Path(tmp))))
    if not split_candidates(hw):
        raise SystemExit(f"{hw.name}: no split is tried on this SRAM (hw.partition.split_candidates)")
    g = load_graph(ModelSource(model="efficientnet_b0", num_classes=7, resolution=224)).graph
    prep = prepare_graph(g, "depth-first")
    hws = {"whole": hw, **{f"{b // 1024} KiB": partitioned(hw, b) for b in split_candidates(hw)}}
    for objective in ("latency", "energy"):
        results = {}
        keys = {}
        for label, h in hws.items():
            t0 = time.perf_counter()
            r = results[label] = simulate_prepared(prep, h, objective, splits=False)
            tot = total_json(list(r.nodes), h.clock_mhz)
            keys[label] = objective_key(tot["cycles"] + r.first_load_cycles, tot["energy_uj"], objective)
            c, e, b = totals(list(r.nodes))
            print(f"{objective:8s} {label:7s} {c:>13,} cycles {e / 1e3:8.3f} mJ {b / 1e6:7.2f} MB, first loads "
                  f"{r.first_load_cycles:,} cycles ({time.perf_counter() - t0:.0f} s)")
        # simulate_prepared's own choice among the same mappings (``sim.api._split_or_whole``: first loads counted,
        # the whole SRAM first, a split only where it ranks strictly better), without mapping them all again
        print(f"{objective:8s} simulate --fusion depth-first keeps: {min(keys, key=keys.__getitem__)}")
        blocks: dict[str, list[int]] = {}
        for i, n in enumerate(results["whole"].nodes):
            blocks.setdefault(block(n.name), []).append(i)
        c = e = b = f = 0
        picks = []
        for name, idx in blocks.items():
            best = min((objective_key(*_block_metrics(results[k], idx)[:2], objective), k) for k in results)
            bc, be, bb = totals([results[best[1]].nodes[i] for i in idx])
            c, e, b, f = c + bc, e + be, b + bb, f + _block_metrics(results[best[1]], idx)[0] - bc
            picks += [name] if best[1] != "whole" else []
        print(f"{objective:8s} per block: {c:>13,} cycles {e / 1e3:8.3f} mJ {b / 1e6:7.2f} MB, first loads {f:,} "
              f"cycles (split in {len(picks)} of {len(blocks)}: {', '.join(picks)})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
