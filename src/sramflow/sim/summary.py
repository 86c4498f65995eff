"""Readable terminal summary of a simulation."""

from __future__ import annotations

from sramflow.sim.api import SimulationResult
from sramflow.sim.results import total_json


def summary_text(res: SimulationResult, top: int = 8) -> str:
    t = total_json(list(res.nodes), res.hw.clock_mhz)
    off = t["offchip_bytes"]
    lines = [
        f"{res.graph_name} on {res.hw.name} (objective {res.objective}"
        + (f" within {res.cycle_budget:,} cycles" if res.cycle_budget is not None else "")
        + f"), {t['nodes']} nodes mapped and simulated "
        f"in {res.wall_s:.3f} s, fusion {res.fusion}" + (f" ({res.fusion_note})" if res.fusion_note else ""),
        f"  latency   {t['cycles']:,} cycles = {t['time_ms']:.2f} ms at {res.hw.clock_mhz:g} MHz "
        f"(lower bound {t['lower_bound_cycles']:,}, ratio {t['ratio_to_lower_bound']:.2f})",
        f"  energy    {t['energy_uj'] / 1e3:.3f} mJ, average power {t['avg_power_mw']:.2f} mW",
        "  energy by component (uJ): " + ", ".join(f"{k} {v:,.1f}" for k, v in t["energy_uj_by_component"].items()),
        f"  off-chip  {sum(off.values()) / 1e6:.2f} MB: " + ", ".join(f"{k} {v / 1e6:.2f}" for k, v in off.items()),
        f"  SRAM      {t['sram_reads']:,} word reads, {t['sram_writes']:,} word writes; MACs {t['macs']:,}",
        f"  Conv/Gemm {t['conv_gemm_nodes']} nodes: {t['conv_gemm_cycles']:,} cycles, "
        f"{t['conv_gemm_energy_uj'] / 1e3:.3f} mJ",
        "  binding resource (nodes): " + ", ".join(f"{k} {v}" for k, v in sorted(t["binding_resource_counts"].items())),
        f"  slowest {top} nodes:",
    ]
    for r in sorted(res.nodes, key=lambda r: -r.cycles)[:top]:
        lines.append(f"    {r.name:52s} {r.cycles:>12,} cyc  {r.energy_uj:10.1f} uJ  bound by {r.binding_resource}"
                     f"  ({r.cycles / max(r.bounds.cycles, 1):.1f}x lower bound)")
    return "\n".join(lines)
