"""Public quantization API for the other stages (evaluation, simulation, sweeps)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np

from sramflow.ir.graph import Graph
from sramflow.ir.qgraph import QuantizedGraph
from sramflow.quant.calibrate import collect_stats, ranges
from sramflow.quant.quantize import quantize_with_ranges
from sramflow.reference.run import predict_int8, quantize_input, run_int8  # noqa: F401  (re-exported)


def batches_of(images: np.ndarray | Iterable[np.ndarray], batch_size: int = 16) -> Iterator[np.ndarray]:
    """Group float CHW images (an array [N, C, H, W] or an iterable of [C, H, W]) into batches."""
    if isinstance(images, np.ndarray):
        arr = images[None] if images.ndim == 3 else images
        for i in range(0, arr.shape[0], batch_size):
            yield arr[i:i + batch_size].astype(np.float32, copy=False)
        return
    buf: list[np.ndarray] = []
    for im in images:
        buf.append(np.asarray(im, dtype=np.float32))
        if len(buf) == batch_size:
            yield np.stack(buf)
            buf = []
    if buf:
        yield np.stack(buf)


def quantize_graph(graph: Graph, calib: np.ndarray | Iterable[np.ndarray], method: str = "percentile",
                   calibration: str | None = None, seed: int = 0) -> QuantizedGraph:
    """Calibrate on float CHW inputs and quantize to the TFLite int8 spec."""
    stats = collect_stats(graph, batches_of(calib), seed=seed)
    desc = calibration or f"{stats.images} inputs"
    return quantize_with_ranges(graph, ranges(stats, method), method, desc)
