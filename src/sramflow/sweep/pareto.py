"""Pareto fronts of two minimized metrics over the feasible points."""

from __future__ import annotations

from collections.abc import Sequence

# name -> (x metric, y metric), both minimized
FRONTS = {
    "latency_vs_energy": ("latency_ms", "energy_uj"),
    "energy_vs_area": ("energy_uj", "sram_area_um2"),
}


def pareto_front(xy: Sequence[tuple[float, float]]) -> list[int]:
    """Indices of the non-dominated points, by increasing x. A point is dominated when another is no
    worse in both metrics and better in one; exact duplicates of a front point are all kept."""
    order = sorted(range(len(xy)), key=lambda i: (xy[i][0], xy[i][1], i))
    front: list[int] = []
    best_y, best_x = float("inf"), float("inf")
    for i in order:
        x, y = xy[i]
        if y < best_y:
            best_y, best_x = y, x
            front.append(i)
        elif y == best_y and x == best_x:
            front.append(i)
    return front
