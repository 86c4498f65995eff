"""Modelled microcontroller baselines, each number with its source (../shared/docs/ANCHORS.md)."""

from __future__ import annotations

from dataclasses import dataclass

# MLPerf Tiny v1.0 image classification reference model (ResNet-8, CIFAR-10): 12.5 M MACs.
RESNET8_MACS = 12_500_000


@dataclass(frozen=True)
class McuSpec:
    name: str
    core: str
    clock_mhz: float
    cycles_per_mac: float
    board_power_mw: float
    flash_bytes: int
    sram_bytes: int
    source: str


MCUS: tuple[McuSpec, ...] = (
    McuSpec(
        "STM32L4R5 (Cortex-M4)", "Cortex-M4", 120.0,
        # 226.8 ms x 120 MHz / 12.5 M MACs (X-CUBE-AI, MLPerf Tiny v1.0 ResNet-8)
        226.8e-3 * 120e6 / RESNET8_MACS,
        10.68 / 226.8e-3,  # 10.68 mJ / 226.8 ms
        2 * 1024 * 1024, 640 * 1024,
        "derived from MLPerf Tiny v1.0 (ST, X-CUBE-AI) ResNet-8: 226.8 ms, 10.68 mJ at 120 MHz; "
        "memory sizes from the STM32L4R5 datasheet",
    ),
    McuSpec(
        "STM32H743 (Cortex-M7, CMSIS-NN)", "Cortex-M7", 480.0, 4.6,
        160.6,  # MLPerf Tiny H7A3 board power, the closest measured M7 figure
        2 * 1024 * 1024, 1024 * 1024,
        "4.6 cycles/MAC for CMSIS-NN on STM32H743 (TinyEngine README); board power 160.6 mW from MLPerf Tiny "
        "v1.0 Cortex-M7 H7A3 (a different M7 part: an estimate); memory sizes from the STM32H743 datasheet",
    ),
    McuSpec(
        "STM32H743 (Cortex-M7, TinyEngine)", "Cortex-M7", 480.0, 2.0,
        160.6, 2 * 1024 * 1024, 1024 * 1024,
        "2.0 cycles/MAC for TinyEngine on STM32H743 (TinyEngine README); power as above (estimate)",
    ),
)


@dataclass(frozen=True)
class McuEstimate:
    mcu: McuSpec
    latency_ms: float
    energy_mj: float
    weights_fit_flash: bool
    activations_fit_sram: bool


def estimate_mcu(mcu: McuSpec, macs: int, weight_bytes: int, peak_activation_bytes: int) -> McuEstimate:
    """Compute-only estimate: MACs x cycles/MAC at the clock (non-MAC layers and memory stalls excluded)."""
    latency_s = macs * mcu.cycles_per_mac / (mcu.clock_mhz * 1e6)
    return McuEstimate(
        mcu=mcu,
        latency_ms=latency_s * 1e3,
        energy_mj=mcu.board_power_mw * latency_s,
        weights_fit_flash=weight_bytes <= mcu.flash_bytes,
        activations_fit_sram=peak_activation_bytes <= mcu.sram_bytes,
    )
