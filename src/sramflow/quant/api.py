"""Public quantization API for the other stages (evaluation, simulation, sweeps)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np

from sramflow.ir.graph import Graph
from sramflow.ir.qgraph import QuantizedGraph
from sramflow.quant.calibrate import Range, collect_stats, ranges
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


def observe_ranges(graph: Graph, batches: Iterable[np.ndarray], method: str = "percentile",
                   seed: int = 0) -> tuple[dict[str, Range], int]:
    """Activation ranges of every tensor over float NCHW ``batches`` (``batches_of``), and the input count.
    The batching is part of the result: each batch draws its samples from one seeded stream."""
    stats = collect_stats(graph, batches, seed=seed)
    return ranges(stats, method), stats.images


def quantize_graph(graph: Graph, calib: np.ndarray | Iterable[np.ndarray], method: str = "percentile",
                   calibration: str | None = None, seed: int = 0) -> QuantizedGraph:
    """Calibrate on float CHW inputs and quantize to the TFLite int8 spec (the library call; the commands
    calibrate through ``sramflow.flow.calibration``, which adds stored ranges and progress)."""
    r, images = observe_ranges(graph, batches_of(calib), method, seed)
    return quantize_with_ranges(graph, r, method, calibration or f"{images} inputs")
