"""Read an SRAM macro's Liberty (.lib) file into energies, leakage, timing and area, checking units.

Parsing uses the ``liberty-parser`` library (a real Liberty grammar); ``when`` conditions are parsed
into boolean functions and evaluated, not pattern-matched. Three families of files are understood,
each by its pin-naming convention (see ``_CONVENTIONS``):

* IHP SG13G2 vendor macros: internal power in pJ per toggle, stated in the file's header comment.
* GF180MCU foundry macros: the internal-power unit is not stated; the Liberty default
  (capacitive_load_unit x voltage_unit^2) is assumed, with a warning.
* OpenRAM macros: read, write and idle carry one identical number, which is mW at the event rate
  (100 MHz) written into an energy field; it is converted explicitly (mW / MHz x 1000 = pJ) with a warning.

Per-access energy follows Liberty semantics: internal power is energy per transition, and one clock
cycle has a rising and a falling edge, so energy = rise_power + fall_power of the clock pin in the
state that selects the access. (OpenRAM's field is a power, so it is converted once.)
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sramflow.errors import SramflowError
from sramflow.hw.spec import Source, SramMacro

OPENRAM_EVENT_RATE_MHZ = 100.0  # rate at which OpenRAM's analytical model reports its power (../shared/sram/README.md)


class LibertyImportError(SramflowError):
    """A Liberty file cannot be read as an SRAM macro; the message says what is missing."""


@dataclass(frozen=True)
class PortPins:
    """Pins that select an access on one port, with their active levels."""

    clock: str
    enable: str
    enable_high: bool
    write: str | None
    write_high: bool
    read: str | None = None
    read_high: bool = True


@dataclass(frozen=True)
class LibertyMacro:
    """What one Liberty file says about an SRAM macro, in sramflow units (pJ, uW, ns, um2)."""

    path: str
    cell: str
    convention: str
    word_bits: int
    words: int
    ports: str  # "1rw" | "1rw1r" | "2rw"
    vdd_v: float
    read_energy_pj: float
    write_energy_pj: float
    idle_energy_pj_per_cycle: float
    read_edges_pj: tuple[float, float]  # (rise, fall) of the clock pin, in pJ, before summing
    write_edges_pj: tuple[float, float]
    idle_edges_pj: tuple[float, float]
    leakage_uw: float
    clk_to_q_ns: tuple[float, float]  # (min, max) over the output delay tables
    min_period_ns: float | None  # None when the file declares none
    area_um2: float
    energy_unit: str  # how the internal-power numbers were read
    warnings: tuple[str, ...]
    vdd_scaled_from_v: float | None = None


# ---------------------------------------------------------------- small Liberty helpers


def _text(v: Any) -> str:
    return str(getattr(v, "value", v)).strip().strip('"')


def _floats(group: Any, key: str = "values") -> list[float]:
    out: list[float] = []
    for attr in group.get_attributes(key):
        for item in attr if isinstance(attr, list) else [attr]:
            out.extend(float(x) for x in _text(item).replace("\\", "").split(",") if x.strip())
    return out


def _walk(group: Any) -> Iterator[Any]:
    yield group
    for g in group.groups:
        yield from _walk(g)


def _pins(cell: Any) -> dict[str, Any]:
    """Pin groups by name (bus members by their bus name), whole cell."""
    pins: dict[str, Any] = {}
    for g in _walk(cell):
        if g.group_name in ("pin", "bus") and g.args:
            name = _text(g.args[0])
            pins.setdefault(name.split("[")[0], g)
            pins.setdefault(name, g)
    return pins


_UNIT_SCALE = {"f": 1e-15, "p": 1e-12, "n": 1e-9, "u": 1e-6, "m": 1e-3, "": 1.0, "k": 1e3}


def _unit_value(text: str, base: str, path: str, what: str) -> float:
    """'1nW' -> 1e-9 (in W); the base unit letter(s) must match."""
    m = re.fullmatch(r"\s*([0-9.eE+-]*)\s*([fpnumk]?)" + base + r"\s*", text, flags=re.IGNORECASE)
    if not m:
        raise LibertyImportError(f"{path}: {what} {text!r} is not a unit of {base}")
    number = float(m.group(1)) if m.group(1) else 1.0
    return number * _UNIT_SCALE[m.group(2).lower()]


def _capacitance_unit_f(lib: Any, path: str) -> float:
    attr = lib.get_attribute("capacitive_load_unit")
    if not attr or len(attr) != 2:
        raise LibertyImportError(f"{path}: capacitive_load_unit is not declared; cannot tell the energy unit")
    return float(attr[0]) * _unit_value(_text(attr[1]), "f", path, "capacitive_load_unit")


def _declared_power_comment(raw: str) -> str | None:
    """The header comment that states the internal-power unit (IHP writes one), if any."""
    start = raw.find("/*")
    while start >= 0:
        end = raw.find("*/", start + 2)
        if end < 0:
            return None
        for line in raw[start + 2:end].splitlines():
            if "internal_power" in line and "unit" in line:
                return line.strip()
        start = raw.find("/*", end + 2)
    return None


# ---------------------------------------------------------------- pin conventions


def _openram_ports(pins: dict[str, Any]) -> list[PortPins]:
    ports = []
    for i in range(8):
        if f"clk{i}" not in pins:
            break
        web = f"web{i}" if f"web{i}" in pins else None
        ports.append(PortPins(f"clk{i}", f"csb{i}", False, web, False))
    return ports


def _gf180_ports(pins: dict[str, Any]) -> list[PortPins]:
    return [PortPins("CLK", "CEN", False, "GWEN", False)]


def _ihp_ports(pins: dict[str, Any]) -> list[PortPins]:
    return [PortPins(f"{p}_CLK", f"{p}_MEN", True, f"{p}_WEN", True, f"{p}_REN", True)
            for p in "ABCD" if f"{p}_CLK" in pins]


# name -> (pins that identify it, port builder)
_CONVENTIONS = {
    "openram": (("clk0", "csb0"), _openram_ports),
    "gf180mcu": (("CLK", "CEN", "GWEN"), _gf180_ports),
    "ihp-sg13g2": (("A_CLK", "A_MEN", "A_WEN", "A_REN"), _ihp_ports),
}


def _convention(pins: dict[str, Any], path: str) -> tuple[str, list[PortPins]]:
    for name, (needed, build) in _CONVENTIONS.items():
        if all(p in pins for p in needed):
            return name, build(pins)
    known = "; ".join(f"{n}: {', '.join(p)}" for n, (p, _) in _CONVENTIONS.items())
    raise LibertyImportError(f"{path}: unknown SRAM pin convention (pins {', '.join(sorted(pins)[:12])}); "
                             f"known: {known}")


# ---------------------------------------------------------------- clock-pin energies


@dataclass(frozen=True)
class _PowerState:
    when: Any  # sympy boolean (True when the group has no 'when')
    rise: float
    fall: float


def _when(text: str | None) -> Any:
    from liberty.boolean_functions import parse_boolean_function
    from sympy import true

    if not text:
        return true
    return parse_boolean_function(re.sub(r"\[(\d+)\]", r"__\1", text))


def _states(clock_pin: Any) -> list[_PowerState]:
    states = []
    for ip in clock_pin.get_groups("internal_power"):
        rise = [v for g in ip.get_groups("rise_power") for v in _floats(g)]
        fall = [v for g in ip.get_groups("fall_power") for v in _floats(g)]
        states.append(_PowerState(_when(_text(ip["when"]) if ip["when"] is not None else None),
                                  max(rise, default=0.0), max(fall, default=0.0)))
    return states


def _role_assignment(port: PortPins, role: str) -> dict[str, bool]:
    en = {port.enable: port.enable_high if role != "idle" else not port.enable_high}
    if port.write is not None:
        en[port.write] = port.write_high if role == "write" else not port.write_high
    if port.read is not None:
        en[port.read] = port.read_high if role in ("read", "idle") else not port.read_high
    return en


def _edges_for(states: list[_PowerState], port: PortPins, role: str, path: str) -> tuple[float, float]:
    """Largest (rise, fall) over the states that the role's pin levels allow (other pins free)."""
    from sympy import Symbol
    from sympy.logic.inference import satisfiable

    assign = {Symbol(k): v for k, v in _role_assignment(port, role).items()}
    hits = [s for s in states if satisfiable(s.when.subs(assign)) is not False]
    if not hits:
        raise LibertyImportError(f"{path}: no internal_power state of pin {port.clock} matches a {role} "
                                 f"({', '.join(f'{k}={int(v)}' for k, v in _role_assignment(port, role).items())})")
    best = max(hits, key=lambda s: s.rise + s.fall)
    return best.rise, best.fall


