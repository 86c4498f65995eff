"""In-memory tiling tables: ``TilingCache``, a least-recently-used store bounded in bytes that a caller owns (the
sweep keeps one per process; ``simulate_totals`` and cycle budgets use ``DEFAULT_CACHE``). Tables only: the plans
priced over them are kept apart (``plan.PlanCache``)."""

from __future__ import annotations

import dataclasses
from collections import OrderedDict

from sramflow.mapping.conv import ConvShape, HwParams
from sramflow.mapping.search.table_store import TableDisk
from sramflow.mapping.search.tiling_table import TilingTable, tiling_tables


class TilingCache:
    """Least-recently-used ``TilingTable``s per (layer shape without its name, ``HwParams``), bounded in bytes.
    Its owner passes it to every search (a sweep keeps one per process, see ``sweep.evaluate``): sweep points that
    differ only in clock, off-chip memory, energies, ports or banks at equal total words reuse a table (a hit); a
    smaller SRAM with otherwise equal ``HwParams`` filters the largest table built so far (``TilingTable.within``,
    counted as derived); else it is built (a miss)."""

    def __init__(self, max_bytes: int = 2 << 30, disk: TableDisk | None = None) -> None:
        self.max_bytes, self.hits, self.derived, self.misses = max_bytes, 0, 0, 0
        self.disk = disk  # tables on disk shared by processes and later sweeps; a table read from it is a hit
        self.loaded = 0  # ... of the hits, how many were read from ``disk``
        self._tables: OrderedDict[tuple[ConvShape, HwParams], TilingTable] = OrderedDict()
        self._largest: dict[tuple[ConvShape, HwParams], tuple[ConvShape, HwParams]] = {}
        self._bytes = 0
        # burst sizes to build together (``tiling_tables``): a sweep sets those of the current tiling group, so a
        # miss builds the tables of all of them at once (the others are stored as if built, not counted as misses)
        self.burst_sizes: tuple[int, ...] = ()

    def get(self, shape: ConvShape, hwp: HwParams) -> TilingTable:
        """The table for exactly ``hwp`` (derived from a larger SRAM's table, and kept, when ``source`` gives one)."""
        table = self.source(shape, hwp)
        if table.capacity_words > hwp.capacity_words:
            table = table.within(hwp.capacity_words)
            self._put((dataclasses.replace(shape, name=""), hwp), table)
        return table

    def source(self, shape: ConvShape, hwp: HwParams) -> TilingTable:
        """The table for ``hwp`` (a hit), else the largest SRAM's table with otherwise equal ``HwParams`` when it is at
        least as large (derived: its rows with ``footprint_words <= hwp.capacity_words`` are ``hwp``'s table, see
        ``TilingTable.within``), else one read from ``disk`` (a hit) or built (a miss)."""
        key = (dataclasses.replace(shape, name=""), hwp)
        table = self._tables.get(key)
        if table is not None:
            self.hits += 1
            self._tables.move_to_end(key)
            return table
        sub = (key[0], dataclasses.replace(hwp, capacity_words=0))
        big_key = self._largest.get(sub, key)
        big = self._tables.get(big_key)
        if big is not None and big.capacity_words >= hwp.capacity_words:
            self.derived += 1
            self._tables.move_to_end(big_key)  # keep the source of derived tables recent (LRU)
            return big
        bursts_ = self.burst_sizes if hwp.burst_bytes in self.burst_sizes else (hwp.burst_bytes,)
        disk = self.disk  # read once: a sweep sets it per task (threads of a Dask worker share this cache)
        tables = disk.load(key[0], hwp, bursts_) if disk is not None else None
        if tables is None:
            self.misses += 1
            tables = tiling_tables(shape, hwp, bursts_)
            if disk is not None:
                disk.save(key[0], hwp, bursts_, tables)
        else:
            self.hits += 1
            self.loaded += 1
        table = tables.pop(hwp.burst_bytes)
        self._largest[sub] = key
        for b, other in tables.items():  # the other burst sizes' tables of this build
            okey = (key[0], dataclasses.replace(hwp, burst_bytes=b))
            osub = (okey[0], dataclasses.replace(okey[1], capacity_words=0))
            prev = self._tables.get(self._largest.get(osub, okey))
            if okey not in self._tables and (prev is None or prev.capacity_words <= hwp.capacity_words):
                self._put(okey, other)
                self._largest[osub] = okey
        self._put(key, table)
        return table

    def _put(self, key: tuple[ConvShape, HwParams], table: TilingTable) -> None:
        self._tables[key] = table
        self._bytes += table.nbytes
        while self._bytes > self.max_bytes and len(self._tables) > 1:
            self._bytes -= self._tables.popitem(last=False)[1].nbytes


DEFAULT_CACHE = TilingCache()  # for callers that keep none of their own
