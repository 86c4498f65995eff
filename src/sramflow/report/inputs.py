"""What the report is built from: typed results handed over by the run, never its own JSON read back."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sramflow.hw.spec import HardwareSpec


@dataclass(frozen=True)
class SensitivityPoint:
    """The headline with one assumed figure at one end of its range (every other figure as described)."""

    component: str  # "offchip", "sram[0]", "mac_array", "vector_unit"
    field: str
    unit: str
    value: float  # as described
    end: str  # "low" | "high"
    at: float  # the figure used
    time_ms: float
    energy_mj: float


@dataclass(frozen=True)
class Sensitivity:
    base_time_ms: float
    base_energy_mj: float
    points: tuple[SensitivityPoint, ...]
    unranged: tuple[str, ...]  # assumed figures whose description states no range ("mac_array.leakage_uw", ...)
    held: str = ""  # the SRAM layout every point keeps where the headline chose one (``run.held_layout``)

    def span(self) -> tuple[float, float, float, float]:
        """Least and greatest latency (ms) and energy (mJ) over the points, the described headline included."""
        ts = [self.base_time_ms, *(p.time_ms for p in self.points)]
        es = [self.base_energy_mj, *(p.energy_mj for p in self.points)]
        return min(ts), max(ts), min(es), max(es)


@dataclass(frozen=True)
class FoldAccuracy:
    """Out-of-fold figures of the checkpoint's training recipe: each image classified by a model refit without its
    fold (``scripts/cv_recipe.sh``), all folds pooled."""

    folds: int
    n_images: int
    float_accuracy: float
    int8_accuracy: float
    float_balanced: float
    int8_balanced: float

    def text(self) -> str:
        return (f"out of fold over {self.folds} cross-validation folds ({self.n_images:,} images): "
                f"{100 * self.float_accuracy:.1f}% / {100 * self.int8_accuracy:.1f}% (balanced "
                f"{self.float_balanced:.3f} / {self.int8_balanced:.3f})")


@dataclass(frozen=True)
class CheckpointAccuracy:
    """The shipped checkpoint's own figures, from the metrics file written when it was trained and evaluated."""

    metrics_file: str
    split: str
    n_images: int
    float_accuracy: float
    int8_accuracy: float
    float_balanced: float
    int8_balanced: float
    trained_resolution: int | None
    float_interval: tuple[float, float]  # Wilson 95 % over images
    out_of_fold: FoldAccuracy | None = None  # the recipe's cross-validation, where the metrics file has it

    @property
    def interval_note(self) -> str:
        return "Wilson 95 % interval over images (lesions are not resampled, so it is a little narrow)"


def wilson_interval(p: float, n: int, z: float = 1.96) -> tuple[float, float]:
    if n <= 0:
        return (0.0, 1.0)
    d = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / d
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d
    return (centre - half, centre + half)


def checkpoint_accuracy(checkpoint: str | None) -> CheckpointAccuracy | None:
    """Test-split figures of ``<stem>.metrics.json`` beside the checkpoint (QAT result when present), or None."""
    if not checkpoint:
        return None
    p = Path(checkpoint)
    mf = p.with_name(f"{p.name.split('.')[0]}.metrics.json")
    if not mf.is_file():
        return None
    try:
        d = json.loads(mf.read_text())
        result = d.get("qat_result") or {}
        test = result.get("test")
        config = (d.get("qat") or {}).get("config") or d.get("config") or {}
        if not test:
            return None
        fl, i8, n = test["float"], test["int8"], int(test["n_images"])
        res = config.get("resolution")
        return CheckpointAccuracy(mf.name, "test", n, float(fl["accuracy"]), float(i8["accuracy"]),
                                  float(fl["balanced_accuracy"]), float(i8["balanced_accuracy"]),
                                  int(res) if res else None, wilson_interval(float(fl["accuracy"]), n),
                                  _fold_accuracy(d.get("cross_validation_5fold")))
    except (KeyError, TypeError, ValueError):
        return None  # a metrics file of another shape: the report then says no figures are on file


