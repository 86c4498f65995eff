"""advise outputs: advise.json (every number's provenance), ADVICE.md, plots, one hardware YAML per recommended
design (``sramflow simulate --hw`` accepts it), and the few-line answer printed by the CLI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sramflow.design.advise import Advice, binding, shortfall
from sramflow.design.evaluate import DesignResult
from sramflow.design.space import bank_macros, boot_cost
from sramflow.hw.area import COMPOSE_RULE, figures
from sramflow.hw.load import hw_to_dict, resolve_hw
from sramflow.hw.yamlio import dump_yaml
from sramflow.sweep.pareto import pareto_front
from sramflow.sweep.precision import accuracy_assumption

TOP_N = 5


def _design(r: DesignResult, a: Advice, out: Path, rank: int | str, objective: str) -> dict[str, Any]:
    hw_dir = out / "hw"
    hw_dir.mkdir(parents=True, exist_ok=True)
    path = hw_dir / f"design{rank}.yaml"
    path.write_text(dump_yaml(hw_to_dict(r.point.hw)))
    wb = r.point.weight_bits
    args = ["--objective", objective, "--fusion", r.point.fusion] + ([] if wb == 8 else ["--weight-bits", str(wb)])
    return {"hw_yaml": str(path.relative_to(out)), "simulate_args": args, "params": dict(r.point.params),
            "area_mm2": r.area_mm2,
            "area_mm2_by_part": {"sram": list(r.area.sram_mm2), "mac_array": r.area.mac_array_mm2,
                                 "accumulators": r.area.accumulators_mm2, "vector_unit": r.area.vector_unit_mm2},
            "latency_ms": r.latency_ms, "energy_mj": r.energy_mj, "avg_power_mw": r.avg_power_mw,
            "static_power_uw": r.area.static_power_uw, "offchip_bytes": r.metrics.get("offchip_bytes"),
            "shortfall": shortfall(r, a.targets), "binding": binding(r, a.targets),
            "accuracy": accuracy_assumption(wb), "assumptions": list(r.point.assumptions),
            "sram_levels": [c.as_dict() for c in r.point.memories],
            "weights_on_chip": r.point.store is not None,
            "weight_store": r.point.store.as_dict() if r.point.store else None,
            "boot": boot_cost(r.point.store, a.weight_bytes[str(wb)]) if r.point.store else None}


def advice_dict(a: Advice, out: Path, objective: str) -> dict[str, Any]:
    feas = a.feasible
    shown = feas[:TOP_N] if feas else a.closest(TOP_N)
    designs = [_design(r, a, out, i + 1, objective) for i, r in enumerate(shown)]
    # the best design of each kind (weights read off-chip / held on chip), so both answers are on record
    per_kind = {}
    for kind, on in (("weights_offchip", False), ("weights_on_chip", True)):
        pool = [r for r in (feas or a.closest(len(a.ok))) if (r.point.store is not None) == on]
        if pool:
            per_kind[kind] = _design(pool[0], a, out, f"_{kind}", objective)
    s = a.space
    return {
        "targets": a.targets.as_dict(), "feasible": bool(feas), "designs": designs,
        "designs_are": "cheapest feasible by area" if feas else "closest (smallest worst figure/target ratio)",
        "best_per_kind": per_kind,
        "bounds": a.bounds, "space_lower_bounds": a.space_bounds,
        "searched": {"space": s.as_dict(), "base": s.base, "bank_rule": COMPOSE_RULE,
                     "points": len(a.results) + len(a.pruned), "simulated": len(a.results),
                     "pruned_by_bounds": len(a.pruned), "ok": len(a.ok), "refined": dict(a.refined),
                     "pruned_bound_misses": {k: sum(getattr(b, k) > lim for _, b in a.pruned)
                                             for k, lim in a.targets.as_dict().items()},
                     "pruned_weights_on_chip": sum(p.store is not None for p, _ in a.pruned),
                     "not_generated": "grid points with an L2 no larger than L1, or a clock faster than a macro's "
                                      "minimum period; weights-on-chip points once, not per off-chip memory",
                     "bounds_rule": "a point is pruned when a lower bound (energy, latency, static power; "
                                    "sramflow.design.advise) misses a target; when none can meet every target, the "
                                    "points whose bounds come closest are simulated",
                     "infeasible": [{"params": dict(r.point.params), "reason": r.reason}
                                    for r in a.results if r.status != "ok"][:20]},
        "area_model": {k: f.as_dict() for k, f in figures().items()},
        "bank_macros": {m.name: {"bytes": m.size_bytes, "word_bits": m.word_bits, "ports": m.ports,
                                 "read_energy_pj": m.read_energy_pj, "write_energy_pj": m.write_energy_pj,
                                 "idle_energy_pj_per_cycle": m.idle_energy_pj_per_cycle, "leakage_uw": m.leakage_uw,
                                 "min_period_ns": m.min_period_ns, "area_um2": m.area_um2, "vdd_v": m.vdd_v,
                                 "tech": m.tech, "kind": m.source.kind, "ref": m.source.ref}
                        for m in bank_macros(resolve_hw(s.base)).values()},
        "energy_note": "simulated energy (sramflow.sim, provenance in each hw YAML; the logic leakage of area_model is "
                       "the YAML's mac_array.leakage_uw): re-simulating a design's YAML gives the same figures",
    }


def _plots(a: Advice, out: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.ticker
    import matplotlib.pyplot as plt

    ok = a.ok
    paths = []
    for metric, target, unit in (("energy_mj", a.targets.energy_mj, "mJ"), ("latency_ms", a.targets.latency_ms, "ms")):
        fig, ax = plt.subplots(figsize=(6, 4))
        xy = [(r.area_mm2, getattr(r, metric)) for r in ok]
        if xy:
            ax.scatter(*zip(*xy, strict=True), s=10, alpha=0.5, label="designs")
            front = sorted(xy[i] for i in pareto_front(xy))
            ax.plot(*zip(*front, strict=True), "r.-", label="Pareto front")
        ax.axhline(target, color="k", ls="--", label=f"target {target:g} {unit}")
        lb = a.space_bounds[metric]
        ax.axhline(lb, color="g", ls=":", label=f"lower bound over the space {lb:.3g} {unit}")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.set_xlabel("silicon area (mm2)")
        ax.set_ylabel(f"{metric.split('_')[0]} ({unit})")
        ax.legend(fontsize=7)
        path = out / f"area_vs_{metric.split('_')[0]}.png"
        fig.tight_layout()
        fig.savefig(path, dpi=110)
        plt.close(fig)
        paths.append(path)
    return paths


def _design_line(label: str, x: dict[str, Any]) -> str:
    p = x["params"]
    return (f"  {label} {x['area_mm2']:.3g} mm2: SRAM {p['sram_bytes']:,} B"
            + (f" + L2 {p['l2_bytes']:,} B" if p["l2_bytes"] else "")
            + (f" + weights on chip ({x['weight_store']['size_bytes']:,} B store)" if x["weights_on_chip"] else "")
            + f", {p['macs_per_cycle']} MACs, {p['clock_mhz']:g} MHz, {p['offchip']}, fusion {p['fusion']}, "
            f"weights {p['weight_bits']}: {x['latency_ms']:.4g} ms, {x['energy_mj']:.4g} mJ, "
            f"{x['avg_power_mw']:.4g} mW, {'store' if x['weights_on_chip'] else 'off-chip'} traffic "
            f"{x['offchip_bytes'] or 0:,} B; binds: {x['binding']}")


def answer_lines(d: dict[str, Any]) -> list[str]:
    t = d["targets"]
    head = (f"targets: {t['latency_ms']:g} ms, {t['energy_mj']:g} mJ, {t['avg_power_mw']:g} mW; "
            f"{d['searched']['points']} designs ({d['searched']['simulated']} simulated, "
            f"{d['searched']['pruned_by_bounds']} pruned by bounds)")
    lines = [head, "cheapest designs meeting every target:" if d["feasible"]
             else "no design meets every target; closest:"]
    shown = d["designs"][:3]
    lines += [_design_line(f"{i + 1}.", x) for i, x in enumerate(shown)]
    for kind, x in d.get("best_per_kind", {}).items():
        if all(x["params"] != y["params"] for y in shown):
            lines.append(_design_line(f"best with {kind.replace('_', ' ').replace('offchip', 'off-chip')}:", x))
    for k, b in d["bounds"].items():
        rules = " (rules it out)" if b["provable"] else ""
        lines.append(f"  {k} {b['target']:g}: bound {b['bound']:.4g}{rules}: {b['why']}")
    return lines


def write_outputs(a: Advice, out: Path, objective: str) -> tuple[dict[str, Any], list[Path]]:
    out.mkdir(parents=True, exist_ok=True)
    d = advice_dict(a, out, objective)
    (out / "advise.json").write_text(json.dumps(d, indent=2, default=str))
    md = ["# What it would take", "", *[f"    {line}" for line in answer_lines(d)], "",
          "## Area model (per-unit figures and their provenance)", "", "| figure | value | unit | kind | source |",
          "|---|---|---|---|---|"]
    md += [f"| {k} | {f['value']:.4g} | {f['unit']} | {f['kind']} | {f['ref']} |" for k, f in d["area_model"].items()]
    md += ["", "Each recommended design's hardware YAML is in `hw/`; re-run it with "
           "`sramflow simulate --hw hw/designN.yaml` plus the design's `simulate_args` in advise.json.", ""]
    (out / "ADVICE.md").write_text("\n".join(md))
    return d, [out / "advise.json", out / "ADVICE.md", *_plots(a, out)]
