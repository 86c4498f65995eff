"""The earlier write-up's claims, and the arithmetic that checks them.

Every claim is stored once, with its wording, so reports can put it beside what we measure.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class WriteupClaims:
    latency_ms: float = 36.6
    sram_read_ms: float = 20.29
    compute_ms: float = 3.90
    swap_ms: float = 12.40
    power_mw: float = 12.4
    energy_mj: float = 0.45
    macs: int = 388_000_000
    clock_mhz: float = 100.0
    float_accuracy_pct: float = 88.75
    int8_accuracy_pct: float = 88.73
    cpu_latency_ms: float = 150.0
    cpu_power_mw: float = 100.0
    speedup_vs_cpu: float = 4.1
    sram_read_mw: float = 12.3
    sram_write_mw: float = 15.8
    sram_standby_mw: float = 2.3
    sram_access_ns: float = 1.2


CLAIMS = WriteupClaims()


@dataclass(frozen=True)
class ArithmeticCheck:
    claim: str
    implied: str
    verdict: str


@dataclass(frozen=True)
class RunContext:
    """What the claims are checked against: the model and hardware of this run, and a characterized macro."""

    model: str
    resolution: int
    int8_weight_bytes: int
    peak_activation_bytes: int
    port_word_bits: int
    clock_mhz: float
    macs_per_cycle: int
    energy_pj_per_mac: float
    reference_macro: str  # a vendor-characterized macro of about the claimed size
    reference_leakage_uw: float
    reference_leakage_kind: str  # its provenance kind


def check_claims(c: WriteupClaims = CLAIMS, ctx: RunContext | None = None) -> list[ArithmeticCheck]:
    """What the write-up's own numbers imply, line by line; with ``ctx``, also against this run's model and
    hardware (every figure computed, none written in)."""
    macs_per_s = c.macs / (c.compute_ms * 1e-3)
    macs_per_cycle = macs_per_s / (c.clock_mhz * 1e6)
    energy_from_power = c.power_mw * c.latency_ms * 1e-3  # mJ
    parts = c.sram_read_ms + c.compute_ms + c.swap_ms
    cpu_energy = c.cpu_power_mw * c.cpu_latency_ms * 1e-3
    checks = [
        ArithmeticCheck(
            f"{c.macs / 1e6:.0f} M MACs in {c.compute_ms} ms at {c.clock_mhz:.0f} MHz",
            f"{macs_per_s / 1e9:.1f} GMAC/s = {macs_per_cycle:.0f} MACs every cycle",
            "needs a MAC array of ~1000 units" if ctx is None else
            f"at this run's {ctx.energy_pj_per_mac:g} pJ per MAC that is {macs_per_s * ctx.energy_pj_per_mac * 1e-9:,.0f} mW"
            f" for the MACs alone, against {c.power_mw} mW claimed in total; the hardware here has "
            f"{ctx.macs_per_cycle} MACs per cycle",
        ),
        ArithmeticCheck(
            f"{c.sram_read_ms} + {c.compute_ms} + {c.swap_ms} ms = {c.latency_ms} ms",
            f"sum is {parts:.2f} ms",
            "adds up" if abs(parts - c.latency_ms) < 0.05 else "does not add up",
        ),
        ArithmeticCheck(
            f"{c.power_mw} mW x {c.latency_ms} ms = {c.energy_mj} mJ",
            f"{energy_from_power:.3f} mJ",
            "consistent" if abs(energy_from_power - c.energy_mj) / c.energy_mj < 0.05 else "inconsistent",
        ),
    ]
    if ctx is not None:
        word_bytes = ctx.port_word_bits // 8
        writes = -(-ctx.int8_weight_bytes // word_bytes)
        checks += [
            ArithmeticCheck(
                "weights loaded into a 256-byte SRAM",
                f"{ctx.model} has {ctx.int8_weight_bytes / 1e6:.2f} MB of INT8 weights and biases: >= {writes / 1e6:.2f} M "
                f"writes through one {ctx.port_word_bits}-bit port = {writes / (ctx.clock_mhz * 1e3):.1f} ms at "
                f"{ctx.clock_mhz:g} MHz",
                "never counted in the write-up",
            ),
            ArithmeticCheck(
                "activations",
                f"peak live INT8 activations of {ctx.model}@{ctx.resolution} are {ctx.peak_activation_bytes / 1e6:.2f} MB "
                "(SiLU fused in place), all through off-chip memory",
                "ignored in the write-up",
            ),
        ]
    leak = "" if ctx is None else (
        f"; {c.sram_standby_mw} mW standby is {c.sram_standby_mw * 1e3 / ctx.reference_leakage_uw:,.0f}x the leakage "
        f"of the {ctx.reference_macro} macro ({ctx.reference_leakage_uw * 1e3:.1f} nW, {ctx.reference_leakage_kind})")
    checks += [
        ArithmeticCheck(
            f"SRAM read {c.sram_read_mw} mW, write {c.sram_write_mw} mW, standby {c.sram_standby_mw} mW",
            f"{c.sram_read_mw * 1e3 / c.clock_mhz:.0f} pJ/read, {c.sram_write_mw * 1e3 / c.clock_mhz:.0f} pJ/write "
            f"at {c.clock_mhz:g} MHz{leak}",
            "not traceable to any characterization",
        ),
        ArithmeticCheck(
            f"{c.speedup_vs_cpu}x faster than a CPU ({c.cpu_latency_ms} ms, {c.cpu_power_mw} mW)",
            f"{c.cpu_latency_ms / c.latency_ms:.2f}x; CPU energy {cpu_energy:.1f} mJ per inference",
            "the CPU figures have no stated source",
        ),
    ]
    return checks
