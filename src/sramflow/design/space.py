"""The advise search space: on-chip SRAM built from banks of characterized macros, MAC arrays, clocks within the
macros' minimum period, the off-chip memories on file, fusion, weight precision, and weights held on chip.

Rule for SRAM sizes (``hw.area.COMPOSE_RULE``, no scaling rule is extrapolated): a memory of N bytes is whole
copies of one macro whose figures are all on file (IHP SG13G2 vendor Liberty, or design1's preset), the macro
giving the least area at that size, organized as parallel banks of stacked macros so the MAC array gets one byte
per MAC per cycle. Fusion modes are ``mapping.epilogue.FUSION_MODES``.

Weights held on chip (``weights_on_chip: true``): the off-chip memory of the point is replaced by an on-chip
weight store (``hw.area.compose`` again) large enough for every weight plus the activations that spill
(``resident_bytes``); the simulator prices it as the outermost memory, so every per-inference figure of such a
design is simulated. The weights are written into it once at boot from QSPI flash: that boot cost is reported
per design (``boot``), not charged per inference; the store stays powered, so its leakage is in every inference.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from sramflow.errors import HardwareSpecError, SramflowError
from sramflow.hw.area import (
    CHEAPEST,
    IHP_MACROS,
    LOGIC_LEAKAGE_UW_PER_MM2,
    ComposedMemory,
    compose,
    design1_macro,
    logic_leakage_uw,
)
from sramflow.hw.load import list_offchip_presets, offchip_preset, resolve_hw
from sramflow.hw.spec import HardwareSpec, OffchipMemory, Source, SramMacro
from sramflow.mapping.epilogue import FUSION_MODES
from sramflow.sweep.hwpoint import point_hw, timing_problem

KIB = 1024
MIB = 1024 * KIB
FUSION_AVAILABLE = FUSION_MODES
MIXED_8_4 = "stem=8,depthwise=8,pointwise=4,se=8,conv=4,classifier=8"  # canonical_weight_bits form
BOOT_MEMORY = "qspi-flash"  # where the weights come from at boot when they are held on chip


def bank_macros(base: HardwareSpec) -> dict[str, SramMacro]:
    """Every macro usable as a bank, by name: the IHP vendor macros and the base preset's own macro."""
    return {m.name: m for m in (*IHP_MACROS, design1_macro(base.main_sram))}


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
    weights_on_chip: tuple[bool, ...] = (False, True)
    bank_macro: str = CHEAPEST  # a macro name from ``bank_macros``, or "cheapest" (least area per size)

    def __post_init__(self) -> None:
        for name in ("sram_bytes", "macs_per_cycle", "clock_mhz", "offchip", "fusion", "weight_bits",
                     "weights_on_chip"):
            if not getattr(self, name):
                raise HardwareSpecError(f"advise space: {name} must list at least one value")
        bad = [b for b in (*self.sram_bytes, *self.l2_bytes) if b < 0 or (b and (b < 256 or b & (b - 1)))]
        if bad:
            raise HardwareSpecError(f"advise space: SRAM sizes must be 0 (l2 only) or a power of two >= 256 B, "
                                    f"got {bad}")
        if 0 in self.sram_bytes:
            raise HardwareSpecError("advise space: sram_bytes must be >= 256 B (0 is for l2_bytes: no L2)")
        if [m for m in self.macs_per_cycle if m <= 0] or [c for c in self.clock_mhz if not 0 < c < 1e4]:
            raise HardwareSpecError("advise space: macs_per_cycle must be positive and clock_mhz in (0, 10000) MHz")
        unknown = set(self.offchip) - set(list_offchip_presets())
        if unknown:
            raise HardwareSpecError(f"advise space: unknown off-chip memory {sorted(unknown)}; "
                                    f"known: {', '.join(list_offchip_presets())}")
        if set(self.fusion) - set(FUSION_AVAILABLE):
            raise HardwareSpecError(f"advise space: fusion {sorted(set(self.fusion) - set(FUSION_AVAILABLE))} "
                                    f"unknown; known: {', '.join(FUSION_AVAILABLE)}")
        if self.bank_macro != CHEAPEST:
            known = bank_macros(resolve_hw(self.base))
            if self.bank_macro not in known:
                raise HardwareSpecError(f"advise space: bank_macro {self.bank_macro!r} unknown; known: "
                                        f"{CHEAPEST}, {', '.join(known)}")

    def as_dict(self) -> dict[str, Any]:
        return {f.name: (list(v) if isinstance(v := getattr(self, f.name), tuple) else v)
                for f in dataclasses.fields(self)}


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
    memories: tuple[ComposedMemory, ...] = ()  # the on-chip SRAM levels as composed, innermost first
    store: ComposedMemory | None = None  # the on-chip weight store (weights held on chip), else None


def _macros(space: AdviseSpace, base: HardwareSpec) -> tuple[SramMacro, ...]:
    known = bank_macros(base)
    return tuple(known.values()) if space.bank_macro == CHEAPEST else (known[space.bank_macro],)



