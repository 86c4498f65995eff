"""Typed, frozen hardware description. Units are in the field names.

Every energy and timing number carries a ``Source`` (its component's, or a per-field override in
``field_sources``): measured, vendor-characterized, OpenRAM analytical, scaled from another node or
voltage, published, assumed, or a claim being checked. Validation of user input (unknown / duplicate
keys, units, impossible sizes) lives in ``hw/load.py``; the checks here are the invariants.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from sramflow.errors import HardwareSpecError

SOURCE_KINDS = ("measured", "vendor", "analytical", "scaled", "published", "assumed", "claimed")
PORT_KINDS = ("1rw", "1rw1r")
LEVEL_KINDS = ("registers", "sram", "offchip")


@dataclass(frozen=True)
class Source:
    kind: str  # one of SOURCE_KINDS
    ref: str  # where the number comes from: file, datasheet, paper, or the reasoning
    # The plausible range of an estimate (in the field's own unit), so reports can show what the headline becomes
    # at either end; None where the source pins the number.
    low: float | None = None
    high: float | None = None

    def __post_init__(self) -> None:
        if self.kind not in SOURCE_KINDS:
            raise HardwareSpecError(f"source kind {self.kind!r} must be one of {', '.join(SOURCE_KINDS)}")
        if not self.ref.strip():
            raise HardwareSpecError("source ref must say where the number comes from")
        if (self.low is None) != (self.high is None):
            raise HardwareSpecError("source range needs both low and high")
        if self.low is not None and self.high is not None and not 0 <= self.low <= self.high:
            raise HardwareSpecError(f"source range must satisfy 0 <= low <= high, got {self.low}..{self.high}")


@dataclass(frozen=True)
class SramMacro:
    name: str
    word_bits: int
    words: int  # per bank
    ports: str  # "1rw": one access per cycle; "1rw1r": one read/write + one read per cycle
    banks: int
    read_energy_pj: float  # per word access
    write_energy_pj: float  # per word access
    idle_energy_pj_per_cycle: float  # clocked but not accessed
    leakage_uw: float  # per bank
    clk_to_q_ns: float
    min_period_ns: float
    area_um2: float  # per bank
    vdd_v: float
    source: Source
    field_sources: Mapping[str, Source] = field(default_factory=dict)
    double_buffering: bool = True  # may the mapper split the SRAM into ping-pong halves
    tech: str = ""  # process for OpenRAM export, e.g. "sky130"; "" = not stated
    power_of_two_words: bool = True  # the macro's address decoder needs words = 2^n
    # The name of the level whose macro this level is a window of (``hw.partition``: the first level split into a
    # tile buffer and a region): it has no port, leakage or area of its own. "": a macro of its own.
    partition_of: str = ""

    def __post_init__(self) -> None:
        if self.ports not in PORT_KINDS:
            raise HardwareSpecError(f"sram {self.name}: ports must be one of {PORT_KINDS}, got {self.ports!r}")
        for f in ("word_bits", "words", "banks"):
            if getattr(self, f) <= 0:
                raise HardwareSpecError(f"sram {self.name}: {f} must be positive, got {getattr(self, f)}")
        if self.word_bits % 8:
            raise HardwareSpecError(f"sram {self.name}: word_bits must be a multiple of 8, got {self.word_bits}")
        if self.power_of_two_words and self.words & (self.words - 1):
            raise HardwareSpecError(f"sram {self.name}: words must be a power of two, got {self.words}")

    @property
    def word_bytes(self) -> int:
        return self.word_bits // 8

    @property
    def total_words(self) -> int:
        return self.words * self.banks

    @property
    def size_bytes(self) -> int:
        return self.total_words * self.word_bytes

    def source_of(self, field_name: str) -> Source:
        return self.field_sources.get(field_name, self.source)


@dataclass(frozen=True)
class OffchipMemory:
    name: str
    kind: str  # e.g. "qspi-flash", "psram", "lpddr4", "abstract"
    bandwidth_bytes_per_cycle: float  # at the accelerator clock
    latency_cycles: int  # per burst / transaction start
    read_energy_pj_per_byte: float
    write_energy_pj_per_byte: float
    standby_power_uw: float
    source: Source
    field_sources: Mapping[str, Source] = field(default_factory=dict)
    burst_bytes: int = 0  # bytes per transaction after which latency is paid again (0 = once per transfer)

    def __post_init__(self) -> None:
        if self.bandwidth_bytes_per_cycle <= 0:
            raise HardwareSpecError(f"offchip {self.name}: bandwidth_bytes_per_cycle must be positive")

    def source_of(self, field_name: str) -> Source:
        return self.field_sources.get(field_name, self.source)


@dataclass(frozen=True)
class MacArray:
    macs_per_cycle: int
    energy_pj_per_mac: float
    accumulator_bits: int
    accumulators: int  # output partial sums the array can hold in registers at once
    leakage_uw: float
    source: Source
    field_sources: Mapping[str, Source] = field(default_factory=dict)
    # Bytes of int8 input operand registers in the array that hold one input window row, so every kernel column
    # takes its inputs from them (a row up to this many bytes is read from the SRAM once per kernel row instead of
    # once per kernel offset). 0: every input operand comes from the SRAM word latch each time. Their energy is
    # part of energy_pj_per_mac. Omitted in a user YAML: 0 (the conservative choice); shipped presets declare it.
    input_register_bytes: int = 0

    def __post_init__(self) -> None:
        if self.macs_per_cycle <= 0 or self.accumulators <= 0:
            raise HardwareSpecError("mac_array: macs_per_cycle and accumulators must be positive")
        if self.input_register_bytes < 0:
            raise HardwareSpecError(f"mac_array: input_register_bytes must be >= 0, got {self.input_register_bytes}")

    def source_of(self, field_name: str) -> Source:
        return self.field_sources.get(field_name, self.source)


@dataclass(frozen=True)
class VectorUnit:
    lanes: int  # element operations per cycle
    energy_pj_per_op: float  # add, multiply, compare, requantize of one element
    lut_entries: int  # sigmoid / activation look-up table
    energy_pj_per_lut: float
    source: Source
    field_sources: Mapping[str, Source] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.lanes <= 0:
            raise HardwareSpecError("vector_unit: lanes must be positive")

    def source_of(self, field_name: str) -> Source:
        return self.field_sources.get(field_name, self.source)


@dataclass(frozen=True)
class RegisterFile:
    bytes_per_lane: int
    energy_pj_per_access: float
    source: Source


@dataclass(frozen=True)
class RegisterLevel:
    """The MAC array's registers (its accumulators and input operand registers) described as memory level 0, as a
    ``memories:`` list may state it: capacity and per-byte energies with their provenance. The capacity is the MAC
    array's (``accumulators`` x ``accumulator_bits`` / 8 + ``input_register_bytes``), which the mapper uses."""

    name: str
    size_bytes: int
    read_energy_pj_per_byte: float
    write_energy_pj_per_byte: float
    source: Source


