"""One SRAM split into a tile buffer and a region, as two levels of a hierarchy (depth-first on one SRAM level).

The mapper stages whole tensors, row bands and kept operands in an outer SRAM level (``mapping.staging``). A
single macro can play both parts: its low words the tile buffer the MAC array reads, its high words a *region*
where bands and kept tensors wait. ``partitioned`` describes that as a two-level ``HardwareSpec`` whose second level
is a window of the first (``SramMacro.partition_of``): the same energies per access, and no port, leakage, idle
clock or area of its own (``cost.table`` puts its accesses on the first level's port, so a move between the two
windows costs one read and one write of the one port, as it would on the chip). The functional simulator runs
the two windows as two arrays, which is what the address split makes them.
"""

from __future__ import annotations

import dataclasses

from sramflow.errors import HardwareSpecError
from sramflow.hw.spec import HardwareSpec, Source

REGION_SUFFIX = ".region"
# The tile buffer's shares of the SRAM tried by depth-first fusion on one level (``sim.api``), as (numerator,
# denominator). On B0 @224 with the 64 KiB edit of design1, under energy 4, 8, 16, 24 and 32 KiB of tiles moved
# 10.73, 10.77, 10.68, 11.19 and 12.97 MB before the SE barrier could be recomputed (a larger region keeps more, a
# smaller tile buffer re-reads more; 16 and 8 KiB now 9.24 and 9.33 MB). Three quarters serve large SRAMs: at 1 MiB
# under energy 768 KiB of tiles take 17.44 mJ against 23.27 whole. Under latency
# no split beats the whole 64 KiB once first loads are counted (``sim.first_loads``): 48 KiB of tiles take 121.13 M
# cycles against 121.35 M, but 131.0 M against 125.2 M with them.
TILE_SHARES = ((3, 4), (1, 4), (1, 8))
# No split where a quarter of the SRAM holds less than this: B0's layers need a few KiB of tiles to run near the
# port's limit, and a small region keeps little (design1's 256 B and the advisor's 4 KiB designs are not split).
MIN_TILE_BYTES = 4096


def partitioned(hw: HardwareSpec, tile_bytes: int) -> HardwareSpec:
    """``hw`` (one SRAM level) with its macro's words split: the first ``tile_bytes`` the tile buffer, the rest a
    region level of the same macro."""
    if len(hw.sram) != 1:
        raise HardwareSpecError(f"{hw.name}: only a one-level SRAM can be split into tiles and a region, "
                                f"got {len(hw.sram)} levels")
    m = hw.sram[0]
    per_bank = m.word_bytes * m.banks
    if tile_bytes % per_bank or not 0 < tile_bytes < m.size_bytes:
        raise HardwareSpecError(f"{hw.name}: a tile buffer of {tile_bytes} B must be a positive multiple of "
                                f"{per_bank} B (a word in every bank) below the SRAM's {m.size_bytes} B")
    tile_words = tile_bytes // per_bank
    host = Source("assumed", f"a window of {m.name}: its port, leakage, idle clock and area are {m.name}'s")
    tiles = dataclasses.replace(m, words=tile_words, power_of_two_words=False)
    region = dataclasses.replace(
        m, name=m.name + REGION_SUFFIX, words=m.words - tile_words, power_of_two_words=False, double_buffering=False,
        leakage_uw=0.0, idle_energy_pj_per_cycle=0.0, area_um2=0.0, partition_of=m.name,
        field_sources={**m.field_sources, "leakage_uw": host, "idle_energy_pj_per_cycle": host, "area_um2": host})
    return dataclasses.replace(
        hw, sram=(tiles, region),
        description=f"{hw.description} Split for depth-first: {tile_bytes} B of tiles, {region.size_bytes} B region.")


def split_candidates(hw: HardwareSpec) -> tuple[int, ...]:
    """The tile buffer sizes (bytes) depth-first fusion tries on ``hw``: none unless it has one SRAM level whose
    quarter holds ``MIN_TILE_BYTES``; then ``TILE_SHARES`` of it that hold as much."""
    if len(hw.sram) != 1:
        return ()
    m = hw.sram[0]
    if m.size_bytes // 4 < MIN_TILE_BYTES:
        return ()
    per_bank = m.word_bytes * m.banks
    sizes = (m.size_bytes * num // den // per_bank * per_bank for num, den in TILE_SHARES)
    return tuple(s for s in sizes if s >= MIN_TILE_BYTES)


def is_partitioned(hw: HardwareSpec) -> bool:
    return any(m.partition_of for m in hw.sram)


def macro_bytes(hw: HardwareSpec) -> int:
    """The first SRAM macro's bytes: its tile buffer and the windows split from it."""
    return hw.sram[0].size_bytes + sum(m.size_bytes for m in hw.sram[1:] if m.partition_of)
