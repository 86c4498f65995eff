"""Pricing every row of a ``TilingTable`` for one hardware point and picking the best (``best_row``).

Single- and double-buffered rows are stored apart (``TilingTable.single_rows``), so each part gets only its
own cycle formula (``cost.model.total_cycles``); for latency only the rows tied at the fewest cycles are priced
for energy. Same values and the same choice as pricing every row with both formulas: the row minimizing
(objective, the other metric), first in enumeration order (``TilingTable.rank``) among equals."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sramflow.hw.spec import HardwareSpec
from sramflow.cost.model import busy_cycles, energy_pj, objective_value, total_cycles

if TYPE_CHECKING:
    from sramflow.mapping.conv_search import TilingTable


def _part(counts: dict, lo: int, hi: int) -> dict:
    return {k: v[lo:hi] if isinstance(v, np.ndarray) else v for k, v in counts.items()}


def _subset(counts: dict, idx: np.ndarray) -> dict:
    return {k: v[idx] if isinstance(v, np.ndarray) else v for k, v in counts.items()}


def table_cycles(table: TilingTable, hw: HardwareSpec) -> np.ndarray:
    """Cycles of every row: serial for the single-buffered part, overlapped for the double-buffered one."""
    c, s, n = table.counts, table.single_rows, table.rows
    parts = []
    if s:
        parts.append(np.broadcast_to(total_cycles(busy_cycles(_part(c, 0, s), hw), False), (s,)))
    if n > s:
        parts.append(np.broadcast_to(total_cycles(busy_cycles(_part(c, s, n), hw, serial=False), True), (n - s,)))
    return np.concatenate(parts) if len(parts) > 1 else np.asarray(parts[0] if parts else np.zeros(0, np.int64))


def _first_ranked(table: TilingTable, idx: np.ndarray) -> int:
    return int(idx[np.argmin(table.rank[idx])])


def best_row(table: TilingTable, hw: HardwareSpec, objective: str) -> int:
    """The row minimizing (objective, the other metric), first in enumeration order among equals."""
    cyc = table_cycles(table, hw)
    if objective == "latency":
        tied = np.flatnonzero(cyc == cyc.min())
        if tied.size == 1:
            return int(tied[0])
        en = sum(energy_pj(_subset(table.counts, tied), hw, cyc[tied]).values())
        return _first_ranked(table, tied[en == en.min()])
    en = sum(energy_pj(table.counts, hw, cyc).values())
    obj = objective_value(objective, cyc, en)
    tied = np.flatnonzero(obj == obj.min())
    second = cyc[tied]
    return _first_ranked(table, tied[second == second.min()])
