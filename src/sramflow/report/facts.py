"""The comparison rows every report shows, computed once from the run's JSON artifacts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sramflow.report.claims import CLAIMS
from sramflow.report.deployment import DeploymentConfig, DeploymentFigures, deployment_figures


@dataclass(frozen=True)
class ClaimRow:
    item: str
    claimed: str
    measured: str  # on the hardware of the run
    claimed_macro: str  # the same schedule priced with the write-up's claimed SRAM figures
    note: str


def _ms(cycles: float, clock_mhz: float) -> float:
    return cycles / (clock_mhz * 1e3)


def busy_ms(sim: dict[str, Any], resource: str) -> float:
    """Sum over layers of the cycles a resource is busy, in ms (resources overlap within a layer)."""
    return _ms(sum(n["busy_cycles"].get(resource, 0) for n in sim["nodes"]), sim["clock_mhz"])


def deployment(sim: dict[str, Any], cfg: DeploymentConfig, idle_uw: float) -> DeploymentFigures:
    t = sim["total"]
    return deployment_figures(t["time_ms"], t["energy_uj"] * 1e-3, idle_uw, cfg)


def claim_rows(a: dict[str, Any], cfg: DeploymentConfig, idle_uw: float) -> list[ClaimRow]:
    sim, cl = a["simulation"], a["claimed"]
    t, tc = sim["total"], cl["total"]
    c = CLAIMS
    rows = [
        ClaimRow("latency per inference", f"{c.latency_ms} ms", f"{t['time_ms']:.1f} ms", f"{tc['time_ms']:.1f} ms",
                 "cycles of the binding resource of each layer, summed"),
        ClaimRow("SRAM reads", f"{c.sram_read_ms} ms", f"{busy_ms(sim, 'sram_port'):.1f} ms (port busy)",
                 f"{busy_ms(cl, 'sram_port'):.1f} ms", "every SRAM access through the port, DMA fills included"),
        ClaimRow("compute", f"{c.compute_ms} ms", f"{busy_ms(sim, 'mac') + busy_ms(sim, 'vector'):.1f} ms (MAC + vector busy)",
                 f"{busy_ms(cl, 'mac') + busy_ms(cl, 'vector'):.1f} ms",
                 f"{t['macs']:,} MACs on the described MAC array; the claim needs ~1000 MACs/cycle"),
        ClaimRow("swaps / off-chip transfers", f"{c.swap_ms} ms", f"{busy_ms(sim, 'offchip'):.1f} ms (link busy)",
                 f"{busy_ms(cl, 'offchip'):.1f} ms",
                 f"{sum(t['offchip_bytes'].values()) / 1e6:.1f} MB moved (weights, activations, partial sums)"),
        ClaimRow("average power", f"{c.power_mw} mW", f"{t['avg_power_mw']:.1f} mW", f"{tc['avg_power_mw']:.1f} mW",
                 "energy / latency, off-chip memory included"),
        ClaimRow("energy per inference", f"{c.energy_mj} mJ", f"{t['energy_uj'] / 1e3:.2f} mJ",
                 f"{tc['energy_uj'] / 1e3:.2f} mJ", "counts x per-access energies + leakage x time"),
    ]
    host = (a.get("baselines") or {}).get("host")
    if host:
        ratio = host["timing_ms_median"] / t["time_ms"]
        versus = (f"{ratio:.3g}x faster than" if ratio >= 1 else f"{1 / ratio:,.0f}x slower than")
        rows.append(ClaimRow("speed-up vs CPU", f"{c.speedup_vs_cpu}x (CPU {c.cpu_latency_ms} ms)",
                             f"{versus} this host's LiteRT int8 ({host['timing_ms_median']:.1f} ms)", "-",
                             "host CPU is context only: a desktop core, not an embedded CPU"))
    acc = a.get("accuracy")
    if acc:
        f, i = acc["float"], acc["int8"] or {}
        rows.append(ClaimRow("accuracy float / INT8", f"{c.float_accuracy_pct}% / {c.int8_accuracy_pct}%",
                             f"{100 * f['accuracy']:.2f}% / {100 * i.get('accuracy', float('nan')):.2f}% "
                             f"(balanced {f['balanced_accuracy']:.3f} / {i.get('balanced_accuracy', float('nan')):.3f})",
                             "-", f"{acc['n_images']} images, {acc['split']} split, lesion-grouped"))
    ours = deployment(sim, cfg, idle_uw)
    claimed_e = CLAIMS.energy_mj
    claimed_avg_uw = claimed_e * 1e3 * cfg.inferences_per_hour / 3600 + CLAIMS.sram_standby_mw * 1e3
    claimed_kwh = claimed_avg_uw * 1e-6 * 8760 / 1e3 * cfg.devices
    rows.append(ClaimRow(
        f"yearly energy, {cfg.devices:,} devices at {cfg.inferences_per_hour:g} inferences/h",
        f"{claimed_kwh:,.1f} kWh (from the claims: 0.45 mJ + 2.3 mW standby)",
        f"{ours.fleet_kwh_per_year:,.1f} kWh, ${ours.fleet_usd_per_year:,.0f}, {ours.fleet_kg_co2_per_year:,.0f} kg CO2",
        "-", f"assumed ${cfg.electricity_usd_per_kwh}/kWh and {cfg.grid_g_co2_per_kwh:g} g CO2/kWh"))
    return rows
