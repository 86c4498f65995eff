"""Claims arithmetic, MCU baselines and deployment figures, checked by hand."""

from __future__ import annotations

import pytest

from sramflow.report.baselines import MCUS, estimate_mcu
from sramflow.report.claims import check_claims
from sramflow.report.deployment import DeploymentConfig, deployment_figures
from sramflow.report.html import Image, Section, Table, render_page


def test_claims_arithmetic() -> None:
    checks = {c.claim.split(" ")[0]: c for c in check_claims()}
    first = check_claims()[0]
    assert "995 MACs every cycle" in first.implied  # 388e6 / 3.9e-3 s / 100e6 Hz
    sums = check_claims()[1]
    assert "36.59" in sums.implied and sums.verdict == "adds up"
    energy = check_claims()[2]
    assert "0.454" in energy.implied and energy.verdict == "consistent"
    assert len(checks) == len(check_claims()) >= 3  # one row per claim, claims told apart by their first word


def test_mcu_estimate_by_hand() -> None:
    m7 = next(m for m in MCUS if "CMSIS" in m.name)
    est = estimate_mcu(m7, 384_543_712, weight_bytes=4_086_572, peak_activation_bytes=1_500_000)
    assert est.latency_ms == pytest.approx(384_543_712 * 4.6 / 480e6 * 1e3)
    assert est.energy_mj == pytest.approx(160.6 * est.latency_ms / 1e3)
    assert not est.weights_fit_flash and not est.activations_fit_sram
    m4 = MCUS[0]
    assert m4.cycles_per_mac == pytest.approx(2.17728)  # 226.8 ms x 120 MHz / 12.5 M MACs, worked by hand


def test_deployment_by_hand() -> None:
    cfg = DeploymentConfig(battery_mah=1000, battery_v=3.0, inferences_per_hour=3600, idle_power_uw=10.0)
    f = deployment_figures(latency_ms=100.0, energy_mj=2.0, standby_uw=0.0, cfg=cfg)
    assert f.max_inferences_per_s == pytest.approx(10.0)
    # 1 inference/s x 2 mJ = 2000 uW, plus 10 uW idle for the 90% of time not busy
    assert f.average_power_uw == pytest.approx(2000 + 9.0)
    assert f.battery_life_days == pytest.approx(1000 * 3.6 * 3.0 / 2009e-6 / 86400)


def test_page_is_self_contained() -> None:
    page = render_page("t", [("latency", "1 ms")], [Section("s", ["p<"], [Table(["a"], [[1]]), Image(b"\x89PNG", "x")])], "f")
    assert "data:image/png;base64," in page and "p&lt;" in page and "http" not in page