def weight_store(store: ComposedMemory, clock_mhz: float) -> OffchipMemory:
    """An on-chip weight store as the outermost memory the simulator prices: per-byte energies of its macro,
    its port width as bandwidth, its leakage plus every bank's idle clock as standby power."""
    m, p = store.macro, store.parallel_banks
    wb = m.word_bits / 8
    standby = store.leakage_uw + p * m.idle_energy_pj_per_cycle * clock_mhz  # pJ x MHz = uW
    ref = (f"on-chip weight store: {store.macros} x {m.name} ({store.parallel_banks} parallel banks), "
           f"hw.area.COMPOSE_RULE; per-byte energies = the macro's per word / {wb:g} B ({m.source.ref})")
    return OffchipMemory(
        name=f"onchip-store-{store.size_bytes}", kind="onchip-sram", bandwidth_bytes_per_cycle=p * wb,
        latency_cycles=1, read_energy_pj_per_byte=m.read_energy_pj / wb,
        write_energy_pj_per_byte=m.write_energy_pj / wb,
        standby_power_uw=standby, source=Source(m.source.kind, ref),
        field_sources={"latency_cycles": Source("assumed", "one cycle to start an on-chip access (registered "
                                                "address), no transaction overhead"),
                       "standby_power_uw": Source("assumed", f"{ref}: leakage of every macro + idle clock energy of "
                                                  "one macro per bank every cycle (the stacked others gated)")})


def _with_logic_leakage(hw: HardwareSpec) -> HardwareSpec:
    """The spec with ``mac_array.leakage_uw`` = the area model's logic leakage, so the simulator prices the static
    power advise reports (one implementation: re-simulating the design's YAML gives advise's figures)."""
    leak = logic_leakage_uw(hw)
    src = Source("assumed", f"hw.area.logic_leakage_uw: logic area (MAC array, accumulators, vector unit) x "
                 f"{LOGIC_LEAKAGE_UW_PER_MM2.value:g} uW/mm2 ({LOGIC_LEAKAGE_UW_PER_MM2.source.ref})",
                 leak * LOGIC_LEAKAGE_UW_PER_MM2.source.low / LOGIC_LEAKAGE_UW_PER_MM2.value,
                 leak * LOGIC_LEAKAGE_UW_PER_MM2.source.high / LOGIC_LEAKAGE_UW_PER_MM2.value)
    mac = dataclasses.replace(hw.mac_array, leakage_uw=leak,
                              field_sources={**hw.mac_array.field_sources, "leakage_uw": src})
    return dataclasses.replace(hw, mac_array=mac)


def design_points(space: AdviseSpace, resident_bytes: Mapping[str, int] | None = None) -> Iterator[DesignPoint]:
    """Every point of the grid with its HardwareSpec, L2 larger than L1; points whose clock is above a macro's
    maximum frequency are skipped (the clock range is 'within the macros' minimum period'). ``resident_bytes``
    (per ``str(weight_bits)``: weights + spilled activations) sizes the weight store of the ``weights_on_chip``
    points; without it those points are not generated. A weights-on-chip point has no off-chip memory, so it
    is generated once (``offchip`` = the boot memory), not once per off-chip memory."""
    base = resolve_hw(space.base)
    macros = _macros(space, base)
    for l1, l2, macs, clk, off, fus, wb, resident in itertools.product(
            space.sram_bytes, space.l2_bytes, space.macs_per_cycle, space.clock_mhz, space.offchip, space.fusion,
            space.weight_bits, space.weights_on_chip):
        if l2 and l2 <= l1:
            continue
        if resident and (resident_bytes is None or off != space.offchip[0]):
            continue
        ph = point_hw(base, {"macs_per_cycle": macs, "clock_mhz": clk, "offchip": off})
        mems = (compose(l1, macs, macros),) + ((compose(l2, macs, macros),) if l2 else ())
        srams = tuple(c.sram(name) for c, name in zip(mems, ("l1", "l2"), strict=False))
        store = compose(resident_bytes[str(wb)], macs, macros, at_least=True) if resident else None
        offchip = weight_store(store, clk) if store else ph.hw.offchip
        params = {"sram_bytes": l1, "l2_bytes": l2, "macs_per_cycle": macs, "clock_mhz": clk,
                  "offchip": offchip.name if store else off, "fusion": fus, "weight_bits": wb,
                  "weights_on_chip": bool(resident)}
        hw = dataclasses.replace(ph.hw, name=f"advise-{l1}-{l2}-{macs}-{clk:g}-{params['offchip']}", sram=srams,
                                 offchip=offchip)
        if any(timing_problem(dataclasses.replace(hw, sram=(s,))) for s in srams) or (
                store and hw.cycle_ns < store.macro.min_period_ns):
            continue
        hw = _with_logic_leakage(hw)
        notes = (*ph.assumptions,
                 *(f"SRAM {n}: {c.macros} x {c.macro.name} ({c.parallel_banks} banks x {c.depth} deep), figures on "
                   "file, no size scaling (hw.area.COMPOSE_RULE)" for n, c in zip(("l1", "l2"), mems, strict=False)),
                 "logic leakage priced as mac_array.leakage_uw (hw.area.logic_leakage_uw)")
        if store:
            notes += (f"weights held on chip: {store.size_bytes:,} B store of {store.macros} x {store.macro.name}; "
                      f"written once at boot from {BOOT_MEMORY} (boot cost reported apart, not per inference)",)
        yield DesignPoint(params, hw, wb, fus, notes, mems, store)


