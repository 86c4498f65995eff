"""Schedule choice for a whole graph on one hardware point: one schedule per node, each distinct shape chosen once
(``choose.map_shape``), or under a cycle budget (``budget``). The sweep's vectorized path (``plan.PointPlan``)
chooses the same rows without building schedules."""

from __future__ import annotations

import dataclasses

from sramflow.errors import SramflowError
from sramflow.hw.spec import HardwareSpec
from sramflow.mapping.schedule import Schedule
from sramflow.mapping.search.budget import budget_schedules
from sramflow.mapping.search.choose import OBJECTIVES, map_shape
from sramflow.mapping.search.table_cache import TilingCache


def choose_schedules(shapes, hw: HardwareSpec, objective: str,  # noqa: ANN001 - one shape per graph node
                     cycle_budget: int | None = None, cache: TilingCache | None = None) -> list[Schedule]:
    """One schedule per shape, each distinct shape (without its name) chosen once: for ``objective``, or (energy
    objective only) the network's least energy with at most ``cycle_budget`` cycles (``budget.budget_schedules``:
    the vector nodes mapped for energy, the Conv/Gemm nodes chosen together)."""
    if objective not in OBJECTIVES:
        raise SramflowError(f"objective must be one of {', '.join(OBJECTIVES)}, got {objective!r}")
    if cycle_budget is not None and objective != "energy":
        raise SramflowError(f"a cycle budget needs the energy objective (--objective energy: the least energy "
                            f"within the budget), got {objective!r}")
    if cycle_budget is not None and len(hw.sram) > 1:
        raise SramflowError(f"{hw.name}: a cycle budget with a second SRAM level is only supported with --fusion "
                            "depth-first (the fastest depth-first mapping re-cut for energy); otherwise map it with "
                            "--objective alone")
    chosen: dict[object, Schedule] = budget_schedules(shapes, hw, cycle_budget, cache) if cycle_budget is not None \
        else {}
    out = []
    for shape in shapes:
        key = dataclasses.replace(shape, name="")
        if key not in chosen:
            chosen[key] = map_shape(shape, hw, objective, cache)
        out.append(dataclasses.replace(chosen[key], shape=shape))
    return out
