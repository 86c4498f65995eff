"""``sramflow advise``: the cheapest designs (silicon area, ``hw.area``) that meet latency / energy / power targets,
or the closest ones and a lower bound that shows why no design in the space meets a target.

Bounds (valid for every design of the space; tests check them against the simulated figures):
- energy >= MACs x the array's energy per MAC + the weight bytes x the outermost memory's read energy per byte:
  every design reads each weight from its outermost memory at least once per inference (off-chip, or the on-chip
  weight store of a design holding all weights on chip);
- latency >= max(MACs / (MACs per cycle x clock), weight bytes / outermost memory bandwidth);
- average power >= the design's static power (leakage).
A point whose own bounds miss a target is pruned without mapping; when no point's bounds meet every target, the
``CLOSEST_SIMULATED`` points whose bounds come closest (then the smallest; half of them with weights off-chip, half
with weights on chip, where the space has both) are simulated, so the closest designs
reported are simulated figures.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sramflow.design.evaluate import DesignResult, EvalOptions, evaluate_points
from sramflow.design.space import AdviseSpace, DesignPoint, design_points
from sramflow.errors import SramflowError
from sramflow.hw.area import area_power
from sramflow.ir.graph import Graph
from sramflow.mapping.conv import ConvShape
from sramflow.sim.api import prepare_graph
from sramflow.sweep.precision import accuracy_assumption, with_weight_bits

# The write-up's claims for design1 (docs/claims): the default targets.
CLAIM_LATENCY_MS = 36.6
CLAIM_ENERGY_MJ = 0.45
CLAIM_POWER_MW = 12.4


CLOSEST_SIMULATED = 24  # points simulated when no point's bounds meet every target (half per weights kind)


class AdviseError(SramflowError):
    """An impossible target or space."""


@dataclass(frozen=True)
class Targets:
    latency_ms: float = CLAIM_LATENCY_MS
    energy_mj: float = CLAIM_ENERGY_MJ
    avg_power_mw: float = CLAIM_POWER_MW

    def __post_init__(self) -> None:
        for name in ("latency_ms", "energy_mj", "avg_power_mw"):
            v = getattr(self, name)
            if not (isinstance(v, int | float) and math.isfinite(v) and v > 0):
                raise AdviseError(f"target {name} must be a positive number, got {v!r} "
                                  f"(--target-{name.replace('_', '-').replace('avg-', '')})")

    def as_dict(self) -> dict[str, float]:
        return {"latency_ms": self.latency_ms, "energy_mj": self.energy_mj, "avg_power_mw": self.avg_power_mw}


@dataclass(frozen=True)
class PointBounds:
    energy_mj: float
    latency_ms: float
    avg_power_mw: float
    macs: int
    weight_bytes: int


def _work(graph: Graph, weight_bits: Any) -> tuple[int, int]:
    prep = with_weight_bits(prepare_graph(graph, "none"), weight_bits)
    convs = [s for s in prep.shapes if isinstance(s, ConvShape) and not s.pool_op]
    return sum(s.macs for s in convs), sum(s.weight_bytes for s in convs)


LIVE_TENSORS = 3  # input, output and one residual operand live at once: what the weight store holds besides weights


def resident_bytes(graph: Graph, weight_bytes: int) -> int:
    """What an on-chip store must hold so nothing goes off-chip: every weight plus ``LIVE_TENSORS`` x the largest
    int8 activation tensor (a sufficient rule for a layer-by-layer schedule: a layer's input, its output and one
    residual operand kept for a later Add)."""
    largest = max(math.prod(s) for s in graph.shapes.values())
    return weight_bytes + LIVE_TENSORS * largest


def point_bounds(p: DesignPoint, macs: int, weight_bytes: int) -> PointBounds:
    hw = p.hw
    e_pj = macs * hw.mac_array.energy_pj_per_mac + weight_bytes * hw.offchip.read_energy_pj_per_byte
    cycles = max(macs / hw.mac_array.macs_per_cycle, weight_bytes / hw.offchip.bandwidth_bytes_per_cycle)
    return PointBounds(e_pj * 1e-9, cycles / (hw.clock_mhz * 1e3),
                       _area(p).static_power_uw / 1e3, macs, weight_bytes)


def _area(p: DesignPoint) -> Any:
    return area_power(p.hw, p.memories or None, p.store)


def meets(values: Mapping[str, float], t: Targets) -> dict[str, bool]:
    return {k: values[k] <= v for k, v in t.as_dict().items()}


def _values(r: DesignResult) -> dict[str, float]:
    return {"latency_ms": r.latency_ms, "energy_mj": r.energy_mj, "avg_power_mw": r.avg_power_mw}


def shortfall(r: DesignResult, t: Targets) -> float:
    """The worst ratio of a figure to its target (<= 1: meets every target)."""
    v = _values(r)
    return max(v[k] / lim for k, lim in t.as_dict().items())


def binding(r: DesignResult, t: Targets) -> str:
    v = _values(r)
    tight = max(t.as_dict(), key=lambda k: v[k] / t.as_dict()[k])
    comps = {k.removeprefix("energy_uj_"): float(x) for k, x in r.metrics.items() if k.startswith("energy_uj_")}
    top = max(comps, key=comps.__getitem__) if comps else "?"
    share = comps.get(top, 0.0) / max(float(r.metrics["energy_uj"]), 1e-30)
    return f"{tight} at {v[tight] / t.as_dict()[tight]:.0%} of its target; energy dominated by {top} ({share:.0%})"


@dataclass(frozen=True)
class Advice:
    targets: Targets
    space: AdviseSpace
    results: tuple[DesignResult, ...]  # simulated points
    pruned: tuple[tuple[DesignPoint, PointBounds], ...]
    bounds: Mapping[str, Mapping[str, Any]]  # per target that no design meets
    space_bounds: Mapping[str, float]  # minimum of each bound over the space
    weight_bytes: Mapping[str, int] = dataclasses.field(default_factory=dict)  # per str(weight_bits)
    refined: Mapping[str, Any] = dataclasses.field(default_factory=dict)  # what refinement searched (REFINE_RULE)

    @property
    def ok(self) -> list[DesignResult]:
        return [r for r in self.results if r.status == "ok"]

    @property
    def feasible(self) -> list[DesignResult]:
        return sorted((r for r in self.ok if shortfall(r, self.targets) <= 1.0), key=lambda r: r.area_mm2)

    def closest(self, n: int = 3) -> list[DesignResult]:
        return sorted(self.ok, key=lambda r: (shortfall(r, self.targets), r.area_mm2))[:n]


Pair = tuple[DesignPoint, PointBounds]


def _group_bounds(pb: Sequence[Pair], bvals: Sequence[Mapping[str, float]], keys: Sequence[str],
                  onchip: bool) -> tuple[dict[str, float], dict[str, Pair]]:
    """The minimum of each bound over the points with (``onchip``) or without weights held on chip."""
    idx = [i for i, (p, _) in enumerate(pb) if bool(p.store) == onchip]
    if not idx:
        return {}, {}
    arg = {k: min(idx, key=lambda i: bvals[i][k]) for k in keys}
    return {k: bvals[arg[k]][k] for k in keys}, {k: pb[arg[k]] for k in keys}


def _bound_reasons(pb: Sequence[tuple[DesignPoint, PointBounds]], bvals: Sequence[Mapping[str, float]],
                   t: Targets, missed: Sequence[str]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    keys = list(t.as_dict())
    off_b, off_arg = _group_bounds(pb, bvals, keys, onchip=False)
    on_b, on_arg = _group_bounds(pb, bvals, keys, onchip=True)
    space_b = {k: min(x[k] for x in (off_b, on_b) if x) for k in keys}
    for k in missed:
        lim = t.as_dict()[k]
        entry: dict[str, Any] = {"target": lim, "bound": space_b[k], "provable": space_b[k] > lim}
        if off_b:
            p, b = off_arg[k]
            entry["bound_offchip_weights"] = off_b[k]
        if on_b:
            q, c = on_arg[k]
            entry["bound_weights_on_chip"] = on_b[k]
            smallest = min((pp for pp, _ in pb if pp.store), key=lambda pp: pp.store.area_um2)
            entry["weights_on_chip_from_mm2"] = smallest.store.area_um2 / 1e6
            entry["weights_on_chip_store_bytes"] = smallest.store.size_bytes
        if k == "energy_mj":
            parts = []
            if off_b:
                parts.append(f"{lim:g} mJ {'is below' if off_b[k] > lim else 'is above'} the energy of fetching the "
                             f"{b.weight_bytes:,} B of weights ({p.weight_bits}) once per inference from any off-chip "
                             f"memory in the space and running {b.macs:,} MACs: >= {off_b[k]:.4g} mJ "
                             f"({p.hw.offchip.name}, {p.hw.offchip.read_energy_pj_per_byte:.4g} pJ/B, "
                             f"{p.hw.mac_array.energy_pj_per_mac} pJ/MAC)")
            mp, mb = (off_arg if off_b else on_arg)[k]
            pj_mac = mp.hw.mac_array.energy_pj_per_mac
            entry["mac_energy_mj"] = mb.macs * pj_mac * 1e-9
            if entry["mac_energy_mj"] > lim:
                parts.append(f"the {mb.macs:,} MACs alone take {entry['mac_energy_mj']:.4g} mJ at {pj_mac} pJ/MAC, "
                             "above the target whatever the memories: it needs a lower energy per MAC (supply "
                             "voltage, node) or fewer MACs (the network)")
            if on_b:
                verdict = ("only designs holding all weights on chip can meet it" if off_b and off_b[k] > lim >= on_b[k]
                           else "designs holding all weights on chip need" if on_b[k] > lim
                           else "designs holding all weights on chip")
                parts.append(f"{verdict}: >= {on_b[k]:.4g} mJ ({c.weight_bytes:,} B read from an on-chip store at "
                             f"{q.hw.offchip.read_energy_pj_per_byte:.4g} pJ/B + MACs), from "
                             f"{entry['weights_on_chip_from_mm2']:.4g} mm2 of SRAM for the store "
                             f"({entry['weights_on_chip_store_bytes']:,} B: weights + activations), weights written "
                             "once at boot")
            why = "; ".join(parts)
        elif k == "latency_ms":
            p, b = (off_arg if off_b and (not on_b or off_b[k] <= on_b[k]) else on_arg)[k]
            why = (f"{b.macs:,} MACs at <= {p.hw.mac_array.macs_per_cycle} MACs/cycle and {p.hw.clock_mhz:g} MHz, and "
                   f"{b.weight_bytes:,} B of weights over {p.hw.offchip.name}, take >= {space_b[k]:.4g} ms")
        else:
            why = f"the smallest design's static (leakage) power alone is >= {space_b[k]:.4g} mW"
        entry["why"] = why
        out[k] = entry
    return out


# Refinement around the front: each front design's neighbours one step away in SRAM size, MAC count or clock
# (``REFINE_LADDERS``, a finer ladder than the grids), everything else kept.
REFINE_LADDERS: Mapping[str, tuple[float, ...]] = {
    "sram_bytes": tuple(2 ** k for k in range(8, 24)),  # 256 B .. 8 MiB
    "macs_per_cycle": (16, 32, 64, 128, 256, 512, 1024),
    "clock_mhz": (50.0, 75.0, 100.0, 125.0, 150.0, 175.0),
}
REFINE_FRONT = 8  # front designs refined (cheapest feasible first, else closest first)
REFINE_MAX = 16  # neighbours simulated at most (best bounds first); the others are recorded as pruned
REFINE_RULE = (
    f"one round: the {REFINE_FRONT} best simulated designs (cheapest feasible, else closest), each parameter of "
    "sram_bytes, macs_per_cycle, clock_mhz moved one step on its ladder (others kept); a neighbour is pruned when "
    "its lower bounds miss a target while a design meets every target, or when it cannot be cheaper than the "
    "cheapest feasible design, or (nothing feasible) when its bounds' worst ratio to the targets is no better "
    f"than the closest simulated design's; at most {REFINE_MAX} are simulated, best bounds first")


def _key(p: DesignPoint) -> tuple[Any, ...]:
    return tuple(sorted((k, str(v)) for k, v in p.params.items()))


def _neighbours(p: DesignPoint, space: AdviseSpace, resident: Mapping[str, int]) -> list[DesignPoint]:
    out = []
    for name, ladder in REFINE_LADDERS.items():
        v = p.params[name]
        if v not in ladder:
            continue
        i = ladder.index(v)
        for j in (i - 1, i + 1):
            if not 0 <= j < len(ladder):
                continue
            pr = {**p.params, name: ladder[j]}
            if pr["l2_bytes"] and pr["l2_bytes"] <= pr["sram_bytes"]:
                continue
            one = dataclasses.replace(
                space, sram_bytes=(int(pr["sram_bytes"]),), l2_bytes=(pr["l2_bytes"],),
                macs_per_cycle=(int(pr["macs_per_cycle"]),), clock_mhz=(float(pr["clock_mhz"]),),
                offchip=(space.offchip[0] if pr["weights_on_chip"] else pr["offchip"],), fusion=(pr["fusion"],),
                weight_bits=(pr["weight_bits"],), weights_on_chip=(pr["weights_on_chip"],))
            out += list(design_points(one, resident))
    return out


def _refine(graph: Graph, model_info: Mapping[str, Any], space: AdviseSpace, targets: Targets, opts: EvalOptions,
            work: Mapping[str, tuple[int, int]], resident: Mapping[str, int], results: Sequence[DesignResult],
            seen: set[tuple[Any, ...]]) -> tuple[list[DesignResult], list[tuple[DesignPoint, PointBounds]], dict]:
    ok = [r for r in results if r.status == "ok"]
    feas = sorted((r for r in ok if shortfall(r, targets) <= 1.0), key=lambda r: r.area_mm2)
    front = feas[:REFINE_FRONT] if feas else sorted(ok, key=lambda r: (shortfall(r, targets), r.area_mm2))[
        :REFINE_FRONT]
    cand: dict[tuple[Any, ...], tuple[DesignPoint, PointBounds]] = {}
    for r in front:
        for q in _neighbours(r.point, space, resident):
            if _key(q) not in seen and _key(q) not in cand:
                cand[_key(q)] = (q, point_bounds(q, *work[str(q.weight_bits)]))
    best = min((shortfall(r, targets) for r in ok), default=float("inf"))

    def ratio(b: PointBounds) -> float:
        v = {"latency_ms": b.latency_ms, "energy_mj": b.energy_mj, "avg_power_mw": b.avg_power_mw}
        return max(v[k] / lim for k, lim in targets.as_dict().items())

    def hopeless(q: DesignPoint, b: PointBounds) -> bool:
        if feas:
            return ratio(b) > 1.0 or _area(q).total_mm2 >= feas[0].area_mm2
        return ratio(b) >= best

    hopeful = sorted((x for x in cand.values() if not hopeless(*x)), key=lambda x: (ratio(x[1]), _area(x[0]).total_mm2))
    run, skipped = hopeful[:REFINE_MAX], [x for x in cand.values() if x not in hopeful[:REFINE_MAX]]
    new = evaluate_points(graph, [q for q, _ in run], model_info, opts) if run else []
    record = {"rule": REFINE_RULE, "front": [dict(r.point.params) for r in front], "neighbours": len(cand),
              "simulated": len(run), "pruned": len(skipped),
              "simulated_points": [dict(q.params) for q, _ in run]}
    return new, skipped, record


def advise(graph: Graph, model_info: Mapping[str, Any], space: AdviseSpace, targets: Targets,
           opts: EvalOptions, prune: bool = True, refine: bool = True) -> Advice:
    work = {str(wb): _work(graph, wb) for wb in space.weight_bits}
    resident = {k: resident_bytes(graph, w) for k, (_, w) in work.items()}
    points = list(design_points(space, resident))
    if not points:
        raise AdviseError("advise space has no point (every clock above the macro's maximum frequency?)")
    pb = [(p, point_bounds(p, *work[str(p.weight_bits)])) for p in points]
    bvals = [{"latency_ms": b.latency_ms, "energy_mj": b.energy_mj, "avg_power_mw": b.avg_power_mw} for _, b in pb]
    hopeful = [all(meets(v, targets).values()) for v in bvals]
    if not prune:
        keep = {id(p) for p, _ in pb}
    elif any(hopeful):
        keep = {id(p) for (p, _), h in zip(pb, hopeful, strict=True) if h}
    else:  # no point can meet every target: simulate those whose bounds come closest, for the closest designs
        ratio = [max(v[k] / lim for k, lim in targets.as_dict().items()) for v in bvals]
        order = sorted(range(len(pb)), key=lambda i: (ratio[i], _area(pb[i][0]).total_mm2))
        kinds = {bool(p.store) for p, _ in pb}  # split between weights off-chip / on chip, so both are answered
        keep = {id(pb[i][0]) for on in kinds
                for i in [i for i in order if bool(pb[i][0].store) == on][:CLOSEST_SIMULATED // len(kinds)]}
    pruned = tuple((p, b) for p, b in pb if id(p) not in keep)
    results = evaluate_points(graph, [p for p in points if id(p) in keep], model_info, opts)
    refined: dict[str, Any] = {"rule": REFINE_RULE, "done": False}
    if refine:
        new, skipped, refined = _refine(graph, model_info, space, targets, opts, work, resident, results,
                                        {_key(p) for p in points})
        results, pruned = [*results, *new], (*pruned, *skipped)
        refined["done"] = True
    space_b = {k: min(v[k] for v in bvals) for k in targets.as_dict()}
    ok = [r for r in results if r.status == "ok"]
    missed = [k for k in targets.as_dict() if not any(meets(_values(r), targets)[k] for r in ok)]
    return Advice(targets, space, tuple(results), tuple(pruned), _bound_reasons(pb, bvals, targets, missed),
                  space_b, {k: w for k, (_, w) in work.items()}, refined)


def accuracy_note(weight_bits: Any) -> str:
    return accuracy_assumption(weight_bits)
