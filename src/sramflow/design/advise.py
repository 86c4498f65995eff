"""``sramflow advise``: the cheapest designs (silicon area, ``hw.area``) that meet latency / energy / power targets,
or the closest ones and a lower bound that shows why no design in the space meets a target.

Bounds (valid for every design of the space; tests check them against the simulated figures):
- energy >= MACs x the array's energy per MAC + the weight bytes x the off-chip read energy per byte: every design
  here reads each weight from off-chip at least once per inference (the simulator has no weights-resident mode);
- latency >= max(MACs / (MACs per cycle x clock), weight bytes / off-chip bandwidth);
- average power >= the design's static power (leakage).
A point whose own bounds miss a target is pruned without mapping; when no point's bounds meet every target, the
``CLOSEST_SIMULATED`` points whose bounds come closest (then the smallest) are simulated, so the closest designs
reported are simulated figures.
"""

from __future__ import annotations

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


CLOSEST_SIMULATED = 24  # points simulated when no point's bounds meet every target


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


def point_bounds(p: DesignPoint, macs: int, weight_bytes: int) -> PointBounds:
    hw = p.hw
    e_pj = macs * hw.mac_array.energy_pj_per_mac + weight_bytes * hw.offchip.read_energy_pj_per_byte
    cycles = max(macs / hw.mac_array.macs_per_cycle, weight_bytes / hw.offchip.bandwidth_bytes_per_cycle)
    return PointBounds(e_pj * 1e-9, cycles / (hw.clock_mhz * 1e3), area_power(hw).static_power_uw / 1e3,
                       macs, weight_bytes)


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

    @property
    def ok(self) -> list[DesignResult]:
        return [r for r in self.results if r.status == "ok"]

    @property
    def feasible(self) -> list[DesignResult]:
        return sorted((r for r in self.ok if shortfall(r, self.targets) <= 1.0), key=lambda r: r.area_mm2)

    def closest(self, n: int = 3) -> list[DesignResult]:
        return sorted(self.ok, key=lambda r: (shortfall(r, self.targets), r.area_mm2))[:n]


def _bound_reasons(space_b: Mapping[str, float], argmin: Mapping[str, tuple[DesignPoint, PointBounds]],
                   t: Targets, missed: Sequence[str]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for k in missed:
        p, b = argmin[k]
        if k == "energy_mj":
            why = (f"every design reads the {b.weight_bytes:,} B of weights from off-chip at least once per inference "
                   f"and runs {b.macs:,} MACs; the cheapest in energy ({p.hw.offchip.name}, "
                   f"{p.hw.offchip.read_energy_pj_per_byte} pJ/B, {p.hw.mac_array.energy_pj_per_mac} pJ/MAC, "
                   f"weights {p.weight_bits}) needs >= {space_b[k]:.4g} mJ")
        elif k == "latency_ms":
            why = (f"{b.macs:,} MACs at <= {p.hw.mac_array.macs_per_cycle} MACs/cycle and {p.hw.clock_mhz:g} MHz, and "
                   f"{b.weight_bytes:,} B of weights over {p.hw.offchip.name}, take >= {space_b[k]:.4g} ms")
        else:
            why = f"the smallest design's static (leakage) power alone is >= {space_b[k]:.4g} mW"
        out[k] = {"target": t.as_dict()[k], "bound": space_b[k], "provable": space_b[k] > t.as_dict()[k], "why": why}
    return out


def advise(graph: Graph, model_info: Mapping[str, Any], space: AdviseSpace, targets: Targets,
           opts: EvalOptions, prune: bool = True) -> Advice:
    points = list(design_points(space))
    if not points:
        raise AdviseError("advise space has no point (every clock above the macro's maximum frequency?)")
    work = {str(wb): _work(graph, wb) for wb in space.weight_bits}
    pb = [(p, point_bounds(p, *work[str(p.weight_bits)])) for p in points]
    bvals = [{"latency_ms": b.latency_ms, "energy_mj": b.energy_mj, "avg_power_mw": b.avg_power_mw} for _, b in pb]
    hopeful = [all(meets(v, targets).values()) for v in bvals]
    if not prune:
        keep = {id(p) for p, _ in pb}
    elif any(hopeful):
        keep = {id(p) for (p, _), h in zip(pb, hopeful, strict=True) if h}
    else:  # no point can meet every target: simulate those whose bounds come closest, for the closest designs
        ratio = [max(v[k] / lim for k, lim in targets.as_dict().items()) for v in bvals]
        order = sorted(range(len(pb)), key=lambda i: (ratio[i], area_power(pb[i][0].hw).total_mm2))
        keep = {id(pb[i][0]) for i in order[:CLOSEST_SIMULATED]}
    pruned = tuple((p, b) for p, b in pb if id(p) not in keep)
    results = evaluate_points(graph, [p for p in points if id(p) in keep], model_info, opts)
    argmin = {k: min(zip(pb, bvals, strict=True), key=lambda x: x[1][k])[0] for k in targets.as_dict()}
    space_b = {k: min(v[k] for v in bvals) for k in targets.as_dict()}
    ok = [r for r in results if r.status == "ok"]
    missed = [k for k in targets.as_dict() if not any(meets(_values(r), targets)[k] for r in ok)]
    return Advice(targets, space, tuple(results), pruned, _bound_reasons(space_b, argmin, targets, missed), space_b)


def accuracy_note(weight_bits: Any) -> str:
    return accuracy_assumption(weight_bits)
