"""Tables derived from a larger SRAM's or shared by burst sizes choose exactly what the independent exhaustive search
chooses (the oracle in helpers/conv_search_reference.py, on its small layers ``ORACLE_SHAPES``; the search on one
hardware point is checked against it in test_conv_search_oracle.py), table rows equal their schedules' closed forms,
and sweep points that differ only in pricing numbers reuse the counts."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from helpers.conv_search_reference import ORACLE_SHAPES, matches, search_conv_reference
from sramflow.errors import MappingError
from sramflow.hw.spec import OffchipMemory, Source
from sramflow.mapping.conv import ConvShape
from sramflow.mapping.search.choose import make_conv_schedule, search_conv
from sramflow.mapping.search.table_cache import TilingCache
from sramflow.mapping.search.tiling_table import hw_params, tiling_table
from helpers.mapping import make_hw, SEARCH_SHAPES

def points():  # noqa: ANN201 - (hardware, objective) pairs: geometry, ports, double buffering, bursts, clock
    src = Source("assumed", "test")
    # idle energy 0.3 pJ: the dominance pruning applies; 2.0 pJ (above an access): it must not (no pruning)
    for words, ports, double, acc, idle in ((128, "1rw", False, 16, 0.0), (512, "1rw1r", True, 32, 0.3),
                                            (1024, "1rw", True, 8, 2.0)):
        hw = make_hw(accumulators=acc, words=words, ports=ports, double=double)
        hw = dataclasses.replace(hw, sram=(dataclasses.replace(hw.main_sram, idle_energy_pj_per_cycle=idle),))
        for burst, bw, clock in ((0, 2.0, 100.0), (32, 0.5, 50.0)):
            off = OffchipMemory("o", "abstract", bw, 3, 10.0, 12.0, 1.0, src, burst_bytes=burst)
            yield dataclasses.replace(hw, offchip=off, clock_mhz=clock)


def test_table_counts_equal_each_rows_closed_form() -> None:
    # the tables price every candidate at once (row-grouped and single-group tiles apart); each row's counts must
    # be the scalar closed form of its schedule
    fields = ("macs", "vector_ops", "mac_cycles", "vector_cycles", "dma_bursts", "sram_reads_compute",
              "sram_writes_compute", "sram_writes_dma", "sram_reads_dma")
    grouped = 0
    for hw in list(points())[::2]:
        for shape in SEARCH_SHAPES:
            hwp = hw_params(hw, shape)
            table = tiling_table(shape, hwp, prune=False)
            for i in range(0, table.rows, max(1, table.rows // 60)):
                sizes = dict(zip("gkchw", (int(v) for v in table.sizes[i])))
                sch = make_conv_schedule(shape, hwp, sizes, table.orders[int(table.order_index[i])],
                                         bool(table.double[i]), int(table.group_k[i]), int(table.group_h[i]))
                grouped += sch.tiling.group_h < sch.tiling.tile_h
                for f in fields:
                    v = table.counts[f]
                    assert (int(v[i]) if isinstance(v, np.ndarray) else v) == getattr(sch.counts, f), (shape.name, f)
    assert grouped > 0


def test_pricing_only_changes_reuse_the_counts() -> None:
    cache = TilingCache()
    hw = make_hw(words=512)
    search_conv(SEARCH_SHAPES[0], hw, "latency", cache)
    slower = dataclasses.replace(hw, clock_mhz=50.0, offchip=dataclasses.replace(hw.offchip, bandwidth_bytes_per_cycle=1.0))
    search_conv(SEARCH_SHAPES[0], slower, "energy", cache)
    search_conv(dataclasses.replace(SEARCH_SHAPES[0], name="other"), hw, "edp", cache)
    assert (cache.hits, cache.misses) == (2, 1)


def _chooses_as_reference(shape: ConvShape, hw, objective: str, cache: TilingCache, where: object) -> None:  # noqa: ANN001
    """The cached search picks the reference search's schedule, or both find no tiling."""
    try:
        want = search_conv_reference(shape, hw, objective)
    except MappingError:
        with pytest.raises(MappingError):
            search_conv(shape, hw, objective, cache)
        return
    got = search_conv(shape, hw, objective, cache)
    assert matches(got, want), (where, got.tiling, want.tiling)


