"""Deployment figures: throughput, energy per inference, battery life, yearly extrapolation."""

from __future__ import annotations

from dataclasses import dataclass

HOURS_PER_YEAR = 8760.0


@dataclass(frozen=True)
class DeploymentConfig:
    battery_mah: float = 225.0  # a CR2032 coin cell
    battery_v: float = 3.0
    # The current the cell is rated to deliver. A CR2032 is rated for ~0.2 mA standard discharge (vendor listings,
    # e.g. EEMB CR2032 240 mAh "rated current 0.2 mA"); pulses of a few mA cost much of its capacity.
    battery_max_ma: float = 0.2
    battery_name: str = "CR2032 coin cell"
    inferences_per_hour: float = 60.0
    idle_power_uw: float | None = None  # between inferences; None = the accelerator's standby from the simulation
    electricity_usd_per_kwh: float = 0.15  # assumed
    grid_g_co2_per_kwh: float = 400.0  # assumed, a typical grid mix
    devices: int = 1_000_000  # for the fleet-wide yearly extrapolation


# A Li-ion pouch of 1000 mAh is rated for about 1C continuous discharge (assumed, typical of such cells).
POUCH_MAH, POUCH_V, POUCH_MAX_MA = 1000.0, 3.7, 1000.0


@dataclass(frozen=True)
class DeploymentFigures:
    max_inferences_per_s: float
    energy_per_inference_mj: float
    average_power_uw: float
    battery_life_days: float
    peak_current_ma: float  # drawn from the battery while an inference runs (no regulator losses counted)
    battery_can_deliver: bool  # peak current within the cell's rating
    fleet_kwh_per_year: float
    fleet_usd_per_year: float
    fleet_kg_co2_per_year: float


def battery_sentence(d: DeploymentFigures, cfg: DeploymentConfig) -> str:
    """Whether the chosen cell can power the run, and what could when it cannot."""
    need = f"an inference draws {d.peak_current_ma:.3g} mA from the {cfg.battery_v:g} V {cfg.battery_name}"
    if d.battery_can_deliver:
        return f"{need}, within its {cfg.battery_max_ma:g} mA rating"
    return (f"{need}, above its {cfg.battery_max_ma:g} mA rating: the cell cannot deliver it, so its life figure does "
            f"not hold; a {POUCH_MAH:g} mAh {POUCH_V:g} V Li-ion pouch (about {POUCH_MAX_MA:g} mA at 1C, assumed) "
            "could (set --battery-mah, --battery-v, --battery-max-ma)")


def deployment_figures(latency_ms: float, energy_mj: float, standby_uw: float, cfg: DeploymentConfig) -> DeploymentFigures:
    if latency_ms <= 0:
        raise ValueError("latency must be positive")
    rate_per_s = cfg.inferences_per_hour / 3600.0
    idle_uw = standby_uw if cfg.idle_power_uw is None else cfg.idle_power_uw
    busy_fraction = min(1.0, rate_per_s * latency_ms * 1e-3)
    avg_uw = energy_mj * 1e3 * rate_per_s + idle_uw * (1.0 - busy_fraction)
    battery_j = cfg.battery_mah * 3.6 * cfg.battery_v
    life_s = battery_j / (avg_uw * 1e-6) if avg_uw > 0 else float("inf")
    kwh = avg_uw * 1e-6 * HOURS_PER_YEAR / 1e3 * cfg.devices
    peak_ma = energy_mj / latency_ms * 1e3 / cfg.battery_v  # mW / V = mA
    return DeploymentFigures(
        max_inferences_per_s=1e3 / latency_ms,
        energy_per_inference_mj=energy_mj,
        average_power_uw=avg_uw,
        battery_life_days=life_s / 86400.0,
        peak_current_ma=peak_ma,
        battery_can_deliver=peak_ma <= cfg.battery_max_ma,
        fleet_kwh_per_year=kwh,
        fleet_usd_per_year=kwh * cfg.electricity_usd_per_kwh,
        fleet_kg_co2_per_year=kwh * cfg.grid_g_co2_per_kwh / 1e3,
    )
