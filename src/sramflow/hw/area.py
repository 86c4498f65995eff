"""Silicon area and static power of a HardwareSpec at 130 nm (sky130), every per-unit figure with its provenance.

Used by ``sramflow advise`` to price designs. Rules (stated so reports can repeat them):

- SRAM: an on-chip memory is built from whole copies of one macro whose figures are all on file
  (``IHP_MACROS``: the IHP SG13G2 vendor Liberty files in ../shared/sram; design1's macro from its preset), the
  macro giving the least area at that size, organized as parallel banks of stacked macros (``compose``,
  ``COMPOSE_RULE``), plus a bank-periphery overhead (address decode, output mux, wiring) that is assumed, with a
  range. No scaling rule fitted on 2-16 Kbit macros is extrapolated to MiB. ``SKY130_MACROS`` / ``bank_plan``
  keep the sky130 areas on file (OpenRAM analytical: their energies are not used).
- MAC array, accumulators, vector unit: per-unit areas from Horowitz (ISSCC 2014, 45 nm) scaled to 130 nm by
  the square of the feature size ((130/45)^2 = 8.35), labelled ``scaled``; flip-flop area from the sky130 standard
  cell library (sky130_fd_sc_hd__dfxtp_1); placement utilization assumed.
- Static power: the SRAM leakage (macros x their leakage; provenance the macro's) plus logic leakage per mm2
  assumed with a range (no sky130 logic leakage characterization on file); advise states the logic leakage as the
  spec's ``mac_array.leakage_uw`` so the simulator prices it.

Off-chip memories are separate dies: they add no on-chip area here (their pads/controller are inside the assumed
periphery overhead).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from sramflow.errors import HardwareSpecError
from sramflow.hw.spec import HardwareSpec, Source, SramMacro

# feature-size scaling of area from 45 nm (Horowitz) to 130 nm: area ~ L^2
AREA_SCALE_45_TO_130 = (130.0 / 45.0) ** 2


@dataclass(frozen=True)
class Figure:
    """One per-unit number with its unit and provenance."""

    value: float
    unit: str
    source: Source

    def as_dict(self) -> dict[str, object]:
        d: dict[str, object] = {"value": self.value, "unit": self.unit, "kind": self.source.kind,
                                "ref": self.source.ref}
        if self.source.low is not None:
            d["low"], d["high"] = self.source.low, self.source.high
        return d


@dataclass(frozen=True)
class CharacterizedMacro:
    """An SRAM macro whose area is on file (never an extrapolation)."""

    name: str
    word_bits: int
    words: int
    ports: str
    area_um2: Figure

    @property
    def size_bytes(self) -> int:
        return self.word_bits * self.words // 8


def _on_file(path: str, area_um2: float, kind: str, how: str) -> Figure:
    return Figure(area_um2, "um2", Source(kind, f"../shared/sram/{path}: {how}"))


# sky130 macros with an area on file (Liberty `area` attribute or the generated layout's bounding box).
SKY130_MACROS: tuple[CharacterizedMacro, ...] = (
    CharacterizedMacro("sky130_sram_256byte_1rw1r_16x128", 16, 128, "1rw1r", _on_file(
        "generated_16x128/sky130_sram_256byte_1rw1r_16x128_TT_1p8V_25C.layoutmode.lib", 92926.8093, "measured",
        "bounding box of the OpenRAM 1.2.48 layout generated here (350.74 x 264.945 um), not DRC/LVS-checked")),
    CharacterizedMacro("sky130_sram_1kbyte_1rw1r_32x256_8", 32, 256, "1rw1r", _on_file(
        "sky130_openram_analytical/sky130_sram_1kbyte_1rw1r_32x256_8_TT_1p8V_25C.lib", 190712.55, "analytical",
        "Liberty area of the VLSIDA OpenRAM macro (layout bounding box as OpenRAM writes it)")),
    CharacterizedMacro("sky130_sram_2kbyte_1rw1r_32x512_8", 32, 512, "1rw1r", _on_file(
        "sky130_openram_analytical/sky130_sram_2kbyte_1rw1r_32x512_8_TT_1p8V_25C.lib", 284538.474, "analytical",
        "Liberty area of the VLSIDA OpenRAM macro (layout bounding box as OpenRAM writes it)")),
    CharacterizedMacro("sky130_sram_1rw1r_64x256_8", 64, 256, "1rw1r", _on_file(
        "sky130_openram_analytical/sky130_sram_1rw1r_64x256_8_TT_1p8V_25C.lib", 419462.7066, "analytical",
        "Liberty area of the VLSIDA OpenRAM macro (layout bounding box as OpenRAM writes it)")),
)

BANK_OVERHEAD = Figure(0.15, "fraction of macro area", Source(
    "assumed", "bank periphery of a memory built from several macros (bank decode, read mux, wiring, spacing); "
    "no multi-macro sky130 layout on file", 0.05, 0.30))
MAC_AREA_UM2 = Figure((282.0 + 137.0) * AREA_SCALE_45_TO_130, "um2 per MAC", Source(
    "scaled", "Horowitz ISSCC 2014 (45 nm): 8-bit multiplier 282 um2 + 32-bit adder 137 um2, x(130/45)^2 = 8.35 "
    "area scaling; ignores that 130 nm cells are less dense per L^2 than 45 nm (so likely a low estimate)",
    (282.0 + 137.0) * AREA_SCALE_45_TO_130, 2 * (282.0 + 137.0) * AREA_SCALE_45_TO_130))
FLOP_AREA_UM2 = Figure(20.02, "um2 per bit", Source(
    "published", "sky130_fd_sc_hd__dfxtp_1 D flip-flop, 7.36 x 2.72 um (SkyWater sky130 HD standard-cell library)"))
UTILIZATION = Figure(0.7, "fraction", Source(
    "assumed", "standard-cell placement utilization of a small synthesized block", 0.5, 0.85))
VECTOR_LANE_AREA_UM2 = Figure((3495.0 + 137.0 + 137.0) * AREA_SCALE_45_TO_130, "um2 per lane", Source(
    "scaled", "one requantize lane = Horowitz ISSCC 2014 (45 nm) 32-bit multiplier 3495 um2 + two 32-bit adders "
    "(bias, zero point) 2 x 137 um2, x(130/45)^2 area scaling; shifter/clamp/LUT not counted",
    (3495.0 + 274.0) * AREA_SCALE_45_TO_130, 1.5 * (3495.0 + 274.0) * AREA_SCALE_45_TO_130))
LOGIC_LEAKAGE_UW_PER_MM2 = Figure(20.0, "uW per mm2", Source(
    "assumed", "sky130 HD logic leakage at TT 25 C, order of magnitude (no characterization on file)", 5.0, 100.0))


@dataclass(frozen=True)
class BankPlan:
    macro: CharacterizedMacro
    macros: int
    area_um2: float

    @property
    def size_bytes(self) -> int:
        return self.macros * self.macro.size_bytes


def bank_plan(size_bytes: int, macro: CharacterizedMacro) -> BankPlan:
    """The memory of ``size_bytes`` built from whole copies of ``macro`` (the stated rule above)."""
    if size_bytes <= 0:
        raise HardwareSpecError(f"bank plan: size_bytes must be positive, got {size_bytes}")
    n = math.ceil(size_bytes / macro.size_bytes)
    overhead = BANK_OVERHEAD.value if n > 1 else 0.0
    return BankPlan(macro, n, n * macro.area_um2.value * (1.0 + overhead))


@dataclass(frozen=True)
class AreaPower:
    """Area (mm2) and static power (uW) of one design, by component, and the figures used."""

    sram_mm2: tuple[float, ...]  # per on-chip SRAM level, innermost first
    mac_array_mm2: float
    accumulators_mm2: float
    vector_unit_mm2: float
    sram_leakage_uw: float
    logic_leakage_uw: float

    @property
    def logic_mm2(self) -> float:
        return self.mac_array_mm2 + self.accumulators_mm2 + self.vector_unit_mm2

    @property
    def total_mm2(self) -> float:
        return sum(self.sram_mm2) + self.logic_mm2

    @property
    def static_power_uw(self) -> float:
        return self.sram_leakage_uw + self.logic_leakage_uw


def figures() -> dict[str, Figure]:
    """Every per-unit figure the model uses, by name (for advise.json provenance)."""
    out = {"bank_overhead": BANK_OVERHEAD, "mac_area": MAC_AREA_UM2, "flop_area": FLOP_AREA_UM2,
           "utilization": UTILIZATION, "vector_lane_area": VECTOR_LANE_AREA_UM2,
           "logic_leakage": LOGIC_LEAKAGE_UW_PER_MM2}
    out.update({f"macro:{m.name}": m.area_um2 for m in SKY130_MACROS})
    return out


def logic_area_mm2(spec: HardwareSpec) -> tuple[float, float, float]:
    """MAC array, accumulators + input registers, vector unit (mm2), from the per-unit figures above."""
    util = UTILIZATION.value
    mac = spec.mac_array.macs_per_cycle * MAC_AREA_UM2.value / util / 1e6
    acc = (spec.mac_array.accumulators * spec.mac_array.accumulator_bits
           + 8 * spec.mac_array.input_register_bytes) * FLOP_AREA_UM2.value / util / 1e6
    vec = spec.vector_unit.lanes * VECTOR_LANE_AREA_UM2.value / util / 1e6
    return mac, acc, vec


def logic_leakage_uw(spec: HardwareSpec) -> float:
    """The logic's static power: its area x ``LOGIC_LEAKAGE_UW_PER_MM2`` (advise states it as the spec's
    ``mac_array.leakage_uw`` so the simulator prices it: one implementation)."""
    return sum(logic_area_mm2(spec)) * LOGIC_LEAKAGE_UW_PER_MM2.value


def area_power(spec: HardwareSpec, composed: tuple[ComposedMemory, ...] | None = None,
               store: ComposedMemory | None = None) -> AreaPower:
    """Area and static power of ``spec``. SRAM: from ``composed`` (the levels as ``compose`` built them, innermost
    first) when given, else the spec's per-bank macro area x banks plus the bank overhead when banked; ``store``:
    an on-chip weight store standing in for the off-chip memory (its area and leakage are added as one more SRAM
    level). Logic from the per-unit figures above; its leakage is ``logic_leakage_uw``."""
    if composed is not None:
        sram = tuple(c.area_um2 / 1e6 for c in composed)
        sram_leak = sum(c.leakage_uw for c in composed)
    else:
        sram = tuple(m.area_um2 * m.banks * (1.0 + (BANK_OVERHEAD.value if m.banks > 1 else 0.0)) / 1e6
                     for m in spec.sram)
        sram_leak = sum(m.leakage_uw * m.banks for m in spec.sram)
    if store is not None:
        sram, sram_leak = (*sram, store.area_um2 / 1e6), sram_leak + store.leakage_uw
    mac, acc, vec = logic_area_mm2(spec)
    return AreaPower(sram, mac, acc, vec, sram_leak, logic_leakage_uw(spec))

# ---------------------------------------------------------------- bank building blocks (issue 18 item 1)

_IHP = "ihp_sg13g2_vendor/"
_IHP_HOW = ("vendor Liberty, typ 1.2 V 25 C (IHP-GmbH/IHP-Open-PDK, Apache-2.0): clock-pin internal_power in pJ "
            "per toggle (unit stated in the file) for read, write and idle (enable low), cell_leakage_power, area, "
            "clock-to-DOUT maximum; the file declares no minimum period, so clock-to-q is the lower bound used")


def _ihp(cell: str, file: str, word_bits: int, words: int, ports: str, read: float, write: float, idle: float,
         leak_uw: float, clk_q: float, area_um2: float) -> SramMacro:
    """One IHP vendor macro as a one-bank ``SramMacro`` (ports as sramflow models them: IHP's two-port 2rw macros
    as "1rw1r"); ``read_liberty`` of ``IHP_LIBERTY[cell]`` gives these numbers (tests/test_advise_design.py)."""
    return SramMacro(name=cell, word_bits=word_bits, words=words, ports=ports, banks=1, read_energy_pj=read,
                     write_energy_pj=write, idle_energy_pj_per_cycle=idle, leakage_uw=leak_uw, clk_to_q_ns=clk_q,
                     min_period_ns=clk_q, area_um2=area_um2, vdd_v=1.2,
                     source=Source("vendor", f"../shared/sram/{_IHP}{file}: {_IHP_HOW}"), tech="ihp-sg13g2")


# Every macro on file whose energies, leakage, timing and area are all characterized, read with
# ``read_liberty``. Left out, and why: the OpenRAM sky130 libraries (analytical energies that are not physical, a
# 1 nW-per-gate leakage placeholder: ../shared/sram/README.md), GF180MCU (a 180 nm process with no stated power
# unit). design1 is kept so the write-up's macro stays in the space (its figures: the sky130-design1 preset).
_IHP_ROWS = (  # cell, Liberty file, word bits, words, ports, read / write / idle pJ, leakage uW, clk-to-q ns, area um2
    ("RM_IHPSG13_2P_256x8_c2_bm_bist", "RM_IHPSG13_2P_256x8_c2_bm_bist_typ_1p20V_25C.lib", 8, 256, "1rw1r",
     8.285, 10.9594, 0.2964, 0.0398626, 3.1519, 38147.5147),
    ("RM_IHPSG13_2P_64x32_c2", "RM_IHPSG13_2P_64x32_c2_typ_1p20V_25C.lib", 32, 64, "1rw1r",
     20.3627, 26.4624, 0.2739, 0.0398626, 3.2972, 52620.8821),
    ("RM_IHPSG13_1P_1024x8_c2_bm_bist", "RM_IHPSG13_1P_1024x8_c2_bm_bist_typ_1p20V_25C.lib", 8, 1024, "1rw",
     15.5961, 19.9179, 0.3069, 0.0990077, 4.4225, 49419.2448),
    ("RM_IHPSG13_1P_256x64_c2_bm_bist", "RM_IHPSG13_1P_256x64_c2_bm_bist_typ_1p20V_25C.lib", 64, 256, "1rw",
     49.634, 63.4365, 0.3104, 0.1980155, 3.2707, 93180.5344),
)
IHP_MACROS: tuple[SramMacro, ...] = tuple(_ihp(*row) for row in _IHP_ROWS)
IHP_LIBERTY = {row[0]: _IHP + row[1] for row in _IHP_ROWS}  # macro name -> its Liberty file under ../shared/sram


def design1_macro(spec_macro: SramMacro) -> SramMacro:
    """design1's macro (sky130-design1 preset: energies scaled from IHP to 1.8 V, layout area measured) as one
    bank: its per-bank figures are the macro's."""
    return replace(spec_macro, banks=1, tech=spec_macro.tech or "sky130")