def mac_register_bytes(mac: MacArray) -> int:
    return mac.accumulators * mac.accumulator_bits // 8 + mac.input_register_bytes


@dataclass(frozen=True)
class MemoryLevel:
    """One level of the memory hierarchy as the cost model sees it (a view built from the components)."""

    index: int  # 0 = the MAC array's registers, then the SRAM levels, the off-chip memory last
    name: str
    kind: str  # one of LEVEL_KINDS
    size_bytes: int | None  # None: unbounded (off-chip)
    port_bytes_per_cycle: float  # what its port(s) move per cycle at most
    read_energy_pj_per_byte: float
    write_energy_pj_per_byte: float
    source: Source  # where the energies come from


@dataclass(frozen=True)
class HardwareSpec:
    name: str
    description: str
    clock_mhz: float
    # The on-chip SRAM levels, innermost first: ``sram[0]`` is the scratchpad the MAC array reads, each later
    # entry a larger level between it and the off-chip memory.
    sram: tuple[SramMacro, ...]
    offchip: OffchipMemory
    mac_array: MacArray
    vector_unit: VectorUnit
    register_file: RegisterFile | None = None
    registers: RegisterLevel | None = None  # level 0 as the YAML states it; None: derived from ``mac_array``

    def __post_init__(self) -> None:
        if self.clock_mhz <= 0:
            raise HardwareSpecError(f"clock_mhz must be positive, got {self.clock_mhz}")
        if not self.sram:
            raise HardwareSpecError("sram: at least one macro is required")
        names = [m.name for m in self.sram]
        if len(set(names)) != len(names):
            raise HardwareSpecError(f"sram level names must be unique, got {names}")
        for m in self.sram[1:]:
            if m.partition_of and m.partition_of != self.sram[0].name:
                raise HardwareSpecError(f"sram {m.name}: only a window of the first level ({self.sram[0].name!r}) is "
                                        f"supported, got partition_of={m.partition_of!r}")
        if self.sram[0].partition_of:
            raise HardwareSpecError(f"sram {self.sram[0].name}: the first level cannot be a window of another")
        if self.registers is not None and self.registers.size_bytes != mac_register_bytes(self.mac_array):
            raise HardwareSpecError(f"registers: {self.registers.size_bytes} B, but the MAC array holds "
                                    f"{mac_register_bytes(self.mac_array)} B")

    @property
    def cycle_ns(self) -> float:
        return 1e3 / self.clock_mhz

    @property
    def main_sram(self) -> SramMacro:
        """The macro the mapper tiles into (the first one)."""
        return self.sram[0]

    @property
    def memories(self) -> tuple[MemoryLevel, ...]:
        """Every memory level, innermost first: registers, the SRAM levels, off-chip memory."""
        mac, off, r = self.mac_array, self.offchip, self.registers
        reg_bytes = mac_register_bytes(mac)
        regs = MemoryLevel(0, "registers", "registers", reg_bytes, float(reg_bytes), 0.0, 0.0, Source(
            "assumed", "the MAC array's accumulators and input registers; their energy is inside energy_pj_per_mac")
        ) if r is None else MemoryLevel(0, r.name, "registers", r.size_bytes, float(reg_bytes),
                                        r.read_energy_pj_per_byte, r.write_energy_pj_per_byte, r.source)
        srams = tuple(
            MemoryLevel(i + 1, m.name, "sram", m.size_bytes, float(m.word_bytes * m.banks * (2 if m.ports == "1rw1r"
                        else 1)), m.read_energy_pj / m.word_bytes, m.write_energy_pj / m.word_bytes,
                        m.source_of("read_energy_pj"))
            for i, m in enumerate(self.sram))
        outer = MemoryLevel(len(self.sram) + 1, off.name, "offchip", None, off.bandwidth_bytes_per_cycle,
                            off.read_energy_pj_per_byte, off.write_energy_pj_per_byte,
                            off.source_of("read_energy_pj_per_byte"))
        return (regs, *srams, outer)
