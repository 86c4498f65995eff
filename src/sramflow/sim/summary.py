"""Readable terminal summary of a simulation."""

from __future__ import annotations

from sramflow.mapping.depth_first_split import SplitSchedule
from sramflow.mapping.epilogue import EpilogueSchedule
from sramflow.mapping.fused import FusedSchedule
from sramflow.mapping.vector import VectorSchedule
from sramflow.sim.api import SimulationResult
from sramflow.sim.results import total_json


def summary_text(res: SimulationResult, top: int = 8) -> str:
    t = total_json(list(res.nodes), res.hw.clock_mhz)
    off = t["offchip_bytes"]
    lines = [
        f"{res.graph_name} on {res.hw.name} (objective {res.objective}"
        + (f" within {res.cycle_budget:,} cycles" if res.cycle_budget is not None else "")
        + (f": +{res.budget_over_pct:g} % over the latency objective's {res.fastest_cycles:,}"
           if res.budget_over_pct is not None and res.fastest_cycles is not None else "")
        + f"), {t['nodes']} nodes mapped and simulated "
        f"in {res.wall_s:.3f} s, fusion {res.fusion}" + (f" ({res.fusion_note})" if res.fusion_note else ""),
        f"  latency   {t['cycles']:,} cycles = {t['time_ms']:.2f} ms at {res.hw.clock_mhz:g} MHz "
        f"(lower bound {t['lower_bound_cycles']:,}, ratio {t['ratio_to_lower_bound']:.2f})",
        f"            optimistic by at most {res.first_load_cycles:,} cycles "
        f"({100 * res.first_load_cycles / max(t['cycles'], 1):.2g} %): the first loads of double-buffered layers, "
        "which the model overlaps with compute",
        f"  energy    {t['energy_uj'] / 1e3:.3f} mJ, average power {t['avg_power_mw']:.2f} mW",
        "  energy by component (uJ): " + ", ".join(f"{k} {v:,.1f}" for k, v in t["energy_uj_by_component"].items()),
        f"  off-chip  {sum(off.values()) / 1e6:.2f} MB: " + ", ".join(f"{k} {v / 1e6:.2f}" for k, v in off.items()),
        f"  SRAM      {t['sram_reads']:,} word reads, {t['sram_writes']:,} word writes; MACs {t['macs']:,}",
        f"  Conv/Gemm {t['conv_gemm_nodes']} nodes: {t['conv_gemm_cycles']:,} cycles, "
        f"{t['conv_gemm_energy_uj'] / 1e3:.3f} mJ",
        "  binding resource (nodes): " + ", ".join(f"{k} {v}" for k, v in sorted(t["binding_resource_counts"].items())),
        *_se_scale_lines(res),
        *_pool_lines(res),
        f"  slowest {top} nodes:",
    ]
    for r in sorted(res.nodes, key=lambda r: -r.cycles)[:top]:
        lines.append(f"    {r.name:52s} {r.cycles:>12,} cyc  {r.energy_uj:10.1f} uJ  bound by {r.binding_resource}"
                     f"  ({r.cycles / max(r.bounds.cycles, 1):.1f}x lower bound)")
    return "\n".join(lines)


def _se_scale_lines(res: SimulationResult) -> list[str]:
    """Where the SE channel scales ran: on their consumer's input path (the excitation vector held in the SRAM, or
    its bytes fetched with every input tile load), or in a Mul pass of their own; nothing without fusion."""
    if res.fusion == "none":
        return []
    on_path = held = 0
    for s in res.schedules:
        parts = [p.schedule for p in s.parts] if isinstance(s, SplitSchedule) else [s]
        groups = [p for p in parts if isinstance(p, EpilogueSchedule) and p.input_scale]
        on_path += bool(groups)
        held += any(p.scale_held for p in groups)
    passes = sum(1 for s in res.schedules if isinstance(s, VectorSchedule) and s.shape.op == "Mul" and s.shape.scale)
    if not on_path + passes:
        return []
    return [f"  SE scales {on_path + passes}: {on_path} on their consumer's input path ({held} with the excitation "
            f"vector held in the SRAM, {on_path - held} fetched with every input tile load), {passes} in a pass of "
            "their own"]


def _pool_lines(res: SimulationResult) -> list[str]:
    """Where the global average pools ran: on their conv's output path (the running sums carried across row bands
    in an outer level where the conv runs in bands), or in a pass of their own; nothing without fusion."""
    if res.fusion == "none":
        return []
    pools = [(r.name, s) for r, s in zip(res.nodes, res.schedules) if r.op == "GlobalAveragePool"]
    if not pools:
        return []
    fused = [name for name, s in pools if isinstance(s, FusedSchedule)]
    carried = sum(1 for s in res.schedules if isinstance(s, SplitSchedule)
                  and any(getattr(p.schedule, "pool_carry", None) for p in s.parts))
    return [f"  global average pools {len(pools)}: {len(fused)} on their conv's output path ({carried} with the sums "
            f"carried across row bands), {len(pools) - len(fused)} in a pass of their own"]