@pytest.mark.parametrize("objective", ["latency", "edp"])
def test_smaller_srams_filter_the_largest_table_exactly(objective: str) -> None:
    cache = TilingCache()
    for words in (1024, 512, 256, 128, 64):
        hw = make_hw(accumulators=16, words=words, ports="1rw1r", double=True)
        hw = dataclasses.replace(hw, sram=(dataclasses.replace(hw.main_sram, idle_energy_pj_per_cycle=0.3),))
        for shape in ORACLE_SHAPES:
            _chooses_as_reference(shape, hw, objective, cache, (words, shape))
    assert cache.derived > 0 and cache.misses == len(ORACLE_SHAPES)


@pytest.mark.parametrize("objective", ["latency", "energy", "edp"])
def test_tables_shared_by_burst_sizes_choose_as_the_reference(objective: str) -> None:
    """One build for several burst sizes (``TilingCache.burst_sizes``): each burst size's table is a superset of
    its own, and the choice, schedule and counts equal the plain exhaustive search for every burst size, also for
    smaller SRAMs filtered from the shared table."""
    src = Source("assumed", "test")
    cache = TilingCache()
    cache.burst_sizes = (0, 8, 32, 64)
    for words in (1024, 256, 64):
        hw = make_hw(accumulators=16, words=words, ports="1rw1r", double=True)
        hw = dataclasses.replace(hw, sram=(dataclasses.replace(hw.main_sram, idle_energy_pj_per_cycle=0.3),))
        for burst in cache.burst_sizes:
            off = OffchipMemory("o", "abstract", 1.0, 3, 10.0, 12.0, 1.0, src, burst_bytes=burst)
            h = dataclasses.replace(hw, offchip=off)
            for shape in ORACLE_SHAPES:
                _chooses_as_reference(shape, h, objective, cache, (words, burst, shape.name))
    assert cache.misses == len(ORACLE_SHAPES)  # one build per shape served all four burst sizes and the smaller SRAMs


def _table_arrays(table) -> dict:  # noqa: ANN001 - every array and number of a TilingTable, counts by name
    out = {f.name: getattr(table, f.name) for f in dataclasses.fields(table) if f.name != "counts"}
    return out | {f"counts.{k}": v for k, v in table.counts.items()}


def test_class_sums_split_by_tile_classes_change_no_table(monkeypatch) -> None:  # noqa: ANN001
    """Many candidates are split into parts by which dimensions have one tile class (``tiling_table.PART_MIN``);
    the tables, every array and its order, equal those of the candidates summed whole (also for extra bursts)."""
    import sramflow.mapping.search.tiling_table as cs

    for hw in points():
        for shape in SEARCH_SHAPES:
            hwp = hw_params(hw, shape)
            bursts_ = tuple(sorted({hwp.burst_bytes, 8, 64}))
            monkeypatch.setattr(cs, "PART_MIN", 1 << 40)
            whole = cs.tiling_tables(shape, hwp, bursts_)
            monkeypatch.setattr(cs, "PART_MIN", 1)
            parts = cs.tiling_tables(shape, hwp, bursts_)
            for b in bursts_:
                a, z = _table_arrays(whole[b]), _table_arrays(parts[b])
                assert list(a) == list(z), shape.name
                for k, v in a.items():
                    w = z[k]
                    assert type(v) is type(w) and np.array_equal(v, w) and np.asarray(v).dtype == np.asarray(w).dtype, \
                        (shape.name, b, k)