# ---------------------------------------------------------------- timing, leakage, size


def _clk_to_q(cell: Any, clock: str, time_ns: float, path: str) -> tuple[float, float]:
    values: list[float] = []
    for g in _walk(cell):
        if g.group_name != "timing" or _text(g.get("related_pin", "")) != clock:
            continue
        if _text(g.get("timing_type", "")) not in ("rising_edge", "falling_edge"):
            continue
        for table in (*g.get_groups("cell_rise"), *g.get_groups("cell_fall")):
            values.extend(_floats(table))
    if not values:
        raise LibertyImportError(f"{path}: no clock-to-output delay (timing rising_edge/falling_edge on {clock})")
    return min(values) * time_ns, max(values) * time_ns


def _min_period(clock_pin: Any, time_ns: float) -> float | None:
    if clock_pin.get("min_period") is not None:
        return float(clock_pin["min_period"]) * time_ns
    for t in clock_pin.get_groups("timing"):
        if _text(t.get("timing_type", "")) == "minimum_period":
            vals = [v for g in t.get_groups("rise_constraint") for v in _floats(g)]
            if vals:
                return max(vals) * time_ns
    return None


def _port_kind(ports: list[PortPins]) -> str:
    writers = sum(p.write is not None for p in ports)
    if len(ports) == 1:
        return "1rw"
    if len(ports) == 2 and writers == 1:
        return "1rw1r"
    if len(ports) == 2 and writers == 2:
        return "2rw"
    return f"{writers}rw{len(ports) - writers}r"


