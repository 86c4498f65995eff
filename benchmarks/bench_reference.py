"""Integer reference vs LiteRT BUILTIN_REF (the bit-exact oracle), EfficientNet-B0 @224, batch 1, same run.

    .venv/bin/python benchmarks/bench_reference.py [--resolution 224] [--repeats 3]

XNNPACK's time is printed for context only (its rounding differs; it is never the oracle).
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def _best_ms(fn, repeats: int) -> float:  # noqa: ANN001
    fn()  # warm-up
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best * 1000.0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="efficientnet_b0")
    ap.add_argument("--resolution", type=int, default=224)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()

    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    from sramflow.frontend.source import ModelSource, load_graph
    from sramflow.quant.api import quantize_graph, quantize_input, run_int8
    from sramflow.tflite.export import tflite_bytes, to_nhwc

    g = load_graph(ModelSource(model=a.model, resolution=a.resolution)).graph
    x = np.random.default_rng(0).standard_normal((2, 3, a.resolution, a.resolution)).astype(np.float32)
    q = quantize_graph(g, x, "minmax", calibration="2 random inputs (benchmark only)")
    model = tflite_bytes(q)
    xq = quantize_input(q, x[:1])

    ref = Interpreter(model_content=model, experimental_op_resolver_type=OpResolverType.BUILTIN_REF, num_threads=1)
    xnn = Interpreter(model_content=model, num_threads=a.threads)
    for it in (ref, xnn):
        it.allocate_tensors()
        it.set_tensor(it.get_input_details()[0]["index"], to_nhwc(xq))

    ours = _best_ms(lambda: run_int8(q, xq, keep_all=False), a.repeats)
    oracle = _best_ms(ref.invoke, a.repeats)
    xnnpack = _best_ms(xnn.invoke, a.repeats)
    print(f"{a.model} @{a.resolution}, batch 1, best of {a.repeats}:")
    print(f"  sramflow integer reference (numpy) : {ours:8.1f} ms/image")
    print(f"  LiteRT BUILTIN_REF (oracle)        : {oracle:8.1f} ms/image   -> ours is {oracle / ours:.2f}x faster")
    print(f"  LiteRT default (XNNPACK), context  : {xnnpack:8.1f} ms/image   (not bit-exact with the reference)")


if __name__ == "__main__":
    main()
