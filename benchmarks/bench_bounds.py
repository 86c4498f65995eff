"""Each Conv/Gemm's off-chip traffic against the tighter of its two lower bounds (issue 17, item 5;
docs/io_lower_bound.md): the compulsory traffic (weights, bias, used inputs, outputs once) and the red-blue pebble
game I/O bound given the on-chip capacity (all SRAM levels + accumulators + input operand registers).

    PYTHONPATH=src .venv/bin/python benchmarks/bench_bounds.py [--hw sky130-design1] [--model efficientnet_b0]
        [--resolution 224] [--objective latency] [--worst 8] [--all]

Prints how many Conv/Gemm are within 2x of their bound, the worst layers with the reason (which operand is
re-fetched how often, the tile the mapper chose, and why the bound cannot be reached on this hardware), the
network totals, and with --all the whole per-layer table. Random weights: the traffic depends on shapes only.
"""

from __future__ import annotations

import argparse
import time

from sramflow.frontend.source import ModelSource, load_graph
from sramflow.hw.load import resolve_hw
from sramflow.hw.spec import HardwareSpec
from sramflow.mapping.conv_schedule import ConvSchedule
from sramflow.mapping.io_bound import onchip_capacity_bytes, used_input_bytes
from sramflow.report.table import render_table
from sramflow.sim.api import simulate_graph
from sramflow.sim.results import NodeResult


def _shape_text(sch: ConvSchedule) -> str:
    s = sch.shape
    kind = "dw" if s.groups > 1 and s.k_per_group == 1 and s.c_per_group == 1 else \
        ("pw" if s.kernel_h == s.kernel_w == 1 else f"{s.kernel_h}x{s.kernel_w}")
    return (f"{kind} g{s.groups} k{s.k_per_group} c{s.c_per_group} {s.out_h}x{s.out_w}"
            + (f" s{s.stride_h}" if s.stride_h > 1 else ""))


def refetch(sch: ConvSchedule) -> dict[str, float]:
    """Off-chip bytes of each operand over its compulsory bytes (1.0: fetched once)."""
    s, c = sch.shape, sch.counts
    return {"weights": c.offchip_weight_bytes / max(s.weight_bytes + s.bias_bytes, 1),
            "inputs": c.offchip_input_bytes / max(used_input_bytes(s), 1),
            "outputs": (c.offchip_output_bytes + c.offchip_psum_write_bytes) / max(s.output_bytes, 1)}


