"""Batches keep each tiling group (equal tiling numbers but the SRAM size) on one worker, so its tables are
built once per sweep; small groups are packed, a large one is split only beyond the cap."""

from __future__ import annotations

import itertools

from sramflow.hw.load import resolve_hw
from sramflow.sweep import run as R
from sramflow.sweep.space import expand, space_from_dict


def _tasks(raw: dict) -> list:
    space = space_from_dict(raw)
    return sorted(R.make_tasks(expand(space), resolve_hw(space.base), {}, "latency"), key=R._reuse_order)


def _group(t) -> tuple:  # noqa: ANN001
    return R._tiling_group(t)


def test_each_tiling_group_is_in_one_batch() -> None:
    tasks = _tasks({"sram_words": [128, 256, 512], "sram_word_bits": [16, 32], "sram_banks": [1, 2],
                    "macs_per_cycle": [8, 16], "clock_mhz": [50, 100]})
    batches = R._batches(tasks, 2)
    assert [t.key for b in batches for t in b] == [t.key for t in tasks]  # order and every point kept
    where = {}
    for i, b in enumerate(batches):
        for t in b:
            where.setdefault(_group(t), set()).add(i)
    assert len(where) == 4 and all(len(v) == 1 for v in where.values())


def test_a_group_larger_than_the_cap_is_split(monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setattr(R, "GROUP_BATCH_CAP", 5)
    tasks = _tasks({"sram_words": [128, 256, 512], "sram_banks": [1, 2], "clock_mhz": [50, 100]})
    assert len({_group(t) for t in tasks}) == 1
    batches = R._batches(tasks, 2)
    assert [len(b) for b in batches] == [5, 5, 2]
    assert list(itertools.chain(*batches)) == tasks


def test_a_group_spans_its_burst_sizes_and_each_task_knows_them() -> None:
    tasks = R._with_group_bursts(_tasks({"sram_words": [128, 256], "macs_per_cycle": [8, 16],
                                          "offchip": ["qspi-psram", "lpddr4"]}))
    assert len({_group(t) for t in tasks}) == 2
    sizes = {t.hw.offchip.burst_bytes for t in tasks}
    assert len(sizes) == 2 and all(t.burst_sizes == tuple(sorted(sizes)) for t in tasks)
    batches = R._batches(tasks, 2)
    assert all(len({_group(t) for t in b}) == 1 for b in batches)


def test_groups_with_the_largest_tables_run_first() -> None:
    """Longest first: the group with the most SRAM bytes x accumulators starts first; groups stay contiguous and
    keep the reuse order inside (largest SRAM first)."""
    tasks = R._evaluation_order(_tasks({"sram_words": [128, 512], "sram_word_bits": [16, 32],
                                        "macs_per_cycle": [8, 16], "clock_mhz": [50, 100]}))
    groups = [g for g, _ in itertools.groupby(tasks, key=_group)]
    assert len(groups) == len(set(groups)) == 4
    assert groups[0][:2] == (32, 16) and groups[-1][:2] == (16, 8)
    for _, grp in itertools.groupby(tasks, key=_group):
        g = list(grp)
        assert g == sorted(g, key=R._reuse_order)
