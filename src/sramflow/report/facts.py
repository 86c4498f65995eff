"""The comparison rows every report shows, computed once from the run's results."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sramflow.report.claims import CLAIMS, RunContext
from sramflow.report.deployment import DeploymentConfig, DeploymentFigures, deployment_figures
from sramflow.report.inputs import ReportInputs

# A vendor-characterized macro of the claimed size to hold the write-up's standby figure against.
REFERENCE_PRESET = "ihp130-2p256x8"


@dataclass(frozen=True)
class ClaimRow:
    item: str
    claimed: str
    this_run: str  # on the hardware of the run
    claimed_macro: str  # the same schedule priced with the write-up's claimed SRAM figures
    how: str  # "modelled: ..." or "measured: ..."


def _ms(cycles: float, clock_mhz: float) -> float:
    return cycles / (clock_mhz * 1e3)


def busy_ms(sim: Mapping[str, Any], resource: str) -> float:
    """Sum over layers of the cycles a resource is busy, in ms (resources overlap within a layer)."""
    return _ms(sum(n["busy_cycles"].get(resource, 0) for n in sim["nodes"]), sim["clock_mhz"])


def read_ms(total: Mapping[str, Any], clock_mhz: float, read_ports: int) -> float:
    """SRAM reads alone, one word per read port per cycle: what the write-up's 'SRAM reads' time describes."""
    return _ms(total["sram_reads"] / read_ports, clock_mhz)


def deployment(a: ReportInputs, cfg: DeploymentConfig) -> DeploymentFigures:
    t = a.simulation["total"]
    return deployment_figures(t["time_ms"], t["energy_uj"] * 1e-3, a.idle_power_uw, cfg)


def run_context(a: ReportInputs) -> RunContext:
    from sramflow.hw.load import resolve_hw

    ref = resolve_hw(REFERENCE_PRESET).main_sram
    m, hw = a.analysis, a.hw
    return RunContext(
        model=m["model"], resolution=m["resolution"], int8_weight_bytes=m["int8_bytes"],
        peak_activation_bytes=m["peak_activation_bytes_int8_fused"], port_word_bits=hw.main_sram.word_bits,
        clock_mhz=hw.clock_mhz, macs_per_cycle=hw.mac_array.macs_per_cycle,
        energy_pj_per_mac=hw.mac_array.energy_pj_per_mac, reference_macro=f"{ref.name} ({REFERENCE_PRESET})",
        reference_leakage_uw=ref.leakage_uw * ref.banks, reference_leakage_kind=ref.source_of("leakage_uw").kind)


def accuracy_row(a: ReportInputs) -> ClaimRow:
    """Accuracy is always on the page: measured with --data, else the checkpoint's figures on file."""
    c = CLAIMS
    claimed = f"{c.float_accuracy_pct}% / {c.int8_accuracy_pct}%"
    acc = a.accuracy
    if acc:
        f, i = acc["float"], acc.get("int8") or {}
        return ClaimRow("accuracy float / INT8", claimed,
                        f"{100 * f['accuracy']:.2f}% / {100 * i.get('accuracy', float('nan')):.2f}% "
                        f"(balanced {f['balanced_accuracy']:.3f} / {i.get('balanced_accuracy', float('nan')):.3f})",
                        "-", f"measured: {acc['n_images']} images, {acc['split']} split, at {a.analysis['resolution']} px")
    ck = a.checkpoint
    if ck is None:
        return ClaimRow("accuracy float / INT8", claimed, "not measured (no --data, no metrics file on file)", "-",
                        "the run's own accuracy needs --data (a HAM10000 folder)")
    lo, hi = ck.float_interval
    res = f"trained and evaluated at {ck.trained_resolution} px" if ck.trained_resolution else "resolution not stated"
    return ClaimRow("accuracy float / INT8", claimed,
                    f"{100 * ck.float_accuracy:.1f}% / {100 * ck.int8_accuracy:.1f}% (balanced {ck.float_balanced:.3f}"
                    f" / {ck.int8_balanced:.3f}; float {100 * lo:.1f}-{100 * hi:.1f}%)", "-",
                    f"on file: the shipped checkpoint's {ck.split} split, {ck.n_images:,} images, {res} "
                    f"({ck.metrics_file}; {ck.interval_note})"
                    + (f"; its recipe {ck.out_of_fold.text()}" if ck.out_of_fold else "")
                    + "; not measured by this run: that needs --data")


