"""The 130 nm area / static-power model: every figure sourced, banks built from macros on file."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sramflow.errors import HardwareSpecError
from sramflow.hw import area
from sramflow.hw.load import resolve_hw

SHARED_SRAM = Path(__file__).resolve().parents[1].parent / "shared" / "sram"


def test_every_figure_has_provenance_and_ranges_for_estimates() -> None:
    for name, fig in area.figures().items():
        assert fig.source.ref.strip(), name
        assert fig.unit, name
        if fig.source.kind in ("assumed", "scaled"):
            assert fig.source.low is not None and fig.source.low <= fig.value <= fig.source.high, name
        assert fig.as_dict()["kind"] == fig.source.kind


@pytest.mark.skipif(not SHARED_SRAM.is_dir(), reason="../shared/sram not on this machine")
def test_macro_areas_match_the_files_on_file() -> None:
    for m in area.SKY130_MACROS:
        path = SHARED_SRAM / m.area_um2.source.ref.split(": ")[0].removeprefix("../shared/sram/")
        found = [float(x) for x in re.findall(r"^\s*area\s*:\s*([0-9.]+)", path.read_text(), re.M)]
        assert any(abs(x - m.area_um2.value) < 1e-3 for x in found), (m.name, found)


def test_bank_plan_uses_whole_macros_and_overhead_only_when_banked() -> None:
    m = area.SKY130_MACROS[2]  # 2 KB
    one = area.bank_plan(2048, m)
    assert one.macros == 1 and one.area_um2 == pytest.approx(m.area_um2.value)
    big = area.bank_plan(8 * 1024 * 1024, m)
    assert big.macros == 4096 and big.size_bytes == 8 * 1024 * 1024
    assert big.area_um2 == pytest.approx(4096 * m.area_um2.value * (1 + area.BANK_OVERHEAD.value))
    assert area.bank_plan(2049, m).macros == 2
    with pytest.raises(HardwareSpecError):
        area.bank_plan(0, m)


def test_design1_area_is_sram_macro_plus_logic_by_hand() -> None:
    spec = resolve_hw("sky130-design1")
    ap = area.area_power(spec)
    assert ap.sram_mm2[0] == pytest.approx(spec.sram[0].area_um2 * spec.sram[0].banks / 1e6 *
                                          (1 + (area.BANK_OVERHEAD.value if spec.sram[0].banks > 1 else 0)))
    assert ap.mac_array_mm2 == pytest.approx(16 * area.MAC_AREA_UM2.value / area.UTILIZATION.value / 1e6)
    assert ap.total_mm2 == pytest.approx(sum(ap.sram_mm2) + ap.logic_mm2)
    assert ap.static_power_uw > ap.sram_leakage_uw > 0
