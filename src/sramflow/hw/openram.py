"""OpenRAM configuration (a Python file of assignments) for an ``SramMacro``.

Matches the configs that generated ../shared/sram/generated_16x128/. sky130's replica-bitline arrays need
an even number of rows and of columns including the replica bitlines: data rows (words / words_per_row,
a power of two >= 16) and data columns (word_bits x words_per_row, whole bytes) are even, and each port
adds one replica column and one replica row, so a macro with an odd port count (1rw) needs one spare row
and one spare column; 1rw1r needs none.
"""

from __future__ import annotations

from dataclasses import dataclass

from sramflow.errors import HardwareSpecError
from sramflow.hw.spec import SramMacro

OPENRAM_TECHS = ("sky130", "freepdk45", "scn4m_subm")
_PORTS = {"1rw": (1, 0, 0), "1rw1r": (1, 1, 0)}


@dataclass(frozen=True)
class OpenRamOptions:
    corner: str = "TT"
    temperature_c: int = 25
    netlist_only: bool = True
    analytical_delay: bool = True


def spare_rows_cols(macro: SramMacro, tech: str) -> tuple[int, int]:
    if tech != "sky130":
        return 0, 0
    rw, r, w = _PORTS[macro.ports]
    odd = (rw + r + w) % 2
    return odd, odd


def output_name(macro: SramMacro, tech: str) -> str:
    return f"{tech}_sram_{macro.size_bytes}byte_{macro.ports}_{macro.word_bits}x{macro.words}"


def openram_config_values(macro: SramMacro, tech: str | None = None,
                          options: OpenRamOptions = OpenRamOptions()) -> dict[str, object]:
    """The assignments of an OpenRAM config, in file order."""
    tech = tech or macro.tech
    if tech not in OPENRAM_TECHS:
        raise HardwareSpecError(f"sram {macro.name}: OpenRAM tech must be one of {', '.join(OPENRAM_TECHS)}, "
                                f"got {tech or 'none'!r} (set the macro's tech or pass --tech)")
    if macro.banks != 1:
        raise HardwareSpecError(f"sram {macro.name}: export one bank at a time (banks = {macro.banks}); "
                                "OpenRAM's num_banks is not supported for sky130")
    rw, r, w = _PORTS[macro.ports]
    spare_rows, spare_cols = spare_rows_cols(macro, tech)
    name = output_name(macro, tech)
    values: dict[str, object] = {
        "word_size": macro.word_bits, "num_words": macro.words,
        "num_rw_ports": rw, "num_r_ports": r, "num_w_ports": w,
        "tech_name": tech, "nominal_corner_only": True, "process_corners": [options.corner],
        "supply_voltages": [macro.vdd_v], "temperatures": [options.temperature_c],
        "netlist_only": options.netlist_only, "analytical_delay": options.analytical_delay,
        "use_conda": False, "check_lvsdrc": not options.netlist_only, "route_supplies": "side", "uniquify": True,
    }
    if spare_rows or spare_cols:
        values["num_spare_cols"] = spare_cols
        values["num_spare_rows"] = spare_rows
    values["output_path"] = f"out_{name}"
    values["output_name"] = name
    return values


def openram_config(macro: SramMacro, tech: str | None = None, options: OpenRamOptions = OpenRamOptions()) -> str:
    """The text of an OpenRAM config file for ``macro``."""
    values = openram_config_values(macro, tech, options)
    lines = [f'# "{macro.name}": {macro.word_bits}-bit x {macro.words} words, {macro.ports}, '
             f"{values['tech_name']} {options.corner} {macro.vdd_v:g}V {options.temperature_c}C (written by sramflow)"]
    for key, value in values.items():
        if key == "num_spare_cols":
            lines.append("# sky130 arrays need even row and column counts including one replica bitline per port:"
                         " an odd port count needs one spare row and one spare column")
        lines.append(f"{key} = {value!r}".replace("'", '"'))
    return "\n".join(lines) + "\n"