def _only_cell(lib: Any, path: str) -> Any:
    cells = lib.get_groups("cell")
    if len(cells) != 1:
        raise LibertyImportError(f"{path}: expected one cell (the SRAM macro), found {len(cells)}")
    return cells[0]


def _memory_size(cell: Any, path: str) -> tuple[int, int]:
    mem = cell.get_groups("memory")
    if not mem or mem[0].get("word_width") is None or mem[0].get("address_width") is None:
        raise LibertyImportError(f"{path}: cell has no memory() group with word_width and address_width")
    return int(mem[0]["word_width"]), 2 ** int(mem[0]["address_width"])


# ---------------------------------------------------------------- energy units


def _energy_scale(lib: Any, raw: str, states: list[_PowerState], convention: str, path: str,
                  event_mhz: float, warnings: list[str]) -> tuple[float, str, bool]:
    """(factor to pJ, description, per_cycle_power) for the clock-pin internal power numbers."""
    volt = _unit_value(_text(lib.get("voltage_unit", "1V")), "V", path, "voltage_unit")
    liberty_pj = _capacitance_unit_f(lib, path) * volt**2 / 1e-12
    distinct = {(s.rise, s.fall) for s in states}
    if convention == "openram" and len(states) > 2 and len(distinct) == 1:
        warnings.append(
            f"OpenRAM analytical model: read, write and idle carry one identical number ({states[0].rise:g}); "
            f"OpenRAM writes mW at a {event_mhz:g} MHz event rate into this energy field; converted "
            f"explicitly as mW / MHz x 1000 = x{1e3 / event_mhz:g} pJ per access, counted once (not per edge). "
            "Analytical, not SPICE: read and write are not distinguished.")
        return 1e3 / event_mhz, f"mW at {event_mhz:g} MHz (OpenRAM), converted to pJ per access", True
    stated = _declared_power_comment(raw)
    if stated is None:
        warnings.append(f"internal-power unit not stated in the file; assuming the Liberty default "
                        f"capacitive_load_unit x voltage_unit^2 = {liberty_pj:g} pJ per transition")
        return liberty_pj, f"{liberty_pj:g} pJ per transition (Liberty default, unit not stated)", False
    says_pj = "1e-12" in stated or "pJ" in stated
    if not says_pj or not math.isclose(liberty_pj, 1.0):
        raise LibertyImportError(f"{path}: stated internal-power unit ({stated!r}) disagrees with "
                                 f"capacitive_load_unit x voltage_unit^2 = {liberty_pj:g} pJ")
    return 1.0, "pJ per transition (stated in the file)", False


