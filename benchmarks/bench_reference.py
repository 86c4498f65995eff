"""Integer reference vs LiteRT BUILTIN_REF (the bit-exact oracle), EfficientNet-B0 @224, batch 1, same run.

    .venv/bin/python benchmarks/bench_reference.py [--resolution 224] [--repeats 5] [--batch 4 --images 32]

Batch 1: best of ``--repeats`` for ours, BUILTIN_REF and XNNPACK, interleaved in one run (the machine is
shared: compare the ratios, not the absolute times). Batched: ``predict_int8`` throughput (images/s,
float images in, logits out, as the accuracy evaluation runs it) against BUILTIN_REF's one image at a
time. The first 2 images are also checked bit-exact (output tensor) against BUILTIN_REF.
XNNPACK's time is printed for context only (its rounding differs; it is never the oracle).
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def best_ms(fn, repeats: int) -> float:  # noqa: ANN001
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
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--images", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()

    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    from sramflow.frontend.source import ModelSource, load_graph
    from sramflow.quant.api import predict_int8, quantize_graph, quantize_input, run_int8
    from sramflow.tflite.export import tflite_bytes, to_nchw, to_nhwc

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

    ref.invoke()
    lite_out = to_nchw(ref.get_tensor(ref.get_output_details()[0]["index"]))
    ours_out = run_int8(q, xq, keep_all=False)[q.output]
    exact = np.array_equal(lite_out.reshape(-1), ours_out.reshape(-1))

    times: dict[str, float] = {"ours": float("inf"), "ref": float("inf"), "xnn": float("inf")}
    fns = {"ours": lambda: run_int8(q, xq, keep_all=False), "ref": ref.invoke, "xnn": xnn.invoke}
    for _ in range(a.repeats):  # interleaved, so load changes hit all three alike
        for k, fn in fns.items():
            times[k] = min(times[k], best_ms(fn, 1))
    ours, oracle, xnnpack = times["ours"], times["ref"], times["xnn"]
    imgs = np.random.default_rng(1).standard_normal((a.images, 3, a.resolution, a.resolution)).astype(np.float32)
    predict_int8(q, imgs[:a.batch], a.batch)  # warm-up (weight matrices, tables)
    t = time.perf_counter()
    predict_int8(q, imgs, a.batch)
    batched = a.images / (time.perf_counter() - t)
    print(f"{a.model} @{a.resolution}, batch 1, best of {a.repeats}:")
    print(f"  sramflow integer reference (numpy) : {ours:8.1f} ms/image")
    print(f"  LiteRT BUILTIN_REF (oracle)        : {oracle:8.1f} ms/image   -> ours is {oracle / ours:.2f}x faster")
    print(f"  LiteRT default (XNNPACK), context  : {xnnpack:8.1f} ms/image   (not bit-exact with the reference)")
    print(f"  output bit-exact with BUILTIN_REF  : {exact}")
    print(f"batched predict_int8 (batch {a.batch}, {a.images} images): {batched:6.1f} images/s "
          f"(BUILTIN_REF one at a time: {1000.0 / oracle:5.1f} images/s; ours at batch 1: {1000.0 / ours:5.1f})")


if __name__ == "__main__":
    main()
