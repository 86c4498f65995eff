"""A design point's hardware: the base preset with the point's parameters applied.

All modelling assumptions of the sweep about how a changed parameter changes the characterized numbers
live in ``scale_macro`` (SRAM geometry) and ``rescale_offchip`` (clock); every derived number is
recorded in the point's ``assumptions`` and its provenance becomes ``Source("scaled")`` in the spec.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sramflow.hw.load import offchip_preset
from sramflow.hw.spec import HardwareSpec, MacArray, OffchipMemory, Source, SramMacro

# Exponents of the first-order SRAM scaling rules (see ``scale_macro`` for the data behind each).
READ_WIDTH_EXP, READ_DEPTH_EXP = 1.10, 0.46
WRITE_WIDTH_EXP, WRITE_DEPTH_EXP = 1.07, 0.43
IDLE_WIDTH_EXP, IDLE_DEPTH_EXP = 0.40, 0.46
AREA_BITS_EXP = 0.54
LEAKAGE_BITS_EXP = 0.66
DUAL_PORT_AREA_FACTOR = 1.3  # 1RW1R over 1RW, area and leakage
OFFCHIP_PRESET_CLOCK_MHZ = 100.0  # named off-chip presets state bytes per cycle at this clock

SCALING_REF = (
    "sramflow.sweep.hwpoint.scale_macro first-order rules fitted to ../shared/sram/reference_data.json: "
    "energy ~ word_bits^a x words^b (IHP SG13G2 2P_256x8, 2P_64x32, 1P_1024x8), area ~ bits^0.54 "
    "(OpenRAM sky130 layouts 2-16 Kbit), leakage ~ bits^0.66 (IHP 2 and 8 Kbit), 1RW1R x1.3 area/leakage "
    "(assumed)")


@dataclass(frozen=True)
class PointHw:
    hw: HardwareSpec
    assumptions: tuple[str, ...]  # what was scaled or assumed to build this point, in words


def _ratio(new: float, old: float, exp: float) -> float:
    return (new / old) ** exp


def scale_macro(base: SramMacro, word_bits: int, words: int, banks: int, ports: str) -> tuple[SramMacro, list[str]]:
    """The base macro resized to ``word_bits`` x ``words`` per bank, ``banks`` banks, port kind ``ports``.

    First-order rules (modelling assumptions; the sweep records them per point):
    - Energy per access E ~ word_bits^a x words^b, fitted on the IHP SG13G2 130 nm vendor Liberty data
      (../shared/sram/reference_data.json, the same data the sky130-design1 energies are scaled from):
      2P_256x8 -> 2P_64x32 (4x width at 1/4 depth) read 8.285 -> 20.36 pJ gives a - b = 0.65;
      2P_256x8 -> 1P_1024x8 (4x depth) read 8.285 -> 15.60 pJ gives b = 0.46, so a = 1.10 (write: 10.96 ->
      26.46 / 19.92 pJ gives a = 1.07, b = 0.43). The depth pair crosses two-port -> single-port, and the
      GF180MCU 64x8 -> 512x8 macros give b = 0.10 only: depth scaling is uncertain by that range.
    - Idle clock energy: 2P_256x8 0.296 -> 2P_64x32 0.274 pJ gives a - b = -0.06; b assumed equal to the
      read energy's 0.46, so a = 0.40.
    - Area per bank ~ bits^0.54: OpenRAM sky130 layouts 16x128 (2 Kbit) 92,927 um2, 32x256 / 8x1024
      (8 Kbit) 190,713 / 203,273 um2, 32x512 (16 Kbit) 284,538 um2.
    - Leakage per bank ~ bits^0.66: IHP 2 Kbit 39.86 nW -> 8 Kbit 99.0 nW.
    - Port kind: energies unchanged (the base energies already come from two-port macros); area and leakage
      x1.3 for 1RW1R over 1RW (assumed: 8T vs 6T bit cell plus a second periphery, typically 1.2-1.4x).
    - Banks: per-bank numbers unchanged (a bank is a copy of the macro). Timing (clk-to-q, minimum
      period) is not scaled.
    """
    notes: list[str] = []
    bits_old, bits_new = base.word_bits * base.words, word_bits * words
    geometry = (word_bits, words) != (base.word_bits, base.words)
    kw: dict[str, Any] = {"word_bits": word_bits, "words": words, "banks": banks, "ports": ports}
    if geometry:
        w, d = (word_bits, base.word_bits), (words, base.words)
        kw["read_energy_pj"] = base.read_energy_pj * _ratio(*w, READ_WIDTH_EXP) * _ratio(*d, READ_DEPTH_EXP)
        kw["write_energy_pj"] = base.write_energy_pj * _ratio(*w, WRITE_WIDTH_EXP) * _ratio(*d, WRITE_DEPTH_EXP)
        kw["idle_energy_pj_per_cycle"] = (base.idle_energy_pj_per_cycle * _ratio(*w, IDLE_WIDTH_EXP)
                                          * _ratio(*d, IDLE_DEPTH_EXP))
        kw["area_um2"] = base.area_um2 * _ratio(bits_new, bits_old, AREA_BITS_EXP)
        kw["leakage_uw"] = base.leakage_uw * _ratio(bits_new, bits_old, LEAKAGE_BITS_EXP)
        notes.append(f"sram {word_bits}x{words}: energies, area, leakage scaled from {base.word_bits}x{base.words} "
                     "(first-order fit, scaled/assumed)")
    if ports != base.ports:
        f = DUAL_PORT_AREA_FACTOR if ports == "1rw1r" else 1 / DUAL_PORT_AREA_FACTOR
        kw["area_um2"] = kw.get("area_um2", base.area_um2) * f
        kw["leakage_uw"] = kw.get("leakage_uw", base.leakage_uw) * f
        notes.append(f"sram ports {base.ports} -> {ports}: area and leakage x{f:.3g} (assumed)")
    scaled = Source("scaled", SCALING_REF)
    field_sources = dict(base.field_sources)
    for name in ("read_energy_pj", "write_energy_pj", "idle_energy_pj_per_cycle", "area_um2", "leakage_uw"):
        if name in kw:
            field_sources[name] = scaled
    return dataclasses.replace(base, field_sources=field_sources, **kw), notes


def rescale_offchip(off: OffchipMemory, ref_clock_mhz: float, clock_mhz: float) -> tuple[OffchipMemory, list[str]]:
    """Keep the off-chip link's bytes per second and nanoseconds of latency when the clock changes
    (the memory's interface clock does not follow the accelerator's)."""
    if clock_mhz == ref_clock_mhz:
        return off, []
    f = ref_clock_mhz / clock_mhz
    new = dataclasses.replace(off, bandwidth_bytes_per_cycle=off.bandwidth_bytes_per_cycle * f,
                              latency_cycles=math.ceil(off.latency_cycles / f))
    return new, [f"offchip {off.name}: bandwidth and latency rescaled from {ref_clock_mhz:g} to {clock_mhz:g} MHz "
                 "(same bytes per second and ns)"]


def _mac_array(base: MacArray, macs: int) -> tuple[MacArray, list[str]]:
    if macs == base.macs_per_cycle:
        return base, []
    per_lane = base.accumulators / base.macs_per_cycle
    new = dataclasses.replace(base, macs_per_cycle=macs, accumulators=max(1, round(macs * per_lane)),
                              leakage_uw=base.leakage_uw * macs / base.macs_per_cycle,
                              input_register_bytes=base.input_register_bytes * macs // base.macs_per_cycle)
    return new, [f"mac_array {macs} lanes: accumulators, input registers and leakage scaled with lanes, energy per "
                 "MAC unchanged (assumed)"]


def point_hw(base: HardwareSpec, params: Mapping[str, Any]) -> PointHw:
    """Apply a point's hardware parameters to ``base`` (``weight_bits`` is not a hardware parameter)."""
    m = base.main_sram
    macro, notes = scale_macro(m, params.get("sram_word_bits", m.word_bits), params.get("sram_words", m.words),
                               params.get("sram_banks", m.banks), params.get("sram_ports", m.ports))
    clock = float(params.get("clock_mhz", base.clock_mhz))
    if "offchip" in params:
        off, off_notes = rescale_offchip(offchip_preset(params["offchip"]), OFFCHIP_PRESET_CLOCK_MHZ, clock)
    else:
        off, off_notes = rescale_offchip(base.offchip, base.clock_mhz, clock)
    mac, mac_notes = _mac_array(base.mac_array, params.get("macs_per_cycle", base.mac_array.macs_per_cycle))
    hw = dataclasses.replace(base, clock_mhz=clock, sram=(macro, *base.sram[1:]), offchip=off, mac_array=mac)
    return PointHw(hw, tuple(notes + off_notes + mac_notes))


def timing_problem(hw: HardwareSpec) -> str | None:
    """Why the SRAM cannot run at the point's clock, or None."""
    m = hw.main_sram
    if hw.cycle_ns < m.min_period_ns:
        return (f"clock {hw.clock_mhz:g} MHz (period {hw.cycle_ns:.3g} ns) is faster than the SRAM's minimum "
                f"period {m.min_period_ns:g} ns")
    return None