def _leakage_uw(cell: Any, lib: Any, path: str) -> float:
    value = cell.get("cell_leakage_power")
    if value is None:
        raise LibertyImportError(f"{path}: cell_leakage_power is missing")
    unit = lib.get("leakage_power_unit")
    if unit is None:
        raise LibertyImportError(f"{path}: leakage_power_unit is not declared")
    return float(value) * _unit_value(_text(unit), "W", path, "leakage_power_unit") / 1e-6


# ---------------------------------------------------------------- entry points


def read_liberty(path: str | Path, vdd_v: float | None = None,
                 openram_event_mhz: float = OPENRAM_EVENT_RATE_MHZ) -> LibertyMacro:
    """Parse one SRAM macro Liberty file; ``vdd_v`` rescales dynamic energy by (vdd / nominal)^2."""
    from liberty.parser import parse_liberty

    p = Path(path)
    try:
        raw = p.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise LibertyImportError(f"{p}: cannot read: {exc.strerror}") from None
    try:
        lib = parse_liberty(raw)
    except Exception as exc:  # the parser raises several unrelated types
        raise LibertyImportError(f"{p.name}: not a valid Liberty file: {exc}") from None
    return _macro_from_library(lib, raw, p, vdd_v, openram_event_mhz)


def _macro_from_library(lib: Any, raw: str, p: Path, vdd_v: float | None, event_mhz: float) -> LibertyMacro:
    name = p.name
    warnings: list[str] = []
    cell = _only_cell(lib, name)
    pins = _pins(cell)
    convention, ports = _convention(pins, name)
    port = ports[0]
    states = _states(pins[port.clock])
    if not states:
        raise LibertyImportError(f"{name}: clock pin {port.clock} has no internal_power")
    scale, unit_desc, per_cycle_power = _energy_scale(lib, raw, states, convention, name, event_mhz, warnings)
    edges = {role: _edges_for(states, port, role, name) for role in ("read", "write", "idle")}

    def energy(role: str) -> float:
        rise, fall = edges[role]
        return (max(rise, fall) if per_cycle_power else rise + fall) * scale

    if not per_cycle_power and any(r == f and r > 0 for r, f in edges.values()):
        warnings.append("rise_power equals fall_power on the clock pin: both edges are counted (Liberty "
                        "semantics, energy per transition); if the vendor meant one number per access, halve it")
    time_ns = _unit_value(_text(lib.get("time_unit", "1ns")), "s", name, "time_unit") / 1e-9
    clk_q = _clk_to_q(cell, port.clock, time_ns, name)
    min_period = _min_period(pins[port.clock], time_ns)
    nominal_v = float(lib.get("nom_voltage"))
    word_bits, words = _memory_size(cell, name)
    kind = _port_kind(ports)
    if kind not in ("1rw", "1rw1r"):
        warnings.append(f"the macro has ports {kind}; sramflow models 1rw and 1rw1r only (use 1rw1r)")
    leak = _leakage_uw(cell, lib, name)
    if convention == "openram":
        warnings.append(f"leakage {leak:g} uW is OpenRAM's placeholder (about 1 nW per gate), not a characterization")
    factor = 1.0 if vdd_v is None else (vdd_v / nominal_v) ** 2
    macro = LibertyMacro(
        path=str(p), cell=_text(cell.args[0]), convention=convention, word_bits=word_bits, words=words,
        ports=kind, vdd_v=vdd_v or nominal_v,
        read_energy_pj=energy("read") * factor, write_energy_pj=energy("write") * factor,
        idle_energy_pj_per_cycle=energy("idle") * factor,
        read_edges_pj=_scaled(edges["read"], scale), write_edges_pj=_scaled(edges["write"], scale),
        idle_edges_pj=_scaled(edges["idle"], scale), leakage_uw=leak, clk_to_q_ns=clk_q,
        min_period_ns=min_period, area_um2=float(cell.get("area", 0.0)), energy_unit=unit_desc,
        warnings=tuple(warnings), vdd_scaled_from_v=None if vdd_v is None else nominal_v)
    _check_plausible(macro, warnings)
    return dataclasses.replace(macro, warnings=tuple(warnings))


