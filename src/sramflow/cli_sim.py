"""``sramflow simulate``: map every layer onto the SRAM and simulate inference analytically."""

from __future__ import annotations

import argparse
import sys


def register(sub: argparse._SubParsersAction) -> None:
    from sramflow.cli_args import add_fusion_arg, add_model_args, add_weight_bits_arg
    from sramflow.cli_checks import cycle_budget, hardware, out_dir, tile_bytes

    p = sub.add_parser("simulate", help="map every layer onto the SRAM, simulate latency / energy / traffic")
    add_model_args(p)
    p.add_argument("--hw", default="sky130-design1", type=hardware, help="hardware preset name or YAML file")
    p.add_argument("--objective", choices=("latency", "energy", "edp"), default="latency",
                   help="what the per-layer mapping search minimizes")
    p.add_argument("--cycle-budget", type=cycle_budget, default=None, metavar="N|+P%",
                   help="with --objective energy: the least energy of the network within N cycles, or within P "
                        "percent more cycles than the latency objective's mapping (e.g. +0.5%%: mapped for latency "
                        "first). The Conv/Gemm mappings are chosen together rather than each layer for its least "
                        "energy; with --fusion depth-first on hardware with an outer SRAM level: the fastest "
                        "depth-first mapping with layers re-cut for energy within the spare cycles")
    add_fusion_arg(p)
    p.add_argument("--tile-bytes", type=tile_bytes, default=None, metavar="N|whole",
                   help="a one-level SRAM split into N bytes of tiles and a region of the same macro for "
                        "depth-first groups and staged operands (hw.partition); 'whole': no split. Default: with "
                        "--fusion depth-first, the whole SRAM and its splits into 3/4, 1/4 and 1/8 of tiles are "
                        "mapped and the best by the objective is kept (where a quarter holds 4 KiB)")
    p.add_argument("--out", default=None, type=out_dir, help="folder for layer_mapping.json, weight_mapping_summary.json, "
                                               "inference_simulator_report.json")
    add_weight_bits_arg(p)
    from sramflow.cli_functional import add_functional_args

    add_functional_args(p)
    p.set_defaults(func=_cmd_simulate)


def _cmd_simulate(a: argparse.Namespace) -> int:
    from sramflow.cli_args import model_source
    from sramflow.frontend.source import load_graph
    from sramflow.hw.load import resolve_hw
    from sramflow.errors import HardwareSpecError
    from sramflow.hw.partition import partitioned
    from sramflow.sim.api import prepare_graph, simulate_prepared, splits_to_try
    from sramflow.sweep.precision import with_weight_bits
    from sramflow.sim.summary import summary_text
    from sramflow.sim.writers import write_outputs

    hw = resolve_hw(a.hw)
    loaded = load_graph(model_source(a))
    prep = with_weight_bits(prepare_graph(loaded.graph, a.fusion), a.weight_bits)  # packed weights per layer group
    budget = a.cycle_budget  # a ``CycleBudgetArg``: cycles, or a percentage over the fastest mapping's
    if a.tile_bytes:  # a split of the user's choosing
        try:
            hw = partitioned(hw, a.tile_bytes)
        except HardwareSpecError as e:
            raise HardwareSpecError(f"--tile-bytes {a.tile_bytes}: {e}") from None
    splits = a.tile_bytes is None
    tried = splits_to_try(prep, hw, budget is not None) if splits else ()
    if tried:  # each split maps like a two-level hierarchy: minutes on a large network, where the whole SRAM takes s
        print(f"depth-first on one SRAM level: mapping {hw.name} whole and split into "
              f"{' or '.join(f'{b:,}' for b in tried)} B of tiles and a region; the best by the objective is kept",
              file=sys.stderr, flush=True)
    res = simulate_prepared(prep, hw, a.objective, budget.cycles if budget else None,
                            budget.over_fastest_pct if budget else None, splits=splits)
    if a.weight_bits != 8:
        print(f"weights: --weight-bits {a.weight_bits} (INT4 packed two per byte)")
    print(summary_text(res))
    if a.out:
        for path in write_outputs(res, a.out):
            print(f"wrote {path}")
    if a.functional:
        from sramflow.cli_functional import run_functional_cmd

        return run_functional_cmd(a, loaded, res)
    return 0
