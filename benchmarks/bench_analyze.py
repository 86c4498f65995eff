"""Time to get model_analysis for EfficientNet-B0 @224 (random weights): torch export + ONNX import + analysis.

Run: .venv/bin/python benchmarks/bench_analyze.py
"""

from __future__ import annotations

import time

from sramflow.api import analysis_report
from sramflow.frontend.source import ModelSource, load_graph


def main() -> None:
    t0 = time.perf_counter()
    loaded = load_graph(ModelSource(model="efficientnet_b0", num_classes=7, resolution=224))
    t1 = time.perf_counter()
    report = analysis_report(loaded)
    t2 = time.perf_counter()
    print(f"graph (torch -> ONNX -> IR): {t1 - t0:.2f} s, {len(loaded.graph.nodes)} nodes")
    print(f"analysis: {(t2 - t1) * 1e3:.1f} ms; conv/gemm MACs {report['conv_gemm_macs']:,}, "
          f"peak activations {report['peak_activation_bytes_int8']:,} B")


if __name__ == "__main__":
    main()
