"""Silicon area and static power of a HardwareSpec at 130 nm (sky130), every per-unit figure with its provenance.

Used by ``sramflow advise`` to price designs. Rules (stated so reports can repeat them):

- SRAM: an on-chip memory is built from banks of one *characterized* macro (the macros on file in
  ../shared/sram, areas read from their Liberty/layout files). A memory larger than one macro is
  ``ceil(bytes / macro_bytes)`` copies of it plus a bank-periphery overhead (address decode, output mux, wiring)
  that is assumed, with a range. No scaling rule fitted on 2-16 Kbit macros is extrapolated to MiB.
- MAC array, accumulators, vector unit: per-unit areas from Horowitz (ISSCC 2014, 45 nm) scaled to 130 nm by
  the square of the feature size ((130/45)^2 = 8.35), labelled ``scaled``; flip-flop area from the sky130 standard
  cell library (sky130_fd_sc_hd__dfxtp_1); placement utilization assumed.
- Static power: the SRAM leakage the spec states per bank (its provenance is the spec's) plus logic leakage per
  mm2 assumed with a range (no sky130 logic leakage characterization on file).

Off-chip memories are separate dies: they add no on-chip area here (their pads/controller are inside the assumed
periphery overhead).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from sramflow.errors import HardwareSpecError
from sramflow.hw.spec import HardwareSpec, Source

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


def area_power(spec: HardwareSpec) -> AreaPower:
    """Area and static power of ``spec``. SRAM area is the spec's per-bank macro area x banks, plus the bank
    overhead when there is more than one bank; logic from the per-unit figures above."""
    sram = tuple(m.area_um2 * m.banks * (1.0 + (BANK_OVERHEAD.value if m.banks > 1 else 0.0)) / 1e6
                 for m in spec.sram)
    util = UTILIZATION.value
    mac = spec.mac_array.macs_per_cycle * MAC_AREA_UM2.value / util / 1e6
    acc = (spec.mac_array.accumulators * spec.mac_array.accumulator_bits
           + 8 * spec.mac_array.input_register_bytes) * FLOP_AREA_UM2.value / util / 1e6
    vec = spec.vector_unit.lanes * VECTOR_LANE_AREA_UM2.value / util / 1e6
    logic_mm2 = mac + acc + vec
    return AreaPower(sram, mac, acc, vec, sum(m.leakage_uw * m.banks for m in spec.sram),
                     logic_mm2 * LOGIC_LEAKAGE_UW_PER_MM2.value)
