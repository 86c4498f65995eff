"""A sweep from space to results: validate, expand, skip what is stored, evaluate the rest, write outputs.

Reused between points: the graph is loaded and lowered once (``prepare_graph``); each worker receives it
once. Only the per-point mapping and pricing runs per point.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import math
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sramflow import __version__
from sramflow.errors import HardwareSpecError
from sramflow.hw.load import hw_to_dict, resolve_hw
from sramflow.hw.spec import HardwareSpec
from sramflow.ir.graph import Graph
from sramflow.mapping.epilogue import FUSION_MODES
from sramflow.sim.api import OBJECTIVES, PreparedGraph, prepare_graph
from sramflow.sweep.errors import SweepError, SweepSpaceError
from sramflow.sweep.evaluate import PointTask
from sramflow.sweep.executors import EXECUTORS, run_dask, run_pool, run_serial
from sramflow.sweep.hwpoint import point_hw
from sramflow.sweep.outputs import write_outputs
from sramflow.sweep.space import Point, SweepSpace, expand
from sramflow.sweep.store import SCHEMA_VERSION, PointOutcome, PointStore, config_key

DB_NAME = "points.sqlite"
TABLES_DIR = "tables"  # on-disk tiling tables under --out (``mapping.search.table_store.TableDisk``)
HW_PARAMS = ("sram_words", "sram_word_bits", "sram_banks", "sram_ports", "macs_per_cycle", "clock_mhz", "offchip")
OUTPUT_EVERY_S = 10.0


@dataclass(frozen=True)
class SweepOptions:
    out_dir: Path
    objective: str = "latency"
    executor: str = "local"
    address: str | None = None
    workers: int | None = None  # local pool size (default: CPU count); 1 = in this process
    progress: bool = True
    # on-disk tiling tables (``mapping.search.table_store.TableDisk``); default: out_dir / "tables"
    tables_dir: Path | None = None
    disk_tables: bool = True  # False: none (every process builds its own)
    tables_max_bytes: int = 4 << 30  # disk the tables may take (least recently used removed beyond it)
    fusion: str = "depth-first"  # ``mapping.epilogue.FUSION_MODES``; the CLI's default (``cli_args.FUSION_DEFAULT``)

    def __post_init__(self) -> None:
        if self.fusion not in FUSION_MODES:
            raise SweepError(f"--fusion must be one of {', '.join(FUSION_MODES)}, got {self.fusion!r}")
        if self.objective not in OBJECTIVES:
            raise SweepError(f"--objective must be one of {', '.join(OBJECTIVES)}, got {self.objective!r}")
        if self.executor not in EXECUTORS:
            raise SweepError(f"--executor must be one of {', '.join(EXECUTORS)}, got {self.executor!r}")
        if self.executor == "dask" and not self.address:
            raise SweepError("--executor dask runs on an existing cluster: give its scheduler with --address")
        if self.executor == "local" and self.address:
            raise SweepError("--address is for --executor dask")
        if self.tables_max_bytes <= 0:
            raise SweepError(f"--tables-max-gb must be positive, got {self.tables_max_bytes / 2**30:g}")
        if self.workers is not None and self.workers < 1:
            raise SweepError(f"--workers must be at least 1, got {self.workers}")


@dataclass(frozen=True)
class SweepSummary:
    points: int  # in the space
    unique_configs: int
    reused: int  # already stored before this run
    computed: int  # evaluated by this run
    ok: int
    infeasible: int
    wall_s: float
    run_id: int
    outputs: tuple[Path, ...]
    tiling_cache_hits: int = 0  # layer searches of this run that reused cached counts (in any worker)
    tiling_cache_derived: int = 0  # ... that filtered a larger SRAM's counts
    tiling_cache_misses: int = 0  # ... that enumerated the tilings
    tiling_cache_loaded: int = 0  # ... of the hits, tables read from the on-disk table cache

    @property
    def tiling_cache_hit_rate(self) -> float:
        """Searches that did not enumerate tilings (hits and derived) over all searches."""
        n = self.tiling_cache_hits + self.tiling_cache_derived + self.tiling_cache_misses
        return (self.tiling_cache_hits + self.tiling_cache_derived) / n if n else 0.0

    @property
    def points_per_minute(self) -> float:
        return self.computed / self.wall_s * 60 if self.wall_s > 0 else 0.0


def model_identity(graph: Graph, prep: PreparedGraph, extra: Mapping[str, Any]) -> dict[str, Any]:
    """What the results depend on from the model: the lowered shapes (hashed) and where they came from."""
    shapes = hashlib.sha256(repr(prep.shapes).encode()).hexdigest()
    return {"graph": graph.name, "shapes_sha256": shapes, **extra}


def check_space(space: SweepSpace, base: HardwareSpec) -> None:
    """Errors a space can be refused for before any point runs (each value applied alone to the base)."""
    for name, values in space.params:
        if name == "weight_bits":  # values were checked by the space; every one can be simulated
            continue
        for v in values:
            try:
                point_hw(base, {name: v})
            except HardwareSpecError as exc:
                raise SweepSpaceError(f"{name}: value {v!r} does not fit base {base.name!r}: {exc}") from None


def make_tasks(points: list[Point], base: HardwareSpec, ident: Mapping[str, Any], objective: str) -> list[PointTask]:
    tasks = []
    for point in points:
        params = dict(point)
        wb = params.get("weight_bits", 8)
        try:
            ph = point_hw(base, {k: v for k, v in params.items() if k in HW_PARAMS})
        except HardwareSpecError as exc:  # a combination no macro can have (values alone were checked)
            raise SweepSpaceError(f"point {params}: {exc}") from None
        config = {"schema": SCHEMA_VERSION, "sramflow": __version__, "model": dict(ident), "objective": objective,
                  "hw": hw_to_dict(ph.hw), "weight_bits": wb}
        tasks.append(PointTask(config_key(config), params, ph.hw, wb, ph.assumptions))
    return tasks


def _tiling_group(t: PointTask) -> tuple:
    """The tiling-relevant hardware numbers but the SRAM size and the burst size: points of one group share
    their tables (one build serves every burst size of the group, ``mapping.search.tiling_table.tiling_tables``; a
    smaller SRAM filters the largest one's)."""
    m, mac = t.hw.main_sram, t.hw.mac_array
    return (m.word_bits, mac.macs_per_cycle, mac.accumulators, mac.input_register_bytes, str(t.weight_bits),
            m.double_buffering)


def _reuse_order(t: PointTask) -> tuple:
    """Evaluation order (results do not depend on it): points of one tiling group together, the largest SRAM
    first, so each worker's tiling cache serves the rest (``TilingCache``)."""
    return (*_tiling_group(t), -t.hw.main_sram.total_words, t.hw.offchip.burst_bytes)


def _evaluation_order(tasks: list[PointTask]) -> list[PointTask]:
    """``_reuse_order`` with the groups of largest tables first (SRAM bytes x accumulators of the group's largest
    SRAM, a proxy for its table build time), so the last batches to start are the cheap ones and the workers
    finish together (longest first); results do not depend on the order."""
    cost: dict[tuple, int] = {}
    for t in tasks:
        g = _tiling_group(t)
        cost[g] = max(cost.get(g, 0), t.hw.main_sram.size_bytes * t.hw.mac_array.accumulators)
    return sorted(tasks, key=lambda t: (-cost[_tiling_group(t)], *_reuse_order(t)))


def _with_group_bursts(tasks: list[PointTask], tables_dir: str = "", tables_max_bytes: int = 4 << 30) -> list[PointTask]:
    """Each task with the burst sizes of its tiling group (``PointTask.burst_sizes``) and the table folder."""
    sizes: dict[tuple, set[int]] = {}
    for t in tasks:
        sizes.setdefault(_tiling_group(t), set()).add(t.hw.offchip.burst_bytes)
    return [dataclasses.replace(t, burst_sizes=tuple(sorted(sizes[_tiling_group(t)])), tables_dir=tables_dir,
                                tables_max_bytes=tables_max_bytes)
            for t in tasks]


GROUP_BATCH_CAP = 48  # points of one tiling group per batch at most (a killed sweep loses at most this much)


def _batches(tasks: list[PointTask], workers: int) -> list[list[PointTask]]:
    """Batches of ``tasks`` (in ``_reuse_order``) that keep each tiling group (equal tiling numbers but the SRAM
    size) on one worker, so its tables are built once per sweep and not once per worker; small groups are
    packed together up to the usual batch size, a large one is split only beyond ``GROUP_BATCH_CAP``."""
    size = max(1, min(8, math.ceil(len(tasks) / (workers * 8))))
    out: list[list[PointTask]] = []
    for _, grp in itertools.groupby(tasks, key=_tiling_group):
        g = list(grp)
        if out and len(out[-1]) + len(g) <= size:
            out[-1].extend(g)
            continue
        out.extend(g[i:i + GROUP_BATCH_CAP] for i in range(0, len(g), GROUP_BATCH_CAP))
    return out


def run_sweep(space: SweepSpace, graph: Graph, model_info: Mapping[str, Any], opts: SweepOptions) -> SweepSummary:
    t0 = time.perf_counter()
    base = resolve_hw(space.base)
    check_space(space, base)
    prep = prepare_graph(graph, opts.fusion)
    ident = model_identity(graph, prep, model_info)
    points = expand(space)
    tasks = make_tasks(points, base, ident, opts.objective)
    out = Path(opts.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with PointStore(out / DB_NAME) as store:
        unique = list({t.key: t for t in tasks}.values())
        done = store.done_keys(t.key for t in unique)
        tables = str(Path(opts.tables_dir or out / TABLES_DIR).resolve()) if opts.disk_tables else ""
        todo = _with_group_bursts(_evaluation_order([t for t in unique if t.key not in done]), tables,
                                  opts.tables_max_bytes)
        run_id = store.start_run(opts.executor, len(points), len(todo))
        counter = _Progress(store, run_id, len(todo), opts.progress,
                            lambda: write_outputs(out, space, points, tasks, store, plots=False))
        workers = opts.workers or os.cpu_count() or 1
        try:
            if opts.executor == "dask":
                run_dask(prep, _batches(todo, 4), opts.objective, str(opts.address), counter)
            elif workers == 1 or len(todo) <= 1:
                run_serial(prep, _batches(todo, 1), opts.objective, counter)
            else:
                run_pool(prep, _batches(todo, workers), opts.objective, min(workers, len(todo)), counter)
        finally:
            counter.close()
        paths = write_outputs(out, space, points, tasks, store, plots=True)
        stored = store.get_all()
    mine = [stored[t.key] for t in unique if t.key in stored]
    return SweepSummary(len(points), len(unique), len(done), counter.count,
                        sum(s.outcome.status == "ok" for s in mine), sum(s.outcome.status == "infeasible" for s in mine),
                        time.perf_counter() - t0, run_id, paths, counter.cache_hits, counter.cache_derived,
                        counter.cache_misses, counter.cache_loaded)


class _Progress:
    """Commits each outcome, ticks the progress bar, refreshes the CSV outputs now and then."""

    def __init__(self, store: PointStore, run_id: int, total: int, show: bool, refresh: Any) -> None:
        from tqdm import tqdm

        self.store, self.run_id, self.count, self.refresh = store, run_id, 0, refresh
        self.cache_hits, self.cache_derived, self.cache_misses, self.cache_loaded = 0, 0, 0, 0
        self.bar = tqdm(total=total, unit="pt", desc="sweep", disable=not show, dynamic_ncols=True)
        self.last = time.monotonic()

    def __call__(self, o: PointOutcome) -> None:
        self.store.put(o, self.run_id)
        self.count += 1
        self.cache_hits += o.tiling_cache_hits
        self.cache_derived += o.tiling_cache_derived
        self.cache_misses += o.tiling_cache_misses
        self.cache_loaded += o.tiling_cache_loaded
        self.bar.update(1)
        if time.monotonic() - self.last > OUTPUT_EVERY_S:
            self.refresh()
            self.last = time.monotonic()

    def close(self) -> None:
        self.bar.close()
