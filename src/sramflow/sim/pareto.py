"""The network-level trade-off between cycles and energy of the Conv/Gemm nodes (what a network-level objective
could reach), from the per-layer tiling tables.

Layers run one after another and each is mapped on its own, so a network's Conv/Gemm cycles and energy are the
sums over its nodes of the chosen rows' cycles and energy. Per distinct shape only its Pareto rows (no row with
fewer or equal cycles has less energy) can be part of a network-level optimum. For a price ``lam`` (pJ per cycle)
the mapping minimizing energy + lam x cycles takes, per layer, the row minimizing it (``lagrangian``); these
points span the lower convex hull of the network's front. They also decide whether a target (C0, E0) is out of
reach: if some lam gives min sum(E + lam C) > E0 + lam C0, no mapping has C <= C0 and E <= E0 (``certificate``).
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from dataclasses import dataclass

import numpy as np

from sramflow.hw.spec import HardwareSpec
from sramflow.mapping.conv import ConvShape
from sramflow.mapping.conv_search import conv_table
from sramflow.mapping.table_price import table_cycles
from sramflow.sim.cost import energy_pj


@dataclass(frozen=True)
class LayerFront:
    """One distinct Conv/Gemm shape: its node count and its Pareto rows, by cycles ascending (energy
    descending)."""

    name: str
    nodes: int
    cycles: np.ndarray  # int64
    energy_pj: np.ndarray  # float64


def layer_fronts(shapes, hw: HardwareSpec) -> list[LayerFront]:  # noqa: ANN001 - shapes of a prepared graph
    """The Pareto rows of every distinct MAC-array convolution / Gemm of ``shapes`` on ``hw``."""
    count: Counter = Counter()
    first: dict = {}
    for s in shapes:
        if isinstance(s, ConvShape) and not s.pool_op:
            key = dataclasses.replace(s, name="")
            count[key] += 1
            first.setdefault(key, s)
    out = []
    for key, n in count.items():
        _, table = conv_table(first[key], hw)
        cyc = table_cycles(table, hw)
        en = np.broadcast_to(sum(energy_pj(table.counts, hw, cyc).values()), cyc.shape).astype(np.float64)
        order = np.lexsort((en, cyc))
        c, e = cyc[order], en[order]
        keep = np.r_[True, np.minimum.accumulate(e)[:-1] > e[1:]] if e.size else np.zeros(0, bool)
        out.append(LayerFront(first[key].name, n, c[keep].astype(np.int64), e[keep]))
    return out


def lagrangian(fronts: list[LayerFront], lam: float) -> tuple[int, float]:
    """(cycles, energy in pJ) of the network whose every layer minimizes energy + ``lam`` x cycles (ties: fewer
    cycles, the earlier row)."""
    cyc, en = 0, 0.0
    for f in fronts:
        i = int(np.argmin(f.energy_pj + lam * f.cycles))
        cyc += f.nodes * int(f.cycles[i])
        en += f.nodes * float(f.energy_pj[i])
    return cyc, en


def certificate(fronts: list[LayerFront], cycles_max: float, energy_max_pj: float,
                lams: np.ndarray | None = None) -> tuple[float, float] | None:
    """A (lam, gap) with gap = min sum(E + lam C) - (``energy_max_pj`` + lam ``cycles_max``) > 0, proving that no
    mapping of these layers has cycles <= ``cycles_max`` and energy <= ``energy_max_pj`` (the largest gap over
    ``lams``, default 0 and a log grid around energy_max / cycles_max); None if no lam proves it."""
    if lams is None:
        lams = np.r_[0.0, np.logspace(-6, 6, 241) * energy_max_pj / cycles_max]
    best = None
    for lam in lams.tolist():
        cyc, en = lagrangian(fronts, lam)
        gap = en + lam * cyc - (energy_max_pj + lam * cycles_max)
        if gap > 0 and (best is None or gap / (energy_max_pj + lam * cycles_max) > best[2]):
            best = (lam, gap, gap / (energy_max_pj + lam * cycles_max))
    return None if best is None else (best[0], best[1])


def hull(fronts: list[LayerFront], lams: np.ndarray) -> list[tuple[int, float]]:
    """The distinct ``lagrangian`` points over ``lams``, by cycles ascending."""
    return sorted({lagrangian(fronts, float(lam)) for lam in lams})