CHEAPEST = "cheapest"  # the bank-macro choice: the least-area composition among the macros given

COMPOSE_RULE = (
    "A memory of N bytes is built from whole copies of one macro on file (no scaling rule is fitted or "
    "extrapolated): n = N / macro bytes macros, organized as P parallel banks (P = the fewest that give the MAC "
    "array one byte per MAC per cycle, ceil(MACs per cycle / macro word bytes), at most n; a power of two) of "
    "D = n / P macros stacked in depth. One macro per bank is accessed per word, so read/write energy per word "
    "is the macro's; the other macros of a bank have their clock gated (assumed; the gating cells are not "
    "priced), so idle energy per bank-cycle is one macro's; leakage and area are n macros', plus the bank "
    "periphery overhead when n > 1; timing is the macro's (the wiring of a MiB-size array is not priced: an "
    "underestimate of energy and delay for the largest memories). Per capacity the macro giving the least area "
    "is used (ties: the lower read energy per byte).")


@dataclass(frozen=True)
class ComposedMemory:
    """One on-chip memory level built by ``compose``: the macro, how many, and how they are organized."""

    macro: SramMacro
    macros: int
    parallel_banks: int

    @property
    def depth(self) -> int:
        return self.macros // self.parallel_banks

    @property
    def size_bytes(self) -> int:
        return self.macros * self.macro.size_bytes

    @property
    def area_um2(self) -> float:
        return self.macros * self.macro.area_um2 * (1.0 + (BANK_OVERHEAD.value if self.macros > 1 else 0.0))

    @property
    def leakage_uw(self) -> float:
        return self.macros * self.macro.leakage_uw

    def sram(self, name: str) -> SramMacro:
        """The level as the simulator sees it: ``parallel_banks`` banks of ``depth`` stacked macros each."""
        m, d = self.macro, self.depth
        rule = Source("assumed", f"{d} x {m.name} per bank, {self.parallel_banks} banks: {COMPOSE_RULE}")
        per_bank = Source(m.source.kind, f"{m.source.ref}; per bank x{d} stacked macros"
                          + (f", + {BANK_OVERHEAD.value:.0%} bank periphery (assumed)" if self.macros > 1 else ""))
        return SramMacro(
            name=name, word_bits=m.word_bits, words=m.words * d, ports=m.ports, banks=self.parallel_banks,
            read_energy_pj=m.read_energy_pj, write_energy_pj=m.write_energy_pj,
            idle_energy_pj_per_cycle=m.idle_energy_pj_per_cycle, leakage_uw=m.leakage_uw * d,
            clk_to_q_ns=m.clk_to_q_ns, min_period_ns=m.min_period_ns,
            area_um2=self.area_um2 / self.parallel_banks, vdd_v=m.vdd_v, source=m.source,
            field_sources={"words": rule, "leakage_uw": per_bank, "area_um2": per_bank,
                           "idle_energy_pj_per_cycle": Source("assumed", f"{m.source.ref}; one macro per bank "
                                                              "clocked, the stacked others clock-gated (assumed)")},
            double_buffering=True, tech=m.tech, power_of_two_words=(m.words * d) & (m.words * d - 1) == 0)

    def as_dict(self) -> dict[str, object]:
        return {"macro": self.macro.name, "macro_source": self.macro.source.ref, "macro_bytes": self.macro.size_bytes,
                "macros": self.macros, "parallel_banks": self.parallel_banks, "depth": self.depth,
                "size_bytes": self.size_bytes, "area_mm2": self.area_um2 / 1e6, "leakage_uw": self.leakage_uw,
                "read_energy_pj_per_word": self.macro.read_energy_pj, "word_bits": self.macro.word_bits,
                "vdd_v": self.macro.vdd_v, "tech": self.macro.tech}


