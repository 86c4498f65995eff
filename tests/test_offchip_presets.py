"""Off-chip presets: every figure names its source; every assumed one states a range that holds its value."""

from __future__ import annotations

import pytest

from sramflow.errors import HardwareSpecError
from sramflow.hw.load import hw_from_dict, hw_to_dict, list_offchip_presets, offchip_preset, resolve_hw
from sramflow.hw.report import sram_info_text

NUMERIC = ("bandwidth_bytes_per_cycle", "latency_cycles", "burst_bytes", "read_energy_pj_per_byte",
           "write_energy_pj_per_byte", "standby_power_uw")
GROUNDED = ("qspi-psram", "qspi-flash", "lpddr4")  # zigzag-offchip copies an anchor's abstract memory


@pytest.mark.parametrize("name", GROUNDED)
def test_assumed_figures_state_a_range_around_their_value(name: str) -> None:
    off = offchip_preset(name)
    for f in NUMERIC:
        src = off.source_of(f)
        if src.kind == "assumed":
            assert src.low is not None and src.high is not None, f"{name}.{f} is assumed without a range"
            assert src.low <= getattr(off, f) <= src.high, f"{name}.{f} lies outside its own range"


def test_psram_names_its_datasheet_and_the_controller_side() -> None:
    off = offchip_preset("qspi-psram")
    assert "APS6404L-3SQR" in off.source.ref and "Rev. 2.3" in off.source.ref
    energy = off.source_of("read_energy_pj_per_byte").ref
    assert "nRF5340" in energy and "276.9" in energy  # the controller's share, derived in the text
    # memory 10 mA x 3.3 V / 52 MB/s + controller 4.43 mA x 3.0 V / 48 MB/s, as the provenance derives it
    assert off.read_energy_pj_per_byte == pytest.approx(10e-3 * 3.3 / 52e6 * 1e12 + 4.43e-3 * 3.0 / 48e6 * 1e12,
                                                        abs=0.1)
    assert off.standby_power_uw == pytest.approx(140 * 3.3 + 45 * 3.0)


def test_sram_info_labels_each_offchip_figure_with_its_own_kind() -> None:
    text = sram_info_text(resolve_hw("sky130-design1"))
    energy_line = next(l for l in text.splitlines() if l.strip().startswith("read_energy_pj_per_byte"))
    assert "[assumed]" in energy_line and "range 594.2-1546.1" in energy_line
    bw_line = next(l for l in text.splitlines() if l.strip().startswith("bandwidth_bytes_per_cycle"))
    assert "[published]" in bw_line


def _spec(source: dict) -> dict:
    d = hw_to_dict(resolve_hw("sky130-design1"))
    d["offchip"] = {**d["offchip"], "field_sources": {"latency_cycles": source}}
    return d


def test_a_range_round_trips_through_the_plain_dict() -> None:
    spec = hw_from_dict(_spec({"kind": "assumed", "ref": "guess", "low": 10, "high": 30}))
    assert spec.offchip.source_of("latency_cycles").high == 30.0
    assert hw_from_dict(hw_to_dict(spec)) == spec


@pytest.mark.parametrize(("source", "message"), [
    ({"kind": "assumed", "ref": "guess", "low": 10}, "needs both low and high"),
    ({"kind": "assumed", "ref": "guess", "low": 30, "high": 10}, "must not exceed high"),
    ({"kind": "assumed", "ref": "guess", "low": -1, "high": 10}, "must not be negative"),
])
def test_a_bad_range_is_named(source: dict, message: str) -> None:
    with pytest.raises(HardwareSpecError, match=message) as exc:
        hw_from_dict(_spec(source), "x.yaml")
    assert "offchip.field_sources.latency_cycles" in str(exc.value)


def test_every_offchip_preset_loads() -> None:
    assert set(GROUNDED) <= set(list_offchip_presets())


def test_lpddr4_is_the_memspecs_device_energy_and_says_what_it_leaves_out() -> None:
    off = offchip_preset("lpddr4")
    assert "MICRON_6Gb_LPDDR4-3200_32bit_A" in off.source.ref and "controller and PHY" in off.source.ref
    # Micron's IDD method on the memspec's currents (mA) and timings (tCK 0.625 ns), as the provenance derives it
    tck, rc, ras = 0.625, 97, 68
    act_pj = sum(v * (i0 * rc - i3n * ras - i2n * (rc - ras)) * tck for v, i0, i3n, i2n in
                 ((1.8, 3.5, 2.25, 2.0), (1.1, 45.0, 30.0, 27.0), (1.1, 0.75, 0.75, 0.75)))
    read = ((275 - 30) * 1.1 + (150 - 0.75) * 1.1) / 6.4  # mW / (GB/s) = pJ per byte
    write = ((210 - 30) * 1.1 + (55 - 0.75) * 1.1) / 6.4
    assert off.read_energy_pj_per_byte == pytest.approx(read + act_pj / 2048, abs=0.01)
    assert off.write_energy_pj_per_byte == pytest.approx(write + act_pj / 2048, abs=0.01)
    assert off.source_of("read_energy_pj_per_byte").high == pytest.approx(read + act_pj / 32, abs=0.01)
    assert off.standby_power_uw == pytest.approx((1.2 * 1.8 + 3.0 * 1.1 + 0.75 * 1.1) * 1000)


def test_flash_names_its_dc_table() -> None:
    off = offchip_preset("qspi-flash")
    assert "MC25VF256" in off.source.ref
    assert "IDDR2" in off.source_of("read_energy_pj_per_byte").ref
    assert off.read_energy_pj_per_byte == pytest.approx(25e-3 * 3.3 / 40e6 * 1e12 + 4.43e-3 * 3.0 / 48e6 * 1e12,
                                                        abs=0.1)
    assert off.standby_power_uw == pytest.approx(30 * 3.3 + 45 * 3.0)