def _fold_accuracy(cv: dict | None) -> FoldAccuracy | None:
    """``cross_validation_5fold`` of a metrics file (its pooled point figures), or None."""
    if not cv:
        return None
    try:
        p = cv["point"]
        return FoldAccuracy(5, int(cv["n_images"]), float(p["float"]["accuracy"]), float(p["int8"]["accuracy"]),
                            float(p["float"]["balanced_accuracy"]), float(p["int8"]["balanced_accuracy"]))
    except (KeyError, TypeError, ValueError):
        return None  # another shape: the test-split figures stand alone


TARGET_UNITS = {"latency_ms": "ms", "energy_mj": "mJ", "avg_power_mw": "mW"}


@dataclass(frozen=True)
class DesignFigures:
    """One design of the "What it would take" section, as the design search (``sramflow advise``) reported it:
    modelled figures on hardware priced by the area model (estimates), and how to re-simulate it."""

    hardware: str  # what it is: SRAM, MAC array, clock, off-chip memory, fusion, weights
    area_mm2: float
    latency_ms: float
    energy_mj: float  # simulated, the logic leakage of the area model (hw.area) priced in the design's YAML
    avg_power_mw: float
    offchip_mb: float | None
    binding: str  # the target it misses most (or comes closest to), and what dominates its energy
    rerun: str  # the ``sramflow simulate`` command that re-simulates it


@dataclass(frozen=True)
class TargetBound:
    """A target no searched design meets, and the lower bound over the whole space that says why."""

    target: str  # "latency_ms" | "energy_mj" | "avg_power_mw"
    target_value: float
    bound: float  # least value any design of the space can reach (a lower bound, not a simulation)
    provable: bool  # bound > target: no design of the space can meet it
    why: str


@dataclass(frozen=True)
class WhatItWouldTake:
    """The cheapest designs (silicon area) meeting the write-up's claims, or the closest and the bounds that rule
    the claims out, beside this run's design1; computed by ``sramflow.design`` for this run's model."""

    targets: Mapping[str, float]  # latency_ms, energy_mj, avg_power_mw
    feasible: bool  # some searched design meets every target
    designs: tuple[DesignFigures, ...]  # cheapest feasible first, or the closest (smallest worst figure/target)
    bounds: tuple[TargetBound, ...]  # one per target that no design meets
    searched: str  # what was searched, simulated and pruned
    folder: str  # where advise.json, ADVICE.md and hw/designN.yaml were written
    design1_area_mm2: float  # this run's hardware priced by the same area model (hw.area)
    design1_logic_leakage_uw: float  # design1's logic leakage as the search prices it (hw.area)


@dataclass(frozen=True)
class ReportInputs:
    """Every result the report shows, as the run computed it (the JSON files hold the same documents)."""

    analysis: Mapping[str, Any]
    quantization: Mapping[str, Any]
    verify: Mapping[str, Any]
    accuracy: Mapping[str, Any] | None  # with --data
    sram: Mapping[str, Any]  # sram_design.json
    simulation: Mapping[str, Any]  # inference_simulator_report.json
    claimed: Mapping[str, Any]  # the same schedule on the write-up's claimed macro
    mapping: Mapping[str, Any]  # layer_mapping.json
    functional: Mapping[str, Any] | None
    baselines: Mapping[str, Any]
    hw: HardwareSpec
    idle_power_uw: float  # between inferences: SRAM and MAC leakage + off-chip standby
    sensitivity: Sensitivity | None
    checkpoint: CheckpointAccuracy | None  # the shipped checkpoint's figures on file
    sample_label: str  # what the SQNR / agreement figures were measured on
    notes: tuple[str, ...] = ()  # said at the top of the report (e.g. a resolution mismatch)
    advice: WhatItWouldTake | None = None  # "What it would take" (None: the run was told not to search)
    unfused_offchip: Mapping[str, int] | None = None  # per node, the off-chip bytes with --fusion none