def reason(sch: ConvSchedule, r: NodeResult, hw: HardwareSpec) -> str:
    """Why the layer's traffic is above its bound: the operand that is re-fetched, the tile, and the limit."""
    f = refetch(sch)
    t = sch.tiling
    worst = max(f, key=f.__getitem__)
    tile = f"tile k{t.tile_k} c{t.tile_c} {t.tile_h}x{t.tile_w} g{t.tile_g}, order {''.join(t.order)}" + \
        (", double-buffered" if t.double_buffered else "")
    refetched = ", ".join(f"{k} x{v:.1f}" for k, v in f.items())
    sram = hw.main_sram.size_bytes
    if r.bounds.offchip_kind == "io":
        c, macs = sch.counts, sch.shape.macs
        split = (f"weights {c.offchip_weight_bytes / macs:.3f} + inputs {c.offchip_input_bytes / macs:.3f} + outputs "
                 f"{(c.offchip_output_bytes + c.offchip_psum_read_bytes + c.offchip_psum_write_bytes) / macs:.3f}")
        why = (f"capacity-limited reuse: the schedule moves {split} B/MAC; the output tile that accumulates over "
               f"the reduction is {t.tile_k * t.tile_g} channels x {t.tile_h * t.tile_w} pixels (the {sram} B SRAM"
               f"{', halved by double buffering,' if t.double_buffered else ''} holds its operand tiles, the "
               f"{hw.mac_array.accumulators} accumulators {t.group_k} x {t.group_h * t.tile_w} of its outputs), "
               f"while the bound ({r.bounds.io_bytes / macs:.3f} B/MAC) lets any data sit anywhere in the "
               f"{onchip_capacity_bytes(hw)} B on chip and is sqrt(2) below the tight matrix-product constant")
    elif worst == "inputs":
        sh = sch.shape
        n_k = -(-sh.k_per_group // t.tile_k)
        wh, ww = sh.window_rows(t.tile_h), sh.window_cols(t.tile_w)
        halo = wh * ww / (t.tile_h * t.tile_w * sh.stride_h * sh.stride_w)
        why = (f"inputs re-fetched: {n_k} output-channel tile(s) of {t.tile_k} each read the input again, and a "
               f"{t.tile_h}x{t.tile_w} output tile reads a {wh}x{ww} window (x{halo:.2f} halo), because {sram} B of "
               "SRAM holds no more of the input (the bound counts every input once)")
    else:
        why = f"{worst} re-fetched: {sram} B of SRAM cannot hold them while the other operands stream"
    return f"{refetched}; {tile}; {why}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hw", default="sky130-design1")
    ap.add_argument("--model", default="efficientnet_b0")
    ap.add_argument("--resolution", type=int, default=224)
    ap.add_argument("--objective", default="latency")
    ap.add_argument("--worst", type=int, default=8)
    ap.add_argument("--all", action="store_true", help="print every Conv/Gemm")
    a = ap.parse_args()

    hw = resolve_hw(a.hw)
    graph = load_graph(ModelSource(model=a.model, num_classes=7, resolution=a.resolution)).graph
    t0 = time.perf_counter()
    res = simulate_graph(graph, hw, a.objective)
    wall = time.perf_counter() - t0
    rows = []
    for sch, r in zip(res.schedules, res.nodes):
        if r.unit != "mac" or not isinstance(sch, ConvSchedule):
            continue
        b = r.bounds
        rows.append((sch, r, sch.counts.offchip_bytes / b.offchip_bytes))
    print(f"{a.model}@{a.resolution} on {hw.name} ({a.objective}): on-chip capacity {onchip_capacity_bytes(hw)} B "
          f"(SRAM {sum(m.size_bytes for m in hw.sram)} B + accumulators "
          f"{hw.mac_array.accumulators * hw.mac_array.accumulator_bits // 8} B + input registers "
          f"{hw.mac_array.input_register_bytes} B); simulated in {wall:.2f} s")

    def table(sel: list) -> str:
        return render_table(
            ["layer", "shape", "off-chip B", "compulsory B", "I/O bound B", "tighter", "ratio"],
            [[r.name, _shape_text(sch), f"{sch.counts.offchip_bytes:,}", f"{r.bounds.compulsory_bytes:,}",
              f"{r.bounds.io_bytes:,}", r.bounds.offchip_kind,
              f"{q:.2f}"] for sch, r, q in sel], "llrrrlr")

    if a.all:
        print(table(rows))
    within = sum(q <= 2.0 for _, _, q in rows)
    io_tight = sum(r.bounds.offchip_kind == "io" for _, r, _ in rows)
    traffic = sum(sch.counts.offchip_bytes for sch, _, _ in rows)
    bound = sum(r.bounds.offchip_bytes for _, r, _ in rows)
    print(f"\nConv/Gemm nodes: {len(rows)}; within 2x of the tighter bound: {within}; the I/O bound is the tighter "
          f"for {io_tight}")
    print(f"Conv/Gemm off-chip bytes {traffic:,} vs the sum of their bounds {bound:,} (x{traffic / bound:.2f})")
    worst = sorted(rows, key=lambda x: -x[2])[:a.worst]
    print(f"\nworst {len(worst)}:")
    print(table(worst))
    print("\nreasons (off-chip bytes per operand over its compulsory bytes; the tile; the limit):")
    for sch, r, q in worst:
        print(f"  {r.name} (x{q:.2f}): {reason(sch, r, hw)}")
    over = [(sch, r, q) for sch, r, q in rows if q > 2.0]
    kinds: dict[str, int] = {}
    for sch, _, _ in over:
        k = _shape_text(sch).split()[0]
        kinds[k] = kinds.get(k, 0) + 1
    print(f"\nabove 2x by kind: {kinds}")


if __name__ == "__main__":
    main()
