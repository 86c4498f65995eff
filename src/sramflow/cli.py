"""Command line. Imports nothing heavy at module level: ``sramflow --help`` must stay fast."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from sramflow import __version__
from sramflow.cli_args import add_model_args, model_source
from sramflow.cli_checks import OneLineParser, out_dir, positive_int
from sramflow.errors import SramflowError
from sramflow.jsonio import provenance_scope


def _cmd_analyze(a: argparse.Namespace) -> int:
    from sramflow.api import analyze
    from sramflow.report.table import analysis_table

    result = analyze(model_source(a), a.out, sram_bytes=a.sram_bytes)
    print(analysis_table(result.report))
    if a.out:
        print(f"\nwrote {a.out.rstrip('/')}/model_analysis.json")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="sramflow",
        description="Quantize a CNN to INT8, map it onto a tiny on-chip SRAM, and simulate it honestly.",
    )
    parser.add_argument("--version", action="version", version=f"sramflow {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    p = sub.add_parser("analyze", help="layers, parameters, MACs, activation sizes, peak memory")
    add_model_args(p)
    p.add_argument("--out", default=None, type=out_dir, help="folder for model_analysis.json")
    p.add_argument("--sram-bytes", type=positive_int, default=256, help="SRAM capacity for the 'weights fitting' count")
    p.set_defaults(func=_cmd_analyze)
    for register in _load_extra_commands():
        register(sub)
    return parser


def _load_extra_commands() -> list[Callable[[argparse._SubParsersAction], None]]:
    """The ``register`` functions of the subcommand modules (each torch-free at import time)."""
    import importlib

    found = []
    for mod in ("sramflow.cli_hw", "sramflow.cli_quant", "sramflow.cli_sim", "sramflow.cli_eval", "sramflow.cli_sweep", "sramflow.cli_advise", "sramflow.cli_run",
                "sramflow.cli_predict"):
        try:
            m = importlib.import_module(mod)
        except ModuleNotFoundError as exc:
            if exc.name != mod:
                raise
            continue
        found.append(m.register)
    return found


def _provenance(args: argparse.Namespace, argv: list[str]):  # noqa: ANN202
    import shlex

    from sramflow.hw.report import hardware_inputs
    from sramflow.jsonio import input_file, make_provenance

    inputs = (input_file("checkpoint", getattr(args, "checkpoint", None)) + input_file("onnx", getattr(args, "onnx", None))
              + hardware_inputs(getattr(args, "hw", None)))
    return make_provenance(shlex.join(["sramflow", *argv]), inputs)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # a slip on the command line: one line already printed, nothing run
        if exc.code == 2:
            return 2
        raise
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        with provenance_scope(_provenance(args, sys.argv[1:] if argv is None else list(argv))):
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
