"""``sramflow sram``: macro info, Liberty import, OpenRAM config export. Imports nothing heavy at load time."""

from __future__ import annotations

import argparse
import json
import sys

from sramflow.cli_checks import existing_file, hardware, positive_float

HW_HELP = "hardware: a preset name (sky130-design1, ...) or a YAML file (default sky130-design1)"


def _pick_macro(spec, name: str | None):  # noqa: ANN001, ANN202
    from sramflow.errors import HardwareSpecError

    if name is None:
        return spec.main_sram
    for m in spec.sram:
        if m.name == name:
            return m
    raise HardwareSpecError(f"{spec.name}: no SRAM macro {name!r}; macros: {', '.join(m.name for m in spec.sram)}")


def _cmd_info(a: argparse.Namespace) -> int:
    from sramflow.hw.load import resolve_hw
    from sramflow.hw.report import sram_design_report, sram_info_text

    spec = resolve_hw(a.hw)
    if a.json:
        print(json.dumps(sram_design_report(spec), indent=2))
    else:
        print(sram_info_text(spec, full_refs=a.full))
    return 0


def _cmd_import_lib(a: argparse.Namespace) -> int:
    from sramflow.errors import HardwareSpecError
    from sramflow.hw.liberty import read_liberty, to_sram_macro
    from sramflow.hw.load import macro_to_dict
    from sramflow.hw.yamlio import dump_yaml

    if a.vdd is not None and a.vdd <= 0:
        raise HardwareSpecError(f"--vdd must be positive, got {a.vdd}")
    lib = read_liberty(a.lib, vdd_v=a.vdd, openram_event_mhz=a.openram_mhz)
    for w in lib.warnings:
        print(f"sramflow: warning: {a.lib}: {w}", file=sys.stderr)
    macro = to_sram_macro(lib, name=a.name)
    doc = macro_to_dict(macro)
    header = (f"# imported by sramflow from {lib.path}\n# energy unit: {lib.energy_unit}; clock edges (rise, fall) pJ: "
              f"read {lib.read_edges_pj}, write {lib.write_edges_pj}, idle {lib.idle_edges_pj}\n")
    header += "".join(f"# warning: {w}\n" for w in lib.warnings)
    sys.stdout.write(header + dump_yaml(doc))
    return 0


def _cmd_openram_config(a: argparse.Namespace) -> int:
    from sramflow.hw.load import resolve_hw
    from sramflow.hw.openram import OpenRamOptions, openram_config

    spec = resolve_hw(a.hw)
    macro = _pick_macro(spec, a.macro)
    opts = OpenRamOptions(corner=a.corner, temperature_c=a.temperature, netlist_only=not a.layout)
    sys.stdout.write(openram_config(macro, tech=a.tech, options=opts))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("sram", help="SRAM macro info, Liberty import, OpenRAM config export")
    sub = p.add_subparsers(dest="sram_command", metavar="SRAM_COMMAND", required=True)

    info = sub.add_parser("info", help="organization, energies with provenance, power at the clock")
    info.add_argument("--hw", default="sky130-design1", type=hardware, help=HW_HELP)
    info.add_argument("--json", action="store_true", help="print sram_design.json content")
    info.add_argument("--full", action="store_true", help="print provenance references in full")
    info.set_defaults(func=_cmd_info)

    imp = sub.add_parser("import-lib", help="read a Liberty (.lib) SRAM macro, print it as YAML (one sram entry)")
    imp.add_argument("lib", type=existing_file, help="Liberty file")
    imp.add_argument("--vdd", type=positive_float, default=None,
                     help="scale dynamic energy by (VDD / nominal)^2 and mark the provenance 'scaled'")
    imp.add_argument("--name", default=None, help="macro name (default: the Liberty cell name)")
    imp.add_argument("--openram-mhz", type=positive_float, default=100.0,
                     help="event rate of OpenRAM's power numbers (mW) for the mW -> pJ conversion (default 100)")
    imp.set_defaults(func=_cmd_import_lib)

    cfg = sub.add_parser("openram-config", help="write an OpenRAM configuration for a macro")
    cfg.add_argument("--hw", default="sky130-design1", type=hardware, help=HW_HELP)
    cfg.add_argument("--macro", default=None, help="macro name (default: the first)")
    cfg.add_argument("--tech", default=None, help="OpenRAM tech (default: the macro's tech)")
    cfg.add_argument("--corner", default="TT", help="process corner (default TT)")
    cfg.add_argument("--temperature", type=int, default=25, help="temperature in C (default 25)")
    cfg.add_argument("--layout", action="store_true", help="generate layout and run DRC/LVS (default netlist only)")
    cfg.set_defaults(func=_cmd_openram_config)
