"""The hardware as data for pricing: one table per ``HardwareSpec``, built once, of every action's energy and the
resources' timing and static power, each entry with its ``Source`` (Accelergy's energy reference table).

Keys are (level, action): a level is a memory level (``sram0``: the macro the mapper tiles into; ``sram1``,
``sram2``, ...: the outer SRAM levels, as many as the hardware lists; ``offchip``) or a compute unit (``mac``, ``vector``, ``register``); an action is what one count of it costs, e.g. ("sram0", "read")
per word read, ("offchip", "read_byte") per byte read over the link. ``model.energy_pj`` multiplies counts by
these entries; ``model.busy_cycles`` reads the timing entries.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sramflow.hw.spec import HardwareSpec, Source

SRAM = "sram0"  # the SRAM level the mapper tiles into (``HardwareSpec.main_sram``)
OFFCHIP = "offchip"



def sram_level(k: int) -> str:
    """The table's name of SRAM level ``k`` (``HardwareSpec.sram[k]``; 0 is the one the mapper tiles into)."""
    return f"sram{k}"


def outer_levels(t: CostTable) -> tuple[str, ...]:
    """The outer SRAM levels (k >= 1) that ``t`` prices, innermost first."""
    return tuple(lv for lv in t.ports if lv != SRAM)


def own_port_levels(t: CostTable) -> tuple[str, ...]:
    """The outer SRAM levels with a port of their own (not a window of the first level's macro)."""
    return tuple(lv for lv in outer_levels(t) if not t.ports[lv].shared_with)


def shared_port_levels(t: CostTable) -> tuple[str, ...]:
    """The outer SRAM levels that are windows of the first level's macro: their accesses take its port."""
    return tuple(lv for lv in outer_levels(t) if t.ports[lv].shared_with)


NO_REGISTER_FILE = Source("assumed", "no register file in the hardware description: its accesses cost nothing")


@dataclass(frozen=True)
class Entry:
    value: float
    unit: str
    source: Source


@dataclass(frozen=True)
class Port:
    """An SRAM level's access port as a resource: ``kind`` as ``SramMacro.ports``, ``banks`` accessed in parallel."""

    kind: str
    banks: int
    shared_with: str = ""  # the level whose port this level's accesses take (a window of its macro); "": its own


@dataclass(frozen=True)
class CostTable:
    """Per (level, action): energy in pJ per action (``energy``); per (level, "static"): power in uW drawn every
    cycle (``static_uw``); per (level, quantity): timing (``timing``: link bandwidth in bytes per cycle, latency
    cycles per transaction, clock); the SRAM ports; ``sources`` names every entry's provenance."""

    hw_name: str
    clock_mhz: float
    energy: Mapping[tuple[str, str], float]
    static_uw: Mapping[tuple[str, str], float]
    timing: Mapping[tuple[str, str], float]
    ports: Mapping[str, Port]
    sources: Mapping[tuple[str, str], Source]
    units: Mapping[tuple[str, str], str]

    def entry(self, level: str, action: str) -> Entry:
        key = (level, action)
        for values in (self.energy, self.static_uw, self.timing):
            if key in values:
                return Entry(values[key], self.units[key], self.sources[key])
        raise KeyError(f"no cost entry for level {level!r}, action {action!r}")

    def rows(self) -> list[tuple[str, str, float, str, Source]]:
        """Every entry as (level, action, value, unit, source), energies first."""
        return [(lv, act, v, self.units[(lv, act)], self.sources[(lv, act)])
                for values in (self.energy, self.static_uw, self.timing) for (lv, act), v in values.items()]


def build_table(hw: HardwareSpec) -> CostTable:
    m, off, mac, vec, rf = hw.main_sram, hw.offchip, hw.mac_array, hw.vector_unit, hw.register_file
    # (level, action): (value, unit, source)
    energy = {
        (SRAM, "read"): (m.read_energy_pj, "pJ/word", m.source_of("read_energy_pj")),
        (SRAM, "write"): (m.write_energy_pj, "pJ/word", m.source_of("write_energy_pj")),
        (SRAM, "idle"): (m.idle_energy_pj_per_cycle, "pJ/bank-cycle", m.source_of("idle_energy_pj_per_cycle")),
        (OFFCHIP, "read_byte"): (off.read_energy_pj_per_byte, "pJ/byte", off.source_of("read_energy_pj_per_byte")),
        (OFFCHIP, "write_byte"): (off.write_energy_pj_per_byte, "pJ/byte", off.source_of("write_energy_pj_per_byte")),
        ("mac", "mac"): (mac.energy_pj_per_mac, "pJ/MAC", mac.source_of("energy_pj_per_mac")),
        ("vector", "op"): (vec.energy_pj_per_op, "pJ/op", vec.source_of("energy_pj_per_op")),
        ("vector", "lut"): (vec.energy_pj_per_lut, "pJ/look-up", vec.source_of("energy_pj_per_lut")),
        ("register", "access"): ((rf.energy_pj_per_access, "pJ/access", rf.source) if rf else
                                 (0.0, "pJ/access", NO_REGISTER_FILE)),
    }
    static = {
        (SRAM, "static"): (m.leakage_uw, "uW/bank", m.source_of("leakage_uw")),
        ("mac", "static"): (mac.leakage_uw, "uW", mac.source_of("leakage_uw")),
        (OFFCHIP, "static"): (off.standby_power_uw, "uW", off.source_of("standby_power_uw")),
    }
    ports = {SRAM: Port(m.ports, m.banks)}
    for k, mk in enumerate(hw.sram[1:], start=1):  # outer levels' rows only where they exist
        lv = sram_level(k)
        energy |= {
            (lv, "read"): (mk.read_energy_pj, "pJ/word", mk.source_of("read_energy_pj")),
            (lv, "write"): (mk.write_energy_pj, "pJ/word", mk.source_of("write_energy_pj")),
            (lv, "idle"): (mk.idle_energy_pj_per_cycle, "pJ/bank-cycle", mk.source_of("idle_energy_pj_per_cycle")),
        }
        static[lv, "static"] = (mk.leakage_uw, "uW/bank", mk.source_of("leakage_uw"))
        ports[lv] = Port(mk.ports, mk.banks, SRAM if mk.partition_of else "")
    timing = {
        (OFFCHIP, "bandwidth"): (off.bandwidth_bytes_per_cycle, "bytes/cycle",
                                 off.source_of("bandwidth_bytes_per_cycle")),
        (OFFCHIP, "latency"): (off.latency_cycles, "cycles/transaction", off.source_of("latency_cycles")),
    }
    parts = (energy, static, timing)
    return CostTable(
        hw_name=hw.name,
        clock_mhz=hw.clock_mhz,
        energy={k: v[0] for k, v in energy.items()},
        static_uw={k: v[0] for k, v in static.items()},
        timing={k: v[0] for k, v in timing.items()},
        ports=ports,
        sources={k: v[2] for p in parts for k, v in p.items()},
        units={k: v[1] for p in parts for k, v in p.items()},
    )


_TABLES: dict[int, tuple[HardwareSpec, CostTable]] = {}  # id(hw) -> (hw, its table); a spec is frozen


def cost_table(hw: HardwareSpec | CostTable) -> CostTable:
    """``hw``'s table, built once per spec object (a sweep prices each point many times)."""
    if isinstance(hw, CostTable):
        return hw
    hit = _TABLES.get(id(hw))
    if hit is None or hit[0] is not hw:
        if len(_TABLES) >= 64:
            _TABLES.clear()
        hit = _TABLES[id(hw)] = (hw, build_table(hw))
    return hit[1]
