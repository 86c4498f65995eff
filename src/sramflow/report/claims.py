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


def check_claims(c: WriteupClaims = CLAIMS) -> list[ArithmeticCheck]:
    """What the write-up's own numbers imply, line by line."""
    macs_per_s = c.macs / (c.compute_ms * 1e-3)
    macs_per_cycle = macs_per_s / (c.clock_mhz * 1e6)
    energy_from_power = c.power_mw * c.latency_ms * 1e-3  # mJ
    parts = c.sram_read_ms + c.compute_ms + c.swap_ms
    cpu_energy = c.cpu_power_mw * c.cpu_latency_ms * 1e-3
    return [
        ArithmeticCheck(
            f"{c.macs / 1e6:.0f} M MACs in {c.compute_ms} ms at {c.clock_mhz:.0f} MHz",
            f"{macs_per_s / 1e9:.1f} GMAC/s = {macs_per_cycle:.0f} MACs every cycle",
            "a MAC array of ~1000 units at 12 mW in 130 nm is not plausible; nothing in the design has one",
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
        ArithmeticCheck(
            "weights loaded into a 256-byte SRAM",
            "EfficientNet-B0 has ~4.0 MB of INT8 weights: >= 2.0 M writes through one 16-bit port = 20 ms at 100 MHz",
            "never counted in the write-up",
        ),
        ArithmeticCheck(
            "activations",
            "peak live INT8 activations of B0@224 are MBs (see model_analysis.json), all through off-chip memory",
            "ignored in the write-up",
        ),
        ArithmeticCheck(
            f"SRAM read {c.sram_read_mw} mW, write {c.sram_write_mw} mW, standby {c.sram_standby_mw} mW",
            f"{c.sram_read_mw * 1e3 / c.clock_mhz:.0f} pJ/read, {c.sram_write_mw * 1e3 / c.clock_mhz:.0f} pJ/write "
            "at 100 MHz; 2.3 mW standby is ~1000x the leakage of any 2 Kbit macro characterized in ../shared/sram",
            "not traceable to any characterization",
        ),
        ArithmeticCheck(
            f"{c.speedup_vs_cpu}x faster than a CPU ({c.cpu_latency_ms} ms, {c.cpu_power_mw} mW)",
            f"{c.cpu_latency_ms / c.latency_ms:.2f}x; CPU energy {cpu_energy:.1f} mJ per inference",
            "the CPU figures have no stated source",
        ),
    ]
