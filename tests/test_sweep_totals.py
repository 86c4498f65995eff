"""The sweep's lean path ``sim.api.simulate_totals`` returns exactly ``total_json`` of ``simulate_prepared``
(every key, floats bit for bit), on a tiny network and on EfficientNet-B0 @224."""

from __future__ import annotations


import pytest

from sramflow.errors import MappingError
from sramflow.hw.load import resolve_hw
from sramflow.sim.api import prepare_graph, simulate_prepared, simulate_totals
from sramflow.sim.results import total_json
from sramflow.sweep.hwpoint import point_hw
from sramflow.sweep.precision import with_weight_bits
from helpers.tiny_onnx import tiny_onnx_graph

POINTS = (
    {},
    {"sram_words": 64, "sram_word_bits": 8, "sram_ports": "1rw1r", "offchip": "lpddr4", "clock_mhz": 50},
    {"sram_words": 512, "sram_word_bits": 32, "sram_banks": 2, "macs_per_cycle": 32, "offchip": "zigzag-offchip"},
    {"sram_words": 256, "sram_word_bits": 16, "macs_per_cycle": 4, "offchip": "qspi-psram"},
)


def _check(prep, objective: str) -> int:  # noqa: ANN001
    base = resolve_hw("sky130-design1")
    checked = 0
    for p in POINTS:
        hw = point_hw(base, p).hw
        try:
            want = total_json(list(simulate_prepared(prep, hw, objective).nodes), hw.clock_mhz)
        except MappingError as exc:
            with pytest.raises(MappingError, match=str(exc)[:40]):
                simulate_totals(prep, hw, objective)
            continue
        assert simulate_totals(prep, hw, objective) == want, p
        checked += 1
    return checked


@pytest.mark.parametrize("objective", ["latency", "energy", "edp"])
def test_totals_equal_simulate_prepared_tiny(tmp_path, objective: str) -> None:  # noqa: ANN001
    prep = prepare_graph(tiny_onnx_graph(tmp_path))
    assert _check(prep, objective) > 0
    assert _check(with_weight_bits(prep, 4), objective) > 0


@pytest.mark.slow
@pytest.mark.parametrize("objective", ["latency", "edp"])
def test_totals_equal_simulate_prepared_b0(b0_graph_224, objective: str) -> None:  # noqa: ANN001
    assert _check(prepare_graph(b0_graph_224), objective) > 0


def test_totals_with_shared_burst_tables_equal_fresh_tables(tmp_path) -> None:  # noqa: ANN001
    """Tables built for several burst sizes at once give the same totals as tables built per burst size."""
    from sramflow.mapping.search.plan import PlanCache
    from sramflow.mapping.search.table_cache import TilingCache

    prep = prepare_graph(tiny_onnx_graph(tmp_path))
    base = resolve_hw("sky130-design1")
    hws = [point_hw(base, {"sram_words": w, "offchip": o}).hw
           for w in (1024, 256) for o in ("qspi-psram", "lpddr4", "zigzag-offchip")]
    want = [simulate_totals(prep, hw, "energy", PlanCache(TilingCache())) for hw in hws]
    cache = TilingCache()
    cache.burst_sizes = tuple(sorted({h.offchip.burst_bytes for h in hws}))
    assert len(cache.burst_sizes) == 3
    plans = PlanCache(cache)
    assert [simulate_totals(prep, hw, "energy", plans) for hw in hws] == want
    assert cache.misses == 4  # the four Conv/Gemm shapes, once for all burst sizes and both SRAM sizes
