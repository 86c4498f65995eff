"""Deployment figures: throughput, energy per inference, battery life, yearly extrapolation."""

from __future__ import annotations

from dataclasses import dataclass

HOURS_PER_YEAR = 8760.0


@dataclass(frozen=True)
class DeploymentConfig:
    battery_mah: float = 225.0  # a CR2032 coin cell
    battery_v: float = 3.0
    inferences_per_hour: float = 60.0
    idle_power_uw: float | None = None  # between inferences; None = the accelerator's standby from the simulation
    electricity_usd_per_kwh: float = 0.15  # assumed
    grid_g_co2_per_kwh: float = 400.0  # assumed, a typical grid mix
    devices: int = 1_000_000  # for the fleet-wide yearly extrapolation


@dataclass(frozen=True)
class DeploymentFigures:
    max_inferences_per_s: float
    energy_per_inference_mj: float
    average_power_uw: float
    battery_life_days: float
    fleet_kwh_per_year: float
    fleet_usd_per_year: float
    fleet_kg_co2_per_year: float


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
    return DeploymentFigures(
        max_inferences_per_s=1e3 / latency_ms,
        energy_per_inference_mj=energy_mj,
        average_power_uw=avg_uw,
        battery_life_days=life_s / 86400.0,
        fleet_kwh_per_year=kwh,
        fleet_usd_per_year=kwh * cfg.electricity_usd_per_kwh,
        fleet_kg_co2_per_year=kwh * cfg.grid_g_co2_per_kwh / 1e3,
    )
