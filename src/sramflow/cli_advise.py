"""`sramflow advise`: the cheapest design that meets a target, or the bound that rules it out (torch-free at import)."""

from __future__ import annotations

import argparse


def _target(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"target must be a number, got {text!r}") from None
    if not v > 0 or v != v or v == float("inf"):
        raise argparse.ArgumentTypeError(f"target must be a positive finite number, got {text!r}")
    return v


def register(sub: argparse._SubParsersAction) -> None:
    from sramflow.cli_args import add_model_args
    from sramflow.cli_checks import out_dir, positive_int
    from sramflow.design.advise import CLAIM_ENERGY_MJ, CLAIM_LATENCY_MS, CLAIM_POWER_MW

    p = sub.add_parser("advise", help="the smallest design (silicon area) meeting latency/energy/power targets, "
                                      "or the bound that rules them out")
    add_model_args(p)
    p.add_argument("--out", required=True, type=out_dir, help="folder for advise.json, ADVICE.md, plots, hw/*.yaml")
    p.add_argument("--target-latency-ms", type=_target, default=CLAIM_LATENCY_MS,
                   help=f"default {CLAIM_LATENCY_MS} (the write-up's claim)")
    p.add_argument("--target-energy-mj", type=_target, default=CLAIM_ENERGY_MJ,
                   help=f"default {CLAIM_ENERGY_MJ} (the write-up's claim)")
    p.add_argument("--target-power-mw", type=_target, default=CLAIM_POWER_MW,
                   help=f"average power; default {CLAIM_POWER_MW} (the write-up's claim)")
    p.add_argument("--grid", choices=("coarse", "fine"), default="coarse", help="search space (default coarse)")
    p.add_argument("--space", default=None, metavar="FILE",
                   help="search space as YAML (docs/advise_space.yaml is the default); replaces --grid")
    p.add_argument("--no-refine", action="store_true", help="do not search the neighbours of the front designs")
    p.add_argument("--objective", choices=("latency", "energy", "edp"), default="energy",
                   help="what the mapper minimizes per layer (default energy)")
    p.add_argument("--no-prune", action="store_true", help="simulate points whose lower bounds miss a target too")
    p.add_argument("--executor", choices=("local", "dask"), default="local")
    p.add_argument("--address", default=None, help="Dask scheduler address")
    p.add_argument("--workers", type=positive_int, default=None, help="local pool size (default: CPU count)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_advise)


def _cmd_advise(a: argparse.Namespace) -> int:
    from pathlib import Path

    from sramflow.cli_args import model_source
    from sramflow.design.advise import Targets, advise
    from sramflow.design.evaluate import EvalOptions
    from sramflow.design.outputs import answer_lines, write_outputs
    from sramflow.design.space import GRIDS, load_space
    from sramflow.frontend.source import load_graph

    targets = Targets(a.target_latency_ms, a.target_energy_mj, a.target_power_mw)
    space = load_space(a.space) if a.space else GRIDS[a.grid]  # before loading the model: a bad file fails fast
    loaded = load_graph(model_source(a))
    info = {"model": loaded.model, "num_classes": loaded.num_classes, "resolution": loaded.resolution,
            "source": loaded.source}
    opts = EvalOptions(str(a.out), a.objective, a.workers or 0, a.executor, a.address, not a.no_progress)
    adv = advise(loaded.graph, info, space, targets, opts, prune=not a.no_prune, refine=not a.no_refine)
    d, paths = write_outputs(adv, Path(a.out), a.objective)
    print("\n".join(answer_lines(d)))
    for path in paths:
        print(f"wrote {path}")
    return 0
