"""`sramflow run`: the whole flow (torch-free at import)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    from sramflow.cli_args import add_fusion_arg, add_model_args, add_weight_bits_arg
    from sramflow.cli_checks import existing_dir, hardware, out_dir, over_fastest_budget, positive_float, positive_int

    p = sub.add_parser("run", help="the whole flow: analyze, quantize, verify, (evaluate), map, simulate, report")
    add_model_args(p)
    p.add_argument("--hw", default="sky130-design1", type=hardware, help="hardware preset name or YAML file")
    p.add_argument("--out", default="sramflow-out", type=out_dir, help="output folder (default sramflow-out/)")
    p.add_argument("--data", default=None, type=existing_dir, help="HAM10000 folder: real calibration images and the accuracy section")
    p.add_argument("--split", default="test", choices=("train", "val", "test", "all"))
    p.add_argument("--eval-limit", type=positive_int, default=None, help="evaluate at most N images of the split")
    p.add_argument("--tta", choices=("none", "hflip", "flips"), default="none",
                   help="with --data: also measure test-time augmentation (hflip: 2 passes, flips: 4), reported "
                        "beside the single-pass accuracy with its cost, that many times one inference's latency and "
                        "energy (default none)")
    p.add_argument("--calib-images", type=positive_int, default=256)
    p.add_argument("--method", default="percentile", choices=("minmax", "percentile", "mse"))
    p.add_argument("--objective", default="latency", choices=("latency", "energy", "edp"))
    p.add_argument("--cycle-budget", type=over_fastest_budget, default=None, metavar="+P%",
                   help="with --objective energy: every simulation of the run takes the least energy within P "
                        "percent more cycles than its latency objective's mapping (sramflow simulate "
                        "--cycle-budget)")
    add_fusion_arg(p)
    p.add_argument("--no-functional", action="store_true", help="skip the functional simulation")
    p.add_argument("--no-host-baseline", action="store_true", help="skip timing LiteRT on this host")
    p.add_argument("--save-calibration", action="store_true",
                   help="store the calibrated ranges beside the checkpoint for runs without --data")
    add_weight_bits_arg(p)
    w = p.add_argument_group("what it would take (the cheapest design meeting the write-up's claims)")
    w.add_argument("--advise", action=argparse.BooleanOptionalAction, default=True,
                   help="search the design space for the write-up's claims on this model and add the section "
                        "(sramflow advise with its defaults, into OUT/advise/; ~1 min of CPU for B0); "
                        "--no-advise skips it")
    w.add_argument("--advise-grid", choices=("coarse", "fine"), default="coarse",
                   help="the space searched (default coarse; fine takes much longer)")
    w.add_argument("--advise-workers", type=positive_int, default=1,
                   help="processes for the search (default 1: a pool costs more than it saves on the default space)")
    d = p.add_argument_group("deployment")
    d.add_argument("--battery-mah", type=positive_float, default=225.0)
    d.add_argument("--battery-v", type=positive_float, default=3.0)
    d.add_argument("--battery-max-ma", type=positive_float, default=0.2,
                   help="current the battery is rated to deliver (default 0.2 mA, a CR2032 coin cell)")
    d.add_argument("--battery-name", default=None, help="what the battery is, for the report (default: a CR2032 coin "
                   "cell; 'a battery' when --battery-mah/-v/-max-ma are changed)")
    d.add_argument("--inferences-per-hour", type=positive_float, default=60.0)
    d.add_argument("--devices", type=positive_int, default=1_000_000, help="fleet size for the yearly extrapolation")
    p.set_defaults(func=_cmd_run)


def _battery_name(a: argparse.Namespace) -> str:
    from sramflow.report.deployment import DeploymentConfig

    d = DeploymentConfig()
    same = (a.battery_mah, a.battery_v, a.battery_max_ma) == (d.battery_mah, d.battery_v, d.battery_max_ma)
    return d.battery_name if same else "battery"


def _cmd_run(a: argparse.Namespace) -> int:
    from sramflow.cli_args import model_source
    from sramflow.report.deployment import DeploymentConfig
    from sramflow.report.table import render_table
    from sramflow.run import RunConfig, run

    if a.cycle_budget is not None and a.objective != "energy":
        from sramflow.errors import SramflowError

        raise SramflowError(f"--cycle-budget needs --objective energy (the least energy within the budget), got "
                            f"--objective {a.objective}")
    cfg = RunConfig(
        source=model_source(a), hw=a.hw, out_dir=a.out, data=a.data, split=a.split, eval_limit=a.eval_limit, tta=a.tta,
        calib_images=a.calib_images, method=a.method, objective=a.objective, cycle_budget_over_pct=a.cycle_budget,
        fusion=a.fusion, functional=not a.no_functional,
        host_baseline=not a.no_host_baseline, save_calibration=a.save_calibration, seed=a.seed,
        weight_bits=a.weight_bits, advise=a.advise, advise_grid=a.advise_grid, advise_workers=a.advise_workers,
        deployment=DeploymentConfig(battery_mah=a.battery_mah, battery_v=a.battery_v, battery_max_ma=a.battery_max_ma,
                                    battery_name=a.battery_name or _battery_name(a),
                                    inferences_per_hour=a.inferences_per_hour, devices=a.devices),
    )
    res = run(cfg)
    s = res.summary
    print()
    print(render_table(["", "value"], [["latency per inference", f"{s['latency_ms']:.2f} ms"],
                                       ["energy per inference", f"{s['energy_mj']:.3f} mJ"],
                                       ["average power", f"{s['avg_power_mw']:.2f} mW"],
                                       ["off-chip traffic", f"{s['offchip_mb']:.2f} MB"]]))
    if s.get("what_it_would_take"):
        print(f"\nwhat it would take: {s['what_it_would_take']}")
    print(f"\nreport: {s['report']}")
    return 0
