"""The three JSON files of ``sramflow simulate``: layer_mapping, weight_mapping_summary, simulator report."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from sramflow.jsonio import write_json_atomic
from sramflow.hw.partition import macro_bytes
from sramflow.mapping.conv_schedule import ConvSchedule
from sramflow.mapping.depth_first_split import SplitSchedule
from sramflow.mapping.epilogue import EpilogueSchedule
from sramflow.mapping.fused import FusedSchedule
from sramflow.sim.api import Schedule, SimulationResult
from sramflow.sim.results import node_json, offchip_by_operand, total_json


def _scale_level_name(sch: EpilogueSchedule) -> str | None:
    """The SRAM level holding an input scale's excitation vector (None: its bytes come with every input tile load)."""
    if sch.scale_level is None:
        return None
    return sch.conv.levels.level(sch.scale_level).name if sch.scale_level else "first SRAM level"


def _tiling(sch: Schedule) -> dict[str, Any]:
    if isinstance(sch, SplitSchedule):  # a layer in depth-first bands / chunks: its first part's tiling
        return {**_tiling(sch.own_parts[0].schedule), "depth_first_split": sch.describe()}
    if isinstance(sch, EpilogueSchedule):
        return {**_tiling(sch.conv), "fusion_group": sch.shape.name, "epilogue": list(sch.members),
                "input_scale": sch.input_scale or None,
                **({"scale_held_in": _scale_level_name(sch)} if sch.input_scale else {})}
    if isinstance(sch, FusedSchedule):
        group = {"fusion_group": sch.shape.into, "fused_on": "input path" if sch.shape.input_scale else "output path"} \
            if sch.shape.epilogue else {}
        return {"tile_sizes": {}, "loop_order": [], "partial_sums": "none", "double_buffered": False,
                "fused_into": sch.shape.into, **group}
    if isinstance(sch, ConvSchedule):
        t = sch.tiling
        where = "spilled off-chip" if sch.spill_psums else "kept in the SRAM" if sch.keep_psums \
            else "kept in accumulators"
        return {"tile_sizes": {"groups": t.tile_g, "out_channels": t.tile_k, "in_channels": t.tile_c,
                               "out_rows": t.tile_h, "out_cols": t.tile_w,
                               "kernel": [sch.shape.kernel_h, sch.shape.kernel_w]},
                "accumulator_group": {"out_channels": t.group_k, "out_rows": t.group_h},
                "loop_order": list(t.order), "partial_sums": where,
                "partial_sum_bytes": sch.shape.psum_bytes if sch.spill_psums or sch.keep_psums else 0,
                "double_buffered": t.double_buffered}
    return {"tile_sizes": {"segments": 1, "elements": sch.chunk}, "loop_order": ["segment", "chunk"],
            "partial_sums": "vector accumulator" if sch.shape.reduce else "none",
            "double_buffered": sch.double_buffered}


def layer_mapping_json(res: SimulationResult) -> dict[str, Any]:
    m = res.hw.main_sram
    layers = []
    for sch, r in zip(res.schedules, res.nodes):
        layers.append({
            "name": r.name, "op": r.op, "unit": r.unit, **_tiling(sch),
            "resident_operands": sorted({b.operand for b in sch.buffers}),
            "buffers": [{"operand": b.operand, "slot": b.slot, "word_range": [b.base_word, b.end_word - 1],
                         "size_words": b.size_words} for b in sch.buffers],
            "words_used": max((b.end_word for b in sch.buffers), default=0),
            "swaps": r.counts.dma_loads, "steps": r.counts.steps, "fits_without_tiling": sch.fits_whole,
            **{"staged_in_" + m.name: list(sch.staged_in(k) if isinstance(sch, (ConvSchedule, EpilogueSchedule,
                                                                                SplitSchedule)) else ())
               for k, m in enumerate(res.hw.sram[1:], start=1)},
        })
    return {"hw": res.hw.name, "sram": {"name": m.name, "word_bits": m.word_bits, "words": m.total_words,
                                        "ports": m.ports}, "objective": res.objective,
            "fusion": res.fusion, "fusion_note": res.fusion_note,
            "cycle_budget": res.cycle_budget, "cycle_budget_over_fastest_pct": res.budget_over_pct,
            "fastest_cycles": res.fastest_cycles, "layers": layers}


