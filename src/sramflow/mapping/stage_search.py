"""Which operands of a conv node to stage whole in the second SRAM level, and with which tiling.

The existing tiling search (``conv_search.search_conv``) runs twice: once on the hardware as it is (every refill
from off-chip memory), once with the second level standing in for the off-chip link (every refill from the second
level: its port's bandwidth, its energy per byte, no transaction latency). For each of the two tilings every
subset of operands that fits the second level is priced with the real hardware (``mapping.staging`` counts, the
cost model), and the least objective value is kept (ties: the first tiling, fewer staged operands, then
``STAGEABLE`` order). A joint search over tilings and staging sets is not done: this is a heuristic choice
between two searched tilings, priced exactly."""

from __future__ import annotations

import dataclasses
import itertools

from sramflow.cost.model import busy_cycles, energy_pj, objective_value, total_cycles
from sramflow.hw.spec import HardwareSpec, OffchipMemory, Source
from sramflow.mapping.conv import ConvSchedule, ConvShape
from sramflow.mapping.conv_search import search_conv
from sramflow.mapping.staging import STAGEABLE, Level1Params, footprint_words


def level1_params(hw: HardwareSpec) -> Level1Params | None:
    """The second SRAM level's staging parameters, or None on one-level hardware."""
    if len(hw.sram) < 2:
        return None
    m = hw.sram[1]
    return Level1Params(m.word_bytes, m.total_words, hw.offchip.burst_bytes)


def _value(sch: ConvSchedule, hw: HardwareSpec, objective: str) -> float:
    c = sch.counts
    cd = {f.name: getattr(c, f.name) for f in dataclasses.fields(c)}
    cycles = int(total_cycles({k: int(v) for k, v in busy_cycles(cd, hw).items()}, sch.tiling.double_buffered))
    return float(objective_value(objective, cycles, float(sum(energy_pj(cd, hw, cycles).values()))))


def level1_as_link(hw: HardwareSpec) -> HardwareSpec:
    """``hw`` with the second SRAM level in place of the off-chip memory (for the tiling search only: the chosen
    schedules are priced on ``hw`` itself)."""
    m = hw.sram[1]
    link = OffchipMemory(
        name=m.name, kind="sram", bandwidth_bytes_per_cycle=float(m.word_bytes * m.banks), latency_cycles=0,
        read_energy_pj_per_byte=m.read_energy_pj / m.word_bytes, write_energy_pj_per_byte=m.write_energy_pj / m.word_bytes,
        standby_power_uw=0.0, source=Source("assumed", f"search stand-in: {m.name} as the refill link"))
    return dataclasses.replace(hw, sram=hw.sram[:1], offchip=link)


def _staged_options(sch: ConvSchedule, hw: HardwareSpec, p: Level1Params, objective: str, rank: int
                    ) -> tuple[ConvSchedule, tuple]:
    base = dataclasses.replace(sch, staged=(), level1=p)
    ops = base.operand_bytes
    useful = [o for o in STAGEABLE if ops[o].tile_read + ops[o].tile_write > 0]
    best, best_key = base, (_value(base, hw, objective), rank, 0, ())
    for n in range(1, len(useful) + 1):
        for combo in itertools.combinations(useful, n):
            if footprint_words(ops, combo, p) > p.capacity_words:
                continue
            cand = dataclasses.replace(base, staged=combo)
            key = (_value(cand, hw, objective), rank, n, tuple(STAGEABLE.index(o) for o in combo))
            if key < best_key:
                best, best_key = cand, key
    return best, best_key


def search_staged(shape: ConvShape, hw: HardwareSpec, objective: str) -> ConvSchedule:
    """The conv schedule for ``objective``: the tiling search's, and on hardware with a second SRAM level the best
    (tiling, staged operands) pair as described above."""
    sch = search_conv(shape, hw, objective)
    p = level1_params(hw)
    if p is None:
        return sch
    alt = dataclasses.replace(search_conv(shape, level1_as_link(hw), objective), hw=sch.hw)
    options = [_staged_options(s, hw, p, objective, rank) for rank, s in enumerate((sch, alt))]
    return min(options, key=lambda o: o[1])[0]
