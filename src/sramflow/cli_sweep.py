"""`sramflow sweep`: design-space exploration (torch-free at import; the model loads when the command runs)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    from sramflow.cli_args import add_fusion_arg, add_model_args
    from sramflow.cli_checks import existing_file, out_dir, positive_float, positive_int

    p = sub.add_parser("sweep", help="design-space exploration: latency/energy/area over hardware parameters")
    add_model_args(p)
    add_fusion_arg(p)
    p.add_argument("--space", required=True, type=existing_file, help="sweep.yaml: parameter -> list of values (see docs/sweep.md)")
    p.add_argument("--out", required=True, type=out_dir, help="folder for points.sqlite, results.csv, pareto.csv and plots")
    p.add_argument("--objective", choices=("latency", "energy", "edp"), default="latency",
                   help="what the mapper minimizes per layer (default latency)")
    p.add_argument("--executor", choices=("local", "dask"), default="local",
                   help="local process pool (default) or an existing Dask cluster (--address)")
    p.add_argument("--address", default=None, help="Dask scheduler address, e.g. tcp://10.0.0.5:8786")
    p.add_argument("--workers", type=positive_int, default=None, help="local pool size (default: CPU count; 1 = serial)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--tables", default=None, type=out_dir,
                   help="folder for the tiling tables kept on disk and shared by the workers and later sweeps "
                        "(default: OUT/tables)")
    p.add_argument("--tables-max-gb", type=positive_float, default=4.0,
                   help="disk the tables may take; least recently used ones are removed beyond it (default 4)")
    p.add_argument("--no-disk-tables", action="store_true",
                   help="keep tiling tables in memory only (each worker builds its own; nothing written)")
    p.set_defaults(func=_cmd_sweep)


def _cmd_sweep(a: argparse.Namespace) -> int:
    from pathlib import Path

    from sramflow.cli_args import model_source
    from sramflow.frontend.source import load_graph
    from sramflow.sweep.run import SweepOptions, run_sweep
    from sramflow.sweep.space import load_space

    space = load_space(a.space)
    opts = SweepOptions(Path(a.out), a.objective, a.executor, a.address, a.workers, not a.no_progress,
                        Path(a.tables) if a.tables else None, not a.no_disk_tables, int(a.tables_max_gb * 2**30),
                        fusion=a.fusion)
    loaded = load_graph(model_source(a))
    info = {"model": loaded.model, "num_classes": loaded.num_classes, "resolution": loaded.resolution,
            "source": loaded.source}
    s = run_sweep(space, loaded.graph, info, opts)
    print(f"{s.points} points ({s.unique_configs} distinct): {s.reused} already stored, {s.computed} computed in "
          f"{s.wall_s:.1f} s ({s.points_per_minute:.0f} points/min); {s.ok} feasible, {s.infeasible} infeasible")
    for path in s.outputs:
        print(f"wrote {path}")
    return 0
