"""The one calibrate -> quantize path of every command (`quantize`, `run`, `evaluate`, `simulate --functional`).

Float inputs (chosen by ``sramflow.data.calibration`` or given by the caller) -> activation ranges ->
``QuantizedGraph``; or ranges stored beside a checkpoint -> ``QuantizedGraph`` without any images. Each result
keeps its ranges (to store them) and a few float inputs to check the INT8 model on.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sramflow.ir.graph import Graph
from sramflow.ir.qgraph import QuantizedGraph
from sramflow.jsonio import write_json_atomic
from sramflow.quant.api import batches_of, observe_ranges
from sramflow.quant.calibrate import Range
from sramflow.quant.quantize import quantize_with_ranges
from sramflow.quant.weight_bits import with_weight_bits

BATCH = 16  # calibration inputs per float-executor pass (part of the result: see quant.api.observe_ranges)
SAMPLE_INPUTS = 4  # float inputs kept for verification, SQNR and the functional run


@dataclass(frozen=True)
class Calibration:
    qgraph: QuantizedGraph
    ranges: Mapping[str, Range]  # tensor -> range, as calibrated or as stored
    sample: np.ndarray  # a few float NCHW inputs to check the INT8 model on
    description: str  # where the ranges came from
    sample_description: str  # what ``sample`` is


def calibrate(graph: Graph, images: np.ndarray, method: str = "percentile", description: str | None = None,
              seed: int = 0, progress: bool = False) -> Calibration:
    """Observe ranges over float inputs (NCHW, or one CHW image) and quantize to the TFLite int8 spec.
    ``description`` defaults to "N inputs"; ``seed`` seeds the per-tensor value sampling."""
    x = images[None] if images.ndim == 3 else images
    batches = batches_of(x, BATCH)
    if progress:
        from tqdm import tqdm

        batches = tqdm(batches, total=-(-len(x) // BATCH), desc="calibrate", unit="batch", leave=False)
    r, count = observe_ranges(graph, batches, method, seed)
    desc = description or f"{count} inputs"
    return Calibration(quantize_with_ranges(graph, r, method, desc), r, x[:SAMPLE_INPUTS], desc,
                       f"the first {min(SAMPLE_INPUTS, len(x))} calibration inputs")


def from_ranges(graph: Graph, ranges: Mapping[str, Range], method: str, description: str, sample: np.ndarray,
                sample_description: str) -> Calibration:
    """Quantize with ranges calibrated earlier (no images); ``sample`` is what the caller checks it on."""
    return Calibration(quantize_with_ranges(graph, ranges, method, description), ranges, sample, description,
                       sample_description)


def at_weight_bits(cal: Calibration, graph: Graph, weight_bits: Any) -> Calibration:
    """``cal`` with its model's weights at the bits ``weight_bits`` (``--weight-bits``) gives each layer group
    (``quant.weight_bits``); ``cal`` itself for all 8. Activation ranges are unchanged."""
    q = with_weight_bits(graph, cal.qgraph, weight_bits)
    return cal if q is cal.qgraph else dataclasses.replace(cal, qgraph=q)


def calibration_file(checkpoint: str | None, resolution: int, method: str) -> Path | None:
    """Where ranges calibrated for ``checkpoint`` at ``resolution`` px with ``method`` are stored (beside it)."""
    if not checkpoint:
        return None
    p = Path(checkpoint)
    return p.with_name(f"{p.name.split('.')[0]}.calibration-{resolution}px-{method}.json")


def stored_ranges(path: Path | None, graph: Graph) -> tuple[dict[str, Range], str] | None:
    """The ranges stored in ``path`` and their description, or None when there is no such file or it does not
    cover every tensor of ``graph`` (then the caller calibrates afresh)."""
    if path is None or not path.is_file():
        return None
    data = json.loads(path.read_text())
    r = {t: Range(float(lo), float(hi)) for t, (lo, hi) in data["ranges"].items()}
    if not (all(n.output in r for n in graph.nodes) and graph.input in r):
        return None
    return r, data["description"]


def save_ranges(cal: Calibration, path: Path) -> Path:
    """Store calibrated activation ranges so later runs without data reuse them (no images stored)."""
    ranges = {t: [r.lo, r.hi] for t, r in sorted(cal.ranges.items())}
    return write_json_atomic(path, {"description": cal.description, "method": cal.qgraph.method, "ranges": ranges})
