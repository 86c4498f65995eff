"""Command line. Imports nothing heavy at module level: ``sramflow --help`` must stay fast."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from sramflow import __version__
from sramflow.cli_args import add_model_args, model_source
from sramflow.errors import SramflowError


def _cmd_analyze(a: argparse.Namespace) -> int:
    from sramflow.api import analyze
    from sramflow.report.table import analysis_table

    result = analyze(model_source(a), a.out, sram_bytes=a.sram_bytes)
    print(analysis_table(result.report))
    if a.out:
        print(f"\nwrote {a.out.rstrip('/')}/model_analysis.json")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sramflow",
        description="Quantize a CNN to INT8, map it onto a tiny on-chip SRAM, and simulate it honestly.",
    )
    parser.add_argument("--version", action="version", version=f"sramflow {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    p = sub.add_parser("analyze", help="layers, parameters, MACs, activation sizes, peak memory")
    add_model_args(p)
    p.add_argument("--out", default=None, help="folder for model_analysis.json")
    p.add_argument("--sram-bytes", type=int, default=256, help="SRAM capacity for the 'weights fitting' count")
    p.set_defaults(func=_cmd_analyze)
    for register in _load_extra_commands():
        register(sub)
    return parser


def _load_extra_commands() -> list[Callable[[argparse._SubParsersAction], None]]:
    """The ``register`` functions of the subcommand modules (each torch-free at import time)."""
    import importlib

    found = []
    for mod in ("sramflow.cli_hw", "sramflow.cli_quant", "sramflow.cli_sim", "sramflow.cli_eval", "sramflow.cli_sweep", "sramflow.cli_run",
                "sramflow.cli_predict"):
        try:
            m = importlib.import_module(mod)
        except ModuleNotFoundError as exc:
            if exc.name != mod:
                raise
            continue
        found.append(m.register)
    return found


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        return int(args.func(args) or 0)
    except SramflowError as exc:
        print(f"sramflow: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("sramflow: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `sramflow sram info --json | head`
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
