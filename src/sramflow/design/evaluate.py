"""Evaluate the advise space with the sweep's machinery: each point's key, store (resumable after SIGKILL: a
finished point is committed at once and skipped on re-run) and executors are the sweep's; advise adds fusion
to the key and prices each point's silicon area (``hw.area``)."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sramflow import __version__
from sramflow.design.space import AdviseSpace, DesignPoint, design_points
from sramflow.hw.area import AreaPower, area_power
from sramflow.hw.load import hw_to_dict
from sramflow.ir.graph import Graph
from sramflow.sim.api import prepare_graph
from sramflow.sweep.evaluate import PointTask
from sramflow.sweep.executors import run_dask, run_pool, run_serial
from sramflow.sweep.run import model_identity
from sramflow.sweep.store import SCHEMA_VERSION, PointOutcome, PointStore, config_key

DB_NAME = "points.sqlite"


@dataclass(frozen=True)
class DesignResult:
    point: DesignPoint
    key: str
    status: str  # "ok" | "infeasible"
    reason: str
    metrics: Mapping[str, Any]  # the sweep's metrics (simulated energy includes the SRAM leakage of the spec)
    area: AreaPower

    @property
    def latency_ms(self) -> float:
        return float(self.metrics["latency_ms"])

    @property
    def energy_mj(self) -> float:
        """The simulated energy: the spec prices the logic leakage as ``mac_array.leakage_uw`` (design.space), so
        ``sramflow simulate`` on the design's YAML gives this very figure."""
        return float(self.metrics["energy_uj"]) / 1e3

    @property
    def avg_power_mw(self) -> float:
        return self.energy_mj / self.latency_ms * 1e3

    @property
    def area_mm2(self) -> float:
        return self.area.total_mm2


@dataclass(frozen=True)
class EvalOptions:
    out_dir: str
    objective: str = "energy"
    workers: int = 1
    executor: str = "local"
    address: str | None = None
    progress: bool = True


def _tasks(points: Sequence[DesignPoint], ident: Mapping[str, Any], objective: str) -> list[PointTask]:
    tasks = []
    for p in points:
        config = {"schema": SCHEMA_VERSION, "sramflow": __version__, "model": dict(ident), "objective": objective,
                  "hw": hw_to_dict(p.hw), "weight_bits": p.weight_bits, "fusion": p.fusion, "tool": "advise"}
        tasks.append(PointTask(config_key(config), dict(p.params), p.hw, p.weight_bits, p.assumptions))
    return tasks


def evaluate_space(graph: Graph, space: AdviseSpace, model_info: Mapping[str, Any],
                   opts: EvalOptions) -> list[DesignResult]:
    """Every point of ``space`` evaluated (or read back from ``out_dir/points.sqlite`` when already done)."""
    return evaluate_points(graph, list(design_points(space)), model_info, opts)


def evaluate_points(graph: Graph, points: Sequence[DesignPoint], model_info: Mapping[str, Any],
                    opts: EvalOptions) -> list[DesignResult]:
    """These points evaluated (or read back from ``out_dir/points.sqlite`` when already done), in order."""
    from tqdm import tqdm

    out = Path(opts.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    results: list[DesignResult] = []
    with PointStore(out / DB_NAME) as store:
        per_fusion = []
        for fusion in dict.fromkeys(p.fusion for p in points):
            prep = prepare_graph(graph, fusion)
            mine = [p for p in points if p.fusion == fusion]
            per_fusion.append((prep, mine, _tasks(mine, model_identity(graph, prep, model_info), opts.objective)))
        total_todo = sum(len({t.key for t in ts} - store.done_keys(t.key for t in ts)) for _, _, ts in per_fusion)
        run_id = store.start_run(opts.executor, len(points), total_todo)
        bar = tqdm(total=total_todo, unit="design", desc="advise", disable=not opts.progress, dynamic_ncols=True)

        def on_outcome(o: PointOutcome) -> None:
            store.put(o, run_id)
            bar.update(1)

        try:
            for prep, _, tasks in per_fusion:
                done = store.done_keys(t.key for t in tasks)
                todo = list({t.key: t for t in tasks if t.key not in done}.values())
                workers = opts.workers or os.cpu_count() or 1
                if opts.executor == "dask":
                    run_dask(prep, [todo[i:i + 4] for i in range(0, len(todo), 4)], opts.objective,
                             str(opts.address), on_outcome)
                elif workers == 1 or len(todo) <= 1:
                    run_serial(prep, [[t] for t in todo], opts.objective, on_outcome)
                else:
                    run_pool(prep, [todo[i::workers] for i in range(workers)], opts.objective,
                             min(workers, len(todo)), on_outcome)
        finally:
            bar.close()
        stored = store.get_all()
        for _, mine, tasks in per_fusion:
            for p, t in zip(mine, tasks, strict=True):
                o = stored[t.key].outcome
                results.append(DesignResult(p, t.key, o.status, o.reason, o.metrics,
                                            area_power(p.hw, p.memories or None, p.store)))
    return results