def _scaled(edges: tuple[float, float], scale: float) -> tuple[float, float]:
    return edges[0] * scale, edges[1] * scale


_PLAUSIBLE_MAX_PJ = 1e4  # 10 nJ per access: orders of magnitude above any SRAM macro data here


def _check_plausible(m: LibertyMacro, warnings: list[str]) -> None:
    if m.min_period_ns is not None and m.min_period_ns < m.clk_to_q_ns[1]:
        warnings.append(f"minimum period {m.min_period_ns:g} ns is below the clock-to-q {m.clk_to_q_ns[1]:g} ns: "
                        "not physical (OpenRAM analytical timing)")
    if m.area_um2 <= 0:
        warnings.append("the file gives no cell area (e.g. an OpenRAM netlist-only run); area 0 means unknown")
    worst = max(m.read_energy_pj, m.write_energy_pj)
    if worst > _PLAUSIBLE_MAX_PJ:
        warnings.append(f"implausible energy {worst:.3g} pJ per access (over {_PLAUSIBLE_MAX_PJ:g} pJ): "
                        "OpenRAM sky130 layout-mode runs write garbage here (OpenRAM issues #157/#294); "
                        "do not use these energies")


def to_sram_macro(m: LibertyMacro, name: str | None = None) -> SramMacro:
    """An ``SramMacro`` with provenance: vendor/foundry numbers, OpenRAM analytical, or V^2-scaled."""
    kind = "analytical" if m.convention == "openram" else "vendor"
    ref = (f"{Path(m.path).name} cell {m.cell}: clock-pin internal_power ({m.energy_unit}) for read, write "
           f"and idle; cell_leakage_power; area; clock-to-output delay maximum")
    sources: dict[str, Source] = {}
    if m.vdd_scaled_from_v is not None:
        kind = "scaled"
        ref += (f"; dynamic energy scaled by (V/V0)^2 = ({m.vdd_v:g}/{m.vdd_scaled_from_v:g})^2 = "
                f"{(m.vdd_v / m.vdd_scaled_from_v) ** 2:.4g} from the file's {m.vdd_scaled_from_v:g} V")
        base = "analytical" if m.convention == "openram" else "vendor"
        sources["leakage_uw"] = Source(base, f"{Path(m.path).name}: cell_leakage_power at "
                                              f"{m.vdd_scaled_from_v:g} V, not rescaled")
        for f in ("clk_to_q_ns", "area_um2"):
            sources[f] = Source(base, f"{Path(m.path).name} at {m.vdd_scaled_from_v:g} V, not rescaled")
    min_period = m.min_period_ns
    if min_period is None:
        min_period = m.clk_to_q_ns[1]
        sources["min_period_ns"] = Source(kind, f"{Path(m.path).name} declares no minimum period; "
                                                "the clock-to-q maximum is used as a lower bound")
    return SramMacro(
        name=name or m.cell, word_bits=m.word_bits, words=m.words,
        ports=m.ports if m.ports in ("1rw", "1rw1r") else "1rw1r", banks=1,
        read_energy_pj=_round(m.read_energy_pj), write_energy_pj=_round(m.write_energy_pj),
        idle_energy_pj_per_cycle=_round(m.idle_energy_pj_per_cycle), leakage_uw=_round(m.leakage_uw),
        clk_to_q_ns=_round(m.clk_to_q_ns[1]), min_period_ns=_round(min_period), area_um2=m.area_um2,
        vdd_v=m.vdd_v, source=Source(kind, ref), field_sources=sources, tech=_tech(m.convention))


def _tech(convention: str) -> str:
    return {"openram": "sky130", "gf180mcu": "gf180mcu", "ihp-sg13g2": "ihp-sg13g2"}.get(convention, "")


def _round(x: float) -> float:
    """Six significant digits: enough for any characterization, free of float noise in YAML."""
    return float(f"{x:.6g}")
