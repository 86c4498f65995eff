"""The advise search space: on-chip SRAM built from banks of the characterized design1 macro, MAC arrays,
clocks within the macro's minimum period, the off-chip memories on file, fusion, weight precision.

Rule for SRAM sizes (no scaling rule is extrapolated): a memory of N bytes is ``N / 256`` banks of the base
preset's macro (sky130-design1: 16 bit x 128 words, energies and area with their provenance in the preset);
only one bank is accessed per word, so per-access energy is the macro's, and leakage and area scale with the
bank count (area plus ``hw.area.BANK_OVERHEAD``). Fusion modes are ``mapping.epilogue.FUSION_MODES``.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from sramflow.errors import HardwareSpecError
from sramflow.hw.load import list_offchip_presets, resolve_hw
from sramflow.hw.spec import HardwareSpec
from sramflow.mapping.epilogue import FUSION_MODES
from sramflow.sweep.hwpoint import point_hw, timing_problem

KIB = 1024
MIB = 1024 * KIB
FUSION_AVAILABLE = FUSION_MODES
MIXED_8_4 = "stem=8,depthwise=8,pointwise=4,se=8,conv=4,classifier=8"  # canonical_weight_bits form


@dataclass(frozen=True)
class AdviseSpace:
    base: str = "sky130-design1"
    sram_bytes: tuple[int, ...] = (256, 4 * KIB, 64 * KIB, 1 * MIB, 8 * MIB)  # level 1 (the scratchpad)
    l2_bytes: tuple[int, ...] = (0,)  # optional second level; 0 = none
    macs_per_cycle: tuple[int, ...] = (16, 64, 256, 1024)
    clock_mhz: tuple[float, ...] = (100.0, 175.0)
    offchip: tuple[str, ...] = ("qspi-psram", "qspi-flash", "lpddr4")
    fusion: tuple[str, ...] = ("none", "depth-first")
    weight_bits: tuple[Any, ...] = (8, MIXED_8_4)

    def __post_init__(self) -> None:
        for name in ("sram_bytes", "macs_per_cycle", "clock_mhz", "offchip", "fusion", "weight_bits"):
            if not getattr(self, name):
                raise HardwareSpecError(f"advise space: {name} must list at least one value")
        bad = [b for b in (*self.sram_bytes, *self.l2_bytes) if b < 0 or (b and b < 256)]
        if bad:
            raise HardwareSpecError(f"advise space: SRAM sizes must be 0 or >= 256 B, got {bad}")
        if [m for m in self.macs_per_cycle if m <= 0] or [c for c in self.clock_mhz if c <= 0]:
            raise HardwareSpecError("advise space: macs_per_cycle and clock_mhz must be positive")
        unknown = set(self.offchip) - set(list_offchip_presets())
        if unknown:
            raise HardwareSpecError(f"advise space: unknown off-chip memory {sorted(unknown)}; "
                                    f"known: {', '.join(list_offchip_presets())}")
        if set(self.fusion) - set(FUSION_AVAILABLE):
            raise HardwareSpecError(f"advise space: fusion {sorted(set(self.fusion) - set(FUSION_AVAILABLE))} "
                                    f"unknown; known: {', '.join(FUSION_AVAILABLE)}")


COARSE = AdviseSpace()
FINE = AdviseSpace(sram_bytes=(256, 1 * KIB, 4 * KIB, 16 * KIB, 64 * KIB, 256 * KIB, 1 * MIB, 4 * MIB, 8 * MIB),
                   l2_bytes=(0, 64 * KIB, 1 * MIB, 8 * MIB),
                   macs_per_cycle=(16, 32, 64, 128, 256, 512, 1024), clock_mhz=(50.0, 100.0, 150.0, 175.0))
GRIDS: Mapping[str, AdviseSpace] = {"coarse": COARSE, "fine": FINE}


@dataclass(frozen=True)
class DesignPoint:
    params: Mapping[str, Any]
    hw: HardwareSpec
    weight_bits: Any
    fusion: str
    assumptions: tuple[str, ...]


def _banked(base: HardwareSpec, size_bytes: int, name: str) -> Any:
    m = base.main_sram
    if size_bytes % m.size_bytes:
        raise HardwareSpecError(f"advise space: {size_bytes} B is not a whole number of {m.size_bytes} B "
                                f"banks of macro {m.name}")
    return dataclasses.replace(m, name=name, banks=size_bytes // (m.word_bytes * m.words))


def design_points(space: AdviseSpace) -> Iterator[DesignPoint]:
    """Every point of the grid with its HardwareSpec, L2 never smaller than L1; points whose clock is above the
    macro's maximum frequency are skipped (the clock range is 'within the macros' minimum period')."""
    base = resolve_hw(space.base)
    for l1, l2, macs, clk, off, fus, wb in itertools.product(space.sram_bytes, space.l2_bytes, space.macs_per_cycle,
                                                           space.clock_mhz, space.offchip, space.fusion,
                                                           space.weight_bits):
        if l2 and l2 <= l1:
            continue
        params = {"sram_bytes": l1, "l2_bytes": l2, "macs_per_cycle": macs, "clock_mhz": clk, "offchip": off,
                  "fusion": fus, "weight_bits": wb}
        ph = point_hw(base, {"macs_per_cycle": macs, "clock_mhz": clk, "offchip": off})
        srams = (_banked(base, l1, "l1"),) + ((_banked(base, l2, "l2"),) if l2 else ())
        hw = dataclasses.replace(ph.hw, name=f"advise-{l1}-{l2}-{macs}-{clk:g}-{off}", sram=srams)
        if timing_problem(hw) is not None:
            continue
        notes = (*ph.assumptions, f"SRAM: banks of the {base.main_sram.name} macro ({base.main_sram.size_bytes} B "
                 "each, figures from the preset), no size scaling")
        yield DesignPoint(params, hw, wb, fus, notes)