def boot_cost(store: ComposedMemory, weight_bytes: int) -> dict[str, Any]:
    """Energy and time to write the weights into the on-chip store once at power-up, from ``BOOT_MEMORY``."""
    flash = offchip_preset(BOOT_MEMORY)
    wb = store.macro.word_bits / 8
    e_pj = weight_bytes * (flash.read_energy_pj_per_byte + store.macro.write_energy_pj / wb)
    t_ms = weight_bytes / flash.bandwidth_bytes_per_cycle / 100e3  # bandwidth stated per 100 MHz cycle
    return {"weight_bytes": weight_bytes, "from": BOOT_MEMORY, "energy_mj": e_pj * 1e-9, "time_ms": t_ms,
            "accounting": f"once per power-up, not per inference: {weight_bytes:,} B read from {BOOT_MEMORY} at "
                          f"{flash.read_energy_pj_per_byte} pJ/B and written into the store at "
                          f"{store.macro.write_energy_pj / wb:.4g} pJ/B; the store stays powered between inferences "
                          "(its leakage is in each inference's energy)"}


# ---------------------------------------------------------------- the space as a YAML file (--space FILE)

_LIST_KINDS = {"sram_bytes": "bytes", "l2_bytes": "bytes", "macs_per_cycle": "count", "clock_mhz": "MHz",
               "offchip": "name", "fusion": "name", "weight_bits": "weight bits", "weights_on_chip": "bool"}
SPACE_KEYS = ("base", *_LIST_KINDS, "bank_macro")


def _space_value(key: str, kind: str, v: Any, origin: str) -> Any:
    where = f"{origin}: {key}"
    if kind in ("bytes", "count"):
        if isinstance(v, bool) or not isinstance(v, int):
            raise HardwareSpecError(f"{where}: {v!r} must be a whole number of "
                                    f"{'bytes (e.g. 4096, not 4KiB)' if kind == 'bytes' else 'MACs per cycle'}")
        return v
    if kind == "MHz":
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise HardwareSpecError(f"{where}: {v!r} must be a number of MHz (e.g. 100, not '100MHz')")
        return float(v)
    if kind == "bool":
        if not isinstance(v, bool):
            raise HardwareSpecError(f"{where}: {v!r} must be true or false")
        return v
    if kind == "weight bits":
        from sramflow.ir.precision import canonical_weight_bits

        try:
            if isinstance(v, bool) or not isinstance(v, int | str):
                raise ValueError("not a number or a per-group spec")
            return canonical_weight_bits(v)
        except (SramflowError, ValueError) as exc:
            raise HardwareSpecError(f"{where}: {v!r} must be 8, 4 or a per-group spec like {MIXED_8_4!r} "
                                    f"({exc})") from None
    if not isinstance(v, str):
        raise HardwareSpecError(f"{where}: {v!r} must be a name")
    return v


def space_from_dict(d: Any, origin: str) -> AdviseSpace:
    """A space from a plain dict (as read from YAML): unknown keys (and unit mistakes such as ``clock_ghz``) are
    refused naming the key and ``origin``; omitted keys keep ``COARSE``'s values."""
    from sramflow.hw.load import _check_keys

    if not isinstance(d, Mapping):
        raise HardwareSpecError(f"{origin}: the top level must be a mapping of {', '.join(SPACE_KEYS)}")
    _check_keys(d, SPACE_KEYS, "", origin)
    kw: dict[str, Any] = {}
    for key, v in d.items():
        if key in ("base", "bank_macro"):
            if not isinstance(v, str):
                raise HardwareSpecError(f"{origin}: {key}: must be a name, got {v!r}")
            kw[key] = v
            continue
        if not isinstance(v, list) or not v:
            raise HardwareSpecError(f"{origin}: {key}: must be a non-empty list, got {v!r}")
        vals = [_space_value(key, _LIST_KINDS[key], x, origin) for x in v]
        dup = sorted({str(x) for x in vals if vals.count(x) > 1})
        if dup:
            raise HardwareSpecError(f"{origin}: {key}: lists {', '.join(dup)} more than once")
        kw[key] = tuple(vals)
    try:
        return dataclasses.replace(COARSE, **kw)
    except HardwareSpecError as exc:
        raise HardwareSpecError(f"{origin}: {exc}") from None


def load_space(path: str) -> AdviseSpace:
    """``--space FILE``: strict YAML (a duplicate key is refused with its line) read into an ``AdviseSpace``."""
    from pathlib import Path

    from sramflow.hw.yamlio import load_yaml_file

    p = Path(path)
    return space_from_dict(load_yaml_file(p), str(p))