def weight_mapping_summary_json(res: SimulationResult) -> dict[str, Any]:
    whole = sum(1 for s in res.schedules if s.fits_whole)
    tot = {"weights": 0, "inputs": 0, "outputs": 0, "partial_sums": 0}
    for r in res.nodes:
        for k, v in offchip_by_operand(r.counts).items():
            tot[k] += v
    return {"hw": res.hw.name, "sram_bytes": macro_bytes(res.hw), "layers": len(res.nodes),
            "layers_fitting_whole": whole, "layers_tiled": len(res.nodes) - whole,
            "swaps": sum(r.counts.dma_loads for r in res.nodes), "bytes_moved": sum(tot.values()),
            "bytes_moved_by_operand": tot}


def fusion_groups_json(res: SimulationResult) -> list[dict[str, Any]]:
    """One entry per fused group (``mapping.epilogue``): its nodes, the tensor it writes, its off-chip bytes by
    operand and, on hardware with outer SRAM levels, the bytes between each pair of levels by operand. The group's
    counts are its producer node's (the members report zero and name it)."""
    out = []
    for sch, r in zip(res.schedules, res.nodes):
        split = sch.describe() if isinstance(sch, SplitSchedule) else None
        if isinstance(sch, SplitSchedule):
            sch = sch.whole  # the group's members are the whole layer's; its counts are the parts' (``r``)
        if isinstance(sch, EpilogueSchedule):  # (a layer split without an epilogue: its node and layer_mapping entry)
            scale = [sch.input_scale] if sch.input_scale else []
            pool = sch.pool_plan if sch.pool else None
            out.append({"producer": r.name, "op": r.op,
                        "members": scale + list(sch.members) + ([sch.residual] if sch.residual else [])
                        + ([sch.residual_act] if sch.residual_act else [])
                        + ([sch.pool] if sch.pool else []),
                        "input_scale": sch.input_scale or None,
                        "pool": sch.pool or None,
                        "output_stored": pool is None or pool.stores is None,
                        **({"scale_held_in": _scale_level_name(sch)} if sch.input_scale else {}),
                        "offchip_bytes_by_operand": offchip_by_operand(r.counts),
                        "level_bytes_by_operand": r.level_traffic,
                        **({"depth_first_split": split} if split else {}),
                        **({"resident_in_level": list(sch.conv.resident)}
                           if getattr(sch.conv, "resident", ()) else {})})
    return out


def depth_first_groups_json(res: SimulationResult) -> list[dict[str, Any]]:
    """Every Conv -> Conv edge ``mapping.depth_first`` considered: the tensor, its bytes, the level and first word
    that hold it where it stays on chip (``kept``), else why the edge falls back to epilogue fusion."""
    return [dataclasses.asdict(g) for g in res.groups]


def report_json(res: SimulationResult) -> dict[str, Any]:
    return {"graph": res.graph_name, "hw": res.hw.name, "hw_description": res.hw.description,
            "clock_mhz": res.hw.clock_mhz, "objective": res.objective, "cycle_budget": res.cycle_budget,
            "cycle_budget_over_fastest_pct": res.budget_over_pct, "fastest_cycles": res.fastest_cycles,
            "simulation_wall_s": res.wall_s, "fusion": res.fusion, "fusion_note": res.fusion_note,
            "fusion_groups": fusion_groups_json(res), "depth_first_groups": depth_first_groups_json(res),
            "total": total_json(list(res.nodes), res.hw.clock_mhz), "first_load_cycles": res.first_load_cycles,
            "nodes": [node_json(r) for r in res.nodes],
            "uncosted_nodes": list(res.uncosted_nodes)}


def write_outputs(res: SimulationResult, out_dir: str | Path) -> list[Path]:
    out = Path(out_dir)
    return [write_json_atomic(out / "layer_mapping.json", layer_mapping_json(res)),
            write_json_atomic(out / "weight_mapping_summary.json", weight_mapping_summary_json(res)),
            write_json_atomic(out / "inference_simulator_report.json", report_json(res))]
