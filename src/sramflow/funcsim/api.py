"""Functional simulation as one call of the ``sramflow run`` pipeline: the analytical schedules it already
has, one image, a report on disk."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from sramflow.funcsim.report import report_dict
from sramflow.funcsim.run import run_functional
from sramflow.ir.graph import Graph
from sramflow.ir.qgraph import QuantizedGraph
from sramflow.jsonio import write_json_atomic
from sramflow.reference.run import quantize_input


def run_functional_graph(graph: Graph, qgraph: QuantizedGraph, sim_result, x_float_one_image: np.ndarray,  # noqa: ANN001
                         out_dir: str | Path, executor: str = "bulk", input_label: str = "one image") -> dict[str, Any]:
    """Execute ``sim_result``'s schedules (a ``sim.api.SimulationResult`` of ``graph``; the mapper is not run
    again) on one float image (C, H, W) quantized with ``qgraph``; writes ``out_dir/functional_report.json``
    atomically and returns the report (bit_exact, counts_match, clobbers, wall_s, ...). ``input_label`` says what
    the image is (a real image, or random inputs), as the report's ``input``."""
    x = np.asarray(x_float_one_image, np.float32)
    if x.ndim == 4 and x.shape[0] == 1:
        x = x[0]
    if x.ndim != 3:
        raise ValueError(f"x_float_one_image: one (C, H, W) image expected, got shape {x.shape}")
    hw = sim_result.hw
    r = run_functional(graph, qgraph, sim_result.schedules, quantize_input(qgraph, x), hw.main_sram.total_words,
                       hw.main_sram.word_bytes, executor=executor)
    meta = {"model": graph.name, "resolution": int(x.shape[-1]), "hw": hw.name, "input": input_label,
            "calibration": qgraph.calibration, "executor": executor}
    report = report_dict(r, meta)
    write_json_atomic(Path(out_dir) / "functional_report.json", report)
    return report
