"""One design point -> flat metrics, through the analytical simulator (``sramflow.sim.api``).

The graph is lowered once per sweep (``prepare_graph``) and shipped to each worker once; a point only
maps and prices it for its hardware. Torch-free: workers never import the frontend.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sramflow.cost.model import COMPONENTS
from sramflow.errors import MappingError
from sramflow.hw.spec import HardwareSpec
from sramflow.mapping.search.plan import PlanCache
from sramflow.mapping.search.table_cache import TilingCache
from sramflow.mapping.search.table_store import TableDisk
from sramflow.sim.api import PreparedGraph, simulate_totals
from sramflow.sweep.hwpoint import timing_problem
from sramflow.sweep.precision import with_weight_bits
from sramflow.sweep.store import PointOutcome

METRICS = (
    "cycles", "latency_ms", "energy_uj", *(f"energy_uj_{c}" for c in COMPONENTS), "avg_power_mw",
    "offchip_bytes", "offchip_weight_bytes", "offchip_input_bytes", "offchip_output_bytes",
    "offchip_psum_bytes", "sram_reads", "sram_writes", "lower_bound_cycles", "ratio_to_lower_bound",
    "sram_bytes", "sram_area_um2",
)
AREA_SCOPE = "SRAM macros only (MAC array, vector unit and off-chip memory area not modelled)"


@dataclass(frozen=True)
class PointTask:
    key: str
    params: Mapping[str, Any]
    hw: HardwareSpec
    weight_bits: Any  # canonical weight_bits (8 when the space does not sweep it)
    assumptions: tuple[str, ...]
    burst_sizes: tuple[int, ...] = ()  # off-chip burst sizes of this point's tiling group (tables built together)
    tables_dir: str = ""  # on-disk tiling tables shared by the workers and later sweeps ("": none)
    tables_max_bytes: int = 4 << 30  # disk they may take (``mapping.search.table_store.TableDisk.max_bytes``)


def sram_area_um2(hw: HardwareSpec) -> float:
    return sum(m.area_um2 * m.banks for m in hw.sram)


# The sweep's tiling tables in this process (a worker keeps them across its tasks); each task sets the burst sizes
# built together and the table folder (threads of a Dask worker share it).
SWEEP_TABLES = TilingCache()
SWEEP_PLANS = PlanCache(SWEEP_TABLES)  # the whole-graph plans priced over those tables


def metrics_of(prep: PreparedGraph, hw: HardwareSpec, objective: str,
               plans: PlanCache = SWEEP_PLANS) -> dict[str, Any]:
    """Simulate one point; raises ``MappingError`` when a node cannot be mapped."""
    t = simulate_totals(prep, hw, objective, plans)  # = total_json(simulate_prepared(...).nodes), lean
    off = t["offchip_bytes"]
    return {
        "cycles": t["cycles"], "latency_ms": t["time_ms"], "energy_uj": t["energy_uj"],
        **{f"energy_uj_{c}": t["energy_uj_by_component"][c] for c in COMPONENTS},
        "avg_power_mw": t["avg_power_mw"], "offchip_bytes": sum(off.values()),
        "offchip_weight_bytes": off["weights"], "offchip_input_bytes": off["inputs"],
        "offchip_output_bytes": off["outputs"], "offchip_psum_bytes": off["partial_sums"],
        "sram_reads": t["sram_reads"], "sram_writes": t["sram_writes"],
        "lower_bound_cycles": t["lower_bound_cycles"], "ratio_to_lower_bound": t["ratio_to_lower_bound"],
        "sram_bytes": hw.main_sram.size_bytes, "sram_area_um2": sram_area_um2(hw),
    }


_BY_BITS: dict[Any, tuple[PreparedGraph, PreparedGraph]] = {}  # weight_bits -> (prepared graph, with those bits)


def _prepared_for(prep: PreparedGraph, weight_bits: Any) -> PreparedGraph:
    """The prepared graph with this point's weight precision per layer group (built once per worker)."""
    hit = _BY_BITS.get(weight_bits)
    if hit is None or hit[0] is not prep:
        hit = _BY_BITS[weight_bits] = (prep, with_weight_bits(prep, weight_bits))
    return hit[1]


def evaluate_point(prep: PreparedGraph, task: PointTask, objective: str) -> PointOutcome:
    """Evaluate one point: metrics, or infeasible with the reason (clock too fast, no tile fits)."""
    t0 = time.perf_counter()
    tables = SWEEP_TABLES
    c0 = (tables.hits, tables.derived, tables.misses, tables.loaded)
    worker = f"{socket.gethostname()}:{os.getpid()}"
    reason = timing_problem(task.hw)
    tables.burst_sizes = tuple(task.burst_sizes)
    disk = tables.disk
    want = (Path(task.tables_dir), task.tables_max_bytes) if task.tables_dir else None
    if (None if disk is None else (disk.folder, disk.max_bytes)) != want:
        tables.disk = TableDisk(task.tables_dir, task.tables_max_bytes) if task.tables_dir else None
    metrics: dict[str, Any] = {}
    if reason is None:
        try:
            metrics = metrics_of(_prepared_for(prep, task.weight_bits), task.hw, objective, SWEEP_PLANS)
        except MappingError as exc:
            reason = str(exc)
    status = "ok" if reason is None else "infeasible"
    return PointOutcome(task.key, task.params, status, reason or "", metrics, task.assumptions, worker,
                        time.perf_counter() - t0, tables.hits - c0[0], tables.derived - c0[1],
                        tables.misses - c0[2], tables.loaded - c0[3])


def evaluate_batch(prep: PreparedGraph, tasks: Sequence[PointTask], objective: str) -> list[PointOutcome]:
    return [evaluate_point(prep, t, objective) for t in tasks]


# Process-pool workers receive the prepared graph once, through the pool initializer.
_WORKER_PREP: PreparedGraph | None = None


def init_worker(prep: PreparedGraph) -> None:
    global _WORKER_PREP
    _WORKER_PREP = prep


def evaluate_batch_in_worker(tasks: Sequence[PointTask], objective: str) -> list[PointOutcome]:
    if _WORKER_PREP is None:
        raise RuntimeError("worker was not initialized with the prepared graph")
    return evaluate_batch(_WORKER_PREP, tasks, objective)
