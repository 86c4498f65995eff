"""How optimistic the overlapped cycle model is about each layer's first loads (B0 @224, latency objective).

A double-buffered schedule is priced as max(link, SRAM port, MAC, vector) busy cycles: every transfer overlaps
compute. Its first tiles, though, are loaded from off-chip memory before any compute can start. This prints, per
preset, the link cycles of those first loads (``sim.first_loads``: the off-chip loads before the first compute step
of every double-buffered schedule, and of every part of a layer run in parts; bytes / bandwidth + one transaction
latency per burst; operands resident in an outer level are read from there, not over the link) as a share of the
network's cycles. Every simulation reports the same figure (``first_load_cycles`` in
inference_simulator_report.json, a line under the latency in the summary); it is what the model leaves out, not a
correction it applies. For the 64 KiB edit it also maps each split of the SRAM (``hw.partition``), which
``simulate`` compares with the whole SRAM with these cycles counted.

    PYTHONPATH=src .venv/bin/python benchmarks/bench_prologue.py [--hw sky130-design1 ...]

Measured (this tree, one thread; first-load cycles, share of the latency, the latency's cycles):
  sky130-design1                  22,605 =  0.0043 % of 529,188,772 (22,517 before the read of a held SE vector
                                  stopped ending the first loads: features.1.0's projection)
  sky130-design1-l2              114,059 =  0.058 % of 196,211,072
  sky130-design1-64k           3,854,007 =  3.2 % of 121,352,962 (the whole SRAM, which simulate keeps)
    split, 48 KiB of tiles     9,859,818 =  8.1 % of 121,127,002: -0.19 % cycles against the whole SRAM, +4.62 %
                                                                  with the first loads counted (its channel chunks
                                                                  each load their first tiles)
    split, 16 KiB of tiles     4,641,272 =  3.7 % of 125,403,430: +3.34 %, +3.86 %
    split, 8 KiB of tiles      1,011,925 = 0.77 % of 131,357,729: +8.24 %, +5.72 %
Few large tiles per layer make the first loads a visible share: the 64 KiB edit's latency (and that of any large-SRAM
design) is optimistic by up to 3 %; design1's thousands of small steps per layer hide them. The design advisor's
recommended designs of the default run (``--hw sramflow-out/advise/hw/design1.yaml`` and
``design_weights_offchip.yaml``, 4 KiB SRAM, priced here with 8-bit weights) leave out 0.0015 % and 0.16 % (its LPDDR4 pays its latency per 64-byte burst).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT.parent / "src"))
sys.path.insert(0, str(ROOT))

from bench_fusion import yaml_64k  # noqa: E402 - the 64 KiB user edit, as bench_fusion builds it
from sramflow.frontend.source import ModelSource, load_graph  # noqa: E402
from sramflow.hw.load import resolve_hw  # noqa: E402
from sramflow.hw.partition import partitioned, split_candidates  # noqa: E402
from sramflow.hw.spec import HardwareSpec  # noqa: E402
from sramflow.ir.graph import Graph  # noqa: E402
from sramflow.sim.api import prepare_graph, simulate_prepared  # noqa: E402


def left_out(g: Graph, hw: HardwareSpec) -> tuple[int, int]:
    """(first-load cycles the latency leaves out, the latency's cycles) of ``hw`` as given (no split mapped)."""
    res = simulate_prepared(prepare_graph(g, "depth-first"), hw, "latency", splits=False)
    return res.first_load_cycles, sum(r.cycles for r in res.nodes)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hw", nargs="*", default=None, help="presets or YAML files (default: design1, design1-l2 and "
                                                          "design1 with 64 KiB)")
    ap.add_argument("--no-splits", action="store_true", help="do not map the splits of a one-level SRAM")
    a = ap.parse_args()
    g = load_graph(ModelSource(model="efficientnet_b0", num_classes=7, resolution=224)).graph
    with tempfile.TemporaryDirectory() as tmp:
        names = a.hw or ["sky130-design1", "sky130-design1-l2", str(yaml_64k(Path(tmp)))]
        hws = [resolve_hw(n) for n in names]
    for hw in hws:
        fl, total = left_out(g, hw)
        print(f"  {hw.name:26s} {fl:>11,} = {100 * fl / total:7.2g} % of {total:,}", flush=True)
        for tiles in () if a.no_splits else split_candidates(hw):
            sfl, stotal = left_out(g, partitioned(hw, tiles))
            print(f"    split, {tiles // 1024} KiB of tiles {sfl:>11,} = {100 * sfl / stotal:7.2g} % of {stotal:,}: "
                  f"{100 * (stotal / total - 1):+.2f} % cycles against the whole SRAM, "
                  f"{100 * ((stotal + sfl) / (total + fl) - 1):+.2f} % with the first loads counted", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