def test_tables_on_disk_equal_built_tables_and_are_shared(tmp_path) -> None:  # noqa: ANN001
    """A build is written once (``TableDisk``) and read back by another cache (another process or a later sweep)
    array for array, for every burst size of the build; an unreadable file is rebuilt; a killed writer's old
    temporary file is removed; a folder that cannot be written only loses the reuse."""
    import os

    import numpy as np

    from sramflow.mapping.search.table_store import TableDisk
    from sramflow.mapping.search.tiling_table import hw_params

    hw = make_hw(accumulators=16, words=512, ports="1rw1r", double=True)
    a, b = TilingCache(disk=TableDisk(tmp_path)), TilingCache(disk=TableDisk(tmp_path))
    a.burst_sizes = b.burst_sizes = (0, 16, 64)
    for shape in SEARCH_SHAPES:
        for burst in a.burst_sizes:
            hwp = dataclasses.replace(hw_params(hw, shape), burst_bytes=burst)
            want, got = a.get(shape, hwp), b.get(shape, hwp)
            for f in dataclasses.fields(want):
                x, y = getattr(want, f.name), getattr(got, f.name)
                if isinstance(x, dict):
                    assert x.keys() == y.keys() and all(type(x[k]) is type(y[k]) and np.array_equal(x[k], y[k])
                                                        for k in x), (shape.name, f.name)
                elif isinstance(x, np.ndarray):
                    assert x.dtype == y.dtype and np.array_equal(x, y), (shape.name, f.name)
                else:
                    assert x == y, (shape.name, f.name)
    assert (a.misses, a.loaded, b.misses, b.loaded) == (len(SEARCH_SHAPES), 0, 0, len(SEARCH_SHAPES))
    assert len(list(tmp_path.glob("*.tables"))) == len(SEARCH_SHAPES)
    for p in tmp_path.glob("*.tables"):
        p.write_bytes(p.read_bytes()[:100])  # truncated
    c = TilingCache(disk=TableDisk(tmp_path))
    hwp = hw_params(hw, SEARCH_SHAPES[0])
    assert c.get(SEARCH_SHAPES[0], hwp).rows == a.get(SEARCH_SHAPES[0], hwp).rows and (c.misses, c.loaded) == (1, 0)
    stale = tmp_path / ".x.tables.1.tmp"  # a writer killed long ago
    stale.write_bytes(b"x")
    os.utime(stale, (0, 0))
    c.disk.save(SEARCH_SHAPES[0], hwp, (hwp.burst_bytes,), {hwp.burst_bytes: a.get(SEARCH_SHAPES[0], hwp)})
    assert not stale.exists()
    blocked = tmp_path / "file"
    blocked.write_text("")
    d = TilingCache(disk=TableDisk(blocked / "tables"))
    assert d.get(SEARCH_SHAPES[0], hwp).rows == a.get(SEARCH_SHAPES[0], hwp).rows and d.misses == 1


def test_disk_and_memory_tables_keyed_by_input_registers(tmp_path) -> None:  # noqa: ANN001
    """Two hardware descriptions that differ only in ``mac_array.input_register_bytes`` never share a table."""
    from sramflow.mapping.conv import ConvShape
    from sramflow.mapping.search.table_store import TableDisk
    from sramflow.mapping.search.tiling_table import hw_params

    conv = ConvShape("c3", 1, 2, 2, 5, 5, 3, 3, 3, 3, 1, 1, 0, 0)
    p0, p16 = (hw_params(make_hw(input_registers=r), conv) for r in (0, 16))
    disk = TableDisk(tmp_path)
    assert disk.path(conv, p0, (0,)) != disk.path(conv, p16, (0,))
    cache = TilingCache(disk=disk)
    t0, t16 = cache.get(conv, p0), cache.get(conv, p16)
    assert cache.misses == 2 and len(list(tmp_path.glob("*.tables"))) == 2
    assert t0.counts["sram_reads_compute"].min() > t16.counts["sram_reads_compute"].min()