def _pow2_floor(n: int) -> int:
    return 1 << (max(n, 1).bit_length() - 1)


def compose(size_bytes: int, macs_per_cycle: int, macros: tuple[SramMacro, ...],
            at_least: bool = False) -> ComposedMemory:
    """The cheapest (least area) memory of exactly ``size_bytes`` built from whole copies of one of ``macros``
    (``COMPOSE_RULE``); refuses a size that no macro divides (no partial macro, no scaling). ``at_least``: the
    cheapest memory holding at least ``size_bytes`` (whole macros, a whole number per bank), for a store whose
    capacity needs no power of two."""
    if size_bytes <= 0:
        raise HardwareSpecError(f"bank composition: size_bytes must be positive, got {size_bytes}")
    options = []
    for m in macros:
        if not at_least and size_bytes % m.size_bytes:
            continue
        n = math.ceil(size_bytes / m.size_bytes)
        want = max(1, math.ceil(macs_per_cycle * 8 / m.word_bits))
        p = min(_pow2_floor(n), _pow2_floor(want) if want & (want - 1) == 0 else _pow2_floor(want) * 2)
        if at_least:
            n = math.ceil(n / p) * p
        while n % p:  # a whole number of macros per bank
            p //= 2
        options.append(ComposedMemory(m, n, p))
    if not options:
        raise HardwareSpecError(f"bank composition: {size_bytes} B is not a whole number of any macro on file "
                                f"({', '.join(f'{m.name} {m.size_bytes} B' for m in macros)})")
    return min(options, key=lambda c: (c.area_um2, c.macro.read_energy_pj / (c.macro.word_bits / 8)))
