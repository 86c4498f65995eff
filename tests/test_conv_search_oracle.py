"""The tiling search (``mapping.search.choose.search_conv``) against the independent oracle
(helpers/conv_search_reference.py: its own candidates, step-by-step counts and pricing), and the oracle's power to
fail: with one piece of the production counting perturbed, it disagrees."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Iterator

import pytest

from helpers.conv_search_reference import COUNT_FIELDS, ORACLE_SHAPES, matches, search_conv_reference, walk_counts
from helpers.mapping import SRC, make_hw
from sramflow.errors import MappingError
from sramflow.hw.spec import HardwareSpec, OffchipMemory, RegisterFile
from sramflow.mapping import conv
from sramflow.mapping.search import tiling_table
from sramflow.mapping.search.choose import make_conv_schedule, search_conv
from sramflow.mapping.search.table_cache import TilingCache
from sramflow.mapping.search.tiling_table import hw_params

OBJECTIVES = ("latency", "energy", "edp")


def _point(words: int, word_bits: int = 16, banks: int = 1, ports: str = "1rw", double: bool = False,
           accumulators: int = 16, input_registers: int = 16, register_lane_bytes: int = 0, idle_pj: float = 0.0,
           burst: int = 0, bandwidth: float = 2.0, latency: int = 0, clock_mhz: float = 100.0) -> HardwareSpec:
    hw = make_hw(accumulators=accumulators, words=words, ports=ports, double=double, input_registers=input_registers)
    sram = dataclasses.replace(hw.main_sram, word_bits=word_bits, banks=banks, idle_energy_pj_per_cycle=idle_pj)
    off = OffchipMemory("o", "abstract", bandwidth, latency, 10.0, 12.0, 1.0, SRC, burst_bytes=burst)
    rf = RegisterFile(register_lane_bytes, 0.25, SRC) if register_lane_bytes else None
    return dataclasses.replace(hw, sram=(sram,), offchip=off, register_file=rf, clock_mhz=clock_mhz)


# SRAM sizes from 32 to 512 words; 2- and 4-byte words; 1 or 2 banks; both port kinds; single and double buffering;
# 8 to 32 accumulators; input registers or none; a register file (whole input windows read once) or none; bursts;
# an idle energy above an access's (the search may not prune dominated rows there); two clocks (static energy)
ORACLE_POINTS = (
    _point(32, accumulators=8, input_registers=0),
    _point(64, word_bits=32, ports="1rw1r", double=True, burst=16, bandwidth=0.5, latency=3, idle_pj=0.3),
    _point(128, banks=2, double=True, register_lane_bytes=2, burst=32, latency=2, clock_mhz=50.0),
    _point(512, word_bits=32, ports="1rw1r", double=True, accumulators=32, idle_pj=2.0, bandwidth=1.0, latency=5),
)


def _cases(points: tuple[HardwareSpec, ...], objectives: tuple[str, ...]) -> Iterator[tuple]:
    return itertools.product(points, ORACLE_SHAPES, objectives)


def _disagreements(points: tuple[HardwareSpec, ...], objectives: tuple[str, ...]) -> list[tuple[str, str, str]]:
    """The (hardware, layer, objective) cases where the search's choice, counts or buffers differ from the oracle's
    (a fresh tiling cache: nothing built before counts)."""
    cache, out = TilingCache(), []
    for hw, shape, objective in _cases(points, objectives):
        try:
            want = search_conv_reference(shape, hw, objective)
        except MappingError:
            want = None
        try:
            got = search_conv(shape, hw, objective, cache)
        except MappingError:
            got = None
        if (got is None) != (want is None) or (got is not None and not matches(got, want)):
            out.append((f"{hw.main_sram.total_words} words", shape.name, objective))
    return out


def test_search_chooses_the_oracles_schedule() -> None:
    assert _disagreements(ORACLE_POINTS, OBJECTIVES) == []


def test_the_oracle_imports_no_counting_or_pricing_code() -> None:
    """It may take data types from sramflow, nothing that counts, chooses or prices."""
    import ast
    from pathlib import Path

    tree = ast.parse((Path(__file__).parent / "helpers" / "conv_search_reference.py").read_text())
    imported = {(node.module, a.name) for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
                and (node.module or "").startswith("sramflow") for a in node.names}
    imported |= {(a.name, "") for node in ast.walk(tree) if isinstance(node, ast.Import) for a in node.names
                 if a.name.startswith("sramflow")}
    assert imported == {("sramflow.errors", "MappingError"), ("sramflow.hw.spec", "HardwareSpec"),
                        ("sramflow.mapping.conv", "ConvShape"), ("sramflow.mapping.conv", "ConvTiling")}


def test_the_shapes_and_points_exercise_what_they_should() -> None:
    # the oracle's layers and hardware reach every kind of schedule: a layer that fits no SRAM point is
    # not checked, and a set where no chosen schedule spills, keeps partial sums or groups rows checks less
    chosen = [search_conv_reference(s, hw, o) for hw, s, o in _cases(ORACLE_POINTS, ("latency", "energy"))]
    tilings = [c.tiling for c in chosen]
    assert any(t.acc_k for t in tilings) and any(t.acc_h for t in tilings)
    assert any(t.double_buffered for t in tilings) and not all(t.double_buffered for t in tilings)
    assert any(c.counts["offchip_psum_read_bytes"] for c in chosen)
    assert any(c.counts["vector_ops"] for c in chosen)


def test_the_oracles_counts_equal_the_closed_form_on_every_tiling() -> None:
    """Not only the chosen ones: every tiling (tile sizes, loop order, accumulator groups) of the small layers,
    counted step by step, equals ``ConvSchedule.counts`` (on an SRAM large enough for all of them)."""
    hw = _point(1 << 14, banks=1, register_lane_bytes=2, burst=16)
    compared = 0
    for shape in ORACLE_SHAPES:
        hwp = hw_params(hw, shape)
        table = tiling_table.tiling_table(shape, hwp, prune=False)
        for i in range(0, table.rows, 3):
            sizes = dict(zip("gkchw", (int(v) for v in table.sizes[i])))
            sch = make_conv_schedule(shape, hwp, sizes, table.orders[int(table.order_index[i])], False,
                                     int(table.group_k[i]), int(table.group_h[i]))
            counts, words = walk_counts(shape, hw, sch.tiling)
            assert {f: getattr(sch.counts, f) for f in COUNT_FIELDS} == counts, (shape.name, sch.tiling)
            assert {b.operand: b.size_words for b in sch.buffers} == words, (shape.name, sch.tiling)
            compared += 1
    assert compared > 500


@pytest.fixture
def fresh_counts() -> Iterator[None]:
    """Closed-form counts memoized before or during a perturbation are dropped, so none outlives it."""
    conv.schedule_counts.cache_clear()
    yield
    conv.schedule_counts.cache_clear()


def _halve_accumulator_groups(monkeypatch: pytest.MonkeyPatch) -> None:
    real = tiling_table.acc_groups
    monkeypatch.setattr(tiling_table, "acc_groups",
                        lambda t, hwp, shape: tuple((g + 1) // 2 for g in real(t, hwp, shape)))


def _one_more_weight_load_byte(monkeypatch: pytest.MonkeyPatch) -> None:
    real = conv.step_sizes

    def step_sizes(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        q = dict(real(*args, **kwargs))
        q["w_bytes"] = q["w_bytes"] + (q["w_bytes"] > 0)
        return q

    monkeypatch.setattr(conv, "step_sizes", step_sizes)  # the closed forms (``class_sums``)
    monkeypatch.setattr(tiling_table, "step_sizes", step_sizes)  # the search's tables


def _never_spill(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(conv, "spills", lambda order, n: n["c"] < 0)


def _bias_reloaded_once_per_reduction_step(monkeypatch: pytest.MonkeyPatch) -> None:
    real = conv.reload_factor
    monkeypatch.setattr(conv, "reload_factor", lambda order, relevant, n: real(order, relevant, n)
                        * (n["c"] if relevant == conv.RELEVANT["bias"] else 1))


@pytest.mark.parametrize("perturb", [_halve_accumulator_groups, _one_more_weight_load_byte, _never_spill,
                                     _bias_reloaded_once_per_reduction_step])
def test_the_oracle_disagrees_with_a_perturbed_count(perturb, monkeypatch: pytest.MonkeyPatch,  # noqa: ANN001
                                                     fresh_counts: None) -> None:
    perturb(monkeypatch)
    assert _disagreements(ORACLE_POINTS[:2], ("energy",))