def claim_rows(a: ReportInputs, cfg: DeploymentConfig) -> list[ClaimRow]:
    sim, cl = a.simulation, a.claimed
    t, tc = sim["total"], cl["total"]
    c = CLAIMS
    m = a.hw.main_sram
    ports = m.banks * (2 if m.ports == "1rw1r" else 1)
    rows = [
        ClaimRow("latency per inference", f"{c.latency_ms} ms", f"{t['time_ms']:.1f} ms", f"{tc['time_ms']:.1f} ms",
                 "modelled: cycles of the binding resource of each layer, summed"),
        ClaimRow("SRAM reads", f"{c.sram_read_ms} ms", f"{read_ms(t, sim['clock_mhz'], ports):.1f} ms",
                 f"{read_ms(tc, cl['clock_mhz'], ports):.1f} ms",
                 f"modelled: {t['sram_reads']:,} word reads, {ports} per cycle at most"),
        ClaimRow("SRAM port busy (reads + writes)", "not stated", f"{busy_ms(sim, 'sram_port'):.1f} ms",
                 f"{busy_ms(cl, 'sram_port'):.1f} ms", "modelled: every access through the port, DMA fills included"),
        ClaimRow("compute", f"{c.compute_ms} ms", f"{busy_ms(sim, 'mac') + busy_ms(sim, 'vector'):.1f} ms (MAC + vector busy)",
                 f"{busy_ms(cl, 'mac') + busy_ms(cl, 'vector'):.1f} ms",
                 f"modelled: {t['macs']:,} MACs on {a.hw.mac_array.macs_per_cycle} MACs/cycle"),
        ClaimRow("swaps / off-chip transfers", f"{c.swap_ms} ms", f"{busy_ms(sim, 'offchip'):.1f} ms (link busy)",
                 f"{busy_ms(cl, 'offchip'):.1f} ms",
                 f"modelled: {sum(t['offchip_bytes'].values()) / 1e6:.1f} MB moved at "
                 f"{a.hw.offchip.bandwidth_bytes_per_cycle:g} B/cycle (weights, activations, partial sums)"),
        ClaimRow("average power", f"{c.power_mw} mW", f"{t['avg_power_mw']:.1f} mW", f"{tc['avg_power_mw']:.1f} mW",
                 "modelled: energy / latency, off-chip memory included"),
        ClaimRow("energy per inference", f"{c.energy_mj} mJ", f"{t['energy_uj'] / 1e3:.2f} mJ",
                 f"{tc['energy_uj'] / 1e3:.2f} mJ", "modelled: counts x per-access energies + leakage x time"),
    ]
    host = a.baselines.get("host")
    if host:
        ratio = host["timing_ms_median"] / t["time_ms"]
        versus = (f"{ratio:.3g}x faster than" if ratio >= 1 else f"{1 / ratio:,.0f}x slower than")
        rows.append(ClaimRow("speed-up vs CPU", f"{c.speedup_vs_cpu}x (CPU {c.cpu_latency_ms} ms)",
                             f"{versus} this host's LiteRT int8 ({host['timing_ms_median']:.1f} ms)", "-",
                             "measured: host CPU, context only (a desktop core, not an embedded CPU)"))
    rows.append(accuracy_row(a))
    ours = deployment(a, cfg)
    claimed_avg_uw = c.energy_mj * 1e3 * cfg.inferences_per_hour / 3600 + c.sram_standby_mw * 1e3
    claimed_kwh = claimed_avg_uw * 1e-6 * 8760 / 1e3 * cfg.devices
    rows.append(ClaimRow(
        f"yearly energy, {cfg.devices:,} devices at {cfg.inferences_per_hour:g} inferences/h",
        f"{claimed_kwh:,.1f} kWh (from the claims: {c.energy_mj} mJ + {c.sram_standby_mw} mW standby)",
        f"{ours.fleet_kwh_per_year:,.1f} kWh, ${ours.fleet_usd_per_year:,.0f}, {ours.fleet_kg_co2_per_year:,.0f} kg CO2",
        "-", f"modelled: assumed ${cfg.electricity_usd_per_kwh}/kWh and {cfg.grid_g_co2_per_kwh:g} g CO2/kWh"))
    return rows
